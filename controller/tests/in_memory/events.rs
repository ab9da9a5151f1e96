//! Events: one per Ready transition, none for a reconcile that changes nothing.
use std::sync::Arc;

use ageseal_controller::keys::KeyStore;
use ageseal_controller::metrics::Metrics;
use ageseal_controller::reconcile::{Context, reconcile};
use ageseal_core::{Identity, Keyring};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DeleteParams;

use super::support::*;

#[tokio::test]
async fn ready_transitions_are_recorded_as_events_once() {
    use ageseal_controller::events::Announcer;
    use k8s_openapi::api::events::v1::Event;
    let east = Identity::generate();
    let client = fake(None).await;
    let store = Arc::new(KeyStore::holding(Keyring::new([east.clone()])));
    let recorder = Announcer::new(client.clone(), "ageseal-controller", "test");
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
    for event in &events.items {
        assert_eq!(event.reporting_controller.as_deref(), Some("ageseal-controller"));
        assert_eq!(event.reporting_instance.as_deref(), Some("test"));
        let regarding = event.regarding.as_ref().expect("regarding");
        assert_eq!(
            (regarding.kind.as_deref(), regarding.name.as_deref()),
            (Some("SealedSecret"), Some("db"))
        );
    }
}
