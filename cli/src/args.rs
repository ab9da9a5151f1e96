//! The command line, as clap definitions. Names here are part of the contract (DESIGN §5).

use std::path::PathBuf;

use ageseal_core::Scope;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

use crate::failure::{Exit, Failure};

/// `-o yaml` and `-o json` are what kubectl and kubeseal users type for a format: refuse those
/// two file names and point at `--format`.
fn output_file(text: &str) -> Result<PathBuf, String> {
    match text {
        "yaml" | "json" => Err(format!(
            "`-o {text}` would write a file named {text}; for the output format use --format {text}"
        )),
        _ => Ok(PathBuf::from(text)),
    }
}

/// A path from a comma-separated list (`AGESEAL_IDENTITY="a.key, b.key"`): spaces around it
/// are not part of it.
fn trimmed_path(text: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(text.trim()))
}

/// Parses the command line. `--help` and `--version` print and exit 0; a usage error becomes a
/// [`Failure`] (exit 2) whose message names arguments but never repeats a value given, which
/// could be a secret pasted in the wrong place.
pub fn parse() -> Result<Args, Failure> {
    Args::try_parse().map_err(|err| {
        if matches!(err.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            let _ = err.print();
            std::process::exit(0);
        }
        usage_failure(&err)
    })
}

fn context(err: &clap::Error, kind: ContextKind) -> Option<String> {
    err.get(kind).map(|value| match value {
        ContextValue::String(s) => s.clone(),
        ContextValue::Strings(list) => list.join(", "),
        ContextValue::StyledStr(s) => s.to_string(),
        ContextValue::StyledStrs(list) => list
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        ContextValue::Number(n) => n.to_string(),
        ContextValue::Bool(b) => b.to_string(),
        _ => String::new(),
    })
}

fn usage_failure(err: &clap::Error) -> Failure {
    let arg = context(err, ContextKind::InvalidArg).unwrap_or_else(|| "an argument".into());
    let message = match err.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => format!("invalid value for {arg}"),
        ErrorKind::UnknownArgument if arg.starts_with('-') => format!("unknown flag {arg}"),
        ErrorKind::UnknownArgument => "unexpected argument (its value is not repeated here)".into(),
        ErrorKind::InvalidSubcommand => "unknown command".into(),
        ErrorKind::MissingRequiredArgument => format!("missing {arg}"),
        ErrorKind::ArgumentConflict => format!(
            "{arg} cannot be used with {}",
            context(err, ContextKind::PriorArg).unwrap_or_else(|| "another flag given".into())
        ),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a command is missing".into()
        }
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("wrong number of values for {arg}")
        }
        _ => "the command line is not valid".into(),
    };
    let mut hints = Vec::new();
    // Our own validators say what is wrong without repeating secrets (only yaml/json are named).
    if err.kind() == ErrorKind::ValueValidation
        && let Some(reason) = std::error::Error::source(err)
    {
        hints.push(reason.to_string());
    }
    if let Some(valid) = context(err, ContextKind::ValidValue) {
        hints.push(format!("possible values: {valid}"));
    }
    for kind in [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedValue,
    ] {
        if let Some(suggestion) = context(err, kind) {
            hints.push(format!("did you mean {suggestion}?"));
        }
    }
    let rendered = err.render().to_string();
    if let Some(usage) = rendered.lines().find_map(|l| l.trim().strip_prefix("Usage: ")) {
        hints.push(format!("usage: {usage}"));
    }
    hints.push("see ageseal --help, or ageseal COMMAND --help".into());
    Failure::new(Exit::Usage, message, hints.join("; "))
}

/// `ageseal --version`: the release, the commit it was built from, and the envelope format.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (commit {}, envelope ageseal/v{})",
        env!("CARGO_PKG_VERSION"),
        env!("AGESEAL_COMMIT"),
        ageseal_core::envelope::VERSION
    )
});

