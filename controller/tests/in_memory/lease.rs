//! Leader election on the in-memory API with controlled clocks: one holder, expiry judged on the
//! candidate's own monotonic clock (never by comparing the holder's wall clock with its own),
//! takeover, release.
use std::time::{Duration, Instant};

use ageseal_controller::lease::LeaderElector;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;

use super::support::*;

const TTL: Duration = Duration::from_secs(15);

async fn two_candidates() -> (LeaderElector, LeaderElector) {
    let client = fake(None).await;
    let api = Api::namespaced(client.clone(), "ageseal-system");
    (
        LeaderElector::new(api.clone(), "ageseal-controller", "replica-a", TTL),
        LeaderElector::new(api, "ageseal-controller", "replica-b", TTL),
    )
}

#[tokio::test]
async fn one_leader_at_a_time_and_an_expired_lease_is_taken_over() {
    let (a, b) = two_candidates().await;
    let (t0, i0) = (Timestamp::now(), Instant::now());
    let (got_a, got_b) = tokio::join!(a.try_acquire(t0, i0), b.try_acquire(t0, i0));
    assert_eq!(
        u8::from(got_a.expect("a")) + u8::from(got_b.expect("b")),
        1,
        "two leaders at once"
    );
    let (leader, follower) = if a.try_acquire(t0, i0).await.expect("renew") {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let (t1, i1) = (t0 + SignedDuration::from_secs(5), i0 + Duration::from_secs(5));
    assert!(leader.try_acquire(t1, i1).await.expect("renews"));
    assert!(
        !follower.try_acquire(t1, i1).await.expect("asks"),
        "took a live lease"
    );
    // Not renewed since the follower saw it at i1: a whole lease duration later it is expired.
    let i2 = i1 + Duration::from_secs(14);
    assert!(
        !follower.try_acquire(t1, i2).await.expect("asks"),
        "took it before the lease ran out"
    );
    let i3 = i1 + Duration::from_secs(16);
    assert!(
        follower.try_acquire(t1, i3).await.expect("takes over"),
        "an expired lease was not taken over"
    );
    assert!(
        !leader.try_acquire(t1, i3).await.expect("asks"),
        "the old leader kept it"
    );
}

/// The holder's wall clock says nothing to a candidate: a renewal stamped a minute in the past
/// (the holder's clock behind) is still live, and one stamped in the future (ahead) still runs
/// out a lease duration after it stopped changing.
#[tokio::test]
async fn expiry_ignores_the_holders_wall_clock() {
    for skew in [-60, 60] {
        let (a, b) = two_candidates().await;
        let i0 = Instant::now();
        let skewed = Timestamp::now() + SignedDuration::from_secs(skew);
        assert!(a.try_acquire(skewed, i0).await.expect("a takes it"));
        for later in [0i64, 5, 10, 14] {
            let local = i0 + Duration::from_secs(later.unsigned_abs());
            assert!(
                a.try_acquire(skewed + SignedDuration::from_secs(later), local)
                    .await
                    .expect("renews")
            );
            assert!(
                !b.try_acquire(Timestamp::now(), local).await.expect("asks"),
                "clock {skew:+} s: a live lease was taken"
            );
        }
        // a stops renewing: b takes over a lease duration after the last change it saw.
        let last = i0 + Duration::from_secs(14);
        assert!(
            !b.try_acquire(Timestamp::now(), last + Duration::from_secs(14))
                .await
                .expect("asks")
        );
        assert!(
            b.try_acquire(Timestamp::now(), last + Duration::from_secs(15))
                .await
                .expect("takes over"),
            "clock {skew:+} s: failover waited longer than the lease"
        );
    }
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once_and_only_its_holder_can_release_it() {
    let (a, b) = two_candidates().await;
    let (t0, i0) = (Timestamp::now(), Instant::now());
    assert!(a.try_acquire(t0, i0).await.expect("a takes it"));
    assert!(
        !b.release(t0).await.expect("b asks"),
        "a candidate released a lease it does not hold"
    );
    assert!(
        !b.try_acquire(t0, i0).await.expect("b asks"),
        "b took a live lease"
    );
    assert!(
        a.release(t0).await.expect("a steps down"),
        "the holder could not release"
    );
    // Well inside the lease duration: only the release makes it free.
    let i1 = i0 + Duration::from_secs(1);
    assert!(
        b.try_acquire(t0, i1).await.expect("b takes it"),
        "a released lease was not taken before it expired"
    );
    assert!(
        !a.try_acquire(t0, i1).await.expect("a asks"),
        "the old holder took it back"
    );
}

/// A leader that has not renewed its Lease within the renew deadline writes nothing (no Secret,
/// no status), whatever its renewal loop is doing; once renewed, it writes again.
#[tokio::test]
async fn a_leader_whose_lease_is_not_fresh_writes_nothing() {
    use ageseal_controller::lease::{LeaseHold, RENEW_DEADLINE};
    use ageseal_controller::reconcile::reconcile;
    use ageseal_core::Identity;
    use std::sync::Arc;

    let east = Identity::generate();
    let client = fake(None).await;
    let obj = create(&client, &sealed("db", NS, &[("password", "hunter2")], &[&east])).await;
    let hold = Arc::new(LeaseHold::default());
    let ctx = Arc::new(
        Arc::into_inner(context(&client, &[&east]))
            .expect("one owner")
            .with_lease(hold.clone()),
    );
    // Never renewed, then renewed longer ago than the deadline: no write either time.
    reconcile(obj.clone(), ctx.clone()).await.expect("requeued");
    assert!(
        secret(&client, NS, "db").await.is_none(),
        "wrote without a fresh lease"
    );
    let long_ago = Instant::now()
        .checked_sub(RENEW_DEADLINE + Duration::from_secs(1))
        .expect("the machine has been up for more than 11 s");
    hold.renewed(long_ago);
    assert!(!hold.fresh());
    reconcile(obj.clone(), ctx.clone()).await.expect("requeued");
    assert!(
        secret(&client, NS, "db").await.is_none(),
        "wrote after the renew deadline"
    );
    let api: Api<ageseal_core::crd::SealedSecret> = Api::namespaced(client.clone(), NS);
    assert!(
        api.get("db").await.expect("object").status.is_none(),
        "status written"
    );
    hold.renewed(Instant::now());
    reconcile(obj.clone(), ctx.clone()).await.expect("ready");
    assert!(
        secret(&client, NS, "db").await.is_some(),
        "a fresh lease did not write"
    );
}
