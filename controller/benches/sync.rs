//! Cold sync through the in-memory API: N SealedSecrets of 5 values each, sealed to 3
//! recipients (this region's key, another region's, a recovery key), reconciled from nothing.
//! Prints wall time, CPU time and peak RSS for N = 1,000 and N = 10,000 (or the N given as
//! arguments). Run: `cargo bench -p ageseal-controller --bench sync`. Figures: controller/benches/README.md.

use std::sync::Arc;
use std::time::Instant;

use ageseal_controller::keys::KeyStore;
use ageseal_controller::metrics::Metrics;
use ageseal_controller::reconcile::{Context, reconcile};
use ageseal_core::config::NamedRecipient;
use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest::{SealOptions, parse_secrets, seal_secret};
use ageseal_core::{Identity, Keyring};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use kube_fake_client::ClientBuilder;

fn proc_field(file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields
        .get(11..13)
        .map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

fn objects(n: usize, recipients: &[NamedRecipient]) -> Vec<SealedSecret> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per = n.div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * per..((t + 1) * per).min(n))
                        .map(|i| {
                            let text = format!(
                                "apiVersion: v1\nkind: Secret\nmetadata: {{name: app-{i}, namespace: team-{}}}\nstringData: {{username: app{i}, password: pw-{i}-x, host: db-{i}.internal, port: '5432', token: tok-{i}}}\n",
                                i % 50
                            );
                            let secret = &parse_secrets(&text).expect("parses")[0];
                            seal_secret(secret, &SealOptions::default(), recipients).expect("seals")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|p| p.join().expect("seals")).collect()
    })
}

async fn sync(n: usize) {
    let ours = Identity::generate();
    let recipients = vec![
        NamedRecipient::new("us-west-2", Identity::generate().recipient().clone()),
        NamedRecipient::new("us-east-1", ours.recipient().clone()),
        NamedRecipient::new("recovery", Identity::generate().recipient().clone()),
    ];
    let objects = objects(n, &recipients);
    let client = ClientBuilder::new()
        .with_resource::<SealedSecret>()
        .with_status_subresource::<SealedSecret>()
        .with_objects(objects)
        .build()
        .await
        .expect("fake client");
    let store = Arc::new(KeyStore::holding(Keyring::new([ours])));
    let ctx = Arc::new(Context::new(
        client.clone(),
        "us-east-1",
        store,
        Arc::new(Metrics::default()),
        None,
    ));
    // Peak RSS from here on: reset the high-water mark after setup (Linux clear_refs).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = proc_field("/proc/self/status", "VmRSS:");
    let (cpu0, wall) = (cpu_seconds(), Instant::now());
    let all: Api<SealedSecret> = Api::all(client.clone());
    let listed = all.list(&ListParams::default()).await.expect("list").items;
    // What a reflector cache of every SealedSecret holds, as JSON bytes: the controller's floor.
    let cache_bytes = serde_json::to_vec(&listed).map_or(0, |v| v.len());
    let ready = futures::stream::iter(listed)
        .map(|obj| reconcile(Arc::new(obj), ctx.clone()))
        .buffer_unordered(64)
        .filter(|r| futures::future::ready(r.is_ok()))
        .count()
        .await;
    let (elapsed, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let peak = proc_field("/proc/self/status", "VmHWM:");
    let secrets: Api<Secret> = Api::all(client);
    let made = secrets
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .len();
    assert_eq!(
        (ready, made),
        (n, n),
        "every object must end Ready with its Secret"
    );
    println!(
        "N={n:>6}: wall {elapsed:6.2} s, CPU {cpu:6.2} s, peak RSS {:6.1} MB (process, with the in-memory API holding every object; {:6.1} MB before the sync), SealedSecrets as JSON {:5.1} MB",
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        cache_bytes as f64 / 1e6
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000]
    } else {
        sizes
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for n in sizes {
        runtime.block_on(sync(n));
    }
}
