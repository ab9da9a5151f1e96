//! Reconcile: SealedSecret -> desired Secret -> server-side apply, then status and Events.
//! Small and driven by [`Context`], so tests run it against an in-memory API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;

use ageseal_core::crd::{
    BITNAMI_MANAGED_ANNOTATION, Condition, MANAGED_ANNOTATION, SealedSecret, SealedSecretStatus, spec_hash,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Client, Resource, ResourceExt};

use crate::events::Announcer;
use crate::keys::{FIELD_MANAGER, KeyStore};
use crate::lean::LeanSealedSecret;
use crate::metrics::Metrics;
use crate::secret::{Desired, Policy, desired_secret};
use crate::watch::{OwnedVersions, Pending, lock, object_key};

/// Resync period for objects that are Ready (watches catch every real change sooner).
const RESYNC: Duration = Duration::from_secs(3600);
const BACKOFF_START: Duration = Duration::from_secs(2);
const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// How soon a standby looks again at an object it could not check because no key was loaded.
const STANDBY_RETRY: Duration = Duration::from_secs(2);

/// Everything reconcile needs, shared by all reconciles.
pub struct Context {
    /// API client (a real cluster, or the in-memory API in tests).
    pub client: Client,
    /// This controller's region, written to status.
    pub region: String,
    /// The keys in force.
    pub keys: Arc<KeyStore>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Event recorder; `None` disables Events.
    pub recorder: Option<Announcer>,
    /// What a SealedSecret may become here.
    pub policy: Arc<Policy>,
    /// What the watches of produced Secrets saw (empty: no memo, every reconcile opens values).
    owned: Vec<Arc<OwnedVersions>>,
    pending: Arc<Pending>,
    failures: Mutex<HashMap<String, u32>>,
    written: Mutex<HashMap<String, Written>>,
    /// False on a standby replica: reconcile only learns what stands (see [`Context::standby`]).
    live: tokio::sync::watch::Sender<bool>,
    /// With leader election: when the Lease was last renewed; nothing is written unless recently.
    lease: Option<Arc<crate::lease::LeaseHold>>,
}

