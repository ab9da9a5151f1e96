//! The controller as deploy/ runs it: the us-east-1 overlay's own arguments, its own namespace
//! `ageseal-system`, every namespace watched. Runs alone: it reconciles whatever exists.

use std::sync::Arc;

use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::deploy::render_overlay;
use ageseal_testenv::{ControlPlane, Test, User};

use super::support::{SOON, seal_secret, secret_value};
use ageseal_testenv::wait_until;

pub fn tests() -> Vec<Test> {
    vec![Test::new("deployed_controller_serves_every_namespace", every_namespace).alone()]
}

/// The `args` of the controller container in a rendered overlay, without the subcommand.
pub fn overlay_args(plane: &ControlPlane, region: &str) -> Vec<String> {
    let rendered = render_overlay(plane, region).expect("renders");
    for document in serde_yaml::Deserializer::from_str(&rendered) {
        let value: serde_yaml::Value = serde::Deserialize::deserialize(document).expect("YAML");
        if value["kind"] == "Deployment" {
            let args = &value["spec"]["template"]["spec"]["containers"][0]["args"];
            return args
                .as_sequence()
                .expect("args")
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .filter(|a| a != "run")
                .collect();
        }
    }
    panic!("no Deployment in the {region} overlay");
}

/// The deployed controller: the overlay's arguments as they are, in `ageseal-system`.
pub fn deployed(plane: &ControlPlane, replica: &str) -> Controller {
    let args = overlay_args(plane, "us-east-1");
    let region = args
        .iter()
        .find_map(|a| a.strip_prefix("--region="))
        .expect("--region")
        .to_owned();
    let options = Options {
        region,
        controller_namespace: "ageseal-system".into(),
        namespaces: Vec::new(),
        args: args.into_iter().filter(|a| !a.starts_with("--region=")).collect(),
        env: Vec::new(),
        replica: replica.to_owned(),
        user: User::Controller,
        wrapper: Vec::new(),
    };
    Controller::start(plane, options)
}

fn every_namespace(plane: Arc<ControlPlane>) {
    let controller = deployed(&plane, "deployed-0");
    controller.wait_ready(SOON);
    let kubectl = plane.kubectl();
    let cm = kubectl
        .get("configmap", "ageseal-system", "ageseal-recipients")
        .expect("published");
    assert_eq!(cm["data"]["region"], "us-east-1");
    let key = controller.recipients()[0].clone();
    for ns in ["everywhere-a", "everywhere-b"] {
        kubectl.namespace(ns);
        kubectl.apply(&seal_secret(
            ns,
            "db",
            &[("password", &format!("Value-of-{ns}"))],
            &[&key],
            &[],
        ));
    }
    for ns in ["everywhere-a", "everywhere-b"] {
        wait_until(&format!("the Secret in {ns}"), SOON, || {
            (secret_value(&kubectl, ns, "db", "password") == Some(format!("Value-of-{ns}").into_bytes()))
                .then_some(())
        });
    }
    let _ = kubectl.run(
        &[
            "delete",
            "namespace",
            "everywhere-a",
            "everywhere-b",
            "--wait=false",
        ],
        None,
    );
}
