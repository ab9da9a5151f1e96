//! age identities and recipients (X25519, and hybrid post-quantum `mlkem768x25519` from
//! [`crate::pq`]), their short fingerprints, and the keyring that opens values.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::primitives::bech32_decode;
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, Zeroizing};

use crate::age_v1::{chacha_open, hkdf_sha256};
use crate::pq::{HybridPublic, HybridSecret};
use crate::x25519::{X25519Public, X25519Secret};

const SECRET_KEY_HRP: &str = "AGE-SECRET-KEY-";
/// The stanza tag of X25519 recipients.
pub const X25519_TAG: &str = "X25519";
pub(crate) const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const EPHEMERAL_SHARE_B64_LEN: usize = 43;
const WRAPPED_FILE_KEY_LEN: usize = FILE_KEY_BYTES + 16;

/// Why a key string could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not an `age1...` X25519 or `age1pq1...` hybrid recipient.
    #[error(
        "not an age recipient (expected age1 followed by 58 characters, or a hybrid post-quantum age1pq1...)"
    )]
    MalformedRecipient,
    /// An X25519 key (alone or inside a hybrid key) that is a point of small order: anyone could
    /// open what is sealed to it.
    #[error(
        "not a usable age recipient: its X25519 key is a low-order point (what is sealed to it could be opened by anyone)"
    )]
    LowOrderRecipient,
    /// Not an `AGE-SECRET-KEY-1...` or `AGE-SECRET-KEY-PQ-1...` identity. The offending text is
    /// never included.
    #[error("not an age identity (expected a line starting with AGE-SECRET-KEY-1 or AGE-SECRET-KEY-PQ-1)")]
    MalformedIdentity,
    /// An identity file held no identity.
    #[error("the identity file holds no AGE-SECRET-KEY-1 or AGE-SECRET-KEY-PQ-1 line")]
    NoIdentityInFile,
    /// A recipient fingerprint is not 16 lowercase hex digits.
    #[error("not a recipient id (expected 16 lowercase hex digits)")]
    MalformedRecipientId,
}

/// Short, public fingerprint of a recipient: the first 8 bytes of SHA-256 over its key bytes (32
/// for X25519, 1,216 for a hybrid key).
///
/// It only names a recipient in the `spec.recipients` hint; it is never trusted for security.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecipientId([u8; 8]);

impl RecipientId {
    fn of(key: &[u8]) -> Self {
        let digest = Sha256::digest(key);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self(id)
    }
}

impl fmt::Display for RecipientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for RecipientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecipientId({self})")
    }
}

impl FromStr for RecipientId {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return Err(KeyError::MalformedRecipientId);
        }
        let mut id = [0u8; 8];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| KeyError::MalformedRecipientId)?;
        }
        Ok(Self(id))
    }
}

/// A public age recipient: X25519 (`age1...`) or hybrid post-quantum (`age1pq1...`).
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient {
    kind: PublicKind,
    id: RecipientId,
}

#[derive(Clone, PartialEq, Eq)]
enum PublicKind {
    X25519(X25519Public),
    Hybrid(Box<HybridPublic>),
}

impl Recipient {
    fn from_public(public: X25519Public) -> Self {
        Self {
            id: RecipientId::of(public.as_bytes()),
            kind: PublicKind::X25519(public),
        }
    }

    fn from_hybrid(public: HybridPublic) -> Self {
        Self {
            id: RecipientId::of(&public.to_bytes_vec()),
            kind: PublicKind::Hybrid(Box::new(public)),
        }
    }

    /// The fingerprint recorded in `spec.recipients`.
    pub fn id(&self) -> RecipientId {
        self.id
    }

    /// True for a hybrid post-quantum (`age1pq1...`) recipient.
    pub fn is_hybrid(&self) -> bool {
        matches!(self.kind, PublicKind::Hybrid(_))
    }

    /// The X25519 key, or `None` for a hybrid recipient.
    pub(crate) fn x25519(&self) -> Option<&X25519Public> {
        match &self.kind {
            PublicKind::X25519(public) => Some(public),
            PublicKind::Hybrid(_) => None,
        }
    }

