//! Real-cluster suite (kind, k3d or any test cluster): install the CRD, run the controller
//! binary against the cluster, seal a Secret to the key it publishes, apply it, and wait for the
//! Secret. Needs `kubectl` and `AGESEAL_E2E_KUBECONFIG`; run with
//! `AGESEAL_E2E_KUBECONFIG=~/.kube/kind cargo test -p ageseal-controller --test real_cluster -- --ignored`.
//! No API server exists on the project's machines, so it is ignored by default and has not run there.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ageseal_core::Recipient;
use ageseal_core::config::NamedRecipient;
use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};

const SYSTEM_NS: &str = "ageseal-e2e-system";
const APP_NS: &str = "ageseal-e2e";

fn kubectl(kubeconfig: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("kubectl ends");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn wait_for(what: &str, mut check: impl FnMut() -> Option<String>) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if let Some(found) = check() {
            return found;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("timed out waiting for {what}");
}

struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[test]
#[ignore = "needs a real cluster: set AGESEAL_E2E_KUBECONFIG and run with --ignored"]
fn a_sealed_secret_becomes_a_secret_in_a_real_cluster() {
    let kubeconfig =
        std::env::var("AGESEAL_E2E_KUBECONFIG").expect("AGESEAL_E2E_KUBECONFIG must name a kubeconfig");
    let k = |args: &[&str], stdin: Option<&str>| kubectl(&kubeconfig, args, stdin);
    let crd = Command::new(env!("CARGO_BIN_EXE_ageseal-controller"))
        .arg("crd")
        .output()
        .expect("crd");
    assert!(
        k(&["apply", "-f", "-"], Some(&String::from_utf8_lossy(&crd.stdout))).0,
        "CRD applies"
    );
    for ns in [SYSTEM_NS, APP_NS] {
        let (_, yaml) = k(
            &["create", "namespace", ns, "--dry-run=client", "-o", "yaml"],
            None,
        );
        assert!(k(&["apply", "-f", "-"], Some(&yaml)).0);
    }
    let _controller = Controller(
        Command::new(env!("CARGO_BIN_EXE_ageseal-controller"))
            .env("KUBECONFIG", &kubeconfig)
            .args([
                "run",
                "--region",
                "e2e",
                "--controller-namespace",
                SYSTEM_NS,
                "--namespace",
                APP_NS,
            ])
            .args(["--listen", "127.0.0.1:0"])
            .spawn()
            .expect("controller starts"),
    );
    let recipient = wait_for("the published recipients", || {
        let (ok, out) = k(
            &[
                "get",
                "configmap",
                "ageseal-recipients",
                "-n",
                SYSTEM_NS,
                "-o",
                "jsonpath={.data.recipients}",
            ],
            None,
        );
        ok.then(|| out.lines().next().map(str::to_owned)).flatten()
    });
    let recipient: Recipient = recipient.parse().expect("a recipient");
    let (_, input) = k(
        &[
            "create",
            "secret",
            "generic",
            "db",
            "-n",
            APP_NS,
            "--from-literal=password=e2e-pass",
            "--dry-run=client",
            "-o",
            "yaml",
        ],
        None,
    );
    let secret = &parse_secrets(&input).expect("parses")[0];
    let sealed = seal_secret(
        secret,
        &SealOptions::default(),
        &[NamedRecipient::new("e2e", recipient)],
    )
    .expect("seals");
    assert!(
        k(
            &["apply", "-f", "-"],
            Some(&serde_yaml::to_string(&sealed).expect("yaml"))
        )
        .0,
        "SealedSecret applies"
    );
    let value = wait_for("the Secret", || {
        let (ok, out) = k(
            &[
                "get",
                "secret",
                "db",
                "-n",
                APP_NS,
                "-o",
                "jsonpath={.data.password}",
            ],
            None,
        );
        (ok && !out.is_empty()).then_some(out)
    });
    assert_eq!(value, "ZTJlLXBhc3M=", "base64 of e2e-pass");
    let ready = wait_for("Ready", || {
        let (_, out) = k(
            &[
                "get",
                "sealedsecret",
                "db",
                "-n",
                APP_NS,
                "-o",
                "jsonpath={.status.conditions[0].status}",
            ],
            None,
        );
        (out == "True").then_some(out)
    });
    assert_eq!(ready, "True");
    k(&["delete", "namespace", APP_NS, SYSTEM_NS, "--wait=false"], None);
}