/// Keep Kubernetes Secrets in Git, sealed with age for every region's cluster.
#[derive(Debug, Parser)]
#[command(name = "ageseal", version = VERSION.as_str(), about, max_term_width = 100)]
pub struct Args {
    /// Use this config for every file, instead of the nearest .ageseal.yaml above it (which is
    /// looked up no further than the repository root, and refused if another user owns it).
    #[arg(long, global = true, value_name = "FILE", env = "AGESEAL_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Each one's flags are built only when it runs (`defer`): building all of them
/// took about 0.1 ms of every command's start (cli/benches/README.md). The flag structs carry
/// plain comments, not doc comments, because clap would make a deferred struct's doc comment the
/// command's about text in place of the one below.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Seal Secrets (from kubectl create secret ... --dry-run=client -o yaml) into SealedSecrets.
    Seal(SealArgs),
    /// Recovery: open SealedSecrets with an identity and print the plain Secrets.
    Unseal(UnsealArgs),
    /// Lint SealedSecret files for CI; exit 1 on any problem.
    Verify(VerifyArgs),
    /// Re-seal files whose recipients differ from .ageseal.yaml (how a new region joins).
    Rekey(RekeyArgs),
    /// Generate an age identity (private key file, mode 0600) and print its public key.
    Keygen(KeygenArgs),
    /// Add, list, re-key or remove regions in .ageseal.yaml.
    Region(RegionArgs),
    /// Add or remove recovery (break-glass) keys in .ageseal.yaml.
    Recovery(RecoveryArgs),
    /// Edit a sealed file's plain Secret in $EDITOR; only changed values are sealed again.
    Edit(EditArgs),
    /// Per-region sync report of SealedSecret files against each region's cluster; exit 1 on drift.
    Status(StatusArgs),
    /// Convert Bitnami SealedSecrets or sops-encrypted Secrets into ageseal SealedSecrets.
    Import(ImportArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// Scope names as flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Same namespace, name and key only.
    Strict,
    /// Any name in the same namespace.
    NamespaceWide,
    /// Anywhere in the cluster.
    ClusterWide,
}

impl From<ScopeArg> for Scope {
    fn from(value: ScopeArg) -> Self {
        match value {
            ScopeArg::Strict => Scope::Strict,
            ScopeArg::NamespaceWide => Scope::NamespaceWide,
            ScopeArg::ClusterWide => Scope::ClusterWide,
        }
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// YAML, one document per SealedSecret.
    #[default]
    Yaml,
    /// JSON: one object, or a List for several.
    Json,
}

// `ageseal seal` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct SealArgs {
    /// Input Secret manifest(s), YAML or JSON; `-` or absent for stdin.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Write here (atomically) instead of stdout; .ageseal.yaml is looked up from its folder.
    /// `-w` is accepted too, as kubeseal users type it.
    #[arg(
        short = 'o',
        long = "output",
        short_alias = 'w',
        value_name = "FILE",
        conflicts_with = "merge_into",
        value_parser = output_file
    )]
    pub output: Option<PathBuf>,
    /// Where the result will live, for .ageseal.yaml's path rules when writing to stdout.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["output", "merge_into"])]
    pub path: Option<PathBuf>,
    /// Where the values may be used. Default: strict (or, with --merge-into, the file's scope).
    #[arg(long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Name to use when the Secret has none (a different name is an error).
    #[arg(long)]
    pub name: Option<String>,
    /// Namespace to use when the Secret has none (a different namespace is an error).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Seal only for these regions of .ageseal.yaml (repeatable; recovery keys are always added).
    #[arg(
        long = "region",
        value_name = "REGION",
        env = "AGESEAL_REGION",
        value_delimiter = ',',
        add = ArgValueCompleter::new(crate::completion::regions)
    )]
    pub regions: Vec<String>,
    /// Seal to these age1... recipients instead of .ageseal.yaml (repeatable).
    #[arg(long = "recipient", value_name = "AGE1...", conflicts_with = "regions")]
    pub recipients: Vec<String>,
    /// Add or replace keys in this existing sealed file, in place, leaving its other keys alone.
    #[arg(long, value_name = "FILE")]
    pub merge_into: Option<PathBuf>,
    /// Allow a Secret with no keys.
    #[arg(long)]
    pub allow_empty: bool,
    /// With -o: replace a file that already holds SealedSecrets (without it, that is refused:
    /// every key the file held would be gone; --merge-into adds keys instead).
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Seal one value and print its base64 (needs --key, and --namespace/--name as the scope needs).
    #[arg(long, conflicts_with_all = ["output", "merge_into", "allow_empty", "file"], requires = "key")]
    pub raw: bool,
    /// With --raw: the encryptedData key the value is for.
    #[arg(long, requires = "raw")]
    pub key: Option<String>,
    /// With --raw: read the value from this file instead of stdin.
    #[arg(long, value_name = "FILE", requires = "raw")]
    pub from_file: Option<PathBuf>,
}

// `ageseal unseal` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct UnsealArgs {
    /// SealedSecret file; `-` or absent for stdin.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Identities that open the values.
    #[command(flatten)]
    pub identities: OpeningIdentities,
    /// Output format of the Secrets.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Print only this key's value, raw, with no newline added (for scripts); the file must hold
    /// one SealedSecret.
    #[arg(long, value_name = "KEY", conflicts_with = "format")]
    pub key: Option<String>,
}

