//! `ageseal region add | set-key | list | remove` and `ageseal recovery add | remove`: edits of
//! `.ageseal.yaml` (created by the first `region add`) that keep its comments and layout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ageseal_core::Recipient;
use ageseal_core::config::CONFIG_FILE;
use ageseal_core::config_edit::{self, Edit};

use crate::args::{KeySource, RecoveryAction, RecoveryArgs, RegionAction, RegionArgs};
use crate::cluster::{Access, connect, runtime};
use crate::failure::Failure;
use crate::files::{ConfigFinder, FoundConfig, parse_recipient_arg, shown, write_atomic};

pub fn run(args: RegionArgs) -> Result<ExitCode, Failure> {
    let found = ConfigFinder::default().for_dir(Path::new("."))?;
    match args.action {
        RegionAction::Add { name, key } => {
            let recipient = resolve_key(&name, &key)?;
            let path = edit(
                found,
                &Edit::AddRegion {
                    name: &name,
                    recipient: &recipient,
                },
            )?;
            crate::note!(
                "added region {name} to {}; run `ageseal rekey` so existing files are sealed for it",
                shown(&path)
            );
        }
        RegionAction::SetKey { name, key } => {
            let recipient = resolve_key(&name, &key)?;
            let path = edit(
                Some(require(found)?),
                &Edit::SetRegionKey {
                    name: &name,
                    recipient: &recipient,
                },
            )?;
            crate::note!(
                "{name} now seals to its new key ({}); run `ageseal rekey` so existing files use it",
                shown(&path)
            );
        }
        RegionAction::List => {
            let found = require(found)?;
            let mut out = String::new();
            for region in &found.config.regions {
                let older = region.recipients.len() - 1;
                out.push_str(&format!(
                    "{}\t{}\t{older} older key(s)\n",
                    region.name, region.recipients[0]
                ));
            }
            for recovery in &found.config.recovery {
                out.push_str(&format!("{}\t{}\trecovery\n", recovery.name, recovery.recipient));
            }
            crate::output::print(&out)?;
        }
        RegionAction::Remove { name } => {
            edit(Some(require(found)?), &Edit::RemoveRegion { name: &name })?;
            crate::note!("removed region {name}; run `ageseal rekey` so files stop being sealed for it");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ageseal recovery add | remove`.
pub fn recovery(args: RecoveryArgs) -> Result<ExitCode, Failure> {
    let found = Some(require(ConfigFinder::default().for_dir(Path::new("."))?)?);
    match args.action {
        RecoveryAction::Add {
            name,
            recipient,
            identity,
        } => {
            let key = parse_recipient_arg("--recipient", &recipient)?;
            let edit_ = Edit::AddRecovery {
                name: &name,
                recipient: &key,
                identity: identity.as_deref(),
            };
            // Rekeying opens each file first: with a recovery identity the files are already
            // sealed to, never with the new one, which opens nothing yet.
            let opener = found.as_ref().and_then(|f| {
                f.config
                    .recovery
                    .iter()
                    .find(|r| r.name != name && r.identity.is_some())
                    .map(|r| r.name.clone())
            });
            edit(found, &edit_)?;
            match opener {
                Some(old) => crate::note!(
                    "added recovery key {name}; run `ageseal rekey` so existing files are sealed to it too (it opens them with recovery key {old}'s identity)"
                ),
                None => crate::note!(
                    "added recovery key {name}; run `ageseal rekey -i IDENTITY` so existing files are sealed to it too, where IDENTITY opens them today (a region's key, or the previous recovery identity): {name} opens nothing yet"
                ),
            }
        }
        RecoveryAction::Remove { name } => {
            edit(found, &Edit::RemoveRecovery { name: &name })?;
            crate::note!("removed recovery key {name}; run `ageseal rekey` so files stop being sealed to it");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies `edit` to the config found (or a new one here) and writes it; returns its path.
fn edit(found: Option<FoundConfig>, edit: &Edit<'_>) -> Result<PathBuf, Failure> {
    let path = found.map_or_else(|| PathBuf::from(CONFIG_FILE), |f| f.path());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Failure::io("read", &path, &e)),
    };
    let (edited, _) = config_edit::apply(&text, edit)
        .map_err(|e| Failure::input(format!("{}: {e}", path.display()), e.hint()))?;
    write_atomic(&path, edited.as_bytes(), 0o644)?;
    Ok(path)
}

fn require(found: Option<FoundConfig>) -> Result<FoundConfig, Failure> {
    found.ok_or_else(|| {
        Failure::input(
            format!("no {CONFIG_FILE} in this folder or any folder above it"),
            "create one with `ageseal region add NAME --recipient age1...`",
        )
    })
}

/// The key for region `name`: given, or the newest one its cluster publishes (warning when the
/// cluster says it is another region).
fn resolve_key(name: &str, key: &KeySource) -> Result<Recipient, Failure> {
    if let Some(text) = &key.recipient {
        return parse_recipient_arg("--recipient", text);
    }
    let context = key.from_cluster.as_deref().unwrap_or_default();
    let access = Access {
        kubeconfig: key.kubeconfig.clone(),
        timeout: key.request_timeout,
    };
    let (region, keys) = runtime()?.block_on(async {
        let cluster = connect(context, &access).await?;
        cluster.published(&key.controller_namespace).await
    })?;
    if region != name {
        crate::note!(
            "warning: the controller behind context {context} says it is region {region}, not {name}: check that this is the right context"
        );
    }
    keys.into_iter().next().ok_or_else(|| {
        Failure::input(
            format!("context {context}: the controller publishes no key yet"),
            "wait until the controller is ready (kubectl -n ageseal-system get pods)",
        )
    })
}
