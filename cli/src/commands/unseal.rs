//! `ageseal unseal`: recovery. Opens every value (binding checked) and prints plain Secrets.

use std::path::Path;
use std::process::ExitCode;

use ageseal_core::sealed_file::{open_sealed_secret, plain_secret};
use zeroize::Zeroizing;

use super::{label, load_sealed_file, open_hint};
use crate::args::UnsealArgs;
use crate::failure::{Exit, Failure};

pub fn run(args: UnsealArgs) -> Result<ExitCode, Failure> {
    let keyring = args.identities.keyring()?;
    let path = args.file.clone().unwrap_or_else(|| "-".into());
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
    let docs: Vec<Zeroizing<String>> = secrets
        .iter_mut()
        .map(|s| {
            let text = Zeroizing::new(serde_yaml::to_string(s).expect("Secret serializes"));
            ageseal_core::sealed_file::wipe(s);
            text
        })
        .collect();
    eprintln!(
        "warning: the output below holds the Secret values unencrypted; do not commit it or leave it on disk"
    );
    for (i, doc) in docs.iter().enumerate() {
        print!("{}{}", if i > 0 { "---\n" } else { "" }, doc.as_str());
    }
    Ok(ExitCode::SUCCESS)
}

fn display(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    }
}
