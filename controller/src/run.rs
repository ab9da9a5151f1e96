//! `ageseal-controller run`: wires the API client, keys, leader election, the HTTP endpoints and
//! kube-runtime controllers together. The parts it wires are tested on their own; this module
//! runs only against a real cluster (README, "Real-cluster suite").

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ageseal_core::crd::SealedSecret;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::Controller;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client};

use crate::http::{Health, router};
use crate::keys::{self, KEY_LABEL, KeyGuard, KeyStore};
use crate::lease::LeaderElector;
use crate::metrics::Metrics;
use crate::reconcile::{Context, error_policy, reconcile};
use crate::secret::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use ageseal_kms::AwsKms;

const LEASE_NAME: &str = "ageseal-controller";
const LEASE_DURATION: Duration = Duration::from_secs(15);

/// Flags of `ageseal-controller run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Region name written to status.
    pub region: String,
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    /// The controller's own namespace (key Secrets, ConfigMap, Lease).
    pub own_namespace: String,
    /// Elect a leader through a Lease before reconciling.
    pub leader_election: bool,
    /// Make a new active key this often.
    pub rotate_every: Option<Duration>,
    /// Address for the HTTP endpoints.
    pub listen: SocketAddr,
    /// This replica's name (the Lease holder identity).
    pub replica: String,
    /// Keep key Secrets KMS-wrapped under this key ARN (`--kms-key-id`).
    pub kms_key_id: Option<String>,
}

impl RunOptions {
    fn guard<'a>(&'a self, kms: &'a AwsKms) -> KeyGuard<'a> {
        match &self.kms_key_id {
            Some(key_arn) => KeyGuard::Kms {
                kms,
                key_arn,
                region: &self.region,
            },
            None => KeyGuard::Plain,
        }
    }
}

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No usable kubeconfig or in-cluster config.
    #[error("cannot reach the Kubernetes API: {0}")]
    Client(#[from] kube::Error),
    /// The HTTP port could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// Keys could not be made or read.
    #[error("{0}")]
    Keys(#[from] keys::KeyError),
}

/// Parses `--rotate-keys-every`: a number with `s`, `m`, `h` or `d`, e.g. `720h` or `30d`.
pub fn parse_period(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a period like 30d or 720h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    if seconds < 60 {
        return Err("key rotation periods under a minute are not allowed".to_owned());
    }
    Ok(Duration::from_secs(seconds))
}

/// Runs until a shutdown signal, or until leadership is lost (then the process exits so its
/// replacement starts clean).
pub async fn run(options: RunOptions) -> Result<(), RunError> {
    let client = Client::try_default().await?;
    let keys = Arc::new(KeyStore::default());
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::new(&options.region, keys.clone(), metrics.clone()));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| RunError::Listen(options.listen, e))?;
    let served = health.clone();
    tokio::spawn(async move { axum::serve(listener, router(served)).await });

    let key_api: Api<Secret> = Api::namespaced(client.clone(), &options.own_namespace);
    // One KMS client for the process: the AWS config (credentials chain) is loaded once.
    let kms = Arc::new(AwsKms::new());
    let leader = Arc::new(AtomicBool::new(!options.leader_election));
    tokio::spawn(watch_keys(
        client.clone(),
        options.clone(),
        kms.clone(),
        health.clone(),
        leader.clone(),
    ));
    if options.leader_election {
        hold_leadership(&client, &options, &leader).await?;
    }
    keys::ensure_active_key(&key_api, &options.guard(&kms)).await?;
    refresh_keys(&client, &options, &kms, &health, true).await?;
    if let Some(period) = options.rotate_every {
        tokio::spawn(rotate_keys(
            client.clone(),
            options.clone(),
            kms.clone(),
            health.clone(),
            period,
        ));
    }
    let reporter = Reporter {
        controller: "ageseal-controller".to_owned(),
        instance: Some(options.replica.clone()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let ctx = Arc::new(Context::new(
        client.clone(),
        &options.region,
        keys,
        metrics,
        Some(recorder),
    ));
    let scopes: Vec<Option<String>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().cloned().map(Some).collect()
    };
    let pending = Arc::new(AtomicUsize::new(scopes.len()));
    let owned = watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"));
    let runs = scopes.into_iter().map(|namespace| {
        let (sealed, secrets): (Api<SealedSecret>, Api<Secret>) = match &namespace {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
            ),
            None => (Api::all(client.clone()), Api::all(client.clone())),
        };
        let controller = Controller::new(sealed, watcher::Config::default()).owns(secrets, owned.clone());
        let store = controller.store();
        let (health, pending) = (health.clone(), pending.clone());
        tokio::spawn(async move {
            if store.wait_until_ready().await.is_ok() && pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                tracing::info!("SealedSecret caches synced");
                health.synced.store(true, Ordering::SeqCst);
            }
        });
        controller
            .shutdown_on_signal()
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!("reconcile: {e}");
                }
            })
    });
    futures::future::join_all(runs).await;
    Ok(())
}

