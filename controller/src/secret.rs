//! The Secret a SealedSecret must produce: every value opened and its binding checked against
//! the object's own namespace, name and key, or no Secret at all; and never a Secret more
//! powerful than one its author could write (the [`Policy`], checked before anything is opened).

use std::collections::{BTreeMap, BTreeSet};

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
    /// The status reason (`NoMatchingKey`, `ScopeMismatch`, `MalformedValue`, `TooMuchWork`,
    /// `ControllerNamespace`, `ReservedMetadata`, `TypeNotAllowed`).
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

pub use ageseal_core::crd::DEFAULT_SECRET_TYPES;

/// The annotation a template may carry in the `ageseal.io/` space: it only says the produced
/// Secret may be managed by ageseal, which it is.
const ALLOWED_RESERVED: &str = ageseal_core::crd::MANAGED_ANNOTATION;

/// What a SealedSecret may turn into here: never a Secret in the controller's own namespace (key
/// Secrets live there), never `ageseal.io/` labels or annotations, only allowed Secret types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The controller's own namespace; `None` offline (no cluster, nothing to protect).
    pub own_namespace: Option<String>,
    /// Secret types that may be produced.
    pub allowed_types: BTreeSet<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self::new(None, &[])
    }
}

impl Policy {
    /// The default types plus `extra_types`, for a controller living in `own_namespace`.
    pub fn new(own_namespace: Option<&str>, extra_types: &[String]) -> Self {
        let mut allowed_types: BTreeSet<String> =
            DEFAULT_SECRET_TYPES.iter().map(|t| (*t).to_owned()).collect();
        allowed_types.extend(extra_types.iter().cloned());
        Self {
            own_namespace: own_namespace.map(str::to_owned),
            allowed_types,
        }
    }

    /// Refuses what this SealedSecret may not become, before any value is opened.
    pub fn check(&self, sealed: &SealedSecret) -> Result<(), DesiredSecretError> {
        let namespace = sealed.metadata.namespace.as_deref().unwrap_or_default();
        if self.own_namespace.as_deref() == Some(namespace) {
            return Err(DesiredSecretError {
                reason: "ControllerNamespace",
                message: format!(
                    "the SealedSecret is in {namespace}, the controller's own namespace, where it never writes a Secret"
                ),
                hint: "put SealedSecrets in the namespaces of the applications that use them",
            });
        }
        let template = sealed.spec.template.clone().unwrap_or_default();
        let metadata = template.metadata.unwrap_or_default();
        let labels = metadata.labels.keys().map(|k| ("label", k));
        let annotations = metadata
            .annotations
            .keys()
            .filter(|k| k.as_str() != ALLOWED_RESERVED)
            .map(|k| ("annotation", k));
        if let Some((what, key)) = labels.chain(annotations).find(|(_, k)| is_reserved(k)) {
            return Err(DesiredSecretError {
                reason: "ReservedMetadata",
                message: format!(
                    "spec.template sets the {what} {}: names under ageseal.io/ belong to the controller",
                    shorten(key)
                ),
                hint: "remove it from spec.template (of ageseal.io/ names only the annotation ageseal.io/managed may be set)",
            });
        }
        let secret_type = template
            .type_
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or("Opaque");
        if !self.allowed_types.contains(secret_type) {
            return Err(DesiredSecretError {
                reason: "TypeNotAllowed",
                message: format!(
                    "spec.template asks for a Secret of type {}, which this controller does not produce",
                    shorten(secret_type)
                ),
                hint: "only Opaque, kubernetes.io/tls, dockerconfigjson, dockercfg, basic-auth and ssh-auth are produced by default; an operator may allow more with --allow-secret-type (service-account-token Secrets make the cluster mint a token)",
            });
        }
        Ok(())
    }
}

/// True for a label or annotation key in the `ageseal.io` space (`ageseal.io/x`, `a.ageseal.io/x`).
fn is_reserved(key: &str) -> bool {
    key.split_once('/').is_some_and(|(prefix, _)| {
        let prefix = prefix.to_ascii_lowercase();
        prefix == "ageseal.io" || prefix.ends_with(".ageseal.io")
    })
}

/// Keys and types come from the object's author: bound what is repeated in messages.
fn shorten(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
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
/// `policy` is checked first: a refused object costs no decryption.
pub fn desired_secret(
    sealed: &SealedSecret,
    keyring: &Keyring,
    policy: &Policy,
) -> Result<Desired, DesiredSecretError> {
    policy.check(sealed)?;
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
        let secret = desired_secret(&sealed, &Keyring::new([identity]), &Policy::default())
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
        let err =
            desired_secret(&sealed, &Keyring::new([identity]), &Policy::default()).expect_err("refused");
        assert_eq!(err.reason, "ScopeMismatch");
        assert!(err.message.contains("key user") && !err.message.contains("hunter2"));
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;
    use ageseal_core::crd::{SealedSecretSpec, SecretTemplate, TemplateMetadata};

    fn object(namespace: &str, template: SecretTemplate) -> SealedSecret {
        let mut sealed = SealedSecret::new(
            "db",
            SealedSecretSpec {
                template: Some(template),
                ..SealedSecretSpec::default()
            },
        );
        sealed.metadata.namespace = Some(namespace.to_owned());
        sealed
    }

    fn reason(policy: &Policy, sealed: &SealedSecret) -> Option<&'static str> {
        policy.check(sealed).err().map(|e| e.reason)
    }

    #[test]
    fn the_policy_refuses_what_a_secret_author_could_not_do() {
        let policy = Policy::new(Some("ageseal-system"), &[]);
        let plain = SecretTemplate::default();
        assert_eq!(reason(&policy, &object("payments", plain.clone())), None);
        assert_eq!(
            reason(&policy, &object("ageseal-system", plain)),
            Some("ControllerNamespace")
        );
        let with = |labels: &[(&str, &str)], annotations: &[(&str, &str)]| SecretTemplate {
            metadata: Some(TemplateMetadata {
                labels: labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
                annotations: annotations
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            }),
            ..SecretTemplate::default()
        };
        for template in [
            with(&[("ageseal.io/key", "active")], &[]),
            with(&[("x.AGESEAL.io/anything", "1")], &[]),
            with(&[], &[("ageseal.io/scope", "cluster-wide")]),
            with(&[("ageseal.io/managed", "true")], &[]),
        ] {
            assert_eq!(
                reason(&policy, &object("payments", template)),
                Some("ReservedMetadata")
            );
        }
        let managed = with(
            &[("app", "db")],
            &[("ageseal.io/managed", "true"), ("notageseal.io/x", "")],
        );
        assert_eq!(reason(&policy, &object("payments", managed)), None);
        let typed = |t: &str| SecretTemplate {
            type_: Some(t.to_owned()),
            ..SecretTemplate::default()
        };
        for allowed in DEFAULT_SECRET_TYPES.iter().chain(&[""]) {
            assert_eq!(
                reason(&policy, &object("payments", typed(allowed))),
                None,
                "{allowed}"
            );
        }
        for refused in [
            "kubernetes.io/service-account-token",
            "ageseal.io/key",
            "bootstrap.kubernetes.io/token",
        ] {
            assert_eq!(
                reason(&policy, &object("payments", typed(refused))),
                Some("TypeNotAllowed")
            );
        }
        let opened = Policy::new(None, &["bootstrap.kubernetes.io/token".to_owned()]);
        assert_eq!(
            reason(
                &opened,
                &object("payments", typed("bootstrap.kubernetes.io/token"))
            ),
            None
        );
    }
}
