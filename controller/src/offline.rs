//! Offline commands: `render` (the Secrets reconcile would apply, no cluster) and `crd`.

use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest_file::ManifestFile;
use ageseal_core::{Keyring, parse_identity_file};
use kube::CustomResourceExt;

use crate::secret::{Policy, desired_secret};

/// Exit code of `render` for bad input (manifest, identity file).
pub const EXIT_INPUT: u8 = 3;
/// Exit code of `render` when a value could not be opened.
pub const EXIT_OPEN: u8 = 4;
/// Exit code of `render` when a file could not be read.
pub const EXIT_IO: u8 = 5;

/// A failure with its remedy and exit code; never holds secret bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineError {
    /// What happened.
    pub message: String,
    /// What to do.
    pub hint: String,
    /// The documented exit code.
    pub code: u8,
}

fn fail(message: impl Into<String>, hint: impl Into<String>) -> OfflineError {
    OfflineError {
        message: message.into(),
        hint: hint.into(),
        code: EXIT_INPUT,
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
        let mut desired = desired_secret(sealed, &keyring, &Policy::default()).map_err(|e| OfflineError {
            message: format!("{source}: {} ({})", e.message, e.reason),
            hint: e.hint.to_owned(),
            code: EXIT_OPEN,
        })?;
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
