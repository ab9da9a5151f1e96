//! Reconcile against the in-memory API where the exact requests matter: what is written, what is
//! never written (no partial or blank Secret, no idle write), and retries after injected errors.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ageseal_controller::reconcile::{Context, error_policy, reconcile};
use ageseal_core::Identity;
use ageseal_core::crd::{MANAGED_ANNOTATION, SealedSecret};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client, ResourceExt};
use kube_fake_client::{Error as FakeError, interceptor};

use super::support::*;

#[tokio::test]
async fn creates_the_secret_with_owner_labels_and_a_ready_status() {
    let east = Identity::generate();
    let client = fake(None).await;
    let obj = create(&client, &sealed("db", NS, &[("password", "hunter2")], &[&east])).await;
    reconcile(obj.clone(), context(&client, &[&east]))
        .await
        .expect("ready");
    let made = secret(&client, NS, "db").await.expect("secret made");
    assert_eq!(value(&made, "password"), b"hunter2");
    assert_eq!(made.labels()["app"], "db");
    assert_eq!(
        made.labels()["app.kubernetes.io/managed-by"],
        "ageseal-controller"
    );
    let owner = &made.owner_references()[0];
    assert_eq!(
        (owner.controller, owner.uid.as_str()),
        (Some(true), obj.uid().expect("uid").as_str())
    );
    let obj = fresh(&client, &obj).await;
    let status = obj.status.as_ref().expect("status");
    assert_eq!(ready(&obj), ("True".into(), "Unsealed".into()));
    assert_eq!(status.region.as_deref(), Some("us-east-1"));
    assert_eq!(status.key_id, Some(east.recipient().id().to_string()));
    assert_eq!(status.observed_generation, obj.metadata.generation);
    assert_eq!(
        status.spec_hash,
        Some(ageseal_core::crd::spec_hash(&obj.spec.encrypted_data))
    );
}

#[tokio::test]
async fn a_spec_change_updates_and_a_deleted_secret_comes_back() {
    let east = Identity::generate();
    let client = fake(None).await;
    let ctx = context(&client, &[&east]);
    let obj = create(&client, &sealed("db", NS, &[("password", "one")], &[&east])).await;
    reconcile(obj.clone(), ctx.clone()).await.expect("ready");
    let mut changed = (*fresh(&client, &obj).await).clone();
    changed.spec = sealed("db", NS, &[("password", "two"), ("user", "admin")], &[&east]).spec;
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), NS);
    let changed = Arc::new(
        api.replace("db", &PostParams::default(), &changed)
            .await
            .expect("replaced"),
    );
    reconcile(changed.clone(), ctx.clone()).await.expect("ready");
    let made = secret(&client, NS, "db").await.expect("exists");
    assert_eq!(
        (value(&made, "password"), value(&made, "user")),
        (b"two".to_vec(), b"admin".to_vec())
    );
    assert_eq!(
        fresh(&client, &obj)
            .await
            .status
            .as_ref()
            .and_then(|s| s.observed_generation),
        changed.metadata.generation
    );

    Api::<Secret>::namespaced(client.clone(), NS)
        .delete("db", &DeleteParams::default())
        .await
        .expect("deleted");
    reconcile(fresh(&client, &obj).await, ctx).await.expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("recreated"), "password"),
        b"two"
    );
}