// The `-i` of commands that must open values: given files, or the recovery identities (a plain
// comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct OpeningIdentities {
    /// Identity file(s) (age-keygen format, or KMS-wrapped; `-` for stdin); repeatable. Default:
    /// the recovery identity files named in .ageseal.yaml.
    #[arg(
        short = 'i',
        long = "identity",
        value_name = "IDENTITY",
        env = "AGESEAL_IDENTITY",
        value_delimiter = ',',
        value_parser = trimmed_path
    )]
    pub files: Vec<PathBuf>,
}

// `ageseal edit` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct EditArgs {
    /// The sealed file (one SealedSecret).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Identities that open the values.
    #[command(flatten)]
    pub identities: OpeningIdentities,
}

// `ageseal verify` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Files or folders to check (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also open every value with these identities and check its binding.
    #[arg(
        short = 'i',
        long = "identity",
        value_name = "IDENTITY",
        env = "AGESEAL_IDENTITY",
        value_delimiter = ','
    )]
    pub identities: Vec<PathBuf>,
}

/// What `ageseal import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportSource {
    /// Bitnami SealedSecrets (bitnami.com/v1alpha1), opened with the controller's private keys.
    SealedSecrets,
    /// Secret manifests encrypted by sops, opened by the sops binary on PATH.
    Sops,
}

// `ageseal import` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Files or folders to convert (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// What the files hold.
    #[arg(long = "from", value_enum)]
    pub from: ImportSource,
    /// Sealed Secrets controller private key(s): PEM, or the key Secrets as YAML/JSON (repeatable).
    #[arg(long = "private-key", value_name = "FILE")]
    pub private_keys: Vec<PathBuf>,
    /// Replace the files, keeping their other documents: every file or none; default: print the
    /// result.
    #[arg(long)]
    pub in_place: bool,
    /// --from sops: also run sops on files whose metadata names this key source (repeatable).
    /// By default only files keyed with age and AWS KMS are handed to sops, since sops contacts
    /// whatever service a file names, with your credentials.
    #[arg(long = "allow-key-source", value_enum, value_name = "SOURCE")]
    pub allow_key_sources: Vec<crate::sops_keys::KeySource>,
}

// `ageseal rekey` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct RekeyArgs {
    /// Files or folders to re-seal (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Identities that open the current values.
    #[command(flatten)]
    pub identities: OpeningIdentities,
    /// Say what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Re-seal every SealedSecret, not only those whose recipients differ: spec.recipients is
    /// an unauthenticated hint, so after a key leak it cannot tell which values need it.
    #[arg(long)]
    pub all: bool,
}

// `ageseal keygen` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Write the identity here (mode 0600, never overwritten) and print only the public key.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Wrap the identity with this AWS KMS key (ARN; the region is taken from it): the file then
    /// holds only KMS ciphertext, and IAM decides who can use it.
    #[arg(long, value_name = "ARN")]
    pub kms_key: Option<String>,
    /// Make a hybrid post-quantum identity (ML-KEM-768 + X25519, age1pq1... recipient, like
    /// `age-keygen -pq`): values sealed to it stay safe from a future quantum computer. Every
    /// recipient a value is sealed to must then be hybrid.
    #[arg(long)]
    pub pq: bool,
}

// `ageseal region` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct RegionArgs {
    /// What to do with regions.
    #[command(subcommand)]
    pub action: RegionAction,
}

// Region subcommands (a plain comment: see `Command`).
#[derive(Debug, Subcommand)]
pub enum RegionAction {
    /// Add a region with its controller's public key (creates .ageseal.yaml if there is none).
    Add {
        /// Region name, e.g. us-east-1.
        name: String,
        /// Where the key comes from.
        #[command(flatten)]
        key: KeySource,
    },
    /// Make a new key a region's current one (after its controller rotated); older keys stay
    /// listed after it.
    SetKey {
        /// Region name.
        #[arg(add = ArgValueCompleter::new(crate::completion::regions))]
        name: String,
        /// Where the key comes from.
        #[command(flatten)]
        key: KeySource,
    },
    /// List regions and recovery keys.
    List,
    /// Remove a region.
    Remove {
        /// Region name.
        #[arg(add = ArgValueCompleter::new(crate::completion::regions))]
        name: String,
    },
}

