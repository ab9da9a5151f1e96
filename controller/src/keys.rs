//! The controller's own keys: Secrets of type `ageseal.io/key` in its namespace, labelled
//! `ageseal.io/key=active|retired` and written by its field manager; generated on first start (one
//! key even when replicas race), rotated on a period, published in the ConfigMap
//! `ageseal-recipients`. A Secret that only carries the label is not a key.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ageseal_core::crd::{PublishedRecipients, RECIPIENTS_CONFIGMAP};
use ageseal_core::wrapped::{PURPOSE_CONTROLLER, WrappedIdentity, context_for};
use ageseal_core::{Identity, Keyring, parse_identity_file, pq};
use ageseal_kms::{AwsKms, Kms, KmsError};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ListParams, ObjectList, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde::Serialize;
use zeroize::Zeroizing;

/// Label marking a key Secret and its state: `active`, `retired` (still opens values) or
/// `revoked` (kept for the record, no longer loaded).
pub const KEY_LABEL: &str = "ageseal.io/key";
/// The Secret type of key Secrets. Secret types cannot change after creation, and the controller
/// never produces this type from a SealedSecret.
pub const KEY_SECRET_TYPE: &str = "ageseal.io/key";
/// Data key holding the identity (`AGE-SECRET-KEY-1...`) in a key Secret.
pub const IDENTITY_DATA_KEY: &str = "identity";
/// Data key holding a KMS-wrapped identity (docs/FORMAT.md) in a key Secret.
pub const WRAPPED_DATA_KEY: &str = "wrapped-identity";
/// Data key holding the public recipient in a key Secret.
pub const RECIPIENT_DATA_KEY: &str = "recipient";
/// Field manager for every write the controller makes.
pub const FIELD_MANAGER: &str = "ageseal-controller";
const KEY_NAME_PREFIX: &str = "ageseal-key-";

/// Why keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The API refused or failed.
    #[error("kubernetes API error on key Secrets: {0}")]
    Api(#[from] kube::Error),
    /// The name a new key must have is taken by a Secret that is not a key of this controller.
    #[error(
        "Secret {0} exists but is not a key made by this controller (type ageseal.io/key, field manager ageseal-controller); no key was made or retired: delete or rename that Secret"
    )]
    NameTaken(String),
    /// AWS KMS could not wrap or unwrap a key.
    #[error("key Secret {secret}: {source} ({})", source.hint())]
    Kms {
        /// The key Secret.
        secret: String,
        /// Why.
        source: KmsError,
    },
}

/// How key Secrets hold identities: in plain form, or only as AWS KMS ciphertext.
#[derive(Debug)]
pub enum KeyGuard<'a, K: Kms = AwsKms> {
    /// `identity` holds the `AGE-SECRET-KEY-1...` line.
    Plain,
    /// `wrapped-identity` holds a KMS-wrapped identity; no plaintext is ever written.
    Kms {
        /// The KMS client.
        kms: &'a K,
        /// Key ARN (`--kms-key-id`).
        key_arn: &'a str,
        /// This controller's region, part of the encryption context.
        region: &'a str,
    },
}

/// Plain key Secrets (no `--kms-key-id`).
pub const PLAIN: KeyGuard<'static, AwsKms> = KeyGuard::Plain;

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
    /// Secrets labelled as keys that are not keys (wrong type or not written by the controller).
    pub impostors: Vec<String>,
    /// Key Secrets holding a plain identity, refused because `--kms-key-id` requires wrapped keys.
    pub refused_plain: Vec<String>,
    /// Which key set this is: [`KeyStore::set`] gives a new number when the identities change
    /// (0: never set).
    pub epoch: u64,
}

/// The current key set, swapped whole when keys change; readers never wait on the API.
#[derive(Debug, Default)]
pub struct KeyStore {
    current: RwLock<Arc<KeySet>>,
    loaded: std::sync::atomic::AtomicBool,
    problem: std::sync::Mutex<Option<String>>,
}

impl KeyStore {
    /// A store holding these identities (and publishing none): for offline use and tests.
    pub fn holding(keyring: Keyring) -> Self {
        let store = Self::default();
        store.set(KeySet {
            keyring,
            ..KeySet::default()
        });
        store
    }

    /// The key set in force.
    pub fn get(&self) -> Arc<KeySet> {
        self.current.read().map(|k| Arc::clone(&k)).unwrap_or_default()
    }

