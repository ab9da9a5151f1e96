//! What the controller watches and what it keeps: per watched scope, a cache of SealedSecrets
//! trimmed of what reconcile never reads and written as events come ([`LiveCache`]), the sealed
//! values of objects not yet opened (bounded, [`Pending`]; the first list waits for room,
//! [`Pacer`]), and the metadata (never the data) of the Secrets it owns, as triggers, with the
//! resourceVersion of each (reconcile's memo compares it; the echo of the controller's own write
//! triggers nothing, [`OwnedVersions::wrote`]). A scope counts as synced once its first list is
//! complete; a failing watch is logged with its remedy and shown on `/readyz` until it recovers,
//! never silent.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ageseal_core::crd::{LAST_APPLIED_ANNOTATION, SealedSecret};
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::PartialObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::utils::{Backoff, PredicateConfig, predicates};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::http::Health;
use crate::lean::LeanSealedSecret;
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
    /// The scope's namespace; `None`: every namespace.
    namespace: Option<String>,
    /// `namespace/name` -> resourceVersion of a Secret the controller wrote whose watch event
    /// has not come yet: that event is the echo of the controller's own write and triggers
    /// nothing.
    own_writes: Mutex<HashMap<String, String>>,
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

    /// The versions of the produced Secrets in `namespace` (`None`: every namespace).
    pub fn of_scope(namespace: Option<&str>) -> Self {
        Self {
            namespace: namespace.map(str::to_owned),
            ..Self::default()
        }
    }

    /// True when the Secrets of `namespace` are watched here.
    pub fn covers(&self, namespace: &str) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == namespace)
    }

    /// Notes that the controller left the Secret `key` at `version`, so that the watch event
    /// of that write triggers no reconcile. Nothing is noted when the watch has already seen
    /// that version (the event came first, or there was no write).
    pub fn wrote(&self, key: &str, version: &str) {
        let current = lock(&self.current);
        if current.get(key).is_some_and(|seen| seen == version) {
            return;
        }
        lock(&self.own_writes).insert(key.to_owned(), version.to_owned());
    }

    /// Follows one watch event; false when it is the echo of the controller's own write
    /// ([`OwnedVersions::wrote`]), which needs no reconcile.
    pub fn follow(&self, event: &watcher::Event<PartialObjectMeta<Secret>>) -> bool {
        let entry = |secret: &PartialObjectMeta<Secret>| {
            (object_key(secret), secret.resource_version().unwrap_or_default())
        };
        match event {
            watcher::Event::Init => {
                *lock(&self.listing) = Some(HashMap::new());
                lock(&self.own_writes).clear();
            }
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
                let mut current = lock(&self.current);
                let own = lock(&self.own_writes)
                    .remove(&key)
                    .is_some_and(|own| own == version);
                current.insert(key, version);
                return !own;
            }
            watcher::Event::Delete(secret) => {
                let key = entry(secret).0;
                let mut current = lock(&self.current);
                lock(&self.own_writes).remove(&key);
                current.remove(&key);
            }
        }
        true
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

/// Sealed values of objects waiting for reconcile to open them, taken from the watch event that
/// brought them, so that reconcile need not read the object again (the cache holds no sealed
/// values, see [`trim`]). Bounded by [`Pending::BUDGET`] bytes: what does not fit is read from
/// the API server when its turn comes. At a cold start the list brings objects faster than
/// reconcile opens them, so the first list waits for room ([`Pacer`]). Objects whose status
/// already says Ready for their generation are not kept (the controller's own status write is one), so an entry lives from
/// the event that brought a new spec to the reconcile that opens it. Values are ciphertext, and
/// the entry is bound to the object's uid and generation: a later spec, or a new object under
/// the same name, never finds an older entry.
#[derive(Default)]
pub struct Pending {
    inner: Mutex<PendingInner>,
    /// Woken whenever kept values are taken or dropped (see [`Pending::room_for`]).
    freed: tokio::sync::Notify,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = lock(&self.inner);
        f.debug_struct("Pending")
            .field("objects", &inner.entries.len())
            .field("bytes", &inner.bytes)
            .finish()
    }
}

#[derive(Default)]
struct PendingInner {
    entries: HashMap<String, PendingValues>,
    bytes: usize,
}

