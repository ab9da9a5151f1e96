//! `ageseal-controller`: command-line wiring only.

use std::path::PathBuf;
use std::process::ExitCode;

use ageseal_controller::secret::desired_secret;
use ageseal_core::crd::SealedSecret;
use ageseal_core::sealed_file::{Document, parse_documents};
use ageseal_core::{Keyring, parse_identity_file};
use clap::{Parser, Subcommand};
use kube::CustomResourceExt;

/// Turns ageseal SealedSecrets into Secrets in one region's cluster.
#[derive(Debug, Parser)]
#[command(name = "ageseal-controller", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the SealedSecret CustomResourceDefinition generated from the Rust types.
    Crd,
    /// Print the Secret(s) reconcile would apply for a SealedSecret file, with no cluster.
    Render {
        /// SealedSecret file (`-` for stdin).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: PathBuf,
        /// This region's identity file(s); repeatable.
        #[arg(short = 'i', long = "identity", value_name = "IDENTITY", required = true)]
        identities: Vec<PathBuf>,
    },
}

struct Failure {
    message: String,
    hint: String,
}

fn fail(message: impl Into<String>, hint: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        hint: hint.into(),
    }
}

fn read(path: &PathBuf) -> Result<String, Failure> {
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin())
            .map_err(|e| fail(format!("cannot read stdin: {e}"), "pipe a file in"));
    }
    std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display()), "check the path"))
}

fn render(file: &PathBuf, identities: &[PathBuf]) -> Result<(), Failure> {
    let mut keyring = Keyring::default();
    for path in identities {
        let parsed = parse_identity_file(&read(path)?).map_err(|e| {
            fail(
                format!("{}: {e}", path.display()),
                "pass an identity file written by ageseal keygen",
            )
        })?;
        keyring.extend(parsed);
    }
    let documents = parse_documents(&read(file)?)
        .map_err(|e| fail(format!("{}: {e}", file.display()), "pass a file of SealedSecrets"))?;
    let sealed: Vec<&SealedSecret> = documents
        .iter()
        .filter_map(|d| match d {
            Document::Sealed(s) => Some(s.as_ref()),
            Document::Other(_) => None,
        })
        .collect();
    if sealed.is_empty() {
        return Err(fail(
            format!("{} holds no SealedSecret", file.display()),
            "pass a file written by ageseal seal",
        ));
    }
    let mut out = Vec::new();
    for object in sealed {
        let secret = desired_secret(object, &keyring)
            .map(|desired| desired.secret)
            .map_err(|e| fail(format!("{} ({})", e.message, e.reason), e.hint))?;
        out.push(serde_yaml::to_string(&secret).expect("Secret serializes"));
    }
    eprintln!("warning: the output below is plaintext Secret data; do not commit it");
    print!("{}", out.join("---\n"));
    Ok(())
}

fn main() -> ExitCode {
    let result = match Args::parse().command {
        Command::Crd => {
            print!(
                "{}",
                serde_yaml::to_string(&SealedSecret::crd()).expect("CRD serializes")
            );
            Ok(())
        }
        Command::Render { file, identities } => render(&file, &identities),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            eprintln!("hint: {}", failure.hint);
            ExitCode::from(1)
        }
    }
}
