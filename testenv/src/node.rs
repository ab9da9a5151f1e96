//! A real node on a local control plane, so Pods really run: containerd with runc and the CNI
//! bridge, kube-scheduler, the kubelet, and a second kube-controller-manager with the workload
//! controllers (Deployments, ReplicaSets, node lifecycle, the CA publishers). Images come from
//! local tarballs; nothing is pulled.
//!
//! It follows ../shared/envtest/node/node.sh, whose comments give each reason: cgroup v1 with
//! the cgroupfs driver (`failCgroupV1: false`), OOM scores clamped (this machine's root cannot
//! lower them), the node named by its bridge IP (the API server reaches the kubelet by name and
//! there is no DNS), and no kube-proxy: one iptables DNAT on the bridge sends the `kubernetes`
//! Service IP to the loopback API server, so in-cluster config works. One node per machine at a
//! time (the kubelet owns global iptables chains).
//!
//! Everything it starts or changes is undone on drop, also after a failed test: processes by
//! PID (containerd's shims found by its own socket), mounts under its folder, its DNAT rule, the
//! kubelet's iptables chains and the bridge.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::control_plane::ControlPlane;
use crate::process::{Process, free_port, wait_until};

/// The pod bridge; its address is the node's IP and name.
const BRIDGE: &str = "agesealbr0";
/// The pod network, a /24; `.1` is the bridge.
const POD_PREFIX: &str = "10.244.0";
/// The sandbox image ../shared/envtest/pause.tar holds.
const PAUSE_IMAGE: &str = "localhost/pause:3.10.2";
/// Tools of Debian's containerd, runc, containernetworking-plugins and iptables packages.
const TOOLS: [&str; 5] = ["containerd", "ctr", "runc", "iptables", "ip"];
const CNI_PLUGINS: [&str; 3] = ["bridge", "host-local", "portmap"];
const CNI_DIR: &str = "/usr/lib/cni";
/// What the node needs beside etcd, kube-apiserver and kube-controller-manager.
const NODE_ASSETS: [&str; 3] = ["kubelet", "kube-scheduler", "pause.tar"];

