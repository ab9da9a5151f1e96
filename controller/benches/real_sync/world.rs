//! What `real_sync` measures against: a local control plane with the API server's audit log on,
//! deploy/ installed, the region's key made as an operator would, N sealed objects, and the
//! `ageseal-controller` processes (release build) speaking as their ServiceAccount.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ageseal_core::Identity;
use ageseal_core::config::NamedRecipient;
use ageseal_testenv::controller::{Controller, Options, process_usage};
use ageseal_testenv::fleet::{Fleet, NAMESPACES, namespace};
use ageseal_testenv::{ControlPlane, User, http_get, wait_until};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
const SYSTEM: &str = "ageseal-system";

/// What a cold sync cost.
#[derive(Debug, Clone, Copy)]
pub struct Sync {
    pub wall: Duration,
    pub controller_cpu: f64,
    pub peak_rss: u64,
    pub apiserver_cpu: f64,
    pub etcd_cpu: f64,
    /// Reconciles run, and how many of them opened values.
    pub reconciles: u64,
    pub opened: u64,
    /// SealedSecrets read one by one (GET), by the API server's request counter: the objects
    /// whose sealed values were not kept from the watch.
    pub object_reads: u64,
}

pub struct World {
    plane: ControlPlane,
    n: usize,
    fleet: Fleet,
    controllers: Vec<Controller>,
    audit: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

/// The `p`th percentile of `samples`.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((p / 100.0) * (sorted.len().saturating_sub(1)) as f64).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

impl World {
    /// A control plane holding N sealed objects and the region's key; no controller yet.
    pub fn start(n: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = dir.path().join("audit-policy.yaml");
        std::fs::write(
            &policy,
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n  verbs: [create, update, patch, delete]\n  resources:\n  - {group: '', resources: [secrets]}\n  - {group: ageseal.io, resources: [sealedsecrets, sealedsecrets/status]}\n- level: None\n",
        )
        .expect("policy");
        let audit = dir.path().join("audit.log");
        let flags = [
            format!("--audit-policy-file={}", policy.display()),
            format!("--audit-log-path={}", audit.display()),
            "--audit-log-format=json".to_owned(),
        ];
        let plane = ControlPlane::start_local_with(&flags).expect("control plane");
        ageseal_testenv::deploy::install(&plane).expect("deploy/");
        let key = Identity::generate();
        let key_file = dir.path().join("region.key");
        std::fs::write(&key_file, key.to_identity_file("2026-01-01T00:00:00Z").as_str()).expect("key");
        let kubectl = plane.kubectl();
        kubectl.ok(
            &[
                "create",
                "secret",
                "generic",
                "ageseal-key-000000000000",
                "-n",
                SYSTEM,
                "--type=ageseal.io/key",
                &format!("--from-file=identity={}", key_file.display()),
                "--field-manager=ageseal-controller",
            ],
            None,
        );
        kubectl.ok(
            &[
                "label",
                "secret",
                "ageseal-key-000000000000",
                "-n",
                SYSTEM,
                "ageseal.io/key=active",
            ],
            None,
        );
        for i in 0..NAMESPACES {
            kubectl.namespace(&namespace(i));
        }
        let fleet = Fleet::new(
            plane.admin_kubeconfig(),
            NamedRecipient::new("us-east-1", key.recipient().clone()),
        );
        let world = World {
            plane,
            n,
            fleet,
            controllers: Vec::new(),
            audit,
            _dir: dir,
        };
        let started = Instant::now();
        world.fleet.create(n);
        println!(
            "N={n}: {n} SealedSecrets sealed and created in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        world
    }

    fn controller(&self, replica: &str) -> Controller {
        let options = Options {
            region: "us-east-1".into(),
            controller_namespace: SYSTEM.into(),
            namespaces: Vec::new(),
            args: vec!["--leader-election".into()],
            env: vec![("RUST_LOG".into(), "info,kube=warn".into())],
            replica: replica.into(),
            user: User::Controller,
            wrapper: std::env::var("AGESEAL_BENCH_WRAPPER")
                .map(|w| w.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
        };
        Controller::start(&self.plane, options)
    }

    fn cpu_of(&self, component: &str) -> f64 {
        self.plane
            .pids()
            .into_iter()
            .find(|(name, _)| *name == component)
            .and_then(|(_, pid)| process_usage(pid))
            .map_or(0.0, |(_, cpu)| cpu)
    }

    /// Single SealedSecrets read (GET; a list is LIST) that the API server has answered so far
    /// (`apiserver_request_total`), for clients other than the control plane's own
    /// (kube-controller-manager's garbage collector reads owners it has not seen yet: 329 and 363
    /// GETs in syncs of 1,000).
    fn object_reads(&self) -> u64 {
        let request = http::Request::get("/metrics").body(Vec::new()).expect("request");
        let text = self
            .fleet
            .runtime
            .block_on(self.fleet.client.request_text(request))
            .expect("the API server's metrics");
        text.lines()
            .filter(|l| {
                l.starts_with("apiserver_request_total{")
                    && l.contains("resource=\"sealedsecrets\"")
                    && l.contains("verb=\"GET\"")
                    && l.contains("subresource=\"\"")
                    && l.contains("system_client=\"\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Starts the first controller and waits until every object has its Secret and is Ready.
    pub fn cold_sync(&mut self) -> Sync {
        let (api_before, etcd_before) = (self.cpu_of("kube-apiserver"), self.cpu_of("etcd"));
        let reads_before = self.object_reads();
        let started = Instant::now();
        let controller = self.controller("sync-a");
        let n = self.n;
        wait_until("every Secret", Duration::from_secs(1800), || {
            std::thread::sleep(Duration::from_millis(500));
            (self.fleet.secrets_made() >= n).then_some(())
        });
        wait_until("every object Ready", Duration::from_secs(600), || {
            (self.fleet.ready() >= n).then_some(())
        });
        let wall = started.elapsed();
        let (peak_rss, controller_cpu) = controller.usage().expect("controller runs");
        std::thread::sleep(Duration::from_secs(2));
        let reconciles = Self::reconciles(&controller);
        let opened = Self::metric(&controller, "ageseal_unseal_duration_seconds_count");
        let sync = Sync {
            wall,
            controller_cpu,
            peak_rss,
            apiserver_cpu: self.cpu_of("kube-apiserver") - api_before,
            etcd_cpu: self.cpu_of("etcd") - etcd_before,
            reconciles,
            opened,
            object_reads: self.object_reads().saturating_sub(reads_before),
        };
        self.controllers.push(controller);
        sync
    }

    /// Latency from each apply to the Secret holding the new value, over `count` changes.
    pub fn change_latencies(&mut self, count: usize) -> Vec<Duration> {
        let (sender, receiver) = std::sync::mpsc::channel::<(String, Vec<u8>, Instant)>();
        let api: Api<Secret> = Api::namespaced(self.fleet.client.clone(), &namespace(0));
        let watch = self.fleet.runtime.spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).applied_objects().boxed();
            while let Some(Ok(secret)) = events.next().await {
                let password = secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get("password"))
                    .map(|v| v.0.clone());
                if let (Some(name), Some(password)) = (secret.metadata.name, password) {
                    let _ = sender.send((name, password, Instant::now()));
                }
            }
        });
        std::thread::sleep(Duration::from_secs(2));
        let mut latencies = Vec::with_capacity(count);
        for k in 0..count {
            let i = (k * NAMESPACES) % self.n;
            let password = format!("changed-{k}");
            let sent = Instant::now();
            self.fleet.change(i, &password);
            let name = format!("app-{i}");
            let seen = loop {
                let (who, value, at) = receiver
                    .recv_timeout(Duration::from_secs(60))
                    .expect("the Secret changes");
                if who == name && value == password.as_bytes() {
                    break at;
                }
            };
            latencies.push(seen - sent);
        }
        watch.abort();
        latencies
    }

    fn audit_writes_since(&self, offset: u64) -> usize {
        let text = std::fs::read_to_string(&self.audit).unwrap_or_default();
        text.get(usize::try_from(offset).unwrap_or(0)..)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("system:serviceaccount:ageseal-system:ageseal-controller"))
            .filter(|line| line.contains("\"stage\":\"ResponseComplete\""))
            .count()
    }

    fn metric(controller: &Controller, name: &str) -> u64 {
        http_get(controller.addr, "/metrics")
            .and_then(|(_, body)| {
                body.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .map_or(0, |v| v as u64)
    }

    fn reconciles(controller: &Controller) -> u64 {
        Self::metric(controller, "ageseal_reconciles_total")
    }

    /// Restarts the controller with every object Ready; counts the writes it makes (goal 0) and
    /// how long until it has looked at every object again.
    pub fn restart_writes(&mut self) -> (usize, Duration) {
        for mut controller in self.controllers.drain(..) {
            controller.terminate();
        }
        std::thread::sleep(Duration::from_secs(1));
        let offset = std::fs::metadata(&self.audit).map_or(0, |m| m.len());
        let started = Instant::now();
        let controller = self.controller("sync-restarted");
        let n = self.n as u64;
        wait_until("every object reconciled again", Duration::from_secs(900), || {
            (Self::reconciles(&controller) >= n).then_some(())
        });
        let took = started.elapsed();
        std::thread::sleep(Duration::from_secs(3));
        let writes = self.audit_writes_since(offset);
        self.controllers.push(controller);
        (writes, took)
    }

    fn leader(&self) -> Option<String> {
        let lease = self.plane.kubectl().get("lease", SYSTEM, "ageseal-controller")?;
        lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
    }

    /// `kill -9` of the leader `rounds` times, each time timing until the standby applied a change.
    pub fn failovers(&mut self, rounds: usize) -> Vec<Duration> {
        let standby = self.controller("sync-standby-0");
        standby.wait_ready(Duration::from_secs(120));
        self.controllers.push(standby);
        let mut times = Vec::new();
        for round in 0..rounds {
            let leader = wait_until("a leader", Duration::from_secs(120), || self.leader());
            let index = self
                .controllers
                .iter()
                .position(|c| c.options.replica == leader)
                .expect("the leader is one of ours");
            let mut dead = self.controllers.remove(index);
            let killed = Instant::now();
            dead.kill();
            let i = round * NAMESPACES % self.n;
            let password = format!("failover-{round}");
            self.fleet.change(i, &password);
            wait_until(
                "the standby to apply the change",
                Duration::from_secs(300),
                || {
                    std::thread::sleep(Duration::from_millis(100));
                    (self.fleet.password(i)? == password.as_bytes()).then_some(())
                },
            );
            times.push(killed.elapsed());
            // Kubernetes starts a replacement, which waits as the next standby.
            let replacement = self.controller(&format!("sync-standby-{}", round + 1));
            replacement.wait_ready(Duration::from_secs(300));
            self.controllers.push(replacement);
        }
        times
    }
}