impl PendingInner {
    fn remove(&mut self, key: &str) -> Option<PendingValues> {
        let entry = self.entries.remove(key)?;
        self.bytes -= entry.bytes;
        Some(entry)
    }
}

struct PendingValues {
    uid: String,
    generation: i64,
    values: std::collections::BTreeMap<String, String>,
    bytes: usize,
}

impl Pending {
    /// Bytes of sealed values kept at most: about 2,100 objects of 5 values sealed to 3
    /// recipients (3.9 KB each). At 16 MiB the peak RSS of a cold start of 10,000 was 87 MB
    /// against 75 MB (controller/benches/README.md).
    pub const BUDGET: usize = 8 << 20;

    /// Follows one watch event: keeps the values of an object that awaits opening (taking them
    /// out of the object), forgets a deleted one, and forgets the scope when it is listed again.
    pub fn follow(&self, namespace: Option<&str>, event: &mut watcher::Event<SealedSecret>) {
        match event {
            watcher::Event::Apply(object) | watcher::Event::InitApply(object) => self.keep(object),
            watcher::Event::Delete(object) => self.forget(&object_key(object)),
            watcher::Event::Init => {
                let mut inner = lock(&self.inner);
                let prefix = namespace.map(|ns| format!("{ns}/"));
                let inner = &mut *inner;
                inner.entries.retain(|key, entry| {
                    let other_scope = prefix.as_deref().is_some_and(|p| !key.starts_with(p));
                    if !other_scope {
                        inner.bytes -= entry.bytes;
                    }
                    other_scope
                });
                self.freed.notify_waiters();
            }
            watcher::Event::InitDone => {}
        }
    }

    fn keep(&self, object: &mut SealedSecret) {
        let key = object_key(object);
        let mut inner = lock(&self.inner);
        inner.remove(&key);
        let (Some(bytes), Some(uid), Some(generation)) = (
            Self::wanted(object),
            &object.metadata.uid,
            object.metadata.generation,
        ) else {
            return;
        };
        if inner.bytes + bytes > Self::BUDGET {
            return;
        }
        let uid = uid.clone();
        inner.bytes += bytes;
        let values = std::mem::take(&mut object.spec.encrypted_data);
        inner.entries.insert(
            key,
            PendingValues {
                uid,
                generation,
                values,
                bytes,
            },
        );
    }

    /// Drops what is kept for `key` (`namespace/name`).
    pub fn forget(&self, key: &str) {
        if lock(&self.inner).remove(key).is_some() {
            self.freed.notify_waiters();
        }
    }

    /// The sealed values of `object` (trimmed, from the cache) if they are kept for its uid and
    /// generation; they are not kept any longer.
    pub fn take(&self, object: &SealedSecret) -> Option<std::collections::BTreeMap<String, String>> {
        let key = object_key(object);
        let mut inner = lock(&self.inner);
        let entry = inner.entries.get(&key)?;
        if object.metadata.uid.as_ref() != Some(&entry.uid)
            || object.metadata.generation != Some(entry.generation)
        {
            return None;
        }
        let values = inner.remove(&key).map(|entry| entry.values);
        drop(inner);
        if values.is_some() {
            self.freed.notify_waiters();
        }
        values
    }

    /// Bytes the sealed values of `object` take when kept, or `None` when they would not be
    /// kept (its status says Ready for its generation, or it has no uid or generation).
    pub fn wanted(object: &SealedSecret) -> Option<usize> {
        if object.metadata.uid.is_none()
            || object.metadata.generation.is_none()
            || crate::reconcile::ready_for_generation(object)
        {
            return None;
        }
        Some(
            object
                .spec
                .encrypted_data
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum(),
        )
    }

    /// Waits until `bytes` more fit in the budget, at most until `deadline`; false when they
    /// still do not. Values larger than the whole budget are never kept, so they wait for nothing.
    pub async fn room_for(&self, bytes: usize, deadline: tokio::time::Instant) -> bool {
        if bytes > Self::BUDGET {
            return true;
        }
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a take between the look and the wait is not missed.
            freed.as_mut().enable();
            if self.bytes() + bytes <= Self::BUDGET {
                return true;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return false;
            }
        }
    }

    /// Bytes of sealed values kept now.
    pub fn bytes(&self) -> usize {
        lock(&self.inner).bytes
    }
}