/// What the last successful reconcile of an object wrote, to know when nothing can have changed:
/// the same object (uid) with the same spec (generation), the same keys, and its Secret still at
/// the resourceVersion the controller left it at. Holds no value, only versions.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Written {
    uid: String,
    generation: i64,
    keys: u64,
    secret_version: String,
    /// The object's resourceVersion whose status this reconcile replaced with Ready, if it did.
    /// Until the watch delivers the status write, the cache still holds that version, with the
    /// old status: it stands for the Ready status just written.
    status_written_over: Option<String>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context for `region`.
    pub fn new(
        client: Client,
        region: &str,
        keys: Arc<KeyStore>,
        metrics: Arc<Metrics>,
        recorder: Option<Announcer>,
    ) -> Self {
        Self {
            client,
            region: region.to_owned(),
            keys,
            metrics,
            recorder,
            policy: Arc::default(),
            owned: Vec::new(),
            pending: Arc::default(),
            failures: Mutex::default(),
            written: Mutex::default(),
            live: tokio::sync::watch::channel(true).0,
            lease: None,
        }
    }

    /// The same context writing only while `hold` says the Lease was renewed within the renew
    /// deadline (checked before each Secret and status write).
    pub fn with_lease(mut self, hold: Arc<crate::lease::LeaseHold>) -> Self {
        self.lease = Some(hold);
        self
    }

    /// False when this replica leads by a Lease it has not renewed recently enough to write.
    fn holds_lease(&self) -> bool {
        self.lease.as_ref().is_none_or(|hold| hold.fresh())
    }

    /// The same context for a standby replica (warm standby): reconcile opens the values of Ready
    /// objects and compares them with the Secret as the leader would, but writes nothing (no
    /// Secret, status or Event); objects that are not Ready yet are the leader's to open. Where
    /// the Secret already holds the values, it remembers that, as after its own write; so once
    /// this replica leads ([`Context::go_live`]), objects that did not change cost no work and
    /// failover is bounded by the lease, not by reopening every value.
    pub fn standby(self) -> Self {
        self.live.send_replace(false);
        self
    }

    /// This replica now leads: reconciles write from here on, and [`Context::takeover`] fires.
    pub fn go_live(&self) {
        self.live.send_replace(true);
    }

    fn is_live(&self) -> bool {
        *self.live.borrow()
    }

    /// Yields once when this replica goes live (at once if it is), then never again: the
    /// controller's trigger to reconcile every object as the leader.
    pub fn takeover(&self) -> impl futures::Stream<Item = ()> + Send + 'static {
        let mut live = self.live.subscribe();
        futures::stream::once(async move {
            let _ = live.wait_for(|live| *live).await;
        })
        .chain(futures::stream::pending())
    }

    /// The same context reading the produced Secrets' versions from these watches, so a
    /// reconcile whose inputs and Secret did not change since it last wrote does nothing.
    pub fn with_owned_versions(mut self, owned: Vec<Arc<OwnedVersions>>) -> Self {
        self.owned = owned;
        self
    }

    /// Sealed values kept from watch events, shared with the watches ([`crate::watch::scope`]).
    pub fn with_pending(mut self, pending: Arc<Pending>) -> Self {
        self.pending = pending;
        self
    }

    fn owned_version(&self, key: &str) -> Option<String> {
        self.owned.iter().find_map(|versions| versions.get(key))
    }

    /// True when the watches of produced Secrets have listed them and none is `key`: its Secret
    /// is most likely missing, so [`write_secret`] tries to create it before reading it.
    fn secret_unknown(&self, key: &str) -> bool {
        !self.owned.is_empty()
            && self.owned.iter().all(|versions| versions.listed())
            && self.owned_version(key).is_none()
    }

    /// True when the last write for `key` still stands: see [`Written`].
    fn unchanged(&self, key: &str, obj: &SealedSecret, keys: u64) -> bool {
        let memo = lock(&self.written);
        let Some(written) = memo.get(key) else {
            return false;
        };
        let ready = ready_for_generation(obj)
            || (written.status_written_over.is_some()
                && obj.meta().resource_version == written.status_written_over);
        ready
            && Some(written.uid.as_str()) == obj.meta().uid.as_deref()
            && Some(written.generation) == obj.meta().generation
            && written.keys == keys
            && self.owned_version(key).as_deref() == Some(written.secret_version.as_str())
    }

    fn remember(&self, key: &str, written: Option<Written>) {
        let mut memo = lock(&self.written);
        match written {
            Some(written) => memo.insert(key.to_owned(), written),
            None => memo.remove(key),
        };
    }

    /// The same context with `policy` (the controller's own namespace, allowed Secret types).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// Forgets the failure counts of objects for which `exists` is false, so the map does not
    /// grow with objects that failed and went away. Returns how many were forgotten.
    pub fn forget_failures(&self, exists: impl Fn(&str) -> bool) -> usize {
        lock(&self.written).retain(|key, _| exists(key));
        let mut failures = lock(&self.failures);
        let before = failures.len();
        failures.retain(|key, _| exists(key));
        before - failures.len()
    }

    fn failure_count(&self, key: &str, reset: bool) -> u32 {
        let mut failures = lock(&self.failures);
        if reset {
            failures.remove(key);
            return 0;
        }
        let count = failures.entry(key.to_owned()).or_default();
        *count += 1;
        *count
    }
}

/// A reconcile that did not end Ready; the object's status already says why.
#[derive(Debug, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ReconcileError {
    /// Status reason.
    pub reason: &'static str,
    /// Detail with the remedy.
    pub message: String,
}

/// Why the Secret was not written.
#[derive(Debug)]
struct Failure {
    reason: &'static str,
    message: String,
}

fn api_failure(what: &str, err: &kube::Error) -> Failure {
    Failure {
        reason: "ApiError",
        message: describe_api_error(what, err),
    }
}

