//! Reaching a region's cluster through a kubeconfig context, and saying why not without quoting
//! the kubeconfig (it holds tokens and keys).

use kube::Client;
use kube::config::{KubeConfigOptions, KubeconfigError};

use crate::failure::{Exit, Failure};

/// One region's cluster as seen through a kubeconfig context.
#[derive(Clone)]
pub struct Cluster {
    /// The kubeconfig context.
    pub context: String,
    /// A client for it.
    pub client: Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// What is wrong with a kubeconfig, in words that never repeat its content.
pub fn describe_kubeconfig_error(error: &KubeconfigError) -> String {
    match error {
        // The parser's message may quote the file: say only what is wrong.
        KubeconfigError::Parse(_) => "the kubeconfig is not valid YAML of the expected shape".to_owned(),
        other => other.to_string(),
    }
}

/// A client for a kubeconfig context (KUBECONFIG or ~/.kube/config).
pub async fn connect(context: &str) -> Result<Cluster, Failure> {
    let options = KubeConfigOptions {
        context: Some(context.to_owned()),
        ..Default::default()
    };
    let config = kube::Config::from_kubeconfig(&options).await.map_err(|e| {
        Failure::new(
            Exit::Io,
            format!("kubeconfig context {context}: {}", describe_kubeconfig_error(&e)),
            "list contexts with `kubectl config get-contexts`; set KUBECONFIG to the right file",
        )
    })?;
    let client = Client::try_from(config).map_err(|e| {
        Failure::new(
            Exit::Io,
            format!("kubeconfig context {context}: cannot build a client: {e}"),
            "check the context's certificates in the kubeconfig",
        )
    })?;
    Ok(Cluster {
        context: context.to_owned(),
        client,
    })
}
