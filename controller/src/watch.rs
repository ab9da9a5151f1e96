//! What the controller watches and what it keeps: per watched scope, a cache of SealedSecrets
//! trimmed of what reconcile never reads, and the metadata (never the data) of the Secrets it
//! owns, as triggers, with the resourceVersion of each (reconcile's memo compares it). A scope
//! counts as synced once its first list is complete; a failing watch is logged with its remedy
//! and shown on `/readyz` until it recovers, never silent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ageseal_core::crd::{LAST_APPLIED_ANNOTATION, SealedSecret};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::utils::{Backoff, PredicateConfig, predicates};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::http::Health;
use crate::secret::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// The cache and the trigger streams of one watched scope (a namespace, or all of them).
pub struct Scope<S, O> {
    /// SealedSecrets in the scope, trimmed.
    pub store: Store<SealedSecret>,
    /// Every change of a SealedSecret (the cache is updated first).
    pub sealed: S,
    /// Every change of a Secret the controller produced (metadata only).
    pub owned: O,
    /// The resourceVersion of every Secret the controller produced in the scope.
    pub versions: Arc<OwnedVersions>,
}

/// `namespace/name` -> resourceVersion of the produced Secrets of one scope, as the watch last
/// saw them. A relist replaces the whole map when it completes, so Secrets deleted while the
/// watch was down drop out.
#[derive(Debug, Default)]
pub struct OwnedVersions {
    current: Mutex<HashMap<String, String>>,
    listing: Mutex<Option<HashMap<String, String>>>,
    listed: AtomicBool,
}

impl OwnedVersions {
    /// The resourceVersion of the produced Secret `namespace/name`, if the watch has seen it.
    pub fn get(&self, key: &str) -> Option<String> {
        lock(&self.current).get(key).cloned()
    }

    /// True once the watch has listed the produced Secrets (so a key it does not hold names a
    /// Secret that is missing, or not produced by the controller).
    pub fn listed(&self) -> bool {
        self.listed.load(Ordering::Acquire)
    }

    /// Follows one watch event.
    pub fn follow(&self, event: &watcher::Event<PartialObjectMeta<Secret>>) {
        let entry = |secret: &PartialObjectMeta<Secret>| {
            (object_key(secret), secret.resource_version().unwrap_or_default())
        };
        match event {
            watcher::Event::Init => *lock(&self.listing) = Some(HashMap::new()),
            watcher::Event::InitApply(secret) => {
                if let Some(listing) = lock(&self.listing).as_mut() {
                    let (key, version) = entry(secret);
                    listing.insert(key, version);
                }
            }
            watcher::Event::InitDone => {
                if let Some(listed) = lock(&self.listing).take() {
                    *lock(&self.current) = listed;
                    self.listed.store(true, Ordering::Release);
                }
            }
            watcher::Event::Apply(secret) => {
                let (key, version) = entry(secret);
                lock(&self.current).insert(key, version);
            }
            watcher::Event::Delete(secret) => {
                lock(&self.current).remove(&entry(secret).0);
            }
        }
    }
}

/// `namespace/name`: how the controller's maps (retry counts, memo, produced Secrets) name an
/// object, so a SealedSecret and the Secret it produced share a key.
pub(crate) fn object_key<K: kube::Resource>(object: &K) -> String {
    format!("{}/{}", object.namespace().unwrap_or_default(), object.name_any())
}

/// A mutex's guard, also after a panic elsewhere poisoned it (the maps stay usable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S, O> std::fmt::Debug for Scope<S, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