/// An API error in words, with the remedy: RBAC for 401/403, a retry otherwise.
pub fn describe_api_error(what: &str, err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if status.code == 401 || status.code == 403 => format!(
            "{what}: {err}; the controller's RBAC does not allow this: grant it as deploy/base/rbac.yaml does (will retry)"
        ),
        _ => format!("{what}: {err}; will retry"),
    }
}

/// Reconciles one SealedSecret. Every value must open and match its binding, or nothing is written.
pub async fn reconcile(obj: Arc<SealedSecret>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    ctx.metrics.reconciles.inc();
    let keys = ctx.keys.get();
    let key = object_key(obj.as_ref());
    if ctx.unchanged(&key, &obj, keys.epoch) {
        // Triggered by the controller's own write of the Secret, or by the resync: nothing to do.
        ctx.pending.forget(&key);
        return Ok(Action::requeue(RESYNC));
    }
    let epoch = keys.epoch;
    if !ctx.is_live() && !ready_for_generation(&obj) {
        // A standby learns which Secrets stand, and only a Ready object's can: opening one the
        // leader has not made Ready yet teaches it nothing (its kept values stay for whoever
        // opens it, this replica included once it leads).
        return Ok(Action::await_change());
    }
    if !ctx.is_live() && keys.keyring.is_empty() {
        // A standby whose keys have not loaded yet: look again soon rather than learn nothing.
        return Ok(Action::requeue(STANDBY_RETRY));
    }
    // The cache holds no sealed values (crate::watch::trim): take them from the watch event
    // that brought this spec if they were kept (crate::watch::Pending), else read the object.
    let obj = if !obj.spec.encrypted_data.is_empty() {
        obj
    } else if let Some(values) = ctx.pending.take(&obj) {
        let mut whole = SealedSecret::clone(&obj);
        whole.spec.encrypted_data = values;
        Arc::new(whole)
    } else {
        match whole(&ctx.client, &obj).await {
            Ok(Some(whole)) => Arc::new(whole),
            // Deleted meanwhile: its Secret goes with it (owner reference).
            Ok(None) => return Ok(Action::await_change()),
            Err(e) => {
                let message = describe_api_error("reading the SealedSecret", &e);
                tracing::warn!(object = %key, reason = "ApiError", "{message}");
                return Err(ReconcileError {
                    reason: "ApiError",
                    message,
                });
            }
        }
    };
    let started = Instant::now();
    // Opening values is CPU work (one Diffie-Hellman each, up to the trial limit for a crafted
    // object): run it on the blocking pool, so the one runtime thread keeps serving watches,
    // the Lease and the HTTP endpoints, and concurrent reconciles use the other cores.
    let target = obj.clone();
    let policy = ctx.policy.clone();
    let desired = tokio::task::spawn_blocking(move || desired_secret(&target, &keys.keyring, &policy))
        .await
        .map_err(|e| ReconcileError {
            reason: "MalformedValue",
            message: format!("opening values stopped unexpectedly: {e}"),
        })?;
    ctx.metrics
        .unseal_seconds
        .observe(started.elapsed().as_secs_f64());
    let key_id = desired
        .as_ref()
        .ok()
        .and_then(|d| d.key_id)
        .map(|id| id.to_string());
    if !ctx.is_live() {
        if let Ok(desired) = desired {
            learn_standing(&ctx, &key, &obj, desired, epoch).await;
        }
        return Ok(Action::await_change());
    }
    if !ctx.holds_lease() {
        return Ok(not_writing(&key));
    }
    let outcome = match desired {
        Err(e) => Err(Failure {
            reason: e.reason,
            message: format!("{}; {}", e.message, e.hint),
        }),
        Ok(desired) => apply_secret(&ctx.client, &obj, desired, ctx.secret_unknown(&key)).await,
    };
    let mut written = match (&outcome, obj.meta().uid.clone(), obj.meta().generation) {
        (Ok(Some(version)), Some(uid), Some(generation)) => Some(Written {
            uid,
            generation,
            keys: epoch,
            secret_version: version.clone(),
            status_written_over: None,
        }),
        _ => None,
    };
    if let (Ok(Some(version)), Some(namespace)) = (&outcome, obj.meta().namespace.as_deref()) {
        // Its watch event triggers nothing: the Secret is as this reconcile left it. (The memo
        // below covers an echo that comes before this note; the note spares the reconcile.)
        for versions in ctx.owned.iter().filter(|versions| versions.covers(namespace)) {
            versions.wrote(&key, version);
        }
    }
    let outcome = outcome.map(drop);
    let status = next_status(&obj, &outcome, &ctx.region, key_id);
    if obj.status.as_ref() != Some(&status) {
        if !ctx.holds_lease() {
            return Ok(not_writing(&key));
        }
        if let Err(e) = write_status(&ctx, &obj, &status).await {
            tracing::error!(object = %key, reason = e.reason, "{}", e.message);
            return Err(e);
        }
        announce(&ctx, &obj, &status).await;
        // The trigger that follows this write (the produced Secret's watch event) may find the
        // cache still at the version read here: it must not open every value again.
        written = written.map(|w| Written {
            status_written_over: obj.meta().resource_version.clone(),
            ..w
        });
    }
    ctx.remember(&key, written);
    match outcome {
        Ok(()) => {
            ctx.failure_count(&key, true);
            Ok(Action::requeue(RESYNC))
        }
        Err(failure) => {
            ctx.metrics.failed(failure.reason);
            tracing::warn!(object = %key, reason = failure.reason, "{}", failure.message);
            Err(ReconcileError {
                reason: failure.reason,
                message: failure.message,
            })
        }
    }
}

