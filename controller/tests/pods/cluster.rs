//! The suite's cluster: a local control plane with ServiceAccount admission and an audit log of
//! Secret writes, a real node, the controller image from `scripts/image.sh` imported into it,
//! and deploy/overlays/us-east-1 applied as shipped with only the image reference replaced.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ageseal_testenv::node::Node;
use ageseal_testenv::{ControlPlane, Kubectl, wait_until};

use crate::support::{seal_secret, secret_value};

/// The controller's namespace, as deploy/ creates it.
pub const SYSTEM: &str = "ageseal-system";
/// Where the tests' own SealedSecrets live.
pub const APPS: &str = "apps";
/// The Pods' label, from deploy/base.
pub const SELECTOR: &str = "app.kubernetes.io/name=ageseal-controller";
/// The image scripts/image.sh builds.
pub const IMAGE: &str = concat!("localhost/ageseal-controller:", env!("CARGO_PKG_VERSION"));
/// The controller's ServiceAccount, as the audit log names it.
const CONTROLLER_USER: &str = "system:serviceaccount:ageseal-system:ageseal-controller";

/// Control plane, node and image; the node goes first on drop.
pub struct Cluster {
    pub node: Node,
    pub plane: ControlPlane,
    pub kubectl: Kubectl,
    audit: PathBuf,
    /// How long the first apply took to two Ready replicas (once per suite).
    deployed: OnceLock<Duration>,
    /// The audit policy and log, removed after the control plane stops.
    _scratch: tempfile::TempDir,
}

impl Cluster {
    /// Starts everything but the Deployment.
    pub fn start() -> Result<Self, String> {
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let policy = scratch.path().join("audit-policy.yaml");
        std::fs::write(
            &policy,
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n  verbs: [create, update, patch, delete]\n  resources:\n  - {group: '', resources: [secrets]}\n- level: None\n",
        )
        .map_err(|e| e.to_string())?;
        let flags = [
            format!("--audit-policy-file={}", policy.display()),
            format!("--audit-log-path={}", scratch.path().join("audit.log").display()),
            "--audit-log-format=json".to_owned(),
        ];
        let plane = ControlPlane::start_for_node(&flags)?;
        ageseal_testenv::deploy::install_crd(&plane)?;
        let node = Node::start(&plane)?;
        let image = match std::env::var_os("AGESEAL_IMAGE_TAR").filter(|p| !p.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => build_image(plane.scratch())?,
        };
        let imported = Instant::now();
        node.import(&image)?;
        println!(
            "pods: node Ready, {} imported in {:.1} s",
            image.display(),
            imported.elapsed().as_secs_f64()
        );
        let kubectl = plane.kubectl();
        kubectl.namespace(APPS);
        let cluster = Cluster {
            node,
            kubectl,
            audit: scratch.path().join("audit.log"),
            plane,
            deployed: OnceLock::new(),
            _scratch: scratch,
        };
        Ok(cluster)
    }