/// Drops what the cache need not hold: managed fields, the `kubectl apply` annotation (a second
/// copy of the whole object), and the sealed values themselves (three quarters of an object),
/// which reconcile reads from the API server when it has to open them (rarely, see
/// [`crate::reconcile::reconcile`]). What stays: metadata, template, recipients hint, status.
pub fn trim(object: &mut SealedSecret) {
    object.metadata.managed_fields = None;
    object.spec.encrypted_data = Default::default();
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

/// Watches one scope (`None`: every namespace). Readiness and failures are reported to `health`.
pub fn scope(
    client: &Client,
    namespace: Option<&str>,
    health: &Arc<Health>,
) -> Scope<
    impl Stream<Item = Result<SealedSecret, watcher::Error>> + Send + 'static,
    impl Stream<Item = Result<PartialObjectMeta<Secret>, watcher::Error>> + Send + 'static,
> {
    let (sealed_api, secret_api): (Api<SealedSecret>, Api<PartialObjectMeta<Secret>>) = match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let place = describe(namespace);
    let (store, writer) = reflector::store();
    let mut listed = false;
    let sealed_source = format!("watching SealedSecrets in {place}");
    let sealed_health = health.clone();
    let sealed = relisting(sealed_api, watcher::Config::default())
        .modify(trim)
        .reflect(writer)
        .inspect(move |event| {
            report(&sealed_health, &sealed_source, "sealedsecrets.ageseal.io", event);
            if matches!(event, Ok(watcher::Event::InitDone)) && !listed {
                listed = true;
                tracing::info!("SealedSecrets of {place} listed");
                sealed_health.scope_synced();
            }
        })
        .applied_objects()
        // Only a new spec (or a new object under the same name) calls for a reconcile; status
        // writes, the controller's own included, do not.
        .predicate_filter(predicates::generation, PredicateConfig::default());
    let owned_config = watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"));
    let owned_source = format!("watching produced Secrets in {}", describe(namespace));
    let owned_health = health.clone();
    let versions = Arc::new(OwnedVersions::default());
    let follower = versions.clone();
    // An Api of PartialObjectMeta asks for metadata only: Secret data is never cached or parsed.
    let owned = relisting(secret_api, owned_config)
        .inspect(move |event| {
            report(&owned_health, &owned_source, "secrets", event);
            if let Ok(event) = event {
                follower.follow(event);
            }
        })
        .touched_objects();
    Scope {
        store,
        sealed,
        owned,
        versions,
    }
}

/// A watch that, after any error, starts over with a fresh list instead of resuming from its
/// last resourceVersion. Resuming is what kube's watcher does, and after an API server restart
/// it could stay stuck: the restarted server held a resumed watch silently, or answered with an
/// error body kube cannot parse (so it never saw the 410 that would make it list again), and
/// new objects were not seen for minutes. A fresh list costs one LIST per failure; the reflector
/// swaps its cache whole when the list completes, and unchanged objects trigger nothing. Between
/// failures it waits as [`WatchBackoff`] says. Every watch of the controller is one of these.
pub fn relisting<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let start = move || watcher(api.clone(), config.clone()).boxed();
    let first = start();
    futures::stream::unfold((first, start, false), |(stream, start, failed)| async move {
        let mut stream = if failed { start() } else { stream };
        let item = stream.next().await?;
        let failed = item.is_err();
        Some((item, (stream, start, failed)))
    })
    .backoff(WatchBackoff::default())
}

/// How long a failing watch waits before it tries again: from 0.5 s, doubling, at most
/// [`WatchBackoff::MAX`], less up to a quarter at random so replicas do not retry in step; back to
/// the start on the first event that succeeds. kube's default waits up to 30 s, so after an outage
/// of the API server (an upgrade, a restart) the controller could stay blind for half a minute
/// after the API server is back; two watches per scope retrying every 10 s cost the API server
/// nothing.
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    next: Duration,
    seed: u64,
}

impl WatchBackoff {
    /// The first wait.
    pub const MIN: Duration = Duration::from_millis(500);
    /// The longest wait.
    pub const MAX: Duration = Duration::from_secs(10);
}

impl Default for WatchBackoff {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| u64::from(d.subsec_nanos()) | 1);
        WatchBackoff {
            next: Self::MIN,
            seed,
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // xorshift: jitter needs no quality, only difference between processes.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let wait = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        let jitter = wait.mul_f64((self.seed % 1000) as f64 / 4000.0);
        Some(wait - jitter)
    }
}

impl Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = Self::MIN;
    }
}

fn describe(namespace: Option<&str>) -> String {
    namespace.map_or_else(|| "all namespaces".to_owned(), |ns| format!("namespace {ns}"))
}

/// Logs a failing watch with its remedy and records it for `/readyz`; clears it once events flow.
pub fn report<T>(health: &Health, source: &str, resource: &str, event: &Result<T, watcher::Error>) {
    match event {
        Ok(_) => health.set_problem(source, None),
        Err(error) => {
            let problem = describe_watch_error(resource, error);
            tracing::error!("{source}: {problem}");
            health.set_problem(source, Some(problem));
        }
    }
}

/// A watch error in words, with what to do: RBAC for 401/403, the API server otherwise.
pub fn describe_watch_error(resource: &str, error: &watcher::Error) -> String {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    };
    match status {
        Some(401 | 403) => format!(
            "{error}; the controller may not list/watch {resource}: grant it as deploy/base/rbac.yaml does"
        ),
        _ => format!("{error}; retrying with backoff (is the API server reachable?)"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Backoff, WatchBackoff};
    use std::time::Duration;

    #[test]
    fn backoff_grows_to_its_cap_and_resets() {
        let mut backoff = WatchBackoff::default();
        let waits: Vec<Duration> = backoff.by_ref().take(12).collect();
        assert!(waits[0] <= WatchBackoff::MIN && waits[0] >= WatchBackoff::MIN * 3 / 4);
        assert!(waits.iter().all(|w| *w <= WatchBackoff::MAX));
        assert!(waits[11] >= WatchBackoff::MAX * 3 / 4, "{waits:?}");
        assert!(waits[3] > waits[0] * 4, "{waits:?}");
        backoff.reset();
        assert!(backoff.next().expect("endless") <= WatchBackoff::MIN);
    }
}
