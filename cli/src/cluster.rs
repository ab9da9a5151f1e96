//! Reaching a region's cluster through a kubeconfig context, and saying why not: which identity
//! was refused what (401/403), which server could not be reached, never quoting the kubeconfig
//! (it holds tokens and keys).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ageseal_core::Recipient;
use ageseal_core::crd::{PublishedRecipients, RECIPIENTS_CONFIGMAP};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Api, Client};

use crate::failure::{Exit, Failure};

/// How to reach clusters: `--kubeconfig` (else KUBECONFIG or ~/.kube/config) and a timeout.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--request-timeout`.
    pub timeout: Option<Duration>,
}

/// One region's cluster as seen through a kubeconfig context.
#[derive(Clone)]
pub struct Cluster {
    /// The kubeconfig context.
    pub context: String,
    /// The API server's URL.
    pub server: String,
    /// A client for it.
    pub client: Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// What is wrong with a kubeconfig, in words that never repeat its content.
pub fn describe_kubeconfig_error(error: &KubeconfigError) -> String {
    match error {
        // The parser's message may quote the file: say only what is wrong.
        KubeconfigError::Parse(_) => "the kubeconfig is not valid YAML of the expected shape".to_owned(),
        KubeconfigError::ReadConfig(e, path) => {
            format!(
                "cannot read the kubeconfig {}: {}",
                path.display(),
                crate::failure::io_words(e)
            )
        }
        other => other.to_string(),
    }
}

fn unusable(context: &str, what: String) -> Failure {
    Failure::new(
        Exit::Io,
        format!("kubeconfig context {context}: {what}"),
        "list contexts with `kubectl config get-contexts`; pick the file with --kubeconfig or KUBECONFIG",
    )
}

/// The kubeconfig to read: `--kubeconfig`, else KUBECONFIG as kubectl reads it (a list of files
/// merged in order; empty entries and files that do not exist are skipped), else
/// ~/.kube/config.
fn read_kubeconfig(access: &Access) -> Result<Kubeconfig, KubeconfigError> {
    if let Some(path) = &access.kubeconfig {
        return Kubeconfig::read_from(path);
    }
    let listed: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
        .map(|value| {
            std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    let Some(first) = listed.first() else {
        return Kubeconfig::read();
    };
    let present: Vec<&PathBuf> = listed.iter().filter(|p| p.exists()).collect();
    if present.is_empty() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        return Err(KubeconfigError::ReadConfig(missing, first.clone()));
    }
    present
        .into_iter()
        .try_fold(Kubeconfig::default(), |merged, path| {
            Kubeconfig::read_from(path).and_then(|next| merged.merge(next))
        })
}

/// The current context's name (for `status` without `--context`).
pub fn current_context(access: &Access) -> Result<String, Failure> {
    let kubeconfig =
        read_kubeconfig(access).map_err(|e| unusable("(current)", describe_kubeconfig_error(&e)))?;
    kubeconfig.current_context.ok_or_else(|| {
        Failure::new(
            Exit::Io,
            "the kubeconfig names no current context",
            "pass --context CONTEXT (kubectl config get-contexts lists them)",
        )
    })
}

/// A client for a kubeconfig context.
pub async fn connect(context: &str, access: &Access) -> Result<Cluster, Failure> {
    let options = KubeConfigOptions {
        context: Some(context.to_owned()),
        ..Default::default()
    };
    let kubeconfig = read_kubeconfig(access).map_err(|e| unusable(context, describe_kubeconfig_error(&e)))?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| unusable(context, describe_kubeconfig_error(&e)))?;
    if let Some(timeout) = access.timeout {
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
    }
    let server = config.cluster_url.to_string();
    let client =
        Client::try_from(config).map_err(|e| unusable(context, format!("cannot build a client: {e}")))?;
    Ok(Cluster {
        context: context.to_owned(),
        server: server.trim_end_matches('/').to_owned(),
        client,
    })
}

impl Cluster {
    /// A request of `what` failed: say whether the server refused this identity (and what, in
    /// its own words: user, verb, resource), or could not be reached at all.
    pub fn failure(&self, what: &str, err: &kube::Error) -> Failure {
        let context = &self.context;
        match err {
            kube::Error::Api(status) if status.code == 401 => Failure::new(
                Exit::Io,
                format!(
                    "context {context}: {what}: the API server at {} does not accept these credentials (401)",
                    self.server
                ),
                "log in again or refresh the context's credentials (kubectl config view --minify shows which user)",
            ),
            kube::Error::Api(status) if status.code == 403 => Failure::new(
                Exit::Io,
                format!("context {context}: {what}: forbidden: {}", status.message),
                "ask for that permission (the message names the user, the verb and the resource), or use another context",
            ),
            kube::Error::Api(status) => Failure::new(
                Exit::Io,
                format!("context {context}: {what}: {} ({})", status.message, status.code),
                "check the cluster and try again",
            ),
            other => Failure::new(
                Exit::Io,
                format!(
                    "context {context}: cannot reach the API server at {}: {}",
                    self.server,
                    ageseal_kms::describe_transport(other)
                ),
                "check that the cluster is up and reachable from here (VPN, proxy, port-forward) and the context's server URL; --request-timeout sets how long to wait",
            ),
        }
    }

    /// The region name and public keys (newest first) the cluster's controller publishes.
    pub async fn published(&self, controller_namespace: &str) -> Result<(String, Vec<Recipient>), Failure> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), controller_namespace);
        let what = format!("reading {controller_namespace}/{RECIPIENTS_CONFIGMAP}");
        let cm = api
            .get_opt(RECIPIENTS_CONFIGMAP)
            .await
            .map_err(|e| self.failure(&what, &e))?
            .ok_or_else(|| {
                Failure::new(
                    Exit::Io,
                    format!(
                        "context {}: no ConfigMap {controller_namespace}/{RECIPIENTS_CONFIGMAP}: ageseal-controller is not installed there, or not in that namespace",
                        self.context
                    ),
                    "install it (docs/OPERATIONS.md, section 1) or pass --controller-namespace",
                )
            })?;
        let published = PublishedRecipients::from_data(&cm.data.unwrap_or_default());
        let region = published.region.unwrap_or_else(|| self.context.clone());
        Ok((region, published.recipients))
    }
}

/// A runtime for the few commands that talk to clusters or KMS.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start", Path::new("the network client"), &e))
}
