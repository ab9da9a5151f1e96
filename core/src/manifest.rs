//! Plain Secret manifests in (what `kubectl create secret --dry-run=client -o yaml` prints) and
//! SealedSecrets out, and back again for recovery and the controller.

use std::collections::BTreeMap;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::config::NamedRecipient;
use crate::crd::{
    LAST_APPLIED_ANNOTATION, SCOPE_ANNOTATION, SealedSecret, SealedSecretSpec, SecretTemplate,
    TemplateMetadata,
};
use crate::envelope::{Binding, BindingError, Location, Scope};
use crate::keys::Recipient;
use crate::seal::{SealError, seal_many};
use crate::yaml::{self, YamlError};

/// Secret values, zeroized on drop.
pub type SecretData = BTreeMap<String, Zeroizing<Vec<u8>>>;

/// A plain Secret read from input. `Debug` never shows the values.
pub struct PlainSecret {
    /// Name, if the manifest had one.
    pub name: Option<String>,
    /// Namespace, if the manifest had one.
    pub namespace: Option<String>,
    /// Labels to carry into the template.
    pub labels: BTreeMap<String, String>,
    /// Annotations to carry into the template (`last-applied-configuration` already removed).
    pub annotations: BTreeMap<String, String>,
    /// `data` and `stringData` merged; `stringData` wins, as on the API server.
    pub data: SecretData,
    /// Secret type.
    pub type_: Option<String>,
    /// Immutability.
    pub immutable: Option<bool>,
}

impl std::fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainSecret")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why input could not be read as Secrets. Messages name documents and keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not YAML or JSON of the expected shape.
    #[error("document {doc}: {message}")]
    Syntax {
        /// 1-based document number.
        doc: usize,
        /// The parser's message (positions and field names only).
        message: String,
    },
    /// Some other kind of object.
    #[error("document {doc}: kind is {kind:?}, expected Secret (apiVersion v1)")]
    NotASecret {
        /// 1-based document number.
        doc: usize,
        /// The kind found.
        kind: String,
    },
    /// A `data` value is not base64.
    #[error("document {doc}: data.{key} is not valid base64")]
    BadBase64 {
        /// 1-based document number.
        doc: usize,
        /// The key.
        key: String,
    },
    /// A `data` or `stringData` value is not a string.
    #[error("document {doc}: {field}.{key} must be a string")]
    NotAString {
        /// 1-based document number.
        doc: usize,
        /// `data` or `stringData`.
        field: &'static str,
        /// The key.
        key: String,
    },
    /// No Secret at all in the input.
    #[error("the input holds no Secret")]
    Empty,
    /// A label or annotation holds one of the Secret's values: sealing would publish it.
    #[error(
        "document {doc}: the {field} {key} holds one of the Secret's values, which would be copied into spec.template in clear"
    )]
    ValueInMetadata {
        /// 1-based document number.
        doc: usize,
        /// `label` or `annotation`.
        field: &'static str,
        /// Its key.
        key: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDoc {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    data: BTreeMap<String, RawValue>,
    #[serde(default)]
    string_data: BTreeMap<String, RawValue>,
    #[serde(default, rename = "type")]
    type_: Option<String>,
    #[serde(default)]
    immutable: Option<bool>,
    #[serde(default)]
    items: Vec<RawDoc>,
}

/// A value kept only long enough to check it is a string; never formatted.
struct RawValue(Option<Zeroizing<String>>);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through a Value so that serde's "invalid type" messages cannot quote the secret.
        Ok(RawValue(match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::String(s) => Some(Zeroizing::new(s)),
            _ => None,
        }))
    }
}

impl ManifestError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ManifestError::Syntax { message, .. } if message.contains("twice") => {
                "remove the repeated key: which of the two is meant cannot be guessed"
            }
            ManifestError::Syntax { message, .. } if message.contains("nested deeper") => {
                "this is not a Kubernetes manifest; check what was piped in"
            }
            ManifestError::ValueInMetadata { .. } => {
                "remove that label or annotation from the input Secret (labels and annotations are not encrypted)"
            }
            ManifestError::BadBase64 { .. } => {
                "data values are base64; put plain text under stringData instead"
            }
            ManifestError::NotAString { .. } => "quote the value so it is a string",
            _ => {
                "give Secret manifests, e.g. kubectl create secret generic NAME --from-literal=k=v --dry-run=client -o yaml"
            }
        }
    }
}