    /// Replaces the key set. The epoch changes only when the identities do: a reload that finds
    /// the same keys (every key Secret event, a new leader publishing) keeps what reconcile
    /// remembered under the old epoch valid.
    pub fn set(&self, mut keys: KeySet) {
        static EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let ids = |set: &KeySet| -> Vec<_> {
            set.keyring
                .identities()
                .iter()
                .map(|i| i.recipient().id())
                .collect()
        };
        let current = self.get();
        keys.epoch = if current.epoch != 0 && ids(&current) == ids(&keys) {
            current.epoch
        } else {
            EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        };
        let loaded = !keys.keyring.is_empty();
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(keys);
        }
        self.loaded.store(loaded, std::sync::atomic::Ordering::SeqCst);
    }

    /// Records why keys could not be (re)loaded, or clears it; `/readyz` reports it.
    pub fn set_problem(&self, problem: Option<String>) {
        if let Ok(mut slot) = self.problem.lock() {
            *slot = problem;
        }
    }

    /// The last loading problem, if any.
    pub fn problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|p| p.clone())
    }

    /// True once at least one key is loaded.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn key_selector() -> ListParams {
    ListParams::default().labels(KEY_LABEL)
}

/// Key Secrets as listed, wiped when dropped: plain ones hold private keys.
struct KeySecrets(Vec<Secret>);

impl Drop for KeySecrets {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(ageseal_core::sealed_file::wipe);
    }
}

impl std::ops::Deref for KeySecrets {
    type Target = [Secret];

    fn deref(&self) -> &[Secret] {
        &self.0
    }
}

/// Every Secret with the key label in `api`'s namespace. Read through [`crate::answer`]: an
/// answer that cannot be parsed is neither logged nor quoted.
async fn list_keys(api: &Api<Secret>) -> Result<KeySecrets, kube::Error> {
    let request = kube::core::Request::new(api.resource_url()).list(&key_selector());
    let client = api.clone().into_client();
    let list: ObjectList<Secret> = crate::answer::read(&client, request, "a list of key Secrets").await?;
    Ok(KeySecrets(list.items))
}

/// A key Secret made by the controller (or by an operator on its behalf, docs/OPERATIONS.md): the
/// label, the dedicated type, and an entry of the controller's field manager. Anything else that
/// carries the label is ignored.
pub fn is_key(secret: &Secret) -> bool {
    let state = secret.labels().get(KEY_LABEL);
    let written_by_us = secret
        .managed_fields()
        .iter()
        .any(|entry| entry.manager.as_deref() == Some(FIELD_MANAGER));
    state.is_some_and(|v| v == "active" || v == "retired")
        && secret.type_.as_deref() == Some(KEY_SECRET_TYPE)
        && written_by_us
}

fn is_active(secret: &Secret) -> bool {
    secret.labels().get(KEY_LABEL).is_some_and(|v| v == "active")
}

/// Reads every key Secret, unwrapping KMS-wrapped ones through `guard`. Unreadable ones are named
/// in `unreadable` (never their contents); a KMS failure fails the whole load.
pub async fn load_keys<K: Kms>(api: &Api<Secret>, guard: &KeyGuard<'_, K>) -> Result<KeySet, KeyError> {
    let listed = list_keys(api).await?;
    let (mut secrets, impostors): (Vec<&Secret>, Vec<&Secret>) = listed
        .iter()
        .filter(|s| s.labels().get(KEY_LABEL).is_some_and(|v| v != "revoked"))
        .partition(|s| is_key(s));
    // Newest first: names carry a zero-padded sequence, and active keys come before retired.
    secrets.sort_by(|a, b| {
        is_active(b)
            .cmp(&is_active(a))
            .then_with(|| b.name_any().cmp(&a.name_any()))
    });
    let mut keys = KeySet {
        impostors: impostors.iter().map(|s| s.name_any()).collect(),
        ..KeySet::default()
    };
    for secret in secrets {
        let identity = match (wrapped_of(secret), guard) {
            (Some(wrapped), KeyGuard::Kms { kms, region, .. }) => Some(
                ageseal_kms::unwrap_identity(*kms, &wrapped, PURPOSE_CONTROLLER, &[("region", region)])
                    .await
                    .map_err(|source| KeyError::Kms {
                        secret: secret.name_any(),
                        source,
                    })?,
            ),
            (Some(_), KeyGuard::Plain) => None,
            // With --kms-key-id every key must be wrapped: a plain identity is refused.
            (None, KeyGuard::Kms { .. }) => {
                keys.refused_plain.push(secret.name_any());
                continue;
            }
            (None, KeyGuard::Plain) => identity_of(secret),
        };
        let Some(identity) = identity else {
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

fn wrapped_of(secret: &Secret) -> Option<WrappedIdentity> {
    let bytes = secret.data.as_ref()?.get(WRAPPED_DATA_KEY)?;
    WrappedIdentity::parse(std::str::from_utf8(&bytes.0).ok()?).ok()
}

fn identity_of(secret: &Secret) -> Option<Identity> {
    let bytes = secret.data.as_ref()?.get(IDENTITY_DATA_KEY)?;
    let text = Zeroizing::new(String::from_utf8(bytes.0.clone()).ok()?);
    parse_identity_file(&text).ok()?.into_iter().next()
}

fn key_secret(name: &str, identity: &Identity, identity_data: (&str, Vec<u8>)) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(KEY_LABEL.to_owned(), "active".to_owned())])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (identity_data.0.to_owned(), ByteString(identity_data.1)),
            (
                RECIPIENT_DATA_KEY.to_owned(),
                ByteString(identity.recipient().to_string().into_bytes()),
            ),
        ])),
        type_: Some(KEY_SECRET_TYPE.to_owned()),
        ..Secret::default()
    }
}

