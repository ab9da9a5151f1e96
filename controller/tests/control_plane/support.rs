//! What the control-plane tests share: sealing with the real `ageseal` binary from kubectl-made
//! input, and reading Secrets, conditions and Events back through kubectl.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::deploy::Tenant;
use ageseal_testenv::{ControlPlane, Kubectl, secrets, wait_until};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

/// How long a test waits for something the controller should do in well under a second.
pub const SOON: Duration = Duration::from_secs(60);

/// One test's world: its namespaces, kubectl as admin, and its controller(s).
pub struct World {
    pub plane: Arc<ControlPlane>,
    pub tenant: Tenant,
    pub kubectl: Kubectl,
}

impl World {
    /// Namespaces `name` and `name-system` with deploy/'s Role.
    pub fn new(plane: Arc<ControlPlane>, name: &str) -> Self {
        let tenant = Tenant::new(&plane, name);
        let kubectl = plane.kubectl();
        World {
            plane,
            tenant,
            kubectl,
        }
    }

    /// Starts a controller for this tenant and waits until it is ready.
    pub fn controller(&self, options: Options) -> Controller {
        let controller = Controller::start(&self.plane, options);
        controller.wait_ready(SOON);
        controller
    }

    /// The default replica for this tenant, ready.
    pub fn default_controller(&self) -> Controller {
        self.controller(Options::for_tenant(&self.tenant, "test-region"))
    }

    /// `kubectl create secret generic NAME -n APPS --from-literal=k=v... | ageseal seal --recipient R`.
    pub fn seal(&self, name: &str, values: &[(&str, &str)], recipient: &str) -> String {
        seal_secret(&self.tenant.apps, name, values, &[recipient], &[])
    }

    /// Applies manifests server-side.
    pub fn apply(&self, manifests: &str) {
        self.kubectl.apply(manifests);
    }

    /// The Secret's value for `key`, once it exists and holds `want`.
    pub fn wait_value(&self, name: &str, key: &str, want: &str) {
        self.wait_value_within(name, key, want, SOON);
    }

    /// [`World::wait_value`], waiting up to `timeout`.
    pub fn wait_value_within(&self, name: &str, key: &str, want: &str, timeout: Duration) {
        wait_until(&format!("Secret {name} to hold {key}"), timeout, || {
            (secret_value(&self.kubectl, &self.tenant.apps, name, key).as_deref() == Some(want.as_bytes()))
                .then_some(())
        });
    }

    /// The SealedSecret's Ready condition, once it has `status` (e.g. "True").
    pub fn wait_ready(&self, name: &str, status: &str) -> serde_json::Value {
        wait_until(&format!("{name} Ready={status}"), SOON, || {
            ready(&self.kubectl, &self.tenant.apps, name).filter(|c| c["status"] == status)
        })
    }

    /// The SealedSecret's status.
    pub fn status(&self, name: &str) -> serde_json::Value {
        self.kubectl
            .get("sealedsecret", &self.tenant.apps, name)
            .map(|o| o["status"].clone())
            .unwrap_or_default()
    }

    /// The Secret, if it exists.
    pub fn secret(&self, name: &str) -> Option<serde_json::Value> {
        self.kubectl.get("secret", &self.tenant.apps, name)
    }

    /// Events about `name` in the tenant's namespace, as (type, reason) pairs.
    pub fn events(&self, name: &str) -> Vec<(String, String)> {
        let out = self.kubectl.ok(
            &[
                "get",
                "events.events.k8s.io",
                "-n",
                &self.tenant.apps,
                "--field-selector",
                &format!("regarding.name={name}"),
                "-o",
                "json",
            ],
            None,
        );
        let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        json["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|e| {
                        (
                            e["type"].as_str().unwrap_or_default().to_owned(),
                            e["reason"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Best effort: the namespace controller removes everything in them.
        let _ = self.kubectl.run(
            &[
                "delete",
                "namespace",
                &self.tenant.apps,
                &self.tenant.system,
                "--wait=false",
            ],
            None,
        );
    }
}

/// `kubectl create secret generic` input sealed by the `ageseal` binary to `recipients`, with
/// extra `ageseal seal` flags. The values are remembered for the log check, so give them an
/// upper-case letter: then no Kubernetes name logged on purpose can contain one.
pub fn seal_secret(
    namespace: &str,
    name: &str,
    values: &[(&str, &str)],
    recipients: &[&str],
    flags: &[&str],
) -> String {
    let mut args: Vec<String> = vec![
        "create".into(),
        "secret".into(),
        "generic".into(),
        name.into(),
        "-n".into(),
        namespace.into(),
    ];
    for (key, value) in values {
        secrets::remember(value);
        args.push(format!("--from-literal={key}={value}"));
    }
    args.extend(["--dry-run=client".into(), "-o".into(), "yaml".into()]);
    let input = Command::new("kubectl")
        .args(&args)
        .output()
        .expect("kubectl runs");
    assert!(
        input.status.success(),
        "kubectl: {}",
        String::from_utf8_lossy(&input.stderr)
    );
    let mut command = Command::new(ageseal_testenv::workspace_binary("ageseal"));
    command.arg("seal");
    for recipient in recipients {
        command.args(["--recipient", recipient]);
    }
    let mut child = command
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ageseal runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input.stdout)
        .expect("write");
    let out = child.wait_with_output().expect("ageseal ends");
    assert!(
        out.status.success(),
        "ageseal seal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// A Secret's decoded value for `key`.
pub fn secret_value(kubectl: &Kubectl, namespace: &str, name: &str, key: &str) -> Option<Vec<u8>> {
    let secret = kubectl.get("secret", namespace, name)?;
    let text = secret["data"][key].as_str()?;
    BASE64_STANDARD.decode(text).ok()
}

/// The Ready condition of a SealedSecret.
pub fn ready(kubectl: &Kubectl, namespace: &str, name: &str) -> Option<serde_json::Value> {
    let object = kubectl.get("sealedsecret", namespace, name)?;
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
}

/// Replaces `metadata.name` of a sealed manifest, as someone copying a value would.
pub fn renamed(manifest: &str, name: &str) -> String {
    let mut value: serde_yaml::Value = serde_yaml::from_str(manifest).expect("YAML");
    value["metadata"]["name"] = name.into();
    serde_yaml::to_string(&value).expect("YAML")
}

/// How many Secrets in the tenant's controller namespace carry the key label.
pub fn key_count(world: &World) -> usize {
    world
        .kubectl
        .ok(
            &[
                "get",
                "secrets",
                "-n",
                &world.tenant.system,
                "-l",
                "ageseal.io/key",
                "-o",
                "name",
            ],
            None,
        )
        .lines()
        .count()
}
