//! deploy/ against the real API server: the suite's setup applied deploy/crd.yaml and the active
//! overlay server-side (and the standby's as a server-side dry run); here the result is checked,
//! and the example SealedSecret is validated by the CRD's own schema (a broken one is refused).

use std::sync::Arc;

use ageseal_testenv::deploy::{deploy_dir, render_overlay};
use ageseal_testenv::{ControlPlane, Test};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new("deploy_overlays_apply_server_side", overlays_apply),
        Test::new(
            "deploy_example_passes_the_crd_schema_and_a_broken_one_does_not",
            example_schema,
        ),
    ]
}

fn overlays_apply(plane: Arc<ControlPlane>) {
    let kubectl = plane.kubectl();
    for (kind, name) in [
        ("deployment", "ageseal-controller"),
        ("serviceaccount", "ageseal-controller"),
        ("role", "ageseal-controller"),
        ("rolebinding", "ageseal-controller"),
        ("service", "ageseal-controller"),
        ("poddisruptionbudget", "ageseal-controller"),
        ("networkpolicy", "ageseal-controller"),
    ] {
        assert!(
            kubectl.get(kind, "ageseal-system", name).is_some(),
            "{kind}/{name} was not applied"
        );
    }
    let deployment = kubectl
        .get("deployment", "ageseal-system", "ageseal-controller")
        .expect("Deployment");
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains("--region=us-east-1"), "{args}");
    for kind in ["clusterrole", "clusterrolebinding"] {
        kubectl.ok(&["get", kind, "ageseal-controller"], None);
    }
    // The standby overlay passes the server's own validation (a dry run changes nothing).
    let standby = render_overlay(&plane, "us-west-2").expect("renders");
    let out = kubectl.ok(
        &["apply", "--server-side", "--dry-run=server", "-f", "-"],
        Some(&standby),
    );
    assert!(
        out.contains("deployment.apps/ageseal-controller serverside-applied (server dry run)"),
        "{out}"
    );
    let live = kubectl
        .get("deployment", "ageseal-system", "ageseal-controller")
        .expect("Deployment");
    assert_eq!(
        live["spec"]["replicas"], 2,
        "the dry run changed the active deployment"
    );
    // A field the API does not know is refused, so the check above can fail.
    let broken = standby.replacen("replicas: 1", "replicaz: 1", 1);
    assert!(
        kubectl
            .run(
                &["apply", "--server-side", "--dry-run=server", "-f", "-"],
                Some(&broken)
            )
            .is_err(),
        "an unknown field was accepted"
    );
}

fn example_schema(plane: Arc<ControlPlane>) {
    let kubectl = plane.kubectl();
    kubectl.namespace("payments");
    let example = std::fs::read_to_string(deploy_dir().join("examples/sealedsecret.yaml")).expect("example");
    let dry_run = [
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        "-",
    ];
    kubectl.ok(&dry_run, Some(&example));
    for broken in [
        example.replace("encryptedData:", "encryptedDatum:"),
        example.replace("apiVersion: ageseal.io/v1alpha1", "apiVersion: ageseal.io/v1"),
    ] {
        assert!(
            kubectl.run(&dry_run, Some(&broken)).is_err(),
            "the API server accepted a malformed SealedSecret:\n{broken}"
        );
    }
}
