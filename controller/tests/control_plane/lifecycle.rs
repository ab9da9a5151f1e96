//! A SealedSecret's life on a real API server: created, changed, its Secret deleted, itself
//! deleted (garbage collection), moved, next to Secrets it does not own, and immutable Secrets.

use std::sync::Arc;
use std::time::Duration;

use ageseal_testenv::{ControlPlane, Test, wait_until};

use super::support::{World, renamed, secret_value};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "lifecycle_create_change_recreate_and_garbage_collect",
            create_change_recreate_collect,
        ),
        Test::new(
            "lifecycle_a_moved_value_is_scope_mismatch_with_no_secret",
            moved_value,
        ),
        Test::new(
            "lifecycle_unowned_secrets_are_left_alone_unless_adoptable",
            unowned_secrets,
        ),
        Test::new("lifecycle_an_immutable_conflict_is_reported", immutable_conflict),
        Test::new(
            "lifecycle_a_write_reads_back_metadata_not_values",
            write_reads_back_metadata,
        ),
        Test::new(
            "lifecycle_watches_and_requests_share_one_http2_connection",
            one_connection,
        ),
    ]
}

/// The TCP connections process `pid` has established to remote `port` (its sockets, found in
/// /proc/PID/fd, matched against /proc/PID/net/tcp and tcp6 by inode).
fn connections_to(pid: u32, port: u16) -> usize {
    let sockets: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the controller's file descriptors")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(target.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let remote = format!(":{port:04X}");
    ["tcp", "tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).ok())
        .flat_map(|table| table.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl, local, remote, state (01: established), ..., inode (the tenth field).
            fields.len() > 9
                && fields[2].ends_with(&remote)
                && fields[3] == "01"
                && sockets.contains(fields[9])
        })
        .count()
}

/// Watches (SealedSecrets, produced Secrets, key Secrets), the Lease and every request in flight
/// share one HTTP/2 connection to the API server (crate::api_client); over HTTP/1.1 each watch
/// and each request in flight holds a connection of its own.
fn one_connection(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "http2");
    let controller = world.default_controller();
    let key = controller.recipients()[0].clone();
    let manifests: Vec<String> = (0..40)
        .map(|i| {
            world.seal(
                &format!("db-{i}"),
                &[("password", &format!("Http2-{i}-V4lue"))],
                &key,
            )
        })
        .collect();
    world.apply(&manifests.join("---\n"));
    for i in 0..40 {
        world.wait_value(&format!("db-{i}"), "password", &format!("Http2-{i}-V4lue"));
    }
    let port: u16 = world
        .plane
        .server()
        .rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches('/').parse().ok())
        .expect("the API server's URL has a port");
    let pid = controller.pid().expect("the controller runs");
    let connections = connections_to(pid, port);
    assert!(
        (1..=2).contains(&connections),
        "the controller holds {connections} connections to the API server (port {port})"
    );
}

fn generation_observed(world: &World, name: &str) -> bool {
    let object = world
        .kubectl
        .get("sealedsecret", &world.tenant.apps, name)
        .expect("exists");
    let generation = &object["metadata"]["generation"];
    let status = &object["status"];
    status["observedGeneration"] == *generation
        && status["conditions"][0]["observedGeneration"] == *generation
}

fn create_change_recreate_collect(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "life");
    let controller = world.default_controller();
    let key = controller.recipients()[0].clone();

    world.apply(&world.seal("db", &[("password", "Life-first-value")], &key));
    world.wait_value("db", "password", "Life-first-value");
    let ready = world.wait_ready("db", "True");
    assert_eq!(ready["reason"], "Unsealed");
    assert!(generation_observed(&world, "db"), "{}", world.status("db"));
    let secret = world.secret("db").expect("Secret");
    let owner = &secret["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "SealedSecret");
    assert_eq!(owner["controller"], true);
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "ageseal-controller"
    );

    // A new value reaches the Secret, and status follows the new generation.
    world.apply(&world.seal("db", &[("password", "Life-second-value")], &key));
    world.wait_value("db", "password", "Life-second-value");
    wait_until("observedGeneration 2", super::support::SOON, || {
        (generation_observed(&world, "db") && world.status("db")["observedGeneration"] == 2).then_some(())
    });

    // A deleted Secret comes back.
    world
        .kubectl
        .ok(&["delete", "secret", "db", "-n", &world.tenant.apps], None);
    world.wait_value("db", "password", "Life-second-value");

    // Deleting the SealedSecret garbage-collects its Secret.
    world
        .kubectl
        .ok(&["delete", "sealedsecret", "db", "-n", &world.tenant.apps], None);
    wait_until(
        "the garbage collector to delete the Secret",
        Duration::from_secs(120),
        || world.secret("db").is_none().then_some(()),
    );
}

