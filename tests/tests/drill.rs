//! The disaster-recovery drill (DESIGN §8), run by `cargo test -p ageseal-tests drill`.
//!
//! Regions A (us-east-1) and B (us-west-2) plus a KMS-wrapped recovery key (moto_server on
//! loopback); seal a set of Secrets; lose region A; create region C (eu-west-1), whose controller
//! makes and publishes its own key; `ageseal region add` C; `ageseal rekey` with the recovery
//! identity; C's controller reconciles every object to Ready with the right data; A's key opens
//! nothing sealed after the rekey; `ageseal status` logic shows B and C in sync.
//!
//! The CLI reads AWS settings from the environment, which a test cannot set in its own process,
//! so this binary (harness = false) starts moto and runs itself again as a child with the
//! standard AWS variables pointing at it; the child runs the drill.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;

use ageseal::args::Args;
use ageseal::status::{Cluster, report};
use ageseal_controller::keys::{self, KeyStore};
use ageseal_controller::metrics::Metrics;
use ageseal_controller::reconcile::{Context, reconcile};
use ageseal_core::config::{RecoveryConfig, RepoConfig};
use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest_file::ManifestFile;
use ageseal_core::sealed_file::open_sealed_secret;
use ageseal_core::wrapped::WrappedIdentity;
use ageseal_core::{Identity, Keyring};
use ageseal_kms::moto::Moto;
use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::PostParams;
use kube::{Api, Client};

const CHILD: &str = "AGESEAL_DRILL_KMS_KEY";
const APPS: usize = 6;

fn main() -> ExitCode {
    if let Ok(arn) = std::env::var(CHILD) {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(drill(&arn));
        return ExitCode::SUCCESS;
    }
    if std::env::args().skip(1).any(|a| a == "--list") {
        println!("drill: test");
        return ExitCode::SUCCESS;
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_some_and(|f| !"drill".contains(&f) && !f.contains("drill")) {
        println!("0 passed, 0 failed");
        return ExitCode::SUCCESS;
    }
    let moto = Moto::start();
    let arn = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(moto.create_key("us-east-1"));
    let status = Command::new(std::env::current_exe().expect("own path"))
        .envs(moto.env())
        .env(CHILD, &arn)
        .status()
        .expect("the drill runs");
    if status.success() {
        println!("drill: 1 passed, 0 failed");
        ExitCode::SUCCESS
    } else {
        println!("drill: 0 passed, 1 failed");
        ExitCode::FAILURE
    }
}

/// Runs one `ageseal` command in-process, as a user would type it (on a thread of its own: the
/// CLI starts its own runtime for KMS calls).
fn ageseal(args: &[&str]) {
    let argv: Vec<String> = std::iter::once("ageseal")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect();
    let result = std::thread::spawn(move || ageseal::run(Args::parse_from(argv)))
        .join()
        .expect("no panic");
    assert!(
        matches!(&result, Ok(code) if *code == std::process::ExitCode::SUCCESS),
        "ageseal {args:?}: {result:?}"
    );
}

/// One region's cluster: an in-memory API and its controller's keys.
struct Region {
    name: &'static str,
    client: Client,
    keys: Arc<KeyStore>,
}

impl Region {
    /// A new cluster whose controller makes its key on first start and publishes it.
    async fn start(name: &'static str) -> Self {
        let client = kube_fake_client::ClientBuilder::new()
            .with_resource::<SealedSecret>()
            .with_status_subresource::<SealedSecret>()
            .build()
            .await
            .expect("in-memory API");
        let identity = Identity::generate();
        let keys = Arc::new(KeyStore::default());
        keys.set(keys::KeySet {
            published: vec![keys::PublishedKey {
                recipient: identity.recipient().to_string(),
                id: identity.recipient().id().to_string(),
            }],
            keyring: Keyring::new([identity]),
            ..keys::KeySet::default()
        });
        let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), "ageseal-system");
        keys::publish(&cm_api, &keys.get(), name)
            .await
            .expect("published");
        Region { name, client, keys }
    }

    fn recipient(&self) -> String {
        self.keys.get().published[0].recipient.clone()
    }

    fn keyring(&self) -> Keyring {
        self.keys.get().keyring.clone()
    }

    /// Applies every SealedSecret (as GitOps would) and lets this region's controller reconcile.
    async fn sync(&self, objects: &[(PathBuf, SealedSecret)]) {
        let ctx = Arc::new(Context::new(
            self.client.clone(),
            self.name,
            self.keys.clone(),
            Arc::new(Metrics::default()),
            None,
        ));
        for (_, object) in objects {
            let api: Api<SealedSecret> = Api::namespaced(self.client.clone(), "payments");
            let name = object.metadata.name.clone().expect("named");
            let applied = match api.get_opt(&name).await.expect("get") {
                Some(live) => {
                    let mut updated = live.clone();
                    updated.spec = object.spec.clone();
                    api.replace(&name, &PostParams::default(), &updated)
                        .await
                        .expect("updated")
                }
                None => api.create(&PostParams::default(), object).await.expect("created"),
            };
            reconcile(Arc::new(applied), ctx.clone())
                .await
                .expect("reconciles to Ready");
        }
    }
}

