//! RBAC: with one permission removed from deploy/'s ClusterRole, the controller's failure is
//! visible (on `/readyz`, or as an error line naming RBAC), never silent. Runs alone: it edits the
//! ClusterRole every test shares, and puts deploy/'s back afterwards.

use std::sync::Arc;

use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::deploy::render_overlay;
use ageseal_testenv::{ControlPlane, Test, wait_until};

use super::support::{SOON, World};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "rbac_a_missing_permission_is_visible_never_silent",
            missing_permissions,
        )
        .alone(),
    ]
}

/// deploy/'s ClusterRole as rendered, and the same with `verb` removed from the rule for `resource`.
fn cluster_roles(plane: &ControlPlane, resource: &str, verb: &str) -> (String, String) {
    let rendered = render_overlay(plane, "us-east-1").expect("renders");
    for document in serde_yaml::Deserializer::from_str(&rendered) {
        let value: serde_yaml::Value = serde::Deserialize::deserialize(document).expect("YAML");
        if value["kind"] != "ClusterRole" {
            continue;
        }
        let original = serde_yaml::to_string(&value).expect("YAML");
        let mut reduced = value.clone();
        let rules = reduced["rules"].as_sequence_mut().expect("rules");
        let mut found = false;
        for rule in rules.iter_mut() {
            let names = rule["resources"].as_sequence().expect("resources");
            if names.iter().any(|n| n.as_str() == Some(resource)) {
                let verbs = rule["verbs"].as_sequence_mut().expect("verbs");
                let before = verbs.len();
                verbs.retain(|v| v.as_str() != Some(verb));
                found |= verbs.len() < before;
            }
        }
        assert!(found, "deploy/'s ClusterRole grants no {verb} on {resource}");
        return (original, serde_yaml::to_string(&reduced).expect("YAML"));
    }
    panic!("deploy/ renders no ClusterRole");
}

/// Runs `check` with `verb` on `resource` removed; deploy/'s ClusterRole is restored even if it fails.
fn without(plane: &Arc<ControlPlane>, resource: &str, verb: &str, check: impl FnOnce(&World)) {
    let (original, reduced) = cluster_roles(plane, resource, verb);
    let kubectl = plane.kubectl();
    struct Restore<'a>(&'a ageseal_testenv::Kubectl, &'a str);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            self.0.apply(self.1);
        }
    }
    kubectl.apply(&reduced);
    let _restore = Restore(&kubectl, &original);
    let name = format!("rbac-{}-{verb}", resource.replace(['/', '.'], "-"));
    let world = World::new(plane.clone(), &name);
    check(&world);
}

/// Starts a controller (not waiting for it to be ready) and waits until `/readyz` and an error
/// line name `what`.
fn named_as_missing(world: &World, what: &str, options: Options) -> Controller {
    let controller = Controller::start(&world.plane, options);
    let body = wait_until(&format!("/readyz to name {what:?}"), SOON, || {
        controller
            .get("/readyz")
            .filter(|(code, body)| *code == 503 && body.contains(what))
            .map(|(_, body)| body)
    });
    assert!(body.contains("deploy/base/rbac.yaml"), "{body}");
    wait_until("an error line naming it", SOON, || {
        controller
            .log()
            .lines()
            .any(|line| line.contains("ERROR") && line.contains(what))
            .then_some(())
    });
    controller
}

fn missing_permissions(plane: Arc<ControlPlane>) {
    // No watch on Secrets: a forbidden watch would otherwise look like an empty one.
    without(&plane, "secrets", "watch", |world| {
        named_as_missing(world, "watch secrets", Options::for_tenant(&world.tenant, "r"));
    });
    // No patch on the status subresource: the object cannot say it failed, so the log must,
    // at start-up and again when a status write is refused.
    without(&plane, "sealedsecrets/status", "patch", |world| {
        let options = Options::for_tenant(&world.tenant, "r");
        let controller = named_as_missing(world, "patch sealedsecrets/status", options);
        let key = wait_until("a published key", SOON, || {
            controller.recipients().first().cloned()
        });
        world.apply(&world.seal("db", &[("password", "Rbac-Status-V4lue")], &key));
        world.wait_value("db", "password", "Rbac-Status-V4lue");
        wait_until("an error line about writing status", SOON, || {
            controller
                .log()
                .lines()
                .any(|l| l.contains("ERROR") && l.contains("writing status") && l.contains("RBAC"))
                .then_some(())
        });
    });
    // No create on Events: Secrets are still made, and the missing Events are reported.
    without(&plane, "events", "create", |world| {
        let options = Options::for_tenant(&world.tenant, "r");
        let controller = named_as_missing(world, "create events.events.k8s.io", options);
        let key = wait_until("a published key", SOON, || {
            controller.recipients().first().cloned()
        });
        world.apply(&world.seal("db", &[("password", "Rbac-Events-V4lue")], &key));
        world.wait_value("db", "password", "Rbac-Events-V4lue");
        wait_until("a warning about Events", SOON, || {
            controller
                .log()
                .lines()
                .any(|l| l.contains("WARN") && l.contains("recording an Event") && l.contains("RBAC"))
                .then_some(())
        });
    });
}
