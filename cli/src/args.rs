//! The command line, as clap definitions. Names here are part of the contract (DESIGN §5).

use std::path::PathBuf;

use ageseal_core::Scope;
use clap::{Parser, Subcommand, ValueEnum};

/// Keep Kubernetes Secrets in Git, sealed with age for every region's cluster.
#[derive(Debug, Parser)]
#[command(name = "ageseal", version, about, max_term_width = 100)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
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
    /// Add, list or remove regions in .ageseal.yaml.
    Region(RegionArgs),
    /// Per-region sync report of SealedSecret files against each region's cluster; exit 1 on drift.
    Status(StatusArgs),
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

/// `ageseal seal`.
#[derive(Debug, clap::Args)]
pub struct SealArgs {
    /// Input Secret manifest(s), YAML or JSON; `-` or absent for stdin.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Write here (atomically) instead of stdout; .ageseal.yaml is looked up from its folder.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        conflicts_with = "merge_into"
    )]
    pub output: Option<PathBuf>,
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
    #[arg(long = "region", value_name = "REGION")]
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

/// `ageseal unseal`.
#[derive(Debug, clap::Args)]
pub struct UnsealArgs {
    /// SealedSecret file; `-` or absent for stdin.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Identities that open the values.
    #[command(flatten)]
    pub identities: OpeningIdentities,
}

/// The `-i` of commands that must open values: given files, or the recovery identities.
#[derive(Debug, clap::Args)]
pub struct OpeningIdentities {
    /// Identity file(s) (age-keygen format, or KMS-wrapped); repeatable. Default: the recovery
    /// identity files named in .ageseal.yaml.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    pub files: Vec<PathBuf>,
}

/// `ageseal verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Files or folders to check (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also open every value with these identities and check its binding.
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY")]
    pub identities: Vec<PathBuf>,
}

/// `ageseal rekey`.
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

/// `ageseal keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Write the identity here (mode 0600, never overwritten) and print only the public key.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Wrap the identity with this AWS KMS key (ARN; the region is taken from it): the file then
    /// holds only KMS ciphertext, and IAM decides who can use it.
    #[arg(long, value_name = "ARN")]
    pub kms_key: Option<String>,
}

/// `ageseal region`.
#[derive(Debug, clap::Args)]
pub struct RegionArgs {
    /// What to do with regions.
    #[command(subcommand)]
    pub action: RegionAction,
}

/// Region subcommands.
#[derive(Debug, Subcommand)]
pub enum RegionAction {
    /// Add a region with its controller's public key (creates .ageseal.yaml if there is none).
    Add {
        /// Region name, e.g. us-east-1.
        name: String,
        /// The region controller's age1... public key.
        #[arg(
            long,
            value_name = "AGE1...",
            required_unless_present = "from_cluster",
            conflicts_with = "from_cluster"
        )]
        recipient: Option<String>,
        /// Read the keys the region's controller publishes (ConfigMap ageseal-recipients) through
        /// this kubeconfig context.
        #[arg(long, value_name = "CONTEXT")]
        from_cluster: Option<String>,
        /// The controller's namespace in that cluster.
        #[arg(long, default_value = "ageseal-system", requires = "from_cluster")]
        controller_namespace: String,
    },
    /// List regions and recovery keys.
    List,
    /// Remove a region.
    Remove {
        /// Region name.
        name: String,
    },
}

/// `ageseal completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// Shell to generate for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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

/// `ageseal status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Files or folders of SealedSecrets (default: the current folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Kubeconfig context of a region's cluster; repeat once per region.
    #[arg(long = "context", value_name = "CTX", required = true)]
    pub contexts: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusOutput::Table)]
    pub output: StatusOutput,
    /// The controllers' namespace.
    #[arg(long, default_value = "ageseal-system")]
    pub controller_namespace: String,
}
