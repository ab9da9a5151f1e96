//! Faults, on a control plane of the test's own: the controller started while the API server is
//! down retries, says why it is not ready, and becomes ready; the API server killed and restarted
//! mid-run, after which the controller converges without deleting or blanking anything.

use std::sync::Arc;
use std::time::Duration;

use ageseal_testenv::controller::Options;
use ageseal_testenv::{ControlPlane, Test, wait_until};

use super::support::{SOON, World, secret_value};

/// How long convergence may take after the API server came back.
const AFTER_RESTART: Duration = Duration::from_secs(180);

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "faults_the_api_server_down_at_start_and_killed_mid_run",
            api_server_down,
        )
        .local_only(),
    ]
}

fn api_server_down(_shared: Arc<ControlPlane>) {
    let plane = Arc::new(ControlPlane::start_local().unwrap_or_else(|e| panic!("{e}")));
    ageseal_testenv::deploy::install(&plane).unwrap_or_else(|e| panic!("{e}"));
    let world = World::new(plane.clone(), "faults");

    // Started while the API server is down: not ready, says why, keeps trying.
    plane.kill_apiserver().expect("local");
    let mut controller =
        ageseal_testenv::controller::Controller::start(&plane, Options::for_tenant(&world.tenant, "r"));
    let (code, body) = wait_until("/readyz to answer", SOON, || controller.get("/readyz"));
    assert_eq!(code, 503, "{body}");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        controller.is_running(),
        "exited while the API server was down:\n{}",
        controller.log()
    );
    let (code, body) = controller.get("/readyz").expect("answers");
    assert_eq!(code, 503);
    assert!(body.contains("keys") || body.contains("retrying"), "{body}");
    plane.start_apiserver().expect("restarts");
    controller.wait_ready(Duration::from_secs(90));

    // Killed and restarted mid-run: nothing deleted or blanked, and new work is done.
    let key = controller.recipients()[0].clone();
    for i in 0..3 {
        world.apply(&world.seal(
            &format!("db-{i}"),
            &[("password", &format!("Faults-{i}-V4lue"))],
            &key,
        ));
    }
    for i in 0..3 {
        world.wait_value(&format!("db-{i}"), "password", &format!("Faults-{i}-V4lue"));
    }
    let uids: Vec<serde_json::Value> = (0..3)
        .map(|i| world.secret(&format!("db-{i}")).expect("Secret")["metadata"]["uid"].clone())
        .collect();
    plane.kill_apiserver().expect("local");
    std::thread::sleep(Duration::from_secs(5));
    plane.start_apiserver().expect("restarts");
    world.apply(&world.seal("after", &[("password", "Faults-after-V4lue")], &key));
    // A restarted API server (etcd 3.4 here) can hold or garble a resumed watch; the controller
    // then lists afresh (crate::watch::relisting). On a loaded machine the restarted server's own
    // start-up is the time to beat, not the controller's backoff (at most 10 s).
    world.wait_value_within("after", "password", "Faults-after-V4lue", AFTER_RESTART);
    for (i, uid) in uids.iter().enumerate() {
        let name = format!("db-{i}");
        let secret = world.secret(&name).expect("still there");
        assert_eq!(
            &secret["metadata"]["uid"], uid,
            "{name} was deleted and recreated"
        );
        assert_eq!(
            secret_value(&world.kubectl, &world.tenant.apps, &name, "password"),
            Some(format!("Faults-{i}-V4lue").into_bytes()),
        );
        assert_eq!(world.wait_ready(&name, "True")["reason"], "Unsealed");
    }
    assert!(controller.is_running());
    controller.wait_ready(AFTER_RESTART);
}