/// The type of key the controller makes (`--pq-keys`): X25519, or hybrid post-quantum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `age1...` recipients.
    X25519,
    /// `age1pq1...` recipients (ML-KEM-768 + X25519).
    Hybrid,
}

impl KeyKind {
    fn generate(self) -> Identity {
        match self {
            KeyKind::X25519 => Identity::generate(),
            KeyKind::Hybrid => Identity::generate_hybrid(),
        }
    }

    /// The kind of a key Secret, from what it records: its public recipient, or for a key an
    /// operator added by hand (docs/OPERATIONS.md) the identity itself, plain or KMS-wrapped (the
    /// wrapped file names its recipient).
    fn of(secret: &Secret) -> KeyKind {
        let data = |key: &str| {
            secret
                .data
                .as_ref()
                .and_then(|data| data.get(key))
                .map(|bytes| bytes.0.as_slice())
        };
        let starts = |bytes: &[u8], prefix: &str| {
            bytes.trim_ascii_start().len() >= prefix.len()
                && bytes.trim_ascii_start()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        };
        let identity_line = |bytes: &[u8]| {
            bytes
                .split(|&b| b == b'\n')
                .any(|line| starts(line, pq::IDENTITY_PREFIX) || starts(line, "recipient: age1pq1"))
        };
        let hybrid = data(RECIPIENT_DATA_KEY).is_some_and(|r| starts(r, pq::RECIPIENT_PREFIX))
            || data(IDENTITY_DATA_KEY).is_some_and(identity_line)
            || data(WRAPPED_DATA_KEY).is_some_and(identity_line);
        if hybrid { KeyKind::Hybrid } else { KeyKind::X25519 }
    }
}

/// The key Secret name for rotation period `n` (`n = 0` for the first key); hybrid keys are named
/// `ageseal-key-pq-...`. Replicas that race to make the same period's key pick the same name, so
/// the API lets exactly one of them win.
pub fn key_name(period: u64, kind: KeyKind) -> String {
    match kind {
        KeyKind::X25519 => format!("{KEY_NAME_PREFIX}{period:012}"),
        KeyKind::Hybrid => format!("{KEY_NAME_PREFIX}pq-{period:012}"),
    }
}

/// Creates key `name` of `kind` unless it exists; returns whether this call created it. With a
/// KMS guard the Secret holds only the wrapped identity.
async fn create_key<K: Kms>(
    api: &Api<Secret>,
    name: &str,
    guard: &KeyGuard<'_, K>,
    kind: KeyKind,
) -> Result<bool, KeyError> {
    let identity = kind.generate();
    let data = match guard {
        KeyGuard::Plain => (IDENTITY_DATA_KEY, identity.to_secret_string().as_bytes().to_vec()),
        KeyGuard::Kms { kms, key_arn, region } => {
            let context = context_for(PURPOSE_CONTROLLER, identity.recipient(), &[("region", region)]);
            let wrapped = ageseal_kms::wrap_identity(*kms, key_arn, &identity, context)
                .await
                .map_err(|source| KeyError::Kms {
                    secret: name.to_owned(),
                    source,
                })?;
            (WRAPPED_DATA_KEY, wrapped.to_text().into_bytes())
        }
    };
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PostParams::default()
    };
    let mut secret = key_secret(name, &identity, data);
    // The answer would be the key Secret itself: crate::answer asks for its metadata only.
    let request = serde_json::to_vec(&secret)
        .map_err(kube::core::request::Error::SerializeBody)
        .and_then(|body| kube::core::Request::new(api.resource_url()).create(&params, body));
    ageseal_core::sealed_file::wipe(&mut secret);
    match crate::answer::send(&api.clone().into_client(), request).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The rotation period index now, for keys rotated every `period`.
