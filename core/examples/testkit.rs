//! Runs the community age test kit through ageseal's own age decryption path
//! ([`ageseal_core::decrypt`], the one `unseal` and the controller use):
//!
//! ```text
//! cargo run -p ageseal-core --example testkit -- core/tests/age-testkit
//! ```
//!
//! One line per vector (name, expected, result, ok or FAIL, or "skipped: why"), then
//! `N passed, N failed, N skipped`; exits 1 on any failure. The core test suite runs the same
//! code over the vectors copied into the repository.

use std::path::Path;
use std::process::ExitCode;

use ageseal_core::{Identity, Keyring, UnsealError, decrypt};
use sha2::{Digest, Sha256};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: testkit DIR (a folder of age test vectors, e.g. core/tests/age-testkit)");
        return ExitCode::from(2);
    };
    match run(Path::new(&dir)) {
        Ok(report) => {
            print!("{}", report.text);
            if report.failed == 0 && report.passed > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Names of the vectors that failed.
    pub failures: Vec<String>,
    /// Names of the vectors that passed.
    pub passes: Vec<String>,
    /// One line per vector and the summary line.
    pub text: String,
}

enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

/// Runs every vector file in `dir` (README files excepted), in name order.
pub fn run(dir: &Path) -> Result<Report, String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("README") && !name.starts_with('.'))
        .collect();
    names.sort();
    let mut report = Report::default();
    for name in names {
        let bytes = std::fs::read(dir.join(&name)).map_err(|e| format!("cannot read {name}: {e}"))?;
        let (expected, outcome) = match Vector::parse(&bytes) {
            Ok(vector) => (vector.expect.clone(), vector.check()),
            Err(why) => (String::from("?"), Outcome::Skip(why)),
        };
        let line = match outcome {
            Outcome::Pass(result) => {
                report.passed += 1;
                report.passes.push(name.clone());
                format!("{name:<44} {expected:<16} {result:<16} ok")
            }
            Outcome::Fail(result) => {
                report.failed += 1;
                report.failures.push(name.clone());
                format!("{name:<44} {expected:<16} {result:<16} FAIL")
            }
            Outcome::Skip(why) => {
                report.skipped += 1;
                format!("{name:<44} {expected:<16} skipped: {why}")
            }
        };
        report.text.push_str(&line);
        report.text.push('\n');
    }
    report.text.push_str(&format!(
        "{} passed, {} failed, {} skipped\n",
        report.passed, report.failed, report.skipped
    ));
    Ok(report)
}

struct Vector {
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    passphrases: usize,
    armored: bool,
    age_file: Vec<u8>,
}

impl Vector {
    fn parse(bytes: &[u8]) -> Result<Self, String> {
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or("no blank line after the header")?;
        let header = std::str::from_utf8(&bytes[..split]).map_err(|_| "header is not UTF-8")?;
        let mut body = bytes[split + 2..].to_vec();
        let mut vector = Vector {
            expect: String::new(),
            payload: None,
            identities: Vec::new(),
            passphrases: 0,
            armored: false,
            age_file: Vec::new(),
        };
        let mut compressed = false;
        for line in header.lines() {
            let (key, value) = line.split_once(": ").ok_or("header line without \": \"")?;
            match key {
                "expect" => vector.expect = value.to_owned(),
                "payload" => vector.payload = Some(value.to_owned()),
                "identity" => vector.identities.push(value.to_owned()),
                "passphrase" => vector.passphrases += 1,
                "armored" => vector.armored = value == "yes",
                "compressed" if value == "zlib" => compressed = true,
                "file key" | "comment" => {}
                other => {
                    return Err(format!(
                        "unknown header key {other:?}: the kit says to ignore the file"
                    ));
                }
            }
        }
        if compressed {
            body = miniz_oxide::inflate::decompress_to_vec_zlib(&body).map_err(|_| "zlib body is damaged")?;
        }
        vector.age_file = body;
        Ok(vector)
    }

    fn check(&self) -> Outcome {
        if self.armored {
            return Outcome::Skip(
                "ASCII armor: encryptedData holds binary age files in base64, never armor".into(),
            );
        }
        if self.identities.is_empty() && self.passphrases > 0 {
            return Outcome::Skip(format!(
                "passphrase (scrypt) only, {} passphrase(s): ageseal has no passphrase recipients",
                self.passphrases
            ));
        }
        let identities = match self
            .identities
            .iter()
            .map(|i| Identity::parse(i))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(identities) => identities,
            Err(e) => return Outcome::Fail(format!("identity refused: {e}")),
        };
        let keyring = Keyring::new(identities);
        let result = match decrypt(&self.age_file, &keyring, &[]) {
            Ok((plaintext, _)) => {
                let digest: String = Sha256::digest(plaintext.as_slice())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if self.payload.as_ref().is_some_and(|want| *want != digest) {
                    return Outcome::Fail("success, but the payload hash differs".into());
                }
                "success".to_owned()
            }
            Err(UnsealError::TooLarge { actual, limit }) if self.expect == "success" => {
                return Outcome::Skip(format!(
                    "{actual} bytes, over ageseal's bound of {limit} for one sealed value (1 MiB \
                     Secret values): refused as TooLarge before decryption, by design"
                ));
            }
            Err(e) => match e.age_failure() {
                Some(stage) => stage.to_owned(),
                None => format!("refused: {}", e.code()),
            },
        };
        if result == self.expect {
            Outcome::Pass(result)
        } else {
            Outcome::Fail(result)
        }
    }
}