/// Drops what the cache need not hold: the `kubectl apply` annotation (a second copy of the
/// whole object) and the sealed values themselves (three quarters of an object), which reconcile
/// takes from [`Pending`] or else reads from the API server when it has to open them (see
/// [`crate::reconcile::reconcile`]). Managed fields never get this far: the watch does not parse
/// them ([`crate::lean`]). What stays: metadata, template, recipients hint, status.
pub fn trim(object: &mut SealedSecret) {
    object.spec.encrypted_data = Default::default();
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

/// Paces the first list of a scope: before each object whose values would not fit among the
/// kept ones, the list waits until reconcile has taken enough (reconcile runs meanwhile, see
/// [`LiveCache`]). So a cold start keeps the values of every object, however many, instead of
/// the first [`Pending::BUDGET`] bytes' worth, and reads none of them again. Within limits: the
/// watch that follows a list starts from the list's resourceVersion, and the API server keeps
/// about 75 s of events (its watch cache); a list slower than that can be answered 410 Gone and
/// start over, every object listed again. So the list waits [`Pacer::LIMIT`] in all at most,
/// counted from its first object, and stops waiting for good when nothing was taken for
/// [`Pacer::STALL`] (a standby: it leaves objects that are not Ready to the leader). Later lists
/// (after a watch failed) never wait.
#[derive(Debug)]
struct Pacer {
    pending: Arc<Pending>,
    state: Mutex<Pace>,
    limit: Duration,
    stall: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Pace {
    /// The first list has brought no object yet (the API server may not even answer yet).
    Ahead,
    /// The first list may wait until then.
    Until(tokio::time::Instant),
    /// No more waiting in this process.
    Done,
}

impl Pacer {
    /// Well inside the API server's 75 s, with room for the rest of the list.
    const LIMIT: Duration = Duration::from_secs(45);
    const STALL: Duration = Duration::from_secs(10);

    fn new(pending: Arc<Pending>) -> Self {
        Self::with_limits(pending, Self::LIMIT, Self::STALL)
    }

    fn with_limits(pending: Arc<Pending>, limit: Duration, stall: Duration) -> Self {
        Self {
            pending,
            state: Mutex::new(Pace::Ahead),
            limit,
            stall,
        }
    }

    /// Before `event` goes on: waits if it is a listed object whose values do not fit yet.
    async fn pace(&self, event: &watcher::Event<SealedSecret>) {
        let now = tokio::time::Instant::now();
        let wait = {
            let mut state = lock(&self.state);
            if matches!((event, *state), (watcher::Event::InitApply(_), Pace::Ahead)) {
                *state = Pace::Until(now + self.limit);
            }
            match (event, *state) {
                (watcher::Event::InitDone, _) => {
                    *state = Pace::Done;
                    None
                }
                (watcher::Event::InitApply(object), Pace::Until(limit)) => {
                    Pending::wanted(object).map(|bytes| (bytes, limit.min(now + self.stall)))
                }
                _ => None,
            }
        };
        if let Some((bytes, deadline)) = wait
            && !self.pending.room_for(bytes, deadline).await
        {
            tracing::debug!("kept sealed values are not taken fast enough; listing on without waiting");
            *lock(&self.state) = Pace::Done;
        }
    }
}

/// The cache of one scope's SealedSecrets, written as watch events come, those of a list
/// included. kube's reflector holds a list's objects apart until the last page is in, and its
/// controller starts no reconcile before its cache has seen a whole list: at a cold start every
/// object arrived before the first reconcile, so only the first [`Pending::BUDGET`] bytes of
/// sealed values could be kept and every other object was read again. Here the cache is ready
/// (empty) from the start and each listed object is written at once, so reconcile starts with
/// the first page and the list can wait for it (see [`scope`]). During a relist the cache thus
/// holds what the list has brought so far, never an older copy of a listed object; objects that
/// went away while the watch was down leave when the list is complete.
pub struct LiveCache {
    writer: reflector::store::Writer<SealedSecret>,
    store: Store<SealedSecret>,
    /// Objects seen by the list under way, if one is.
    listing: Option<HashSet<ObjectRef<SealedSecret>>>,
}

impl std::fmt::Debug for LiveCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCache")
            .field("objects", &self.store.state().len())
            .field("listing", &self.listing.as_ref().map(HashSet::len))
            .finish()
    }
}

