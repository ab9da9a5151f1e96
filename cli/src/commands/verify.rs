//! `ageseal verify`: CI lint over files and folders. One line per problem with the fix for that
//! problem; exit 1 on any problem, also when a path holds no SealedSecret at all; a broken
//! `.ageseal.yaml` is reported once (exit 3). Files holding a private key or a plain Secret with
//! data are problems too: they should never be committed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::{SCOPE_ANNOTATION, SealedSecret};
use ageseal_core::manifest_file::ManifestFile;
use ageseal_core::sealed_file::open_sealed_secret;
use ageseal_core::{Keyring, RecipientId, Scope, decode_base64, inspect};

use super::{hint_ids, label, open_hint};
use crate::args::VerifyArgs;
use crate::failure::{Exit, Failure};
use crate::files::{ConfigFinder, all_files, load_keyring, prefix_contains};

/// One problem: what is wrong and what fixes it.
struct Problem {
    what: String,
    fix: &'static str,
}

fn problem(what: impl Into<String>, fix: &'static str) -> Problem {
    Problem {
        what: what.into(),
        fix,
    }
}

pub fn run(args: VerifyArgs) -> Result<ExitCode, Failure> {
    let keyring = if args.identities.is_empty() {
        None
    } else {
        Some(load_keyring(&args.identities)?)
    };
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut finder = ConfigFinder::default();
    let (mut checked, mut problems, mut files_seen, mut sealed_files) = (0usize, 0usize, 0usize, 0usize);
    let mut closed = false;
    let mut report = |place: &str, p: Problem| {
        problems += 1;
        if !closed {
            closed = crate::output::print(&format!("{place}: {} (hint: {})\n", p.what, p.fix)).is_err();
        }
    };
    for root in &roots {
        let (mut in_root, mut bitnami) = (0, false);
        for file in all_files(root)? {
            files_seen += 1;
            let place = file.display().to_string();
            for p in scan_for_keys(&file) {
                report(&place, p);
            }
            if !is_manifest(&file) {
                continue;
            }
            let Some(parsed) = parse(&file, &mut report) else {
                continue;
            };
            for (doc, object) in parsed.others() {
                if let Some(p) = plain_secret_with_data(object) {
                    report(&format!("{place}: document {doc}"), p);
                }
                bitnami |= object.get("apiVersion").and_then(serde_yaml::Value::as_str)
                    == Some("bitnami.com/v1alpha1");
            }
            let sealed = parsed.sealed();
            if sealed.is_empty() {
                continue;
            }
            sealed_files += 1;
            // A config that cannot be used is a setup error, said once, not a problem per file.
            let expected = match finder.for_file(&file)? {
                Some(found) => Some(found.recipients_for(Some(&file), &[])?),
                None => None,
            };
            for object in sealed {
                checked += 1;
                in_root += 1;
                let place = format!("{place}: {}", label(object));
                for p in check(object, expected.as_deref(), keyring.as_ref()) {
                    report(&place, p);
                }
            }
        }
        if in_root == 0 {
            let fix = if bitnami {
                "it holds Bitnami SealedSecrets (bitnami.com/v1alpha1): convert them with ageseal import --from sealed-secrets --private-key FILE (docs/OPERATIONS.md, Migrating)"
            } else {
                "point verify at the folders or files that hold sealed manifests"
            };
            report(
                &root.display().to_string(),
                problem("holds no SealedSecret, so nothing was verified", fix),
            );
        }
    }
    crate::note!(
        "checked {checked} SealedSecrets in {sealed_files} files ({files_seen} files scanned for private keys): {problems} problem(s)"
    );
    if problems > 0 {
        return Ok(ExitCode::from(Exit::Problems as u8));
    }
    Ok(ExitCode::SUCCESS)
}

fn is_manifest(file: &Path) -> bool {
    file.extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json")
}

/// Parses a manifest file; a file that is not YAML is a problem only if it looks like ours.
fn parse(file: &Path, report: &mut impl FnMut(&str, Problem)) -> Option<ManifestFile> {
    let place = file.display().to_string();
    let Ok(text) = std::fs::read_to_string(file) else {
        let bytes = std::fs::read(file).unwrap_or_default();
        let why = ageseal_core::yaml::not_utf8(&bytes).unwrap_or("cannot be read as UTF-8 text");
        report(&place, problem(why, "save it as UTF-8"));
        return None;
    };
    match ManifestFile::parse(&text) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            if text.to_ascii_lowercase().contains("ageseal") || text.contains("SealedSecret") {
                report(
                    &place,
                    problem(e.to_string(), "fix the YAML or JSON so it parses"),
                );
            }
            None
        }
    }
}

/// A private key in any file under the paths (the first MiB of each is read).
fn scan_for_keys(file: &Path) -> Vec<Problem> {
    if prefix_contains(file, 1 << 20, b"age-secret-key-") {
        return vec![problem(
            "holds an age private key (AGE-SECRET-KEY-...)",
            "remove it from the repository and its history, make a new key (its values must be rotated), and keep keys out of Git or KMS-wrap them (ageseal keygen --kms-key)",
        )];
    }
    Vec::new()
}

