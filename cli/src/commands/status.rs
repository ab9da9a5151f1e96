//! `ageseal status`: for every SealedSecret file and every region's cluster, is it sealed for that
//! region, applied, Ready, current, equal to Git, and opened with a key the region still
//! publishes? One LIST per region (one per namespace when listing all is forbidden), all regions
//! at once. Reads only public data, never plaintext.

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use ageseal_core::crd::{SealedSecret, spec_hash};
use ageseal_core::manifest_file::ManifestFile;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;

use super::label;
use crate::args::{StatusArgs, StatusOutput};
use crate::cluster::{Access, Cluster, connect, current_context, runtime};
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

/// What one region says: its name, the ids of the keys it publishes, its SealedSecrets.
#[derive(Debug, Default)]
pub struct RegionView {
    /// The region its controller reports.
    pub region: String,
    /// Fingerprints of the keys it publishes.
    pub ids: Vec<String>,
    /// Its SealedSecrets by (namespace, name).
    pub objects: HashMap<(String, String), SealedSecret>,
}

/// Every page of a list.
async fn list_all(api: &Api<SealedSecret>) -> Result<Vec<SealedSecret>, kube::Error> {
    let mut params = ListParams::default().limit(500);
    let mut items = Vec::new();
    loop {
        let page = api.list(&params).await?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(items),
        }
    }
}

/// The namespaces of the files' objects, once the files are read (they are read while the
/// regions are: only a user who may not list all namespaces has to wait for them).
pub type Namespaces = Arc<OnceLock<BTreeSet<String>>>;

