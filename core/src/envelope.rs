//! The envelope: the versioned plaintext age encrypts, binding a value to where it may be used.
//!
//! age has no associated data, so the binding travels inside the ciphertext. Layout (see
//! docs/FORMAT.md):
//!
//! ```text
//! ageseal/v1\n
//! scope: strict\n
//! namespace: payments\n      (absent for cluster-wide)
//! name: db\n                 (strict only)
//! key: password\n
//! \n
//! <value bytes>
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::limits::{MAX_VALUE_BYTES, MAX_VERSION_DIGITS};

const MAGIC: &str = "ageseal/v";
/// The envelope format version this build writes and reads.
pub const VERSION: u32 = 1;

/// How widely a sealed value may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Only under the same namespace, SealedSecret name and key.
    #[default]
    Strict,
    /// Under any SealedSecret name in the same namespace, same key.
    NamespaceWide,
    /// Anywhere in the cluster, same key.
    ClusterWide,
}

impl Scope {
    /// The spelling used in the envelope, the `ageseal.io/scope` annotation and `--scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = BindingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "strict" => Ok(Scope::Strict),
            "namespace-wide" => Ok(Scope::NamespaceWide),
            "cluster-wide" => Ok(Scope::ClusterWide),
            _ => Err(BindingError::UnknownScope),
        }
    }
}

/// Why a namespace, name, key or scope is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindingError {
    /// Not a DNS-1123 label (lowercase alphanumerics and '-', at most 63).
    #[error(
        "namespace {0:?} is not a valid Kubernetes namespace (lowercase letters, digits and '-', at most 63)"
    )]
    InvalidNamespace(String),
    /// Not a DNS-1123 subdomain.
    #[error(
        "name {0:?} is not a valid Kubernetes object name (lowercase letters, digits, '-' and '.', at most 253)"
    )]
    InvalidName(String),
    /// Not a valid Secret data key.
    #[error("key {0:?} is not a valid Secret key (letters, digits, '-', '_' and '.', at most 253)")]
    InvalidKey(String),
    /// Not one of the three scopes.
    #[error("unknown scope (expected strict, namespace-wide or cluster-wide)")]
    UnknownScope,
}

/// Where a sealed value sits: its SealedSecret's namespace and name and its `encryptedData` key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The SealedSecret's namespace.
    pub namespace: String,
    /// The SealedSecret's name.
    pub name: String,
    /// The `encryptedData` key.
    pub key: String,
}

impl Location {
    /// A location from its parts, unchecked (checking happens when a binding is built or matched).
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} key {}", self.namespace, self.name, self.key)
    }
}

/// What a value is bound to: the scope and the parts of a location that scope pins.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Binding {
    scope: Scope,
    namespace: Option<String>,
    name: Option<String>,
    key: String,
}

impl Binding {
    /// The binding of `scope` for a value at `location`; fields the scope does not pin are dropped.
    pub fn new(scope: Scope, location: &Location) -> Result<Self, BindingError> {
        let namespace = (scope != Scope::ClusterWide).then(|| location.namespace.clone());
        let name = (scope == Scope::Strict).then(|| location.name.clone());
        Self::from_parts(scope, namespace, name, location.key.clone())
    }

    fn from_parts(
        scope: Scope,
        namespace: Option<String>,
        name: Option<String>,
        key: String,
    ) -> Result<Self, BindingError> {
        if let Some(ns) = namespace.as_ref().filter(|ns| !is_dns_label(ns)) {
            return Err(BindingError::InvalidNamespace(ns.clone()));
        }
        if let Some(name) = name.as_ref().filter(|name| !is_dns_subdomain(name)) {
            return Err(BindingError::InvalidName(name.clone()));
        }
        if !is_secret_key(&key) {
            return Err(BindingError::InvalidKey(key));
        }
        Ok(Self {
            scope,
            namespace,
            name,
            key,
        })
    }

    /// The scope sealed into the value; this, not any annotation, decides where it may be used.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The bound key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The bound namespace, unless cluster-wide.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The bound name, strict scope only.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// True when a value with this binding may be used at `location`.
    pub fn admits(&self, location: &Location) -> bool {
        let namespace_ok = self
            .namespace
            .as_deref()
            .is_none_or(|ns| ns == location.namespace);
        let name_ok = self.name.as_deref().is_none_or(|name| name == location.name);
        namespace_ok && name_ok && self.key == location.key
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.scope)?;
        if let Some(ns) = &self.namespace {
            write!(f, " namespace {ns}")?;
        }
        if let Some(name) = &self.name {
            write!(f, " name {name}")?;
        }
        write!(f, " key {}", self.key)
    }
}

