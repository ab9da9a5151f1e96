//! Attacks on the controller through the API, on a real API server: a SealedSecret is never more
//! powerful than the Secret it stands for. Key planting (in the controller's namespace, or by
//! squatting on the next rotation's key name), reserved template metadata, Secret types, work
//! bounds, and plain keys in KMS mode.

use std::sync::Arc;
use std::time::Duration;

use ageseal_kms::moto::Moto;
use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::{ControlPlane, Test, secrets, wait_until};

use super::deployed::deployed;
use super::support::{SOON, World, key_count, seal_secret};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "security_a_sealedsecret_cannot_plant_a_controller_key",
            plant_a_key,
        )
        .alone(),
        Test::new(
            "security_a_squatted_key_name_never_retires_the_real_key",
            squatted_name,
        ),
        Test::new(
            "security_refused_types_end_not_ready_with_a_reason",
            refused_types,
        ),
        Test::new(
            "security_an_object_that_would_burn_cpu_is_refused_first",
            work_bound,
        ),
        Test::new(
            "security_with_kms_a_plain_key_secret_is_refused",
            kms_refuses_plain,
        ),
    ]
}

/// A fresh age identity line from `ageseal keygen` (printed, as with age-keygen).
fn fresh_identity() -> String {
    let out = std::process::Command::new(ageseal_testenv::workspace_binary("ageseal"))
        .arg("keygen")
        .output()
        .expect("ageseal keygen");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an identity line")
        .to_owned();
    secrets::remember(&line)
}

/// A SealedSecret that asks to become a key Secret: label, type and an `identity` value.
fn key_lookalike(namespace: &str, name: &str, recipient: &str, identity: &str) -> String {
    let sealed = seal_secret(namespace, name, &[("identity", identity)], &[recipient], &[]);
    let mut value: serde_yaml::Value = serde_yaml::from_str(&sealed).expect("YAML");
    value["spec"]["template"] =
        serde_yaml::from_str("{metadata: {labels: {ageseal.io/key: active}}, type: ageseal.io/key}")
            .expect("YAML");
    serde_yaml::to_string(&value).expect("YAML")
}

fn condition(kubectl: &ageseal_testenv::Kubectl, namespace: &str, name: &str) -> serde_json::Value {
    wait_until(&format!("a Ready condition on {namespace}/{name}"), SOON, || {
        super::support::ready(kubectl, namespace, name)
    })
}

fn plant_a_key(plane: Arc<ControlPlane>) {
    let controller = deployed(&plane, "plant-0");
    controller.wait_ready(SOON);
    let kubectl = plane.kubectl();
    let published = controller.recipients();
    let keys_before = kubectl.ok(&["get", "secrets", "-n", "ageseal-system", "-o", "name"], None);
    let attacker_key = fresh_identity();

    // In the controller's own namespace, under the name the next key would have.
    let name = "ageseal-key-000000000001";
    kubectl.apply(&key_lookalike(
        "ageseal-system",
        name,
        &published[0],
        &attacker_key,
    ));
    let refused = condition(&kubectl, "ageseal-system", name);
    assert_eq!(
        (refused["status"].as_str(), refused["reason"].as_str()),
        (Some("False"), Some("ControllerNamespace")),
        "{refused}"
    );
    // Elsewhere, the reserved label and type are refused too.
    kubectl.namespace("plant");
    kubectl.apply(&key_lookalike("plant", "key", &published[0], &attacker_key));
    let refused = condition(&kubectl, "plant", "key");
    assert_eq!(refused["reason"], "ReservedMetadata", "{refused}");

    std::thread::sleep(Duration::from_secs(3));
    assert!(
        kubectl.get("secret", "plant", "key").is_none(),
        "a key look-alike Secret was written"
    );
    let keys_after = kubectl.ok(&["get", "secrets", "-n", "ageseal-system", "-o", "name"], None);
    assert_eq!(
        keys_before, keys_after,
        "the controller wrote into its own namespace"
    );
    assert_eq!(controller.recipients(), published, "the published keys changed");
    let cm = kubectl
        .get("configmap", "ageseal-system", "ageseal-recipients")
        .expect("published");
    assert!(
        !cm.to_string().contains(&attacker_key),
        "the planted key was published"
    );
    let _ = kubectl.run(&["delete", "sealedsecret", name, "-n", "ageseal-system"], None);
    let _ = kubectl.run(&["delete", "namespace", "plant", "--wait=false"], None);
}

fn squatted_name(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "squat");
    let options = Options::for_tenant(&world.tenant, "r").arg("--rotate-keys-every=1m");
    let controller = world.controller(options);
    // A moment well inside a period: this period's rotation is done, the next is 10 s away or more.
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    };
    while !(5..=45).contains(&(now() % 60)) {
        std::thread::sleep(Duration::from_secs(1));
    }
    // The key of this period: the controller may have started in the previous one and rotated
    // at its end; wait until that rotation is done (on a loaded machine it can take seconds).
    let current = format!("ageseal-key-{:012}", now() / 60);
    let next = format!("ageseal-key-{:012}", now() / 60 + 1);
    let key_label = |name: &str| {
        world
            .kubectl
            .get("secret", &world.tenant.system, name)
            .and_then(|s| {
                s["metadata"]["labels"]["ageseal.io/key"]
                    .as_str()
                    .map(str::to_owned)
            })
    };
    wait_until("the key of this period", SOON, || {
        (key_label(&current).as_deref() == Some("active")).then_some(())
    });
    let real = wait_until("the key of this period to be published first", SOON, || {
        let published = controller.recipients();
        (published.len() == 1).then_some(published)
    });
    let identity = fresh_identity();
    world.kubectl.ok(
        &[
            "create",
            "secret",
            "generic",
            &next,
            "-n",
            &world.tenant.system,
            &format!("--from-literal=identity={identity}"),
        ],
        None,
    );
    world.kubectl.ok(
        &[
            "label",
            "secret",
            &next,
            "-n",
            &world.tenant.system,
            "ageseal.io/key=active",
        ],
        None,
    );
    // The period passes: rotation must refuse, and the real key stays active and published.
    std::thread::sleep(Duration::from_secs(62 - now() % 60));
    wait_until("rotation to report the squatter", SOON, || {
        controller
            .log()
            .lines()
            .any(|l| l.contains("ERROR") && l.contains(&next) && l.contains("not a key"))
            .then_some(())
    });
    assert_eq!(controller.recipients(), real, "the published key changed");
    assert_eq!(
        key_label(&current).as_deref(),
        Some("active"),
        "the real key {current} was retired"
    );
    // And values sealed to it still open.
    world.apply(&world.seal("db", &[("password", "Squat-V4lue")], &real[0]));
    world.wait_value("db", "password", "Squat-V4lue");
}