/// A plain `kind: Secret` carrying values: committed plaintext.
fn plain_secret_with_data(object: &serde_yaml::Value) -> Option<Problem> {
    let is_secret = object.get("kind").and_then(serde_yaml::Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(serde_yaml::Value::as_str) == Some("v1");
    let has_values = ["data", "stringData"].iter().any(|field| {
        object
            .get(field)
            .and_then(serde_yaml::Value::as_mapping)
            .is_some_and(|m| !m.is_empty())
    });
    (is_secret && has_values).then(|| {
        problem(
            "a plain Secret with values: they are readable by anyone with the repository",
            "seal it (ageseal seal -f FILE -o SEALED) and delete the plain file; rotate the values, Git keeps them",
        )
    })
}

/// Every problem with one SealedSecret.
fn check(
    sealed: &SealedSecret,
    expected: Option<&[NamedRecipient]>,
    keyring: Option<&Keyring>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    if sealed.metadata.name.is_none() {
        problems.push(problem(
            "metadata.name is missing",
            "give it the name it was sealed for",
        ));
    }
    let annotation = sealed
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SCOPE_ANNOTATION));
    let scope = match annotation.map(|s| s.parse::<Scope>()) {
        Some(Ok(scope)) => Some(scope),
        Some(Err(_)) | None => {
            problems.push(problem(
                format!("the {SCOPE_ANNOTATION} annotation is missing or not strict, namespace-wide or cluster-wide"),
                "restore it as ageseal seal wrote it (verify -i shows the sealed scope)",
            ));
            None
        }
    };
    if sealed.metadata.namespace.is_none() && scope != Some(Scope::ClusterWide) {
        problems.push(problem(
            "metadata.namespace is missing, but the values are bound to a namespace",
            "give it the namespace it was sealed for",
        ));
    }
    let hint = hint_ids(sealed);
    let pq_regions: Vec<&str> = expected
        .unwrap_or_default()
        .iter()
        .filter(|r| r.pq_required)
        .map(|r| r.name.as_str())
        .collect();
    if hint.iter().any(|id| id.parse::<RecipientId>().is_err()) {
        problems.push(problem(
            "spec.recipients holds an id that is not a recipient fingerprint",
            "restore spec.recipients from Git, or re-seal with ageseal rekey --all -i IDENTITY",
        ));
    }
    for (key, text) in &sealed.spec.encrypted_data {
        match decode_base64(text).and_then(|bytes| inspect(&bytes)) {
            Err(e) => problems.push(problem(
                format!("key {key}: {e}"),
                "seal the value again: ageseal seal --merge-into FILE",
            )),
            Ok(summary) if summary.key_stanzas() != hint.len() => problems.push(problem(
                format!(
                    "key {key}: sealed to {} recipients but spec.recipients lists {}",
                    summary.key_stanzas(),
                    hint.len()
                ),
                "re-seal the file so the list is true: ageseal rekey --all FILE -i IDENTITY",
            )),
            Ok(summary) if !pq_regions.is_empty() && summary.hybrid_stanzas() < summary.key_stanzas() => {
                problems.push(problem(
                    format!(
                        "key {key}: sealed with X25519 stanzas, but {} requires hybrid post-quantum recipients (pq: required)",
                        pq_regions.join(", ")
                    ),
                    "re-seal to the regions' hybrid keys: ageseal rekey FILE -i IDENTITY (docs/OPERATIONS.md, post-quantum)",
                ));
            }
            Ok(_) => {}
        }
    }
    if let Some(expected) = expected {
        let want: Vec<String> = expected.iter().map(|r| r.recipient.id().to_string()).collect();
        if want != hint {
            let names = |list: Vec<&str>| list.join(", ");
            let have = names(sealed.spec.recipients.iter().map(|r| r.name.as_str()).collect());
            let wanted = names(expected.iter().map(|r| r.name.as_str()).collect());
            problems.push(problem(
                format!("sealed to [{have}] but .ageseal.yaml wants [{wanted}]"),
                "re-seal to the current recipients: ageseal rekey FILE -i IDENTITY",
            ));
        }
    }
    if let Some(keyring) = keyring {
        match open_sealed_secret(sealed, keyring) {
            Err(e) => problems.push(problem(e.to_string(), open_hint(e.source.code()))),
            Ok(opened) => {
                for (key, value) in &opened.values {
                    let sealed_scope = value.binding.scope();
                    if scope.is_some_and(|s| s != sealed_scope) {
                        problems.push(problem(
                            format!("key {key}: {SCOPE_ANNOTATION} says {} but the value is sealed {sealed_scope}", scope.map_or("", Scope::as_str)),
                            "set the annotation to the sealed scope; an annotation never changes where a value may be used",
                        ));
                    }
                }
            }
        }
    }
    problems
}
