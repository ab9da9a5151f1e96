//! The controller's keys on a real API server: one key however many replicas race, key Secrets
//! added later picked up without a restart, rotation, and KMS-wrapped keys (moto).

use std::sync::Arc;
use std::time::Duration;

use ageseal_kms::moto::Moto;
use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::{ControlPlane, Test, wait_until};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::support::{SOON, World};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new("keys_two_replicas_racing_make_exactly_one_key", racing_replicas),
        Test::new("keys_a_key_added_later_loads_without_a_restart", key_added_later),
        Test::new(
            "keys_rotation_publishes_the_new_key_first_and_old_values_open",
            rotation,
        ),
        Test::new(
            "keys_with_kms_no_key_secret_holds_a_plaintext_identity",
            kms_wrapped,
        ),
        Test::new(
            "keys_pq_keys_move_a_region_to_hybrid_keys_and_old_values_open",
            pq_keys,
        ),
    ]
}

/// Key Secrets in the tenant's controller namespace: (name, label, type, decoded data).
fn key_secrets(world: &World) -> Vec<(String, String, String, String)> {
    let out = world.kubectl.ok(
        &[
            "get",
            "secrets",
            "-n",
            &world.tenant.system,
            "-l",
            "ageseal.io/key",
            "-o",
            "json",
        ],
        None,
    );
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| {
            let data = s["data"]
                .as_object()
                .map(|d| {
                    d.iter()
                        .map(|(k, v)| {
                            let bytes = BASE64_STANDARD
                                .decode(v.as_str().unwrap_or_default())
                                .unwrap_or_default();
                            format!("{k}={}", String::from_utf8_lossy(&bytes))
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            (
                s["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                s["metadata"]["labels"]["ageseal.io/key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                s["type"].as_str().unwrap_or_default().to_owned(),
                data,
            )
        })
        .collect()
}

/// The ConfigMap `ageseal-recipients` lists `key` first.
fn assert_published_first(world: &World, key: &str) {
    let cm = world
        .kubectl
        .get("configmap", &world.tenant.system, "ageseal-recipients")
        .expect("published");
    assert!(
        cm["data"]["recipients"]
            .as_str()
            .unwrap_or_default()
            .starts_with(key),
        "{cm}"
    );
}

/// Applies SealedSecret `name` with `password` sealed to `recipient` and waits for its Secret.
fn seal_opens(world: &World, name: &str, password: &str, recipient: &str) {
    world.apply(&world.seal(name, &[("password", password)], recipient));
    world.wait_value(name, "password", password);
}

fn racing_replicas(plane: Arc<ControlPlane>) {
    let world = World::new(plane.clone(), "race");
    let a = Controller::start(&plane, Options::for_tenant(&world.tenant, "r").replica("race-a"));
    let b = Controller::start(&plane, Options::for_tenant(&world.tenant, "r").replica("race-b"));
    a.wait_ready(SOON);
    b.wait_ready(SOON);
    let keys = key_secrets(&world);
    assert_eq!(keys.len(), 1, "replicas racing made {} keys", keys.len());
    assert_eq!(
        (keys[0].1.as_str(), keys[0].2.as_str()),
        ("active", "ageseal.io/key")
    );
    wait_until("both replicas to load the one key", SOON, || {
        (a.recipients() == b.recipients() && a.recipients().len() == 1).then_some(())
    });
    // Both open what is sealed to it.
    world.apply(&world.seal("db", &[("password", "Race-value")], &a.recipients()[0]));
    world.wait_value("db", "password", "Race-value");
}

fn key_added_later(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "later");
    let mut controller = world.default_controller();
    let first = controller.recipients();
    // An operator adds a key by hand, as docs/OPERATIONS.md says: type, field manager, label.
    let dir = tempfile::tempdir().expect("tempdir");
    let keygen = std::process::Command::new(ageseal_testenv::workspace_binary("ageseal"))
        .args(["keygen", "-o"])
        .arg(dir.path().join("added.key"))
        .output()
        .expect("ageseal keygen");
    assert!(keygen.status.success());
    let recipient = String::from_utf8_lossy(&keygen.stdout).trim().to_owned();
    let file = dir.path().join("added.key").display().to_string();
    world.kubectl.ok(
        &[
            "create",
            "secret",
            "generic",
            "ageseal-key-999999999999",
            "-n",
            &world.tenant.system,
            "--type=ageseal.io/key",
            &format!("--from-file=identity={file}"),
            "--field-manager=ageseal-controller",
        ],
        None,
    );
    world.kubectl.ok(
        &[
            "label",
            "secret",
            "ageseal-key-999999999999",
            "-n",
            &world.tenant.system,
            "ageseal.io/key=active",
        ],
        None,
    );
    wait_until("the added key to be published first", SOON, || {
        (controller.recipients().first() == Some(&recipient)).then_some(())
    });
    assert!(
        controller.recipients().contains(&first[0]),
        "the first key is still active"
    );
    world.apply(&world.seal("db", &[("password", "Later-value")], &recipient));
    world.wait_value("db", "password", "Later-value");
    // A restart with two active keys keeps both: making sure a key exists retires nothing of
    // the same type.
    controller.terminate();
    drop(controller);
    let restarted = world.default_controller();
    let states: Vec<(String, String)> = key_secrets(&world).into_iter().map(|k| (k.0, k.1)).collect();
    assert!(
        states.iter().all(|(_, state)| state == "active") && states.len() == 2,
        "{states:?}"
    );
    assert_eq!(restarted.recipients().first(), Some(&recipient));
}

fn rotation(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "rotate");
    let controller = world.controller(Options::for_tenant(&world.tenant, "r").arg("--rotate-keys-every=1m"));
    let old = controller.recipients()[0].clone();
    seal_opens(&world, "before", "Rotate-old-V4lue", &old);
    let new = wait_until("a rotation", Duration::from_secs(150), || {
        controller.recipients().first().filter(|k| **k != old).cloned()
    });
    // Rotation makes the new key, then retires the old one: for a moment both are active and
    // published, new first. Then the old one must go.
    wait_until("the retired key to be unpublished", SOON, || {
        (!controller.recipients().contains(&old)).then_some(())
    });
    let labels: Vec<String> = key_secrets(&world).into_iter().map(|k| k.1).collect();
    assert!(
        labels.contains(&"retired".to_owned()) && labels.contains(&"active".to_owned()),
        "{labels:?}"
    );
    // The ConfigMap says the same, newest first.
    assert_published_first(&world, &new);
    // Values sealed to the retired key still open, old and new objects alike.
    seal_opens(&world, "after-old", "Rotate-old-2-V4lue", &old);
    seal_opens(&world, "after-new", "Rotate-new-V4lue", &new);
    assert_eq!(world.wait_ready("before", "True")["reason"], "Unsealed");
    // An operator drops the retired key from the keyring: label it revoked.
    let retired: Vec<String> = key_secrets(&world)
        .into_iter()
        .filter(|k| k.1 == "retired")
        .map(|k| k.0)
        .collect();
    for name in &retired {
        world.kubectl.ok(
            &[
                "label",
                "--overwrite",
                "secret",
                name,
                "-n",
                &world.tenant.system,
                "ageseal.io/key=revoked",
            ],
            None,
        );
    }
    world.apply(&world.seal("after-revoke", &[("password", "Rotate-revoked-V4lue")], &old));
    assert_eq!(
        world.wait_ready("after-revoke", "False")["reason"],
        "NoMatchingKey"
    );
    assert!(world.secret("after-revoke").is_none());
}

fn kms_wrapped(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "kms");
    let moto = Moto::start();
    let arn = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(moto.create_key("us-east-1"));
    let mut options = Options::for_tenant(&world.tenant, "us-east-1").arg(&format!("--kms-key-id={arn}"));
    options.env = moto.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let controller = world.controller(options);
    let keys = key_secrets(&world);
    assert_eq!(keys.len(), 1);
    let dump = &keys[0].3;
    assert!(
        dump.contains("wrapped-identity=") && dump.contains("ageseal-kms-identity/v1"),
        "{dump}"
    );
    assert!(
        !dump.contains("AGE-SECRET-KEY"),
        "a plaintext identity was written"
    );
    world.apply(&world.seal("db", &[("password", "Kms-value")], &controller.recipients()[0]));
    world.wait_value("db", "password", "Kms-value");
}

fn pq_keys(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "pq");
    let mut classic = world.controller(Options::for_tenant(&world.tenant, "r"));
    let old = classic.recipients()[0].clone();
    assert!(old.starts_with("age1") && !old.starts_with("age1pq1"), "{old}");
    seal_opens(&world, "before", "Classic-V4lue", &old);
    classic.terminate();
    drop(classic);

    // The same region restarted with --pq-keys: a hybrid key becomes the active, published one.
    let controller = world.controller(Options::for_tenant(&world.tenant, "r").arg("--pq-keys"));
    let new = wait_until("a hybrid key to be published", SOON, || {
        let published = controller.recipients();
        (published.len() == 1 && published[0].starts_with("age1pq1")).then(|| published[0].clone())
    });
    let keys = key_secrets(&world);
    let states: Vec<(&str, &str)> = keys.iter().map(|k| (k.0.as_str(), k.1.as_str())).collect();
    assert!(
        states.contains(&("ageseal-key-pq-000000000000", "active"))
            && states.contains(&("ageseal-key-000000000000", "retired")),
        "{states:?}"
    );
    let pq_key = keys
        .iter()
        .find(|k| k.0 == "ageseal-key-pq-000000000000")
        .expect("hybrid key Secret");
    assert!(
        pq_key.3.contains("identity=AGE-SECRET-KEY-PQ-1"),
        "identity line of the hybrid key"
    );
    assert_published_first(&world, &new);
    // Hybrid values open, and so do values sealed to the retired X25519 key, old and new.
    seal_opens(&world, "after", "Hybrid-V4lue", &new);
    seal_opens(&world, "after-old", "Classic-2-V4lue", &old);
    assert_eq!(world.wait_ready("before", "True")["reason"], "Unsealed");
    let status = world.wait_ready("after", "True");
    assert_eq!(status["reason"], "Unsealed");
}
