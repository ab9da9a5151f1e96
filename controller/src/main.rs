//! `ageseal-controller`: command-line wiring only.

use std::path::PathBuf;
use std::process::ExitCode;

use ageseal_controller::offline;
use ageseal_controller::run::RunOptions;
use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

/// Turns ageseal SealedSecrets into Secrets in one region's cluster.
#[derive(Debug, Parser)]
#[command(name = "ageseal-controller", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Watch SealedSecrets and keep this region's Secrets equal to them.
    ///
    /// It finds the cluster as kubectl does: inside a Pod through its ServiceAccount (the
    /// projected token and CA, KUBERNETES_SERVICE_HOST/PORT), elsewhere through KUBECONFIG or
    /// ~/.kube/config. Its own namespace (key Secrets, the ageseal-recipients ConfigMap, the
    /// Lease) is --controller-namespace, else the Pod's (POD_NAMESPACE, or the ServiceAccount's
    /// namespace file), else ageseal-system.
    Run {
        /// This controller's region (written to status), e.g. us-east-1.
        #[arg(long)]
        region: String,
        /// Watch only this namespace (repeatable); default: all namespaces.
        #[arg(long = "namespace", value_name = "NS")]
        namespaces: Vec<String>,
        /// Elect a leader through a Lease; only the leader reconciles and makes keys.
        #[arg(long)]
        leader_election: bool,
        /// Make a new active key this often (e.g. 30d, 720h); older keys keep opening values.
        #[arg(long, value_name = "DURATION", value_parser = ageseal_controller::run::parse_period)]
        rotate_keys_every: Option<std::time::Duration>,
        /// Address for /healthz, /readyz, /metrics and /v1/recipients.
        #[arg(long, default_value = "0.0.0.0:8080")]
        listen: std::net::SocketAddr,
        /// The controller's own namespace (key Secrets, ConfigMap, Lease); default: the pod's.
        #[arg(long, env = "POD_NAMESPACE")]
        controller_namespace: Option<String>,
        /// Keep key Secrets wrapped by this AWS KMS key (ARN); they never hold a plaintext identity.
        #[arg(long, value_name = "ARN")]
        kms_key_id: Option<String>,
        /// Also produce Secrets of this type (repeatable). By default only Opaque,
        /// kubernetes.io/{tls,dockerconfigjson,dockercfg,basic-auth,ssh-auth} are produced.
        #[arg(long = "allow-secret-type", value_name = "TYPE")]
        allowed_secret_types: Vec<String>,
        /// SealedSecrets reconciled at once (per watched namespace with --namespace). Their
        /// requests share one HTTP/2 connection to the API server (over HTTP/1.1, where the API
        /// server or a proxy requires it, each holds a connection of its own, about 70 KB).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// Make hybrid post-quantum keys (ML-KEM-768 + X25519, published as age1pq1...). An
        /// active X25519 key is retired (it keeps opening values sealed to it).
        #[arg(long)]
        pq_keys: bool,
    },
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

/// Exit code of `run` when the controller stops (cannot listen, lost its leadership).
const EXIT_STOPPED: u8 = 1;

struct Failure {
    message: String,
    hint: String,
    code: u8,
}

fn fail(code: u8, message: impl Into<String>, hint: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        hint: hint.into(),
        code,
    }
}

fn read(path: &PathBuf) -> Result<String, Failure> {
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin()).map_err(|e| {
            fail(
                offline::EXIT_IO,
                format!("cannot read stdin: {e}"),
                "pipe a file in",
            )
        });
    }
    std::fs::read_to_string(path).map_err(|e| {
        fail(
            offline::EXIT_IO,
            format!("cannot read {}: {e}", path.display()),
            "check the path",
        )
    })
}

fn render(file: &PathBuf, identities: &[PathBuf]) -> Result<(), Failure> {
    let keys = identities
        .iter()
        .map(|p| read(p).map(|text| (p.display().to_string(), text)))
        .collect::<Result<Vec<_>, _>>()?;
    let out = offline::render(&file.display().to_string(), &read(file)?, &keys)
        .map_err(|e| fail(e.code, e.message, e.hint))?;
    eprintln!("warning: the output below holds the Secret values unencrypted; do not commit it");
    write_stdout(&out);
    Ok(())
}

/// Writes to stdout; a reader that went away (`| head`) ends the command quietly, never a panic.
fn write_stdout(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn own_namespace(flag: Option<String>) -> String {
    const IN_POD: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
    flag.or_else(|| std::fs::read_to_string(IN_POD).ok().map(|s| s.trim().to_owned()))
        .unwrap_or_else(|| "ageseal-system".to_owned())
}

fn serve(options: RunOptions) -> Result<(), Failure> {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .init();
    // One thread runs the watches, reconciles and the HTTP endpoints; opening values runs on the
    // blocking pool (crate::reconcile). The API server, not the controller, bounds a sync, and
    // with one thread there are no hand-offs between workers: about 15 % less CPU per object
    // than tokio's two-worker default on a cold sync (controller/benches/README.md).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            fail(
                EXIT_STOPPED,
                format!("cannot start: {e}"),
                "check the container's limits",
            )
        })?;
    runtime
        .block_on(ageseal_controller::run::run(options))
        .map_err(|e| {
            fail(
                EXIT_STOPPED,
                e.to_string(),
                "check the kubeconfig or service account, the RBAC rules in deploy/, and --listen",
            )
        })
}

fn main() -> ExitCode {
    use ageseal_core::redact::{ROTATE_HINT, argument_with_private_key};
    if let Some(position) = argument_with_private_key(std::env::args_os()) {
        eprintln!(
            "error: argument {position} holds a private key; ageseal-controller reads identities only from files (-i FILE) and key Secrets"
        );
        eprintln!("hint: {ROTATE_HINT}");
        return ExitCode::from(2);
    }
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's own text, first line, in the error:/hint: form every other failure has.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("error: {}", first.strip_prefix("error: ").unwrap_or(first));
            eprintln!("hint: see ageseal-controller --help, or ageseal-controller COMMAND --help");
            return ExitCode::from(2);
        }
    };
    let result = match args.command {
        Command::Run {
            region,
            namespaces,
            leader_election,
            rotate_keys_every,
            listen,
            controller_namespace,
            kms_key_id,
            allowed_secret_types,
            concurrency,
            pq_keys,
        } => serve(RunOptions {
            region,
            namespaces,
            own_namespace: own_namespace(controller_namespace),
            leader_election,
            rotate_every: rotate_keys_every,
            listen,
            kms_key_id,
            allowed_secret_types,
            concurrency,
            pq_keys,
            replica: std::env::var("POD_NAME")
                .or_else(|_| std::env::var("HOSTNAME"))
                .unwrap_or_else(|_| "ageseal-controller".to_owned()),
        }),
        Command::Crd => {
            write_stdout(&offline::crd_yaml());
            Ok(())
        }
        Command::Render { file, identities } => render(&file, &identities),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Errors quote paths and arguments: never a private key given in their place.
            use ageseal_core::redact::{ROTATE_HINT, private_keys};
            let (message, hint) = (private_keys(&failure.message), private_keys(&failure.hint));
            eprintln!("error: {message}");
            eprintln!("hint: {hint}");
            if [&message, &hint]
                .iter()
                .any(|t| matches!(t, std::borrow::Cow::Owned(_)))
            {
                eprintln!("hint: {ROTATE_HINT}");
            }
            ExitCode::from(failure.code)
        }
    }
}
