//! The controller as users run it: deploy/overlays/us-east-1 applied as shipped (only the image
//! reference replaced) on a real node, the image built by `scripts/image.sh`, two replicas as
//! Pods with the shipped probes, securityContext, memory limit, PodDisruptionBudget and RBAC,
//! speaking to the API server through in-cluster config. One cluster for the binary; the tests
//! run one at a time, in order, on the same Deployment. Where no node can start (not root,
//! packages missing) the suite says SKIPPED.

mod pods {
    pub mod cluster;
    pub mod failover;
    pub mod replicas;
    pub mod rollout;
    pub mod scale;
}
#[path = "control_plane/support.rs"]
#[allow(dead_code)]
mod support;

use std::process::ExitCode;

use ageseal_testenv::Test;
use pods::cluster::Cluster;

fn main() -> ExitCode {
    let tests: Vec<Test<Cluster>> = [
        pods::replicas::tests(),
        pods::failover::tests(),
        pods::rollout::tests(),
        pods::scale::tests(),
    ]
    .into_iter()
    .flatten()
    .map(Test::alone)
    .collect();
    const NAME: &str = "controller as Pods on a real node";
    if let Some(why) = ageseal_testenv::node::unavailable() {
        return ageseal_testenv::suite::skip(NAME, &format!("no node: {why}"), tests);
    }
    ageseal_testenv::suite::run_with(
        NAME,
        true,
        Cluster::start,
        |cluster| (true, cluster.logs()),
        tests,
    )
}
