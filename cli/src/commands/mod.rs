//! One module per subcommand, plus what several of them share.

pub mod keygen;
pub mod region;
pub mod rekey;
pub mod seal;
pub mod status;
pub mod unseal;
pub mod verify;

use std::path::Path;
use std::process::ExitCode;

use ageseal_core::crd::SealedSecret;
use ageseal_core::sealed_file::{Document, parse_documents};
use clap::CommandFactory;

use crate::args::{Args, CompletionsArgs};
use crate::failure::Failure;
use crate::files::read_text;

/// The recipient ids a SealedSecret's hint names, in stanza order.
pub fn hint_ids(sealed: &SealedSecret) -> Vec<&str> {
    sealed.spec.recipients.iter().map(|r| r.id.as_str()).collect()
}

/// Reads and parses a file of manifests (stdin for `-`).
pub fn load_sealed_file(path: &Path) -> Result<Vec<Document>, Failure> {
    let text = read_text(Some(path))?;
    parse_documents(&text).map_err(|e| {
        Failure::input(
            format!("{}: {e}", path.display()),
            "give a YAML or JSON file of SealedSecrets",
        )
    })
}

/// A short label for a SealedSecret in messages: `namespace/name`.
pub fn label(sealed: &SealedSecret) -> String {
    format!(
        "{}/{}",
        sealed.metadata.namespace.as_deref().unwrap_or("<no namespace>"),
        sealed.metadata.name.as_deref().unwrap_or("<no name>")
    )
}

/// `ageseal completions SHELL`.
pub fn completions(args: CompletionsArgs) -> Result<ExitCode, Failure> {
    clap_complete::generate(
        args.shell,
        &mut Args::command(),
        "ageseal",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}
