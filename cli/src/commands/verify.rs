//! `ageseal verify`: CI lint over files and folders; one line per problem, exit 1 on any.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::{SCOPE_ANNOTATION, SealedSecret};
use ageseal_core::sealed_file::{Document, open_sealed_secret, parse_documents};
use ageseal_core::{Keyring, RecipientId, Scope, decode_base64, inspect};

use super::{hint_ids, label};
use crate::args::VerifyArgs;
use crate::failure::Failure;
use crate::files::{ConfigFinder, load_keyring, manifest_files};

pub fn run(args: VerifyArgs) -> Result<ExitCode, Failure> {
    let keyring = if args.identities.is_empty() {
        None
    } else {
        Some(load_keyring(&args.identities)?)
    };
    let files = manifest_files(&args.paths)?;
    let mut finder = ConfigFinder::default();
    let mut out = std::io::stdout().lock();
    let (mut checked, mut problems) = (0usize, 0usize);
    let mut report = |file: &Path, what: &str, problem: &str| {
        problems += 1;
        let _ = writeln!(out, "{}: {what}: {problem}", file.display());
    };
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            report(file, "file", "cannot be read as UTF-8 text");
            continue;
        };
        if !text.contains("ageseal.io/") {
            continue;
        }
        let documents = match parse_documents(&text) {
            Ok(documents) => documents,
            Err(e) => {
                report(file, "file", &e.to_string());
                continue;
            }
        };
        let expected = match finder.for_file(file) {
            Ok(found) => found.map(|f| f.recipients_for(Some(file), &[]).map_err(|e| e.message)),
            Err(e) => Some(Err(e.message)),
        };
        for document in &documents {
            let Document::Sealed(sealed) = document else {
                continue;
            };
            checked += 1;
            for problem in check(sealed, expected.as_ref(), keyring.as_ref()) {
                report(file, &label(sealed), &problem);
            }
        }
    }
    let summary = format!(
        "checked {checked} SealedSecrets in {} files: {problems} problem(s)",
        files.len()
    );
    if problems > 0 {
        eprintln!("{summary}");
        eprintln!(
            "hint: fix each line above; `ageseal rekey PATH -i IDENTITY` re-seals files to the current recipients"
        );
        return Ok(ExitCode::from(crate::Exit::Problems as u8));
    }
    eprintln!("{summary}");
    Ok(ExitCode::SUCCESS)
}

/// Every problem with one SealedSecret, as lines.
fn check(
    sealed: &SealedSecret,
    expected: Option<&Result<Vec<NamedRecipient>, String>>,
    keyring: Option<&Keyring>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if sealed.metadata.name.is_none() {
        problems.push("metadata.name is missing".to_owned());
    }
    let annotation = sealed
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SCOPE_ANNOTATION));
    let scope = match annotation.map(|s| s.parse::<Scope>()) {
        Some(Ok(scope)) => Some(scope),
        Some(Err(_)) => {
            problems.push(format!(
                "{SCOPE_ANNOTATION} is not strict, namespace-wide or cluster-wide"
            ));
            None
        }
        None => {
            problems.push(format!("{SCOPE_ANNOTATION} annotation is missing"));
            None
        }
    };
    if sealed.metadata.namespace.is_none() && scope != Some(Scope::ClusterWide) {
        problems.push("metadata.namespace is missing, but the values are bound to a namespace".to_owned());
    }
    let hint = hint_ids(sealed);
    for id in hint.iter().filter(|id| id.parse::<RecipientId>().is_err()) {
        problems.push(format!(
            "spec.recipients id {id:?} is not a recipient fingerprint"
        ));
    }
    for (key, text) in &sealed.spec.encrypted_data {
        let summary = decode_base64(text).and_then(|bytes| inspect(&bytes));
        match summary {
            Err(e) => problems.push(format!("key {key}: {e}")),
            Ok(summary) => {
                let x25519 = summary.stanza_tags.iter().filter(|t| *t == "X25519").count();
                if x25519 != hint.len() {
                    problems.push(format!(
                        "key {key}: sealed to {x25519} recipients but spec.recipients lists {}",
                        hint.len()
                    ));
                }
            }
        }
    }
    match expected {
        Some(Ok(expected)) => {
            let want: Vec<String> = expected.iter().map(|r| r.recipient.id().to_string()).collect();
            if want != hint {
                let names = |list: Vec<&str>| list.join(", ");
                let have = names(sealed.spec.recipients.iter().map(|r| r.name.as_str()).collect());
                let wanted = names(expected.iter().map(|r| r.name.as_str()).collect());
                problems.push(format!(
                    "sealed to [{have}] but .ageseal.yaml wants [{wanted}]: run ageseal rekey"
                ));
            }
        }
        Some(Err(message)) => problems.push(message.clone()),
        None => {}
    }
    if let Some(keyring) = keyring {
        match open_sealed_secret(sealed, keyring) {
            Err(e) => problems.push(e.to_string()),
            Ok(opened) => {
                for (key, value) in &opened.values {
                    let sealed_scope = value.binding.scope();
                    if scope.is_some_and(|s| s != sealed_scope) {
                        problems.push(format!(
                            "key {key}: {SCOPE_ANNOTATION} says {} but the value is sealed {sealed_scope}",
                            scope.map_or("", Scope::as_str)
                        ));
                    }
                }
            }
        }
    }
    problems
}
