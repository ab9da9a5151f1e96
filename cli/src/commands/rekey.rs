//! `ageseal rekey`: re-seals SealedSecrets whose recipients differ from `.ageseal.yaml`, and only
//! those, so a second run changes nothing. Everything is computed before anything is written.

use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::SealedSecret;
use ageseal_core::sealed_file::{Document, open_sealed_secret, parse_documents, to_yaml};
use ageseal_core::{Keyring, Recipient, seal_base64};
use indicatif::{ProgressBar, ProgressStyle};

use super::{hint_ids, label};
use crate::args::RekeyArgs;
use crate::failure::{Exit, Failure};
use crate::files::{ConfigFinder, manifest_files, write_atomic};

struct Rewrite {
    path: PathBuf,
    text: String,
    changed: Vec<String>,
}

pub fn run(args: RekeyArgs) -> Result<ExitCode, Failure> {
    let keyring = args.identities.keyring()?;
    let files = manifest_files(&args.paths)?;
    let progress = if std::io::stderr().is_terminal() {
        ProgressBar::new(files.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}").expect("valid template"),
        )
    } else {
        ProgressBar::hidden()
    };
    let mut finder = ConfigFinder::default();
    let (mut rewrites, mut current) = (Vec::new(), 0usize);
    for path in files {
        progress.inc(1);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !text.contains("ageseal.io/") {
            continue;
        }
        let mut documents = parse_documents(&text).map_err(|e| {
            Failure::input(
                format!("{}: {e}", path.display()),
                "fix or move the file, then run rekey again",
            )
        })?;
        if !documents.iter().any(|d| matches!(d, Document::Sealed(_))) {
            continue;
        }
        let found = finder.for_file(&path)?.ok_or_else(|| {
            Failure::input(
                format!("no .ageseal.yaml governs {}", path.display()),
                "rekey seals to the config's recipients: create one with `ageseal region add`",
            )
        })?;
        let expected = found.recipients_for(Some(&path), &[])?;
        let want: Vec<String> = expected.iter().map(|r| r.recipient.id().to_string()).collect();
        let mut changed = Vec::new();
        for document in &mut documents {
            let Document::Sealed(sealed) = document else {
                continue;
            };
            if hint_ids(sealed) == want {
                current += 1;
                continue;
            }
            reseal(sealed, &expected, &keyring).map_err(|f| Failure {
                message: format!("{}: {}", path.display(), f.message),
                ..f
            })?;
            changed.push(label(sealed));
        }
        if !changed.is_empty() {
            rewrites.push(Rewrite {
                path,
                text: to_yaml(&documents),
                changed,
            });
        }
    }
    progress.finish_and_clear();
    let count: usize = rewrites.iter().map(|r| r.changed.len()).sum();
    for rewrite in &rewrites {
        if args.dry_run {
            println!(
                "would rekey {}: {}",
                rewrite.path.display(),
                rewrite.changed.join(", ")
            );
        } else {
            let mode = std::fs::metadata(&rewrite.path).map_or(0o644, |m| m.permissions().mode() & 0o777);
            write_atomic(&rewrite.path, rewrite.text.as_bytes(), mode)?;
        }
    }
    let verb = if args.dry_run { "would rekey" } else { "rekeyed" };
    eprintln!(
        "{verb} {count} SealedSecrets in {} files; {current} already current",
        rewrites.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Opens every value (binding checked) and seals it again, same binding, to `recipients`.
fn reseal(
    sealed: &mut SealedSecret,
    recipients: &[NamedRecipient],
    keyring: &Keyring,
) -> Result<(), Failure> {
    let opened = open_sealed_secret(sealed, keyring)
        .map_err(|e| Failure::new(Exit::Open, format!("{}: {e}", label(sealed)), e.source.hint()))?;
    let keys: Vec<Recipient> = recipients.iter().map(|r| r.recipient.clone()).collect();
    for (key, value) in &opened.values {
        let text = seal_base64(&value.value, &value.binding, &keys)
            .map_err(|e| Failure::input(format!("{}: key {key}: {e}", label(sealed)), e.hint()))?;
        sealed.spec.encrypted_data.insert(key.clone(), text);
    }
    sealed.spec.recipients = recipients.iter().map(NamedRecipient::hint).collect();
    Ok(())
}