#[tokio::test]
async fn an_unowned_secret_is_left_alone_unless_it_asks_to_be_adopted() {
    let east = Identity::generate();
    let client = fake(None).await;
    let ctx = context(&client, &[&east]);
    put_secret(&client, "db", &[], None).await;
    let obj = create(&client, &sealed("db", NS, &[("password", "ours")], &[&east])).await;
    let err = reconcile(obj.clone(), ctx.clone()).await.expect_err("not owned");
    assert_eq!(err.reason, "SecretNotOwned");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("kept"), "password"),
        b"theirs"
    );
    assert_eq!(
        ready(fresh(&client, &obj).await.as_ref()),
        ("False".into(), "SecretNotOwned".into())
    );

    put_secret(&client, "adopt-me", &[(MANAGED_ANNOTATION, "true")], None).await;
    let obj = create(
        &client,
        &sealed("adopt-me", NS, &[("password", "ours")], &[&east]),
    )
    .await;
    reconcile(obj.clone(), ctx.clone()).await.expect("adopted");
    let adopted = secret(&client, NS, "adopt-me").await.expect("exists");
    assert_eq!(value(&adopted, "password"), b"ours");
    assert_eq!(adopted.owner_references()[0].uid, obj.uid().expect("uid"));

    // Bitnami's own annotation says the same (Secrets marked for their controller, migrating).
    put_secret(
        &client,
        "was-bitnami",
        &[("sealedsecrets.bitnami.com/managed", "true")],
        None,
    )
    .await;
    let obj = create(
        &client,
        &sealed("was-bitnami", NS, &[("password", "ours")], &[&east]),
    )
    .await;
    reconcile(obj.clone(), ctx.clone()).await.expect("adopted");
    let adopted = secret(&client, NS, "was-bitnami").await.expect("exists");
    assert_eq!(value(&adopted, "password"), b"ours");
    // Any other value of it is no consent.
    put_secret(
        &client,
        "not-bitnami",
        &[("sealedsecrets.bitnami.com/managed", "false")],
        None,
    )
    .await;
    let obj = create(
        &client,
        &sealed("not-bitnami", NS, &[("password", "ours")], &[&east]),
    )
    .await;
    assert_eq!(
        reconcile(obj, ctx).await.expect_err("not owned").reason,
        "SecretNotOwned"
    );
}

#[tokio::test]
async fn an_immutable_secret_that_must_change_is_reported() {
    let east = Identity::generate();
    let client = fake(None).await;
    put_secret(&client, "db", &[(MANAGED_ANNOTATION, "true")], Some(true)).await;
    let obj = create(&client, &sealed("db", NS, &[("password", "new")], &[&east])).await;
    let err = reconcile(obj.clone(), context(&client, &[&east]))
        .await
        .expect_err("immutable");
    assert_eq!(err.reason, "ImmutableConflict");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("kept"), "password"),
        b"theirs"
    );
}

#[tokio::test]
async fn replayed_values_and_bad_values_make_no_secret_and_never_blank_one() {
    let east = Identity::generate();
    let stranger = Identity::generate();
    let client = fake(None).await;
    let ctx = context(&client, &[&east]);
    // A value copied from payments/db into billing/db and into payments/web.
    let original = sealed("db", NS, &[("password", "hunter2")], &[&east]);
    for (ns, name) in [("billing", "db"), (NS, "web")] {
        let mut replay = original.clone();
        replay.metadata.namespace = Some(ns.into());
        replay.metadata.name = Some(name.into());
        let obj = create(&client, &replay).await;
        assert_eq!(
            reconcile(obj.clone(), ctx.clone())
                .await
                .expect_err("replay")
                .reason,
            "ScopeMismatch"
        );
        assert!(
            secret(&client, ns, name).await.is_none(),
            "{ns}/{name} got a Secret"
        );
        assert_eq!(ready(fresh(&client, &obj).await.as_ref()).1, "ScopeMismatch");
    }
    type Edit<'a> = Box<dyn Fn(&mut SealedSecret) + 'a>;
    let cases: [(&str, Edit, &str); 2] = [
        (
            "stranger",
            Box::new(|s| s.spec = sealed("stranger", NS, &[("k", "v")], &[&stranger]).spec),
            "NoMatchingKey",
        ),
        (
            "garbage",
            Box::new(|s| {
                s.spec.encrypted_data.insert("k".into(), "!!".into());
            }),
            "MalformedValue",
        ),
    ];
    for (name, edit, reason) in cases {
        let mut obj = sealed(name, NS, &[("ok", "fine")], &[&east]);
        edit(&mut obj);
        let obj = create(&client, &obj).await;
        assert_eq!(
            reconcile(obj, ctx.clone()).await.expect_err("fails").reason,
            reason
        );
        assert!(
            secret(&client, NS, name).await.is_none(),
            "{name}: partial Secret"
        );
    }
    // A good object turned bad keeps its last good Secret.
    let obj = create(&client, &sealed("keep", NS, &[("password", "good")], &[&east])).await;
    reconcile(obj.clone(), ctx.clone()).await.expect("ready");
    let mut broken = (*fresh(&client, &obj).await).clone();
    broken.spec.encrypted_data.insert("password".into(), "!!".into());
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), NS);
    let broken = Arc::new(
        api.replace("keep", &PostParams::default(), &broken)
            .await
            .expect("replaced"),
    );
    assert!(reconcile(broken, ctx).await.is_err());
    assert_eq!(
        value(&secret(&client, NS, "keep").await.expect("kept"), "password"),
        b"good"
    );
}