    pub(crate) fn as_age(&self) -> &dyn age::Recipient {
        match &self.kind {
            PublicKind::X25519(public) => public,
            PublicKind::Hybrid(hybrid) => hybrid.as_ref(),
        }
    }
}

impl FromStr for Recipient {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with(crate::pq::RECIPIENT_PREFIX) {
            return HybridPublic::parse(s).map(Self::from_hybrid);
        }
        let public = bech32_decode(
            s,
            |_| KeyError::MalformedRecipient,
            |hrp| {
                (hrp.as_str() == "age")
                    .then_some(())
                    .ok_or(KeyError::MalformedRecipient)
            },
            |_, bytes| {
                <[u8; 32]>::try_from(bytes.collect::<Vec<u8>>()).map_err(|_| KeyError::MalformedRecipient)
            },
        )?;
        X25519Public::new(public)
            .map(Self::from_public)
            .ok_or(KeyError::LowOrderRecipient)
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PublicKind::X25519(public) => public.fmt(f),
            PublicKind::Hybrid(hybrid) => f.write_str(&hybrid.encode()),
        }
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PublicKind::X25519(public) => write!(f, "Recipient({public})"),
            // 1,959 characters would drown any log line: the fingerprint names it.
            PublicKind::Hybrid(_) => write!(f, "Recipient(age1pq1... id {})", self.id),
        }
    }
}

/// A private age identity, X25519 or hybrid post-quantum, with its public half computed once.
///
/// The secret zeroizes on drop and never appears in `Debug` output.
#[derive(Clone)]
pub struct Identity {
    kind: SecretKind,
    recipient: Recipient,
}

#[derive(Clone)]
enum SecretKind {
    X25519(X25519Secret),
    Hybrid(Box<HybridSecret>),
}

impl Identity {
    /// A fresh X25519 identity from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_secret(StaticSecret::random_from_rng(rand::rngs::OsRng))
    }

    /// A fresh hybrid post-quantum identity (`age-keygen -pq`).
    pub fn generate_hybrid() -> Self {
        Self::from_hybrid(HybridSecret::generate())
    }

    fn from_secret(secret: StaticSecret) -> Self {
        let secret = X25519Secret::new(secret);
        Self {
            recipient: Recipient::from_public(secret.public().clone()),
            kind: SecretKind::X25519(secret),
        }
    }

    fn from_hybrid(secret: HybridSecret) -> Self {
        Self {
            recipient: Recipient::from_hybrid(secret.public().clone()),
            kind: SecretKind::Hybrid(Box::new(secret)),
        }
    }

    /// True for a hybrid post-quantum identity.
    pub fn is_hybrid(&self) -> bool {
        matches!(self.kind, SecretKind::Hybrid(_))
    }

    /// Parses one `AGE-SECRET-KEY-1...` or `AGE-SECRET-KEY-PQ-1...` line.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let prefix = crate::pq::IDENTITY_PREFIX;
        if s.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        {
            return HybridSecret::parse(s).map(Self::from_hybrid);
        }
        let bytes = bech32_decode(
            s,
            |_| KeyError::MalformedIdentity,
            |hrp| {
                (hrp.as_str().eq_ignore_ascii_case(SECRET_KEY_HRP))
                    .then_some(())
                    .ok_or(KeyError::MalformedIdentity)
            },
            |_, bytes| {
                let mut buf = Zeroizing::new(bytes.collect::<Vec<u8>>());
                let mut key = [0u8; 32];
                if buf.len() != key.len() {
                    return Err(KeyError::MalformedIdentity);
                }
                key.copy_from_slice(&buf);
                buf.zeroize();
                Ok(Zeroizing::new(key))
            },
        )?;
        Ok(Self::from_secret(StaticSecret::from(*bytes)))
    }

    /// The `AGE-SECRET-KEY-1...` (or `AGE-SECRET-KEY-PQ-1...`) string, for an identity file.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        let secret = match &self.kind {
            SecretKind::X25519(secret) => secret.to_bytes(),
            SecretKind::Hybrid(hybrid) => return hybrid.encode(),
        };
        let mut encoded = age_core::primitives::bech32_encode(
            bech32::Hrp::parse_unchecked(SECRET_KEY_HRP),
            secret.as_ref(),
        );
        let upper = Zeroizing::new(encoded.to_uppercase());
        encoded.zeroize();
        upper
    }

    /// The contents of an identity file in the age CLI's own layout (`age-keygen` output).
    pub fn to_identity_file(&self, created: &str) -> Zeroizing<String> {
        let secret = self.to_secret_string();
        Zeroizing::new(format!(
            "# created: {created}\n# public key: {}\n{}\n",
            self.recipient,
            secret.as_str()
        ))
    }

    /// The public recipient matching this identity.
    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    /// Unwraps one stanza of this identity's type, exactly as age does, but with the public key
    /// (and for hybrid keys the expanded private key) cached.
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        match &self.kind {
            SecretKind::X25519(secret) => unwrap_x25519(secret, stanza),
            SecretKind::Hybrid(hybrid) => hybrid.unwrap(stanza),
        }
    }
}

