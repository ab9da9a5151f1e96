//! Opening a SealedSecret: every value of one (all or nothing, work bounded first), and turning
//! the result back into a plain Secret. Files of them are read by [`crate::manifest_file`].

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::crd::SealedSecret;
use crate::envelope::Location;
use crate::keys::{Keyring, RecipientId};
use crate::limits::MAX_TRIALS_PER_OBJECT;
use crate::seal::{Opened, UnsealError, decode_base64, inspect, open};

/// The API group and version of SealedSecret documents.
pub const API_VERSION: &str = "ageseal.io/v1alpha1";

/// A value of a SealedSecret that could not be opened; the whole object fails with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key}: {source}")]
pub struct OpenError {
    /// The `encryptedData` key.
    pub key: String,
    /// Why.
    pub source: UnsealError,
}

/// Every value of a SealedSecret, opened and checked against the object's own location.
#[derive(Debug)]
pub struct OpenedSecret {
    /// Opened values by key, with their sealed bindings.
    pub values: BTreeMap<String, Opened>,
}

impl OpenedSecret {
    /// The identity that opened the first value (all values normally share it).
    pub fn key_id(&self) -> Option<RecipientId> {
        self.values.values().next().map(|opened| opened.key_id)
    }
}

/// Opens every value or none: the first failing value fails the object. Before any key is tried,
/// every value is decoded and its header outlined, and the worst-case number of key trials
/// (stanzas times identities of their type) is bounded by [`MAX_TRIALS_PER_OBJECT`].
pub fn open_sealed_secret(sealed: &SealedSecret, keyring: &Keyring) -> Result<OpenedSecret, OpenError> {
    let namespace = sealed.metadata.namespace.clone().unwrap_or_default();
    let name = sealed.metadata.name.clone().unwrap_or_default();
    let hint = sealed.spec.hint_ids();
    let mut decoded = Vec::with_capacity(sealed.spec.encrypted_data.len());
    let mut trials = 0usize;
    for (key, text) in &sealed.spec.encrypted_data {
        let failed = |source| OpenError {
            key: key.clone(),
            source,
        };
        let bytes = decode_base64(text).map_err(failed)?;
        let value_trials = inspect(&bytes).map_err(failed)?.trials(keyring);
        trials = trials.saturating_add(value_trials);
        decoded.push((key, bytes));
    }
    if trials > MAX_TRIALS_PER_OBJECT {
        let key = decoded.last().map(|(k, _)| (*k).clone()).unwrap_or_default();
        return Err(OpenError {
            key,
            source: UnsealError::TooMuchWork {
                trials,
                limit: MAX_TRIALS_PER_OBJECT,
            },
        });
    }
    let mut values = BTreeMap::new();
    for (key, bytes) in decoded {
        let location = Location::new(namespace.clone(), name.clone(), key.clone());
        let opened = open(&bytes, keyring, &location, &hint).map_err(|source| OpenError {
            key: key.clone(),
            source,
        })?;
        values.insert(key.clone(), opened);
    }
    Ok(OpenedSecret { values })
}

/// Overwrites a Secret's values with zeros once they have been sent or printed: `Secret` keeps
/// them in plain `Vec`s, which do not clear themselves on drop.
pub fn wipe(secret: &mut Secret) {
    use zeroize::Zeroize;
    for value in secret.data.iter_mut().flat_map(|data| data.values_mut()) {
        value.0.zeroize();
    }
}