/// Why decrypted bytes are not a valid envelope. Never carries the bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// A later format version this build does not read.
    #[error("envelope format version {0} is not supported by this ageseal (it reads version 1)")]
    UnsupportedVersion(u32),
    /// The bytes are not an ageseal envelope, or not in canonical form.
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The value is over the size limit.
    #[error("value is {0} bytes; the limit is 1 MiB")]
    TooLarge(usize),
}

/// Builds the envelope for `value` under `binding`.
pub fn encode(binding: &Binding, value: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut header = format!("{MAGIC}{VERSION}\nscope: {}\n", binding.scope);
    if let Some(ns) = &binding.namespace {
        header.push_str(&format!("namespace: {ns}\n"));
    }
    if let Some(name) = &binding.name {
        header.push_str(&format!("name: {name}\n"));
    }
    header.push_str(&format!("key: {}\n\n", binding.key));
    let mut out = Zeroizing::new(Vec::with_capacity(header.len() + value.len()));
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(value);
    out
}

/// Parses an envelope strictly: fixed field order, no extra or missing field, canonical values.
/// On success the header is removed in place and `plaintext` holds only the value.
pub fn decode(plaintext: &mut Zeroizing<Vec<u8>>) -> Result<Binding, EnvelopeError> {
    let mut lines = HeaderLines {
        bytes: plaintext.as_slice(),
        pos: 0,
    };
    let version_line = lines.next_line()?;
    let version = parse_version(version_line)?;
    if version != VERSION {
        return Err(EnvelopeError::UnsupportedVersion(version));
    }
    let scope = lines
        .field("scope")?
        .parse::<Scope>()
        .map_err(|_| EnvelopeError::Malformed("unknown scope"))?;
    let namespace = match scope {
        Scope::ClusterWide => None,
        _ => Some(lines.field("namespace")?.to_owned()),
    };
    let name = match scope {
        Scope::Strict => Some(lines.field("name")?.to_owned()),
        _ => None,
    };
    let key = lines.field("key")?.to_owned();
    if !lines.next_line()?.is_empty() {
        return Err(EnvelopeError::Malformed("unexpected field after key"));
    }
    let header_len = lines.pos;
    let binding = Binding::from_parts(scope, namespace, name, key)
        .map_err(|_| EnvelopeError::Malformed("binding field is not canonical"))?;
    let value_len = plaintext.len() - header_len;
    if value_len > MAX_VALUE_BYTES {
        return Err(EnvelopeError::TooLarge(value_len));
    }
    plaintext.drain(..header_len);
    Ok(binding)
}

fn parse_version(line: &str) -> Result<u32, EnvelopeError> {
    let digits = line
        .strip_prefix(MAGIC)
        .ok_or(EnvelopeError::Malformed("not an ageseal envelope"))?;
    let canonical = !digits.is_empty()
        && digits.len() <= MAX_VERSION_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !canonical {
        return Err(EnvelopeError::Malformed("version is not a canonical number"));
    }
    digits
        .parse()
        .map_err(|_| EnvelopeError::Malformed("version is not a canonical number"))
}

/// Reads `\n`-terminated ASCII header lines without ever looking past the header.
struct HeaderLines<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> HeaderLines<'a> {
    /// Longest header line: "namespace: " or "name: " plus a 253-byte name.
    const MAX_LINE: usize = 300;

    fn next_line(&mut self) -> Result<&'a str, EnvelopeError> {
        let rest = &self.bytes[self.pos..];
        let window = &rest[..rest.len().min(Self::MAX_LINE + 1)];
        let end = window
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(EnvelopeError::Malformed("header line missing or too long"))?;
        let line = &window[..end];
        if !line.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return Err(EnvelopeError::Malformed("header holds a non-printable byte"));
        }
        self.pos += end + 1;
        std::str::from_utf8(line).map_err(|_| EnvelopeError::Malformed("header is not ASCII"))
    }

    fn field(&mut self, name: &'static str) -> Result<&'a str, EnvelopeError> {
        let line = self.next_line()?;
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(": "))
            .ok_or(EnvelopeError::Malformed("header field missing or out of order"))
    }
}

