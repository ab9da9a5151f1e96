//! Lease-based leader election (coordination.k8s.io/v1): only the holder reconciles and makes
//! keys. A stale holder is replaced once its lease has expired; the API's resourceVersion check
//! makes two candidates racing for the same Lease end with one holder.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::http::Health;

/// How often candidates try to take the lease and the leader renews it (client-go's default).
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);
/// A leader that could not renew for this long stops, so two leaders never act at once
/// (client-go's default renew deadline; the lease itself lasts longer).
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);

/// One candidate for leadership.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    holder: String,
    duration: Duration,
    /// Another holder's Lease as this candidate last saw it change, on its own monotonic clock.
    seen: Arc<Mutex<Option<Seen>>>,
}

/// A Lease record held by another replica, and when (locally) it was first seen like that.
#[derive(Debug)]
struct Seen {
    /// The holder and the object's resourceVersion: any renewal changes the version.
    record: (Option<String>, Option<String>),
    since: Instant,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("name", &self.name)
            .field("holder", &self.holder)
            .finish()
    }
}

fn conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

impl LeaderElector {
    /// A candidate called `holder` for Lease `name`, holding it for `duration` per renewal.
    pub fn new(api: Api<Lease>, name: &str, holder: &str, duration: Duration) -> Self {
        Self {
            api,
            name: name.to_owned(),
            holder: holder.to_owned(),
            duration,
            seen: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether another holder's lease has expired, judged only by this replica's monotonic
    /// clock (client-go's rule): a full lease duration since the record last changed here. The
    /// holder's `renewTime` comes from its clock, and comparing it with ours let a replica whose
    /// clock ran 30 s ahead take a healthy leader's Lease, and one running behind wait the skew
    /// longer to fail over.
    fn expired_here(&self, lease: &Lease, held_for: Duration, local: Instant) -> bool {
        let holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone());
        let record = (holder, lease.metadata.resource_version.clone());
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.as_ref() {
            Some(last) if last.record == record => local.saturating_duration_since(last.since) >= held_for,
            _ => {
                *seen = Some(Seen { record, since: local });
                false
            }
        }
    }

    /// How long a lease lasts without renewal.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Takes or renews the lease, writing `now` (wall clock, for others to read) and judging
    /// another holder's expiry at `local` (this replica's monotonic clock); true when this
    /// candidate holds it afterwards.
    pub async fn try_acquire(&self, now: Timestamp, local: Instant) -> Result<bool, kube::Error> {
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.holder.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if conflict(&e) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(self.holder.as_str());
        // A holder that stepped down (`release`) left none: the lease is free at once.
        let free = spec.holder_identity.as_deref().is_none_or(str::is_empty);
        let held_for =
            Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(seconds)).unwrap_or(0));
        if !ours && !free && !self.expired_here(&lease, held_for, local) {
            return Ok(false);
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if !ours {
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            spec.holder_identity = Some(self.holder.clone());
        }
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(seconds);
        // `replace` carries the resourceVersion we read: a concurrent writer makes this a 409.
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Steps down (client-go's release on cancel): when this candidate holds the lease, leaves it
    /// with no holder, so another candidate takes it at its next try instead of waiting for it to
    /// expire. True when it was released; false when another holds it (nothing to give up).
    pub async fn release(&self, now: Timestamp) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(false);
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.holder.as_str()) {
            return Ok(false);
        }
        spec.holder_identity = None;
        spec.renew_time = Some(MicroTime(now));
        spec.lease_duration_seconds = Some(1);
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// When this replica last renewed its Lease, on its monotonic clock, as every write checks it.
/// A leader writes (Secrets, status, Events, keys) only while it renewed within
/// [`RENEW_DEADLINE`], checked right before the write, not only by the renewal loop: a leader
/// whose connection stalls stops writing before the Lease (15 s) can pass to another replica.
/// The time kept is when the renewal was sent, never later than the API server recorded it.
#[derive(Debug, Default)]
pub struct LeaseHold {
    /// When the last renewal the API server accepted was sent; `None` before the first.
    renewed: Mutex<Option<Instant>>,
}

impl LeaseHold {
    /// Notes a renewal the API server accepted, sent at `sent`.
    pub fn renewed(&self, sent: Instant) {
        *self
            .renewed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sent);
    }

    /// True while the last renewal is younger than [`RENEW_DEADLINE`] at `now`.
    pub fn fresh_at(&self, now: Instant) -> bool {
        self.renewed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|sent| now.saturating_duration_since(sent) < RENEW_DEADLINE)
    }

