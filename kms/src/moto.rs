//! A moto_server (Python's moto: a KMS-compatible HTTP endpoint) on a free loopback port, for
//! tests of this crate and of the CLI and controller (feature `moto`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::AwsKms;

/// Test credentials moto accepts.
pub const ACCESS_KEY: &str = "testing";
/// Test credentials moto accepts.
pub const SECRET_KEY: &str = "testing";

/// A moto_server on 127.0.0.1, stopped on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    /// Starts moto_server and waits until it accepts connections.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is installed (scripts/test.sh installs Python's moto)");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// A client for this server with the test credentials.
    pub fn kms(&self) -> AwsKms {
        AwsKms::with_local_endpoint(&self.endpoint, ACCESS_KEY, SECRET_KEY)
    }

    /// Creates a symmetric key in `region` and returns its ARN.
    pub async fn create_key(&self, region: &str) -> String {
        let client = self.kms().sdk_client(region).await;
        let key = client
            .create_key()
            .description("ageseal test")
            .send()
            .await
            .expect("moto creates a key");
        key.key_metadata()
            .and_then(|m| m.arn())
            .expect("moto returns an ARN")
            .to_owned()
    }

    /// Environment for a child process (the CLI, the controller) to use this server through
    /// the standard AWS variables, with no profile files and no instance metadata.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_KMS", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        ]
    }
}