async fn wait_for(namespaces: &Namespaces) -> &BTreeSet<String> {
    loop {
        if let Some(known) = namespaces.get() {
            return known;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The namespaces of `sealed`'s objects.
pub fn namespaces_of(sealed: &[(PathBuf, SealedSecret)]) -> BTreeSet<String> {
    sealed
        .iter()
        .map(|(_, o)| {
            o.metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned())
        })
        .collect()
}

/// Reads one region: its published keys and every SealedSecret (one LIST of all namespaces, or
/// one per namespace of the files if that is forbidden).
pub async fn read_region(
    cluster: &Cluster,
    controller_namespace: &str,
    namespaces: &Namespaces,
    progress: &ProgressBar,
) -> Result<RegionView, Failure> {
    progress.set_message(format!("{}: reading the published keys", cluster.context));
    let (region, keys) = cluster.published(controller_namespace).await?;
    progress.set_message(format!("{} ({region}): listing SealedSecrets", cluster.context));
    let everywhere: Api<SealedSecret> = Api::all(cluster.client.clone());
    let objects = match list_all(&everywhere).await {
        Ok(objects) => objects,
        Err(kube::Error::Api(status)) if status.code == 403 => {
            let lists = wait_for(namespaces).await.iter().map(|ns| {
                let api: Api<SealedSecret> = Api::namespaced(cluster.client.clone(), ns);
                async move { list_all(&api).await.map_err(|e| (ns.clone(), e)) }
            });
            let mut objects = Vec::new();
            for result in futures::future::join_all(lists).await {
                let list = result.map_err(|(ns, e)| {
                    cluster.failure(&format!("listing SealedSecrets in namespace {ns}"), &e)
                })?;
                objects.extend(list);
            }
            objects
        }
        Err(e) => return Err(cluster.failure("listing SealedSecrets", &e)),
    };
    progress.finish_with_message(format!(
        "{} ({region}): {} SealedSecrets",
        cluster.context,
        objects.len()
    ));
    Ok(RegionView {
        region,
        ids: keys.iter().map(|k| k.id().to_string()).collect(),
        objects: objects
            .into_iter()
            .map(|o| {
                let key = (
                    o.metadata.namespace.clone().unwrap_or_default(),
                    o.metadata.name.clone().unwrap_or_default(),
                );
                (key, o)
            })
            .collect(),
    })
}

/// The row of one file's object in one region.
pub fn row(file: &str, object: &SealedSecret, context: &str, view: &RegionView) -> Row {
    let namespace = object
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let name = object.metadata.name.clone().unwrap_or_default();
    let live = view.objects.get(&(namespace, name));
    let region = &view.region;
    let sealed_for_region = object.spec.recipients.iter().any(|r| view.ids.contains(&r.id));
    let status = live.and_then(|l| l.status.clone()).unwrap_or_default();
    let ready_condition = status.conditions.iter().find(|c| c.type_ == "Ready");
    let ready = ready_condition.is_some_and(|c| c.status == "True");
    let generation_current = live.is_some_and(|l| {
        l.metadata.generation.is_some() && status.observed_generation == l.metadata.generation
    });
    let matches_git = status.spec_hash.as_deref() == Some(spec_hash(&object.spec.encrypted_data).as_str());
    let key_current = status.key_id.as_ref().is_none_or(|id| view.ids.contains(id));
    let opened_by_listed_key = status
        .key_id
        .as_ref()
        .is_some_and(|id| object.spec.recipients.iter().any(|r| r.id == *id));
    let reason = if !sealed_for_region && opened_by_listed_key && !key_current {
        format!(
            "sealed to and opened with a key {region} no longer publishes (rotated or retired): ageseal region set-key {region}, then ageseal rekey (--all, and new values, if that key leaked)"
        )
    } else if !sealed_for_region {
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
    Row {
        file: file.to_owned(),
        object: label(object),
        context: context.to_owned(),
        region: region.clone(),
        sealed_for_region,
        present: live.is_some(),
        ready,
        generation_current,
        matches_git,
        key_current,
        reason,
    }
}

fn mark(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

/// The table printed by default, columns aligned.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "FILE",
        "OBJECT",
        "REGION",
        "SEALED",
        "APPLIED",
        "READY",
        "CURRENT",
        "MATCHES-GIT",
        "KEY",
        "REASON",
    ];
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            [
                r.file.clone(),
                r.object.clone(),
                r.region.clone(),
                mark(r.sealed_for_region).into(),
                mark(r.present).into(),
                mark(r.ready).into(),
                mark(r.generation_current).into(),
                mark(r.matches_git).into(),
                mark(r.key_current).into(),
                r.reason.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(&header);
    for row in &cells {
        out.push_str(&line(&row.each_ref().map(String::as_str)));
    }
    out
}

/// Reads every SealedSecret under `paths`; files that are not YAML are skipped.
pub fn sealed_files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, SealedSecret)>, Failure> {
    let mut sealed = Vec::new();
    for file in manifest_files(paths)? {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(parsed) = ManifestFile::parse(&text) else {
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

/// What `status` found: the rows of every region that answered, and why each other one did not.
#[derive(Debug, Default)]
pub struct Report {
    /// Every file's object in every region that could be read.
    pub rows: Vec<Row>,
    /// One failure per region that could not be read (unreachable, refused, not installed).
    pub unreadable: Vec<Failure>,
}

/// Every region read at once: each one's view, or why it could not be read.
pub async fn read_regions(
    clusters: &[Cluster],
    controller_namespace: &str,
    namespaces: &Namespaces,
    progress: &MultiProgress,
) -> Vec<Result<RegionView, Failure>> {
    let reads = clusters.iter().map(|cluster| {
        let bar = progress.add(spinner());
        async move { read_region(cluster, controller_namespace, namespaces, &bar).await }
    });
    futures::future::join_all(reads).await
}

/// Every file's row in every region read. A region that cannot be read does not hide the
/// others: in an incident the regions still standing are the ones to look at.
pub fn report(
    sealed: &[(PathBuf, SealedSecret)],
    contexts: &[String],
    views: Vec<Result<RegionView, Failure>>,
) -> Report {
    let mut report = Report {
        rows: Vec::with_capacity(sealed.len() * contexts.len()),
        unreadable: Vec::new(),
    };
    for (context, view) in contexts.iter().zip(views) {
        match view {
            Ok(view) => report.rows.extend(
                sealed
                    .iter()
                    .map(|(file, object)| row(&file.display().to_string(), object, context, &view)),
            ),
            Err(failure) => report.unreadable.push(failure),
        }
    }
    report
}

fn spinner() -> ProgressBar {
    ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"))
}

pub fn run(args: StatusArgs) -> Result<ExitCode, Failure> {
    // The files are read on a thread of their own while the regions are read: the LISTs (the API
    // servers' work) take most of the time, and reading 10,000 files need not wait for them.
    let namespaces: Namespaces = Arc::default();
    let parsing = {
        let (paths, namespaces) = (args.paths.clone(), namespaces.clone());
        std::thread::spawn(move || {
            // Known on every way out, a bug's included: a region listed per namespace waits for it.
            struct Known(Namespaces);
            impl Drop for Known {
                fn drop(&mut self) {
                    let _ = self.0.set(BTreeSet::new());
                }
            }
            let known = Known(namespaces);
            let sealed = sealed_files(&paths);
            let _ = known
                .0
                .set(sealed.as_deref().map(namespaces_of).unwrap_or_default());
            sealed
        })
    };
    let access = Access {
        kubeconfig: args.kubeconfig.clone(),
        timeout: args.request_timeout,
    };
    let contexts = if args.contexts.is_empty() {
        vec![current_context(&access)?]
    } else {
        // Each context once, in the order given (`--context east --context east` is one region).
        let mut seen = BTreeSet::new();
        args.contexts
            .iter()
            .filter(|c| seen.insert(c.as_str()))
            .cloned()
            .collect()
    };
    let progress = if std::io::stderr().is_terminal() {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    };
    let views = runtime()?.block_on(async {
        let connections = futures::future::join_all(contexts.iter().map(|c| connect(c, &access))).await;
        let clusters = connections.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok::<_, Failure>(read_regions(&clusters, &args.controller_namespace, &namespaces, &progress).await)
    });
    let sealed = parsing
        .join()
        .map_err(|_| Failure::new(Exit::Bug, "reading the files failed", "please report it"))??;
    let Report { rows, unreadable } = report(&sealed, &contexts, views?);
    let _ = progress.clear();
    if unreadable.len() < contexts.len() {
        match args.output {
            StatusOutput::Table => crate::output::print(&table(&rows))?,
            StatusOutput::Json => crate::output::print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&rows).expect("rows serialize")
            ))?,
        }
    }
    for failure in &unreadable {
        crate::note!("error: {}", failure.message);
        crate::note!("hint: {}", failure.hint);
    }
    let drift = rows.iter().filter(|r| !r.in_sync()).count();
    let read = contexts.len() - unreadable.len();
    let unread = if unreadable.is_empty() {
        String::new()
    } else {
        format!(", {} could not be read", unreadable.len())
    };
    crate::note!(
        "{} SealedSecrets x {read} regions: {drift} not in sync{unread}",
        sealed.len()
    );
    if !unreadable.is_empty() {
        return Ok(ExitCode::from(Exit::Io as u8));
    }
    if drift > 0 {
        return Ok(ExitCode::from(Exit::Problems as u8));
    }
    Ok(ExitCode::SUCCESS)
}