impl From<YamlError> for ManifestError {
    fn from(err: YamlError) -> Self {
        match err {
            YamlError::Invalid { doc, what } => ManifestError::Syntax { doc, message: what },
            other @ YamlError::TooDeep { doc, .. } => ManifestError::Syntax {
                doc,
                message: other
                    .to_string()
                    .trim_start_matches(&format!("document {doc}: "))
                    .to_owned(),
            },
        }
    }
}

/// Reads every Secret from YAML or JSON text: several documents, and `kind: List` items.
/// Duplicate keys, deep nesting and values copied into labels or annotations are refused.
pub fn parse_secrets(text: &str) -> Result<Vec<PlainSecret>, ManifestError> {
    let mut secrets = Vec::new();
    for document in yaml::split(text) {
        let doc = document.number;
        if yaml::value(&document)?.is_none() {
            continue;
        }
        let raw: RawDoc = yaml::typed(&document)?;
        if raw.kind == "List" {
            for item in raw.items {
                secrets.push(to_plain(doc, item)?);
            }
        } else {
            secrets.push(to_plain(doc, raw)?);
        }
    }
    if secrets.is_empty() {
        return Err(ManifestError::Empty);
    }
    Ok(secrets)
}

/// Values shorter than this are not looked for in labels and annotations (they would match by
/// chance); longer ones found there would be copied into `spec.template` in clear.
const MIN_VALUE_SEARCHED: usize = 6;

fn value_in_metadata(doc: usize, secret: &PlainSecret) -> Result<(), ManifestError> {
    let metadata = secret
        .labels
        .iter()
        .map(|(k, v)| ("label", k, v))
        .chain(secret.annotations.iter().map(|(k, v)| ("annotation", k, v)));
    for (field, key, text) in metadata {
        let holds = secret.data.values().any(|value| {
            let plain = std::str::from_utf8(value)
                .ok()
                .filter(|v| v.len() >= MIN_VALUE_SEARCHED);
            let encoded = BASE64_STANDARD.encode(value.as_slice());
            plain.is_some_and(|v| text.contains(v))
                || (value.len() >= MIN_VALUE_SEARCHED && text.contains(encoded.trim_end_matches('=')))
        });
        if holds {
            return Err(ManifestError::ValueInMetadata {
                doc,
                field,
                key: key.clone(),
            });
        }
    }
    Ok(())
}

fn to_plain(doc: usize, raw: RawDoc) -> Result<PlainSecret, ManifestError> {
    if raw.kind != "Secret" || raw.api_version != "v1" {
        return Err(ManifestError::NotASecret { doc, kind: raw.kind });
    }
    let mut data = SecretData::new();
    for (key, value) in raw.data {
        let text = value.0.ok_or_else(|| ManifestError::NotAString {
            doc,
            field: "data",
            key: key.clone(),
        })?;
        let bytes = BASE64_STANDARD
            .decode(text.trim_ascii())
            .map_err(|_| ManifestError::BadBase64 {
                doc,
                key: key.clone(),
            })?;
        data.insert(key, Zeroizing::new(bytes));
    }
    for (key, value) in raw.string_data {
        let text = value.0.ok_or_else(|| ManifestError::NotAString {
            doc,
            field: "stringData",
            key: key.clone(),
        })?;
        data.insert(key, Zeroizing::new(text.as_bytes().to_vec()));
    }
    let meta = raw.metadata;
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.remove(LAST_APPLIED_ANNOTATION);
    let secret = PlainSecret {
        name: meta.name,
        namespace: meta.namespace,
        labels: meta.labels.unwrap_or_default(),
        annotations,
        data,
        type_: raw.type_,
        immutable: raw.immutable,
    };
    value_in_metadata(doc, &secret)?;
    Ok(secret)
}

/// How `ageseal seal` was asked to seal.
#[derive(Debug, Clone, Default)]
pub struct SealOptions {
    /// Scope to bind every value to.
    pub scope: Scope,
    /// `--name`: used when the Secret has none; a different name is a conflict.
    pub name: Option<String>,
    /// `--namespace`: used when the Secret has none; a different namespace is a conflict.
    pub namespace: Option<String>,
    /// Allow a Secret with no keys.
    pub allow_empty: bool,
}

