//! Reconcile and keys against a stateful in-memory Kubernetes API (kube-fake-client), through
//! kube's own `Api`, as DESIGN §9 prescribes: no API server exists on these machines.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ageseal_controller::keys::{self, KEY_LABEL, KeyStore};
use ageseal_controller::metrics::Metrics;
use ageseal_controller::reconcile::{Context, error_policy, reconcile};
use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::{MANAGED_ANNOTATION, SealedSecret};
use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};
use ageseal_core::{Identity, Keyring};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client, ResourceExt};
use kube_fake_client::{ClientBuilder, Error as FakeError, interceptor};

const NS: &str = "payments";

fn sealed(name: &str, ns: &str, values: &[(&str, &str)], to: &[&Identity]) -> SealedSecret {
    let mut text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}\nstringData:\n"
    );
    for (k, v) in values {
        text.push_str(&format!("  {k}: {v:?}\n"));
    }
    let secret = &parse_secrets(&text).expect("parses")[0];
    let recipients: Vec<NamedRecipient> = to
        .iter()
        .enumerate()
        .map(|(i, id)| NamedRecipient::new(format!("r{i}"), id.recipient().clone()))
        .collect();
    seal_secret(secret, &SealOptions::default(), &recipients).expect("seals")
}

async fn fake(funcs: Option<interceptor::Funcs>) -> Client {
    logs();
    let mut builder = ClientBuilder::new()
        .with_resource::<SealedSecret>()
        .with_status_subresource::<SealedSecret>();
    if let Some(funcs) = funcs {
        builder = builder.with_interceptor_funcs(funcs);
    }
    builder.build().await.expect("fake client")
}

fn context_with(client: &Client, store: Arc<KeyStore>) -> Arc<Context> {
    Arc::new(Context::new(
        client.clone(),
        "us-east-1",
        store,
        Arc::new(Metrics::default()),
        None,
    ))
}

fn context(client: &Client, identities: &[&Identity]) -> Arc<Context> {
    let keyring = Keyring::new(identities.iter().map(|i| (*i).clone()));
    context_with(client, Arc::new(KeyStore::holding(keyring)))
}

async fn create(client: &Client, obj: &SealedSecret) -> Arc<SealedSecret> {
    let ns = obj.namespace().expect("namespaced");
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), &ns);
    Arc::new(api.create(&PostParams::default(), obj).await.expect("created"))
}

async fn fresh(client: &Client, obj: &SealedSecret) -> Arc<SealedSecret> {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), &obj.namespace().expect("ns"));
    Arc::new(api.get(&obj.name_any()).await.expect("exists"))
}

async fn secret(client: &Client, ns: &str, name: &str) -> Option<Secret> {
    Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .expect("get")
}

fn value(secret: &Secret, key: &str) -> Vec<u8> {
    secret.data.as_ref().expect("data")[key].0.clone()
}

fn ready(obj: &SealedSecret) -> (String, String) {
    let condition = &obj.status.as_ref().expect("status").conditions[0];
    (condition.status.clone(), condition.reason.clone())
}

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

async fn put_secret(client: &Client, name: &str, annotations: &[(&str, &str)], immutable: Option<bool>) {
    let existing = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "password".to_owned(),
            ByteString(b"theirs".to_vec()),
        )])),
        immutable,
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &existing)
        .await
        .expect("put");
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
    reconcile(obj.clone(), ctx).await.expect("adopted");
    let adopted = secret(&client, NS, "adopt-me").await.expect("exists");
    assert_eq!(value(&adopted, "password"), b"ours");
    assert_eq!(adopted.owner_references()[0].uid, obj.uid().expect("uid"));
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

async fn add_key(api: &Api<Secret>, period: u64, state: &str, identity: &Identity) {
    let secret = key_secret(&keys::key_name(period), state, identity);
    api.create(&PostParams::default(), &secret)
        .await
        .expect("key Secret created");
}

