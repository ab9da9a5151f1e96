//! The controller's connection to the API server: kube's client, over HTTP/2.
//!
//! kube builds HTTP/1.1 connections only, so every request in flight holds a TLS connection of
//! its own (up to `--concurrency` of them, plus one per watch), and each request and answer is a
//! write and reads on its connection. Over HTTP/2, as client-go talks to the API server, the
//! requests, answers and watches share one TLS connection, and a wake-up of the controller's
//! thread reads the answers of many requests at once. Cold sync of 2,000 SealedSecrets, the two
//! alternating: the controller's CPU was 0.114 to 0.118 of the API server's over HTTP/2 against
//! 0.123 to 0.134 over HTTP/1.1 (controller/benches/README.md). The protocol is agreed by TLS
//! (ALPN): an API server that does not offer HTTP/2 gets HTTP/1.1.
//!
//! Otherwise the stack is the one `kube::Client::try_from(Config)` builds: the same TLS settings
//! (rustls with ring, the kubeconfig's or the service account's CA and client certificates),
//! base URL, kube's retries of 429, 503 and 504, authentication (tokens, exec plugins), extra
//! headers (impersonation), and connect and write timeouts. A kubeconfig that names a proxy or a
//! TLS server name goes to kube's own client (HTTP/1.1) unchanged.
//!
//! With one connection carrying everything, a connection that died without a word (an API
//! server gone, a load balancer or NAT that dropped it) must be noticed: the controller pings
//! every [`PING_EVERY`] and closes a connection that does not answer within [`PING_ANSWER`]; the
//! watches and requests then start again on a new one.

use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt;
use kube::client::retry::RetryPolicy;
use kube::{Client, Config};
use tower::ServiceBuilder;
use tower::retry::RetryLayer;

/// How often the connection is pinged, busy or idle.
pub const PING_EVERY: Duration = Duration::from_secs(20);

/// How long a ping may go unanswered before the connection is closed.
pub const PING_ANSWER: Duration = Duration::from_secs(10);

/// A client for the API server the environment names (in-cluster service account, or
/// `KUBECONFIG`), as [`kube::Client::try_default`] finds it.
pub async fn connect() -> Result<Client, kube::Error> {
    let config = Config::infer().await.map_err(kube::Error::InferConfig)?;
    client(config)
}

/// A client for `config`, over HTTP/2 where the API server offers it.
fn client(config: Config) -> Result<Client, kube::Error> {
    if config.proxy_url.is_some() || config.tls_server_name.is_some() {
        return Client::try_from(config);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // HTTP/2 sends a request as frames (headers, then body) that may be written separately; with
    // Nagle's algorithm the second would wait for the API server's delayed ACK (about 40 ms,
    // seen as the apply-to-Secret latency going from 17 to 64 ms at the median).
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let hyper = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .http2_keep_alive_interval(PING_EVERY)
        .http2_keep_alive_timeout(PING_ANSWER)
        .http2_keep_alive_while_idle(true)
        .build(connector);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(hyper);
    Ok(Client::new(service, config.default_namespace))
}