/// Why no node can start here (the suite then says SKIPPED): not root, or a tool or binary is
/// missing.
pub fn unavailable() -> Option<String> {
    if !is_root() {
        return Some("needs root (a bridge, iptables rules, containerd)".to_owned());
    }
    let missing_tool = TOOLS.iter().find(|tool| which(tool).is_none());
    if let Some(tool) = missing_tool {
        return Some(format!(
            "{tool} is not installed (Debian: containerd runc containernetworking-plugins iptables iproute2)"
        ));
    }
    if let Some(plugin) = CNI_PLUGINS.iter().find(|p| !Path::new(CNI_DIR).join(p).is_file()) {
        return Some(format!(
            "{CNI_DIR}/{plugin} is missing (Debian: containernetworking-plugins)"
        ));
    }
    let assets = match crate::control_plane::assets() {
        Ok(dir) => dir,
        Err(e) => return Some(e),
    };
    NODE_ASSETS.iter().find(|f| !assets.join(f).is_file()).map(|f| {
        format!(
            "{}/{f} is missing (scripts/test.sh unpacks it from ../shared/envtest)",
            assets.display()
        )
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Runs a command to the end; its stderr in the error.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A running node, removed on drop.
#[derive(Debug)]
pub struct Node {
    dir: PathBuf,
    name: String,
    service_ip: String,
    api_port: u16,
    socket: PathBuf,
    /// containerd first; the Kubernetes components after it (stopped in reverse).
    processes: Mutex<Vec<Process>>,
}

impl Node {
    /// Adds a node to `plane`, which must be local and started with ServiceAccount admission
    /// ([`ControlPlane::start_for_node`]), and waits until it is Ready and untainted.
    pub fn start(plane: &ControlPlane) -> Result<Self, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let assets = crate::control_plane::assets()?;
        let api_port = plane
            .server()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or("the API server's URL has no port")?;
        let dir = plane.scratch().join("node");
        for sub in ["cni/net.d", "cni/ipam", "kubelet", "containerd", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let kubectl = plane.kubectl();
        // The API server creates the `kubernetes` Service a moment after it is ready.
        let service_ip = wait_until("the kubernetes Service", Duration::from_secs(60), || {
            kubectl
                .run(
                    &[
                        "get",
                        "svc",
                        "kubernetes",
                        "-n",
                        "default",
                        "-o",
                        "jsonpath={.spec.clusterIP}",
                    ],
                    None,
                )
                .ok()
                .filter(|ip| !ip.trim().is_empty())
        })
        .trim()
        .to_owned();
        let node = Node {
            socket: dir.join("containerd.sock"),
            dir,
            name: format!("{POD_PREFIX}.1"),
            service_ip,
            api_port,
            processes: Mutex::new(Vec::new()),
        };
        // From here on, drop undoes whatever was done if a later step fails.
        node.network()?;
        node.containerd()?;
        node.import(&assets.join("pause.tar"))?;
        node.workload_controllers(plane, &assets)?;
        node.scheduler(plane, &assets)?;
        node.kubelet(plane, &assets)?;
        let ready = || {
            kubectl
                .run(
                    &[
                        "get",
                        "node",
                        &node.name,
                        "-o",
                        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}/{.spec.taints}",
                    ],
                    None,
                )
                .ok()
                .filter(|state| state.trim() == "True/")
        };
        let started = std::time::Instant::now();
        while ready().is_none() {
            if started.elapsed() > Duration::from_secs(120) {
                return Err(format!("the node was not Ready after 2 minutes\n{}", node.logs()));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(node)
    }

    /// The node's name (its bridge IP).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// containerd's socket, for `ctr -a`.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Imports an image tarball (OCI layout or `docker save`) into the node's containerd.
    pub fn import(&self, tarball: &Path) -> Result<(), String> {
        self.ctr(&["images", "import", &tarball.display().to_string()])
            .map(drop)
    }

    /// `ctr -a SOCKET -n k8s.io ARGS`.
    pub fn ctr(&self, args: &[&str]) -> Result<String, String> {
        let socket = self.socket.display().to_string();
        let mut all = vec!["-a", &socket, "-n", "k8s.io"];
        all.extend_from_slice(args);
        run("ctr", &all)
    }

    /// The host PID of a running container (`containerd://ID` as Pod status gives it).
    pub fn container_pid(&self, container_id: &str) -> Option<u32> {
        let id = container_id.trim_start_matches("containerd://");
        self.ctr(&["tasks", "ls"])
            .ok()?
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// The memory cgroup (v1) of a container, found by its ID under the kubelet's `kubepods`.
    pub fn memory_cgroup(&self, container_id: &str) -> Option<PathBuf> {
        let id = container_id.trim_start_matches("containerd://");
        let pid = self.container_pid(id)?;
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let path = cgroups.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then(|| path.to_owned())
        })?;
        Some(PathBuf::from("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')))
    }

    fn spawn(&self, name: &str, command: &Command) -> Result<(), String> {
        let log = self.dir.join("logs").join(format!("{name}.log"));
        let process = Process::spawn(name, command, &log).map_err(|e| format!("starting {name}: {e}"))?;
        self.processes.lock().map_err(|e| e.to_string())?.push(process);
        Ok(())
    }

    /// The bridge (its address is the node IP the API server reaches the kubelet at), the DNAT
    /// of the `kubernetes` Service IP to the loopback API server, and the CNI configuration.
    fn network(&self) -> Result<(), String> {
        if run("ip", &["link", "show", BRIDGE]).is_err() {
            run("ip", &["link", "add", BRIDGE, "type", "bridge"])?;
        }
        let address = format!("{}/24", self.name);
        if !run("ip", &["addr", "show", "dev", BRIDGE])?.contains(&format!("inet {address}")) {
            run("ip", &["addr", "add", &address, "dev", BRIDGE])?;
        }
        run("ip", &["link", "set", BRIDGE, "up"])?;
        std::fs::write(format!("/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet"), "1")
            .map_err(|e| format!("route_localnet on {BRIDGE}: {e}"))?;
        let rule = self.dnat_rule();
        let mut check = vec!["-t", "nat", "-C"];
        check.extend(rule.iter().map(String::as_str));
        if run("iptables", &check).is_err() {
            let mut add = vec!["-t", "nat", "-A"];
            add.extend(rule.iter().map(String::as_str));
            run("iptables", &add)?;
        }
        let conflist = format!(
            r#"{{"cniVersion": "0.4.0", "name": "ageseal-test", "plugins": [
  {{"type": "bridge", "bridge": "{BRIDGE}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {{"type": "host-local", "dataDir": "{ipam}", "ranges": [[{{"subnet": "{POD_PREFIX}.0/24", "gateway": "{gw}"}}]],
            "routes": [{{"dst": "0.0.0.0/0"}}]}}}},
  {{"type": "portmap", "capabilities": {{"portMappings": true}}}}]}}
"#,
            ipam = self.dir.join("cni/ipam").display(),
            gw = self.name,
        );
        std::fs::write(self.dir.join("cni/net.d/10-ageseal-test.conflist"), conflist)
            .map_err(|e| e.to_string())
    }

    fn dnat_rule(&self) -> Vec<String> {
        [
            "PREROUTING",
            "-i",
            BRIDGE,
            "-d",
            &self.service_ip,
            "-p",
            "tcp",
            "--dport",
            "443",
            "-j",
            "DNAT",
            "--to-destination",
            &format!("127.0.0.1:{}", self.api_port),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn containerd(&self) -> Result<(), String> {
        let d = self.dir.display();
        let config = format!(
            r#"version = 2
root = "{d}/containerd/root"
state = "{d}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  # root here cannot lower oom_score_adj (no CAP_SYS_RESOURCE in its bounding set).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{d}/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_DIR}"
    conf_dir = "{d}/cni/net.d"
    max_conf_num = 1
"#,
            socket = self.socket.display(),
        );
        let path = self.dir.join("containerd.toml");
        std::fs::write(&path, config).map_err(|e| e.to_string())?;
        let mut command = Command::new("containerd");
        command.arg("--config").arg(&path);
        self.spawn("containerd", &command)?;
        let socket = self.socket.display().to_string();
        let started = std::time::Instant::now();
        while run("ctr", &["-a", &socket, "version"]).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("containerd did not answer\n{}", self.logs()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    /// Deployments, ReplicaSets, node lifecycle (it lifts the not-ready taint) and the CA
    /// publishers the token volume projects (this fork also projects `openshift-service-ca.crt`).
    fn workload_controllers(&self, plane: &ControlPlane, assets: &Path) -> Result<(), String> {
        let mut command = Command::new(assets.join("kube-controller-manager"));
        command
            .arg(format!("--kubeconfig={}", plane.admin_kubeconfig().display()))
            .args([
                "--leader-elect=false",
                "--controllers=node-lifecycle-controller,serviceaccount-controller,root-ca-certificate-publisher-controller,service-ca-certificate-publisher-controller,deployment-controller,replicaset-controller,pod-garbage-collector-controller,endpointslice-controller,disruption-controller",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
            ])
            .arg(format!("--root-ca-file={}", plane.ca().display()));
        self.spawn("kube-controller-manager-workloads", &command)
    }

    fn scheduler(&self, plane: &ControlPlane, assets: &Path) -> Result<(), String> {
        let mut command = Command::new(assets.join("kube-scheduler"));
        command
            .arg(format!("--kubeconfig={}", plane.admin_kubeconfig().display()))
            .args([
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
            ]);
        self.spawn("kube-scheduler", &command)
    }

    fn kubelet(&self, plane: &ControlPlane, assets: &Path) -> Result<(), String> {
        let d = self.dir.display();
        let mut config = String::new();
        let _ = write!(
            config,
            "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://{socket}
address: {ip}
port: {port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
authentication:
  anonymous: {{enabled: true}}
  webhook: {{enabled: false}}
authorization: {{mode: AlwaysAllow}}
podLogsDir: {d}/pod-logs
volumePluginDir: {d}/kubelet-plugins
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {{memory.available: \"1Mi\", nodefs.available: \"1%\", imagefs.available: \"1%\", nodefs.inodesFree: \"1%\"}}
podCIDR: {POD_PREFIX}.0/24
resolvConf: /etc/resolv.conf
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
",
            socket = self.socket.display(),
            ip = self.name,
            port = free_port(),
        );
        let path = self.dir.join("kubelet.yaml");
        std::fs::write(&path, config).map_err(|e| e.to_string())?;
        let mut command = Command::new(assets.join("kubelet"));
        command
            .arg(format!("--config={}", path.display()))
            .arg(format!("--kubeconfig={}", plane.admin_kubeconfig().display()))
            .arg(format!("--root-dir={d}/kubelet"))
            .arg(format!("--hostname-override={}", self.name))
            .arg(format!("--node-ip={}", self.name));
        self.spawn("kubelet", &command)
    }

    /// The last lines of every node component's output.
    pub fn logs(&self) -> String {
        self.processes
            .lock()
            .map(|all| all.iter().map(|p| p.tail(30)).collect())
            .unwrap_or_default()
    }

    /// Stops everything and leaves the machine as it was found.
    fn tear_down(&mut self) {
        let mut processes = std::mem::take(
            &mut *self
                .processes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        // The kubelet, scheduler and controllers first, so nothing starts Pods again.
        while processes.len() > 1 {
            if let Some(mut process) = processes.pop() {
                process.kill();
            }
        }
        if self.socket.exists() {
            let tasks = self.ctr(&["tasks", "ls", "-q"]).unwrap_or_default();
            for task in tasks.lines().filter(|t| !t.is_empty()) {
                let _ = self.ctr(&["tasks", "kill", "-s", "KILL", task]);
            }
            std::thread::sleep(Duration::from_secs(1));
            for task in tasks.lines().filter(|t| !t.is_empty()) {
                let _ = self.ctr(&["tasks", "delete", "-f", task]);
            }
        }
        // The runc shims of this containerd, found by its socket, which only this node uses.
        let pattern = format!("containerd-shim-runc-v2 .*-address {}", self.socket.display());
        for pid in run("pgrep", &["-f", "--", &pattern]).unwrap_or_default().lines() {
            let _ = run("kill", &["-9", pid.trim()]);
        }
        drop(processes);
        // Mounts under the node's folder (overlays, network namespaces, volumes), deepest first.
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&self.dir))
            .map(str::to_owned)
            .collect();
        mounts.sort_by(|a, b| b.cmp(a));
        for mount in mounts {
            let _ = run("umount", &["-l", &mount]);
        }
        let mut delete = vec!["-t", "nat", "-D"];
        let rule = self.dnat_rule();
        delete.extend(rule.iter().map(String::as_str));
        let _ = run("iptables", &delete);
        let _ = run("ip", &["link", "del", BRIDGE]);
        // The kubelet's own chains (KUBE-FIREWALL drops non-loopback sources to 127/8).
        let _ = run("iptables", &["-D", "INPUT", "-j", "KUBE-FIREWALL"]);
        let _ = run("iptables", &["-D", "OUTPUT", "-j", "KUBE-FIREWALL"]);
        for tool in ["iptables", "ip6tables"] {
            for table in ["filter", "nat", "mangle"] {
                for chain in ["KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"] {
                    if run(tool, &["-t", table, "-F", chain]).is_ok() {
                        let _ = run(tool, &["-t", table, "-X", chain]);
                    }
                }
            }
        }
        for dir in [
            "/run/containerd/fifo",
            "/run/containerd/s",
            "/run/containerd/runc/k8s.io",
            "/run/containerd/runc",
            "/run/containerd",
        ] {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.tear_down();
    }
}