    /// Applies the overlay once and waits for two Ready replicas; the time it took.
    pub fn deployed(&self) -> Duration {
        *self.deployed.get_or_init(|| {
            let rendered = ageseal_testenv::deploy::render_with_image(
                &self.plane,
                "us-east-1",
                IMAGE,
                &self.plane.scratch().join("overlay"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert!(rendered.contains(&format!("image: {IMAGE}")), "{rendered}");
            let applied = Instant::now();
            self.kubectl.apply(&rendered);
            self.wait_replicas_ready(Duration::from_secs(120));
            let took = applied.elapsed();
            println!(
                "pods: kubectl apply -> both replicas Ready in {:.1} s",
                took.as_secs_f64()
            );
            took
        })
    }

    /// The controller's Pods that are not being deleted.
    pub fn pods(&self) -> Vec<serde_json::Value> {
        let out = self
            .kubectl
            .ok(&["get", "pods", "-n", SYSTEM, "-l", SELECTOR, "-o", "json"], None);
        let list: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        list["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
            .collect()
    }

    /// Waits until the Deployment has two updated, Ready replicas and no others.
    pub fn wait_replicas_ready(&self, timeout: Duration) {
        wait_until("two Ready replicas", timeout, || {
            let deployment = self.kubectl.get("deployment", SYSTEM, "ageseal-controller")?;
            let status = &deployment["status"];
            let settled = status["observedGeneration"] == deployment["metadata"]["generation"]
                && status["updatedReplicas"] == 2
                && status["readyReplicas"] == 2
                && status["replicas"] == 2;
            let all = self
                .kubectl
                .ok(&["get", "pods", "-n", SYSTEM, "-l", SELECTOR, "-o", "name"], None);
            (settled && all.lines().count() == 2 && self.pods().iter().all(is_ready)).then_some(())
        });
    }

    /// The Lease holder.
    pub fn leader(&self) -> Option<String> {
        let lease = self.kubectl.get("lease", SYSTEM, "ageseal-controller")?;
        lease["spec"]["holderIdentity"]
            .as_str()
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
    }

    /// Waits for a Lease holder that is one of the running Pods: for a moment after a leader
    /// stepped down there is none, and after a forced delete the Lease still names the gone Pod.
    pub fn wait_leader(&self) -> String {
        wait_until("a running Pod to lead", Duration::from_secs(60), || {
            let holder = self.leader()?;
            let running = self
                .pods()
                .iter()
                .any(|pod| pod["metadata"]["name"] == holder.as_str() && is_ready(pod));
            running.then_some(holder)
        })
    }

    /// The public key the region publishes (ConfigMap ageseal-recipients, newest first).
    pub fn recipient(&self) -> String {
        let map = self
            .kubectl
            .get("configmap", SYSTEM, "ageseal-recipients")
            .expect("the leader published its keys");
        map["data"]["recipients"]
            .as_str()
            .and_then(|lines| lines.lines().next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no recipient in {map}"))
    }

    /// Seals `password=value` as Secret `name` in [`APPS`] with the `ageseal` binary and applies it.
    pub fn seal_and_apply(&self, name: &str, value: &str) {
        let recipient = self.recipient();
        let sealed = seal_secret(APPS, name, &[("password", value)], &[&recipient], &[]);
        self.kubectl.apply(&sealed);
    }

    /// Waits until Secret `name` holds `value`; how long that took.
    pub fn wait_value(&self, name: &str, value: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        wait_until(&format!("Secret {name} to hold its value"), timeout, || {
            std::thread::sleep(Duration::from_millis(50));
            (secret_value(&self.kubectl, APPS, name, "password").as_deref() == Some(value.as_bytes()))
                .then_some(())
        });
        start.elapsed()
    }

    /// Where the audit log is now: count writes after this.
    pub fn audit_offset(&self) -> u64 {
        std::fs::metadata(&self.audit).map_or(0, |m| m.len())
    }

    /// Writes to Secrets by the controller's ServiceAccount since `offset`, as audit lines.
    pub fn controller_secret_writes_since(&self, offset: u64) -> Vec<String> {
        let text = std::fs::read_to_string(&self.audit).unwrap_or_default();
        text.get(usize::try_from(offset).unwrap_or(0)..)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(CONTROLLER_USER))
            .filter(|line| line.contains("\"stage\":\"ResponseComplete\""))
            .map(str::to_owned)
            .collect()
    }

    /// The node's and the control plane's logs, for failure reports.
    pub fn logs(&self) -> String {
        let pods = self
            .kubectl
            .run(
                &["logs", "-n", SYSTEM, "-l", SELECTOR, "--tail=40", "--prefix"],
                None,
            )
            .unwrap_or_else(|e| e);
        format!(
            "{}{}\n----- controller Pods -----\n{pods}",
            self.node.logs(),
            self.plane.logs()
        )
    }
}

/// A Pod whose Ready condition is True.
pub fn is_ready(pod: &serde_json::Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// `scripts/image.sh OUT.tar` into `dir`, when the suite is run without `AGESEAL_IMAGE_TAR`.
fn build_image(dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("ageseal-controller.tar");
    let script = ageseal_testenv::workspace_dir().join("scripts/image.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(&out)
        .status()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!("{} failed", script.display()));
    }
    Ok(out)
}
