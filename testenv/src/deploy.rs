//! deploy/ on a control plane: the CRD and the active region's overlay applied server-side for
//! real, the standby's as a server-side dry run, and deploy/'s own namespaced Role copied into a
//! test's controller namespace so each test can run its own controller with the same rules.

use std::path::PathBuf;

use crate::control_plane::ControlPlane;
use crate::process::wait_until;

/// The repository's deploy/ folder (found at run time: [`crate::workspace_dir`]).
pub fn deploy_dir() -> PathBuf {
    crate::workspace_dir().join("deploy")
}

/// `kubectl kustomize deploy/overlays/REGION`.
pub fn render_overlay(plane: &ControlPlane, region: &str) -> Result<String, String> {
    let overlay = deploy_dir().join("overlays").join(region);
    plane
        .kubectl()
        .run(&["kustomize", &overlay.display().to_string()], None)
}

const APPLY: [&str; 5] = ["apply", "--server-side", "--force-conflicts", "-f", "-"];

/// Installs deploy/crd.yaml (server-side apply) and waits until the CRD is established.
pub fn install_crd(plane: &ControlPlane) -> Result<(), String> {
    let kubectl = plane.kubectl();
    let crd = std::fs::read_to_string(deploy_dir().join("crd.yaml")).map_err(|e| e.to_string())?;
    kubectl.run(&APPLY, Some(&crd))?;
    kubectl.run(
        &[
            "wait",
            "--for=condition=Established",
            "crd/sealedsecrets.ageseal.io",
            "--timeout=60s",
        ],
        None,
    )?;
    Ok(())
}

/// Installs deploy/crd.yaml and the us-east-1 overlay (server-side apply), checks the us-west-2
/// overlay with a server-side dry run, and waits until the CRD is established.
pub fn install(plane: &ControlPlane) -> Result<(), String> {
    install_crd(plane)?;
    let kubectl = plane.kubectl();
    kubectl.run(&APPLY, Some(&render_overlay(plane, "us-east-1")?))?;
    let dry_run = ["apply", "--server-side", "--dry-run=server", "-f", "-"];
    kubectl.run(&dry_run, Some(&render_overlay(plane, "us-west-2")?))?;
    Ok(())
}

/// A test's own namespaces: `NAME-system` for its controller (holding deploy/'s Role and
/// RoleBinding, unchanged but for the namespace) and `NAME` for its applications.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The controller's namespace (key Secrets, ConfigMap, Lease).
    pub system: String,
    /// The namespace the test's SealedSecrets live in.
    pub apps: String,
}

impl Tenant {
    /// Creates both namespaces and grants deploy/'s namespaced rules in `NAME-system`.
    pub fn new(plane: &ControlPlane, name: &str) -> Self {
        let tenant = Tenant {
            system: format!("{name}-system"),
            apps: name.to_owned(),
        };
        let kubectl = plane.kubectl();
        kubectl.namespace(&tenant.system);
        kubectl.namespace(&tenant.apps);
        let rendered = render_overlay(plane, "us-east-1").unwrap_or_else(|e| panic!("{e}"));
        let mut grants = String::new();
        for document in serde_yaml::Deserializer::from_str(&rendered) {
            let mut value: serde_yaml::Value =
                serde::Deserialize::deserialize(document).expect("kustomize prints YAML");
            let kind = value.get("kind").and_then(serde_yaml::Value::as_str);
            if !matches!(kind, Some("Role" | "RoleBinding")) {
                continue;
            }
            value["metadata"]["namespace"] = tenant.system.clone().into();
            grants.push_str("---\n");
            grants.push_str(&serde_yaml::to_string(&value).expect("YAML"));
        }
        assert!(grants.contains("kind: Role\n"), "deploy/ has no Role");
        kubectl.apply(&grants);
        wait_until(
            "the copied Role to take effect",
            std::time::Duration::from_secs(30),
            || {
                kubectl
                    .run(
                        &[
                            "auth",
                            "can-i",
                            "create",
                            "leases",
                            "-n",
                            &tenant.system,
                            "--as=system:serviceaccount:ageseal-system:ageseal-controller",
                        ],
                        None,
                    )
                    .ok()
                    .filter(|out| out.trim() == "yes")
            },
        );
        tenant
    }
}

/// The image deploy/base names; overlays and tests replace only this reference.
pub const SHIPPED_IMAGE: &str = "ghcr.io/ageseal/ageseal-controller";

/// `deploy/overlays/REGION` exactly as shipped but for the controller image: a kustomization of
/// its own in `dir` whose only change is an `images:` entry naming `image` (`NAME:TAG`, e.g.
/// `localhost/ageseal-controller:0.1.0`), rendered by `kubectl kustomize`.
pub fn render_with_image(
    plane: &ControlPlane,
    region: &str,
    image: &str,
    dir: &std::path::Path,
) -> Result<String, String> {
    let (name, tag) = image
        .rsplit_once(':')
        .ok_or_else(|| format!("{image} has no tag"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let overlay = std::fs::canonicalize(deploy_dir().join("overlays").join(region))
        .map_err(|e| format!("deploy/overlays/{region}: {e}"))?;
    // kustomize takes a base by a relative path only: up from `dir` to `/`, then down.
    let up = "../".repeat(dir.components().count().saturating_sub(1));
    let base = overlay.strip_prefix("/").unwrap_or(&overlay);
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- {up}{}\nimages:\n- name: {SHIPPED_IMAGE}\n  newName: {name}\n  newTag: \"{tag}\"\n",
        base.display()
    );
    std::fs::write(dir.join("kustomization.yaml"), kustomization).map_err(|e| e.to_string())?;
    plane
        .kubectl()
        .run(&["kustomize", &dir.display().to_string()], None)
}
