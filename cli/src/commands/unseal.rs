//! `ageseal unseal`: recovery. Opens every value (binding checked) and prints plain Secrets.

use std::path::Path;
use std::process::ExitCode;

use ageseal_core::sealed_file::{open_sealed_secret, plain_secret};
use k8s_openapi::api::core::v1::Secret;
use zeroize::Zeroizing;

use super::{label, load_sealed_file, open_hint};
use crate::args::{Format, UnsealArgs};
use crate::failure::{Exit, Failure};

pub fn run(args: UnsealArgs) -> Result<ExitCode, Failure> {
    let path = args.file.clone().unwrap_or_else(|| "-".into());
    if path.as_os_str() == "-" && args.identities.files.iter().any(|f| f.as_os_str() == "-") {
        return Err(Failure::new(
            Exit::Usage,
            "stdin cannot be both the identity (-i -) and the SealedSecret file",
            "give the SealedSecret file with -f FILE, or the identity as a file",
        ));
    }
    let keyring = args.identities.keyring_for(&path)?;
    let file = load_sealed_file(&path)?;
    let name = display(&path);
    let mut secrets = Vec::new();
    for sealed in file.sealed() {
        let opened = open_sealed_secret(sealed, &keyring).map_err(|e| {
            Failure::new(
                Exit::Open,
                format!("{name}: {}: {e}", label(sealed)),
                open_hint(e.source.code()),
            )
        })?;
        secrets.push(plain_secret(sealed, &opened));
    }
    if secrets.is_empty() {
        return Err(Failure::input(
            format!("{name} holds no SealedSecret"),
            "pass a file written by ageseal seal",
        ));
    }
    // Everything opened: only now print, so a failure never leaves half the Secrets on screen.
    if let Some(key) = &args.key {
        return print_one_value(&mut secrets, key, &name);
    }
    let text = render(&secrets, args.format);
    for secret in &mut secrets {
        ageseal_core::sealed_file::wipe(secret);
    }
    crate::note!(
        "warning: the output below holds the Secret values unencrypted; do not commit it or leave it on disk"
    );
    crate::output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The Secrets as YAML documents, or JSON (one object, or a `List` of several).
fn render(secrets: &[Secret], format: Format) -> Zeroizing<String> {
    let text = match (format, secrets) {
        (Format::Yaml, _) => secrets
            .iter()
            .map(|s| serde_yaml::to_string(s).expect("Secret serializes"))
            .collect::<Vec<_>>()
            .join("---\n"),
        (Format::Json, [one]) => serde_json::to_string_pretty(one).expect("Secret serializes") + "\n",
        (Format::Json, many) => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": many});
            serde_json::to_string_pretty(&list).expect("Secret serializes") + "\n"
        }
    };
    Zeroizing::new(text)
}

/// `--key K`: the raw value of one key of the file's one Secret, nothing added.
fn print_one_value(secrets: &mut [Secret], key: &str, name: &str) -> Result<ExitCode, Failure> {
    let [secret] = secrets else {
        return Err(Failure::input(
            format!(
                "{name} holds {} SealedSecrets; --key needs exactly one",
                secrets.len()
            ),
            "unseal the whole file, or split it",
        ));
    };
    let data = secret.data.clone().unwrap_or_default();
    ageseal_core::sealed_file::wipe(secret);
    let result = match data.get(key) {
        Some(value) => crate::output::print_bytes(&value.0).map(|()| ExitCode::SUCCESS),
        None => Err(Failure::input(
            format!("{name} has no key {key}"),
            format!(
                "its keys are: {}",
                data.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )),
    };
    let mut data = Secret {
        data: Some(data),
        ..Secret::default()
    };
    ageseal_core::sealed_file::wipe(&mut data);
    result
}

fn display(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    }
}