impl LiveCache {
    /// An empty cache, ready, and what writes to it.
    pub fn new() -> (Store<SealedSecret>, Self) {
        let (store, mut writer) = reflector::store();
        // An empty list, complete: readers need not wait for the first real one.
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let cache = Self {
            writer,
            store: store.clone(),
            listing: None,
        };
        (store, cache)
    }

    /// Writes one event; a listed object comes out as applied, as it now is in the cache.
    pub fn apply(&mut self, event: watcher::Event<SealedSecret>) -> watcher::Event<SealedSecret> {
        let event = match event {
            watcher::Event::Init => {
                self.listing = Some(HashSet::new());
                return watcher::Event::Init;
            }
            watcher::Event::InitApply(object) => {
                if let Some(listing) = self.listing.as_mut() {
                    listing.insert(ObjectRef::from_obj(&object));
                }
                watcher::Event::Apply(object)
            }
            watcher::Event::InitDone => {
                if let Some(listed) = self.listing.take() {
                    for gone in self.store.state() {
                        if !listed.contains(&ObjectRef::from_obj(gone.as_ref())) {
                            self.writer
                                .apply_watcher_event(&watcher::Event::Delete(SealedSecret::clone(&gone)));
                        }
                    }
                }
                return watcher::Event::InitDone;
            }
            applied_or_deleted => applied_or_deleted,
        };
        self.writer.apply_watcher_event(&event);
        event
    }
}

/// Watches one scope (`None`: every namespace). Readiness and failures are reported to `health`.
pub fn scope(
    client: &Client,
    namespace: Option<&str>,
    health: &Arc<Health>,
    pending: &Arc<Pending>,
) -> Scope<
    impl Stream<Item = Result<SealedSecret, watcher::Error>> + Send + 'static,
    impl Stream<Item = Result<PartialObjectMeta<Secret>, watcher::Error>> + Send + 'static,