fn key_secret(name: &str, state: &str, identity: &Identity) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(KEY_LABEL.to_owned(), state.to_owned())])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "identity".to_owned(),
            ByteString(identity.to_secret_string().as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

#[tokio::test]
async fn a_retired_key_still_opens_old_values_and_new_keys_load_without_restart() {
    let old = Identity::generate();
    let new = Identity::generate();
    let client = fake(None).await;
    let keys_api: Api<Secret> = Api::namespaced(client.clone(), "ageseal-system");
    add_key(&keys_api, 1, "retired", &old).await;
    add_key(&keys_api, 2, "active", &new).await;
    let store = Arc::new(KeyStore::default());
    store.set(keys::load_keys(&keys_api, &keys::PLAIN).await.expect("loads"));
    assert_eq!(store.get().published.len(), 1, "retired keys are not published");
    assert_eq!(store.get().published[0].recipient, new.recipient().to_string());
    let ctx = context_with(&client, store.clone());
    let obj = create(&client, &sealed("db", NS, &[("password", "old")], &[&old])).await;
    reconcile(obj, ctx.clone()).await.expect("retired key opens");

    let newest = Identity::generate();
    add_key(&keys_api, 3, "active", &newest).await;
    store.set(keys::load_keys(&keys_api, &keys::PLAIN).await.expect("reloads"));
    assert_eq!(
        store.get().published[0].recipient,
        newest.recipient().to_string(),
        "newest active first"
    );
    let obj = create(&client, &sealed("db2", NS, &[("password", "x")], &[&newest])).await;
    reconcile(obj, ctx)
        .await
        .expect("new key opens without a restart");

    let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), "ageseal-system");
    keys::publish(&cm_api, &store.get(), "us-east-1")
        .await
        .expect("published");
    let cm = cm_api
        .get(ageseal_core::crd::RECIPIENTS_CONFIGMAP)
        .await
        .expect("exists");
    let published =
        ageseal_core::crd::PublishedRecipients::from_data(&cm.data.unwrap_or_default()).recipients;
    assert_eq!(published.len(), 2);
    assert_eq!(published[0], *newest.recipient());
}

#[tokio::test]
async fn two_replicas_starting_together_make_one_key() {
    let client = fake(None).await;
    let api: Api<Secret> = Api::namespaced(client.clone(), "ageseal-system");
    let (a, b) = tokio::join!(
        keys::ensure_active_key(&api, &keys::PLAIN),
        keys::ensure_active_key(&api, &keys::PLAIN)
    );
    assert_eq!(
        u8::from(a.expect("a")) + u8::from(b.expect("b")),
        1,
        "exactly one replica creates the key"
    );
    let keyset = keys::load_keys(&api, &keys::PLAIN).await.expect("loads");
    assert_eq!(keyset.keyring.identities().len(), 1);
    assert!(
        !keys::ensure_active_key(&api, &keys::PLAIN)
            .await
            .expect("idempotent")
    );
    // Rotation: the same period's key is made once, older active keys retire.
    let period = std::time::Duration::from_secs(86_400);
    let (a, b) = tokio::join!(
        keys::rotate(&api, &keys::PLAIN, period, 86_400 * 10),
        keys::rotate(&api, &keys::PLAIN, period, 86_400 * 10 + 5)
    );
    assert_eq!(u8::from(a.expect("a")) + u8::from(b.expect("b")), 1);
    let keyset = keys::load_keys(&api, &keys::PLAIN).await.expect("loads");
    assert_eq!(
        (keyset.keyring.identities().len(), keyset.published.len()),
        (2, 1)
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

async fn get(router: axum::Router, path: &str) -> (u16, String) {
    use tower::ServiceExt;
    let request = axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .expect("request");
    let response = router.oneshot(request).await.expect("responds");
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn endpoints_report_health_readiness_metrics_and_public_keys_only() {
    use ageseal_controller::http::{Health, router};
    let east = Identity::generate();
    let client = fake(None).await;
    let keys_api: Api<Secret> = Api::namespaced(client.clone(), "ageseal-system");
    add_key(&keys_api, 0, "active", &east).await;
    let store = Arc::new(KeyStore::default());
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::new("us-east-1", store.clone(), metrics.clone()));
    let app = router(health.clone());
    assert_eq!(get(app.clone(), "/healthz").await.0, 200);
    let (code, body) = get(app.clone(), "/readyz").await;
    assert_eq!((code, body.contains("keys not loaded")), (503, true));
    store.set(keys::load_keys(&keys_api, &keys::PLAIN).await.expect("loads"));
    assert_eq!(
        get(app.clone(), "/readyz").await.0,
        503,
        "ready before the cache synced"
    );
    health.synced.store(true, Ordering::SeqCst);
    assert_eq!(get(app.clone(), "/readyz").await.0, 200);

    let ctx = Arc::new(Context::new(
        client.clone(),
        "us-east-1",
        store.clone(),
        metrics.clone(),
        None,
    ));
    let obj = create(
        &client,
        &sealed("db", NS, &[("password", "x")], &[&Identity::generate()]),
    )
    .await;
    let _ = reconcile(obj, ctx).await;
    let (code, text) = get(app.clone(), "/metrics").await;
    assert_eq!(code, 200);
    for needle in [
        "ageseal_reconciles_total 1",
        "ageseal_reconcile_failures_total{reason=\"NoMatchingKey\"} 1",
        "ageseal_keys_loaded 1",
        "ageseal_unseal_duration_seconds_count 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }
    let (code, json) = get(app.clone(), "/v1/recipients").await;
    assert_eq!(code, 200);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["region"], "us-east-1");
    assert_eq!(json["recipients"][0]["recipient"], east.recipient().to_string());
    assert!(!json.to_string().contains("AGE-SECRET-KEY"));
    assert_eq!(get(app, "/v1/decrypt").await.0, 404, "no endpoint decrypts");
}

/// A writer that keeps everything logged, for the log-leak test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, from every test: one global subscriber at TRACE level,
/// installed by `fake()`, so the log-leak test reads the whole run and not one thread of it.
fn logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first and only subscriber");
        captured
    })
}