pub fn current_period(period: Duration) -> u64 {
    now_secs() / period.as_secs().max(1)
}

/// Makes the key of rotation period `period` (0 without rotation) if there is no active key of
/// `kind`, then retires active keys of the other kind (they keep opening values: that is how
/// `--pq-keys` moves a region to hybrid keys). Safe when several replicas call it at once. A
/// Secret that only looks like a key does not count.
pub async fn ensure_active_key<K: Kms>(
    api: &Api<Secret>,
    guard: &KeyGuard<'_, K>,
    period: u64,
    kind: KeyKind,
) -> Result<bool, KeyError> {
    let other_kind = |s: &Secret| KeyKind::of(s) != kind;
    let existing = list_keys(api).await?;
    let active_of_kind = |s: &Secret| is_key(s) && is_active(s) && !other_kind(s);
    if existing.iter().any(active_of_kind) {
        retire(api, &existing, other_kind).await?;
        return Ok(false);
    }
    let name = key_name(period, kind);
    let created = create_key(api, &name, guard, kind).await?;
    // Someone else may have made it: a racing replica (fine), or something that is not a key.
    let secrets = list_keys(api).await?;
    if !secrets.iter().any(|s| s.name_any() == name && active_of_kind(s)) {
        return Err(KeyError::NameTaken(name));
    }
    retire(api, &secrets, other_kind).await?;
    Ok(created)
}

/// Labels retired every active key among `secrets` that `retired` selects.
async fn retire(
    api: &Api<Secret>,
    secrets: &[Secret],
    retired: impl Fn(&Secret) -> bool,
) -> Result<(), KeyError> {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    for secret in secrets {
        if is_key(secret) && is_active(secret) && retired(secret) {
            let patch = serde_json::json!({"metadata": {"labels": {KEY_LABEL: "retired"}}});
            let request = kube::core::Request::new(api.resource_url()).patch(
                &secret.name_any(),
                &params,
                &Patch::Merge(&patch),
            );
            crate::answer::send(&api.clone().into_client(), request).await?;
        }
    }
    Ok(())
}

/// With a rotation period: makes the key for the current period if missing and retires every
/// older active key. Returns whether a key was created. Nothing is retired unless the current
/// period's key is a real key: a Secret squatting on its name stops rotation with an error.
pub async fn rotate<K: Kms>(
    api: &Api<Secret>,
    guard: &KeyGuard<'_, K>,
    kind: KeyKind,
    period: Duration,
    now_secs: u64,
) -> Result<bool, KeyError> {
    let current = key_name(now_secs / period.as_secs().max(1), kind);
    let created = create_key(api, &current, guard, kind).await?;
    let secrets = list_keys(api).await?;
    let genuine = secrets
        .iter()
        .any(|s| s.name_any() == current && is_key(s) && is_active(s));
    if !genuine {
        return Err(KeyError::NameTaken(current));
    }
    retire(api, &secrets, |s| s.name_any() != current).await?;
    Ok(created)
}

/// Loads the keys into `store`, or records why not (the controller is then not ready when it
/// holds no key). Returns the loaded set.
pub async fn refresh<K: Kms>(
    store: &KeyStore,
    api: &Api<Secret>,
    guard: &KeyGuard<'_, K>,
) -> Result<Arc<KeySet>, KeyError> {
    match load_keys(api, guard).await {
        Ok(keys) => {
            store.set_problem(None);
            store.set(keys);
            Ok(store.get())
        }
        Err(e) => {
            store.set_problem(Some(e.to_string()));
            Err(e)
        }
    }
}