fn moved_value(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "moved");
    let controller = world.default_controller();
    let key = controller.recipients()[0].clone();
    let sealed = world.seal("db", &[("password", "Moved-value")], &key);
    world.apply(&renamed(&sealed, "stolen"));
    let condition = world.wait_ready("stolen", "False");
    assert_eq!(condition["reason"], "ScopeMismatch", "{condition}");
    wait_until("a ScopeMismatch Event", super::support::SOON, || {
        world
            .events("stolen")
            .contains(&("Warning".to_owned(), "ScopeMismatch".to_owned()))
            .then_some(())
    });
    // Another reconcile must not change that: still no Secret.
    std::thread::sleep(Duration::from_secs(2));
    assert!(world.secret("stolen").is_none(), "a moved value made a Secret");
    // The original location still works.
    world.apply(&sealed);
    world.wait_value("db", "password", "Moved-value");
}

fn put_secret(world: &World, name: &str, annotations: &str, extra: &str) {
    world.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {}\n  annotations: {annotations}\nstringData:\n  password: handmade\n{extra}",
        world.tenant.apps
    ));
}

fn unowned_secrets(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "unowned");
    let controller = world.default_controller();
    let key = controller.recipients()[0].clone();
    put_secret(&world, "theirs", "{}", "");
    world.apply(&world.seal("theirs", &[("password", "Unowned-sealed-V4lue")], &key));
    let condition = world.wait_ready("theirs", "False");
    assert_eq!(condition["reason"], "SecretNotOwned");
    let value = secret_value(&world.kubectl, &world.tenant.apps, "theirs", "password");
    assert_eq!(value.as_deref(), Some(&b"handmade"[..]), "overwritten");

    // With the annotation it is adopted: our value and our ownerReference.
    put_secret(&world, "adopt", "{ageseal.io/managed: \"true\"}", "");
    world.apply(&world.seal("adopt", &[("password", "Unowned-adopted-V4lue")], &key));
    world.wait_value("adopt", "password", "Unowned-adopted-V4lue");
    world.wait_ready("adopt", "True");
    let secret = world.secret("adopt").expect("Secret");
    assert_eq!(secret["metadata"]["ownerReferences"][0]["kind"], "SealedSecret");
}

fn immutable_conflict(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "immutable");
    let controller = world.default_controller();
    let key = controller.recipients()[0].clone();
    put_secret(
        &world,
        "frozen",
        "{ageseal.io/managed: \"true\"}",
        "immutable: true\n",
    );
    world.apply(&world.seal("frozen", &[("password", "Immutable-new-V4lue")], &key));
    let condition = world.wait_ready("frozen", "False");
    assert_eq!(condition["reason"], "ImmutableConflict", "{condition}");
    let value = secret_value(&world.kubectl, &world.tenant.apps, "frozen", "password");
    assert_eq!(value.as_deref(), Some(&b"handmade"[..]));
}

/// The controller's writes ask the API server for the stored object's metadata only: applying a
/// Secret with a 64 KiB value answers with its resourceVersion and without the value.
fn write_reads_back_metadata(plane: Arc<ControlPlane>) {
    use k8s_openapi::api::core::v1::Secret;
    use kube::Resource;
    use kube::api::{Patch, PatchParams};

    let world = World::new(plane, "answers");
    let value = "v".repeat(64 * 1024);
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": "big", "namespace": world.tenant.apps },
        "stringData": { "password": value },
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answer = runtime.block_on(async {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(world.plane.admin_kubeconfig()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let request = kube::core::Request::new(Secret::url_path(&(), Some(&world.tenant.apps))).patch(
            "big",
            &PatchParams::apply("answers-test"),
            &Patch::Apply(&manifest),
        );
        ageseal_controller::answer::send(&client, request)
            .await
            .expect("applied")
    });
    let stored = world.secret("big").expect("the Secret was written");
    assert_eq!(
        answer.resource_version().as_deref(),
        stored["metadata"]["resourceVersion"].as_str(),
        "the answer names the version stored"
    );
    assert!(
        answer.len() < 8 * 1024,
        "the answer holds {} bytes: more than metadata",
        answer.len()
    );
}