fn unwrap_x25519(secret: &X25519Secret, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
    if stanza.tag != X25519_TAG {
        return None;
    }
    let Some(share) = canonical_share(stanza) else {
        return Some(Err(age::DecryptError::InvalidHeader));
    };
    let Some(shared) = secret.diffie_hellman(&share) else {
        // A share of small order: the shared secret would be known to anyone.
        return Some(Err(age::DecryptError::InvalidHeader));
    };
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(&share);
    salt[32..].copy_from_slice(secret.public().as_bytes());
    let wrap_key = hkdf_sha256(&salt, X25519_LABEL, shared.as_ref());
    // A failure here only means "not this identity": stanzas are anonymous.
    let mut body = Zeroizing::new(stanza.body.clone());
    let plain = chacha_open(&wrap_key, [0; 12], &mut body)?;
    (plain.len() == FILE_KEY_BYTES).then(|| Ok(FileKey::init_with_mut(|key| key.copy_from_slice(plain))))
}

/// The ephemeral share of a canonical X25519 stanza (one unpadded base64 argument, 32-byte body).
fn canonical_share(stanza: &Stanza) -> Option<[u8; 32]> {
    let [arg] = stanza.args.as_slice() else {
        return None;
    };
    if arg.len() != EPHEMERAL_SHARE_B64_LEN || stanza.body.len() != WRAPPED_FILE_KEY_LEN {
        return None;
    }
    let decoded = BASE64_STANDARD_NO_PAD.decode(arg).ok()?;
    <[u8; 32]>::try_from(decoded).ok()
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("recipient", &self.recipient)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Parses an identity file: `#` comments and blank lines are skipped, every other line must be
/// an `AGE-SECRET-KEY-1...` or `AGE-SECRET-KEY-PQ-1...` identity (the layout `age-keygen`
/// writes).
pub fn parse_identity_file(text: &str) -> Result<Vec<Identity>, KeyError> {
    let identities = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(Identity::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if identities.is_empty() {
        return Err(KeyError::NoIdentityInFile);
    }
    Ok(identities)
}

/// Every identity a reader holds (a controller's active and retired keys, or a user's `-i` files).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    identities: Vec<Identity>,
}

impl Keyring {
    /// A keyring over these identities; duplicates are dropped so no stanza is tried twice.
    pub fn new(identities: impl IntoIterator<Item = Identity>) -> Self {
        let mut keyring = Self::default();
        keyring.extend(identities);
        keyring
    }

    /// Adds identities not already present.
    pub fn extend(&mut self, identities: impl IntoIterator<Item = Identity>) {
        for identity in identities {
            if self.by_id(identity.recipient.id).is_none() {
                self.identities.push(identity);
            }
        }
    }

    /// The identities, in the order they were added.
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }

    /// True when the keyring holds no identity.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    fn by_id(&self, id: RecipientId) -> Option<&Identity> {
        self.identities.iter().find(|i| i.recipient.id == id)
    }

    pub(crate) fn with_hint<'a>(&'a self, hint: &'a [Option<RecipientId>]) -> HintedKeyring<'a> {
        HintedKeyring {
            keyring: self,
            hint,
            opened_by: Cell::new(None),
        }
    }
}