fn counting(patches: Arc<AtomicUsize>, fail_first: Arc<Mutex<Vec<FakeError>>>) -> interceptor::Funcs {
    let status_patches = patches.clone();
    interceptor::Funcs::new()
        .patch(move |_ctx| {
            patches.fetch_add(1, Ordering::SeqCst);
            let mut queue = fail_first.lock().expect("lock");
            if queue.is_empty() {
                Ok(None)
            } else {
                Err(queue.remove(0))
            }
        })
        .patch_status(move |_ctx| {
            status_patches.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        })
}

#[tokio::test]
async fn a_second_reconcile_with_nothing_new_writes_nothing() {
    let east = Identity::generate();
    let writes = Arc::new(AtomicUsize::new(0));
    let client = fake(Some(counting(writes.clone(), Arc::default()))).await;
    let ctx = context(&client, &[&east]);
    let obj = create(&client, &sealed("db", NS, &[("password", "x")], &[&east])).await;
    reconcile(obj.clone(), ctx.clone()).await.expect("ready");
    assert_eq!(writes.load(Ordering::SeqCst), 2, "one apply and one status write");
    reconcile(fresh(&client, &obj).await, ctx).await.expect("ready");
    assert_eq!(writes.load(Ordering::SeqCst), 2, "an idle reconcile wrote");
}

#[tokio::test]
async fn injected_conflicts_and_server_errors_are_retried_and_lose_nothing() {
    let east = Identity::generate();
    let failures = Arc::new(Mutex::new(vec![
        FakeError::Conflict("injected 409".into()),
        FakeError::Internal("injected 500".into()),
    ]));
    let client = fake(Some(counting(Arc::default(), failures))).await;
    let ctx = context(&client, &[&east]);
    let obj = create(
        &client,
        &sealed("db", NS, &[("password", "hunter2"), ("user", "admin")], &[&east]),
    )
    .await;
    let mut delays = Vec::new();
    for _ in 0..2 {
        let err = reconcile(fresh(&client, &obj).await, ctx.clone())
            .await
            .expect_err("injected");
        assert_eq!(err.reason, "ApiError");
        assert_eq!(ready(fresh(&client, &obj).await.as_ref()).1, "ApiError");
        delays.push(error_policy(obj.clone(), &err, ctx.clone()));
    }
    assert_ne!(delays[0], delays[1], "backoff grows");
    reconcile(fresh(&client, &obj).await, ctx)
        .await
        .expect("third try succeeds");
    let made = secret(&client, NS, "db").await.expect("exists");
    assert_eq!(
        (value(&made, "password"), value(&made, "user")),
        (b"hunter2".to_vec(), b"admin".to_vec())
    );
    assert_eq!(
        ready(fresh(&client, &obj).await.as_ref()),
        ("True".into(), "Unsealed".into())
    );
}

#[tokio::test]
async fn retry_counts_of_objects_that_went_away_are_forgotten() {
    use ageseal_controller::reconcile::ReconcileError;
    let client = fake(None).await;
    let ctx = context(&client, &[]);
    let err = ReconcileError {
        reason: "NoMatchingKey",
        message: String::new(),
    };
    let stranger = Identity::generate();
    let a = Arc::new(sealed("a", NS, &[("k", "v")], &[&stranger]));
    let b = Arc::new(sealed("b", NS, &[("k", "v")], &[&stranger]));
    let first = error_policy(a.clone(), &err, ctx.clone());
    error_policy(b.clone(), &err, ctx.clone());
    assert_eq!(ctx.forget_failures(|key| key == "payments/a"), 1, "b went away");
    assert_eq!(ctx.forget_failures(|key| key == "payments/a"), 0);
    assert_ne!(error_policy(a, &err, ctx.clone()), first, "a's count was kept");
    assert_eq!(error_policy(b, &err, ctx), first, "b starts over");
}