/// Reloads keys into the store and, as leader, publishes the recipients ConfigMap.
async fn refresh_keys(
    client: &Client,
    options: &RunOptions,
    kms: &AwsKms,
    health: &Health,
    publish: bool,
) -> Result<(), RunError> {
    let key_api: Api<Secret> = Api::namespaced(client.clone(), &options.own_namespace);
    let loaded = keys::refresh(&health.keys, &key_api, &options.guard(kms)).await?;
    for name in &loaded.unreadable {
        tracing::warn!(secret = %name, "key Secret has no identity this controller can read; skipped");
    }
    tracing::info!(keys = loaded.keyring.identities().len(), "keys loaded");
    if publish {
        let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), &options.own_namespace);
        keys::publish(&cm_api, &loaded, &options.region).await?;
    }
    Ok(())
}

/// Key Secrets added or relabelled later take effect without a restart. A replica that is not
/// the leader has no SealedSecret cache: its cache is the key watch, synced after the first load.
async fn watch_keys(
    client: Client,
    options: RunOptions,
    kms: Arc<AwsKms>,
    health: Arc<Health>,
    leader: Arc<AtomicBool>,
) {
    let api: Api<Secret> = Api::namespaced(client.clone(), &options.own_namespace);
    let mut events = watcher(api, watcher::Config::default().labels(KEY_LABEL)).boxed();
    while let Some(event) = events.next().await {
        // Reload once the initial list is complete and on each later change, not once per key
        // Secret of the initial list (with KMS, every reload is a Decrypt per key).
        let changed = matches!(
            event,
            Ok(watcher::Event::InitDone | watcher::Event::Apply(_) | watcher::Event::Delete(_))
        );
        if changed {
            let is_leader = leader.load(Ordering::SeqCst);
            match refresh_keys(&client, &options, &kms, &health, is_leader).await {
                Ok(()) if !is_leader => health.synced.store(true, Ordering::SeqCst),
                Ok(()) => {}
                Err(e) => tracing::warn!("reloading keys: {e}"),
            }
        }
    }
}

async fn hold_leadership(
    client: &Client,
    options: &RunOptions,
    leader: &Arc<AtomicBool>,
) -> Result<(), RunError> {
    let api = Api::namespaced(client.clone(), &options.own_namespace);
    let elector = LeaderElector::new(api, LEASE_NAME, &options.replica, LEASE_DURATION);
    tracing::info!(replica = %options.replica, "waiting for leadership");
    while !elector.try_acquire(k8s_openapi::jiff::Timestamp::now()).await? {
        tokio::time::sleep(LEASE_DURATION / 3).await;
    }
    leader.store(true, Ordering::SeqCst);
    tracing::info!(replica = %options.replica, "leading");
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(elector.duration() / 3).await;
            match elector.try_acquire(k8s_openapi::jiff::Timestamp::now()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!("lost leadership; exiting so a fresh replica takes over");
                    std::process::exit(1);
                }
                Err(e) => tracing::warn!("renewing the lease: {e}"),
            }
        }
    });
    Ok(())
}

async fn rotate_keys(
    client: Client,
    options: RunOptions,
    kms: Arc<AwsKms>,
    health: Arc<Health>,
    period: Duration,
) {
    let api: Api<Secret> = Api::namespaced(client.clone(), &options.own_namespace);
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match keys::rotate(&api, &options.guard(&kms), period, now).await {
            Ok(true) => {
                tracing::info!("rotated to a new active key");
                if let Err(e) = refresh_keys(&client, &options, &kms, &health, true).await {
                    tracing::warn!("reloading keys after rotation: {e}");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!("rotating keys: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(60).min(period)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_period;
    use std::time::Duration;

    #[test]
    fn periods() {
        assert_eq!(parse_period("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_period("720h"), Ok(Duration::from_secs(720 * 3600)));
        assert!(parse_period("10s").is_err());
        assert!(parse_period("5y").is_err());
        assert!(parse_period("h").is_err());
    }
}
