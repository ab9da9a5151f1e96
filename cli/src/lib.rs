//! The `ageseal` command: seal, unseal, verify, rekey, keygen, region, recovery, edit, status,
//! import and completions.

pub mod args;
mod bitnami;
pub mod cluster;
mod commands;
pub mod completion;
mod failure;
mod files;
pub mod output;
mod sops_keys;

use std::process::ExitCode;

pub use commands::status;
pub use failure::{Exit, Failure};

/// Runs one parsed command; `Ok` carries the exit code of a command that ran to the end.
pub fn run(args: args::Args) -> Result<ExitCode, Failure> {
    use args::Command;
    // Builds that enable both of rustls' providers (a workspace test build does) leave rustls
    // unable to choose one by itself: choose ring, which kube and the AWS client are built with.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(config) = args.config {
        files::use_config(config);
    }
    match args.command {
        Command::Seal(a) => commands::seal::run(a),
        Command::Unseal(a) => commands::unseal::run(a),
        Command::Verify(a) => commands::verify::run(a),
        Command::Rekey(a) => commands::rekey::run(a),
        Command::Keygen(a) => commands::keygen::run(a),
        Command::Region(a) => commands::region::run(a),
        Command::Recovery(a) => commands::region::recovery(a),
        Command::Edit(a) => commands::edit::run(a),
        Command::Status(a) => commands::status::run(a),
        Command::Import(a) => commands::import::run(a),
        Command::Completions(a) => commands::completions(a),
    }
}