/// Why a Secret could not become a SealedSecret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealSecretError {
    /// Neither the Secret nor `--name` gives a name.
    #[error("the Secret has no name")]
    MissingName,
    /// Neither the Secret nor `--namespace` gives a namespace, and the scope needs one.
    #[error("Secret {name} has no namespace, and {scope} scope binds the value to one")]
    MissingNamespace {
        /// Secret name.
        name: String,
        /// Requested scope.
        scope: Scope,
    },
    /// A flag disagrees with the manifest.
    #[error(
        "Secret {name}: the manifest says {field} {in_manifest:?} but --{field} says {on_command_line:?}"
    )]
    Conflict {
        /// Secret name.
        name: String,
        /// `name` or `namespace`.
        field: &'static str,
        /// Value in the manifest.
        in_manifest: String,
        /// Value on the command line.
        on_command_line: String,
    },
    /// No keys.
    #[error("Secret {0} has no data or stringData")]
    Empty(String),
    /// The values together are over Kubernetes' limit for one Secret.
    #[error(
        "Secret {name}: its values total {total} bytes; Kubernetes keeps at most 1 MiB (1,048,576 bytes) in one Secret"
    )]
    TooLarge {
        /// Secret name.
        name: String,
        /// Bytes of all values together.
        total: usize,
    },
    /// A name, namespace or key Kubernetes would reject.
    #[error("Secret {name}: {source}")]
    Invalid {
        /// Secret name.
        name: String,
        /// What is wrong.
        source: BindingError,
    },
    /// Sealing failed.
    #[error("Secret {name}: {source}")]
    Seal {
        /// Secret name.
        name: String,
        /// Why.
        source: SealError,
    },
}

impl SealSecretError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            SealSecretError::MissingName => "give the Secret a metadata.name or pass --name",
            SealSecretError::MissingNamespace { .. } => {
                "pass --namespace (or kubectl create secret -n NS), or use --scope cluster-wide"
            }
            SealSecretError::Conflict { .. } => "drop the flag or fix the manifest so they agree",
            SealSecretError::Empty(_) => "add keys to the Secret, or pass --allow-empty",
            SealSecretError::TooLarge { .. } => {
                "split the values over several Secrets, or keep large blobs outside Kubernetes"
            }
            SealSecretError::Invalid { .. } => "use names Kubernetes accepts",
            SealSecretError::Seal { source, .. } => source.hint(),
        }
    }
}

fn pick(
    name: &str,
    field: &'static str,
    manifest: Option<&str>,
    flag: Option<&str>,
) -> Result<Option<String>, SealSecretError> {
    match (manifest, flag) {
        (Some(m), Some(f)) if m != f => Err(SealSecretError::Conflict {
            name: name.to_owned(),
            field,
            in_manifest: m.to_owned(),
            on_command_line: f.to_owned(),
        }),
        (m, f) => Ok(m.or(f).map(str::to_owned)),
    }
}

/// Seals each (key, binding, value) job, spread over the machine's cores when there are enough
/// stanzas (`seal_many`): every value costs one ephemeral Diffie-Hellman per recipient, and a
/// Secret's values are independent.
fn seal_all(
    jobs: &[(String, Binding, &[u8])],
    keys: &[Recipient],
) -> Result<BTreeMap<String, String>, SealError> {
    let values: Vec<_> = jobs.iter().map(|(_, binding, value)| (*value, binding)).collect();
    let sealed = seal_many(&values, keys)?;
    Ok(jobs
        .iter()
        .zip(sealed)
        .map(|((key, _, _), sealed)| (key.clone(), BASE64_STANDARD.encode(sealed)))
        .collect())
}

