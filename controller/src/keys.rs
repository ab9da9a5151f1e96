//! The controller's own keys: Secrets labelled `ageseal.io/key=active|retired` in its namespace,
//! generated on first start (one key even when replicas race), rotated on a period, published in
//! the ConfigMap `ageseal-recipients`, and reloaded whenever they change.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ageseal_core::{Identity, Keyring, Recipient, parse_identity_file};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde::Serialize;
use zeroize::Zeroizing;

/// Label marking a key Secret and its state.
pub const KEY_LABEL: &str = "ageseal.io/key";
/// Data key holding the identity (`AGE-SECRET-KEY-1...`) in a key Secret.
pub const IDENTITY_DATA_KEY: &str = "identity";
/// Data key holding the public recipient in a key Secret.
pub const RECIPIENT_DATA_KEY: &str = "recipient";
/// ConfigMap publishing the public recipients.
pub const RECIPIENTS_CONFIGMAP: &str = "ageseal-recipients";
/// Field manager for every write the controller makes.
pub const FIELD_MANAGER: &str = "ageseal-controller";
const KEY_NAME_PREFIX: &str = "ageseal-key-";

/// Why keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The API refused or failed.
    #[error("kubernetes API error on key Secrets: {0}")]
    Api(#[from] kube::Error),
}

/// One loaded key: public half and whether it is active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedKey {
    /// `age1...` recipient.
    pub recipient: String,
    /// Short fingerprint, as in `spec.recipients`.
    pub id: String,
}

/// Every key the controller holds, newest active first.
#[derive(Debug, Default)]
pub struct KeySet {
    /// All identities (active and retired) that open values.
    pub keyring: Keyring,
    /// Active public keys, newest first: what sealers should use.
    pub published: Vec<PublishedKey>,
    /// Key Secrets that could not be read (names only).
    pub unreadable: Vec<String>,
}

/// The current key set, swapped whole when keys change; readers never wait on the API.
#[derive(Debug, Default)]
pub struct KeyStore {
    current: RwLock<Arc<KeySet>>,
    loaded: std::sync::atomic::AtomicBool,
}

impl KeyStore {
    /// The key set in force.
    pub fn get(&self) -> Arc<KeySet> {
        self.current.read().map(|k| Arc::clone(&k)).unwrap_or_default()
    }

    /// Replaces the key set.
    pub fn set(&self, keys: KeySet) {
        let loaded = !keys.keyring.is_empty();
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(keys);
        }
        self.loaded.store(loaded, std::sync::atomic::Ordering::SeqCst);
    }

    /// True once at least one key is loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn key_selector() -> ListParams {
    ListParams::default().labels(KEY_LABEL)
}

fn is_key(secret: &Secret) -> bool {
    secret
        .labels()
        .get(KEY_LABEL)
        .is_some_and(|v| v == "active" || v == "retired")
}

fn is_active(secret: &Secret) -> bool {
    secret.labels().get(KEY_LABEL).is_some_and(|v| v == "active")
}

/// Reads every key Secret. Unreadable ones are named in `unreadable` (never their contents).
pub async fn load_keys(api: &Api<Secret>) -> Result<KeySet, KeyError> {
    let mut secrets: Vec<Secret> = api
        .list(&key_selector())
        .await?
        .items
        .into_iter()
        .filter(is_key)
        .collect();
    // Newest first: names carry a zero-padded sequence, and active keys come before retired.
    secrets.sort_by(|a, b| {
        is_active(b)
            .cmp(&is_active(a))
            .then_with(|| b.name_any().cmp(&a.name_any()))
    });
    let mut keys = KeySet::default();
    for secret in &secrets {
        let Some(identity) = identity_of(secret) else {
            keys.unreadable.push(secret.name_any());
            continue;
        };
        if is_active(secret) {
            keys.published.push(PublishedKey {
                recipient: identity.recipient().to_string(),
                id: identity.recipient().id().to_string(),
            });
        }
        keys.keyring.extend([identity]);
    }
    Ok(keys)
}

fn identity_of(secret: &Secret) -> Option<Identity> {
    let bytes = secret.data.as_ref()?.get(IDENTITY_DATA_KEY)?;
    let text = Zeroizing::new(String::from_utf8(bytes.0.clone()).ok()?);
    parse_identity_file(&text).ok()?.into_iter().next()
}

fn key_secret(name: &str, identity: &Identity) -> Secret {
    let secret_text = identity.to_secret_string();
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(KEY_LABEL.to_owned(), "active".to_owned())])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (
                IDENTITY_DATA_KEY.to_owned(),
                ByteString(secret_text.as_bytes().to_vec()),
            ),
            (
                RECIPIENT_DATA_KEY.to_owned(),
                ByteString(identity.recipient().to_string().into_bytes()),
            ),
        ])),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    }
}

/// The key Secret name for rotation period `n` (`n = 0` for the first key). Replicas that race
/// to make the same period's key pick the same name, so the API lets exactly one of them win.
pub fn key_name(period: u64) -> String {
    format!("{KEY_NAME_PREFIX}{period:012}")
}

/// Creates key `name` unless it exists; returns whether this call created it.
async fn create_key(api: &Api<Secret>, name: &str) -> Result<bool, KeyError> {
    let identity = Identity::generate();
    match api
        .create(&PostParams::default(), &key_secret(name, &identity))
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Makes the first key if there is no active key; safe when several replicas call it at once.
pub async fn ensure_active_key(api: &Api<Secret>) -> Result<bool, KeyError> {
    let existing = api.list(&key_selector()).await?;
    if existing.items.iter().any(is_active) {
        return Ok(false);
    }
    create_key(api, &key_name(0)).await
}

/// With a rotation period: makes the key for the current period if missing and retires every
/// older active key. Returns whether a key was created.
pub async fn rotate(api: &Api<Secret>, period: Duration, now_secs: u64) -> Result<bool, KeyError> {
    let current = key_name(now_secs / period.as_secs().max(1));
    let created = create_key(api, &current).await?;
    for secret in api.list(&key_selector()).await?.items {
        if is_active(&secret) && secret.name_any() != current {
            let patch = serde_json::json!({"metadata": {"labels": {KEY_LABEL: "retired"}}});
            api.patch(&secret.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(created)
}

/// Writes the ConfigMap `ageseal-recipients`: `recipients` (newest first, one per line) and `region`.
pub async fn publish(api: &Api<ConfigMap>, keys: &KeySet, region: &str) -> Result<(), KeyError> {
    let recipients: Vec<&str> = keys.published.iter().map(|k| k.recipient.as_str()).collect();
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(RECIPIENTS_CONFIGMAP.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            ("recipients".to_owned(), recipients.join("\n")),
            ("region".to_owned(), region.to_owned()),
        ])),
        ..ConfigMap::default()
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(RECIPIENTS_CONFIGMAP, &params, &Patch::Apply(&config_map))
        .await?;
    Ok(())
}

/// Parses the published recipients back (used by tests and by `ageseal region add --from-cluster`).
pub fn published_recipients(config_map: &ConfigMap) -> Vec<Recipient> {
    let text = config_map
        .data
        .as_ref()
        .and_then(|d| d.get("recipients"))
        .cloned()
        .unwrap_or_default();
    text.lines().filter_map(|line| line.trim().parse().ok()).collect()
}
