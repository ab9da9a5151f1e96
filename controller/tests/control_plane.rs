//! The controller's whole life on a real Kubernetes control plane (`../shared/envtest` through
//! `KUBEBUILDER_ASSETS`, or the cluster of `AGESEAL_E2E_KUBECONFIG`): the real
//! `ageseal-controller run` binary speaking as its ServiceAccount with deploy/'s RBAC, input made
//! by kubectl and the real `ageseal` binary. One control plane for the binary; each test has its
//! own namespaces and controllers. Without a control plane the suite says SKIPPED.

mod control_plane {
    pub mod deploy;
    pub mod deployed;
    pub mod faults;
    pub mod ha;
    pub mod keys;
    pub mod lifecycle;
    pub mod logs;
    pub mod migration;
    pub mod rbac;
    pub mod security;
    pub mod support;
}

use std::process::ExitCode;

use control_plane::{deploy, deployed, faults, ha, keys, lifecycle, logs, migration, rbac, security};

fn main() -> ExitCode {
    let tests = [
        deploy::tests(),
        lifecycle::tests(),
        keys::tests(),
        ha::tests(),
        faults::tests(),
        migration::tests(),
        rbac::tests(),
        security::tests(),
        deployed::tests(),
        logs::tests(),
    ]
    .into_iter()
    .flatten()
    .collect();
    ageseal_testenv::suite::run(
        "controller on a real control plane",
        ageseal_testenv::deploy::install,
        tests,
    )
}
