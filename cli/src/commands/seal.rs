//! `ageseal seal`: Secrets in, SealedSecrets out (or one raw value), and `--merge-into`.

use std::path::Path;
use std::process::ExitCode;

use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::{SCOPE_ANNOTATION, SealedSecret};
use ageseal_core::manifest::{PlainSecret, SealOptions, SealSecretError, parse_secrets, seal_secret};
use ageseal_core::{Binding, Location, Recipient, Scope, seal_base64};

use ageseal_core::manifest_file::ManifestFile;

use super::{hint_ids, label, load_sealed_file};
use crate::args::{Format, SealArgs};
use crate::failure::Failure;
use crate::files::{read_bytes, read_text, resolve_recipients, write_atomic};

/// Sealed manifests hold no secret in the clear: readable by all, like the rest of the repo.
const MANIFEST_MODE: u32 = 0o644;

pub fn run(args: SealArgs) -> Result<ExitCode, Failure> {
    if args.raw {
        return seal_raw(&args);
    }
    let text = read_text(args.file.as_deref())?;
    let secrets = parse_secrets(&text).map_err(|e| Failure::input(e.to_string(), e.hint()))?;
    if secrets.len() > 1 && args.name.is_some() {
        return Err(Failure::input(
            format!("--name cannot name {} Secrets at once", secrets.len()),
            "drop --name and give each Secret its metadata.name",
        ));
    }
    if let Some(target) = &args.merge_into {
        return merge_into(&args, target, &secrets);
    }
    if let Some(output) = args.output.as_deref().filter(|_| !args.force) {
        refuse_replacing_sealed(output)?;
    }
    let target = args.output.as_deref().or(args.path.as_deref());
    let recipients = resolve_recipients(target, &args.recipients, &args.regions)?;
    let options = options(&args, args.scope.map_or(Scope::Strict, Scope::from));
    let sealed = secrets
        .iter()
        .map(|secret| seal_one(secret, &options, &recipients))
        .collect::<Result<Vec<_>, _>>()?;
    warn_if_too_large_for_client_side_apply(&sealed);
    warn_if_type_needs_allowing(&secrets);
    let out = render(&sealed, args.format);
    match &args.output {
        Some(path) => write_atomic(path, out.as_bytes(), MANIFEST_MODE)?,
        None => crate::output::print(&out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `-o FILE` onto a file that holds SealedSecrets would drop every key it holds that the input
/// lacks: refused, pointing at `--merge-into` and `--force`.
fn refuse_replacing_sealed(output: &Path) -> Result<(), Failure> {
    let Ok(text) = std::fs::read_to_string(output) else {
        return Ok(());
    };
    let held: Vec<String> = ManifestFile::parse(&text)
        .map(|file| file.sealed().into_iter().map(label).collect())
        .unwrap_or_default();
    if held.is_empty() {
        return Ok(());
    }
    Err(Failure::input(
        format!(
            "{} already holds {}; writing it would replace every key it holds",
            output.display(),
            held.join(", ")
        ),
        format!(
            "add or change keys with --merge-into {0}, or replace the whole file with -o {0} --force",
            output.display()
        ),
    ))
}

/// Client-side `kubectl apply` keeps a copy of the object in its last-applied-configuration
/// annotation, and annotations are limited to 256 KiB: a larger SealedSecret is refused there.
const CLIENT_SIDE_APPLY_LIMIT: usize = 256 * 1024;

/// Warns about each SealedSecret too large for client-side `kubectl apply`.
fn warn_if_too_large_for_client_side_apply<'a>(sealed: impl IntoIterator<Item = &'a SealedSecret>) {
    for object in sealed {
        let size: usize = object
            .spec
            .encrypted_data
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if size > CLIENT_SIDE_APPLY_LIMIT {
            crate::note!(
                "warning: {} holds {} KiB of sealed values; client-side `kubectl apply` refuses it (its last-applied-configuration annotation would exceed 256 KiB): apply it with `kubectl apply --server-side`, as GitOps tools can (Argo CD: ServerSideApply=true)",
                label(object),
                size / 1024
            );
        }
    }
}

/// A Secret type the controller does not produce unless its operator allows it: sealed all the
/// same (the operator may have), with a warning, so the surprise is not in the cluster.
fn warn_if_type_needs_allowing(secrets: &[PlainSecret]) {
    use ageseal_core::crd::DEFAULT_SECRET_TYPES;
    for secret in secrets {
        if let Some(kind) = secret
            .type_
            .as_deref()
            .filter(|t| !DEFAULT_SECRET_TYPES.contains(t))
        {
            crate::note!(
                "warning: {}: type {kind} is not produced by ageseal-controller unless its operator runs it with --allow-secret-type {kind} (default types: {})",
                secret.name.as_deref().unwrap_or("the Secret"),
                DEFAULT_SECRET_TYPES.join(", ")
            );
        }
    }
}

fn options(args: &SealArgs, scope: Scope) -> SealOptions {
    SealOptions {
        scope,
        name: args.name.clone(),
        namespace: args.namespace.clone(),
        allow_empty: args.allow_empty,
    }
}

fn seal_one(
    secret: &PlainSecret,
    options: &SealOptions,
    recipients: &[NamedRecipient],
) -> Result<SealedSecret, Failure> {
    seal_secret(secret, options, recipients).map_err(|e| Failure::input(e.to_string(), e.hint()))
}

/// YAML documents, or JSON: one object, or a `List` of several.
pub fn render(sealed: &[SealedSecret], format: Format) -> String {
    match format {
        Format::Yaml => {
            let docs: Vec<String> = sealed
                .iter()
                .map(|s| serde_yaml::to_string(s).expect("SealedSecret serializes"))
                .collect();
            docs.join("---\n")
        }
        Format::Json => {
            let value = match sealed {
                [one] => serde_json::to_value(one),
                many => serde_json::to_value(serde_json::json!({
                    "apiVersion": "v1",
                    "kind": "List",
                    "items": many,
                })),
            };
            let mut text = serde_json::to_string_pretty(&value.expect("serializes")).expect("serializes");
            text.push('\n');
            text
        }
    }
}

fn merge_into(args: &SealArgs, target: &Path, secrets: &[PlainSecret]) -> Result<ExitCode, Failure> {
    let [secret] = secrets else {
        return Err(Failure::input(
            format!("--merge-into takes one Secret, the input holds {}", secrets.len()),
            "merge one Secret at a time",
        ));
    };
    let mut file = load_sealed_file(target)?;
    let count = file.sealed().len();
    let existing = match file.sealed()[..] {
        [existing] => existing.clone(),
        _ => {
            return Err(Failure::input(
                format!(
                    "{} holds {count} SealedSecrets; --merge-into needs exactly one",
                    target.display()
                ),
                "split the file, or seal into a new file with -o",
            ));
        }
    };
    // The scope never comes from the file: its annotation is not authenticated.
    let scope = args.scope.map_or(Scope::Strict, Scope::from);
    check_same_scope(&existing, scope, target)?;
    let options = SealOptions {
        scope,
        name: existing.metadata.name.clone(),
        namespace: existing.metadata.namespace.clone(),
        allow_empty: false,
    };
    let recipients = resolve_recipients(Some(target), &args.recipients, &args.regions)?;
    let fresh = seal_secret(secret, &options, &recipients).map_err(|e| match e {
        SealSecretError::Conflict {
            field,
            in_manifest,
            on_command_line,
            ..
        } => Failure::input(
            format!(
                "the input Secret's {field} is {in_manifest:?} but {} holds {on_command_line:?}",
                target.display()
            ),
            "merge a Secret with the same name and namespace, or seal it into its own file with -o",
        ),
        other => Failure::input(other.to_string(), other.hint()),
    })?;
    if hint_ids(&fresh) != hint_ids(&existing) {
        return Err(Failure::input(
            format!(
                "{} is sealed to other recipients than .ageseal.yaml now names",
                target.display()
            ),
            format!(
                "run `ageseal rekey {} -i IDENTITY` first, then merge",
                target.display()
            ),
        ));
    }
    let mut fresh_data = Some(fresh.spec.encrypted_data);
    file.edit(|sealed| {
        if let Some(data) = fresh_data.take() {
            sealed.spec.encrypted_data.extend(data);
        }
        Ok::<bool, Failure>(true)
    })?;
    warn_if_too_large_for_client_side_apply(file.sealed());
    let text = file
        .to_text()
        .map_err(|e| Failure::input(format!("{}: {e}", target.display()), "fix the file by hand"))?;
    write_atomic(target, text.as_bytes(), MANIFEST_MODE)?;
    Ok(ExitCode::SUCCESS)
}

/// New values are sealed with `--scope` (default strict); a file whose values say another scope
/// is refused, so merging never widens or mixes scopes behind the user's back.
fn check_same_scope(existing: &SealedSecret, scope: Scope, target: &Path) -> Result<(), Failure> {
    let annotation = existing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SCOPE_ANNOTATION));
    match annotation.map(|a| a.parse::<Scope>()) {
        Some(Ok(existing)) if existing == scope => Ok(()),
        Some(Ok(existing)) => Err(Failure::input(
            format!(
                "{} holds values sealed {existing} (its {SCOPE_ANNOTATION} annotation), but this merge would seal {scope}",
                target.display()
            ),
            format!(
                "pass --scope {existing} if that is the file's scope (ageseal verify -i shows the sealed scope), or seal into a new file with -o"
            ),
        )),
        _ => Err(Failure::input(
            format!(
                "{} has no valid {SCOPE_ANNOTATION} annotation, so the scope of its values is unknown",
                target.display()
            ),
            "check the sealed scope with ageseal verify -i IDENTITY, restore the annotation, and pass that --scope",
        )),
    }
}

