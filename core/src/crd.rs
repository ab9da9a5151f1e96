//! The `SealedSecret` custom resource (`ageseal.io/v1alpha1`), shared by the CLI and controller.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::{Recipient, RecipientId};

/// Annotation mirroring the sealed scope; informational, the envelope is authoritative.
pub const SCOPE_ANNOTATION: &str = "ageseal.io/scope";
/// Annotation on an existing Secret that lets the controller adopt it.
pub const MANAGED_ANNOTATION: &str = "ageseal.io/managed";
/// Bitnami Sealed Secrets' annotation with the same meaning on a Secret; honoured too, so
/// Secrets already marked for their controller can be taken over when migrating.
pub const BITNAMI_MANAGED_ANNOTATION: &str = "sealedsecrets.bitnami.com/managed";
/// The `kubectl apply` annotation; it would hold the plaintext Secret, so it is always stripped.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// ConfigMap, in the controller's namespace, where a region's controller publishes its public keys.
pub const RECIPIENTS_CONFIGMAP: &str = "ageseal-recipients";

/// The data of the `ageseal-recipients` ConfigMap: `recipients` (newest active key first, one
/// `age1...` per line) and `region`. Written by the controller, read by `ageseal status` and
/// `ageseal region add --from-cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishedRecipients {
    /// The controller's region, if it says.
    pub region: Option<String>,
    /// Public keys, newest first.
    pub recipients: Vec<Recipient>,
}

impl PublishedRecipients {
    /// The ConfigMap data.
    pub fn to_data(&self) -> BTreeMap<String, String> {
        let lines: Vec<String> = self.recipients.iter().map(Recipient::to_string).collect();
        let mut data = BTreeMap::from([("recipients".to_owned(), lines.join("\n"))]);
        if let Some(region) = &self.region {
            data.insert("region".to_owned(), region.clone());
        }
        data
    }

    /// Reads ConfigMap data; lines that are not recipients are skipped.
    pub fn from_data(data: &BTreeMap<String, String>) -> Self {
        let recipients = data
            .get("recipients")
            .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default();
        Self {
            region: data.get("region").cloned(),
            recipients,
        }
    }
}

/// Secret types the controller produces without asking: what applications read. Others (notably
/// `kubernetes.io/service-account-token`, which makes the cluster mint a token) need its
/// `--allow-secret-type`; `ageseal seal` warns about them.
pub const DEFAULT_SECRET_TYPES: [&str; 6] = [
    "Opaque",
    "kubernetes.io/tls",
    "kubernetes.io/dockerconfigjson",
    "kubernetes.io/dockercfg",
    "kubernetes.io/basic-auth",
    "kubernetes.io/ssh-auth",
];

/// Secret values sealed with age for one or more regions' controllers.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[kube(
    group = "ageseal.io",
    version = "v1alpha1",
    kind = "SealedSecret",
    plural = "sealedsecrets",
    shortname = "sealed",
    namespaced,
    status = "SealedSecretStatus",
    derive = "Default",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Region","type":"string","priority":1,"jsonPath":".status.region"}"#,
    printcolumn = r#"{"name":"KeyId","type":"string","priority":1,"jsonPath":".status.keyId"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    /// Unauthenticated hint: who each value was sealed to, in stanza order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<RecipientHint>,
    /// One age file per Secret key, standard base64.
    pub encrypted_data: BTreeMap<String, String>,
    /// Shape of the produced Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<SecretTemplate>,
}

/// One entry of the recipient hint.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct RecipientHint {
    /// Region or recovery key name from `.ageseal.yaml`.
    pub name: String,
    /// Short fingerprint of the recipient (16 hex digits).
    pub id: String,
}

/// Labels, annotations, type and immutability of the produced Secret. Never a template language.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SecretTemplate {
    /// Labels and annotations for the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMetadata>,
    /// Secret type, e.g. `Opaque` or `kubernetes.io/tls`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Whether the Secret is immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

/// Metadata copied onto the produced Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct TemplateMetadata {
    /// Labels for the Secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations for the Secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// What a region's controller last did with the object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The region of the controller that wrote this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Fingerprint of the controller key that opened the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// [`spec_hash`] of the `encryptedData` that was applied; equal across regions when in sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_hash: Option<String>,
    /// kstatus conditions; `Ready` is the one that matters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A kstatus-compatible condition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason, e.g. `Unsealed` or `ScopeMismatch`.
    pub reason: String,
    /// Human-readable detail with the remedy.
    pub message: String,
    /// The generation this condition describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// RFC 3339 time of the last status change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

impl SealedSecretSpec {
    /// The hint as recipient ids in stanza order; entries that do not parse are skipped over
    /// as "no hint" for that stanza (the hint never decides security).
    pub fn hint_ids(&self) -> Vec<Option<RecipientId>> {
        self.recipients.iter().map(|r| r.id.parse().ok()).collect()
    }
}

/// SHA-256 (hex) over the canonical `encryptedData`: for each key in byte order,
/// `key`, a NUL byte, the base64 text, a newline. Equal in every region that applied the same Git.
pub fn spec_hash(encrypted_data: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (key, value) in encrypted_data {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn crd_has_the_contracted_names() {
        let crd = SealedSecret::crd();
        assert_eq!(crd.spec.group, "ageseal.io");
        assert_eq!(crd.spec.names.kind, "SealedSecret");
        assert_eq!(crd.spec.names.plural, "sealedsecrets");
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        let columns: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(columns, ["Ready", "Reason", "Age", "Region", "KeyId"]);
        let wide: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .filter(|c| c.priority == Some(1))
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(wide, ["Region", "KeyId"], "only -o wide shows these");
    }

    #[test]
    fn published_recipients_round_trip_in_order() {
        let keys: Vec<Recipient> = (0..2)
            .map(|_| crate::keys::Identity::generate().recipient().clone())
            .collect();
        let published = PublishedRecipients {
            region: Some("us-east-1".into()),
            recipients: keys,
        };
        let mut data = published.to_data();
        assert_eq!(PublishedRecipients::from_data(&data), published);
        data.insert("recipients".into(), format!("junk\n{}", published.recipients[1]));
        assert_eq!(
            PublishedRecipients::from_data(&data).recipients,
            [published.recipients[1].clone()]
        );
    }

    #[test]
    fn spec_hash_depends_on_every_key_and_value() {
        let mut data = BTreeMap::from([("a".to_owned(), "AAAA".to_owned())]);
        let one = spec_hash(&data);
        data.insert("b".into(), "BBBB".into());
        let two = spec_hash(&data);
        data.insert("b".into(), "BBBC".into());
        assert!(one != two && two != spec_hash(&data));
        // Boundary confusion: key "a" + value "b" must differ from key "ab".
        let ab = BTreeMap::from([("ab".to_owned(), String::new())]);
        let a_b = BTreeMap::from([("a".to_owned(), "b".to_owned())]);
        assert_ne!(spec_hash(&ab), spec_hash(&a_b));
        assert_eq!(one.len(), 64);
    }
}