fn refused_types(plane: Arc<ControlPlane>) {
    let world = World::new(plane.clone(), "types");
    let controller = world.default_controller();
    let key = controller.recipients()[0].clone();
    let typed = |name: &str, secret_type: &str| {
        let sealed = world.seal(name, &[("token", "Types-V4lue")], &key);
        let mut value: serde_yaml::Value = serde_yaml::from_str(&sealed).expect("YAML");
        value["spec"]["template"] = serde_yaml::from_str(&format!("{{type: {secret_type}}}")).expect("YAML");
        serde_yaml::to_string(&value).expect("YAML")
    };
    world.apply(&typed("sa-token", "kubernetes.io/service-account-token"));
    world.apply(&typed("custom", "example.com/custom"));
    for name in ["sa-token", "custom"] {
        let refused = world.wait_ready(name, "False");
        assert_eq!(refused["reason"], "TypeNotAllowed", "{refused}");
        assert!(world.secret(name).is_none());
    }
    assert!(
        world
            .events("sa-token")
            .contains(&("Warning".into(), "TypeNotAllowed".into()))
    );
    // An operator may allow a type explicitly.
    drop(controller);
    let allowing = Options::for_tenant(&world.tenant, "r")
        .replica("types-1")
        .arg("--allow-secret-type=example.com/custom");
    let _controller = world.controller(allowing);
    world.wait_value("custom", "token", "Types-V4lue");
    assert_eq!(
        world.secret("custom").expect("made")["type"],
        "example.com/custom"
    );
    assert_eq!(world.wait_ready("sa-token", "False")["reason"], "TypeNotAllowed");
}

fn work_bound(plane: Arc<ControlPlane>) {
    let world = World::new(plane, "work");
    let controller = world.default_controller();
    let key = controller.recipients()[0].clone();
    // 31 recipients (30 strangers and the controller) and enough values that the worst case,
    // values x stanzas x keys, passes the bound of 8192 key trials per object.
    let strangers: Vec<String> = (0..30)
        .map(|_| {
            let out = std::process::Command::new(ageseal_testenv::workspace_binary("ageseal"))
                .arg("keygen")
                .output()
                .expect("keygen");
            let text = String::from_utf8_lossy(&out.stderr).into_owned();
            text.trim().trim_start_matches("Public key: ").to_owned()
        })
        .collect();
    let mut recipients: Vec<&str> = strangers.iter().map(String::as_str).collect();
    recipients.push(&key);
    let values: Vec<(String, String)> = (0..265)
        .map(|i| (format!("k{i}"), format!("Work-V4lue-{i:03}")))
        .collect();
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let sealed = seal_secret(&world.tenant.apps, "heavy", &values, &recipients, &[]);
    let mut object: serde_yaml::Value = serde_yaml::from_str(&sealed).expect("YAML");
    object["spec"]["recipients"] = serde_yaml::Value::Sequence(Vec::new());
    world.apply(&serde_yaml::to_string(&object).expect("YAML"));
    let refused = world.wait_ready("heavy", "False");
    assert_eq!(refused["reason"], "TooMuchWork", "{refused}");
    assert!(
        refused["message"].as_str().unwrap_or_default().contains("8192"),
        "{refused}"
    );
    assert!(world.secret("heavy").is_none());
    assert_eq!(key_count(&world), 1);
}

fn kms_refuses_plain(plane: Arc<ControlPlane>) {
    let world = World::new(plane.clone(), "kmsplain");
    let moto = Moto::start();
    let arn = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(moto.create_key("us-east-1"));
    let mut options = Options::for_tenant(&world.tenant, "us-east-1").arg(&format!("--kms-key-id={arn}"));
    options.env = moto.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let controller: Controller = world.controller(options);
    let wrapped = controller.recipients();
    // A key Secret made exactly as an operator would make a plain one: refused in KMS mode.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plain.key");
    std::fs::write(&path, format!("{}\n", fresh_identity())).expect("write");
    world.kubectl.ok(
        &[
            "create",
            "secret",
            "generic",
            "ageseal-key-999999999999",
            "-n",
            &world.tenant.system,
            "--type=ageseal.io/key",
            &format!("--from-file=identity={}", path.display()),
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
    wait_until("a warning about the plain key", SOON, || {
        controller
            .log()
            .lines()
            .any(|l| {
                l.contains("WARN") && l.contains("ageseal-key-999999999999") && l.contains("KMS-wrapped")
            })
            .then_some(())
    });
    assert_eq!(
        controller.recipients(),
        wrapped,
        "a plain key was loaded in KMS mode"
    );
}