> {
    let (sealed_api, secret_api): (Api<LeanSealedSecret>, Api<PartialObjectMeta<Secret>>) = match namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let place = describe(namespace);
    let (store, mut cache) = LiveCache::new();
    let mut listed = false;
    let sealed_source = format!("watching SealedSecrets in {place}");
    let sealed_health = health.clone();
    let pending = pending.clone();
    let scope_namespace = namespace.map(str::to_owned);
    let pacer = Arc::new(Pacer::new(pending.clone()));
    // Pages of 100, not kube's 500: while the list waits (Pacer), the page it holds is whole
    // objects, managed fields and sealed values included (a cold sync of 10,000 peaked at 85 MB
    // with pages of 500, 76 MB with 100).
    let sealed = relisting(sealed_api, watcher::Config::default().page_size(100))
        .map_ok(crate::lean::event)
        .and_then(move |event| {
            let pacer = pacer.clone();
            async move {
                pacer.pace(&event).await;
                Ok(event)
            }
        })
        .map_ok(move |mut event| {
            pending.follow(scope_namespace.as_deref(), &mut event);
            event
        })
        .modify(trim)
        .map_ok(move |event| cache.apply(event))
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
    let versions = Arc::new(OwnedVersions::of_scope(namespace));
    let follower = versions.clone();
    // An Api of PartialObjectMeta asks for metadata only: Secret data is never cached or parsed.
    let owned = relisting(secret_api, owned_config)
        .inspect(move |event| report(&owned_health, &owned_source, "secrets", event))
        .try_filter(move |event| std::future::ready(follower.follow(event)))
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
/// (An `Api<PartialObjectMeta<_>>` lists and watches metadata only: a Secret's data never
/// travels to the controller, see the test `metadata_watches_ask_for_metadata_only`.)
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
    use super::{Backoff, LiveCache, OwnedVersions, Pacer, Pending, WatchBackoff, relisting, watcher};
    use ageseal_core::crd::{Condition, SealedSecret, SealedSecretSpec, SealedSecretStatus};
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::ObjectMeta;
    use kube::core::PartialObjectMetaExt;
    use std::time::Duration;

    fn object(namespace: &str, name: &str, uid: &str, generation: i64, value_len: usize) -> SealedSecret {
        SealedSecret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                uid: Some(uid.to_owned()),
                generation: Some(generation),
                ..ObjectMeta::default()
            },
            spec: SealedSecretSpec {
                encrypted_data: [("password".to_owned(), "A".repeat(value_len))].into(),
                ..SealedSecretSpec::default()
            },
            status: None,
        }
    }

    fn apply(pending: &Pending, object: &SealedSecret) -> SealedSecret {
        let mut event = watcher::Event::Apply(object.clone());
        pending.follow(None, &mut event);
        match event {
            watcher::Event::Apply(object) => object,
            _ => unreachable!("an Apply stays an Apply"),
        }
    }

    #[test]
    fn kept_values_go_only_to_the_same_uid_and_generation_and_only_once() {
        let pending = Pending::default();
        let first = object("payments", "db", "u1", 1, 100);
        let seen = apply(&pending, &first);
        assert!(
            seen.spec.encrypted_data.is_empty(),
            "values are moved out, not copied"
        );
        assert_eq!(pending.bytes(), "password".len() + 100);
        let mut trimmed = first.clone();
        trimmed.spec.encrypted_data.clear();
        let mut newer = trimmed.clone();
        newer.metadata.generation = Some(2);
        assert_eq!(pending.take(&newer), None, "another generation");
        let mut recreated = trimmed.clone();
        recreated.metadata.uid = Some("u2".to_owned());
        assert_eq!(
            pending.take(&recreated),
            None,
            "another object under the same name"
        );
        assert_eq!(pending.take(&trimmed), Some(first.spec.encrypted_data.clone()));
        assert_eq!(pending.take(&trimmed), None, "taken once");
        assert_eq!(pending.bytes(), 0);
        // A newer spec replaces what was kept for the older one.
        apply(&pending, &first);
        let second = object("payments", "db", "u1", 2, 50);
        apply(&pending, &second);
        assert_eq!(pending.take(&trimmed), None);
        assert_eq!(pending.bytes(), "password".len() + 50);
    }

    #[test]
    fn ready_objects_are_not_kept_and_deleted_ones_are_forgotten() {
        let pending = Pending::default();
        let mut ready = object("payments", "db", "u1", 3, 100);
        ready.status = Some(SealedSecretStatus {
            observed_generation: Some(3),
            conditions: vec![Condition {
                type_: "Ready".to_owned(),
                status: "True".to_owned(),
                reason: "Unsealed".to_owned(),
                message: String::new(),
                last_transition_time: None,
                observed_generation: None,
            }],
            ..SealedSecretStatus::default()
        });
        let seen = apply(&pending, &ready);
        assert_eq!(
            pending.bytes(),
            0,
            "the controller's own status write is not kept"
        );
        assert_eq!(seen.spec.encrypted_data, ready.spec.encrypted_data);
        let other = object("payments", "api", "u2", 1, 100);
        apply(&pending, &other);
        assert!(pending.bytes() > 0);
        pending.follow(None, &mut watcher::Event::Delete(other.clone()));
        assert_eq!(pending.bytes(), 0);
    }

    #[test]
    fn what_is_kept_stays_within_the_budget_and_a_relist_forgets_its_scope() {
        let pending = Pending::default();
        let size = Pending::BUDGET / 4;
        for name in ["a", "b", "c", "d", "e"] {
            let seen = apply(&pending, &object("payments", name, name, 1, size));
            assert_eq!(
                seen.spec.encrypted_data.is_empty(),
                name != "d" && name != "e",
                "{name}"
            );
        }
        assert!(pending.bytes() <= Pending::BUDGET);
        let mut elsewhere = object("billing", "x", "x", 1, 10);
        pending.forget("payments/a");
        let mut event = watcher::Event::Apply(elsewhere.clone());
        pending.follow(Some("billing"), &mut event);
        pending.follow(Some("payments"), &mut watcher::Event::Init);
        assert_eq!(
            pending.bytes(),
            "password".len() + 10,
            "only the relisted namespace is forgotten"
        );
        elsewhere.spec.encrypted_data.clear();
        assert!(pending.take(&elsewhere).is_some());
    }

    fn secret_event(name: &str, version: &str) -> watcher::Event<kube::api::PartialObjectMeta<Secret>> {
        watcher::Event::Apply(
            ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("payments".to_owned()),
                resource_version: Some(version.to_owned()),
                ..ObjectMeta::default()
            }
            .into_response_partial::<Secret>(),
        )
    }

    #[test]
    fn only_the_echo_of_the_controllers_own_write_triggers_nothing() {
        let versions = OwnedVersions::of_scope(Some("payments"));
        assert!(versions.covers("payments") && !versions.covers("billing"));
        assert!(OwnedVersions::default().covers("billing"));
        versions.wrote("payments/db", "5");
        assert!(!versions.follow(&secret_event("db", "5")), "the echo");
        assert_eq!(
            versions.get("payments/db").as_deref(),
            Some("5"),
            "still followed"
        );
        assert!(versions.follow(&secret_event("db", "5")), "noted once only");
        // Someone else's write, after the controller's: its own echo was missed (e.g. a relist).
        versions.wrote("payments/db", "6");
        assert!(versions.follow(&secret_event("db", "7")));
        assert!(
            versions.follow(&secret_event("db", "6")),
            "a stale note was dropped"
        );
        // The echo came before the answer: nothing is noted, the next change triggers.
        assert!(versions.follow(&secret_event("db", "8")));
        versions.wrote("payments/db", "8");
        assert!(versions.follow(&secret_event("db", "9")));
        assert!(
            versions.follow(&secret_event("db", "8")),
            "nothing was noted for 8"
        );
        versions.wrote("payments/api", "3");
        versions.follow(&watcher::Event::Init);
        assert!(
            versions.follow(&secret_event("api", "3")),
            "a relist forgets the notes"
        );
    }

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

    fn cached(store: &kube::runtime::reflector::Store<SealedSecret>, name: &str) -> Option<i64> {
        store
            .state()
            .into_iter()
            .find(|o| o.metadata.name.as_deref() == Some(name))
            .and_then(|o| o.metadata.generation)
    }

    #[tokio::test]
    async fn the_cache_is_ready_at_once_and_holds_each_listed_object_as_it_comes() {
        let (store, mut cache) = LiveCache::new();
        tokio::time::timeout(Duration::from_secs(1), store.wait_until_ready())
            .await
            .expect("ready before any list")
            .expect("ready");
        cache.apply(watcher::Event::Init);
        let listed = cache.apply(watcher::Event::InitApply(object("payments", "db", "u1", 1, 10)));
        assert!(
            matches!(listed, watcher::Event::Apply(_)),
            "a listed object comes out as applied"
        );
        assert_eq!(
            cached(&store, "db"),
            Some(1),
            "in the cache before the list is complete"
        );
        cache.apply(watcher::Event::InitApply(object("payments", "api", "u2", 1, 10)));
        cache.apply(watcher::Event::InitDone);
        assert_eq!(store.state().len(), 2);

        // The watch fails; meanwhile db changes and api goes away. The relist brings db's new
        // spec at once, and api leaves only when the list is complete.
        cache.apply(watcher::Event::Init);
        assert_eq!(store.state().len(), 2, "a relist does not empty the cache");
        cache.apply(watcher::Event::InitApply(object("payments", "db", "u1", 2, 10)));
        assert_eq!(
            cached(&store, "db"),
            Some(2),
            "never the older copy of a listed object"
        );
        assert_eq!(cached(&store, "api"), Some(1));
        cache.apply(watcher::Event::InitApply(object("payments", "web", "u3", 1, 10)));
        cache.apply(watcher::Event::InitDone);
        assert_eq!(cached(&store, "api"), None, "gone while the watch was down");
        assert_eq!(cached(&store, "db"), Some(2));
        assert_eq!(cached(&store, "web"), Some(1));
        cache.apply(watcher::Event::Delete(object("payments", "web", "u3", 1, 10)));
        assert_eq!(store.state().len(), 1);
    }

    #[tokio::test]
    async fn a_list_waits_for_room_until_kept_values_are_taken_or_patience_runs_out() {
        let pending = std::sync::Arc::new(Pending::default());
        let half = Pending::BUDGET / 2;
        let after = |wait: Duration| tokio::time::Instant::now() + wait;
        assert!(
            pending.room_for(half, after(Duration::ZERO)).await,
            "empty: room at once"
        );
        let first = object("payments", "a", "a", 1, half - "password".len());
        apply(&pending, &first);
        apply(
            &pending,
            &object("payments", "b", "b", 1, half - "password".len()),
        );
        assert_eq!(pending.bytes(), Pending::BUDGET);
        assert!(
            !pending.room_for(1, after(Duration::from_millis(50))).await,
            "full and nothing taken"
        );
        assert!(
            pending.room_for(Pending::BUDGET + 1, after(Duration::ZERO)).await,
            "values that can never be kept wait for nothing"
        );
        let taker = pending.clone();
        let mut trimmed = first.clone();
        trimmed.spec.encrypted_data.clear();
        let take = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            taker.take(&trimmed).is_some()
        });
        assert!(
            pending.room_for(half, after(Duration::from_secs(10))).await,
            "room once values are taken"
        );
        assert!(take.await.expect("joined"));
    }

    #[tokio::test]
    async fn the_first_list_waits_for_room_gives_up_on_a_stall_and_later_lists_never_wait() {
        use std::time::Instant;
        let pending = std::sync::Arc::new(Pending::default());
        let half = Pending::BUDGET / 2 - "password".len();
        let (a, b) = (
            object("payments", "a", "a", 1, half),
            object("payments", "b", "b", 1, half),
        );
        apply(&pending, &a);
        apply(&pending, &b);
        let next = || watcher::Event::InitApply(object("payments", "c", "c", 1, 100));
        let pacer = Pacer::with_limits(pending.clone(), Duration::from_secs(60), Duration::from_secs(1));
        pacer.pace(&watcher::Event::Init).await;
        // Full: the list waits until reconcile takes something...
        let taker = pending.clone();
        let mut trimmed = a.clone();
        trimmed.spec.encrypted_data.clear();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            taker.take(&trimmed)
        });
        let started = Instant::now();
        pacer.pace(&next()).await;
        assert!(
            started.elapsed() >= Duration::from_millis(40),
            "did not wait for room"
        );
        apply(&pending, &a);
        // ... and when nothing is taken, stops waiting for good.
        let started = Instant::now();
        pacer.pace(&next()).await;
        assert!(
            started.elapsed() >= Duration::from_millis(990),
            "gave up too soon"
        );
        let started = Instant::now();
        pacer.pace(&next()).await;
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "waited again after a stall"
        );

        // A new pacer whose first list completes: later lists go by without waiting.
        let pacer = Pacer::with_limits(pending.clone(), Duration::from_secs(60), Duration::from_secs(5));
        pacer.pace(&watcher::Event::InitDone).await;
        let started = Instant::now();
        pacer.pace(&next()).await;
        assert!(started.elapsed() < Duration::from_secs(1), "a later list waited");
        // The limit counts from the first listed object, not from the process's start.
        let pacer = Pacer::with_limits(pending, Duration::from_millis(100), Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(150)).await;
        let started = Instant::now();
        pacer.pace(&next()).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(90) && waited < Duration::from_secs(2),
            "waited {waited:?}, not the limit"
        );
    }

    #[tokio::test]
    async fn metadata_watches_ask_for_metadata_only() {
        let accepts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = accepts.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            seen.lock().expect("lock").push(
                request
                    .headers()
                    .get(http::header::ACCEPT)
                    .and_then(|a| a.to_str().ok())
                    .unwrap_or_default()
                    .to_owned(),
            );
            async move {
                let list = r#"{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadataList","metadata":{"resourceVersion":"5"},"items":[]}"#;
                http::Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(list.as_bytes().to_vec()))
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            }
        });
        let client = kube::Client::new(service, "default");
        // As the watches of key Secrets and produced Secrets are made.
        let api: kube::Api<kube::api::PartialObjectMeta<Secret>> = kube::Api::namespaced(client, "payments");
        let mut events = Box::pin(relisting(api, watcher::Config::default()));
        use futures::StreamExt;
        while let Some(event) = events.next().await {
            if matches!(event.expect("listed"), watcher::Event::InitDone) {
                break;
            }
        }
        let accepts = accepts.lock().expect("lock").clone();
        assert!(!accepts.is_empty());
        assert!(
            accepts.iter().all(|a| a.contains("as=PartialObjectMetadataList")),
            "a Secret's data must not be asked for: {accepts:?}"
        );
    }
}
