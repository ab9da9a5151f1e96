//! The disaster-recovery drill (DESIGN §8, docs/OPERATIONS.md section 7) on real control planes:
//! `cargo test -p ageseal-tests drill`.
//!
//! Regions east and west are local Kubernetes control planes, each with its own
//! `ageseal-controller run`; a KMS-wrapped recovery key lives on a local moto_server. Every step is
//! the real `ageseal` binary, as an operator types it, through one kubeconfig with a context per
//! region. East is then lost, a new region (central) joins, `rekey` re-seals with the recovery
//! identity, central opens everything, and east's key opens nothing sealed after the rekey.

use std::path::Path;
use std::process::{Command, ExitCode, Output};
use std::time::Duration;

use ageseal_kms::moto::Moto;
use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::deploy::Tenant;
use ageseal_testenv::regions::Regions;
use ageseal_testenv::{Kubectl, wait_until};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

const APPS: usize = 6;
const NS: &str = "drill";
const SOON: Duration = Duration::from_secs(90);

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--list") {
        println!("drill: test");
        return ExitCode::SUCCESS;
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_some_and(|f| !"drill".contains(&f) && !f.contains("drill")) {
        println!("drill: 0 passed, 0 failed");
        return ExitCode::SUCCESS;
    }
    if let Err(why) = ageseal_testenv::control_plane::assets() {
        println!("SKIPPED: drill: no Kubernetes control plane: {why}");
        return ExitCode::SUCCESS;
    }
    match std::panic::catch_unwind(drill) {
        Ok(()) => {
            println!("drill: 1 passed, 0 failed");
            ExitCode::SUCCESS
        }
        Err(_) => {
            println!("drill: 0 passed, 1 failed");
            ExitCode::FAILURE
        }
    }
}

/// One region's controller, in its own `drill-system` namespace, watching `drill`.
fn controller(regions: &Regions, context: &str, region: &str) -> Controller {
    let plane = regions.plane(context);
    let tenant = Tenant::new(plane, NS);
    let controller = Controller::start(
        plane,
        Options::for_tenant(&tenant, region).replica(&format!("drill-{context}")),
    );
    controller.wait_ready(SOON);
    controller
}

