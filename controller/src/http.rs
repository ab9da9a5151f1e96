//! HTTP endpoints served by every replica: `/healthz`, `/readyz`, `/metrics` and
//! `/v1/recipients` (public keys only). Nothing here decrypts or says whether it could.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::keys::KeyStore;
use crate::metrics::Metrics;

/// What the endpoints report on.
#[derive(Debug)]
pub struct Health {
    /// This controller's region.
    pub region: String,
    /// Keys in force.
    pub keys: Arc<KeyStore>,
    /// Metrics to expose.
    pub metrics: Arc<Metrics>,
    /// True while this replica reconciles (always, without leader election).
    pub leading: AtomicBool,
    /// True once this replica, leading, has published its public keys (ConfigMap
    /// `ageseal-recipients`), which `ageseal region add --from-cluster` reads.
    pub published: AtomicBool,
    /// Watched scopes whose SealedSecrets have not been listed yet.
    unsynced: AtomicUsize,
    /// What keeps failing right now, by source (a watch, the API server): reported, never silent.
    problems: Mutex<BTreeMap<String, String>>,
}

impl Health {
    /// Not ready until keys load and the SealedSecrets of `scopes` watched scopes are listed.
    pub fn new(region: &str, keys: Arc<KeyStore>, metrics: Arc<Metrics>, scopes: usize) -> Self {
        Self {
            region: region.to_owned(),
            keys,
            metrics,
            leading: AtomicBool::new(false),
            published: AtomicBool::new(false),
            unsynced: AtomicUsize::new(scopes),
            problems: Mutex::default(),
        }
    }

    /// One watched scope has listed its SealedSecrets (call once per scope).
    pub fn scope_synced(&self) {
        let _ = self
            .unsynced
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// True once every watched scope has listed its SealedSecrets.
    pub fn synced(&self) -> bool {
        self.unsynced.load(Ordering::SeqCst) == 0
    }

    /// Records what fails for `source` now (`Some`), or that it works again (`None`).
    pub fn set_problem(&self, source: &str, problem: Option<String>) {
        let mut problems = self
            .problems
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match problem {
            Some(problem) => problems.insert(source.to_owned(), problem),
            None => problems.remove(source),
        };
    }

    /// `None` when ready, else why not.
    pub fn not_ready(&self) -> Option<String> {
        let mut why = Vec::new();
        if !self.keys.is_loaded() {
            why.push(
                self.keys
                    .problem()
                    .unwrap_or_else(|| "keys not loaded yet".to_owned()),
            );
        }
        let problems = self
            .problems
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        why.extend(
            problems
                .iter()
                .map(|(source, problem)| format!("{source}: {problem}")),
        );
        // A standby replica has no SealedSecret cache until it leads; it serves keys and metrics.
        if self.leading.load(Ordering::SeqCst) && !self.synced() {
            why.push("SealedSecret cache not synced yet".to_owned());
        }
        // A leader is ready once its public keys can be fetched from the cluster.
        if self.leading.load(Ordering::SeqCst)
            && self.keys.is_loaded()
            && !self.published.load(Ordering::SeqCst)
        {
            why.push("public keys not published yet (ConfigMap ageseal-recipients)".to_owned());
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// The router.
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/recipients", get(recipients))
        .with_state(health)
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    let not_ready = health.not_ready();
    health.metrics.ready.set(i64::from(not_ready.is_none()));
    match not_ready {
        None => (StatusCode::OK, "ready\n".to_owned()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")),
    }
}

async fn metrics(State(health): State<Arc<Health>>) -> impl IntoResponse {
    health
        .metrics
        .keys_loaded
        .set(health.keys.get().keyring.identities().len() as i64);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], health.metrics.encode())
}

async fn recipients(State(health): State<Arc<Health>>) -> impl IntoResponse {
    let keys = health.keys.get();
    Json(serde_json::json!({ "region": health.region, "recipients": keys.published }))
}
