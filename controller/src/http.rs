//! HTTP endpoints served by every replica: `/healthz`, `/readyz`, `/metrics` and
//! `/v1/recipients` (public keys only). Nothing here decrypts or says whether it could.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Set once the SealedSecret cache has synced.
    pub synced: AtomicBool,
}

impl Health {
    /// Not ready until keys load and caches sync.
    pub fn new(region: &str, keys: Arc<KeyStore>, metrics: Arc<Metrics>) -> Self {
        Self {
            region: region.to_owned(),
            keys,
            metrics,
            synced: AtomicBool::new(false),
        }
    }

    /// `None` when ready, else why not.
    pub fn not_ready(&self) -> Option<String> {
        if !self.keys.is_loaded() {
            return Some(
                self.keys
                    .problem()
                    .unwrap_or_else(|| "keys not loaded yet".to_owned()),
            );
        }
        if !self.synced.load(Ordering::SeqCst) {
            return Some("SealedSecret cache not synced yet".to_owned());
        }
        None
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
    let ready = health.not_ready().is_none();
    health.metrics.ready.set(i64::from(ready));
    match health.not_ready() {
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