#[test]
fn logs_of_a_full_run_hold_no_secret_value_or_private_key() {
    use base64::Engine;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let east = Identity::generate();
    let secret_values = ["pa55-w0rd-ZEBRA", "tok-QUOKKA-9182"];
    runtime.block_on(async {
        let client = fake(None).await;
        let keys_api: Api<Secret> = Api::namespaced(client.clone(), "ageseal-system");
        keys::ensure_active_key(&keys_api, &keys::PLAIN)
            .await
            .expect("key");
        add_key(&keys_api, 7, "active", &east).await;
        let store = Arc::new(KeyStore::default());
        store.set(keys::load_keys(&keys_api, &keys::PLAIN).await.expect("loads"));
        let ctx = context_with(&client, store);
        let good = sealed(
            "db",
            NS,
            &[("password", secret_values[0]), ("token", secret_values[1])],
            &[&east],
        );
        let mut moved = good.clone();
        moved.metadata.namespace = Some("billing".into());
        for obj in [good.clone(), moved] {
            let obj = create(&client, &obj).await;
            let _ = reconcile(obj.clone(), ctx.clone()).await;
            let _ = reconcile(fresh(&client, &obj).await, ctx.clone()).await;
        }
        put_secret(&client, "taken", &[], None).await;
        let mut taken = good;
        taken.metadata.name = Some("taken".into());
        let _ = reconcile(create(&client, &taken).await, ctx).await;
    });
    let logs = String::from_utf8_lossy(&logs().0.lock().expect("lock")).into_owned();
    assert!(
        logs.len() > 200,
        "the run logged almost nothing, so this test proves nothing: {logs}"
    );
    assert!(
        logs.contains("ScopeMismatch") || logs.contains("SecretNotOwned"),
        "failures were not logged: {logs}"
    );
    let secret_key = east.to_secret_string();
    let mut forbidden: Vec<String> = vec![
        "AGE-SECRET-KEY".into(),
        secret_key.to_lowercase(),
        secret_key.to_string(),
    ];
    for value in secret_values {
        forbidden.push(value.to_owned());
        forbidden.push(base64::prelude::BASE64_STANDARD.encode(value));
    }
    for needle in &forbidden {
        assert!(!logs.contains(needle.as_str()), "the logs hold secret material");
    }
}

