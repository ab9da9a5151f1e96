//! The CLI against regions that are real Kubernetes control planes (east and west, each with its
//! own controllers): `status` and the `.ageseal.yaml` commands that read clusters. The clusters
//! are local control planes started for this binary; without the binaries the suite says SKIPPED.

mod regions {
    pub mod config;
    pub mod status;
    pub mod support;
}

use std::process::ExitCode;

use ageseal_testenv::regions::Regions;

fn main() -> ExitCode {
    let tests = [regions::status::tests(), regions::config::tests()]
        .into_iter()
        .flatten()
        .collect();
    ageseal_testenv::suite::run_with(
        "ageseal with regions on real control planes",
        true,
        || Regions::start(&["east", "west"]),
        |regions| (true, regions.logs()),
        tests,
    )
}
