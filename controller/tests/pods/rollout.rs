//! `kubectl rollout restart` with Secrets in place: none goes missing or changes, the controller
//! writes none, and a Ready replica remains throughout; evictions (what a node drain sends) are
//! held back by the PodDisruptionBudget.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ageseal_testenv::{Test, wait_until};

use super::cluster::{APPS, Cluster, SELECTOR, SYSTEM, is_ready};

pub fn tests() -> Vec<Test<Cluster>> {
    vec![
        Test::new(
            "pods_a_rollout_restart_keeps_every_secret_writes_none_and_keeps_a_ready_replica",
            rollout,
        ),
        Test::new(
            "pods_the_disruption_budget_refuses_evicting_the_last_ready_replica",
            evictions,
        ),
    ]
}

/// Every Secret in the apps namespace: name -> (resourceVersion, data).
fn secrets(cluster: &Cluster) -> BTreeMap<String, (String, String)> {
    let out = cluster
        .kubectl
        .ok(&["get", "secrets", "-n", APPS, "-o", "json"], None);
    let list: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|s| {
                    (
                        s["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                        (
                            s["metadata"]["resourceVersion"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            s["data"].to_string(),
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn rollout(cluster: Arc<Cluster>) {
    cluster.deployed();
    cluster.wait_replicas_ready(Duration::from_secs(120));
    for i in 0..10 {
        cluster.seal_and_apply(&format!("rollout-{i}"), &format!("Rollout-V4lue-{i}"));
    }
    for i in 0..10 {
        cluster.wait_value(
            &format!("rollout-{i}"),
            &format!("Rollout-V4lue-{i}"),
            Duration::from_secs(60),
        );
    }
    // Let the leader's last status writes land before counting.
    std::thread::sleep(Duration::from_secs(3));
    let before = secrets(&cluster);
    assert!(before.len() >= 10);
    let old: Vec<String> = cluster
        .pods()
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    let offset = cluster.audit_offset();
    let started = Instant::now();
    cluster.kubectl.ok(
        &[
            "rollout",
            "restart",
            "deployment/ageseal-controller",
            "-n",
            SYSTEM,
        ],
        None,
    );
    let mut fewest_ready = usize::MAX;
    let mut samples = 0;
    wait_until(
        "the rollout to replace both Pods",
        Duration::from_secs(180),
        || {
            let pods = cluster.pods();
            fewest_ready = fewest_ready.min(pods.iter().filter(|p| is_ready(p)).count());
            samples += 1;
            assert_eq!(
                secrets(&cluster),
                before,
                "a Secret went missing or changed during the rollout"
            );
            let names: Vec<&str> = pods
                .iter()
                .filter_map(|p| p["metadata"]["name"].as_str())
                .collect();
            let replaced = pods.len() == 2 && names.iter().all(|n| !old.iter().any(|o| o == n));
            let all = cluster
                .kubectl
                .ok(&["get", "pods", "-n", SYSTEM, "-l", SELECTOR, "-o", "name"], None);
            (replaced && all.lines().count() == 2 && pods.iter().all(is_ready)).then_some(())
        },
    );
    let took = started.elapsed();
    assert!(
        fewest_ready >= 1,
        "no replica was Ready at some point of the rollout"
    );
    // The new leader has gone over every object by now; give it a moment to (not) write.
    let leader = wait_until("a leader among the new Pods", Duration::from_secs(30), || {
        cluster.leader().filter(|l| !old.contains(l))
    });
    cluster.seal_and_apply("after-rollout", "After-rollout-V4lue");
    cluster.wait_value("after-rollout", "After-rollout-V4lue", Duration::from_secs(60));
    let writes: Vec<String> = cluster
        .controller_secret_writes_since(offset)
        .into_iter()
        .filter(|line| !line.contains("\"name\":\"after-rollout\""))
        .collect();
    assert!(
        writes.is_empty(),
        "the controller wrote Secrets during the rollout: {writes:#?}"
    );
    let mut after = secrets(&cluster);
    after.remove("after-rollout");
    assert_eq!(after, before, "a Secret changed across the rollout");
    println!(
        "pods: rollout restart: {:.1} s, {} samples with at least {fewest_ready} Ready replica(s), 0 Secret writes; {leader} leads",
        took.as_secs_f64(),
        samples
    );
}

fn evict(cluster: &Cluster, pod: &str) -> Result<String, String> {
    let eviction = format!(
        r#"{{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {{"name": "{pod}", "namespace": "{SYSTEM}"}}}}"#
    );
    cluster.kubectl.run(
        &[
            "create",
            "--raw",
            &format!("/api/v1/namespaces/{SYSTEM}/pods/{pod}/eviction"),
            "-f",
            "-",
        ],
        Some(&eviction),
    )
}

fn evictions(cluster: Arc<Cluster>) {
    cluster.deployed();
    cluster.wait_replicas_ready(Duration::from_secs(120));
    // The disruption controller has counted both replicas healthy.
    wait_until(
        "the budget to allow one disruption",
        Duration::from_secs(60),
        || {
            let pdb = cluster.kubectl.get("pdb", SYSTEM, "ageseal-controller")?;
            (pdb["status"]["disruptionsAllowed"] == 1).then_some(())
        },
    );
    let pods: Vec<String> = cluster
        .pods()
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(pods.len(), 2);
    evict(&cluster, &pods[0]).unwrap_or_else(|e| panic!("the first eviction was refused: {e}"));
    let refused = evict(&cluster, &pods[1]).expect_err("the second eviction went through");
    assert!(
        refused.contains("disruption budget"),
        "refused for another reason: {refused}"
    );
    let still = cluster
        .kubectl
        .get("pod", SYSTEM, &pods[1])
        .expect("the second Pod stays");
    assert!(still["metadata"]["deletionTimestamp"].is_null());
    println!(
        "pods: PodDisruptionBudget: first eviction allowed, second refused ({})",
        refused.trim()
    );
    cluster.wait_replicas_ready(Duration::from_secs(120));
}