/// Writes the ConfigMap `ageseal-recipients` (see [`PublishedRecipients`]): active keys, newest
/// first, and the region; no write when it already says that.
pub async fn publish(api: &Api<ConfigMap>, keys: &KeySet, region: &str) -> Result<(), KeyError> {
    let published = PublishedRecipients {
        region: Some(region.to_owned()),
        recipients: keys
            .published
            .iter()
            .filter_map(|k| k.recipient.parse().ok())
            .collect(),
    };
    let data = published.to_data();
    let current = api.get_opt(RECIPIENTS_CONFIGMAP).await.ok().flatten();
    if current.and_then(|cm| cm.data).as_ref() == Some(&data) {
        return Ok(());
    }
    let config_map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(RECIPIENTS_CONFIGMAP.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(data),
        ..ConfigMap::default()
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(RECIPIENTS_CONFIGMAP, &params, &Patch::Apply(&config_map))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A client whose API server answers every request with `status` and `body`.
    fn answering(status: u16, body: String) -> kube::Client {
        let body: Arc<str> = body.into();
        let service = tower::service_fn(move |_: http::Request<kube::client::Body>| {
            let body = body.clone();
            async move {
                http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(body.as_bytes().to_vec()))
            }
        });
        kube::Client::new(service, "ageseal-system")
    }

    /// A log sink for one test: everything logged on this thread, at every level.
    #[derive(Clone, Default)]
    struct Logged(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logged {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Logged {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
                .into_owned()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_key_secret_that_cannot_be_read_is_neither_logged_nor_quoted() {
        let logged = Logged::default();
        let sink = logged.clone();
        let _logging = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || sink.clone())
                .finish(),
        );
        let identity = Identity::generate();
        let private = identity.to_secret_string();
        // The identity unencoded where base64 belongs: an answer k8s-openapi cannot read.
        let list = format!(
            r#"{{"kind":"SecretList","apiVersion":"v1","metadata":{{}},"items":[{{"metadata":{{"name":"ageseal-key-000000000000","labels":{{"{KEY_LABEL}":"active"}}}},"type":"{KEY_SECRET_TYPE}","data":{{"{IDENTITY_DATA_KEY}":"{}"}}}}]}}"#,
            private.as_str()
        );
        let api: Api<Secret> = Api::namespaced(answering(200, list), "ageseal-system");
        let Err(error) = load_keys(&api, &PLAIN).await else {
            panic!("an unreadable answer loads no keys")
        };
        let said = format!("{error} {error:?}");
        for (what, text) in [("the error", &said), ("the log", &logged.text())] {
            assert!(
                !text.contains("AGE-SECRET-KEY-"),
                "{what} holds the private key: {text}"
            );
        }
        assert!(said.contains("could not be read"), "{said}");
    }

    #[test]
    fn a_key_secret_tells_its_kind_also_without_a_recipient_entry() {
        let secret = |key: &str, value: String| Secret {
            data: Some(BTreeMap::from([(key.to_owned(), ByteString(value.into_bytes()))])),
            ..Secret::default()
        };
        let (x, pq) = (Identity::generate(), Identity::generate_hybrid());
        let file = |i: &Identity| i.to_identity_file("2026-01-01T00:00:00Z").to_string();
        assert_eq!(
            KeyKind::of(&secret(IDENTITY_DATA_KEY, file(&pq))),
            KeyKind::Hybrid
        );
        assert_eq!(KeyKind::of(&secret(IDENTITY_DATA_KEY, file(&x))), KeyKind::X25519);
        assert_eq!(
            KeyKind::of(&secret(RECIPIENT_DATA_KEY, pq.recipient().to_string())),
            KeyKind::Hybrid
        );
        let wrapped = format!("kms-key: arn\nrecipient: {}\n", pq.recipient());
        assert_eq!(KeyKind::of(&secret(WRAPPED_DATA_KEY, wrapped)), KeyKind::Hybrid);
    }

    #[test]
    fn the_epoch_moves_only_when_the_keys_do() {
        let (a, b) = (Identity::generate(), Identity::generate_hybrid());
        let store = KeyStore::default();
        let set = |ids: &[&Identity]| KeySet {
            keyring: Keyring::new(ids.iter().map(|i| (*i).clone())),
            ..KeySet::default()
        };
        store.set(set(&[&a]));
        let first = store.get().epoch;
        assert_ne!(first, 0);
        store.set(set(&[&a]));
        assert_eq!(
            store.get().epoch,
            first,
            "a reload of the same keys keeps the epoch"
        );
        store.set(set(&[&b, &a]));
        let second = store.get().epoch;
        assert_ne!(second, first, "a new key is a new epoch");
        store.set(set(&[&b]));
        assert_ne!(store.get().epoch, second, "a revoked key is a new epoch");
    }
}