    /// [`LeaseHold::fresh_at`] now.
    pub fn fresh(&self) -> bool {
        self.fresh_at(Instant::now())
    }
}

/// Leadership held by this replica: renewed in the background until [`Leadership::release`].
#[derive(Debug)]
pub struct Leadership {
    elector: LeaderElector,
    renewal: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Stops renewing and gives the lease up, so a standby leads within one retry period instead
    /// of a whole lease duration. Called once this replica has stopped writing (after its
    /// controllers shut down on SIGTERM): the next leader never overlaps with it.
    pub async fn release(self) {
        self.renewal.abort();
        let _ = self.renewal.await;
        match self.elector.release(Timestamp::now()).await {
            Ok(true) => tracing::info!(replica = %self.elector.holder, "released the leader lease"),
            Ok(false) => tracing::info!("the leader lease was no longer ours to release"),
            Err(e) => tracing::warn!("releasing the leader lease: {e}; a standby takes over when it expires"),
        }
    }
}

/// Waits until this candidate holds the lease, retrying through API errors (shown on `/readyz`),
/// marks `health` as leading, then renews every [`RETRY_PERIOD`] in the background. Leadership lost
/// to another holder, or not renewed within [`RENEW_DEADLINE`], ends the process: Kubernetes
/// starts a fresh replica, which waits its turn.
pub async fn lead(elector: LeaderElector, health: Arc<Health>, hold: Arc<LeaseHold>) -> Leadership {
    const SOURCE: &str = "taking the leader lease";
    tracing::info!(replica = %elector.holder, "waiting for leadership");
    loop {
        let sent = Instant::now();
        match elector.try_acquire(Timestamp::now(), sent).await {
            Ok(true) => {
                hold.renewed(sent);
                break;
            }
            Ok(false) => health.set_problem(SOURCE, None),
            Err(e) => {
                tracing::warn!("{SOURCE}: {e}; retrying");
                health.set_problem(SOURCE, Some(e.to_string()));
            }
        }
        tokio::time::sleep(RETRY_PERIOD).await;
    }
    health.set_problem(SOURCE, None);
    health.leading.store(true, Ordering::SeqCst);
    tracing::info!(replica = %elector.holder, "leading");
    let renewing = elector.clone();
    let renewal = tokio::spawn(async move {
        let elector = renewing;
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(RETRY_PERIOD).await;
            let sent = Instant::now();
            // A request that hangs (a stalled connection) counts as failed at the deadline, so
            // the process ends instead of waiting on it while another replica takes over.
            let left = RENEW_DEADLINE.saturating_sub(renewed.elapsed()).max(RETRY_PERIOD);
            let attempt = tokio::time::timeout(left, elector.try_acquire(Timestamp::now(), sent))
                .await
                .unwrap_or_else(|_| Err(kube::Error::Service("renewal timed out".into())));
            match attempt {
                Ok(true) => {
                    renewed = sent;
                    hold.renewed(sent);
                }
                Ok(false) => {
                    tracing::error!(
                        "lost leadership to another replica; exiting so a fresh replica takes over"
                    );
                    std::process::exit(1);
                }
                Err(e) if renewed.elapsed() >= RENEW_DEADLINE => {
                    tracing::error!(
                        "could not renew the leader lease for {:?} ({e}); exiting so two leaders never act at once",
                        renewed.elapsed()
                    );
                    std::process::exit(1);
                }
                Err(e) => tracing::warn!("renewing the leader lease: {e}"),
            }
        }
    });
    Leadership { elector, renewal }
}
