//! Migration from Bitnami Sealed Secrets with no downtime, on a control plane of the test's own
//! with Bitnami's CRD installed (its SealedSecret kind would make `kubectl get sealedsecret`
//! ambiguous for the other tests) and no Bitnami controller: a Secret owned by a `bitnami.com`
//! SealedSecret is taken over by ageseal's controller along docs/OPERATIONS.md section 10, and a
//! poller checks that at no moment the Secret is missing, recreated or holds other data.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ageseal_testenv::{ControlPlane, Test, wait_until};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::support::{SOON, World, secret_value};

pub fn tests() -> Vec<Test> {
    vec![
        Test::new(
            "migration_a_secret_owned_by_a_bitnami_sealedsecret_is_adopted_without_downtime",
            adopt_from_bitnami,
        )
        .local_only(),
    ]
}

const BITNAMI_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: sealedsecrets.bitnami.com}
spec:
  group: bitnami.com
  names: {kind: SealedSecret, listKind: SealedSecretList, plural: sealedsecrets, singular: sealedsecret}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
";

const VALUE: &str = "Migrate-V4lue-unchanged";

fn condition(world: &World, name: &str) -> Option<serde_json::Value> {
    let object = world
        .kubectl
        .get("sealedsecrets.ageseal.io", &world.tenant.apps, name)?;
    let condition = object["status"]["conditions"][0].clone();
    (!condition.is_null()).then_some(condition)
}

fn adopt_from_bitnami(_shared: Arc<ControlPlane>) {
    let plane = Arc::new(ControlPlane::start_local().unwrap_or_else(|e| panic!("{e}")));
    ageseal_testenv::deploy::install(&plane).unwrap_or_else(|e| panic!("{e}"));
    let world = World::new(plane.clone(), "migrate");
    let controller = world.default_controller();
    let key = controller.recipients()[0].clone();
    let ns = world.tenant.apps.clone();
    let kubectl = &world.kubectl;
    kubectl.apply(BITNAMI_CRD);
    kubectl.ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/sealedsecrets.bitnami.com",
            "--timeout=60s",
        ],
        None,
    );

    // What a Bitnami controller left: its object, and the Secret it owns.
    kubectl.apply(&format!(
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {{name: db, namespace: {ns}}}\nspec:\n  encryptedData: {{password: AgBy3i4OJSWK}}\n"
    ));
    let bitnami = kubectl
        .get("sealedsecrets.bitnami.com", &ns, "db")
        .expect("the Bitnami object exists");
    let owner_uid = bitnami["metadata"]["uid"].as_str().expect("uid").to_owned();
    kubectl.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: {ns}\n  ownerReferences:\n  - {{apiVersion: bitnami.com/v1alpha1, kind: SealedSecret, name: db, uid: {owner_uid}, controller: true}}\nstringData: {{password: {VALUE}}}\n"
    ));
    let uid = world.secret("db").expect("Secret")["metadata"]["uid"].clone();

    // From now on the Secret must always exist, be the same object and hold the same value.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (stop, kubectl, ns, uid) = (stop.clone(), kubectl.clone(), ns.clone(), uid.clone());
        std::thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(Ordering::SeqCst) {
                let secret = kubectl.get("secret", &ns, "db");
                let Some(secret) = secret else {
                    return Err(format!("the Secret was missing after {checks} checks"));
                };
                if secret["metadata"]["uid"] != uid {
                    return Err("the Secret was recreated".to_owned());
                }
                let value = secret["data"]["password"]
                    .as_str()
                    .and_then(|v| BASE64_STANDARD.decode(v).ok());
                if value.as_deref() != Some(VALUE.as_bytes()) {
                    return Err("the Secret held another value".to_owned());
                }
                checks += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(checks)
        })
    };

    // Annotated and applied while Bitnami still owns it: refused by the API server (two
    // controller owners), reported, nothing changed.
    kubectl.ok(
        &["annotate", "secret", "db", "-n", &ns, "ageseal.io/managed=true"],
        None,
    );
    world.apply(&world.seal("db", &[("password", VALUE)], &key));
    let refused = wait_until("the apply to be reported", SOON, || {
        condition(&world, "db").filter(|c| c["status"] == "False")
    });
    assert_eq!(refused["reason"], "ApiError", "{refused}");

    // The Bitnami object goes without its Secret; the controller then adopts it.
    kubectl.ok(
        &[
            "delete",
            "sealedsecrets.bitnami.com",
            "db",
            "-n",
            &ns,
            "--cascade=orphan",
        ],
        None,
    );
    wait_until(
        "the ageseal owner on the Secret",
        Duration::from_secs(120),
        || {
            let secret = world.secret("db")?;
            let owners = secret["metadata"]["ownerReferences"].as_array()?.clone();
            (owners.len() == 1 && owners[0]["apiVersion"].as_str()?.starts_with("ageseal.io/")).then_some(())
        },
    );
    let ready = wait_until("Ready", SOON, || {
        condition(&world, "db").filter(|c| c["status"] == "True")
    });
    assert_eq!(ready["reason"], "Unsealed");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let checks = poller
        .join()
        .expect("poller")
        .unwrap_or_else(|why| panic!("{why}"));
    assert!(checks > 10, "the poller checked only {checks} times");
    assert_eq!(
        secret_value(kubectl, &ns, "db", "password").as_deref(),
        Some(VALUE.as_bytes())
    );
    println!("migration: the Secret stayed the same object with the same value over {checks} checks");
}
