//! The key sources a sops file names (its `sops:` metadata), read before sops runs. sops contacts
//! whatever service that metadata names, with the operator's credentials: a Vault address, a GCP
//! or Azure key, a PGP key server. A file from someone else's branch could name one of theirs.
//! `import --from sops` runs sops only on files whose sources are all allowed: age and AWS KMS by
//! default (the ones ageseal itself uses), others only when `--allow-key-source` names them.

use serde_yaml::Value;

/// A kind of key sops can take a file's data key from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum KeySource {
    /// age recipients (opened with SOPS_AGE_KEY_FILE or the like).
    Age,
    /// AWS KMS keys (the standard AWS credential chain).
    AwsKms,
    /// PGP keys (gpg, which may contact a key server).
    Pgp,
    /// GCP Cloud KMS.
    GcpKms,
    /// Azure Key Vault.
    AzureKv,
    /// HashiCorp Vault transit (an address the file names).
    HcVault,
}

impl KeySource {
    /// The name sops uses in its metadata.
    fn field(self) -> &'static str {
        match self {
            KeySource::Age => "age",
            KeySource::AwsKms => "kms",
            KeySource::Pgp => "pgp",
            KeySource::GcpKms => "gcp_kms",
            KeySource::AzureKv => "azure_kv",
            KeySource::HcVault => "hc_vault",
        }
    }

    /// The name `--allow-key-source` takes.
    pub fn flag(self) -> &'static str {
        match self {
            KeySource::Age => "age",
            KeySource::AwsKms => "aws-kms",
            KeySource::Pgp => "pgp",
            KeySource::GcpKms => "gcp-kms",
            KeySource::AzureKv => "azure-kv",
            KeySource::HcVault => "hc-vault",
        }
    }

    /// Allowed without a flag: what ageseal itself works with.
    pub fn allowed_by_default(self) -> bool {
        matches!(self, KeySource::Age | KeySource::AwsKms)
    }

    const ALL: [KeySource; 6] = [
        KeySource::Age,
        KeySource::AwsKms,
        KeySource::Pgp,
        KeySource::GcpKms,
        KeySource::AzureKv,
        KeySource::HcVault,
    ];
}

/// One key a file names: its source, and where it lives (an ARN, an address, a fingerprint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedKey {
    /// The kind of key.
    pub source: KeySource,
    /// What identifies it (public: ARNs, URLs, fingerprints, age recipients).
    pub place: String,
}

/// What a key entry says about where it lives.
fn place(source: KeySource, entry: &Value) -> String {
    let field = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
    let found = match source {
        KeySource::Age => field("recipient"),
        KeySource::AwsKms => field("arn").map(|arn| match field("role") {
            Some(role) => format!("{arn} (assuming role {role})"),
            None => arn,
        }),
        KeySource::Pgp => field("fp"),
        KeySource::GcpKms => field("resource_id"),
        KeySource::AzureKv => {
            field("vault_url").map(|url| format!("{url} key {}", field("name").unwrap_or_default()))
        }
        KeySource::HcVault => field("vault_address").map(|addr| {
            format!(
                "{addr} ({}/{})",
                field("engine_path").unwrap_or_default(),
                field("key_name").unwrap_or_default()
            )
        }),
    };
    found.unwrap_or_else(|| "(unnamed)".to_owned())
}

/// Every key in a map of sources (the metadata itself, or one of its `key_groups`).
fn keys_in(map: &Value, out: &mut Vec<NamedKey>) {
    for source in KeySource::ALL {
        if let Some(entries) = map.get(source.field()).and_then(Value::as_sequence) {
            out.extend(entries.iter().map(|entry| NamedKey {
                source,
                place: place(source, entry),
            }));
        }
    }
}

/// The keys the `sops:` metadata of `text` (YAML or JSON, any document) names, top level and
/// key groups alike; `None` when no document has sops metadata that can be read.
pub fn named_keys(text: &str) -> Option<Vec<NamedKey>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut found = None;
    for document in serde_yaml::Deserializer::from_str(text) {
        let Ok(value) = <Value as serde::Deserialize>::deserialize(document) else {
            return found;
        };
        let Some(metadata) = value.get("sops").filter(|m| m.is_mapping()) else {
            continue;
        };
        let keys = found.get_or_insert_with(Vec::new);
        keys_in(metadata, keys);
        for group in metadata
            .get("key_groups")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            keys_in(group, keys);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_is_read_from_top_level_and_key_groups() {
        let text = "apiVersion: v1\nkind: Secret\nsops:\n  age:\n  - recipient: age1abc\n    enc: x\n  kms:\n  - arn: arn:aws:kms:us-east-1:1:key/k\n    role: arn:aws:iam::1:role/r\n  key_groups:\n  - hc_vault:\n    - vault_address: https://vault.example\n      engine_path: transit\n      key_name: k\n    pgp:\n    - fp: ABCD\n  version: 3.11.0\n";
        let keys = named_keys(text).expect("metadata");
        let got: Vec<(KeySource, &str)> = keys.iter().map(|k| (k.source, k.place.as_str())).collect();
        assert_eq!(
            got,
            [
                (KeySource::Age, "age1abc"),
                (
                    KeySource::AwsKms,
                    "arn:aws:kms:us-east-1:1:key/k (assuming role arn:aws:iam::1:role/r)"
                ),
                (KeySource::Pgp, "ABCD"),
                (KeySource::HcVault, "https://vault.example (transit/k)"),
            ]
        );
        let json =
            r#"{"data": {"a": "ENC[...]"}, "sops": {"gcp_kms": [{"resource_id": "projects/p/keys/k"}]}}"#;
        assert_eq!(named_keys(json).expect("metadata")[0].source, KeySource::GcpKms);
        assert_eq!(named_keys("apiVersion: v1\nkind: Secret\n"), None);
    }
}
