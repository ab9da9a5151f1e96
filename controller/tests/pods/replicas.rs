//! Both replicas Ready as shipped: Ready only once keys are loaded (the leader once it published
//! them), probes answered at the Pod IP, in-cluster config only, the shipped securityContext seen
//! on the running process, and a SealedSecret turned into a Secret.

use std::sync::Arc;
use std::time::Duration;

use ageseal_testenv::{Test, http_get};

use super::cluster::{APPS, Cluster, SYSTEM};

pub fn tests() -> Vec<Test<Cluster>> {
    vec![Test::new(
        "pods_two_replicas_ready_as_shipped_with_in_cluster_config_and_probes_at_the_pod_ip",
        two_replicas,
    )]
}

/// A field of `/proc/PID/status`.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process runs");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The running pod's containers and security context match the rendered Deployment's template.
fn as_shipped(cluster: &Cluster, pod: &serde_json::Value) {
    let rendered = cluster
        .kubectl
        .get("deployment", SYSTEM, "ageseal-controller")
        .expect("the Deployment");
    let template = &rendered["spec"]["template"]["spec"];
    let spec = &pod["spec"];
    assert_eq!(spec["securityContext"], template["securityContext"]);
    assert_eq!(spec["serviceAccountName"], "ageseal-controller");
    let (container, shipped) = (&spec["containers"][0], &template["containers"][0]);
    for field in [
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "args",
        "image",
    ] {
        assert_eq!(container[field], shipped[field], "{field} differs from deploy/");
    }
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["resources"]["limits"]["memory"], "256Mi");
    // Nothing but the projected ServiceAccount token: no kubeconfig, no hostPath.
    let volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
    assert_eq!(volumes.len(), 1, "volumes: {volumes:?}");
    assert!(volumes[0]["projected"].is_object(), "{volumes:?}");
}

/// What the kernel says about the controller's process: user, capabilities, seccomp, no new
/// privileges, a read-only root, and only in-cluster settings in its environment.
fn process_as_shipped(cluster: &Cluster, container_id: &str) {
    let pid = cluster
        .node
        .container_pid(container_id)
        .unwrap_or_else(|| panic!("no task for {container_id}"));
    for field in ["Uid", "Gid"] {
        let ids = status_field(pid, field);
        assert!(ids.split_whitespace().all(|id| id == "65532"), "{field}: {ids}");
    }
    for field in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(pid, field), "0000000000000000", "{field}");
    }
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    assert_eq!(
        status_field(pid, "Seccomp"),
        "2",
        "seccomp RuntimeDefault is a filter"
    );
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mounts")).expect("mounts");
    let root = mounts
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("/"))
        .expect("a root mount");
    let options = root.split_whitespace().nth(3).unwrap_or_default();
    assert!(options.split(',').any(|o| o == "ro"), "root: {root}");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    let environ = String::from_utf8_lossy(&environ);
    let vars: Vec<&str> = environ.split('\0').collect();
    assert!(vars.contains(&"KUBERNETES_SERVICE_PORT=443"), "{vars:?}");
    assert!(
        vars.iter()
            .any(|v| v.starts_with("KUBERNETES_SERVICE_HOST=10.0.0.")),
        "{vars:?}"
    );
    assert!(!vars.iter().any(|v| v.starts_with("KUBECONFIG=")), "{vars:?}");
    let account = format!("/proc/{pid}/root/var/run/secrets/kubernetes.io/serviceaccount");
    for file in ["token", "ca.crt", "namespace"] {
        assert!(
            std::path::Path::new(&account).join(file).is_file(),
            "the projected volume has no {file}"
        );
    }
    // The binary alone: no shell to exec into.
    assert!(!std::path::Path::new(&format!("/proc/{pid}/root/bin/sh")).exists());
}

fn ready_since(pod: &serde_json::Value) -> String {
    pod["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["lastTransitionTime"].as_str())
        .map(str::to_owned)
        .expect("a Ready condition")
}

fn two_replicas(cluster: Arc<Cluster>) {
    let took = cluster.deployed();
    assert!(took < Duration::from_secs(120));
    let pods = cluster.pods();
    assert_eq!(pods.len(), 2, "{pods:?}");
    let leader = cluster.wait_leader();
    let names: Vec<&str> = pods
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&leader.as_str()),
        "the Lease is held by {leader}, not one of {names:?}"
    );
    let published = cluster
        .kubectl
        .get("configmap", SYSTEM, "ageseal-recipients")
        .expect("published keys");
    let published_at = published["metadata"]["creationTimestamp"]
        .as_str()
        .expect("time")
        .to_owned();
    let recipient = cluster.recipient();
    for pod in &pods {
        let name = pod["metadata"]["name"].as_str().expect("name");
        as_shipped(&cluster, pod);
        assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 0, "{name}");
        let container = pod["status"]["containerStatuses"][0]["containerID"]
            .as_str()
            .expect("a container");
        process_as_shipped(&cluster, container);
        // RFC 3339 times in UTC with the same precision compare as strings.
        if name == leader {
            assert!(
                ready_since(pod) >= published_at,
                "{name} was Ready before it published"
            );
        }
        // The probes' own port, at the Pod IP: ready, live, and the published key.
        let ip: std::net::IpAddr = pod["status"]["podIP"]
            .as_str()
            .expect("an IP")
            .parse()
            .expect("IP");
        let addr = (ip, 8080).into();
        assert_eq!(
            http_get(addr, "/readyz").map(|r| r.0),
            Some(200),
            "{name} /readyz"
        );
        assert_eq!(
            http_get(addr, "/healthz").map(|r| r.0),
            Some(200),
            "{name} /healthz"
        );
        let (_, keys) = http_get(addr, "/v1/recipients").expect("/v1/recipients");
        assert!(keys.contains(&recipient), "{name} serves {keys}");
    }
    // A replica that started before any key existed became Ready only after one did.
    let keys = cluster.kubectl.ok(
        &[
            "get",
            "secrets",
            "-n",
            SYSTEM,
            "-l",
            "ageseal.io/key",
            "-o",
            "json",
        ],
        None,
    );
    let keys: serde_json::Value = serde_json::from_str(&keys).expect("JSON");
    let first_key = keys["items"]
        .as_array()
        .and_then(|k| {
            k.iter()
                .filter_map(|k| k["metadata"]["creationTimestamp"].as_str())
                .min()
        })
        .expect("a key Secret")
        .to_owned();
    for pod in &pods {
        assert!(
            ready_since(pod) >= first_key,
            "Ready before any key existed: {pod}"
        );
    }
    cluster.seal_and_apply("first", "Pods-first-V4lue");
    let served = cluster.wait_value("first", "Pods-first-V4lue", Duration::from_secs(60));
    println!(
        "pods: a new SealedSecret became a Secret in {:.2} s",
        served.as_secs_f64()
    );
    let secret = cluster.kubectl.get("secret", APPS, "first").expect("the Secret");
    assert_eq!(secret["metadata"]["ownerReferences"][0]["kind"], "SealedSecret");
}
