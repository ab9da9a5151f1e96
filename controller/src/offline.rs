//! Offline commands: `render` (the Secrets reconcile would apply, no cluster) and `crd`.

use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest_file::ManifestFile;
use ageseal_core::{Keyring, parse_identity_file};
use kube::CustomResourceExt;

use crate::secret::{Policy, desired_secret};

/// A failure with its remedy; never holds secret bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineError {
    /// What happened.
    pub message: String,
    /// What to do.
    pub hint: String,
}

fn fail(message: impl Into<String>, hint: impl Into<String>) -> OfflineError {
    OfflineError {
        message: message.into(),
        hint: hint.into(),
    }
}

/// The CRD as YAML.
pub fn crd_yaml() -> String {
    serde_yaml::to_string(&SealedSecret::crd()).expect("CRD serializes")
}

/// Renders every SealedSecret in `manifests` (named `source` in messages) with the identities
/// (`(name, file text)` pairs) through [`desired_secret`]: all of them, or an error.
pub fn render(
    source: &str,
    manifests: &str,
    identities: &[(String, String)],
) -> Result<String, OfflineError> {
    let mut keyring = Keyring::default();
    for (name, text) in identities {
        let parsed = parse_identity_file(text).map_err(|e| {
            fail(
                format!("{name}: {e}"),
                "pass an identity file written by ageseal keygen",
            )
        })?;
        keyring.extend(parsed);
    }
    let file = ManifestFile::parse(manifests)
        .map_err(|e| fail(format!("{source}: {e}"), "pass a file of SealedSecrets"))?;
    let mut out = Vec::new();
    for sealed in file.sealed() {
        let mut desired = desired_secret(sealed, &keyring, &Policy::default())
            .map_err(|e| fail(format!("{source}: {} ({})", e.message, e.reason), e.hint))?;
        out.push(serde_yaml::to_string(&desired.secret).expect("Secret serializes"));
        ageseal_core::sealed_file::wipe(&mut desired.secret);
    }
    if out.is_empty() {
        return Err(fail(
            format!("{source} holds no SealedSecret"),
            "pass a file written by ageseal seal",
        ));
    }
    Ok(out.join("---\n"))
}
