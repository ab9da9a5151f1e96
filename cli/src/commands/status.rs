//! `ageseal status`: for every SealedSecret file and every region's cluster, is it sealed for that
//! region, applied, Ready, current and equal to Git? Reads only public data, never plaintext.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ageseal_core::crd::{PublishedRecipients, RECIPIENTS_CONFIGMAP, SealedSecret, spec_hash};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;

pub use crate::cluster::{Cluster, connect};
use serde::Serialize;

use super::label;
use crate::args::{StatusArgs, StatusOutput};
use crate::failure::{Exit, Failure};
use crate::files::manifest_files;

/// The state of one SealedSecret in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// File in Git.
    pub file: String,
    /// `namespace/name`.
    pub object: String,
    /// Kubeconfig context.
    pub context: String,
    /// Region the cluster's controller reports.
    pub region: String,
    /// One of the region's published keys is among the file's recipients.
    pub sealed_for_region: bool,
    /// The SealedSecret exists in the cluster.
    pub present: bool,
    /// Its Ready condition is True.
    pub ready: bool,
    /// `status.observedGeneration` equals `metadata.generation`.
    pub generation_current: bool,
    /// `status.specHash` equals the hash of the file's `encryptedData`.
    pub matches_git: bool,
    /// The key that opened it (`status.keyId`) is one the region still publishes: not a key
    /// rotated out, which may be the one that leaked.
    pub key_current: bool,
    /// Why it is not in sync (empty when it is).
    pub reason: String,
}

impl Row {
    /// Everything holds.
    pub fn in_sync(&self) -> bool {
        self.sealed_for_region
            && self.present
            && self.ready
            && self.generation_current
            && self.matches_git
            && self.key_current
    }
}

/// The newest key a region's controller publishes (for `region add --from-cluster`).
pub async fn current_key(
    cluster: &Cluster,
    controller_namespace: &str,
) -> Result<ageseal_core::Recipient, Failure> {
    let (_, keys) = published_keys(cluster, controller_namespace).await?;
    keys.into_iter().next().ok_or_else(|| {
        Failure::input(
            format!("context {}: the controller publishes no key yet", cluster.context),
            "wait until the controller is ready (kubectl -n ageseal-system get pods)",
        )
    })
}

/// The region name and key ids a cluster's controller publishes.
async fn published(cluster: &Cluster, controller_namespace: &str) -> Result<(String, Vec<String>), Failure> {
    let (region, keys) = published_keys(cluster, controller_namespace).await?;
    Ok((region, keys.iter().map(|k| k.id().to_string()).collect()))
}

async fn published_keys(
    cluster: &Cluster,
    controller_namespace: &str,
) -> Result<(String, Vec<ageseal_core::Recipient>), Failure> {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), controller_namespace);
    let cm = api.get_opt(RECIPIENTS_CONFIGMAP).await.map_err(|e| {
        Failure::new(
            Exit::Io,
            format!("context {}: {e}", cluster.context),
            "check the kubeconfig context and your access",
        )
    })?;
    let cm = cm.ok_or_else(|| {
        Failure::input(
            format!(
                "context {}: no ConfigMap {controller_namespace}/{RECIPIENTS_CONFIGMAP}",
                cluster.context
            ),
            "install ageseal-controller in that cluster (deploy/overlays/REGION)",
        )
    })?;
    let published = PublishedRecipients::from_data(&cm.data.unwrap_or_default());
    let region = published.region.unwrap_or_else(|| cluster.context.clone());
    Ok((region, published.recipients))
}

/// One row per (file's SealedSecret, cluster).
pub async fn report(
    sealed: &[(PathBuf, SealedSecret)],
    clusters: &[Cluster],
    controller_namespace: &str,
) -> Result<Vec<Row>, Failure> {
    let mut rows = Vec::new();
    for cluster in clusters {
        let (region, ids) = published(cluster, controller_namespace).await?;
        for (file, object) in sealed {
            rows.push(row(file, object, cluster, &region, &ids).await?);
        }
    }
    Ok(rows)
}