/// DNS-1123 label: a Kubernetes namespace.
pub fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// DNS-1123 subdomain: most Kubernetes object names.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A Secret `data` key: `[-._a-zA-Z0-9]+`, at most 253, not `.` or `..`.
pub fn is_secret_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Binding {
        Binding::new(Scope::Strict, &Location::new("payments", "db", "password")).expect("valid")
    }

    #[test]
    fn encodes_the_documented_layout() {
        let envelope = encode(&strict(), b"hunter2");
        assert_eq!(
            envelope.as_slice(),
            b"ageseal/v1\nscope: strict\nnamespace: payments\nname: db\nkey: password\n\nhunter2"
        );
    }

    #[test]
    fn decode_inverts_encode_for_every_scope() {
        let location = Location::new("payments", "db", "tls.crt");
        for scope in [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide] {
            let binding = Binding::new(scope, &location).expect("valid");
            let mut plain = encode(&binding, b"\x00\nvalue\n");
            assert_eq!(decode(&mut plain), Ok(binding));
            assert_eq!(plain.as_slice(), b"\x00\nvalue\n");
        }
    }

    #[test]
    fn rejects_non_canonical_headers() {
        let cases: &[(&[u8], EnvelopeError)] = &[
            (
                b"hunter2",
                EnvelopeError::Malformed("header line missing or too long"),
            ),
            (b"password\n", EnvelopeError::Malformed("not an ageseal envelope")),
            (b"ageseal/v2\n", EnvelopeError::UnsupportedVersion(2)),
            (
                b"ageseal/v01\n",
                EnvelopeError::Malformed("version is not a canonical number"),
            ),
            (
                b"ageseal/v1\nscope: wide\nkey: k\n\n",
                EnvelopeError::Malformed("unknown scope"),
            ),
            (
                b"ageseal/v1\nscope: cluster-wide\nnamespace: a\nkey: k\n\n",
                EnvelopeError::Malformed("header field missing or out of order"),
            ),
            (
                b"ageseal/v1\nscope: cluster-wide\nkey: k\nextra: 1\n",
                EnvelopeError::Malformed("unexpected field after key"),
            ),
            (
                b"ageseal/v1\nscope: cluster-wide\nkey:  k\n\n",
                EnvelopeError::Malformed("binding field is not canonical"),
            ),
            (
                b"ageseal/v1\nscope: cluster-wide\nkey: k\r\n\n",
                EnvelopeError::Malformed("header holds a non-printable byte"),
            ),
            (
                b"ageseal/v1\nscope: strict\n",
                EnvelopeError::Malformed("header line missing or too long"),
            ),
        ];
        for (bytes, expected) in cases {
            let mut plain = Zeroizing::new(bytes.to_vec());
            assert_eq!(decode(&mut plain).as_ref(), Err(expected), "input {bytes:?}");
        }
    }

    #[test]
    fn binding_admits_only_what_its_scope_pins() {
        let here = Location::new("payments", "db", "password");
        let other_name = Location::new("payments", "cache", "password");
        let other_ns = Location::new("billing", "db", "password");
        let other_key = Location::new("payments", "db", "user");
        let strict = strict();
        assert!(strict.admits(&here));
        assert!(!strict.admits(&other_name) && !strict.admits(&other_ns) && !strict.admits(&other_key));
        let ns_wide = Binding::new(Scope::NamespaceWide, &here).expect("valid");
        assert!(ns_wide.admits(&other_name));
        assert!(!ns_wide.admits(&other_ns) && !ns_wide.admits(&other_key));
        let cluster = Binding::new(Scope::ClusterWide, &here).expect("valid");
        assert!(cluster.admits(&other_ns) && cluster.admits(&other_name));
        assert!(!cluster.admits(&other_key));
    }

    #[test]
    fn rejects_invalid_names() {
        let bad = [
            Location::new("Payments", "db", "k"),
            Location::new("payments", "db_1", "k"),
            Location::new("payments", "db", "a/b"),
            Location::new("payments", "db", ".."),
            Location::new("-ns", "db", "k"),
        ];
        for location in bad {
            assert!(Binding::new(Scope::Strict, &location).is_err(), "{location}");
        }
        assert!(Binding::new(Scope::Strict, &Location::new("a", "b.c-d", "K_e.f-1")).is_ok());
    }
}
