//! `ageseal-controller run`: wires the API client, keys, leader election, the HTTP endpoints and
//! one kube-runtime controller per watched scope together. Every start-up step retries until the
//! API server answers, and `/readyz` says what is missing meanwhile. Proven on a real control
//! plane by `controller/tests/control_plane`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ageseal_core::crd::SealedSecret;
use futures::StreamExt;
use kube::Api;
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::events::Announcer;
use crate::http::{Health, router};
use crate::key_sync::KeySync;
use crate::keys::{KeyGuard, KeyKind, KeyStore};
use crate::lease::{LeaderElector, lead};
use crate::metrics::Metrics;
use crate::reconcile::{Context, error_policy, reconcile};
use crate::secret::Policy;
use ageseal_kms::AwsKms;

const LEASE_NAME: &str = "ageseal-controller";
/// How long the lease lasts without renewal: a standby takes over at most this long (plus one
/// retry period) after the leader stopped renewing.
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
    /// Secret types produced besides the defaults (`--allow-secret-type`).
    pub allowed_secret_types: Vec<String>,
    /// SealedSecrets reconciled at once (`--concurrency`).
    pub concurrency: u16,
    /// Make hybrid post-quantum keys (`--pq-keys`).
    pub pq_keys: bool,
}

impl RunOptions {
    /// The type of key this replica makes.
    pub fn key_kind(&self) -> KeyKind {
        if self.pq_keys {
            KeyKind::Hybrid
        } else {
            KeyKind::X25519
        }
    }

    /// How this replica's key Secrets hold identities.
    pub fn guard<'a>(&'a self, kms: &'a AwsKms) -> KeyGuard<'a> {
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
    // Builds that enable both of rustls' providers (a workspace test build does) leave rustls
    // unable to choose one by itself: choose ring, which kube is built with.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = crate::api_client::connect().await?;
    let scopes: Vec<Option<String>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().cloned().map(Some).collect()
    };
    let keys = Arc::new(KeyStore::default());
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::new(
        &options.region,
        keys.clone(),
        metrics.clone(),
        scopes.len(),
    ));
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| RunError::Listen(options.listen, e))?;
    tokio::spawn(axum::serve(listener, router(health.clone())).into_future());
    tokio::spawn(crate::permissions::keep_checking(
        client.clone(),
        options.clone(),
        health.clone(),
    ));

    // One KMS client for the process: the AWS config (credentials chain) is loaded once.
    let kms = Arc::new(AwsKms::new());
    let key_sync = Arc::new(KeySync::new(client.clone(), options.clone(), kms, health.clone()));
    tokio::spawn(key_sync.clone().watch());
    let recorder = Announcer::new(client.clone(), "ageseal-controller", &options.replica);
    let policy = Policy::new(Some(&options.own_namespace), &options.allowed_secret_types);
    let pending = Arc::new(crate::watch::Pending::default());
    let scopes: Vec<_> = scopes
        .iter()
        .map(|namespace| crate::watch::scope(&client, namespace.as_deref(), &health, &pending))
        .collect();
    let versions = scopes.iter().map(|scope| scope.versions.clone()).collect();
    // Warm standby: until this replica leads (and has a key), reconcile only learns which
    // objects' Secrets already stand; it writes nothing. Taking over then reconciles everything,
    // and what stands costs no work.
    let hold = Arc::new(crate::lease::LeaseHold::default());
    let mut ctx = Context::new(client.clone(), &options.region, keys, metrics, Some(recorder))
        .with_policy(policy)
        .with_owned_versions(versions)
        .with_pending(pending)
        .standby();
    if options.leader_election {
        ctx = ctx.with_lease(hold.clone());
    }
    let ctx = Arc::new(ctx);
    let stores: Vec<Store<SealedSecret>> = scopes.iter().map(|scope| scope.store.clone()).collect();
    tokio::spawn(forget_failures_of_gone_objects(ctx.clone(), stores));
    let runs = scopes.into_iter().map(|scope| {
        // Bounded: unbounded, a cold start of N objects had N reconciles in flight, and over
        // HTTP/1.1 N connections to the API server, each with its TLS handshake and buffers
        // (2,000 objects meant 2,000 connections, most of the memory and CPU). Over HTTP/2
        // (crate::api_client) they share one connection, but each still holds its object's
        // opened values and requests. With --namespace, the bound applies to each namespace.
        Controller::for_stream(scope.sealed, scope.store)
            .with_config(controller::Config::default().concurrency(options.concurrency))
            .owns_stream(scope.owned)
            .reconcile_all_on(ctx.takeover())
            .shutdown_on_signal()
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|result| async move {
                // Watch failures are reported where they happen (crate::watch); failed
                // reconciles on the object's status and in the log (crate::reconcile).
                if let Err(e) = result {
                    tracing::debug!("controller: {e}");
                }
            })
    });
    let mut controllers = tokio::spawn(futures::future::join_all(runs));

    // Leadership outlives the select below: a SIGTERM that arrives while keys are still being
    // made must give the lease up too.
    let leadership = std::sync::Mutex::new(None);
    let take_over = async {
        if options.leader_election {
            let api = Api::namespaced(client.clone(), &options.own_namespace);
            let held = lead(
                LeaderElector::new(api, LEASE_NAME, &options.replica, LEASE_DURATION),
                health.clone(),
                hold.clone(),
            )
            .await;
            *leadership
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(held);
        } else {
            health.leading.store(true, Ordering::SeqCst);
        }
        key_sync.ensure_first_key().await;
        // Publish now that this replica leads: the ConfigMap may predate it.
        key_sync.reload().await;
        if let Some(period) = options.rotate_every {
            tokio::spawn(key_sync.clone().rotate(period));
        }
        ctx.go_live();
        tracing::info!("reconciling every SealedSecret as the leader");
    };
    tokio::select! {
        // A shutdown signal stops the controllers (a standby then exits without leading) ...
        _ = &mut controllers => {}
        () = take_over => { let _ = controllers.await; }
    }
    // ... after their reconciles in flight have finished: nothing writes any more, so the
    // lease can go to a standby now rather than when it expires (SIGTERM on a rollout or a
    // drain hands over in about one retry period).
    let held = leadership
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(held) = held {
        held.release().await;
    }
    Ok(())
}

/// Every few minutes, drops the retry counts of objects that failed and then went away.
async fn forget_failures_of_gone_objects(ctx: Arc<Context>, stores: Vec<Store<SealedSecret>>) {
    loop {
        tokio::time::sleep(Duration::from_secs(300)).await;
        let forgotten = ctx.forget_failures(|key| {
            let (namespace, name) = key.split_once('/').unwrap_or(("", key));
            let wanted = ObjectRef::new(name).within(namespace);
            stores.iter().any(|store| store.get(&wanted).is_some())
        });
        if forgotten > 0 {
            tracing::debug!(forgotten, "forgot the retry counts of deleted objects");
        }
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
