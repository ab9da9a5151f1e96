//! A real Kubernetes control plane for tests, in the envtest layout: etcd, kube-apiserver and
//! kube-controller-manager from `KUBEBUILDER_ASSETS`, on free loopback ports in a temporary
//! folder, with identities from a token file and a kubeconfig that trusts the API server's own
//! certificate. Or, with `AGESEAL_E2E_KUBECONFIG`, a cluster someone else runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use crate::kubectl::Kubectl;
use crate::process::{Process, free_port, wait_until};

/// Folder holding `etcd`, `kube-apiserver` and `kube-controller-manager` (envtest convention).
pub const ASSETS_ENV: &str = "KUBEBUILDER_ASSETS";
/// A kubeconfig for a real cluster to run the suites against instead of a local control plane.
pub const EXTERNAL_ENV: &str = "AGESEAL_E2E_KUBECONFIG";

const BINARIES: [&str; 3] = ["etcd", "kube-apiserver", "kube-controller-manager"];

/// Who a kubeconfig speaks as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// `system:masters`.
    Admin,
    /// The controller's ServiceAccount, `system:serviceaccount:ageseal-system:ageseal-controller`
    /// with its groups: it has exactly the RBAC that deploy/ grants.
    Controller,
}

/// The controller's ServiceAccount, as deploy/ creates it.
pub const CONTROLLER_SA: (&str, &str) = ("ageseal-system", "ageseal-controller");

#[derive(Debug)]
struct Local {
    api_port: u16,
    etcd: Mutex<Option<Process>>,
    apiserver: Mutex<Option<Process>>,
    kcm: Mutex<Option<Process>>,
    assets: PathBuf,
    apiserver_flags: Vec<String>,
    /// ServiceAccount admission on: Pods get their token volume, as in a cluster (a node needs
    /// it; without a node the tests give tokens by hand and leave it off).
    service_account_admission: bool,
}

/// A control plane and the kubeconfigs to reach it.
#[derive(Debug)]
pub struct ControlPlane {
    dir: tempfile::TempDir,
    local: Option<Local>,
    admin: PathBuf,
    server: String,
    ca: PathBuf,
}

/// Why no control plane can be had here; the suite reports it as SKIPPED.
pub fn unavailable() -> Option<String> {
    if std::env::var_os(EXTERNAL_ENV).is_some() {
        return None;
    }
    assets().err()
}

/// The envtest binaries folder, checked.
pub fn assets() -> Result<PathBuf, String> {
    let dir = std::env::var_os(ASSETS_ENV).map(PathBuf::from).ok_or_else(|| {
        format!(
            "{ASSETS_ENV} is not set (scripts/test.sh sets it; elsewhere: setup-envtest use 1.36.x -p path)"
        )
    })?;
    for binary in BINARIES {
        if !dir.join(binary).is_file() {
            return Err(format!("{ASSETS_ENV}={} holds no {binary}", dir.display()));
        }
    }
    Ok(dir)
}

fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom is readable");
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn run_ok(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

impl ControlPlane {
    /// A local control plane when `KUBEBUILDER_ASSETS` names the binaries, else the cluster of
    /// `AGESEAL_E2E_KUBECONFIG`.
    pub fn start() -> Result<Self, String> {
        match std::env::var_os(EXTERNAL_ENV) {
            Some(kubeconfig) => Self::external(Path::new(&kubeconfig)),
            None => Self::start_local(),
        }
    }

    /// A control plane of its own, always local (for tests that kill the API server).
    pub fn start_local() -> Result<Self, String> {
        Self::start_local_with(&[])
    }

    /// [`ControlPlane::start_local`] with extra kube-apiserver flags (e.g. an audit log).
    pub fn start_local_with(apiserver_flags: &[String]) -> Result<Self, String> {
        Self::start_local_as(apiserver_flags, false)
    }

    /// A local control plane ready for a [`crate::node::Node`]: ServiceAccount admission on, so
    /// Pods get projected tokens as in a cluster, and extra kube-apiserver flags.
    pub fn start_for_node(apiserver_flags: &[String]) -> Result<Self, String> {
        Self::start_local_as(apiserver_flags, true)
    }

    fn start_local_as(apiserver_flags: &[String], service_account_admission: bool) -> Result<Self, String> {
        let assets = assets()?;
        let dir = tempfile::Builder::new()
            .prefix("ageseal-control-plane-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let path = dir.path();
        run_ok(
            Command::new("openssl")
                .args(["genrsa", "-out"])
                .arg(path.join("sa.key"))
                .arg("2048"),
            "openssl genrsa (the ServiceAccount signing key)",
        )?;
        run_ok(
            Command::new("openssl")
                .args(["rsa", "-pubout", "-in"])
                .arg(path.join("sa.key"))
                .arg("-out")
                .arg(path.join("sa.pub")),
            "openssl rsa -pubout",
        )?;
        let (admin_token, controller_token) = (random_token(), random_token());
        let (ns, sa) = CONTROLLER_SA;
        let tokens = format!(
            "{admin_token},admin,admin-uid,\"system:masters\"\n{controller_token},system:serviceaccount:{ns}:{sa},controller-uid,\"system:serviceaccounts,system:serviceaccounts:{ns}\"\n"
        );
        std::fs::write(path.join("tokens.csv"), tokens).map_err(|e| format!("tokens.csv: {e}"))?;
        let api_port = free_port();
        let server = format!("https://127.0.0.1:{api_port}");
        let ca = path.join("certs/apiserver.crt");
        let plane = ControlPlane {
            admin: path.join("kubeconfig"),
            server,
            ca,
            local: Some(Local {
                api_port,
                etcd: Mutex::new(None),
                apiserver: Mutex::new(None),
                kcm: Mutex::new(None),
                assets,
                apiserver_flags: apiserver_flags.to_vec(),
                service_account_admission,
            }),
            dir,
        };
        plane.write_kubeconfig(
            &plane.admin,
            &[("admin", &admin_token), ("controller", &controller_token)],
        )?;
        plane.start_etcd()?;
        plane.start_apiserver()?;
        plane.start_kcm()?;
        Ok(plane)
    }

    fn external(kubeconfig: &Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let kubectl = Kubectl::new(kubeconfig);
        let server = kubectl
            .run(
                &[
                    "config",
                    "view",
                    "--minify",
                    "-o",
                    "jsonpath={.clusters[0].cluster.server}",
                ],
                None,
            )
            .map_err(|e| format!("{EXTERNAL_ENV}: {e}"))?;
        let ca_data = kubectl
            .run(
                &[
                    "config",
                    "view",
                    "--raw",
                    "--minify",
                    "--flatten",
                    "-o",
                    "jsonpath={.clusters[0].cluster.certificate-authority-data}",
                ],
                None,
            )
            .map_err(|e| format!("{EXTERNAL_ENV}: {e}"))?;
        let ca = dir.path().join("ca.crt");
        let decoded = Command::new("base64")
            .arg("-d")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().map(|mut s| s.write_all(ca_data.as_bytes()));
                child.wait_with_output()
            })
            .map_err(|e| format!("decoding the cluster CA: {e}"))?;
        std::fs::write(&ca, decoded.stdout).map_err(|e| format!("{}: {e}", ca.display()))?;
        Ok(ControlPlane {
            admin: kubeconfig.to_path_buf(),
            server,
            ca,
            local: None,
            dir,
        })
    }

    /// True for a control plane this process runs (it can be stopped and restarted).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The certificate (authority) the API server serves with.
    pub fn ca(&self) -> &Path {
        &self.ca
    }

    /// A kubeconfig speaking as the admin (`system:masters`).
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin
    }

    /// kubectl as the admin.
    pub fn kubectl(&self) -> Kubectl {
        Kubectl::new(&self.admin)
    }

    /// A kubeconfig speaking as `user`. For the controller on an external cluster this asks the
    /// TokenRequest API for a token of its ServiceAccount (deploy/ must be applied first).
    pub fn kubeconfig(&self, user: User) -> Result<PathBuf, String> {
        match (user, &self.local) {
            (User::Admin, _) => Ok(self.admin.clone()),
            (User::Controller, Some(_)) => {
                let path = self.dir.path().join("kubeconfig-controller");
                if !path.exists() {
                    let text = std::fs::read_to_string(&self.admin).map_err(|e| e.to_string())?;
                    let only = text.replace("current-context: admin", "current-context: controller");
                    std::fs::write(&path, only).map_err(|e| e.to_string())?;
                }
                Ok(path)
            }
            (User::Controller, None) => {
                let (ns, sa) = CONTROLLER_SA;
                self.service_account_kubeconfig(ns, sa)
            }
        }
    }

    /// A kubeconfig with a fresh token of ServiceAccount `namespace/name` (TokenRequest).
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> Result<PathBuf, String> {
        let token = self.kubectl().run(
            &["create", "token", name, "-n", namespace, "--duration", "6h"],
            None,
        )?;
        let path = self.dir.path().join(format!("kubeconfig-sa-{namespace}-{name}"));
        self.write_kubeconfig(&path, &[("sa", token.trim())])?;
        Ok(path)
    }

    /// Writes a kubeconfig with one context per `(name, token)`; the first is current.
    fn write_kubeconfig(&self, path: &Path, users: &[(&str, &str)]) -> Result<(), String> {
        let mut text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n",
            self.server,
            self.ca.display()
        );
        for (name, token) in users {
            let _ = write!(text, "- name: {name}\n  user:\n    token: {token}\n");
        }
        text.push_str("contexts:\n");
        for (name, _) in users {
            let _ = write!(
                text,
                "- name: {name}\n  context:\n    cluster: envtest\n    user: {name}\n"
            );
        }
        let _ = writeln!(text, "current-context: {}", users[0].0);
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes one kubeconfig with a context per `(name, control plane, user)`, the first current:
    /// what an operator of several regions has.
    pub fn merged_kubeconfig(path: &Path, contexts: &[(&str, &ControlPlane, User)]) -> Result<(), String> {
        let mut clusters = String::new();
        let mut users = String::new();
        let mut entries = String::new();
        for (name, plane, user) in contexts {
            let (server, ca, token) = plane.credentials(*user)?;
            let _ = write!(
                clusters,
                "- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority: {}\n",
                ca.display()
            );
            let _ = write!(users, "- name: {name}\n  user:\n    token: {token}\n");
            let _ = write!(
                entries,
                "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
            );
        }
        let current = contexts.first().map_or("", |c| c.0);
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n{users}contexts:\n{entries}current-context: {current}\n"
        );
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The context entry of this control plane as `user`, for merging several clusters into one
    /// kubeconfig: `(server, certificate-authority path, token)`.
    pub fn credentials(&self, user: User) -> Result<(String, PathBuf, String), String> {
        let kubeconfig = self.kubeconfig(user)?;
        let token = Kubectl::new(&kubeconfig).run(
            &[
                "config",
                "view",
                "--raw",
                "--minify",
                "-o",
                "jsonpath={.users[0].user.token}",
            ],
            None,
        )?;
        Ok((self.server.clone(), self.ca.clone(), token.trim().to_owned()))
    }

    fn local(&self) -> Result<&Local, String> {
        self.local
            .as_ref()
            .ok_or_else(|| "this needs a local control plane, not an external cluster".to_owned())
    }

    fn spawn(&self, name: &str, command: &Command) -> Result<Process, String> {
        let log = self.dir.path().join(format!("{name}.log"));
        Process::spawn(name, command, &log).map_err(|e| format!("starting {name}: {e}"))
    }

    fn start_etcd(&self) -> Result<(), String> {
        let local = self.local()?;
        let (client, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut command = Command::new(local.assets.join("etcd"));
        command
            .arg("--data-dir")
            .arg(self.dir.path().join("etcd"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("default={peer_url}")])
            .args(["--log-level", "warn"]);
        let process = self.spawn("etcd", &command)?;
        std::fs::write(self.dir.path().join("etcd-url"), &client_url).map_err(|e| e.to_string())?;
        *local.etcd.lock().map_err(|e| e.to_string())? = Some(process);
        wait_until("etcd to accept connections", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", client)).ok()
        });
        Ok(())
    }

    /// Starts (or restarts, on the same port and certificate) the API server and waits until it
    /// is ready and serves the OpenAPI document kubectl validates against.
    pub fn start_apiserver(&self) -> Result<(), String> {
        let local = self.local()?;
        let path = self.dir.path();
        let etcd = std::fs::read_to_string(path.join("etcd-url")).map_err(|e| e.to_string())?;
        let mut command = Command::new(local.assets.join("kube-apiserver"));
        command
            .arg(format!("--etcd-servers={etcd}"))
            .arg(format!("--secure-port={}", local.api_port))
            .args([
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.0.0.0/24",
            ])
            .arg(format!("--cert-dir={}", path.join("certs").display()))
            .arg(format!(
                "--service-account-key-file={}",
                path.join("sa.pub").display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                path.join("sa.key").display()
            ))
            .arg(format!("--token-auth-file={}", path.join("tokens.csv").display()));
        if !local.service_account_admission {
            command.arg("--disable-admission-plugins=ServiceAccount");
        }
        command.args(&local.apiserver_flags);
        let process = self.spawn("kube-apiserver", &command)?;
        *local.apiserver.lock().map_err(|e| e.to_string())? = Some(process);
        self.wait_ready(Duration::from_secs(120))
    }

    /// Waits until `/readyz` answers ok and `/openapi/v2` is served.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), String> {
        let kubectl = self.kubectl();
        let ready = || {
            self.ca.exists()
                && kubectl
                    .run(&["get", "--raw", "/readyz", "--request-timeout=5s"], None)
                    .is_ok_and(|out| out.trim() == "ok")
        };
        let start = std::time::Instant::now();
        while !ready() {
            if start.elapsed() > timeout {
                return Err(format!(
                    "the API server was not ready after {timeout:?}\n{}",
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        while kubectl
            .run(&["get", "--raw", "/openapi/v2", "--request-timeout=10s"], None)
            .is_err()
        {
            if start.elapsed() > timeout {
                return Err(format!("/openapi/v2 was not served after {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(())
    }

    fn start_kcm(&self) -> Result<(), String> {
        let local = self.local()?;
        let mut command = Command::new(local.assets.join("kube-controller-manager"));
        command
            .arg(format!("--kubeconfig={}", self.admin.display()))
            .args([
                "--controllers=garbage-collector-controller,namespace-controller,serviceaccount-token-controller",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--leader-elect=false",
            ])
            .arg(format!(
                "--service-account-private-key-file={}",
                self.dir.path().join("sa.key").display()
            ));
        let process = self.spawn("kube-controller-manager", &command)?;
        *local.kcm.lock().map_err(|e| e.to_string())? = Some(process);
        Ok(())
    }

    /// Kills the API server with SIGKILL (etcd and the controller manager keep running).
    pub fn kill_apiserver(&self) -> Result<(), String> {
        let local = self.local()?;
        if let Some(mut process) = local.apiserver.lock().map_err(|e| e.to_string())?.take() {
            process.kill();
        }
        Ok(())
    }

    /// Process ids of etcd and the API server (for measuring them), when local.
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        let Some(local) = &self.local else {
            return Vec::new();
        };
        [("etcd", &local.etcd), ("kube-apiserver", &local.apiserver)]
            .iter()
            .filter_map(|(name, slot)| {
                slot.lock()
                    .ok()
                    .and_then(|p| p.as_ref().and_then(Process::pid))
                    .map(|pid| (*name, pid))
            })
            .collect()
    }

    /// The last lines of every component's output.
    pub fn logs(&self) -> String {
        let Some(local) = &self.local else {
            return String::new();
        };
        [&local.etcd, &local.apiserver, &local.kcm]
            .iter()
            .filter_map(|slot| slot.lock().ok().and_then(|p| p.as_ref().map(|p| p.tail(40))))
            .collect()
    }

    /// A scratch folder that lives as long as the control plane.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// A folder for the logs of processes tests start against this control plane.
    pub fn log_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("logs");
        let _ = std::fs::create_dir_all(&dir);
        dir
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(local) = &self.local {
            for slot in [&local.kcm, &local.apiserver, &local.etcd] {
                if let Some(mut process) = slot.lock().ok().and_then(|mut p| p.take()) {
                    process.kill();
                }
            }
        }
    }
}
