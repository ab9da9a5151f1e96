//! What the in-memory tests share: the in-memory API, sealed objects, reconcile contexts and the
//! capture of every log line of the binary (for the log-leak test).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ageseal_controller::keys::KeyStore;
use ageseal_controller::metrics::Metrics;
use ageseal_controller::reconcile::Context;
use ageseal_controller::watch::{OwnedVersions, Pending};
use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};
use ageseal_core::{Identity, Keyring};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::PartialObjectMeta;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMetaExt;
use kube::runtime::watcher::Event;
use kube::{Api, Client, ResourceExt};
use kube_fake_client::{ClientBuilder, interceptor};

pub const NS: &str = "payments";

pub fn sealed(name: &str, ns: &str, values: &[(&str, &str)], to: &[&Identity]) -> SealedSecret {
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

pub async fn fake(funcs: Option<interceptor::Funcs>) -> Client {
    logs();
    let mut builder = ClientBuilder::new()
        .with_return_managed_fields()
        .with_resource::<SealedSecret>()
        .with_status_subresource::<SealedSecret>();
    if let Some(funcs) = funcs {
        builder = builder.with_interceptor_funcs(funcs);
    }
    builder.build().await.expect("fake client")
}

/// A Context on the in-memory API holding `store`'s keys, before `Arc` (for its `with_` methods).
pub fn bare_context(client: &Client, store: Arc<KeyStore>) -> Context {
    Context::new(
        client.clone(),
        "us-east-1",
        store,
        Arc::new(Metrics::default()),
        None,
    )
}

pub fn context_with(client: &Client, store: Arc<KeyStore>) -> Arc<Context> {
    Arc::new(bare_context(client, store))
}

fn holding(identities: &[&Identity]) -> Arc<KeyStore> {
    Arc::new(KeyStore::holding(Keyring::new(
        identities.iter().map(|i| (*i).clone()),
    )))
}

pub fn context(client: &Client, identities: &[&Identity]) -> Arc<Context> {
    context_with(client, holding(identities))
}

/// A context whose memo follows `versions` (what the watch of produced Secrets would report).
pub fn memo_context(client: &Client, identities: &[&Identity], versions: &Arc<OwnedVersions>) -> Context {
    bare_context(client, holding(identities)).with_owned_versions(vec![versions.clone()])
}

/// A context that takes sealed values from `pending` (what the SealedSecret watch would keep).
pub fn pending_context(client: &Client, identities: &[&Identity], pending: &Arc<Pending>) -> Arc<Context> {
    Arc::new(bare_context(client, holding(identities)).with_pending(pending.clone()))
}

/// [`pending_context`] of a replica that does not lead (yet).
pub fn standby_pending_context(
    client: &Client,
    identities: &[&Identity],
    pending: &Arc<Pending>,
) -> Arc<Context> {
    Arc::new(
        bare_context(client, holding(identities))
            .with_pending(pending.clone())
            .standby(),
    )
}

/// The watch event reporting `secret` as it is now.
pub fn seen(secret: &Secret) -> Event<PartialObjectMeta<Secret>> {
    Event::Apply(secret.metadata.clone().into_response_partial::<Secret>())
}

pub async fn create(client: &Client, obj: &SealedSecret) -> Arc<SealedSecret> {
    let ns = obj.namespace().expect("namespaced");
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), &ns);
    Arc::new(api.create(&PostParams::default(), obj).await.expect("created"))
}

pub async fn fresh(client: &Client, obj: &SealedSecret) -> Arc<SealedSecret> {
    let api: Api<SealedSecret> = Api::namespaced(client.clone(), &obj.namespace().expect("ns"));
    Arc::new(api.get(&obj.name_any()).await.expect("exists"))
}

pub async fn secret(client: &Client, ns: &str, name: &str) -> Option<Secret> {
    Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .expect("get")
}

pub fn value(secret: &Secret, key: &str) -> Vec<u8> {
    secret.data.as_ref().expect("data")[key].0.clone()
}

pub fn ready(obj: &SealedSecret) -> (String, String) {
    let condition = &obj.status.as_ref().expect("status").conditions[0];
    (condition.status.clone(), condition.reason.clone())
}

pub async fn put_secret(client: &Client, name: &str, annotations: &[(&str, &str)], immutable: Option<bool>) {
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

/// A writer that keeps everything logged, for the log-leak test.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

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
/// Every log line of this test binary, from every test: one global subscriber at TRACE level,
/// installed by `fake()`, so the log-leak test reads the whole run and not one thread of it.
pub fn logs() -> &'static Captured {
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

/// A key Secret as the controller writes it (its type, its field manager), through a server-side
/// apply: the in-memory API records managed fields for applies only.
pub async fn put_key(client: &Client, name: &str, state: &str, data_key: &str, data: &[u8]) {
    use ageseal_controller::keys::{FIELD_MANAGER, KEY_LABEL, KEY_SECRET_TYPE};
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(KEY_LABEL.to_owned(), state.to_owned())])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(data_key.to_owned(), ByteString(data.to_vec()))])),
        type_: Some(KEY_SECRET_TYPE.to_owned()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), "ageseal-system")
        .patch(name, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(&secret))
        .await
        .expect("key Secret applied");
}
