//! Test support for ageseal's suites: a real Kubernetes control plane on loopback (envtest
//! layout, or a given cluster), kubectl, child processes that cannot outlive their test, and the
//! runner of a suite that needs a control plane.

pub mod control_plane;
pub mod controller;
pub mod deploy;
pub mod kubectl;
pub mod process;
pub mod regions;
pub mod secrets;
pub mod suite;

pub use control_plane::{ControlPlane, User};
pub use kubectl::Kubectl;
pub use process::{Process, free_port, http_get, wait_until};
pub use suite::Test;

/// A binary built by this workspace (`ageseal`, `ageseal-controller`), from the target folder
/// holding the running test. `cargo test --workspace` builds every binary before running tests.
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
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
