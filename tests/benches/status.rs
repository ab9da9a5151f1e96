//! `ageseal status` at scale, against two real control planes (`../shared/envtest` via
//! KUBEBUILDER_ASSETS): `cargo bench -p ageseal-tests --bench status [-- N...]` (default 10000).
//!
//! Regions east (us-east-1) and west (us-west-2) are local control planes with deploy/ installed.
//! Each region's controller starts, makes and publishes its key, and `ageseal region add
//! --from-cluster` writes it into `.ageseal.yaml`; the controllers are then stopped, so the
//! objects carry no status (status reads the same objects either way; rows say not Ready). N
//! SealedSecret files (5 values, sealed for both regions) are written under apps/ in 20
//! namespaces and created in both clusters. Measured: wall time of `ageseal status apps --context
//! east --context west -o json` (2 x N rows), median of 3 runs, and the same with the table
//! output. Figures: tests/benches/README.md. Without control-plane binaries it says SKIPPED.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};
use ageseal_testenv::controller::{Controller, Options};
use ageseal_testenv::regions::Regions;
use ageseal_testenv::{Kubectl, User};
use futures::{StreamExt, TryStreamExt};
use kube::api::PostParams;
use kube::{Api, Client};

const NAMESPACES: usize = 20;
const REGIONS: [(&str, &str); 2] = [("east", "us-east-1"), ("west", "us-west-2")];

/// `ageseal ARGS` in `repo`; under `AGESEAL_BENCH_WRAPPER` (e.g. `perf record -g -o FILE --`)
/// when set, for profiling.
fn ageseal(repo: &Path, kubeconfig: &Path, args: &[&str]) -> (Option<i32>, Vec<u8>, Duration) {
    let wrapper: Vec<String> = std::env::var("AGESEAL_BENCH_WRAPPER")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let binary = ageseal_testenv::workspace_binary("ageseal");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(&binary);
            command
        }
        None => Command::new(&binary),
    };
    let started = Instant::now();
    let out = command
        .current_dir(repo)
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("ageseal runs");
    let took = started.elapsed();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "ageseal {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), out.stdout, took)
}

fn sealed(i: usize, recipients: &[NamedRecipient]) -> SealedSecret {
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-{i}, namespace: team-{}}}\nstringData: {{username: app{i}, password: pw-{i}, host: db-{i}.internal, port: '5432', token: tok-{i}-abcdefghijklmnop}}\n",
        i % NAMESPACES
    );
    let secret = &parse_secrets(&text).expect("parses")[0];
    seal_secret(secret, &SealOptions::default(), recipients).expect("seals")
}

fn create_all(kubeconfig: &Path, context: &str, objects: &[SealedSecret]) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
        let options = kube::config::KubeConfigOptions {
            context: Some(context.to_owned()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .expect("config");
        let client = Client::try_from(config).expect("client");
        futures::stream::iter(objects)
            .map(|object| {
                let namespace = object.metadata.namespace.as_deref().expect("namespaced");
                let api: Api<SealedSecret> = Api::namespaced(client.clone(), namespace);
                async move { api.create(&PostParams::default(), object).await.map(drop) }
            })
            .buffer_unordered(32)
            .try_collect::<Vec<()>>()
            .await
            .expect("objects created");
    });
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000] } else { sizes };
    if let Err(why) = ageseal_testenv::control_plane::assets() {
        println!("SKIPPED: status: no Kubernetes control plane: {why}");
        return;
    }
    let names: Vec<&str> = REGIONS.iter().map(|(context, _)| *context).collect();
    let regions = Regions::start(&names).expect("two regions start");
    let kubeconfig = regions.kubeconfig();
    let repo = tempfile::tempdir().expect("repo");
    let mut recipients = Vec::new();
    for (context, region) in REGIONS {
        let mut controller = Controller::start(
            regions.plane(context),
            Options {
                region: region.into(),
                controller_namespace: "ageseal-system".into(),
                namespaces: Vec::new(),
                args: Vec::new(),
                env: Vec::new(),
                replica: format!("bench-{context}"),
                user: User::Controller,
                wrapper: Vec::new(),
            },
        );
        controller.wait_ready(Duration::from_secs(120));
        ageseal(
            repo.path(),
            &kubeconfig,
            &["region", "add", region, "--from-cluster", context],
        );
        let key = controller.recipients()[0].clone();
        recipients.push(NamedRecipient::new(region, key.parse().expect("age1 recipient")));
        controller.terminate();
    }
    for (context, _) in REGIONS {
        let kubectl = Kubectl::new(&kubeconfig).with_context(context);
        for i in 0..NAMESPACES {
            kubectl.namespace(&format!("team-{i}"));
        }
    }
    let apps = repo.path().join("apps");
    std::fs::create_dir(&apps).expect("apps/");
    let mut made = 0;
    let mut rows = Vec::new();
    for n in sizes {
        let objects: Vec<SealedSecret> = ageseal_testenv::on_all_cores(made..n, |i| sealed(i, &recipients));
        for object in &objects {
            let name = object.metadata.name.as_deref().expect("named");
            let yaml = serde_yaml::to_string(object).expect("YAML");
            std::fs::write(apps.join(format!("{name}.yaml")), yaml).expect("file");
        }
        for (context, _) in REGIONS {
            create_all(&kubeconfig, context, &objects);
        }
        made = n;
        let status = |format: &str| {
            let (code, stdout, took) = ageseal(
                repo.path(),
                &kubeconfig,
                &[
                    "status",
                    "apps",
                    "--context",
                    "east",
                    "--context",
                    "west",
                    "-o",
                    format,
                ],
            );
            (code, stdout, took)
        };
        let (_, json, _) = status("json");
        let value: serde_json::Value = serde_json::from_slice(&json).expect("status -o json");
        let count = value["rows"]
            .as_array()
            .or_else(|| value.as_array())
            .map_or(0, Vec::len);
        assert_eq!(count, 2 * n, "one row per file and region");
        let json_times: Vec<Duration> = (0..3).map(|_| status("json").2).collect();
        let table_times: Vec<Duration> = (0..3).map(|_| status("table").2).collect();
        let (json, table) = (median(json_times), median(table_times));
        println!(
            "N={n}: ageseal status, 2 regions, {} rows: -o json {:.2} s, table {:.2} s (median of 3)",
            2 * n,
            json.as_secs_f64(),
            table.as_secs_f64()
        );
        rows.push((n, json, table));
    }
    println!("\n| files | rows | status -o json | status (table) |");
    println!("|---|---|---|---|");
    for (n, json, table) in rows {
        println!(
            "| {n} | {} | {:.2} s | {:.2} s |",
            2 * n,
            json.as_secs_f64(),
            table.as_secs_f64()
        );
    }
}
