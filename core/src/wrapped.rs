//! The KMS-wrapped identity file: an age identity encrypted by AWS KMS `Encrypt` under an
//! encryption context, stored with its public recipient and the key ARN (docs/FORMAT.md).
//!
//! ```text
//! # ageseal KMS-wrapped age identity: only AWS KMS Decrypt with the key below opens it.
//! # public key: age1...
//! ageseal-kms-identity/v1
//! kms-key: arn:aws:kms:us-east-1:111122223333:key/...
//! recipient: age1...
//! context: purpose=ageseal-identity
//! context: recipient=age1...
//! ciphertext: <standard base64 of the KMS CiphertextBlob>
//! ```

use std::collections::BTreeMap;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use crate::keys::Recipient;

/// The format line that marks a wrapped identity file.
pub const HEADER: &str = "ageseal-kms-identity/v1";
/// Encryption-context `purpose` of identities made by `ageseal keygen --kms-key`.
pub const PURPOSE_IDENTITY: &str = "ageseal-identity";
/// Encryption-context `purpose` of controller keys made with `--kms-key-id`.
pub const PURPOSE_CONTROLLER: &str = "ageseal-controller-key";

/// Why a wrapped identity file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WrappedError {
    /// Not in the documented layout.
    #[error("malformed KMS-wrapped identity: {0}")]
    Malformed(&'static str),
    /// The encryption context is not exactly the one an identity of this purpose has.
    #[error(
        "the file's KMS encryption context is not that of a {purpose} identity for its own public key (purpose={purpose}, recipient=<its public key>{extra}); refused before asking KMS"
    )]
    UnexpectedContext {
        /// The purpose the caller needs.
        purpose: String,
        /// The other pairs required, as `, key=value` text.
        extra: String,
    },
    /// The key is not a KMS key ARN (the region is read from it).
    #[error(
        "the KMS key is not a valid ARN (arn:aws:kms:REGION:ACCOUNT:key/ID or arn:aws:kms:REGION:ACCOUNT:alias/NAME; alias/NAME works with AWS_REGION set)"
    )]
    NotAnArn,
}

/// A parsed wrapped identity. Holds no secret: the private key is KMS ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedIdentity {
    /// ARN of the KMS key that wrapped it.
    pub key_arn: String,
    /// The identity's public recipient.
    pub recipient: Recipient,
    /// The KMS encryption context (never secret data).
    pub context: BTreeMap<String, String>,
    /// The KMS ciphertext of the `AGE-SECRET-KEY-1...` string.
    pub ciphertext: Vec<u8>,
}

/// The AWS region in a KMS key ARN.
pub fn arn_region(arn: &str) -> Result<&str, WrappedError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "kms", region, account, resource]
            if !partition.is_empty()
                && !region.is_empty()
                && !account.is_empty()
                && (resource.starts_with("key/") || resource.starts_with("alias/")) =>
        {
            Ok(region)
        }
        _ => Err(WrappedError::NotAnArn),
    }
}

/// The encryption context for an identity with this purpose and recipient, plus extra pairs
/// (e.g. the ageseal region). Public data only.
pub fn context_for(purpose: &str, recipient: &Recipient, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut context = BTreeMap::from([
        ("purpose".to_owned(), purpose.to_owned()),
        ("recipient".to_owned(), recipient.to_string()),
    ]);
    context.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    context
}

/// True when the text is a wrapped identity file (its first line that is not a comment is the header).
pub fn is_wrapped(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| line == HEADER)
}

impl WrappedIdentity {
    /// Accepts the file only if its encryption context is exactly what an identity used for
    /// `purpose` has: `purpose`, `recipient` = its own public key, and `extra` (e.g. the
    /// controller's region). A file wrapped for another purpose is never unwrapped for this one.
    pub fn check_context(&self, purpose: &str, extra: &[(&str, &str)]) -> Result<(), WrappedError> {
        if self.context == context_for(purpose, &self.recipient, extra) {
            return Ok(());
        }
        Err(WrappedError::UnexpectedContext {
            purpose: purpose.to_owned(),
            extra: extra.iter().map(|(k, v)| format!(", {k}={v}")).collect(),
        })
    }