/// Seals every value of `secret` to `recipients` (in order) and builds the SealedSecret.
pub fn seal_secret(
    secret: &PlainSecret,
    options: &SealOptions,
    recipients: &[NamedRecipient],
) -> Result<SealedSecret, SealSecretError> {
    let name = pick("", "name", secret.name.as_deref(), options.name.as_deref())?
        .ok_or(SealSecretError::MissingName)?;
    let namespace = pick(
        &name,
        "namespace",
        secret.namespace.as_deref(),
        options.namespace.as_deref(),
    )?;
    if namespace.is_none() && options.scope != Scope::ClusterWide {
        return Err(SealSecretError::MissingNamespace {
            name,
            scope: options.scope,
        });
    }
    if secret.data.is_empty() && !options.allow_empty {
        return Err(SealSecretError::Empty(name));
    }
    let total: usize = secret.data.values().map(|v| v.len()).sum();
    if total > crate::limits::MAX_VALUE_BYTES {
        return Err(SealSecretError::TooLarge { name, total });
    }
    let keys: Vec<Recipient> = recipients.iter().map(|r| r.recipient.clone()).collect();
    let mut jobs = Vec::with_capacity(secret.data.len());
    for (key, value) in &secret.data {
        let location = Location::new(namespace.clone().unwrap_or_default(), name.clone(), key.clone());
        let binding = Binding::new(options.scope, &location).map_err(|source| SealSecretError::Invalid {
            name: name.clone(),
            source,
        })?;
        jobs.push((key.clone(), binding, value.as_slice()));
    }
    let encrypted_data = seal_all(&jobs, &keys).map_err(|source| SealSecretError::Seal {
        name: name.clone(),
        source,
    })?;
    let metadata = (!secret.labels.is_empty() || !secret.annotations.is_empty()).then(|| TemplateMetadata {
        labels: secret.labels.clone(),
        annotations: secret.annotations.clone(),
    });
    let spec = SealedSecretSpec {
        recipients: recipients.iter().map(NamedRecipient::hint).collect(),
        encrypted_data,
        template: Some(SecretTemplate {
            metadata,
            type_: secret.type_.clone(),
            immutable: secret.immutable,
        })
        .filter(|t| *t != SecretTemplate::default()),
    };
    let mut sealed = SealedSecret::new(&name, spec);
    sealed.metadata.namespace = namespace;
    sealed.metadata.annotations = Some(BTreeMap::from([(
        SCOPE_ANNOTATION.to_owned(),
        options.scope.to_string(),
    )]));
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Identity, Keyring};
    use crate::sealed_file::open_sealed_secret;

    const KUBECTL_OUTPUT: &str = "apiVersion: v1\ndata:\n  password: aHVudGVyMg==\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: db\n  namespace: payments\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"password\":\"aHVudGVyMg==\"}}'\n";

    #[test]
    fn reads_kubectl_output_and_strips_last_applied() {
        let secrets = parse_secrets(KUBECTL_OUTPUT).expect("parses");
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].data["password"].as_slice(), b"hunter2");
        assert!(secrets[0].annotations.is_empty());
        assert_eq!(secrets[0].namespace.as_deref(), Some("payments"));
    }

    #[test]
    fn errors_never_quote_values() {
        let cases = [
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {password: 424242}\n",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {password: '424242!'}\n",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {password: [424242]}\n",
        ];
        for case in cases {
            let err = parse_secrets(case).expect_err("rejected").to_string();
            assert!(!err.contains("424242"), "{err}");
            assert!(err.contains("password"), "{err}");
        }
    }

    #[test]
    fn string_data_wins_and_lists_and_json_are_read() {
        let text = "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"YQ==\"},\"stringData\":{\"k\":\"b\"}}]}\n---\n";
        let secrets = parse_secrets(text).expect("parses");
        assert_eq!(secrets[0].data["k"].as_slice(), b"b");
        assert_eq!(parse_secrets("---\n").unwrap_err(), ManifestError::Empty);
        assert!(matches!(
            parse_secrets("apiVersion: v1\nkind: ConfigMap\n").unwrap_err(),
            ManifestError::NotASecret { doc: 1, .. }
        ));
    }

    #[test]
    fn seal_then_open_gives_the_values_back_and_checks_names() {
        let identity = Identity::generate();
        let recipients = [NamedRecipient::new("us-east-1", identity.recipient().clone())];
        let secret = &parse_secrets(KUBECTL_OUTPUT).expect("parses")[0];
        let options = SealOptions::default();
        let mut sealed = seal_secret(secret, &options, &recipients).expect("seals");
        assert_eq!(
            sealed.spec.recipients[0].id,
            identity.recipient().id().to_string()
        );
        let keyring = Keyring::new([identity]);
        let opened = open_sealed_secret(&sealed, &keyring).expect("opens");
        assert_eq!(opened.values["password"].value.as_slice(), b"hunter2");
        sealed.metadata.namespace = Some("elsewhere".into());
        let err = open_sealed_secret(&sealed, &keyring).expect_err("moved");
        assert_eq!(err.source.code(), "ScopeMismatch");
    }

    #[test]
    fn seal_reports_conflicts_and_missing_parts() {
        let recipients = [NamedRecipient::new("r", Identity::generate().recipient().clone())];
        let secret = &parse_secrets(KUBECTL_OUTPUT).expect("parses")[0];
        let conflicting = SealOptions {
            namespace: Some("billing".into()),
            ..SealOptions::default()
        };
        assert!(matches!(
            seal_secret(secret, &conflicting, &recipients),
            Err(SealSecretError::Conflict {
                field: "namespace",
                ..
            })
        ));
        let no_ns = &parse_secrets("apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {}\n")
            .expect("parses")[0];
        assert!(matches!(
            seal_secret(no_ns, &SealOptions::default(), &recipients),
            Err(SealSecretError::MissingNamespace { .. })
        ));
        let cluster = SealOptions {
            scope: Scope::ClusterWide,
            ..SealOptions::default()
        };
        assert_eq!(
            seal_secret(no_ns, &cluster, &recipients).unwrap_err(),
            SealSecretError::Empty("a".into())
        );
    }
}
