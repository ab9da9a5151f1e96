//! `ageseal status` against two in-memory API instances standing in for two regions, each with
//! its own controller (the real reconcile) having applied what it could.

use std::path::PathBuf;
use std::sync::Arc;

use ageseal::status::{Cluster, report, table};
use ageseal_controller::keys::KeyStore;
use ageseal_controller::metrics::Metrics;
use ageseal_controller::reconcile::{Context, reconcile};
use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::{PublishedRecipients, SealedSecret};
use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};
use ageseal_core::{Identity, Keyring};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use kube_fake_client::ClientBuilder;

struct Region {
    name: &'static str,
    key: Identity,
    client: Client,
}

async fn region(name: &'static str) -> Region {
    let key = Identity::generate();
    let client = ClientBuilder::new()
        .with_resource::<SealedSecret>()
        .with_status_subresource::<SealedSecret>()
        .build()
        .await
        .expect("fake API");
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("ageseal-recipients".into()),
            ..ObjectMeta::default()
        },
        data: Some(
            PublishedRecipients {
                region: Some(name.to_owned()),
                recipients: vec![key.recipient().clone()],
            }
            .to_data(),
        ),
        ..ConfigMap::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), "ageseal-system")
        .create(&PostParams::default(), &cm)
        .await
        .expect("published");
    Region { name, key, client }
}

fn seal(name: &str, value: &str, to: &[&Region]) -> SealedSecret {
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: payments}}\nstringData: {{password: {value}}}\n"
    );
    let recipients: Vec<NamedRecipient> = to
        .iter()
        .map(|r| NamedRecipient::new(r.name, r.key.recipient().clone()))
        .collect();
    seal_secret(
        &parse_secrets(&text).expect("parses")[0],
        &SealOptions::default(),
        &recipients,
    )
    .expect("seals")
}

/// Applies the object in a region and lets that region's controller reconcile it.
async fn apply(region: &Region, object: &SealedSecret) {
    let api: Api<SealedSecret> = Api::namespaced(region.client.clone(), "payments");
    let created = api.create(&PostParams::default(), object).await.expect("applied");
    let store = Arc::new(KeyStore::holding(Keyring::new([region.key.clone()])));
    let ctx = Arc::new(Context::new(
        region.client.clone(),
        region.name,
        store,
        Arc::new(Metrics::default()),
        None,
    ));
    let _ = reconcile(Arc::new(created), ctx).await;
}

#[tokio::test]
async fn status_reports_each_file_in_each_region_and_finds_drift() {
    let b = region("us-west-2").await;
    let c = region("eu-west-1").await;
    let db = seal("db", "one", &[&b, &c]);
    let web = seal("web", "two", &[&b]);
    for object in [&db, &web] {
        apply(&b, object).await;
        apply(&c, object).await;
    }
    let clusters = [
        Cluster {
            context: "ctx-b".into(),
            client: b.client.clone(),
        },
        Cluster {
            context: "ctx-c".into(),
            client: c.client.clone(),
        },
    ];
    let files = vec![
        (PathBuf::from("db.yaml"), db.clone()),
        (PathBuf::from("web.yaml"), web.clone()),
    ];
    let rows = report(&files, &clusters, "ageseal-system").await.expect("report");
    assert_eq!(rows.len(), 4);
    let find = |file: &str, region: &str| {
        rows.iter()
            .find(|r| r.file == file && r.region == region)
            .expect("row")
    };
    assert!(find("db.yaml", "us-west-2").in_sync() && find("db.yaml", "eu-west-1").in_sync());
    assert!(find("web.yaml", "us-west-2").in_sync());
    let web_c = find("web.yaml", "eu-west-1");
    assert!(!web_c.in_sync() && !web_c.sealed_for_region && web_c.present && !web_c.ready);
    assert!(
        web_c.reason.contains("not sealed for eu-west-1"),
        "{}",
        web_c.reason
    );

    // Git moves on (the file is re-sealed with new values) but the clusters are not updated.
    let newer = vec![(PathBuf::from("db.yaml"), seal("db", "three", &[&b, &c]))];
    let rows = report(&newer, &clusters, "ageseal-system").await.expect("report");
    assert!(rows.iter().all(|r| r.ready && !r.matches_git && !r.in_sync()));
    assert!(rows[0].reason.contains("other values than Git"));
    let missing = vec![(PathBuf::from("new.yaml"), seal("new", "x", &[&b, &c]))];
    let rows = report(&missing, &clusters, "ageseal-system")
        .await
        .expect("report");
    assert!(
        rows.iter()
            .all(|r| !r.present && r.reason == "not applied in this cluster")
    );
    assert!(table(&rows).contains("NO"));
    // `region add --from-cluster` takes the newest published key the same way.
    let key = ageseal::status::current_key(&clusters[1], "ageseal-system")
        .await
        .expect("published");
    assert_eq!(key, *c.key.recipient());
    let err = ageseal::status::current_key(&clusters[1], "elsewhere")
        .await
        .expect_err("no ConfigMap there");
    assert!(
        err.message.contains("no ConfigMap elsewhere/ageseal-recipients"),
        "{}",
        err.message
    );
    let json = serde_json::to_string(&rows).expect("json");
    assert!(
        !json.contains("\"one\"") && !json.contains("three"),
        "status never reads plaintext"
    );
}
