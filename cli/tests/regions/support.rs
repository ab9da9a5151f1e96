//! What the regions tests share: a repository whose `.ageseal.yaml` is filled from the clusters,
//! a controller per region for each test, and the `ageseal` binary run with the regions'
//! kubeconfig.

use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::deploy::Tenant;
use ageseal_testenv::regions::Regions;
use ageseal_testenv::{Kubectl, wait_until};

/// How long to wait for a controller to do what takes it well under a second.
pub const SOON: Duration = Duration::from_secs(60);

/// One test's view of the regions: its namespaces and controller in each, and a repository.
pub struct Fleet {
    pub regions: Arc<Regions>,
    pub names: Vec<&'static str>,
    pub tenants: Vec<Tenant>,
    pub controllers: Vec<Controller>,
    pub repo: tempfile::TempDir,
}

impl Fleet {
    /// Namespaces `name` and `name-system` and a ready controller in each of `regions`.
    pub fn new(regions: Arc<Regions>, names: &[&'static str], name: &str) -> Self {
        let mut tenants = Vec::new();
        let mut controllers = Vec::new();
        for region in names {
            let plane = regions.plane(region);
            let tenant = Tenant::new(plane, name);
            let controller = Controller::start(
                plane,
                Options::for_tenant(&tenant, region).replica(&format!("{name}-{region}")),
            );
            tenants.push(tenant);
            controllers.push(controller);
        }
        for controller in &controllers {
            controller.wait_ready(SOON);
        }
        Fleet {
            regions,
            names: names.to_vec(),
            tenants,
            controllers,
            repo: tempfile::tempdir().expect("repo"),
        }
    }

    /// The controllers' namespace (the same name in every region).
    pub fn system(&self) -> &str {
        &self.tenants[0].system
    }

    /// The applications' namespace.
    pub fn apps(&self) -> &str {
        &self.tenants[0].apps
    }

    /// Runs `ageseal` in the repository with the regions' kubeconfig.
    pub fn ageseal(&self, args: &[&str], stdin: &str) -> Output {
        assert_cmd::Command::new(ageseal_testenv::workspace_binary("ageseal"))
            .current_dir(self.repo.path())
            .env("KUBECONFIG", self.regions.kubeconfig())
            .args(args)
            .write_stdin(stdin)
            .output()
            .expect("runs")
    }

    /// [`Fleet::ageseal`] that must succeed.
    pub fn ok(&self, args: &[&str], stdin: &str) -> Output {
        let out = self.ageseal(args, stdin);
        assert!(out.status.success(), "ageseal {args:?}: {}", stderr(&out));
        out
    }

    /// `region add` of every region from its cluster.
    pub fn add_regions(&self) {
        for region in &self.names {
            self.ok(
                &[
                    "region",
                    "add",
                    region,
                    "--from-cluster",
                    region,
                    "--controller-namespace",
                    self.system(),
                ],
                "",
            );
        }
    }

    /// kubectl for a region.
    pub fn kubectl(&self, region: &str) -> Kubectl {
        Kubectl::new(&self.regions.kubeconfig()).with_context(region)
    }

    /// Seals a kubectl-made Secret into `apps/NAME.yaml` and returns that path.
    pub fn seal(&self, name: &str, value: &str) -> PathBuf {
        ageseal_testenv::secrets::remember(value);
        let input = std::process::Command::new("kubectl")
            .args(["create", "secret", "generic", name, "-n", self.apps()])
            .arg(format!("--from-literal=password={value}"))
            .args(["--dry-run=client", "-o", "yaml"])
            .output()
            .expect("kubectl");
        let rel = format!("apps/{name}.yaml");
        std::fs::create_dir_all(self.repo.path().join("apps")).expect("apps");
        self.ok(&["seal", "-o", &rel], &String::from_utf8_lossy(&input.stdout));
        self.repo.path().join(rel)
    }

    /// Applies a sealed file in a region and waits until it is Ready there.
    pub fn apply(&self, region: &str, file: &std::path::Path, name: &str) {
        let kubectl = self.kubectl(region);
        kubectl.apply(&std::fs::read_to_string(file).expect("sealed file"));
        wait_until(&format!("{name} Ready in {region}"), SOON, || {
            let object = kubectl.get("sealedsecret", self.apps(), name)?;
            let ready = object["status"]["conditions"][0]["status"] == "True"
                && object["status"]["observedGeneration"] == object["metadata"]["generation"];
            ready.then_some(())
        });
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for region in &self.names {
            let _ = self.kubectl(region).run(
                &["delete", "namespace", self.apps(), self.system(), "--wait=false"],
                None,
            );
        }
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
