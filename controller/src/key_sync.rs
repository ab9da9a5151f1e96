//! Keeps the controller's keys current: a watch of its own namespace reloads the keyring whenever a
//! key Secret changes (the one path that loads keys), the leader publishes the public keys when
//! they change, makes the first key, and with a rotation period the next ones.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ageseal_core::crd::RECIPIENTS_CONFIGMAP;
use ageseal_kms::AwsKms;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher;
use kube::{Api, Client};

use crate::http::Health;
use crate::keys::{self, KEY_LABEL, KeyGuard};
use crate::run::RunOptions;
use crate::watch::{relisting, report};

/// Pause between attempts of a start-up step that failed (the API server may be starting).
const RETRY: Duration = Duration::from_secs(2);

/// The controller's key Secrets, its keyring and the published ConfigMap, kept in step.
pub struct KeySync {
    client: Client,
    options: RunOptions,
    kms: Arc<AwsKms>,
    health: Arc<Health>,
}

impl std::fmt::Debug for KeySync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySync").finish_non_exhaustive()
    }
}

impl KeySync {
    /// Key management for one replica.
    pub fn new(client: Client, options: RunOptions, kms: Arc<AwsKms>, health: Arc<Health>) -> Self {
        Self {
            client,
            options,
            kms,
            health,
        }
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.options.own_namespace)
    }

    fn guard(&self) -> KeyGuard<'_> {
        self.options.guard(&self.kms)
    }

    /// Watches key Secrets and reloads on the initial list and every change; runs forever. The
    /// watch carries metadata only: an event just says "reload", and the reload reads the keys
    /// (`keys::refresh`), so private keys never travel in the watch. After an error it lists
    /// afresh, as the other watches do ([`crate::watch::relisting`]): resuming after an API server
    /// restart could stay stuck on an answer kube cannot read.
    pub async fn watch(self: Arc<Self>) {
        let source = format!("watching key Secrets in {}", self.options.own_namespace);
        let config = watcher::Config::default().labels(KEY_LABEL);
        let metadata: Api<PartialObjectMeta<Secret>> =
            Api::namespaced(self.client.clone(), &self.options.own_namespace);
        let mut events = relisting(metadata, config).boxed();
        while let Some(event) = events.next().await {
            report(&self.health, &source, "secrets", &event);
            // Once per complete list and per change, not once per key Secret of a list (with
            // KMS every reload is a Decrypt per key).
            if matches!(
                event,
                Ok(watcher::Event::InitDone | watcher::Event::Apply(_) | watcher::Event::Delete(_))
            ) {
                self.reload().await;
            }
        }
    }

    /// Loads every key into the store and, when leading, publishes the active public keys.
    pub async fn reload(&self) {
        let loaded = match keys::refresh(&self.health.keys, &self.secrets(), &self.guard()).await {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!("loading keys: {e}");
                return;
            }
        };
        for name in &loaded.unreadable {
            tracing::warn!(secret = %name, "key Secret has no identity this controller can read; skipped");
        }
        for name in &loaded.refused_plain {
            tracing::warn!(secret = %name, "key Secret holds a plain identity, but with --kms-key-id keys must be KMS-wrapped; not loaded");
        }
        for name in &loaded.impostors {
            tracing::warn!(
                secret = %name,
                "Secret carries the {KEY_LABEL} label but is not a key of this controller (type {}, written by its field manager); ignored",
                keys::KEY_SECRET_TYPE
            );
        }
        tracing::info!(keys = loaded.keyring.identities().len(), "keys loaded");
        if self.health.leading.load(Ordering::SeqCst) {
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.options.own_namespace);
            let source = format!("publishing {RECIPIENTS_CONFIGMAP}");
            match keys::publish(&api, &loaded, &self.options.region).await {
                Ok(()) => {
                    self.health.set_problem(&source, None);
                    self.health.published.store(true, Ordering::SeqCst);
                }
                Err(e) => {
                    tracing::error!("{source}: {e}");
                    self.health.set_problem(&source, Some(e.to_string()));
                }
            }
        }
    }

    /// Makes the first key if no active key exists, retrying until the API answers.
    pub async fn ensure_first_key(&self) {
        let first = self.options.rotate_every.map_or(0, keys::current_period);
        loop {
            match keys::ensure_active_key(&self.secrets(), &self.guard(), first, self.options.key_kind())
                .await
            {
                Ok(created) => {
                    self.health.set_problem("making the first key", None);
                    if created {
                        tracing::info!("made this region's first key");
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!("making the first key: {e}; retrying");
                    self.health
                        .set_problem("making the first key", Some(e.to_string()));
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// At least every minute and at each period boundary: the current period's key exists and
    /// is the only active one. The key watch reloads and publishes what changed.
    pub async fn rotate(self: Arc<Self>, period: Duration) {
        loop {
            match keys::rotate(
                &self.secrets(),
                &self.guard(),
                self.options.key_kind(),
                period,
                keys::now_secs(),
            )
            .await
            {
                Ok(true) => tracing::info!("rotated to a new active key"),
                Ok(false) => {}
                Err(e) => tracing::error!("rotating keys: {e}"),
            }
            let period_secs = period.as_secs().max(1);
            let to_boundary = Duration::from_secs(period_secs - keys::now_secs() % period_secs);
            tokio::time::sleep(to_boundary.min(Duration::from_secs(60)) + Duration::from_millis(100)).await;
        }
    }
}