struct Operator<'a> {
    repo: &'a Path,
    kubeconfig: std::path::PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Operator<'_> {
    /// Runs `ageseal ARGS` in the repository, printing it as the runbook shows it.
    fn ageseal(&self, args: &[&str], stdin: &str) -> Output {
        println!("$ ageseal {}", args.join(" "));
        let mut child = Command::new(ageseal_testenv::workspace_binary("ageseal"))
            .current_dir(self.repo)
            .env("KUBECONFIG", &self.kubeconfig)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("ageseal runs");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin");
        let out = child.wait_with_output().expect("ageseal ends");
        print!("{}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// [`Operator::ageseal`] that must end with `code`.
    fn expect(&self, code: i32, args: &[&str], stdin: &str) -> Output {
        let out = self.ageseal(args, stdin);
        assert_eq!(
            out.status.code(),
            Some(code),
            "ageseal {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn kubectl(&self, context: &str) -> Kubectl {
        Kubectl::new(&self.kubeconfig).with_context(context)
    }

    /// Applies every file under apps/ in a region, as GitOps would, and waits until all are Ready.
    fn sync(&self, context: &str) {
        println!("$ kubectl --context {context} apply --server-side -f apps/");
        let kubectl = self.kubectl(context);
        for i in 0..APPS {
            kubectl
                .apply(&std::fs::read_to_string(self.repo.join(format!("apps/app-{i}.yaml"))).expect("file"));
        }
        for i in 0..APPS {
            wait_until(&format!("app-{i} Ready in {context}"), SOON, || {
                let object = kubectl.get("sealedsecret", NS, &format!("app-{i}"))?;
                let current = object["status"]["observedGeneration"] == object["metadata"]["generation"];
                (current && object["status"]["conditions"][0]["status"] == "True").then_some(())
            });
        }
    }

    fn status(&self, contexts: &[&str]) -> Output {
        let mut args = vec!["status", "apps", "--controller-namespace", "drill-system"];
        for context in contexts {
            args.extend(["--context", context]);
        }
        self.ageseal(&args, "")
    }
}

fn secret_value(kubectl: &Kubectl, name: &str, key: &str) -> Vec<u8> {
    let secret = kubectl.get("secret", NS, name).expect("the Secret exists");
    BASE64_STANDARD
        .decode(secret["data"][key].as_str().expect("key"))
        .expect("base64")
}

fn drill() {
    let moto = Moto::start();
    let kms_key = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(moto.create_key("us-east-1"));
    let mut regions = Regions::start(&["east", "west"]).expect("two regions start");
    let repo = tempfile::tempdir().expect("repo");
    // The CLI reaches KMS by name (`localhost`), as it reaches AWS: the release build is linked
    // statically, and this is where its host name lookup runs.
    let env = moto
        .env()
        .into_iter()
        .map(|(name, value)| (name, value.replace("//127.0.0.1:", "//localhost:")))
        .collect();
    let operator = Operator {
        repo: repo.path(),
        kubeconfig: regions.kubeconfig(),
        env,
    };
    let east = controller(&regions, "east", "us-east-1");
    let _west = controller(&regions, "west", "us-west-2");
    println!("drill: regions east (us-east-1) and west (us-west-2), recovery key wrapped by {kms_key}");
    println!(
        "drill: the operator runs {}",
        ageseal_testenv::workspace_binary("ageseal").display()
    );

    // 1. The repository learns each region's key from its cluster, and a KMS-wrapped recovery key.
    for (region, context) in [("us-east-1", "east"), ("us-west-2", "west")] {
        operator.expect(
            0,
            &[
                "region",
                "add",
                region,
                "--from-cluster",
                context,
                "--controller-namespace",
                "drill-system",
            ],
            "",
        );
    }
    let out = operator.expect(
        0,
        &["keygen", "--kms-key", &kms_key, "-o", "recovery.age.kms"],
        "",
    );
    let recovery = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    operator.expect(
        0,
        &[
            "recovery",
            "add",
            "break-glass",
            "--recipient",
            &recovery,
            "--identity",
            "recovery.age.kms",
        ],
        "",
    );

    // 2. Seal once; the same files are applied in both regions.
    std::fs::create_dir(repo.path().join("apps")).expect("apps");
    for i in 0..APPS {
        let value = ageseal_testenv::secrets::remember(&format!("Drill-Secret-{i}"));
        let input = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-{i}, namespace: {NS}}}\nstringData: {{password: {value}, user: App{i}-User}}\n"
        );
        operator.expect(0, &["seal", "-o", &format!("apps/app-{i}.yaml")], &input);
    }
    operator.expect(0, &["verify", "apps"], "");
    operator.sync("east");
    operator.sync("west");
    operator.expect(
        0,
        &[
            "status",
            "apps",
            "--controller-namespace",
            "drill-system",
            "--context",
            "east",
            "--context",
            "west",
        ],
        "",
    );

    // 3. Drift is seen: an object missing in west, then an old generation in east.
    operator
        .kubectl("west")
        .ok(&["delete", "sealedsecret", "app-0", "-n", NS], None);
    assert_eq!(
        operator.status(&["east", "west"]).status.code(),
        Some(1),
        "a missing object was not drift"
    );
    operator.sync("west");
    operator.expect(0, &["seal", "--merge-into", "apps/app-1.yaml"], &format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-1, namespace: {NS}}}\nstringData: {{token: {}}}\n",
        ageseal_testenv::secrets::remember("Drill-Added-Token")
    ));
    operator.sync("west");
    let out = operator.status(&["east", "west"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an old generation in east was not drift"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("other values than Git"));
    operator.sync("east");
    operator.expect(
        0,
        &[
            "status",
            "apps",
            "--controller-namespace",
            "drill-system",
            "--context",
            "east",
            "--context",
            "west",
        ],
        "",
    );

    // East's key, kept to check it opens nothing sealed after the rekey.
    let east_key = east_identity(&operator, regions.scratch());
    drop(east);

    // 4. East is lost. A new region joins; everything is re-sealed with the recovery key.
    println!("drill: region east is lost; region central (eu-central-1) joins");
    regions.lose("east").expect("lost");
    regions.add("central").expect("a new region starts");
    let operator = Operator {
        kubeconfig: regions.kubeconfig(),
        ..operator
    };
    let _central = controller(&regions, "central", "eu-central-1");
    operator.expect(0, &["region", "remove", "us-east-1"], "");
    operator.expect(
        0,
        &[
            "region",
            "add",
            "eu-central-1",
            "--from-cluster",
            "central",
            "--controller-namespace",
            "drill-system",
        ],
        "",
    );
    operator.expect(0, &["rekey"], ""); // with the recovery identity .ageseal.yaml names (KMS-wrapped)
    operator.expect(0, &["verify", "apps"], "");
    operator.sync("central");
    operator.sync("west");

    // 5. Central holds every value; east's key opens nothing sealed after the rekey.
    let central = operator.kubectl("central");
    for i in 0..APPS {
        assert_eq!(
            secret_value(&central, &format!("app-{i}"), "password"),
            format!("Drill-Secret-{i}").into_bytes()
        );
        assert_eq!(
            secret_value(&central, &format!("app-{i}"), "user"),
            format!("App{i}-User").into_bytes()
        );
        let out = operator.ageseal(
            &["unseal", "-f", &format!("apps/app-{i}.yaml"), "-i", &east_key],
            "",
        );
        assert_eq!(out.status.code(), Some(4), "east's key still opens app-{i}");
    }
    assert_eq!(secret_value(&central, "app-1", "token"), b"Drill-Added-Token");
    operator.expect(
        0,
        &[
            "status",
            "apps",
            "--controller-namespace",
            "drill-system",
            "--context",
            "west",
            "--context",
            "central",
        ],
        "",
    );
    println!("drill: central opened all {APPS} Secrets; east's key opens none; west and central in sync");
}

/// East's controller key, read from its key Secret before the region is lost (in a real
/// disaster it is gone; here it proves the rekey locked it out).
fn east_identity(operator: &Operator<'_>, scratch: &Path) -> String {
    let out = operator.kubectl("east").ok(
        &[
            "get",
            "secrets",
            "-n",
            "drill-system",
            "-l",
            "ageseal.io/key=active",
            "-o",
            "jsonpath={.items[0].data.identity}",
        ],
        None,
    );
    let identity = BASE64_STANDARD.decode(out.trim()).expect("base64");
    let path = scratch.join("east.key");
    std::fs::write(&path, identity).expect("key written outside the repository");
    path.display().to_string()
}
