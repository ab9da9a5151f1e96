//! High availability on a real API server: two replicas with `--leader-election`, the leader
//! killed with `kill -9`, and the standby reconciling new objects (the measured failover time is
//! printed; controller/benches/README.md records the figures).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::{ControlPlane, Test, wait_until};

use super::support::{SOON, World, key_count};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new("ha_the_standby_takes_over_after_kill_9_of_the_leader", failover),
        Test::new(
            "ha_a_replica_whose_clock_is_30_s_off_never_takes_a_live_lease_and_fails_over_in_time",
            skewed_clocks,
        )
        .local_only(),
    ]
}

/// A healthy leader, and a second replica whose wall clock runs 30 s ahead or behind (Debian's
/// libfaketime; its monotonic clock untouched): the leader keeps the Lease for longer than a
/// lease duration, and after `kill -9` of the leader the skewed replica serves a new object
/// within 20 s. Both skews run at once, each in its own tenant.
fn skewed_clocks(plane: Arc<ControlPlane>) {
    let faketime = std::process::Command::new("faketime").arg("--help").output();
    assert!(
        faketime.is_ok_and(|o| o.status.success()),
        "faketime is missing: apt-get install faketime (scripts/test.sh installs it)"
    );
    std::thread::scope(|scope| {
        for (name, skew) in [("skewahead", "+30s"), ("skewbehind", "-30s")] {
            let plane = plane.clone();
            scope.spawn(move || skewed(plane, name, skew));
        }
    });
}

fn skewed(plane: Arc<ControlPlane>, name: &str, skew: &str) {
    let world = World::new(plane.clone(), name);
    let options = |replica: &str| {
        Options::for_tenant(&world.tenant, "r")
            .arg("--leader-election")
            .replica(replica)
    };
    let healthy_name = format!("{name}-healthy");
    let mut healthy = Controller::start(&plane, options(&healthy_name));
    healthy.wait_ready(SOON);
    wait_until("the healthy replica to lead", SOON, || {
        (holder(&world).as_deref() == Some(healthy_name.as_str())).then_some(())
    });
    let mut skewed_options = options(&format!("{name}-skewed"));
    skewed_options.wrapper = vec!["faketime".into(), "-f".into(), skew.into()];
    skewed_options
        .env
        .push(("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()));
    let mut skewed = Controller::start(&plane, skewed_options);
    skewed.wait_ready(SOON);
    // Longer than a lease duration (15 s) plus a retry: a judge by wall clock would have acted.
    std::thread::sleep(Duration::from_secs(20));
    assert_eq!(
        holder(&world).as_deref(),
        Some(healthy_name.as_str()),
        "clock {skew}: the Lease moved"
    );
    assert!(healthy.is_running(), "clock {skew}: the healthy leader stopped");
    assert!(skewed.is_running());
    let key = healthy.recipients()[0].clone();
    world.apply(&world.seal("first", &[("password", "Skew-first-V4lue")], &key));
    world.wait_value("first", "password", "Skew-first-V4lue");
    let killed = Instant::now();
    healthy.kill();
    world.apply(&world.seal("second", &[("password", "Skew-second-V4lue")], &key));
    world.wait_value("second", "password", "Skew-second-V4lue");
    let failover = killed.elapsed();
    println!(
        "ha: clock {skew}: kill -9 of the healthy leader -> the skewed replica applied a new Secret after {failover:.1?}"
    );
    assert!(
        failover < Duration::from_secs(20),
        "clock {skew}: failover took {failover:?}"
    );
}

fn holder(world: &World) -> Option<String> {
    let lease = world
        .kubectl
        .get("lease", &world.tenant.system, "ageseal-controller")?;
    lease["spec"]["holderIdentity"].as_str().map(str::to_owned)
}

fn failover(plane: Arc<ControlPlane>) {
    let world = World::new(plane.clone(), "ha");
    let options = |name: &str| {
        Options::for_tenant(&world.tenant, "r")
            .arg("--leader-election")
            .replica(name)
    };
    let mut replicas = [
        Controller::start(&plane, options("ha-a")),
        Controller::start(&plane, options("ha-b")),
    ];
    for replica in &replicas {
        replica.wait_ready(SOON);
    }
    let leader = wait_until("a leader", SOON, || holder(&world));
    let key = replicas[0].recipients()[0].clone();
    world.apply(&world.seal("first", &[("password", "Ha-first-V4lue")], &key));
    world.wait_value("first", "password", "Ha-first-V4lue");
    assert_eq!(
        key_count(&world),
        1,
        "two replicas with leader election made more than one key"
    );

    let (dead, standby) = if leader == "ha-a" { (0, 1) } else { (1, 0) };
    // The standby is warm but silent: it has reconciled (read-only), and every Event about the
    // object came from the leader.
    let reconciles = wait_until("the standby to check the object", SOON, || {
        let (_, metrics) = replicas[standby].get("/metrics")?;
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("ageseal_reconciles_total "))
            .and_then(|n| n.trim().parse::<f64>().ok())
            .filter(|n| *n > 0.0)
    });
    assert!(reconciles > 0.0);
    let events = world
        .kubectl
        .ok(&["get", "events", "-n", &world.tenant.apps, "-o", "json"], None);
    let events: serde_json::Value = serde_json::from_str(&events).expect("JSON");
    let instances: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["involvedObject"]["kind"] == "SealedSecret")
        .filter_map(|e| e["reportingInstance"].as_str())
        .collect();
    assert!(!instances.is_empty(), "the leader announced the object: {events}");
    assert!(
        instances.iter().all(|i| *i == leader),
        "only the leader reports Events, standby included: {instances:?}"
    );
    let killed = Instant::now();
    replicas[dead].kill();
    world.apply(&world.seal("second", &[("password", "Ha-second-V4lue")], &key));
    world.wait_value("second", "password", "Ha-second-V4lue");
    let failover = killed.elapsed();
    println!("ha: kill -9 of the leader -> the standby applied a new Secret after {failover:.1?}");
    assert_eq!(
        holder(&world).as_deref(),
        Some(replicas[standby].options.replica.as_str())
    );
    assert!(replicas[standby].is_running());
    wait_until("the new leader to be ready", Duration::from_secs(30), || {
        replicas[standby].get("/readyz").filter(|(code, _)| *code == 200)
    });
}
