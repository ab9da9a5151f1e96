//! ageseal-kms: AWS KMS guards age identities at rest. [`Kms`] is the small trait the CLI and the
//! controller use; [`AwsKms`] talks to AWS (or any endpoint set by `AWS_ENDPOINT_URL_KMS`), and
//! [`fake::FakeKms`] stands in where a real endpoint cannot express a case (disabled key, denied).

pub mod fake;
#[cfg(feature = "moto")]
pub mod moto;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

use ageseal_core::wrapped::{WrappedError, WrappedIdentity, arn_region};
use ageseal_core::{Identity, parse_identity_file};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use zeroize::Zeroizing;

/// Why KMS did not wrap or unwrap. Each variant names the cause; [`KmsError::hint`] the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// IAM (or a key policy) does not allow this caller to use the key.
    #[error("AWS KMS denied access to {key}")]
    AccessDenied {
        /// Key ARN.
        key: String,
    },
    /// The ciphertext does not belong to this key and encryption context.
    #[error("AWS KMS refused the ciphertext: wrong key or wrong encryption context for {key}")]
    WrongContext {
        /// Key ARN.
        key: String,
    },
    /// The key is disabled or pending deletion.
    #[error("the KMS key {key} is disabled or pending deletion")]
    KeyDisabled {
        /// Key ARN.
        key: String,
    },
    /// No such key in that account and region.
    #[error("the KMS key {key} does not exist")]
    KeyNotFound {
        /// Key ARN.
        key: String,
    },
    /// The endpoint could not be reached.
    #[error("cannot reach AWS KMS at {endpoint}: {detail}")]
    Unreachable {
        /// The endpoint (the region's, or `AWS_ENDPOINT_URL_KMS`).
        endpoint: String,
        /// What happened (connection refused, timed out, name not resolved...).
        detail: String,
    },
    /// No usable credentials.
    #[error("no usable AWS credentials: {0}")]
    Credentials(String),
    /// A key given by alias or id, and no region to find it in.
    #[error("no AWS region for the KMS key given (it is not an ARN, and AWS_REGION is not set)")]
    NoRegion,
    /// The key ARN or the wrapped file is unusable.
    #[error("{0}")]
    Wrapped(#[from] WrappedError),
    /// KMS returned an identity that is not the one the file names.
    #[error("the unwrapped identity does not match the file's public key {recipient}")]
    IdentityMismatch {
        /// The recipient the file claims.
        recipient: String,
    },
    /// Anything else KMS said.
    #[error("AWS KMS error {code}: {message}")]
    Other {
        /// Error code.
        code: String,
        /// Message.
        message: String,
    },
}

impl KmsError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            KmsError::AccessDenied { .. } => {
                "grant kms:Encrypt/kms:Decrypt on this key to your role (IAM policy and key policy), or use the right AWS profile"
            }
            KmsError::WrongContext { .. } => {
                "this file was wrapped for another key or purpose; use the identity file made for this key"
            }
            KmsError::KeyDisabled { .. } => "enable the key (aws kms enable-key) or cancel its deletion",
            KmsError::KeyNotFound { .. } => "check the key ARN, its account and region",
            KmsError::Unreachable { .. } => {
                "check the network path to that endpoint (VPC endpoint, proxy, firewall) or AWS_ENDPOINT_URL_KMS"
            }
            KmsError::NoRegion => {
                "pass the key's full ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), or set AWS_REGION for alias/NAME"
            }
            KmsError::Credentials(_) => {
                "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with an IAM role (IRSA in a cluster)"
            }
            KmsError::Wrapped(WrappedError::UnexpectedContext { .. }) => {
                "use an identity wrapped for this purpose (ageseal keygen --kms-key for -i; the controller makes its own keys)"
            }
            KmsError::Wrapped(_) => {
                "pass a key ARN like arn:aws:kms:REGION:ACCOUNT:key/ID and an intact wrapped file"
            }
            KmsError::IdentityMismatch { .. } => "the file was altered: restore it from backup",
            KmsError::Other { .. } => "see the AWS KMS documentation for this error code",
        }
    }
}