/// The Secret a SealedSecret stands for: same name and namespace, the template's labels,
/// annotations, type and immutability, and the opened values. No owner or controller metadata.
pub fn plain_secret(sealed: &SealedSecret, opened: &OpenedSecret) -> Secret {
    let template = sealed.spec.template.clone().unwrap_or_default();
    let metadata = template.metadata.unwrap_or_default();
    let non_empty = |map: BTreeMap<String, String>| (!map.is_empty()).then_some(map);
    Secret {
        metadata: ObjectMeta {
            name: sealed.metadata.name.clone(),
            namespace: sealed.metadata.namespace.clone(),
            labels: non_empty(metadata.labels),
            annotations: non_empty(metadata.annotations),
            ..ObjectMeta::default()
        },
        data: Some(
            opened
                .values
                .iter()
                .map(|(key, opened)| (key.clone(), ByteString(opened.value.to_vec())))
                .collect(),
        ),
        type_: template.type_,
        immutable: template.immutable,
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NamedRecipient;
    use crate::keys::Identity;
    use crate::manifest::{SealOptions, parse_secrets, seal_secret};
    use crate::manifest_file::ManifestFile;

    #[test]
    fn sealed_documents_round_trip_and_open_to_the_plain_secret() {
        let identity = Identity::generate();
        let input = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: payments, labels: {app: db}}\ntype: kubernetes.io/basic-auth\nstringData: {password: hunter2}\n";
        let secret = &parse_secrets(input).expect("parses")[0];
        let recipients = [NamedRecipient::new("east", identity.recipient().clone())];
        let sealed = seal_secret(secret, &SealOptions::default(), &recipients).expect("seals");
        let text = format!(
            "{}---\napiVersion: v1\nkind: ConfigMap\n",
            serde_yaml::to_string(&sealed).expect("yaml")
        );
        let file = ManifestFile::parse(&text).expect("parses");
        let parsed = file.sealed()[0];
        assert_eq!(parsed.spec, sealed.spec);
        assert_eq!(parsed.metadata, sealed.metadata);
        assert_eq!(file.others().len(), 1);
        let opened = open_sealed_secret(parsed, &Keyring::new([identity])).expect("opens");
        let plain = plain_secret(parsed, &opened);
        assert_eq!(plain.metadata.namespace.as_deref(), Some("payments"));
        assert_eq!(plain.type_.as_deref(), Some("kubernetes.io/basic-auth"));
        assert_eq!(plain.metadata.labels.as_ref().expect("labels")["app"], "db");
        let mut plain = plain;
        assert_eq!(plain.data.as_ref().expect("data")["password"].0, b"hunter2");
        wipe(&mut plain);
        assert!(
            plain.data.expect("data")["password"].0.is_empty(),
            "wiped values are cleared"
        );
    }

    #[test]
    fn work_is_bounded_before_any_key_is_tried() {
        use crate::limits::{MAX_RECIPIENTS, MAX_TRIALS_PER_OBJECT};
        let identity = Identity::generate();
        let recipients: Vec<NamedRecipient> = (0..MAX_RECIPIENTS)
            .map(|i| NamedRecipient::new(format!("r{i}"), Identity::generate().recipient().clone()))
            .collect();
        let values = MAX_TRIALS_PER_OBJECT / MAX_RECIPIENTS / 4 + 1;
        let mut input =
            String::from("apiVersion: v1\nkind: Secret\nmetadata: {name: big, namespace: a}\nstringData:\n");
        for i in 0..values {
            input.push_str(&format!("  k{i}: v\n"));
        }
        let secret = &parse_secrets(&input).expect("parses")[0];
        let mut sealed = seal_secret(secret, &SealOptions::default(), &recipients).expect("seals");
        sealed.spec.recipients.clear();
        // With four identities the worst case passes the bound: refused, nothing tried.
        let keyring = Keyring::new((0..3).map(|_| Identity::generate()).chain([identity.clone()]));
        let err = open_sealed_secret(&sealed, &keyring).expect_err("too much work");
        assert_eq!(err.source.code(), "TooMuchWork", "{err}");
        assert!(err.to_string().contains("limit per object is 8192"), "{err}");
        // With one identity it is within the bound and simply finds no matching key.
        let err = open_sealed_secret(&sealed, &Keyring::new([identity])).expect_err("not sealed to it");
        assert_eq!(err.source.code(), "NoMatchingKey");
    }

    #[test]
    fn other_ageseal_versions_are_refused() {
        let err =
            ManifestFile::parse("apiVersion: ageseal.io/v2\nkind: SealedSecret\n").expect_err("refused");
        assert!(err.to_string().contains("ageseal.io/v2"), "{err}");
    }
}