/// A keyring paired with the `spec.recipients` hint for one value.
pub(crate) struct HintedKeyring<'a> {
    keyring: &'a Keyring,
    hint: &'a [Option<RecipientId>],
    opened_by: Cell<Option<RecipientId>>,
}

impl HintedKeyring<'_> {
    fn hinted(&self, index: usize) -> Option<&Identity> {
        self.hint
            .get(index)
            .copied()
            .flatten()
            .and_then(|id| self.keyring.by_id(id))
    }

    /// The identity whose stanza gave the file key, once decryption got that far.
    pub(crate) fn opened_by(&self) -> Option<RecipientId> {
        self.opened_by.get()
    }

    fn try_unwrap(&self, identity: &Identity, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        let result = identity.unwrap_stanza(stanza);
        if matches!(result, Some(Ok(_))) {
            self.opened_by.set(Some(identity.recipient.id));
        }
        result
    }
}

impl age::Identity for HintedKeyring<'_> {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        let mut identities = self.keyring.identities.iter();
        identities.find_map(|identity| self.try_unwrap(identity, stanza))
    }

    fn unwrap_stanzas(&self, stanzas: &[Stanza]) -> Option<Result<FileKey, age::DecryptError>> {
        // Fast path: the hint names the identity for a stanza, so one Diffie-Hellman suffices.
        let hinted = stanzas
            .iter()
            .enumerate()
            .filter_map(|(i, stanza)| self.hinted(i).map(|identity| (identity, stanza)))
            .find_map(|(identity, stanza)| self.try_unwrap(identity, stanza));
        if hinted.is_some() {
            return hinted;
        }
        // The hint is unauthenticated and may be stale or wrong: try every pair not tried yet.
        stanzas.iter().enumerate().find_map(|(i, stanza)| {
            let tried = self.hinted(i).map(|identity| identity.recipient.id);
            self.keyring
                .identities
                .iter()
                .filter(|identity| Some(identity.recipient.id) != tried)
                .find_map(|identity| self.try_unwrap(identity, stanza))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_through_its_secret_string() {
        let identity = Identity::generate();
        let parsed = Identity::parse(&identity.to_secret_string()).expect("parses");
        assert_eq!(parsed.recipient(), identity.recipient());
    }

    #[test]
    fn recipient_id_round_trips_and_rejects_junk() {
        let id = Identity::generate().recipient().id();
        assert_eq!(id.to_string().parse::<RecipientId>(), Ok(id));
        assert!("ABCDEF0123456789".parse::<RecipientId>().is_err());
        assert!("0123".parse::<RecipientId>().is_err());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let identity = Identity::generate();
        let secret = identity.to_secret_string();
        let debug = format!("{identity:?} {:?}", Keyring::new([identity.clone()]));
        assert!(!debug.contains(secret.as_str()));
        assert!(!debug.to_lowercase().contains(&secret.to_lowercase()));
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn identity_file_skips_comments_and_rejects_garbage() {
        let identity = Identity::generate();
        let file = identity.to_identity_file("2026-01-01T00:00:00Z");
        let parsed = parse_identity_file(&file).expect("parses");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].recipient(), identity.recipient());
        assert_eq!(
            parse_identity_file("# only a comment\n").unwrap_err(),
            KeyError::NoIdentityInFile
        );
        assert_eq!(
            parse_identity_file("AGE-SECRET-KEY-1NOPE\n").unwrap_err(),
            KeyError::MalformedIdentity
        );
    }

    #[test]
    fn recipient_parse_matches_age() {
        use age::secrecy::ExposeSecret;
        let identity = age::x25519::Identity::generate();
        let text = identity.to_public().to_string();
        let ours: Recipient = text.parse().expect("parses");
        assert_eq!(ours.to_string(), text);
        assert!("age1notakey".parse::<Recipient>().is_err());
        assert!(identity.to_string().expose_secret().parse::<Recipient>().is_err());
    }
}
