//! Leader election on the in-memory API with a controlled clock: one holder, expiry, takeover.
use kube::Api;

use super::support::*;

#[tokio::test]
async fn one_leader_at_a_time_and_an_expired_lease_is_taken_over() {
    use ageseal_controller::lease::LeaderElector;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};
    let client = fake(None).await;
    let api = Api::namespaced(client.clone(), "ageseal-system");
    let ttl = std::time::Duration::from_secs(15);
    let a = LeaderElector::new(api.clone(), "ageseal-controller", "replica-a", ttl);
    let b = LeaderElector::new(api, "ageseal-controller", "replica-b", ttl);
    let t0 = Timestamp::now();
    let (got_a, got_b) = tokio::join!(a.try_acquire(t0), b.try_acquire(t0));
    assert_eq!(
        u8::from(got_a.expect("a")) + u8::from(got_b.expect("b")),
        1,
        "two leaders at once"
    );
    let (leader, follower) = if a.try_acquire(t0).await.expect("renew") {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let t1 = t0 + SignedDuration::from_secs(5);
    assert!(leader.try_acquire(t1).await.expect("renews"));
    assert!(
        !follower.try_acquire(t1).await.expect("asks"),
        "took a live lease"
    );
    let t2 = t1 + SignedDuration::from_secs(16);
    assert!(
        follower.try_acquire(t2).await.expect("takes over"),
        "an expired lease was not taken over"
    );
    assert!(
        !leader.try_acquire(t2).await.expect("asks"),
        "the old leader kept it"
    );
}

#[tokio::test]
async fn a_released_lease_is_taken_at_once_and_only_its_holder_can_release_it() {
    use ageseal_controller::lease::LeaderElector;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};
    let client = fake(None).await;
    let api = Api::namespaced(client.clone(), "ageseal-system");
    let ttl = std::time::Duration::from_secs(15);
    let a = LeaderElector::new(api.clone(), "ageseal-controller", "replica-a", ttl);
    let b = LeaderElector::new(api, "ageseal-controller", "replica-b", ttl);
    let t0 = Timestamp::now();
    assert!(a.try_acquire(t0).await.expect("a takes it"));
    assert!(
        !b.release(t0).await.expect("b asks"),
        "a candidate released a lease it does not hold"
    );
    assert!(!b.try_acquire(t0).await.expect("b asks"), "b took a live lease");
    assert!(
        a.release(t0).await.expect("a steps down"),
        "the holder could not release"
    );
    // Well inside the lease duration: only the release makes it free.
    let t1 = t0 + SignedDuration::from_secs(1);
    assert!(
        b.try_acquire(t1).await.expect("b takes it"),
        "a released lease was not taken before it expired"
    );
    assert!(
        !a.try_acquire(t1).await.expect("a asks"),
        "the old holder took it back"
    );
}