// A region's public key: given, or read from the region's cluster (a plain comment: see
// `Command`).
#[derive(Debug, clap::Args)]
pub struct KeySource {
    /// The region controller's age1... public key.
    #[arg(
        long,
        value_name = "AGE1...",
        required_unless_present = "from_cluster",
        conflicts_with = "from_cluster"
    )]
    pub recipient: Option<String>,
    /// Read the key the region's controller publishes (ConfigMap ageseal-recipients) through this
    /// kubeconfig context.
    #[arg(long, value_name = "CONTEXT", add = ArgValueCompleter::new(crate::completion::contexts))]
    pub from_cluster: Option<String>,
    /// The controller's namespace in that cluster.
    #[arg(long, default_value = "ageseal-system", requires = "from_cluster")]
    pub controller_namespace: String,
    /// Kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait for each request to the cluster (e.g. 10s, 1m).
    #[arg(long, value_name = "DURATION", value_parser = timeout, requires = "from_cluster")]
    pub request_timeout: Option<std::time::Duration>,
}

// `ageseal recovery` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct RecoveryArgs {
    /// What to do with recovery keys.
    #[command(subcommand)]
    pub action: RecoveryAction,
}

// Recovery subcommands (a plain comment: see `Command`).
#[derive(Debug, Subcommand)]
pub enum RecoveryAction {
    /// Add a recovery (break-glass) key every value is also sealed to.
    Add {
        /// Its name in .ageseal.yaml and spec.recipients.
        name: String,
        /// Its age1... public key.
        #[arg(long, value_name = "AGE1...")]
        recipient: String,
        /// Where its private half is kept, relative to .ageseal.yaml (KMS-wrapped: ageseal keygen
        /// --kms-key); unseal and rekey use it when no -i is given.
        #[arg(long, value_name = "FILE")]
        identity: Option<String>,
    },
    /// Remove a recovery key.
    Remove {
        /// Its name.
        name: String,
    },
}

// `ageseal completions` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// Shell to register completion for: bash (needs the bash-completion package), elvish,
    /// fish, powershell or zsh.
    #[arg(value_parser = ["bash", "elvish", "fish", "powershell", "zsh"])]
    pub shell: String,
}

/// `ageseal status` output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum StatusOutput {
    /// Tab-separated table.
    #[default]
    Table,
    /// JSON array of rows.
    Json,
}

// `ageseal status` (a plain comment: see `Command`).
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Files or folders of SealedSecrets (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Kubeconfig context of a region's cluster; repeat once per region. Default: the current
    /// context.
    #[arg(
        long = "context",
        value_name = "CTX",
        env = "AGESEAL_CONTEXT",
        value_delimiter = ',',
        add = ArgValueCompleter::new(crate::completion::contexts)
    )]
    pub contexts: Vec<String>,
    /// Kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// How long to wait for each request to a cluster (e.g. 10s, 1m).
    #[arg(long, value_name = "DURATION", value_parser = timeout)]
    pub request_timeout: Option<std::time::Duration>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = StatusOutput::Table)]
    pub output: StatusOutput,
    /// The controllers' namespace.
    #[arg(long, default_value = "ageseal-system", env = "AGESEAL_CONTROLLER_NAMESPACE")]
    pub controller_namespace: String,
}

/// `--request-timeout`: seconds, or a number with s, m or h (as kubectl takes it).
fn timeout(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| "use a duration like 10s, 2m or 1h".to_owned())?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err("use a duration like 10s, 2m or 1h".to_owned()),
    };
    Ok(std::time::Duration::from_secs(seconds.max(1)))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Args;

    fn about(command: &clap::Command) -> String {
        command.get_about().map(ToString::to_string).unwrap_or_default()
    }

    #[test]
    fn every_command_keeps_the_about_the_list_shows_once_its_flags_are_built() {
        let listed: Vec<(String, String)> = Args::command()
            .get_subcommands()
            .map(|c| (c.get_name().to_owned(), about(c)))
            .collect();
        assert!(listed.len() >= 11, "{listed:?}");
        let mut built = Args::command();
        built.build();
        for (name, listed_about) in listed {
            let command = built.find_subcommand(&name).expect("listed command exists");
            assert!(
                !listed_about.is_empty() && !listed_about.starts_with('`'),
                "{name}: {listed_about}"
            );
            assert_eq!(about(command), listed_about, "{name}");
            if name != "help" {
                assert!(
                    command.get_arguments().next().is_some(),
                    "{name} has its flags once built"
                );
            }
            for sub in command.get_subcommands() {
                let text = about(sub);
                assert!(
                    !text.is_empty() && !text.starts_with('`'),
                    "{name} {}: {text}",
                    sub.get_name()
                );
            }
        }
        let region = built.find_subcommand("region").expect("region");
        assert!(
            region.get_subcommands().count() >= 4,
            "region's own commands are built"
        );
    }
}
