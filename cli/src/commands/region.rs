//! `ageseal region add | list | remove`: edits `.ageseal.yaml` (created by the first `add`).

use std::path::Path;
use std::process::ExitCode;

use ageseal_core::Recipient;
use ageseal_core::config::{CONFIG_FILE, RepoConfig};

use crate::args::{RegionAction, RegionArgs};
use crate::failure::Failure;
use crate::files::{ConfigFinder, FoundConfig, write_atomic};

pub fn run(args: RegionArgs) -> Result<ExitCode, Failure> {
    let found = ConfigFinder::default().for_dir(Path::new("."))?;
    match args.action {
        RegionAction::Add {
            name,
            recipient,
            from_cluster,
            controller_namespace,
        } => {
            let recipient: Recipient = match (recipient, from_cluster) {
                (Some(text), _) => crate::files::parse_recipient_arg("--recipient", &text)?,
                (None, Some(context)) => from_cluster_key(&context, &controller_namespace)?,
                (None, None) => {
                    return Err(Failure::input(
                        "no key given",
                        "pass --recipient age1... or --from-cluster CONTEXT",
                    ));
                }
            };
            let (path, mut config) = match found {
                Some(found) => (found.path(), found.config),
                None => (Path::new(CONFIG_FILE).to_path_buf(), RepoConfig::default()),
            };
            config
                .add_region(&name, &recipient)
                .map_err(|e| Failure::input(e.to_string(), e.hint()))?;
            write_atomic(&path, config.to_yaml().as_bytes(), 0o644)?;
            eprintln!(
                "added region {name} to {}; run `ageseal rekey` so existing files are sealed for it",
                path.display()
            );
        }
        RegionAction::List => {
            let found = require(found)?;
            for region in &found.config.regions {
                let older = region.recipients.len() - 1;
                println!("{}\t{}\t{older} older key(s)", region.name, region.recipients[0]);
            }
            for recovery in &found.config.recovery {
                println!("{}\t{}\trecovery", recovery.name, recovery.recipient);
            }
        }
        RegionAction::Remove { name } => {
            let mut found = require(found)?;
            found
                .config
                .remove_region(&name)
                .map_err(|e| Failure::input(e.to_string(), e.hint()))?;
            write_atomic(&found.path(), found.config.to_yaml().as_bytes(), 0o644)?;
            eprintln!("removed region {name}; run `ageseal rekey` so files stop being sealed for it");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn require(found: Option<FoundConfig>) -> Result<FoundConfig, Failure> {
    found.ok_or_else(|| {
        Failure::input(
            format!("no {CONFIG_FILE} in this folder or any folder above it"),
            "create one with `ageseal region add NAME --recipient age1...`",
        )
    })
}

/// The current key a region's controller publishes, read through a kubeconfig context.
fn from_cluster_key(context: &str, controller_namespace: &str) -> Result<Recipient, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start", Path::new("the Kubernetes client"), &e))?;
    runtime.block_on(async {
        let cluster = super::status::connect(context).await?;
        super::status::current_key(&cluster, controller_namespace).await
    })
}
