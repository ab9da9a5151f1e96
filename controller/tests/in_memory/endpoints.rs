//! The HTTP endpoints: health, readiness (with its reasons), metrics and public keys only.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ageseal_controller::keys::{self, KeyStore};
use ageseal_controller::metrics::Metrics;
use ageseal_controller::reconcile::{Context, reconcile};
use ageseal_core::Identity;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::support::*;

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
    let secret = east.to_secret_string();
    put_key(
        &client,
        "ageseal-key-000000000000",
        "active",
        "identity",
        secret.as_bytes(),
    )
    .await;
    let store = Arc::new(KeyStore::default());
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::new("us-east-1", store.clone(), metrics.clone(), 1));
    let app = router(health.clone());
    assert_eq!(get(app.clone(), "/healthz").await.0, 200);
    let (code, body) = get(app.clone(), "/readyz").await;
    assert_eq!((code, body.contains("keys not loaded")), (503, true));
    store.set(keys::load_keys(&keys_api, &keys::PLAIN).await.expect("loads"));
    assert_eq!(
        get(app.clone(), "/readyz").await.0,
        200,
        "a standby with keys serves keys and metrics"
    );
    health.leading.store(true, Ordering::SeqCst);
    let (code, body) = get(app.clone(), "/readyz").await;
    assert_eq!((code, body.contains("cache not synced")), (503, true), "{body}");
    health.scope_synced();
    // A leader is ready once its public keys are published for `region add --from-cluster`.
    let (code, body) = get(app.clone(), "/readyz").await;
    assert_eq!((code, body.contains("not published yet")), (503, true), "{body}");
    health.published.store(true, Ordering::SeqCst);
    assert_eq!(get(app.clone(), "/readyz").await.0, 200);
    health.set_problem("watching Secrets", Some("403 forbidden; grant it".into()));
    let (code, body) = get(app.clone(), "/readyz").await;
    assert_eq!(code, 503);
    assert!(
        body.contains("watching Secrets: 403 forbidden; grant it"),
        "{body}"
    );
    health.set_problem("watching Secrets", None);
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
    let identity = Identity::generate();
    let context = ageseal_core::wrapped::context_for(
        ageseal_core::wrapped::PURPOSE_CONTROLLER,
        identity.recipient(),
        &[("region", "us-east-1")],
    );
    let wrapped = ageseal_kms::wrap_identity(&kms, arn, &identity, context)
        .await
        .expect("wrapped");
    let text = wrapped.to_text();
    put_key(
        &client,
        "ageseal-key-000000000000",
        "active",
        "wrapped-identity",
        text.as_bytes(),
    )
    .await;
    let store = Arc::new(KeyStore::default());
    let health = Arc::new(Health::new(
        "us-east-1",
        store.clone(),
        Arc::new(Metrics::default()),
        0,
    ));
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