/// A leader that has not renewed its Lease within the renew deadline writes nothing: another
/// replica may be about to lead. It looks again after a retry period (the renewal loop ends the
/// process if the Lease is lost).
fn not_writing(key: &str) -> Action {
    tracing::warn!(object = %key, "not writing: the leader lease was not renewed within the renew deadline");
    Action::requeue(crate::lease::RETRY_PERIOD)
}

/// On a standby: remembers `obj` as written when its Secret already holds exactly what the leader
/// would write and its status says Ready for this generation. Reads only.
async fn learn_standing(ctx: &Context, key: &str, obj: &SealedSecret, mut desired: Desired, keys: u64) {
    let standing = standing(&ctx.client, obj, &desired).await;
    ageseal_core::sealed_file::wipe(&mut desired.secret);
    if let (true, Ok(Some(secret_version)), Some(uid), Some(generation)) = (
        ready_for_generation(obj),
        standing,
        obj.meta().uid.clone(),
        obj.meta().generation,
    ) {
        ctx.remember(
            key,
            Some(Written {
                uid,
                generation,
                keys,
                secret_version,
                status_written_over: None,
            }),
        );
    }
}

/// The object's status says Ready for its current generation.
pub(crate) fn ready_for_generation(obj: &SealedSecret) -> bool {
    obj.status.as_ref().is_some_and(|s| {
        s.observed_generation == obj.meta().generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// The object as the API server holds it now, sealed values included.
async fn whole(client: &Client, obj: &SealedSecret) -> Result<Option<SealedSecret>, kube::Error> {
    let api: Api<LeanSealedSecret> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    Ok(api.get_opt(&obj.name_any()).await?.map(SealedSecret::from))
}

/// Capped exponential backoff per object, retried forever.
pub fn error_policy(obj: Arc<SealedSecret>, _err: &ReconcileError, ctx: Arc<Context>) -> Action {
    let key = object_key(obj.as_ref());
    Action::requeue(backoff(ctx.failure_count(&key, false)))
}

/// Delay after the `n`th consecutive failure: 2 s, 4 s, 8 s, ... capped at 5 minutes.
pub fn backoff(n: u32) -> Duration {
    BACKOFF_START
        .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)))
        .min(BACKOFF_CAP)
}