/// What ageseal needs from KMS.
pub trait Kms: Send + Sync {
    /// `Encrypt` under `key` (an ARN, `alias/NAME` or a key id) with `context`; gives the
    /// ciphertext and the ARN of the key KMS used.
    fn encrypt(
        &self,
        key: &str,
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(Vec<u8>, String), KmsError>> + Send;

    /// `Decrypt` of `ciphertext`, which must have been made under `key` with `context`.
    fn decrypt(
        &self,
        key: &str,
        ciphertext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Zeroizing<Vec<u8>>, KmsError>> + Send;
}

/// Wraps `identity` under `key_arn` with `context`.
pub async fn wrap_identity<K: Kms>(
    kms: &K,
    key_arn: &str,
    identity: &Identity,
    context: BTreeMap<String, String>,
) -> Result<WrappedIdentity, KmsError> {
    let secret = identity.to_secret_string();
    let (ciphertext, key_arn) = kms.encrypt(key_arn, secret.as_bytes(), &context).await?;
    // The file names the key fully, so unwrapping needs no region from the environment.
    arn_region(&key_arn)?;
    Ok(WrappedIdentity {
        key_arn,
        recipient: identity.recipient().clone(),
        context,
        ciphertext,
    })
}

/// Unwraps a wrapped identity in memory and checks it is the one the file names. The file's
/// encryption context must be exactly that of an identity used for `purpose` (with `extra`
/// pairs), or KMS is not even asked.
pub async fn unwrap_identity<K: Kms>(
    kms: &K,
    wrapped: &WrappedIdentity,
    purpose: &str,
    extra: &[(&str, &str)],
) -> Result<Identity, KmsError> {
    wrapped.check_context(purpose, extra)?;
    let plain = kms
        .decrypt(&wrapped.key_arn, &wrapped.ciphertext, &wrapped.context)
        .await?;
    let mismatch = || KmsError::IdentityMismatch {
        recipient: wrapped.recipient.to_string(),
    };
    let text = std::str::from_utf8(&plain).map_err(|_| mismatch())?;
    let identity = parse_identity_file(text).map_err(|_| mismatch())?.remove(0);
    if identity.recipient() != &wrapped.recipient {
        return Err(mismatch());
    }
    Ok(identity)
}

/// AWS KMS through the SDK: region from the key ARN, credentials and endpoint from the standard
/// chain and variables (`AWS_PROFILE`, `AWS_ENDPOINT_URL_KMS`, IRSA, instance roles).
#[derive(Debug, Default)]
pub struct AwsKms {
    clients: Mutex<HashMap<String, (aws_sdk_kms::Client, String)>>,
    endpoint: Option<String>,
    static_credentials: Option<(String, String)>,
}

impl AwsKms {
    /// A client factory; SDK clients are made per region on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends every call to `endpoint` (as `AWS_ENDPOINT_URL_KMS` does) with fixed credentials:
    /// for tests against a local KMS-compatible server.
    pub fn with_local_endpoint(endpoint: &str, access_key: &str, secret_key: &str) -> Self {
        Self {
            endpoint: Some(endpoint.to_owned()),
            static_credentials: Some((access_key.to_owned(), secret_key.to_owned())),
            ..Self::default()
        }
    }

    /// The SDK client for a region (for administration in tests, e.g. creating keys).
    pub async fn sdk_client(&self, region: &str) -> aws_sdk_kms::Client {
        let arn = format!("arn:aws:kms:{region}:000000000000:key/any");
        self.client(&arn)
            .await
            .map(|(client, _)| client)
            .expect("the ARN above is well formed")
    }

    /// The SDK client for a key's region: from its ARN, else (`alias/NAME`, a key id) the
    /// standard chain (`AWS_REGION`, the profile, the instance), through the same HTTP client.
    async fn client(&self, key: &str) -> Result<(aws_sdk_kms::Client, String), KmsError> {
        let from_arn = if key.starts_with("arn:") {
            Some(arn_region(key)?.to_owned())
        } else {
            None
        };
        let cache_key = from_arn.clone().unwrap_or_default();
        if let Some(cached) = self.clients.lock().ok().and_then(|c| c.get(&cache_key).cloned()) {
            return Ok(cached);
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http);
        if let Some(region) = &from_arn {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some((id, secret)) = &self.static_credentials {
            let credentials = aws_sdk_kms::config::Credentials::new(id, secret, None, None, "ageseal-static");
            loader = loader.credentials_provider(credentials);
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or(KmsError::NoRegion)?;
        let client = (aws_sdk_kms::Client::new(&config), region);
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(cache_key, client.clone());
        }
        Ok(client)
    }
}

fn context_map(context: &BTreeMap<String, String>) -> HashMap<String, String> {
    context.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Where KMS calls for `region` go.
fn endpoint(region: &str, configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_KMS").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"))
}

/// A failed connection in a few words (connection refused, timed out, name not resolved...):
/// the transport libraries' own text is a debug dump.
pub fn describe_transport<E: std::error::Error + 'static>(err: &E) -> String {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(error) = source {
        text.push_str(&error.to_string().to_ascii_lowercase());
        text.push(' ');
        source = error.source();
    }
    let detail = [
        ("connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("timeout", "timed out"),
        ("dns error", "the host name does not resolve"),
        ("failed to lookup", "the host name does not resolve"),
        ("certificate", "TLS certificate not trusted"),
    ]
    .iter()
    .find(|(needle, _)| text.contains(needle))
    .map_or("the connection failed", |(_, said)| said);
    detail.to_owned()
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug + 'static>(
    err: &SdkError<E, R>,
    key: &str,
    region: &str,
    configured_endpoint: Option<&str>,
) -> KmsError {
    let key = key.to_owned();
    let context = aws_sdk_kms::error::DisplayErrorContext(err).to_string();
    match err {
        // Identity resolution fails inside dispatch: that is missing credentials, not the network.
        SdkError::DispatchFailure(_)
            if context.contains("CredentialsNotLoaded") || context.contains("no providers in chain") =>
        {
            KmsError::Credentials(
                "no credentials were found in the environment, profiles or instance role".to_owned(),
            )
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => KmsError::Unreachable {
            endpoint: endpoint(region, configured_endpoint),
            detail: describe_transport(err),
        },
        SdkError::ConstructionFailure(_) => {
            KmsError::Credentials(aws_sdk_kms::error::DisplayErrorContext(err).to_string())
        }
        _ => match err.code().unwrap_or_default() {
            "AccessDeniedException" => KmsError::AccessDenied { key },
            "InvalidCiphertextException" | "IncorrectKeyException" => KmsError::WrongContext { key },
            "DisabledException" | "KMSInvalidStateException" => KmsError::KeyDisabled { key },
            "NotFoundException" => KmsError::KeyNotFound { key },
            "UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" => {
                KmsError::Credentials(err.message().unwrap_or_default().to_owned())
            }
            code => KmsError::Other {
                code: code.to_owned(),
                message: err.message().unwrap_or_default().to_owned(),
            },
        },
    }
}

impl Kms for AwsKms {
    async fn encrypt(
        &self,
        key: &str,
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<(Vec<u8>, String), KmsError> {
        let (client, region) = self.client(key).await?;
        let out = client
            .encrypt()
            .key_id(key)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(|e| classify(&e, key, &region, self.endpoint.as_deref()))?;
        let ciphertext = out
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| KmsError::Other {
                code: "EmptyResponse".into(),
                message: "Encrypt returned no ciphertext".into(),
            })?;
        let used = out.key_id().unwrap_or(key).to_owned();
        Ok((ciphertext, used))
    }

    async fn decrypt(
        &self,
        key: &str,
        ciphertext: &[u8],
        context: &BTreeMap<String, String>,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let (client, region) = self.client(key).await?;
        let out = client
            .decrypt()
            .key_id(key)
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(|e| classify(&e, key, &region, self.endpoint.as_deref()))?;
        let plain = out.plaintext().map(|b| Zeroizing::new(b.as_ref().to_vec()));
        plain.ok_or_else(|| KmsError::Other {
            code: "EmptyResponse".into(),
            message: "Decrypt returned no plaintext".into(),
        })
    }
}
