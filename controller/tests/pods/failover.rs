//! Losing the leader Pod: a graceful delete (SIGTERM) hands the Lease over within 5 s; a forced
//! delete, or the leader's process killed with SIGKILL (no chance to step down), still has a new
//! SealedSecret served within 20 s. Each is done `AGESEAL_POD_FAILOVER_ROUNDS` times (default 2;
//! the figures in controller/benches/README.md are medians of 5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ageseal_testenv::{Test, wait_until};

use super::cluster::{Cluster, SYSTEM};

pub fn tests() -> Vec<Test<Cluster>> {
    vec![
        Test::new(
            "pods_a_graceful_delete_of_the_leader_hands_the_lease_over_within_5_s",
            graceful,
        ),
        Test::new(
            "pods_a_force_deleted_or_killed_leader_is_replaced_and_new_objects_served_within_20_s",
            forced,
        ),
    ]
}

fn rounds() -> usize {
    ageseal_testenv::env_number("AGESEAL_POD_FAILOVER_ROUNDS", 2)
}

fn report(what: &str, times: &[Duration]) {
    println!(
        "pods: {what}, {} times: {}",
        times.len(),
        ageseal_testenv::median_of(times)
    );
}

fn graceful(cluster: Arc<Cluster>) {
    cluster.deployed();
    let mut handovers = Vec::new();
    for round in 0..rounds() {
        cluster.wait_replicas_ready(Duration::from_secs(120));
        let leader = cluster.wait_leader();
        let deleted = Instant::now();
        cluster
            .kubectl
            .ok(&["delete", "pod", &leader, "-n", SYSTEM, "--wait=false"], None);
        let next = wait_until("another replica to lead", Duration::from_secs(30), || {
            std::thread::sleep(Duration::from_millis(50));
            cluster.leader().filter(|holder| *holder != leader)
        });
        let handover = deleted.elapsed();
        assert!(
            handover < Duration::from_secs(5),
            "{next} led {handover:?} after the graceful delete of {leader}: the Lease was not released"
        );
        let name = format!("graceful-{round}");
        cluster.seal_and_apply(&name, "Graceful-V4lue");
        cluster.wait_value(&name, "Graceful-V4lue", Duration::from_secs(20));
        handovers.push(handover);
    }
    report(
        "graceful delete of the leader -> the other replica leads",
        &handovers,
    );
    cluster.wait_replicas_ready(Duration::from_secs(120));
}

fn forced(cluster: Arc<Cluster>) {
    cluster.deployed();
    let mut deleted = Vec::new();
    let mut killed = Vec::new();
    for round in 0..rounds() {
        for force in [true, false] {
            cluster.wait_replicas_ready(Duration::from_secs(120));
            let leader = cluster.wait_leader();
            let start = Instant::now();
            if force {
                cluster.kubectl.ok(
                    &[
                        "delete",
                        "pod",
                        &leader,
                        "-n",
                        SYSTEM,
                        "--grace-period=0",
                        "--force",
                        "--wait=false",
                    ],
                    None,
                );
            } else {
                let pod = cluster
                    .kubectl
                    .get("pod", SYSTEM, &leader)
                    .expect("the leader Pod");
                let container = pod["status"]["containerStatuses"][0]["containerID"]
                    .as_str()
                    .expect("a container");
                let pid = cluster.node.container_pid(container).expect("its process");
                let status = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .expect("kill runs");
                assert!(status.success());
            }
            let name = format!("{}-{round}", if force { "forced" } else { "killed" });
            cluster.seal_and_apply(&name, "Failover-V4lue");
            cluster.wait_value(&name, "Failover-V4lue", Duration::from_secs(60));
            let took = start.elapsed();
            assert!(
                took < Duration::from_secs(20),
                "a new SealedSecret was served {took:?} after the leader {leader} was {}",
                if force { "force-deleted" } else { "killed" }
            );
            if force { &mut deleted } else { &mut killed }.push(took);
        }
    }
    report(
        "force delete of the leader Pod -> a new SealedSecret served",
        &deleted,
    );
    report(
        "SIGKILL of the leader's process -> a new SealedSecret served",
        &killed,
    );
    cluster.wait_replicas_ready(Duration::from_secs(120));
}
