//! The Secret a SealedSecret must produce: every value opened and its binding checked against
//! the object's own namespace, name and key, or no Secret at all.

use std::collections::BTreeMap;

use ageseal_core::crd::SealedSecret;
use ageseal_core::sealed_file::{OpenError, open_sealed_secret, plain_secret};
use ageseal_core::{Keyring, RecipientId};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

/// Label on every Secret the controller produces; the controller watches only Secrets with it.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "ageseal-controller";

/// Why no Secret can be produced; carries the status reason and the remedy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DesiredSecretError {
    /// The status reason (`NoMatchingKey`, `ScopeMismatch`, `MalformedValue`).
    pub reason: &'static str,
    /// What happened (names the key, never its value).
    pub message: String,
    /// What to do about it.
    pub hint: &'static str,
}

impl From<OpenError> for DesiredSecretError {
    fn from(err: OpenError) -> Self {
        Self {
            reason: err.source.reason(),
            hint: err.source.hint(),
            message: err.to_string(),
        }
    }
}

/// The Secret to apply and the fingerprint of the key that opened it.
#[derive(Debug)]
pub struct Desired {
    /// The Secret, ready for server-side apply.
    pub secret: Secret,
    /// The controller key that opened the values.
    pub key_id: Option<RecipientId>,
}

/// The Secret for `sealed`: template labels, annotations, type and immutability, the opened
/// values, our managed-by label, and (when the object has a uid) a controlling ownerReference.
pub fn desired_secret(sealed: &SealedSecret, keyring: &Keyring) -> Result<Desired, DesiredSecretError> {
    if sealed.metadata.name.is_none() {
        return Err(DesiredSecretError {
            reason: "MalformedValue",
            message: "the SealedSecret has no metadata.name".to_owned(),
            hint: "give the SealedSecret a name",
        });
    }
    let opened = open_sealed_secret(sealed, keyring)?;
    let mut secret = plain_secret(sealed, &opened);
    secret
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned());
    if let Some(owner) = sealed.controller_owner_ref(&()) {
        secret.metadata.owner_references = Some(vec![OwnerReference {
            block_owner_deletion: Some(true),
            ..owner
        }]);
    }
    Ok(Desired {
        secret,
        key_id: opened.key_id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ageseal_core::Identity;
    use ageseal_core::config::NamedRecipient;
    use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};

    fn sealed_for(identity: &Identity) -> SealedSecret {
        let input = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: payments, labels: {app: db}}\nstringData: {password: hunter2, user: admin}\n";
        let secret = &parse_secrets(input).expect("parses")[0];
        let recipients = [NamedRecipient::new("us-east-1", identity.recipient().clone())];
        seal_secret(secret, &SealOptions::default(), &recipients).expect("seals")
    }

    #[test]
    fn the_secret_carries_values_labels_and_an_owner() {
        let identity = Identity::generate();
        let mut sealed = sealed_for(&identity);
        sealed.metadata.uid = Some("0b5e-uid".into());
        let secret = desired_secret(&sealed, &Keyring::new([identity]))
            .expect("opens")
            .secret;
        let labels = secret.metadata.labels.expect("labels");
        assert_eq!(labels["app"], "db");
        assert_eq!(labels[MANAGED_BY_LABEL], MANAGED_BY_VALUE);
        let owner = &secret.metadata.owner_references.expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("SealedSecret", "0b5e-uid", Some(true))
        );
        assert_eq!(secret.data.expect("data")["user"].0, b"admin");
    }

    #[test]
    fn one_bad_value_means_no_secret() {
        let identity = Identity::generate();
        let mut sealed = sealed_for(&identity);
        let other = sealed_for(&identity);
        // A value replayed from another object under another key.
        let replayed = other.spec.encrypted_data["password"].clone();
        sealed.spec.encrypted_data.insert("user".into(), replayed);
        let err = desired_secret(&sealed, &Keyring::new([identity])).expect_err("refused");
        assert_eq!(err.reason, "ScopeMismatch");
        assert!(err.message.contains("key user") && !err.message.contains("hunter2"));
    }
}