/// `db` (password "right") reconciled with a memo context whose watch has seen its Secret.
async fn db_written_with_memo() -> (
    Client,
    Arc<ageseal_controller::watch::OwnedVersions>,
    Arc<Context>,
    Arc<SealedSecret>,
) {
    let east = Identity::generate();
    let client = fake(None).await;
    let versions = Arc::new(ageseal_controller::watch::OwnedVersions::default());
    let ctx = Arc::new(memo_context(&client, &[&east], &versions));
    let obj = create(&client, &sealed("db", NS, &[("password", "right")], &[&east])).await;
    reconcile(obj.clone(), ctx.clone()).await.expect("ready");
    versions.follow(&seen(&secret(&client, NS, "db").await.expect("made")));
    (client, versions, ctx, obj)
}

/// Sets the Secret `name`'s password to "tampered" behind the controller's back.
async fn tamper(client: &Client, name: &str) -> Secret {
    use k8s_openapi::ByteString;
    use kube::api::{Patch, PatchParams};
    let patch = Secret {
        data: Some([("password".to_owned(), ByteString(b"tampered".to_vec()))].into()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), NS)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("tampered")
}

#[tokio::test]
async fn values_are_opened_again_only_when_the_secret_or_the_spec_changed() {
    use kube::core::PartialObjectMetaExt;
    use kube::runtime::watcher::Event;

    let (client, versions, ctx, obj) = db_written_with_memo().await;
    // Changed behind the watch's back: the memo stands, so this reconcile does not even look.
    let tampered = tamper(&client, "db").await;
    reconcile(fresh(&client, &obj).await, ctx.clone())
        .await
        .expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("there"), "password"),
        b"tampered"
    );

    // Once the watch reports the new version, the value is put back.
    versions.follow(&seen(&tampered));
    reconcile(fresh(&client, &obj).await, ctx.clone())
        .await
        .expect("ready");
    let restored = secret(&client, NS, "db").await.expect("there");
    assert_eq!(value(&restored, "password"), b"right");

    // A deleted Secret is made again once the watch reports the deletion.
    versions.follow(&seen(&restored));
    Api::<Secret>::namespaced(client.clone(), NS)
        .delete("db", &DeleteParams::default())
        .await
        .expect("deleted");
    versions.follow(&Event::Delete(
        restored.metadata.clone().into_response_partial::<Secret>(),
    ));
    reconcile(fresh(&client, &obj).await, ctx).await.expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("made again"), "password"),
        b"right"
    );
}

#[tokio::test]
async fn the_trigger_after_a_write_does_not_reopen_values_while_the_cache_lags() {
    use kube::api::{Patch, PatchParams};

    // `obj` is what the cache holds: the version before the controller wrote its status.
    let (client, _versions, ctx, obj) = db_written_with_memo().await;
    tamper(&client, "db").await;

    // The Secret's watch event arrives before the status write's: the cache still holds the
    // version without status. The memo stands for that version, so nothing is opened or written.
    reconcile(obj.clone(), ctx.clone()).await.expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("there"), "password"),
        b"tampered"
    );

    // Any other version must say Ready itself: a status someone set to False is rewritten, and
    // with it the Secret.
    let sealed_api: Api<SealedSecret> = Api::namespaced(client.clone(), NS);
    let not_ready = serde_json::json!({ "status": { "conditions": [{
        "type": "Ready", "status": "False", "reason": "Edited", "message": "by hand",
        "lastTransitionTime": "2026-01-01T00:00:00Z"
    }] } });
    sealed_api
        .patch_status("db", &PatchParams::default(), &Patch::Merge(&not_ready))
        .await
        .expect("status edited");
    reconcile(fresh(&client, &obj).await, ctx.clone())
        .await
        .expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("there"), "password"),
        b"right"
    );
}

