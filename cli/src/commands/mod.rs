//! One module per subcommand, plus what several of them share.

pub mod edit;
pub mod import;
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
use ageseal_core::manifest_file::ManifestFile;

use crate::args::CompletionsArgs;
use crate::failure::Failure;
use crate::files::read_text;

/// The recipient ids a SealedSecret's hint names, in stanza order.
pub fn hint_ids(sealed: &SealedSecret) -> Vec<&str> {
    sealed.spec.recipients.iter().map(|r| r.id.as_str()).collect()
}

/// Reads and parses a file of manifests (stdin for `-`).
pub fn load_sealed_file(path: &Path) -> Result<ManifestFile, Failure> {
    let text = read_text(Some(path))?;
    ManifestFile::parse(&text).map_err(|e| {
        Failure::input(
            format!("{}: {e}", path.display()),
            "give a YAML or JSON file of SealedSecrets",
        )
    })
}

/// What to do about a value that did not open, for commands that open values (`unseal`,
/// `verify -i`, `rekey`): never "run rekey" for what rekey cannot fix.
pub fn open_hint(code: &str) -> &'static str {
    match code {
        "ScopeMismatch" => {
            "the object was renamed or moved, or a value was copied from elsewhere: seal the value again for this place (rekey cannot change where a value may be used)"
        }
        "NoMatchingKey" => {
            "pass an identity this file was sealed to with -i (the recovery identity opens every value)"
        }
        "TooMuchWork" => "split the Secret, or seal it to fewer recipients",
        "UnsupportedVersion" => "upgrade ageseal to a version that reads this format",
        _ => "the value is damaged: seal it again from the original (ageseal seal --merge-into FILE)",
    }
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
    let script = crate::completion::registration(&args.shell).ok_or_else(|| {
        Failure::input(
            format!("no completion for {}", args.shell),
            "use bash, elvish, fish, powershell or zsh",
        )
    })?;
    crate::output::print(&script)?;
    Ok(ExitCode::SUCCESS)
}
