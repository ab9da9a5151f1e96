//! `scripts/quickstart.sh --regions`: two regions on this machine, each a Kubernetes control plane
//! of its own. The active region (us-east-1) has a node, and its controller runs as deploy/'s
//! two Pods from the image `scripts/image.sh` built; the standby (us-west-2) runs its controller
//! as a local process with its ServiceAccount's identity and deploy/'s RBAC (one node per
//! machine: the kubelet owns global iptables chains). One Secret is sealed for both, both hold
//! it; then the active region is stopped and the standby keeps serving. Every command shown is
//! the command run. Everything started is stopped at the end, on failure, and on Ctrl-C.
//!
//! Needs root, `KUBEBUILDER_ASSETS` with the node's binaries, `AGESEAL_IMAGE_TAR`, and `ageseal`
//! and `ageseal-controller` on PATH; scripts/quickstart.sh provides them.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::node::Node;
use ageseal_testenv::{ControlPlane, User, deploy, wait_until};

const IMAGE: &str = concat!("localhost/ageseal-controller:", env!("CARGO_PKG_VERSION"));
const SYSTEM: &str = "ageseal-system";

/// Set by Ctrl-C or SIGTERM: the next step stops, and what was started is torn down.
static INTERRUPTED: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

struct Shell {
    repo: PathBuf,
    kubeconfig: PathBuf,
}

impl Shell {
    /// Prints `$ command`, runs exactly that with bash in the repository, prints its output.
    fn run(&self, command: &str) -> Result<String, String> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err("interrupted".to_owned());
        }
        println!("\n$ {command}");
        let out = Command::new("bash")
            .args(["-o", "pipefail", "-c", command])
            .current_dir(&self.repo)
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .map_err(|e| format!("bash: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            return Err(format!("`{command}` failed ({})", out.status));
        }
        Ok(stdout)
    }

    /// Like [`Shell::run`], but a command whose failure is the point (exit code shown).
    fn run_expecting_failure(&self, command: &str) -> Result<(), String> {
        match self.run(command) {
            Ok(_) => Err(format!("`{command}` should have failed")),
            Err(e) if e == "interrupted" => Err(e),
            Err(e) => {
                println!("({e}, as expected)");
                Ok(())
            }
        }
    }
}

fn say(text: &str) {
    println!("\n# {text}");
}

fn check(what: &str) -> Result<(), String> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(format!("interrupted while {what}"));
    }
    Ok(())
}

/// The standby's objects from deploy/overlays/us-west-2, all but the Deployment (its
/// controller runs as a process here): namespace, ServiceAccount, RBAC, Service, budget.
fn install_standby(plane: &ControlPlane) -> Result<(), String> {
    deploy::install_crd(plane)?;
    let rendered = deploy::render_overlay(plane, "us-west-2")?;
    let mut kept = String::new();
    for document in rendered.split("\n---\n") {
        if !document.contains("kind: Deployment\n") {
            kept.push_str("---\n");
            kept.push_str(document.trim_start_matches("---\n"));
            kept.push('\n');
        }
    }
    plane.kubectl().apply(&kept);
    Ok(())
}

fn active_region(image: &Path) -> Result<(ControlPlane, Node), String> {
    say("region us-east-1 (active): a control plane, a node, and the controller as Pods");
    let plane = ControlPlane::start_for_node(&[])?;
    deploy::install_crd(&plane)?;
    let node = Node::start(&plane)?;
    node.import(image)?;
    check("starting us-east-1")?;
    let overlay = plane.scratch().join("overlay");
    let rendered = deploy::render_with_image(&plane, "us-east-1", IMAGE, &overlay)?;
    let applied = Instant::now();
    plane.kubectl().apply(&rendered);
    wait_until(
        "two Ready replicas in us-east-1",
        Duration::from_secs(180),
        || {
            let deployment = plane.kubectl().get("deployment", SYSTEM, "ageseal-controller")?;
            (deployment["status"]["readyReplicas"] == 2).then_some(())
        },
    );
    println!(
        "deploy/overlays/us-east-1 (image {IMAGE}) applied: 2 replicas Ready in {:.1} s",
        applied.elapsed().as_secs_f64()
    );
    Ok((plane, node))
}

fn standby_region() -> Result<(ControlPlane, Controller), String> {
    say(
        "region us-west-2 (warm standby): a control plane of its own; one node per machine, so its controller runs as a local process (its ServiceAccount, deploy/'s RBAC)",
    );
    let plane = ControlPlane::start_local()?;
    install_standby(&plane)?;
    check("starting us-west-2")?;
    let controller = Controller::start(
        &plane,
        Options {
            region: "us-west-2".into(),
            controller_namespace: SYSTEM.into(),
            namespaces: Vec::new(),
            args: vec!["--leader-election".into()],
            env: vec![("RUST_LOG".into(), "info,kube=warn".into())],
            replica: "us-west-2-process".into(),
            user: User::Controller,
            wrapper: Vec::new(),
        },
    );
    controller.wait_ready(Duration::from_secs(120));
    println!("ageseal-controller run --region us-west-2 --leader-election: ready");
    Ok((plane, controller))
}

