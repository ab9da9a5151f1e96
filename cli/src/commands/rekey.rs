//! `ageseal rekey`: re-seals SealedSecrets whose recipients differ from `.ageseal.yaml` (or all of
//! them with `--all`), so a second run changes nothing. A file that cannot be opened is skipped
//! and listed at the end (exit 4); the others are rewritten, each atomically, in their own format.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest_file::ManifestFile;
use ageseal_core::sealed_file::open_sealed_secret;
use ageseal_core::{Keyring, Recipient, seal_base64};
use indicatif::{ProgressBar, ProgressStyle};

use super::{hint_ids, label, open_hint};
use crate::args::RekeyArgs;
use crate::failure::{Exit, Failure};
use crate::files::{ConfigFinder, load_keyring, manifest_files, recovery_keyring, write_atomic};

struct Rewrite {
    path: PathBuf,
    text: String,
    changed: Vec<String>,
}

/// A file left as it was, and why.
struct Skipped {
    path: PathBuf,
    why: String,
    hint: String,
}

pub fn run(args: RekeyArgs) -> Result<ExitCode, Failure> {
    // `-i` opens every file; else each file is opened with the recovery identities of the config
    // that governs it, loaded once per config and only when a file there needs rekeying.
    let given = if args.identities.files.is_empty() {
        None
    } else {
        Some(Rc::new(load_keyring(&args.identities.files)?))
    };
    let mut recovery: HashMap<PathBuf, Rc<Keyring>> = HashMap::new();
    let files = manifest_files(&args.paths)?;
    let progress = if std::io::stderr().is_terminal() {
        ProgressBar::new(files.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}").expect("valid template"),
        )
    } else {
        ProgressBar::hidden()
    };
    let mut finder = ConfigFinder::default();
    let (mut rewrites, mut skipped, mut current) = (Vec::new(), Vec::new(), 0usize);
    for path in files {
        progress.inc(1);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut parsed = match ManifestFile::parse(&text) {
            Ok(parsed) => parsed,
            Err(e) if text.to_ascii_lowercase().contains("ageseal") => {
                skipped.push(Skipped {
                    why: e.to_string(),
                    hint: "fix the YAML or JSON so it parses".into(),
                    path,
                });
                continue;
            }
            Err(_) => continue,
        };
        if parsed.sealed().is_empty() {
            continue;
        }
        let Some(found) = finder.for_file(&path)? else {
            skipped.push(Skipped {
                why: "no .ageseal.yaml governs it".into(),
                hint: "rekey seals to the config's recipients: create one with `ageseal region add`".into(),
                path,
            });
            continue;
        };
        let expected = found.recipients_for(Some(&path), &[])?;
        let want: Vec<String> = expected.iter().map(|r| r.recipient.id().to_string()).collect();
        let mut changed = Vec::new();
        let edited = parsed.edit(|sealed| {
            if !args.all && hint_ids(sealed) == want {
                current += 1;
                return Ok(false);
            }
            let keyring = match (&given, recovery.get(&found.dir)) {
                (Some(keyring), _) | (None, Some(keyring)) => keyring.clone(),
                (None, None) => {
                    let keyring = Rc::new(recovery_keyring(Some(&found), &path)?);
                    recovery.insert(found.dir.clone(), keyring.clone());
                    keyring
                }
            };
            reseal(sealed, &expected, &keyring)?;
            changed.push(label(sealed));
            Ok(true)
        });
        match edited.and_then(|_| parsed.to_text().map_err(|e| Failure::input(e.to_string(), ""))) {
            Ok(text) if !changed.is_empty() => rewrites.push(Rewrite { path, text, changed }),
            Ok(_) => {}
            Err(failure) => skipped.push(Skipped {
                path,
                why: failure.message,
                hint: failure.hint,
            }),
        }
    }
    progress.finish_and_clear();
    let count: usize = rewrites.iter().map(|r| r.changed.len()).sum();
    for rewrite in &rewrites {
        if args.dry_run {
            crate::output::print(&format!(
                "would rekey {}: {}\n",
                rewrite.path.display(),
                rewrite.changed.join(", ")
            ))?;
        } else {
            let mode = std::fs::metadata(&rewrite.path).map_or(0o644, |m| m.permissions().mode() & 0o777);
            write_atomic(&rewrite.path, rewrite.text.as_bytes(), mode)?;
        }
    }
    let verb = if args.dry_run { "would rekey" } else { "rekeyed" };
    crate::note!(
        "{verb} {count} SealedSecrets in {} files; {current} already current",
        rewrites.len()
    );
    if skipped.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for s in &skipped {
        crate::note!("{}: {} (hint: {})", s.path.display(), s.why, s.hint);
    }
    crate::note!("error: left {} file(s) unchanged, listed above", skipped.len());
    crate::note!("hint: each line says what to do; rekey again once they are fixed");
    Ok(ExitCode::from(Exit::Open as u8))
}

/// Opens every value (binding checked) and seals it again, same binding, to `recipients`.
fn reseal(
    sealed: &mut SealedSecret,
    recipients: &[NamedRecipient],
    keyring: &Keyring,
) -> Result<(), Failure> {
    let opened = open_sealed_secret(sealed, keyring).map_err(|e| {
        Failure::new(
            Exit::Open,
            format!("{}: {e}", label(sealed)),
            open_hint(e.source.code()),
        )
    })?;
    let keys: Vec<Recipient> = recipients.iter().map(|r| r.recipient.clone()).collect();
    for (key, value) in &opened.values {
        let text = seal_base64(&value.value, &value.binding, &keys)
            .map_err(|e| Failure::input(format!("{}: key {key}: {e}", label(sealed)), e.hint()))?;
        sealed.spec.encrypted_data.insert(key.clone(), text);
    }
    sealed.spec.recipients = recipients.iter().map(NamedRecipient::hint).collect();
    Ok(())
}
