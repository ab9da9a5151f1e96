//! `ageseal-controller run` as a process of a test: the real binary, speaking as its
//! ServiceAccount (so deploy/'s RBAC is all it has), its output in the control plane's log folder,
//! and its HTTP endpoints on a free loopback port.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::control_plane::{ControlPlane, User};
use crate::deploy::Tenant;
use crate::process::{Process, free_port, http_get};

/// How to run one controller replica.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--region`.
    pub region: String,
    /// `--controller-namespace`.
    pub controller_namespace: String,
    /// `--namespace` (repeated); empty watches every namespace.
    pub namespaces: Vec<String>,
    /// More flags (e.g. `--leader-election`).
    pub args: Vec<String>,
    /// More environment (e.g. AWS settings for `--kms-key-id`).
    pub env: Vec<(String, String)>,
    /// `POD_NAME`, the Lease holder identity; also names the log file.
    pub replica: String,
    /// The identity it speaks as.
    pub user: User,
    /// A command to run it under (e.g. `heaptrack -o FILE`), empty for none.
    pub wrapper: Vec<String>,
}

impl Options {
    /// One replica for a test's tenant: its own namespace, watching only the tenant's apps.
    pub fn for_tenant(tenant: &Tenant, region: &str) -> Self {
        Self {
            region: region.to_owned(),
            controller_namespace: tenant.system.clone(),
            namespaces: vec![tenant.apps.clone()],
            args: Vec::new(),
            env: Vec::new(),
            replica: format!("{}-0", tenant.apps),
            user: User::Controller,
            wrapper: Vec::new(),
        }
    }

    /// Adds a flag.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Sets the replica name.
    pub fn replica(mut self, name: &str) -> Self {
        self.replica = name.to_owned();
        self
    }
}

/// A running `ageseal-controller run`.
#[derive(Debug)]
pub struct Controller {
    process: Process,
    /// Where `/healthz`, `/readyz`, `/metrics` and `/v1/recipients` answer.
    pub addr: SocketAddr,
    /// The options it was started with.
    pub options: Options,
}

impl Controller {
    /// Starts a replica with `RUST_LOG` at debug for ageseal and kube (the log check reads it).
    pub fn start(plane: &ControlPlane, options: Options) -> Self {
        let binary = crate::workspace_binary("ageseal-controller");
        let kubeconfig = plane.kubeconfig(options.user).unwrap_or_else(|e| panic!("{e}"));
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut command = match options.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        command
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAME", &options.replica)
            // Options::env comes after this, so a caller can set RUST_LOG itself.
            .env(
                "RUST_LOG",
                "debug,ageseal_controller=trace,hyper=info,h2=info,rustls=info,tower=info",
            )
            .env("NO_COLOR", "1")
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .args(["run", "--region", &options.region])
            .args(["--controller-namespace", &options.controller_namespace])
            .args(["--listen", &addr.to_string()]);
        for namespace in &options.namespaces {
            command.args(["--namespace", namespace]);
        }
        command.args(&options.args);
        let log = plane
            .log_dir()
            .join(format!("controller-{}.log", options.replica));
        let process = Process::spawn(&format!("controller {}", options.replica), &command, &log)
            .unwrap_or_else(|e| panic!("starting ageseal-controller: {e}"));
        Controller {
            process,
            addr,
            options,
        }
    }

    /// `(status, body)` of a GET on one of its endpoints.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.addr, path)
    }

    /// Waits until `/readyz` answers 200; on timeout, panics with the end of its log.
    pub fn wait_ready(&self, timeout: Duration) {
        let start = std::time::Instant::now();
        while self.get("/readyz").is_none_or(|(status, _)| status != 200) {
            if start.elapsed() > timeout {
                panic!(
                    "controller {} not ready after {timeout:?}; /readyz: {:?}\n{}",
                    self.options.replica,
                    self.get("/readyz"),
                    self.process.tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The public keys it publishes on `/v1/recipients`, newest first.
    pub fn recipients(&self) -> Vec<String> {
        let (_, body) = self.get("/v1/recipients").expect("/v1/recipients answers");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        json["recipients"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k["recipient"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGTERM, as Kubernetes stops a pod.
    pub fn terminate(&mut self) {
        self.process.terminate(Duration::from_secs(10));
    }

    /// True while it runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Its exit code, once it exited by itself.
    pub fn exit_code(&mut self) -> Option<i32> {
        self.process.exit_code()
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.process.output()
    }

    /// The process id (of the wrapper, if any).
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Peak resident memory (VmHWM) and CPU seconds (user + system) of the process so far.
    pub fn usage(&self) -> Option<(u64, f64)> {
        self.pid().and_then(process_usage)
    }
}

impl Drop for Controller {
    /// When a test fails, prints what the controller said (info and above; its trace lines are
    /// in the log file), so a failure in CI can be understood without rerunning it.
    fn drop(&mut self) {
        if std::thread::panicking() {
            let output = self.process.output();
            let lines: Vec<&str> = output
                .lines()
                .filter(|l| {
                    [" INFO ", " WARN ", " ERROR "]
                        .iter()
                        .any(|level| l.contains(level))
                })
                .collect();
            let start = lines.len().saturating_sub(60);
            eprintln!(
                "----- controller {} ({}), last {} lines at info and above -----\n{}",
                self.options.replica,
                self.process.log_path().display(),
                lines.len() - start,
                lines[start..].join("\n")
            );
        }
    }
}

/// Peak resident memory in bytes (VmHWM) and CPU seconds (user + system) of a process.
pub fn process_usage(pid: u32) -> Option<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)?
        .iter()
        .filter_map(|v| v.parse::<f64>().ok())
        .sum();
    Some((hwm_kb * 1024, ticks / 100.0))
}