fn seal_raw(args: &SealArgs) -> Result<ExitCode, Failure> {
    let scope = args.scope.map_or(Scope::Strict, Scope::from);
    let key = args.key.clone().unwrap_or_default();
    let need = |flag: &str, value: &Option<String>, needed: bool| match value {
        None if needed => Err(Failure::input(
            format!("--raw with {scope} scope needs --{flag}"),
            format!("pass --{flag}, or choose a wider --scope"),
        )),
        other => Ok(other.clone().unwrap_or_default()),
    };
    let namespace = need("namespace", &args.namespace, scope != Scope::ClusterWide)?;
    let name = need("name", &args.name, scope == Scope::Strict)?;
    let binding = Binding::new(scope, &Location::new(namespace, name, key))
        .map_err(|e| Failure::input(e.to_string(), "use names Kubernetes accepts"))?;
    let recipients = resolve_recipients(args.path.as_deref(), &args.recipients, &args.regions)?;
    let keys: Vec<Recipient> = recipients.into_iter().map(|r| r.recipient).collect();
    let value = read_bytes(args.from_file.as_deref())?;
    // Sealed as given, byte for byte; but `echo "$TOKEN" | ageseal seal --raw` adds a newline
    // nobody meant to keep, and the application reads it as part of the token.
    if value.ends_with(b"\n") {
        crate::note!(
            "warning: the value ends with a newline, which is sealed with it; if it should not be, use printf %s \"$VALUE\" (or echo -n) instead of echo"
        );
    }
    let sealed = seal_base64(&value, &binding, &keys).map_err(|e| Failure::input(e.to_string(), e.hint()))?;
    crate::output::print(&format!("{sealed}\n"))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_output_is_one_object_or_a_list() {
        let sealed = SealedSecret::new("a", ageseal_core::crd::SealedSecretSpec::default());
        let one: serde_json::Value =
            serde_json::from_str(&render(std::slice::from_ref(&sealed), Format::Json)).expect("json");
        assert_eq!(one["kind"], "SealedSecret");
        let two: serde_json::Value =
            serde_json::from_str(&render(&[sealed.clone(), sealed], Format::Json)).expect("json");
        assert_eq!(two["kind"], "List");
        assert_eq!(two["items"].as_array().map(Vec::len), Some(2));
    }
}