#[tokio::test]
async fn ready_transitions_are_recorded_as_events_once() {
    use k8s_openapi::api::events::v1::Event;
    use kube::runtime::events::{Recorder, Reporter};
    let east = Identity::generate();
    let client = fake(None).await;
    let store = Arc::new(KeyStore::holding(Keyring::new([east.clone()])));
    let reporter = Reporter {
        controller: "ageseal-controller".into(),
        instance: Some("test".into()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let ctx = Arc::new(Context::new(
        client.clone(),
        "us-east-1",
        store,
        Arc::new(Metrics::default()),
        Some(recorder),
    ));
    put_secret(&client, "db", &[], None).await;
    let obj = create(&client, &sealed("db", NS, &[("password", "x")], &[&east])).await;
    assert!(reconcile(obj.clone(), ctx.clone()).await.is_err());
    assert!(
        reconcile(fresh(&client, &obj).await, ctx.clone()).await.is_err(),
        "still not owned"
    );
    Api::<Secret>::namespaced(client.clone(), NS)
        .delete("db", &DeleteParams::default())
        .await
        .expect("deleted");
    reconcile(fresh(&client, &obj).await, ctx.clone())
        .await
        .expect("ready");
    reconcile(fresh(&client, &obj).await, ctx).await.expect("ready");
    let events = Api::<Event>::namespaced(client.clone(), NS)
        .list(&Default::default())
        .await
        .expect("events");
    let reasons: Vec<String> = events.items.iter().filter_map(|e| e.reason.clone()).collect();
    assert_eq!(reasons.len(), 2, "one Event per transition: {reasons:?}");
    assert!(reasons.contains(&"SecretNotOwned".to_owned()) && reasons.contains(&"Unsealed".to_owned()));
}

#[test]
fn monitoring_files_use_only_real_metric_names() {
    let metrics = Metrics::default();
    metrics.failed("ScopeMismatch");
    metrics.unseal_seconds.observe(0.001);
    let exposed = metrics.encode();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/monitoring");
    let mut used = std::collections::BTreeSet::new();
    for file in ["alerts.yaml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("monitoring file");
        let mut rest = text.as_str();
        while let Some(start) = rest.find("ageseal_") {
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(tail.len());
            used.insert(tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    assert!(used.len() >= 5, "expected the files to use the metrics: {used:?}");
    for name in &used {
        let line_start = format!("\n{name}");
        assert!(
            exposed.contains(&line_start),
            "{name} is not exported by the controller:\n{exposed}"
        );
    }
}

fn all_secret_bytes(secrets: &[Secret]) -> String {
    secrets
        .iter()
        .flat_map(|s| s.data.iter().flatten())
        .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(&v.0)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn with_a_kms_key_the_controller_stores_only_wrapped_keys_and_still_opens_values() {
    use ageseal_controller::keys::KeyGuard;
    use ageseal_kms::moto::Moto;
    let moto = Moto::start();
    let kms = moto.kms();
    let arn = moto.create_key("us-east-1").await;
    let guard = KeyGuard::Kms {
        kms: &kms,
        key_arn: &arn,
        region: "us-east-1",
    };
    let client = fake(None).await;
    let keys_api: Api<Secret> = Api::namespaced(client.clone(), "ageseal-system");
    assert!(keys::ensure_active_key(&keys_api, &guard).await.expect("made"));
    let stored = keys_api.list(&Default::default()).await.expect("list").items;
    let dump = all_secret_bytes(&stored);
    assert!(
        dump.contains("wrapped-identity=") && dump.contains("ageseal-kms-identity/v1"),
        "{dump}"
    );
    assert!(
        !dump.contains("AGE-SECRET-KEY") && !dump.contains("identity=AGE"),
        "a plaintext key was written"
    );

    let store = Arc::new(KeyStore::default());
    let loaded = keys::refresh(&store, &keys_api, &guard)
        .await
        .expect("unwraps at start-up");
    assert_eq!(loaded.keyring.identities().len(), 1);
    let published: ageseal_core::Recipient = loaded.published[0].recipient.parse().expect("recipient");
    let ctx = context_with(&client, store.clone());
    let input = &parse_secrets("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: payments}\nstringData: {password: via-kms}\n").expect("parses")[0];
    let obj = seal_secret(
        input,
        &SealOptions::default(),
        &[NamedRecipient::new("us-east-1", published)],
    )
    .expect("seals");
    reconcile(create(&client, &obj).await, ctx).await.expect("ready");
    assert_eq!(
        value(&secret(&client, NS, "db").await.expect("made"), "password"),
        b"via-kms"
    );

    // The same key Secrets without KMS access are unreadable, never misread.
    let plain = keys::load_keys(&keys_api, &keys::PLAIN).await.expect("lists");
    assert_eq!((plain.keyring.identities().len(), plain.unreadable.len()), (0, 1));
}

#[tokio::test]
async fn while_kms_refuses_the_controller_is_not_ready_and_says_why() {
    use ageseal_controller::http::{Health, router};
    use ageseal_controller::keys::KeyGuard;
    use ageseal_kms::fake::FakeKms;
    let kms = FakeKms::default();
    let arn = "arn:aws:kms:us-east-1:123456789012:key/fake";
    let guard = KeyGuard::Kms {
        kms: &kms,
        key_arn: arn,
        region: "us-east-1",
    };
    let client = fake(None).await;
    let keys_api: Api<Secret> = Api::namespaced(client.clone(), "ageseal-system");
    keys::ensure_active_key(&keys_api, &guard).await.expect("made");
    let store = Arc::new(KeyStore::default());
    let health = Arc::new(Health::new(
        "us-east-1",
        store.clone(),
        Arc::new(Metrics::default()),
    ));
    health.synced.store(true, Ordering::SeqCst);
    kms.set_disabled(arn, true);
    let err = keys::refresh(&store, &keys_api, &guard)
        .await
        .map(|_| ())
        .expect_err("disabled key");
    assert!(err.to_string().contains("disabled"), "{err}");
    let (code, body) = get(router(health.clone()), "/readyz").await;
    assert_eq!(code, 503);
    assert!(
        body.contains("disabled") && body.contains("enable the key"),
        "{body}"
    );
    kms.set_disabled(arn, false);
    keys::refresh(&store, &keys_api, &guard).await.expect("recovers");
    assert_eq!(get(router(health), "/readyz").await.0, 200);
}