    /// The region the KMS client must use.
    pub fn region(&self) -> Result<&str, WrappedError> {
        arn_region(&self.key_arn)
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "# ageseal KMS-wrapped age identity: only AWS KMS Decrypt with the key below opens it.\n# public key: {}\n{HEADER}\nkms-key: {}\nrecipient: {}\n",
            self.recipient, self.key_arn, self.recipient
        );
        for (key, value) in &self.context {
            text.push_str(&format!("context: {key}={value}\n"));
        }
        text.push_str(&format!(
            "ciphertext: {}\n",
            BASE64_STANDARD.encode(&self.ciphertext)
        ));
        text
    }

    /// Parses the file's text strictly.
    pub fn parse(text: &str) -> Result<Self, WrappedError> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        if lines.next() != Some(HEADER) {
            return Err(WrappedError::Malformed(
                "first line is not ageseal-kms-identity/v1",
            ));
        }
        let key_arn = take(&mut lines, "kms-key", "kms-key line missing")?.to_owned();
        arn_region(&key_arn)?;
        let recipient = take(&mut lines, "recipient", "recipient line missing")?
            .parse()
            .map_err(|_| WrappedError::Malformed("recipient is not an age1... key"))?;
        let mut context = BTreeMap::new();
        let ciphertext = loop {
            let line = lines
                .next()
                .ok_or(WrappedError::Malformed("ciphertext line missing"))?;
            if let Some(pair) = line.strip_prefix("context: ") {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or(WrappedError::Malformed("context is not key=value"))?;
                context.insert(k.to_owned(), v.to_owned());
            } else if let Some(b64) = line.strip_prefix("ciphertext: ") {
                break BASE64_STANDARD
                    .decode(b64)
                    .map_err(|_| WrappedError::Malformed("ciphertext is not base64"))?;
            } else {
                return Err(WrappedError::Malformed("unexpected line"));
            }
        };
        if context.is_empty() || lines.next().is_some() {
            return Err(WrappedError::Malformed(
                "no context lines, or lines after the ciphertext",
            ));
        }
        Ok(Self {
            key_arn,
            recipient,
            context,
            ciphertext,
        })
    }
}

fn take<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
    name: &'static str,
    why: &'static str,
) -> Result<&'a str, WrappedError> {
    lines
        .next()
        .and_then(|l| l.strip_prefix(name))
        .and_then(|l| l.strip_prefix(": "))
        .ok_or(WrappedError::Malformed(why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Identity;

    const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn sample() -> WrappedIdentity {
        let recipient = Identity::generate().recipient().clone();
        WrappedIdentity {
            key_arn: ARN.to_owned(),
            context: context_for(PURPOSE_IDENTITY, &recipient, &[("region", "us-east-1")]),
            recipient,
            ciphertext: vec![1, 2, 3, 250],
        }
    }

    #[test]
    fn round_trips_and_is_recognised() {
        let wrapped = sample();
        let text = wrapped.to_text();
        assert!(is_wrapped(&text));
        assert!(!is_wrapped("# created\nAGE-SECRET-KEY-1XYZ\n"));
        assert_eq!(WrappedIdentity::parse(&text), Ok(wrapped.clone()));
        assert_eq!(wrapped.region(), Ok("eu-west-1"));
    }

    #[test]
    fn only_the_exact_context_of_a_purpose_is_accepted() {
        let wrapped = sample();
        assert_eq!(
            wrapped.check_context(PURPOSE_IDENTITY, &[("region", "us-east-1")]),
            Ok(())
        );
        for (purpose, extra) in [
            (PURPOSE_IDENTITY, &[][..]),
            (PURPOSE_CONTROLLER, &[("region", "us-east-1")][..]),
            (PURPOSE_IDENTITY, &[("region", "us-west-2")][..]),
        ] {
            assert!(
                wrapped.check_context(purpose, extra).is_err(),
                "{purpose} {extra:?}"
            );
        }
        let mut other = wrapped.clone();
        other
            .context
            .insert("recipient".into(), Identity::generate().recipient().to_string());
        assert!(
            other
                .check_context(PURPOSE_IDENTITY, &[("region", "us-east-1")])
                .is_err()
        );
    }

    #[test]
    fn rejects_damaged_files_and_non_arns() {
        let text = sample().to_text();
        let cases = [
            text.replace("kms-key: ", "kms-key:"),
            text.replace(ARN, "1234abcd"),
            text.replace("ciphertext: ", "ciphertext: !!"),
            text.replace("context: purpose=ageseal-identity\n", "contex: x\n"),
            text.clone() + "extra: 1\n",
            text.lines()
                .filter(|l| !l.starts_with("ciphertext"))
                .collect::<Vec<_>>()
                .join("\n"),
        ];
        for case in cases {
            assert!(WrappedIdentity::parse(&case).is_err(), "{case}");
        }
        assert_eq!(
            arn_region("arn:aws:kms:us-west-2:1:alias/ageseal"),
            Ok("us-west-2")
        );
        assert!(arn_region("arn:aws:s3:us-west-2:1:key/x").is_err());
    }
}