async fn row(
    file: &Path,
    object: &SealedSecret,
    cluster: &Cluster,
    region: &str,
    ids: &[String],
) -> Result<Row, Failure> {
    let namespace = object
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<SealedSecret> = Api::namespaced(cluster.client.clone(), &namespace);
    let live = api.get_opt(&name).await.map_err(|e| {
        Failure::new(
            Exit::Io,
            format!("context {}: {e}", cluster.context),
            "check your access to SealedSecrets",
        )
    })?;
    let sealed_for_region = object.spec.recipients.iter().any(|r| ids.contains(&r.id));
    let status = live.as_ref().and_then(|l| l.status.clone()).unwrap_or_default();
    let ready_condition = status.conditions.iter().find(|c| c.type_ == "Ready");
    let ready = ready_condition.is_some_and(|c| c.status == "True");
    let generation_current = live.as_ref().is_some_and(|l| {
        l.metadata.generation.is_some() && status.observed_generation == l.metadata.generation
    });
    let matches_git = status.spec_hash.as_deref() == Some(spec_hash(&object.spec.encrypted_data).as_str());
    let key_current = status.key_id.as_ref().is_none_or(|id| ids.contains(id));
    let reason = if !sealed_for_region {
        format!("not sealed for {region}: add the region and run ageseal rekey")
    } else if live.is_none() {
        "not applied in this cluster".to_owned()
    } else if !ready {
        ready_condition.map_or_else(
            || "no status yet".to_owned(),
            |c| format!("{}: {}", c.reason, c.message),
        )
    } else if !generation_current {
        "the controller has not seen the latest change".to_owned()
    } else if !matches_git {
        "the cluster holds other values than Git: apply the file".to_owned()
    } else if !key_current {
        format!(
            "opened with a key {region} no longer publishes (rotated or retired): ageseal rekey --all, and rotate the values if that key leaked"
        )
    } else {
        String::new()
    };
    Ok(Row {
        file: file.display().to_string(),
        object: label(object),
        context: cluster.context.clone(),
        region: region.to_owned(),
        sealed_for_region,
        present: live.is_some(),
        ready,
        generation_current,
        matches_git,
        key_current,
        reason,
    })
}

fn mark(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

/// The table printed by default.
pub fn table(rows: &[Row]) -> String {
    let mut out =
        String::from("FILE\tOBJECT\tREGION\tSEALED\tAPPLIED\tREADY\tCURRENT\tMATCHES-GIT\tREASON\n");
    for r in rows {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.file,
            r.object,
            r.region,
            mark(r.sealed_for_region),
            mark(r.present),
            mark(r.ready),
            mark(r.generation_current),
            mark(r.matches_git),
            r.reason
        ));
    }
    out
}

/// Reads every SealedSecret under `paths`.
pub fn sealed_files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, SealedSecret)>, Failure> {
    let mut sealed = Vec::new();
    for file in manifest_files(paths)? {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(parsed) = ageseal_core::manifest_file::ManifestFile::parse(&text) else {
            continue;
        };
        sealed.extend(
            parsed
                .sealed()
                .into_iter()
                .map(|object| (file.clone(), object.clone())),
        );
    }
    Ok(sealed)
}

pub fn run(args: StatusArgs) -> Result<ExitCode, Failure> {
    let sealed = sealed_files(&args.paths)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start", Path::new("the Kubernetes client"), &e))?;
    let rows = runtime.block_on(async {
        let mut clusters = Vec::new();
        for context in &args.contexts {
            clusters.push(connect(context).await?);
        }
        report(&sealed, &clusters, &args.controller_namespace).await
    })?;
    match args.output {
        StatusOutput::Table => print!("{}", table(&rows)),
        StatusOutput::Json => println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialize")),
    }
    let drift = rows.iter().filter(|r| !r.in_sync()).count();
    eprintln!(
        "{} SealedSecrets x {} regions: {drift} not in sync",
        sealed.len(),
        args.contexts.len()
    );
    if drift > 0 {
        return Ok(ExitCode::from(Exit::Problems as u8));
    }
    Ok(ExitCode::SUCCESS)
}