#[tokio::test]
async fn the_cache_holds_no_sealed_values_and_reconcile_reads_them_whole() {
    let east = Identity::generate();
    let client = fake(None).await;
    let ctx = context(&client, &[&east]);
    let obj = create(&client, &sealed("db", NS, &[("password", "whole")], &[&east])).await;
    let mut cached = (*obj).clone();
    ageseal_controller::watch::trim(&mut cached);
    assert!(
        cached.spec.encrypted_data.is_empty(),
        "the cache keeps no sealed values"
    );
    reconcile(Arc::new(cached.clone()), ctx.clone())
        .await
        .expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("made"), "password"),
        b"whole"
    );
    // Deleted before its turn came: nothing is written, nothing fails.
    let other = create(&client, &sealed("gone", NS, &[("password", "x")], &[&east])).await;
    let mut cached = (*other).clone();
    ageseal_controller::watch::trim(&mut cached);
    Api::<SealedSecret>::namespaced(client.clone(), NS)
        .delete("gone", &DeleteParams::default())
        .await
        .expect("deleted");
    reconcile(Arc::new(cached), ctx).await.expect("nothing to do");
    assert!(secret(&client, NS, "gone").await.is_none());
}

/// `object` as the SealedSecret watch passes it on after keeping its values in `pending`.
fn seen_by_the_watch(pending: &ageseal_controller::watch::Pending, object: SealedSecret) -> SealedSecret {
    let mut event = kube::runtime::watcher::Event::Apply(object);
    pending.follow(None, &mut event);
    match event {
        kube::runtime::watcher::Event::Apply(seen) => seen,
        _ => unreachable!("an Apply stays an Apply"),
    }
}

/// The in-memory API, counting the GETs it answers.
async fn counting_gets() -> (Client, Arc<AtomicUsize>) {
    let gets = Arc::new(AtomicUsize::new(0));
    let counter = gets.clone();
    let client = fake(Some(interceptor::Funcs::new().get(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    })))
    .await;
    (client, gets)
}

#[tokio::test]
async fn values_kept_from_the_watch_event_spare_reading_the_object() {
    use ageseal_controller::watch::{Pending, trim};
    use kube::runtime::watcher::Event;
    let east = Identity::generate();
    let (client, gets) = counting_gets().await;
    let pending = Arc::new(Pending::default());
    let ctx = pending_context(&client, &[&east], &pending);
    // GETs of one reconcile of a cached (trimmed) object, its values kept from its watch event
    // or not.
    let reads = |name: &'static str, keep: bool| {
        let (client, ctx, pending, gets, east) = (
            client.clone(),
            ctx.clone(),
            pending.clone(),
            gets.clone(),
            east.clone(),
        );
        async move {
            let obj = create(&client, &sealed(name, NS, &[("password", name)], &[&east])).await;
            let mut cached = (*obj).clone();
            if keep {
                cached = seen_by_the_watch(&pending, cached);
                assert!(pending.bytes() > 0);
            }
            trim(&mut cached);
            let before = gets.load(Ordering::SeqCst);
            reconcile(Arc::new(cached), ctx).await.expect("ready");
            let reads = gets.load(Ordering::SeqCst) - before;
            assert_eq!(
                value(&secret(&client, NS, name).await.expect("made"), "password"),
                name.as_bytes()
            );
            reads
        }
    };
    let read_whole = reads("db", false).await;
    let kept = reads("api", true).await;
    assert_eq!(
        kept + 1,
        read_whole,
        "kept values spare exactly the read of the object"
    );
    assert_eq!(pending.bytes(), 0, "kept until opened, no longer");
    // Kept values of another generation are not used: the object is read whole instead.
    let obj = create(&client, &sealed("web", NS, &[("password", "web")], &[&east])).await;
    let mut event = Event::Apply((*obj).clone());
    pending.follow(None, &mut event);
    let mut later = (*obj).clone();
    later.metadata.generation = later.metadata.generation.map(|g| g + 1);
    trim(&mut later);
    let before = gets.load(Ordering::SeqCst);
    let _ = reconcile(Arc::new(later), ctx).await;
    assert_eq!(
        gets.load(Ordering::SeqCst) - before,
        read_whole,
        "older values were taken for a newer spec"
    );
    assert!(pending.bytes() > 0, "what belongs to another generation stays");
}

