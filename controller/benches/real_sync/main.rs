//! The controller at scale on a real control plane (`../shared/envtest` via KUBEBUILDER_ASSETS):
//! `cargo bench -p ageseal-controller --bench real_sync [-- [--cold-only] N...]` (default 1000 2000
//! 5000 10000; `--cold-only` skips the latency, restart and failover rounds).
//!
//! For each N, on a fresh local control plane with the API server's audit log on: N SealedSecrets
//! (5 values, 3 recipients: this region's key, another region's, a recovery key) in 20
//! namespaces, then `ageseal-controller run` as deployed (all namespaces, leader election, its
//! ServiceAccount) from cold. Measured: wall time until every Secret exists and every object is
//! Ready, the controller's CPU and peak RSS (its own process, /proc VmHWM), the API server's and
//! etcd's CPU over the same time. For the largest N also: latency from an apply of a changed
//! SealedSecret to the Secret holding the new value (200 changes), the writes a restarted
//! controller makes (audit log), and failover after `kill -9` of the leader (median of 5).
//! Figures: controller/benches/README.md. Without control-plane binaries it says SKIPPED.

mod world;

use world::{World, percentile};

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 2000, 5000, 10_000]
    } else {
        sizes
    };
    if let Err(why) = ageseal_testenv::control_plane::assets() {
        println!("SKIPPED: real_sync: no Kubernetes control plane: {why}");
        return;
    }
    let mut rows = Vec::new();
    let cold_only = std::env::args().any(|a| a == "--cold-only");
    let largest = sizes.iter().copied().max().unwrap_or(0);
    for n in sizes {
        let mut world = World::start(n);
        let sync = world.cold_sync();
        println!(
            "N={n}: cold sync {:.1} s; controller {:.2} s CPU ({:.3} ms per object), peak RSS {:.1} MB; API server {:.1} s CPU, etcd {:.1} s CPU",
            sync.wall.as_secs_f64(),
            sync.controller_cpu,
            sync.controller_cpu * 1000.0 / n as f64,
            sync.peak_rss as f64 / 1e6,
            sync.apiserver_cpu,
            sync.etcd_cpu
        );
        println!(
            "N={n}: {} reconciles, {} of them opened values; {} objects read again (GET)",
            sync.reconciles, sync.opened, sync.object_reads
        );
        rows.push((n, sync));
        if n == largest && !cold_only {
            let latencies = world.change_latencies(200);
            println!(
                "N={n}: apply -> Secret updated, 200 changes: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                percentile(&latencies, 50.0).as_secs_f64() * 1000.0,
                percentile(&latencies, 99.0).as_secs_f64() * 1000.0,
                latencies.iter().max().copied().unwrap_or_default().as_secs_f64() * 1000.0
            );
            let (writes, restart) = world.restart_writes();
            println!(
                "N={n}: restart with every object Ready: {writes} writes to Secrets or status (ready again after {:.1} s)",
                restart.as_secs_f64()
            );
            let failovers = world.failovers(5);
            println!(
                "N={n}: failover after kill -9 of the leader, 5 times: {}",
                ageseal_testenv::median_of(&failovers)
            );
        }
        drop(world);
    }
    println!("\n| N | cold sync | controller CPU | per object | peak RSS | API server CPU | etcd CPU |");
    println!("|---|---|---|---|---|---|---|");
    for (n, s) in rows {
        println!(
            "| {n} | {:.1} s | {:.2} s | {:.3} ms | {:.1} MB | {:.1} s | {:.1} s |",
            s.wall.as_secs_f64(),
            s.controller_cpu,
            s.controller_cpu * 1000.0 / n as f64,
            s.peak_rss as f64 / 1e6,
            s.apiserver_cpu,
            s.etcd_cpu
        );
    }
}
