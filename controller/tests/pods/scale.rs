//! 10,000 SealedSecrets synced from cold by the Pods under the shipped memory limit: the
//! Deployment scaled to zero, the objects created, scaled back to two; no OOM kill, no container
//! restart (liveness never kills a controller that is syncing), every object Ready. The Pods'
//! peak memory is read from their memory cgroups (`memory.max_usage_in_bytes`, what the limit
//! is enforced against). `AGESEAL_POD_SCALE_OBJECTS` changes the count.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ageseal_core::config::NamedRecipient;
use ageseal_testenv::fleet::{Fleet, NAMESPACES, namespace};
use ageseal_testenv::{Test, wait_until};

use super::cluster::{Cluster, SYSTEM};

pub fn tests() -> Vec<Test<Cluster>> {
    vec![Test::new(
        "pods_ten_thousand_sealedsecrets_sync_under_the_shipped_memory_limit_without_restarts",
        ten_thousand,
    )]
}

fn objects() -> usize {
    ageseal_testenv::env_number("AGESEAL_POD_SCALE_OBJECTS", 10_000)
}

fn scale(cluster: &Cluster, replicas: u8) {
    cluster.kubectl.ok(
        &[
            "scale",
            "deployment/ageseal-controller",
            "-n",
            SYSTEM,
            &format!("--replicas={replicas}"),
        ],
        None,
    );
}

/// Each running controller container's (memory cgroup, restart count, last termination reason).
fn containers(cluster: &Cluster) -> Vec<(String, Option<std::path::PathBuf>, u64, String)> {
    cluster
        .pods()
        .iter()
        .map(|pod| {
            let status = &pod["status"]["containerStatuses"][0];
            let cgroup = status["containerID"]
                .as_str()
                .and_then(|id| cluster.node.memory_cgroup(id));
            (
                pod["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                cgroup,
                status["restartCount"].as_u64().unwrap_or(0),
                status["lastState"]["terminated"]["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn read_number(path: &std::path::Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn ten_thousand(cluster: Arc<Cluster>) {
    cluster.deployed();
    cluster.wait_replicas_ready(Duration::from_secs(120));
    let n = objects();
    let recipient = NamedRecipient::new("us-east-1", cluster.recipient().parse().expect("a recipient"));
    let fleet = Fleet::new(cluster.plane.admin_kubeconfig(), recipient);
    scale(&cluster, 0);
    wait_until("the Pods to stop", Duration::from_secs(120), || {
        let all = cluster.kubectl.ok(
            &[
                "get",
                "pods",
                "-n",
                SYSTEM,
                "-l",
                super::cluster::SELECTOR,
                "-o",
                "name",
            ],
            None,
        );
        all.trim().is_empty().then_some(())
    });
    for i in 0..NAMESPACES {
        cluster.kubectl.namespace(&namespace(i));
    }
    let created = Instant::now();
    fleet.create(n);
    println!(
        "pods: {n} SealedSecrets created in {:.1} s",
        created.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    scale(&cluster, 2);
    // Sample each container's cgroup while it syncs: a container that restarts gets a new one.
    let mut peaks: BTreeMap<String, u64> = BTreeMap::new();
    let sample = |peaks: &mut BTreeMap<String, u64>| {
        for (pod, cgroup, restarts, reason) in containers(&cluster) {
            assert_eq!(restarts, 0, "{pod} restarted ({reason})\n{}", cluster.logs());
            if let Some(max) = cgroup.and_then(|c| read_number(&c.join("memory.max_usage_in_bytes"))) {
                let peak = peaks.entry(pod).or_default();
                *peak = (*peak).max(max);
            }
        }
    };
    wait_until("every Secret", Duration::from_secs(900), || {
        std::thread::sleep(Duration::from_secs(1));
        sample(&mut peaks);
        (fleet.secrets_made() >= n).then_some(())
    });
    wait_until("every object Ready", Duration::from_secs(300), || {
        std::thread::sleep(Duration::from_secs(1));
        sample(&mut peaks);
        (fleet.ready() >= n).then_some(())
    });
    let synced = started.elapsed();
    // Both replicas settle Ready and stay up; a last look at the counters.
    cluster.wait_replicas_ready(Duration::from_secs(120));
    sample(&mut peaks);
    let limit: u64 = 256 * 1024 * 1024;
    for (pod, cgroup, restarts, reason) in containers(&cluster) {
        assert_eq!(restarts, 0, "{pod} restarted ({reason})");
        let cgroup = cgroup.unwrap_or_else(|| panic!("no memory cgroup for {pod}"));
        assert_eq!(
            read_number(&cgroup.join("memory.limit_in_bytes")),
            Some(limit),
            "{pod}'s limit"
        );
        let failcnt = read_number(&cgroup.join("memory.failcnt")).unwrap_or(0);
        assert_eq!(failcnt, 0, "{pod} hit its memory limit {failcnt} times");
    }
    assert_eq!(peaks.len(), 2, "{peaks:?}");
    let leader = cluster.leader().unwrap_or_default();
    for (pod, peak) in &peaks {
        assert!(*peak < limit, "{pod} peaked at {peak} bytes");
        println!(
            "pods: {n} objects: {pod}{} peaked at {:.1} MiB of its 256 MiB limit",
            if *pod == leader { " (leader)" } else { "" },
            *peak as f64 / 1048576.0
        );
    }
    println!(
        "pods: scaled 0 -> 2 with {n} SealedSecrets: every Secret made and object Ready in {:.1} s, no restart",
        synced.as_secs_f64()
    );
}