#[tokio::test]
async fn a_standby_leaves_the_values_kept_for_an_object_not_ready_yet_to_the_leader() {
    use ageseal_controller::watch::{Pending, trim};
    let east = Identity::generate();
    let (client, gets) = counting_gets().await;
    let pending = Arc::new(Pending::default());
    let ctx = standby_pending_context(&client, &[&east], &pending);
    let obj = create(&client, &sealed("db", NS, &[("password", "s3cret")], &[&east])).await;
    let mut cached = seen_by_the_watch(&pending, (*obj).clone());
    trim(&mut cached);
    let kept = pending.bytes();
    assert!(kept > 0);
    let cached = Arc::new(cached);
    let before = gets.load(Ordering::SeqCst);
    reconcile(cached.clone(), ctx.clone()).await.expect("standby");
    assert_eq!(
        gets.load(Ordering::SeqCst) - before,
        0,
        "a standby reads nothing for an object that is not Ready: there is nothing to learn"
    );
    assert_eq!(pending.bytes(), kept, "the kept values stay for the leader");
    assert!(secret(&client, NS, "db").await.is_none());
    ctx.go_live();
    reconcile(cached, ctx).await.expect("ready");
    assert_eq!(pending.bytes(), 0, "taken by the replica once it leads");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("made"), "password"),
        b"s3cret"
    );
}

#[tokio::test]
async fn a_standby_learns_what_stands_without_writing_then_takes_over_without_reopening() {
    use ageseal_controller::watch::OwnedVersions;
    use k8s_openapi::ByteString;
    use kube::api::{Patch, PatchParams};

    let east = Identity::generate();
    let client = fake(None).await;
    // The old leader made db's Secret; api was applied after it died.
    let db = create(&client, &sealed("db", NS, &[("password", "right")], &[&east])).await;
    reconcile(db.clone(), context(&client, &[&east]))
        .await
        .expect("ready");
    let api_obj = create(&client, &sealed("api", NS, &[("token", "t0ken")], &[&east])).await;

    let versions = Arc::new(OwnedVersions::default());
    let standby = Arc::new(memo_context(&client, &[&east], &versions).standby());
    let made = secret(&client, NS, "db").await.expect("made");
    versions.follow(&seen(&made));
    let db_before = fresh(&client, &db).await;
    reconcile(db_before.clone(), standby.clone())
        .await
        .expect("standby");
    reconcile(fresh(&client, &api_obj).await, standby.clone())
        .await
        .expect("standby");
    // A standby writes nothing: no Secret, no status, nothing touched.
    assert!(
        secret(&client, NS, "api").await.is_none(),
        "standby wrote a Secret"
    );
    assert!(
        fresh(&client, &api_obj).await.status.is_none(),
        "standby wrote a status"
    );
    assert_eq!(
        fresh(&client, &db).await.metadata.resource_version,
        db_before.metadata.resource_version
    );
    assert_eq!(
        secret(&client, NS, "db")
            .await
            .expect("there")
            .metadata
            .resource_version,
        made.metadata.resource_version
    );

    // What it learnt stands: changed behind the watch's back, db is not even looked at once
    // this replica leads (the memo test above shows the same after a replica's own write)...
    let patch = Secret {
        data: Some([("password".to_owned(), ByteString(b"tampered".to_vec()))].into()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), NS)
        .patch("db", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("tampered");
    standby.go_live();
    reconcile(fresh(&client, &db).await, standby.clone())
        .await
        .expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("there"), "password"),
        b"tampered",
        "the standby's memo was cold: it reopened db"
    );
    // ... while what did not stand is written now.
    reconcile(fresh(&client, &api_obj).await, standby)
        .await
        .expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "api").await.expect("made"), "token"),
        b"t0ken"
    );
}
