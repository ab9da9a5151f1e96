//! Prometheus metrics served on `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label set for failures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Status reason, e.g. `ScopeMismatch`.
    pub reason: String,
}

/// Every metric the controller exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `ageseal_reconciles_total`.
    pub reconciles: Counter,
    /// `ageseal_reconcile_failures_total{reason}`.
    pub failures: Family<ReasonLabel, Counter>,
    /// `ageseal_unseal_duration_seconds`: opening every value of one SealedSecret.
    pub unseal_seconds: Histogram,
    /// `ageseal_keys_loaded`: identities in the keyring.
    pub keys_loaded: Gauge,
    /// `ageseal_ready`: 1 when keys are loaded and caches synced.
    pub ready: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ageseal");
        let reconciles = Counter::default();
        let failures = Family::<ReasonLabel, Counter>::default();
        let buckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5];
        let unseal_seconds = Histogram::new(buckets);
        let keys_loaded = Gauge::default();
        let ready = Gauge::default();
        registry.register("reconciles", "SealedSecret reconciles", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Failed reconciles by reason",
            failures.clone(),
        );
        registry.register(
            "unseal_duration_seconds",
            "Time to open one SealedSecret's values",
            unseal_seconds.clone(),
        );
        registry.register("keys_loaded", "Controller identities loaded", keys_loaded.clone());
        registry.register(
            "ready",
            "1 when keys are loaded and caches are synced",
            ready.clone(),
        );
        Self {
            registry,
            reconciles,
            failures,
            unseal_seconds,
            keys_loaded,
            ready,
        }
    }
}

impl Metrics {
    /// Counts a failure.
    pub fn failed(&self, reason: &str) {
        self.failures
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
