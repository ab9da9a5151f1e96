//! Bitnami Sealed Secrets, read for `ageseal import --from sealed-secrets`: their controller's RSA
//! private keys and their sealed values. The format (their repository's docs/developer/crypto.md):
//! a 2-byte big-endian length, the 32-byte session key encrypted with RSA-OAEP (SHA-256, with the
//! scope as label: `namespace/name`, `namespace`, or empty for cluster-wide), then the value
//! encrypted with AES-256-GCM under the session key with an all-zero nonce.
//!
//! Nothing here prints a key or a value: errors name the file or object and what is wrong.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Oaep, RsaPrivateKey};
use zeroize::Zeroizing;

/// `apiVersion` of Bitnami SealedSecrets.
pub const API_VERSION: &str = "bitnami.com/v1alpha1";
/// Annotation of a namespace-wide Bitnami SealedSecret.
pub const NAMESPACE_WIDE: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// Annotation of a cluster-wide Bitnami SealedSecret.
pub const CLUSTER_WIDE: &str = "sealedsecrets.bitnami.com/cluster-wide";
/// Prefix of the annotations that steer the Bitnami controller (dropped on import).
pub const ANNOTATION_PREFIX: &str = "sealedsecrets.bitnami.com/";

/// A Sealed Secrets controller's private keys; `Debug` shows how many, never a key.
pub struct PrivateKeys(Vec<RsaPrivateKey>);

impl std::fmt::Debug for PrivateKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKeys({} keys)", self.0.len())
    }
}

impl PrivateKeys {
    /// Keys from the text of each file: PEM (PKCS#1 or PKCS#8, several blocks allowed,
    /// certificates skipped), or the key Secrets as YAML or JSON (`kubectl get secret -n
    /// kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`, a List included),
    /// whose `tls.key` holds the PEM.
    pub fn parse(files: &[(String, Zeroizing<String>)]) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (name, text) in files {
            let found = if text.contains("-----BEGIN") {
                pem_keys(text).map_err(|why| format!("{name}: {why}"))?
            } else {
                secret_keys(text).map_err(|why| format!("{name}: {why}"))?
            };
            if found.is_empty() {
                return Err(format!("{name} holds no RSA private key"));
            }
            keys.extend(found);
        }
        Ok(Self(keys))
    }
}

fn pem_keys(text: &str) -> Result<Vec<RsaPrivateKey>, String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let label_end = block[11..].find("-----").ok_or("a PEM header is not closed")? + 11;
        let label = &block[11..label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| format!("a PEM {label} block has no end"))?
            + end_marker.len();
        let pem = Zeroizing::new(block[..end].to_owned());
        match label {
            "RSA PRIVATE KEY" => keys.push(
                RsaPrivateKey::from_pkcs1_pem(&pem).map_err(|_| "an RSA PRIVATE KEY block does not parse")?,
            ),
            "PRIVATE KEY" => keys.push(
                RsaPrivateKey::from_pkcs8_pem(&pem)
                    .map_err(|_| "a PRIVATE KEY block is not an RSA key in PKCS#8")?,
            ),
            "CERTIFICATE" | "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
            other => return Err(format!("a PEM {other} block is not an RSA private key")),
        }
        rest = &block[end..];
    }
    Ok(keys)
}

fn secret_keys(text: &str) -> Result<Vec<RsaPrivateKey>, String> {
    let mut keys = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = <serde_yaml::Value as serde::Deserialize>::deserialize(document)
            .map_err(|_| "is neither PEM nor a key Secret in YAML or JSON")?;
        collect_secret_keys(&value, &mut keys)?;
    }
    Ok(keys)
}

fn collect_secret_keys(value: &serde_yaml::Value, keys: &mut Vec<RsaPrivateKey>) -> Result<(), String> {
    match value.get("kind").and_then(serde_yaml::Value::as_str) {
        Some("List" | "SecretList") => {
            for item in value
                .get("items")
                .and_then(serde_yaml::Value::as_sequence)
                .into_iter()
                .flatten()
            {
                collect_secret_keys(item, keys)?;
            }
            Ok(())
        }
        Some("Secret") => {
            let name = value["metadata"]["name"].as_str().unwrap_or("(unnamed)");
            let encoded = value["data"]["tls.key"]
                .as_str()
                .ok_or_else(|| format!("Secret {name} has no data.tls.key"))?;
            let pem = BASE64_STANDARD
                .decode(encoded.trim())
                .map(Zeroizing::new)
                .map_err(|_| format!("Secret {name}: data.tls.key is not base64"))?;
            let pem = std::str::from_utf8(&pem).map_err(|_| format!("Secret {name}: tls.key is not PEM"))?;
            keys.extend(pem_keys(pem).map_err(|why| format!("Secret {name}: {why}"))?);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Why a Bitnami value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not base64, or too short for the format.
    #[error("is not a Sealed Secrets value ({0})")]
    Malformed(&'static str),
    /// No key opens the session key under this scope's label.
    #[error(
        "opens with none of the given private keys under its scope (another controller's key, or a value moved from another name or namespace)"
    )]
    NoKey,
    /// The session key opened but the value failed authentication.
    #[error("failed authentication (altered or truncated)")]
    Damaged,
}

/// The OAEP label of a scope: `namespace/name`, `namespace`, or empty.
pub fn label(namespace: &str, name: &str, namespace_wide: bool, cluster_wide: bool) -> String {
    if cluster_wide {
        String::new()
    } else if namespace_wide {
        namespace.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

/// Opens one `encryptedData` value (base64 text) under `label`.
pub fn open(keys: &PrivateKeys, sealed: &str, label: &str) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let bytes = BASE64_STANDARD
        .decode(sealed.trim())
        .map_err(|_| OpenError::Malformed("not base64"))?;
    let (length, rest) = bytes
        .split_at_checked(2)
        .ok_or(OpenError::Malformed("too short"))?;
    let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
    let (wrapped, body) = rest
        .split_at_checked(length)
        .ok_or(OpenError::Malformed("truncated"))?;
    let session = keys
        .0
        .iter()
        .find_map(|key| {
            key.decrypt(Oaep::new_with_label::<sha2::Sha256, _>(label), wrapped)
                .ok()
                .map(Zeroizing::new)
        })
        .ok_or(OpenError::NoKey)?;
    if session.len() != 32 {
        return Err(OpenError::Malformed("the session key is not 32 bytes"));
    }
    let cipher = Aes256Gcm::new_from_slice(&session).map_err(|_| OpenError::Malformed("session key"))?;
    cipher
        .decrypt(Nonce::from_slice(&[0u8; 12]), body)
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Damaged)
}
