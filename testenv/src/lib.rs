//! Test support for ageseal's suites: a real Kubernetes control plane on loopback (envtest
//! layout, or a given cluster), a real node beside it, thousands of sealed objects, kubectl, child processes that cannot outlive their test, and the
//! runner of a suite that needs a control plane.

pub mod control_plane;
pub mod controller;
pub mod deploy;
pub mod fleet;
pub mod kubectl;
pub mod node;
pub mod process;
pub mod regions;
pub mod secrets;
pub mod suite;

pub use control_plane::{ControlPlane, User};
pub use kubectl::Kubectl;
pub use process::{Process, free_port, http_get, wait_until};
pub use suite::Test;

/// The folder of the package whose tests or benches are running, read at run time: cargo runs
/// them with `CARGO_MANIFEST_DIR` set (and from that folder). A path compiled in with `env!` would
/// name whichever checkout first built a shared target folder, since cargo reuses artifacts across
/// checkouts of the same sources.
pub fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .expect("run by cargo, or from the package folder")
}

/// The workspace root: the nearest folder at or above [`package_dir`] whose Cargo.toml has a
/// `[workspace]` table.
pub fn workspace_dir() -> std::path::PathBuf {
    let start = package_dir();
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|toml| toml.contains("[workspace]"))
        })
        .map(std::path::Path::to_path_buf)
        .unwrap_or(start)
}

/// The number in environment variable `name` (a test's knob, e.g. how many rounds), else `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `median M s (a, b, c)` of measured durations, as the benches and the Pod suite report them.
pub fn median_of(times: &[std::time::Duration]) -> String {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let all: Vec<String> = times.iter().map(|t| format!("{:.1}", t.as_secs_f64())).collect();
    format!("median {:.1} s ({})", median.as_secs_f64(), all.join(", "))
}

/// `f(i)` for every `i` in `range`, spread over every core (benches seal thousands of objects
/// this way), in no particular order.
pub fn on_all_cores<T: Send>(range: std::ops::Range<usize>, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                let range = range.clone();
                scope.spawn(move || {
                    (range.start + t..range.end)
                        .step_by(threads)
                        .map(f)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().expect("a worker panicked"))
            .collect()
    })
}

/// A binary built by this workspace (`ageseal`, `ageseal-controller`), from the target folder
/// holding the running test. `cargo test --workspace` builds every binary before running tests.
///
/// `AGESEAL_TEST_CLI=PATH` puts another `ageseal` in its place: `scripts/test.sh` runs the CLI's
/// suites and the drill once more with the release build of the CLI (`cargo build-cli`, linked
/// statically).
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    if name == "ageseal"
        && let Some(cli) = std::env::var_os("AGESEAL_TEST_CLI").filter(|path| !path.is_empty())
    {
        return cli.into();
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> or target/<profile>/<bench>
    let candidates = exe.ancestors().skip(1).take(2).map(|dir| dir.join(name));
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{name} is not built next to {}: run `cargo build -p {name}` first (cargo test --workspace builds it)",
        exe.display()
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn on_all_cores_maps_every_index_once() {
        let mut got = super::on_all_cores(3..40, |i| i * 2);
        got.sort_unstable();
        assert_eq!(got, (3..40).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::on_all_cores(5..5, |i| i).is_empty());
    }
}