fn sealed_files(dir: &Path) -> Vec<(PathBuf, SealedSecret)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("apps")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            ManifestFile::parse(&text)
                .expect("parses")
                .sealed()
                .into_iter()
                .map(|s| (path.clone(), s.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn drill(kms_key: &str) {
    let repo = tempfile::tempdir().expect("repo");
    std::env::set_current_dir(repo.path()).expect("cd");
    let a = Identity::generate();
    let b = Region::start("us-west-2").await;
    println!("drill: regions us-east-1 (A) and us-west-2 (B), recovery key wrapped by {kms_key}");
    ageseal(&[
        "region",
        "add",
        "us-east-1",
        "--recipient",
        &a.recipient().to_string(),
    ]);
    ageseal(&["region", "add", "us-west-2", "--recipient", &b.recipient()]);
    ageseal(&["keygen", "--kms-key", kms_key, "-o", "recovery.age.kms"]);
    let wrapped = WrappedIdentity::parse(&std::fs::read_to_string("recovery.age.kms").expect("written"))
        .expect("wrapped");
    let mut config =
        RepoConfig::parse(&std::fs::read_to_string(".ageseal.yaml").expect("config")).expect("valid");
    config.recovery.push(RecoveryConfig {
        name: "break-glass".into(),
        recipient: wrapped.recipient.to_string(),
        identity: Some("recovery.age.kms".into()),
    });
    std::fs::write(".ageseal.yaml", config.to_yaml()).expect("config written");

    std::fs::create_dir("apps").expect("apps");
    for i in 0..APPS {
        let input = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-{i}, namespace: payments}}\nstringData: {{password: secret-{i}, user: app{i}}}\n"
        );
        std::fs::write("input.yaml", input).expect("input");
        ageseal(&["seal", "-f", "input.yaml", "-o", &format!("apps/app-{i}.yaml")]);
    }
    std::fs::remove_file("input.yaml").expect("plaintext input removed");
    b.sync(&sealed_files(Path::new("apps"))).await;
    println!("drill: sealed {APPS} Secrets for A, B and recovery; B holds them");

    println!("drill: region A is lost; region C (eu-west-1) starts and publishes its key");
    ageseal(&["region", "remove", "us-east-1"]);
    let c = Region::start("eu-west-1").await;
    ageseal(&["region", "add", "eu-west-1", "--recipient", &c.recipient()]);
    ageseal(&["rekey"]); // with the recovery identity .ageseal.yaml names (KMS-wrapped)
    ageseal(&["verify"]);
    let files = sealed_files(Path::new("apps"));
    assert_eq!(files.len(), APPS);

    c.sync(&files).await;
    for (i, (_, object)) in files.iter().enumerate() {
        let api: Api<Secret> = Api::namespaced(c.client.clone(), "payments");
        let secret = api.get(&format!("app-{i}")).await.expect("C made the Secret");
        let data = secret.data.expect("data");
        assert_eq!(data["password"].0, format!("secret-{i}").into_bytes());
        assert_eq!(data["user"].0, format!("app{i}").into_bytes());
        let lost = open_sealed_secret(object, &Keyring::new([a.clone()]));
        assert_eq!(
            lost.map(|_| ()).map_err(|e| e.source.code()),
            Err("NoMatchingKey"),
            "A still opens {i}"
        );
        assert!(open_sealed_secret(object, &c.keyring()).is_ok());
    }
    println!("drill: C reconciled every object to Ready with the right data; A's key opens nothing");

    b.sync(&files).await;
    let clusters = [
        Cluster {
            context: "region-b".into(),
            client: b.client.clone(),
        },
        Cluster {
            context: "region-c".into(),
            client: c.client.clone(),
        },
    ];
    let rows = report(&files, &clusters, "ageseal-system").await.expect("status");
    assert_eq!(rows.len(), 2 * APPS);
    let drift: Vec<_> = rows.iter().filter(|r| !r.in_sync()).collect();
    assert!(drift.is_empty(), "not in sync: {drift:#?}");
    println!("drill: status shows B and C in sync for all {APPS} SealedSecrets");
}