/// The resourceVersion of the Secret when it already holds exactly `desired`; `None` when it
/// is missing or differs; an error when the controller may not write it at all.
async fn standing(client: &Client, obj: &SealedSecret, desired: &Desired) -> Result<Option<String>, Failure> {
    // Read through crate::answer: an answer that cannot be parsed is neither logged nor quoted.
    let request = kube::core::Request::new(Secret::url_path(&(), obj.namespace().as_deref()))
        .get(&obj.name_any(), &kube::api::GetParams::default());
    let existing: Option<Secret> = crate::answer::read_opt(client, request, "a Secret")
        .await
        .map_err(|e| api_failure("reading the Secret", &e))?;
    let Some(mut existing) = existing else {
        return Ok(None);
    };
    let verdict =
        check_may_write(obj, &existing, &desired.secret).map(|()| up_to_date(&existing, &desired.secret));
    ageseal_core::sealed_file::wipe(&mut existing);
    let same = verdict?;
    Ok(existing.resource_version().filter(|_| same))
}

/// Writes the Secret if it differs; gives the resourceVersion it is left at.
async fn apply_secret(
    client: &Client,
    obj: &SealedSecret,
    mut desired: Desired,
    create_first: bool,
) -> Result<Option<String>, Failure> {
    let result = write_secret(client, obj, &mut desired, create_first).await;
    ageseal_core::sealed_file::wipe(&mut desired.secret);
    result
}

/// A resourceVersion no stored object has: etcd starts at revision 1 and its first write is
/// revision 2. As a precondition of server-side apply it makes the apply create the object when
/// it is missing and fail with 409 Conflict, changing nothing, when it exists.
const NO_OBJECT_YET: &str = "1";

/// Writes the Secret. With `create_first` (the watch of produced Secrets does not know it) it
/// first applies on condition that no Secret of that name exists: one request instead of a read
/// and a write, and it can only create, never merge into a Secret someone else holds. Any
/// refusal (it exists after all, or a server that does not take the condition) falls back to the
/// checked path: read the Secret, refuse one the controller may not write, apply if it differs.
async fn write_secret(
    client: &Client,
    obj: &SealedSecret,
    desired: &mut Desired,
    create_first: bool,
) -> Result<Option<String>, Failure> {
    if create_first {
        desired.secret.metadata.resource_version = Some(NO_OBJECT_YET.to_owned());
        let created = send_apply(client, obj, desired).await;
        desired.secret.metadata.resource_version = None;
        match created {
            Ok(version) => return Ok(version),
            Err(kube::Error::Api(_)) => {}
            Err(e) => return Err(api_failure("creating the Secret", &e)),
        }
    }
    if let Some(version) = standing(client, obj, desired).await? {
        return Ok(Some(version));
    }
    send_apply(client, obj, desired)
        .await
        .map_err(|e| api_failure("applying the Secret", &e))
}

/// Server-side apply of the desired Secret; gives the resourceVersion it is left at.
async fn send_apply(
    client: &Client,
    obj: &SealedSecret,
    desired: &Desired,
) -> Result<Option<String>, kube::Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    // The answer is the Secret's metadata (crate::answer): only its resourceVersion is read.
    let request = kube::core::Request::new(Secret::url_path(&(), obj.namespace().as_deref())).patch(
        &obj.name_any(),
        &params,
        &Patch::Apply(&desired.secret),
    );
    let applied = crate::answer::send(client, request).await?;
    Ok(applied.resource_version())
}

fn owned_by(secret: &Secret, obj: &SealedSecret) -> bool {
    let uid = obj.meta().uid.as_deref();
    secret
        .owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && Some(o.uid.as_str()) == uid)
}