fn demo(image: &Path) -> Result<(), String> {
    let work = tempfile::Builder::new()
        .prefix("ageseal-regions-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let repo = work.path().join("repo");
    std::fs::create_dir_all(repo.join("apps/payments")).map_err(|e| e.to_string())?;
    let (east, node) = active_region(image)?;
    let (west, west_controller) = standby_region()?;
    let kubeconfig = work.path().join("kubeconfig");
    ControlPlane::merged_kubeconfig(
        &kubeconfig,
        &[("east", &east, User::Admin), ("west", &west, User::Admin)],
    )?;
    let sh = Shell { repo, kubeconfig };
    say(&format!(
        "a repository in {}; KUBECONFIG has the contexts east and west",
        sh.repo.display()
    ));
    sh.run("ageseal region add us-east-1 --from-cluster east")?;
    sh.run("ageseal region add us-west-2 --from-cluster west")?;
    sh.run("ageseal recovery add break-glass --recipient \"$(ageseal keygen -o ../recovery.key)\"   # kept offline, or KMS-wrapped")?;
    sh.run("cat .ageseal.yaml")?;
    sh.run(
        "kubectl create secret generic db -n payments --from-literal=password=correct-horse --dry-run=client -o yaml | ageseal seal -o apps/payments/db.yaml",
    )?;
    for context in ["east", "west"] {
        sh.run(&format!("kubectl --context {context} create namespace payments"))?;
        sh.run(&format!(
            "kubectl --context {context} apply --server-side -f apps/payments/db.yaml"
        ))?;
    }
    for context in ["east", "west"] {
        check("waiting for the Secrets")?;
        wait_until(
            &format!("Secret db in {context}"),
            Duration::from_secs(60),
            || {
                let kubectl = ageseal_testenv::Kubectl::new(&sh.kubeconfig).with_context(context);
                kubectl.get("secret", "payments", "db").map(drop)
            },
        );
    }
    let east_value = sh.run(
        "kubectl --context east get secret db -n payments -o jsonpath='{.data.password}' | base64 -d; echo",
    )?;
    let west_value = sh.run(
        "kubectl --context west get secret db -n payments -o jsonpath='{.data.password}' | base64 -d; echo",
    )?;
    if east_value != west_value {
        return Err("the two regions hold different Secrets".to_owned());
    }
    say("both regions hold the same Secret, each opened with its own key");
    sh.run("ageseal status apps --context east --context west")?;

    say("the active region goes down: its node and controller Pods stop, then its API server");
    drop(node);
    east.kill_apiserver()?;
    sh.run_expecting_failure("kubectl --context east get sealedsecrets -A --request-timeout=3s")?;
    say("the standby still serves: a new Secret sealed from the same repository");
    sh.run(
        "kubectl create secret generic api -n payments --from-literal=token=s3cr3t-token --dry-run=client -o yaml | ageseal seal -o apps/payments/api.yaml",
    )?;
    sh.run("kubectl --context west apply --server-side -f apps/payments/api.yaml")?;
    wait_until("Secret api in us-west-2", Duration::from_secs(60), || {
        let kubectl = ageseal_testenv::Kubectl::new(&sh.kubeconfig).with_context("west");
        kubectl.get("secret", "payments", "api").map(drop)
    });
    sh.run(
        "kubectl --context west get secret api -n payments -o jsonpath='{.data.token}' | base64 -d; echo",
    )?;
    sh.run_expecting_failure("ageseal status apps --context east --context west --request-timeout 5s")?;
    drop(west_controller);
    drop(west);
    drop(east);
    Ok(())
}

fn main() -> ExitCode {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(signal, INTERRUPTED.clone());
    }
    let Some(image) = std::env::var_os("AGESEAL_IMAGE_TAR").map(PathBuf::from) else {
        eprintln!("error: AGESEAL_IMAGE_TAR is not set\nhint: run scripts/quickstart.sh --regions");
        return ExitCode::from(2);
    };
    if let Some(why) = ageseal_testenv::node::unavailable() {
        eprintln!("error: no node can start here: {why}\nhint: run scripts/quickstart.sh --regions as root");
        return ExitCode::from(2);
    }
    let started = Instant::now();
    // A wait that runs out panics (ageseal_testenv::wait_until): drops still stop everything.
    let outcome = std::panic::catch_unwind(|| demo(&image))
        .unwrap_or_else(|_| Err("a step did not finish in time (see above)".to_owned()));
    match outcome {
        Ok(()) => {
            println!(
                "\nquickstart --regions done in {:.0} s; everything it started is stopped.",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: {e}\nhint: everything it started has been stopped; run it again, or scripts/test.sh to see which part fails"
            );
            ExitCode::FAILURE
        }
    }
}