fn check_may_write(obj: &SealedSecret, existing: &Secret, desired: &Secret) -> Result<(), Failure> {
    let adoptable = [MANAGED_ANNOTATION, BITNAMI_MANAGED_ANNOTATION]
        .iter()
        .any(|key| existing.annotations().get(*key).is_some_and(|v| v == "true"));
    if !owned_by(existing, obj) && !adoptable {
        return Err(Failure {
            reason: "SecretNotOwned",
            message: format!(
                "Secret {} exists and is not managed by ageseal; annotate it {MANAGED_ANNOTATION}=\"true\" to let ageseal take it over, or delete it",
                existing.name_any()
            ),
        });
    }
    if existing.immutable == Some(true) && existing.data != desired.data {
        return Err(Failure {
            reason: "ImmutableConflict",
            message: format!(
                "Secret {} is immutable and its data must change; delete it so it is recreated, or seal under a new name",
                existing.name_any()
            ),
        });
    }
    Ok(())
}

/// True when applying `desired` would change nothing we manage.
fn up_to_date(existing: &Secret, desired: &Secret) -> bool {
    let contains = |have: &std::collections::BTreeMap<String, String>,
                    want: &std::collections::BTreeMap<String, String>| {
        want.iter().all(|(k, v)| have.get(k) == Some(v))
    };
    existing.data == desired.data
        && (desired.type_.is_none() || existing.type_ == desired.type_)
        && existing.immutable == desired.immutable
        && contains(existing.labels(), desired.labels())
        && contains(existing.annotations(), desired.annotations())
        && desired
            .owner_references()
            .iter()
            .all(|o| existing.owner_references().contains(o))
}

/// The status this outcome calls for; unchanged fields keep their values so an idle reconcile
/// produces an equal status and therefore no write.
fn next_status(
    obj: &SealedSecret,
    outcome: &Result<(), Failure>,
    region: &str,
    key_id: Option<String>,
) -> SealedSecretStatus {
    let previous = obj.status.clone().unwrap_or_default();
    let generation = obj.meta().generation;
    let (status, reason, message) = match outcome {
        Ok(()) => (
            "True",
            "Unsealed",
            format!("Secret {} is up to date", obj.name_any()),
        ),
        Err(f) => ("False", f.reason, f.message.clone()),
    };
    let old = previous.conditions.iter().find(|c| c.type_ == "Ready");
    let transition = match old {
        Some(c) if c.status == status && c.reason == reason => c.last_transition_time.clone(),
        _ => Some(now_rfc3339()),
    };
    let ready = Condition {
        type_: "Ready".to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time: transition,
    };
    let succeeded = outcome.is_ok();
    SealedSecretStatus {
        observed_generation: generation,
        region: Some(region.to_owned()),
        key_id: if succeeded { key_id } else { previous.key_id },
        spec_hash: if succeeded {
            Some(spec_hash(&obj.spec.encrypted_data))
        } else {
            previous.spec_hash
        },
        conditions: vec![ready],
    }
}

fn now_rfc3339() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    now.round(k8s_openapi::jiff::Unit::Second)
        .map_or_else(|_| now.to_string(), |t| t.to_string())
}

async fn write_status(
    ctx: &Context,
    obj: &SealedSecret,
    status: &SealedSecretStatus,
) -> Result<(), ReconcileError> {
    let patch = serde_json::json!({ "status": status });
    // The answer is the whole object, sealed values and managed fields included: not read.
    let request = kube::core::Request::new(SealedSecret::url_path(&(), obj.namespace().as_deref()))
        .patch_subresource(
            "status",
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        );
    crate::answer::send(&ctx.client, request)
        .await
        .map(drop)
        .map_err(|e| ReconcileError {
            reason: "ApiError",
            message: describe_api_error("writing status", &e),
        })
}

/// Emits an Event when the Ready condition changes status or reason.
async fn announce(ctx: &Context, obj: &SealedSecret, status: &SealedSecretStatus) {
    let Some(recorder) = &ctx.recorder else { return };
    let Some(ready) = status.conditions.first() else {
        return;
    };
    let before = obj.status.as_ref().and_then(|s| s.conditions.first());
    if before.is_some_and(|b| b.status == ready.status && b.reason == ready.reason) {
        return;
    }
    let event = Event {
        type_: if ready.status == "True" {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: ready.reason.clone(),
        note: Some(ready.message.clone()),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!("{}", describe_api_error("recording an Event", &e));
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(40), Duration::from_secs(300));
    }
}
