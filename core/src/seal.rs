//! Sealing one value to many recipients and opening it again, with the binding checked.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use zeroize::Zeroizing;

use crate::age_read;
use crate::age_v1::{COLUMNS, VERSION_LINE};
use crate::age_write::{WriteError, write_age_file};
use crate::cores::map_on_cores;
use crate::envelope::{self, Binding, EnvelopeError, Location};
use crate::keys::{Keyring, Recipient, RecipientId};
use crate::limits::{
    MAX_HEADER_BYTES, MAX_RECIPIENTS, MAX_SEALED_BASE64, MAX_SEALED_BYTES, MAX_STANZAS, MAX_VALUE_BYTES,
};

/// Why a value could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// No recipient was given.
    #[error("no recipients to seal to")]
    NoRecipients,
    /// More recipients than a value may carry.
    #[error("{0} recipients; a value may be sealed to at most 31")]
    TooManyRecipients(usize),
    /// The value is over the size limit.
    #[error("value is {0} bytes; the limit is 1 MiB")]
    TooLarge(usize),
    /// Hybrid post-quantum and X25519 recipients together: the X25519 stanza would let a future
    /// quantum computer open the value anyway, so age refuses the mix and so does ageseal.
    #[error(
        "cannot seal to hybrid post-quantum (age1pq1...) and X25519 (age1...) recipients together: the X25519 stanza would undo the post-quantum protection"
    )]
    MixedRecipients,
    /// age itself refused (not expected with ageseal's recipient types).
    #[error("age could not encrypt: {0}")]
    Age(String),
}

impl SealError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            SealError::NoRecipients => {
                "add a region to .ageseal.yaml (ageseal region add) or pass --recipient"
            }
            SealError::TooManyRecipients(_) => {
                "seal to fewer regions; every region and recovery key adds one recipient"
            }
            SealError::TooLarge(_) => "Kubernetes Secrets are limited to 1 MiB; store large blobs elsewhere",
            SealError::MixedRecipients => {
                "make every region's and recovery recipient hybrid (ageseal keygen --pq, ageseal-controller run --pq-keys) or none of them; docs/OPERATIONS.md explains the move"
            }
            SealError::Age(_) => "this is a bug in ageseal; please report it",
        }
    }
}

/// Why a sealed value could not be opened. No variant carries plaintext or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    /// Over a size bound, checked before decoding or after decrypting.
    #[error("sealed value is {actual} bytes; the limit is {limit}")]
    TooLarge {
        /// Size found.
        actual: usize,
        /// Size allowed.
        limit: usize,
    },
    /// The `encryptedData` entry is not standard base64.
    #[error("sealed value is not valid base64")]
    MalformedBase64,
    /// Not a well-formed or untampered age v1 file.
    #[error("sealed value is not a valid age file: {0}")]
    MalformedAgeFile(&'static str),
    /// More recipient stanzas than allowed.
    #[error("sealed value has {0} recipient stanzas; the limit is 32")]
    TooManyStanzas(usize),
    /// None of the identities opens any stanza.
    #[error("none of the given identities can open this value")]
    NoMatchingKey,
    /// Decrypted, but not an envelope this build can read.
    #[error("sealed value uses envelope version {0}, which this ageseal does not read")]
    UnsupportedVersion(u32),
    /// Decrypted, but the envelope is malformed.
    #[error("sealed value's envelope is malformed: {0}")]
    MalformedEnvelope(&'static str),
    /// Opening the object could take more key trials than a reader allows (counted before any).
    #[error(
        "opening it could take {trials} key trials (stanzas times identities); the limit per object is {limit}"
    )]
    TooMuchWork {
        /// Worst-case trials for the whole object.
        trials: usize,
        /// [`crate::limits::MAX_TRIALS_PER_OBJECT`].
        limit: usize,
    },
    /// Decrypted, but the value is bound elsewhere: it was copied or moved.
    #[error("value is sealed for {sealed} but sits at {actual}")]
    ScopeMismatch {
        /// What the envelope says.
        sealed: Box<Binding>,
        /// Where the caller found it.
        actual: Box<Location>,
    },
}

impl UnsealError {
    /// The variant's name, as used in test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            UnsealError::TooLarge { .. } => "TooLarge",
            UnsealError::MalformedBase64 => "MalformedBase64",
            UnsealError::MalformedAgeFile(_) => "MalformedAgeFile",
            UnsealError::TooManyStanzas(_) => "TooManyStanzas",
            UnsealError::NoMatchingKey => "NoMatchingKey",
            UnsealError::UnsupportedVersion(_) => "UnsupportedVersion",
            UnsealError::MalformedEnvelope(_) => "MalformedEnvelope",
            UnsealError::ScopeMismatch { .. } => "ScopeMismatch",
            UnsealError::TooMuchWork { .. } => "TooMuchWork",
        }
    }

    /// Where an age-layer failure stands in the age test kit's vocabulary: `no match`,
    /// `HMAC failure`, `payload failure` or `header failure`; `None` for failures above the age
    /// layer (envelope, scope, work bound).
    pub fn age_failure(&self) -> Option<&'static str> {
        match self {
            UnsealError::NoMatchingKey => Some("no match"),
            UnsealError::MalformedAgeFile(MAC_FAILURE) => Some("HMAC failure"),
            UnsealError::MalformedAgeFile(PAYLOAD_FAILURE) => Some("payload failure"),
            UnsealError::MalformedAgeFile(_) | UnsealError::TooManyStanzas(_) => Some("header failure"),
            _ => None,
        }
    }

    /// The SealedSecret status reason for this failure (DESIGN §3).
    pub fn reason(&self) -> &'static str {
        match self {
            UnsealError::NoMatchingKey => "NoMatchingKey",
            UnsealError::ScopeMismatch { .. } => "ScopeMismatch",
            UnsealError::TooMuchWork { .. } => "TooMuchWork",
            _ => "MalformedValue",
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            UnsealError::NoMatchingKey => {
                "the value was not sealed to these keys: put the region's current key in .ageseal.yaml (ageseal region add or set-key) and run ageseal rekey; to open it by hand, use an identity it was sealed to"
            }
            UnsealError::ScopeMismatch { .. } => {
                "sealed values cannot be moved: seal the value again for its new namespace, name or key"
            }
            UnsealError::UnsupportedVersion(_) => "upgrade ageseal to a version that reads this format",
            UnsealError::TooMuchWork { .. } => {
                "split the Secret into several SealedSecrets, seal to fewer recipients, or revoke controller keys no longer needed (docs/OPERATIONS.md)"
            }
            _ => "the sealed value is damaged: seal it again from the original Secret",
        }
    }
}

impl From<EnvelopeError> for UnsealError {
    fn from(err: EnvelopeError) -> Self {
        match err {
            EnvelopeError::UnsupportedVersion(v) => UnsealError::UnsupportedVersion(v),
            EnvelopeError::Malformed(why) => UnsealError::MalformedEnvelope(why),
            EnvelopeError::TooLarge(actual) => UnsealError::TooLarge {
                actual,
                limit: MAX_VALUE_BYTES,
            },
        }
    }
}

/// Seals `value` for use under `binding`, as a binary age v1 file with one stanza per recipient
/// (X25519, or `mlkem768x25519` for hybrid recipients; never both), in the order given, followed
/// by a random "grease" stanza, as age writes one (`crate::age_write`).
pub fn seal(value: &[u8], binding: &Binding, recipients: &[Recipient]) -> Result<Vec<u8>, SealError> {
    check_recipients(recipients)?;
    encrypt(value, binding, recipients.iter().map(Recipient::as_age))
}

/// X25519 stanzas from which sealing is spread over threads: fewer (under about 3 ms of work on
/// the project's machine) are sealed faster on the calling thread (core/src/cores.rs).
const PARALLEL_STANZAS: usize = 64;
/// A hybrid stanza costs about two and a half X25519 stanzas to seal (ML-KEM-768 encapsulation
/// and an X25519 key agreement: 298 against 127 us for 3 recipients, core/benches/README.md).
const HYBRID_STANZA_COST: usize = 2;

/// [`seal`] of several values to the same recipients, spread over the machine's cores when there
/// are enough stanzas. With X25519 recipients each stanza's key agreement (the cost of sealing)
/// is one piece of work, so 5 values for 3 recipients split evenly however many values there
/// are; hybrid values are sealed one value per piece.
pub(crate) fn seal_many(
    values: &[(&[u8], &Binding)],
    recipients: &[Recipient],
) -> Result<Vec<Vec<u8>>, SealError> {
    check_recipients(recipients)?;
    let x25519: Option<Vec<_>> = recipients.iter().map(Recipient::x25519).collect();
    let Some(x25519) = x25519 else {
        let parallel_from = PARALLEL_STANZAS.div_ceil(HYBRID_STANZA_COST * recipients.len());
        return map_on_cores(values, parallel_from, |(value, binding)| {
            seal(value, binding, recipients)
        });
    };
    let pairs: Vec<_> = values.iter().flat_map(|_| x25519.iter()).collect();
    let prepared = map_on_cores(&pairs, PARALLEL_STANZAS, |public| public.prepare())
        .map_err(|e| SealError::Age(e.to_string()))?;
    values
        .iter()
        .zip(prepared.chunks(recipients.len()))
        .map(|((value, binding), stanzas)| {
            encrypt(value, binding, stanzas.iter().map(|s| s as &dyn age::Recipient))
        })
        .collect()
}

fn check_recipients(recipients: &[Recipient]) -> Result<(), SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(SealError::TooManyRecipients(recipients.len()));
    }
    if recipients.iter().any(Recipient::is_hybrid) && !recipients.iter().all(Recipient::is_hybrid) {
        return Err(SealError::MixedRecipients);
    }
    Ok(())
}

/// The age file of `value`'s envelope, with one stanza from each of `stanzas`.
fn encrypt<'a>(
    value: &[u8],
    binding: &Binding,
    stanzas: impl ExactSizeIterator<Item = &'a dyn age::Recipient>,
) -> Result<Vec<u8>, SealError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(SealError::TooLarge(value.len()));
    }
    let plaintext = envelope::encode(binding, value);
    write_age_file(stanzas, &plaintext).map_err(|e| match e {
        // Our recipients' labels differ only between hybrid and X25519 ones.
        WriteError::IncompatibleRecipients => SealError::MixedRecipients,
        WriteError::Wrap(e) => SealError::Age(e.to_string()),
    })
}

/// [`seal`], then standard base64 as stored in `encryptedData`.
pub fn seal_base64(value: &[u8], binding: &Binding, recipients: &[Recipient]) -> Result<String, SealError> {
    seal(value, binding, recipients).map(|bytes| BASE64_STANDARD.encode(bytes))
}

/// Opens a sealed value found at `location`. `hint` holds the `spec.recipients` ids in stanza
/// order (`None` where an entry is unusable); the stanza it names is tried first.
///
/// The value is returned only if its envelope admits `location`; otherwise `ScopeMismatch`.
pub fn unseal(
    sealed: &[u8],
    keyring: &Keyring,
    location: &Location,
    hint: &[Option<RecipientId>],
) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    open(sealed, keyring, location, hint).map(|opened| opened.value)
}

/// An opened value with what its envelope said and which identity opened it.
pub struct Opened {
    /// The plain value.
    pub value: Zeroizing<Vec<u8>>,
    /// The binding sealed into the envelope (it admitted the location).
    pub binding: Binding,
    /// The keyring identity whose stanza opened it.
    pub key_id: RecipientId,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("value", &"<redacted>")
            .field("binding", &self.binding)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// [`unseal`], also giving the sealed binding and the identity that opened the value.
pub fn open(
    sealed: &[u8],
    keyring: &Keyring,
    location: &Location,
    hint: &[Option<RecipientId>],
) -> Result<Opened, UnsealError> {
    let (mut plaintext, key_id) = decrypt(sealed, keyring, hint)?;
    let binding = envelope::decode(&mut plaintext)?;
    if !binding.admits(location) {
        return Err(UnsealError::ScopeMismatch {
            sealed: Box::new(binding),
            actual: Box::new(location.clone()),
        });
    }
    Ok(Opened {
        value: plaintext,
        binding,
        key_id,
    })
}

/// The age layer of [`open`]: bounds, header outline, then age v1 decryption with the keyring
/// (hinted stanza first). The plaintext is released only once all of it has authenticated, with
/// the identity that opened it. The age test kit runs through this function
/// (`cargo run -p ageseal-core --example testkit`).
pub fn decrypt(
    sealed: &[u8],
    keyring: &Keyring,
    hint: &[Option<RecipientId>],
) -> Result<(Zeroizing<Vec<u8>>, RecipientId), UnsealError> {
    if sealed.len() > MAX_SEALED_BYTES {
        return Err(UnsealError::TooLarge {
            actual: sealed.len(),
            limit: MAX_SEALED_BYTES,
        });
    }
    inspect(sealed)?;
    let parsed = age_read::parse(sealed).map_err(from_read)?;
    let hinted = keyring.with_hint(hint);
    let file_key = match age::Identity::unwrap_stanzas(&hinted, &parsed.stanzas) {
        None => return Err(UnsealError::NoMatchingKey),
        Some(unwrapped) => unwrapped.map_err(from_age)?,
    };
    let plaintext = parsed.open(&file_key).map_err(from_read)?;
    let key_id = hinted.opened_by().ok_or(UnsealError::NoMatchingKey)?;
    Ok((plaintext, key_id))
}

fn from_read(err: age_read::ReadError) -> UnsealError {
    match err {
        age_read::ReadError::Header => UnsealError::MalformedAgeFile("invalid age header"),
        age_read::ReadError::Mac => UnsealError::MalformedAgeFile(MAC_FAILURE),
        age_read::ReadError::Payload => UnsealError::MalformedAgeFile(PAYLOAD_FAILURE),
    }
}

const PAYLOAD_FAILURE: &str = "payload failed authentication (altered or truncated)";
const MAC_FAILURE: &str = "header MAC does not match (the header was altered)";

/// [`unseal`] for the base64 text of an `encryptedData` entry; the length is bounded before decoding.
pub fn unseal_base64(
    sealed: &str,
    keyring: &Keyring,
    location: &Location,
    hint: &[Option<RecipientId>],
) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    open_base64(sealed, keyring, location, hint).map(|opened| opened.value)
}

/// [`open`] for base64 text.
pub fn open_base64(
    sealed: &str,
    keyring: &Keyring,
    location: &Location,
    hint: &[Option<RecipientId>],
) -> Result<Opened, UnsealError> {
    let bytes = decode_base64(sealed)?;
    open(&bytes, keyring, location, hint)
}

/// Decodes an `encryptedData` entry, refusing oversize text before decoding it.
pub fn decode_base64(sealed: &str) -> Result<Vec<u8>, UnsealError> {
    if sealed.len() > MAX_SEALED_BASE64 {
        return Err(UnsealError::TooLarge {
            actual: sealed.len(),
            limit: MAX_SEALED_BASE64,
        });
    }
    BASE64_STANDARD
        .decode(sealed.trim_ascii())
        .map_err(|_| UnsealError::MalformedBase64)
}

/// What can be learnt about a sealed value without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSummary {
    /// The tag of each recipient stanza (`X25519` or `mlkem768x25519` for the stanzas ageseal
    /// writes), in order.
    pub stanza_tags: Vec<String>,
}

impl HeaderSummary {
    /// Stanzas an identity would try to open (others, like age's grease stanza, cost nothing).
    pub fn key_stanzas(&self) -> usize {
        self.x25519_stanzas() + self.hybrid_stanzas()
    }

    /// `mlkem768x25519` stanzas.
    pub fn hybrid_stanzas(&self) -> usize {
        self.count(crate::pq::HYBRID_TAG)
    }

    fn x25519_stanzas(&self) -> usize {
        self.count(crate::keys::X25519_TAG)
    }

    fn count(&self, tag: &str) -> usize {
        self.stanza_tags.iter().filter(|t| *t == tag).count()
    }

    /// Worst-case key trials to open this value with `keyring`, in X25519 units: each stanza is
    /// tried only by identities of its own type, and a hybrid trial counts
    /// [`crate::limits::HYBRID_TRIAL_COST`] (one ML-KEM decapsulation and one X25519 DH).
    pub fn trials(&self, keyring: &Keyring) -> usize {
        let hybrid = keyring.identities().iter().filter(|i| i.is_hybrid()).count();
        let x25519 = keyring.identities().len() - hybrid;
        let x25519_trials = self.x25519_stanzas().saturating_mul(x25519);
        let hybrid_trials = self
            .hybrid_stanzas()
            .saturating_mul(hybrid)
            .saturating_mul(crate::limits::HYBRID_TRIAL_COST);
        x25519_trials.saturating_add(hybrid_trials)
    }
}

/// Checks the outline of an age v1 header (version line, stanza count, MAC line) without any
/// key, within [`MAX_HEADER_BYTES`]. Used before decryption and by `ageseal verify`.
pub fn inspect(sealed: &[u8]) -> Result<HeaderSummary, UnsealError> {
    let rest = sealed
        .strip_prefix(VERSION_LINE)
        .ok_or(UnsealError::MalformedAgeFile(
            "does not start with the age v1 header line",
        ))?;
    let window = &rest[..rest.len().min(MAX_HEADER_BYTES)];
    let mut stanza_tags = Vec::new();
    // Inside a stanza body: full 64-column lines until a shorter (possibly empty) final one. The
    // age crate accepts a stanza without that final line; age's spec and Go age do not.
    let mut in_body = false;
    for line in window.split(|&b| b == b'\n') {
        let stanza_or_mac = line.starts_with(b"-> ") || line.starts_with(b"--- ");
        if in_body && !stanza_or_mac {
            if line.len() > COLUMNS {
                return Err(UnsealError::MalformedAgeFile(
                    "a stanza body line is over 64 columns",
                ));
            }
            in_body = line.len() == COLUMNS;
            continue;
        }
        if in_body {
            return Err(UnsealError::MalformedAgeFile(
                "a stanza does not end with a short body line",
            ));
        }
        if line.starts_with(b"--- ") {
            if stanza_tags.is_empty() {
                return Err(UnsealError::MalformedAgeFile("header has no recipient stanza"));
            }
            return Ok(HeaderSummary { stanza_tags });
        }
        if let Some(stanza) = line.strip_prefix(b"-> ") {
            if stanza_tags.len() == MAX_STANZAS {
                return Err(UnsealError::TooManyStanzas(count_stanzas(window)));
            }
            let tag = stanza.split(|&b| b == b' ').next().unwrap_or_default();
            stanza_tags.push(String::from_utf8_lossy(tag).into_owned());
            in_body = true;
        }
    }
    Err(UnsealError::MalformedAgeFile(
        "header is not terminated by a MAC line",
    ))
}

fn count_stanzas(window: &[u8]) -> usize {
    window
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"-> "))
        .count()
}

fn from_age(err: age::DecryptError) -> UnsealError {
    use age::DecryptError as E;
    match err {
        E::NoMatchingKeys | E::KeyDecryptionFailed => UnsealError::NoMatchingKey,
        E::InvalidMac => UnsealError::MalformedAgeFile(MAC_FAILURE),
        E::InvalidHeader => UnsealError::MalformedAgeFile("invalid age header"),
        E::UnknownFormat => UnsealError::MalformedAgeFile("not an age v1 file"),
        E::DecryptionFailed => UnsealError::MalformedAgeFile(PAYLOAD_FAILURE),
        E::Io(_) => UnsealError::MalformedAgeFile("truncated"),
        _ => UnsealError::MalformedAgeFile("uses an age feature ageseal does not accept"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Scope;
    use crate::keys::Identity;

    fn setup(n: usize) -> (Vec<Identity>, Vec<Recipient>, Location, Binding) {
        let identities: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
        let recipients = identities.iter().map(|i| i.recipient().clone()).collect();
        let location = Location::new("payments", "db", "password");
        let binding = Binding::new(Scope::Strict, &location).expect("valid");
        (identities, recipients, location, binding)
    }

    #[test]
    fn every_recipient_opens_with_or_without_hint() {
        let (identities, recipients, location, binding) = setup(3);
        let sealed = seal(b"s3cret", &binding, &recipients).expect("seals");
        let tags = inspect(&sealed).expect("outline").stanza_tags;
        assert_eq!(tags[..3], ["X25519"; 3]);
        assert!(tags.len() == 4 && tags[3].ends_with("-grease"), "{tags:?}");
        let hint: Vec<Option<RecipientId>> = recipients.iter().map(|r| Some(r.id())).collect();
        for identity in identities {
            let keyring = Keyring::new([identity]);
            for hint in [&hint[..], &[][..]] {
                let value = unseal(&sealed, &keyring, &location, hint).expect("opens");
                assert_eq!(value.as_slice(), b"s3cret");
            }
        }
    }

    #[test]
    fn many_values_seal_in_order_on_one_thread_or_several() {
        let (identities, recipients, location, binding) = setup(2);
        let keyring = Keyring::new(identities);
        // 2 x 2 stanzas stay on the calling thread; 40 x 2 are spread over threads.
        for count in [2, PARALLEL_STANZAS.div_ceil(2) + 8] {
            let values: Vec<Vec<u8>> = (0..count).map(|i| format!("value {i}").into_bytes()).collect();
            let jobs: Vec<(&[u8], &Binding)> = values.iter().map(|v| (v.as_slice(), &binding)).collect();
            let sealed = seal_many(&jobs, &recipients).expect("seals");
            assert_eq!(sealed.len(), count);
            for (file, value) in sealed.iter().zip(&values) {
                let opened = unseal(file, &keyring, &location, &[]).expect("opens");
                assert_eq!(opened.as_slice(), value.as_slice());
            }
        }
    }

    #[test]
    fn hybrid_recipients_seal_and_open_and_never_mix_with_x25519() {
        let identities: Vec<Identity> = (0..3).map(|_| Identity::generate_hybrid()).collect();
        let recipients: Vec<Recipient> = identities.iter().map(|i| i.recipient().clone()).collect();
        let location = Location::new("payments", "db", "password");
        let binding = Binding::new(Scope::Strict, &location).expect("valid");
        let sealed = seal(b"pq", &binding, &recipients).expect("seals");
        let summary = inspect(&sealed).expect("outline");
        assert_eq!(summary.stanza_tags[..3], ["mlkem768x25519"; 3]);
        assert_eq!((summary.key_stanzas(), summary.hybrid_stanzas()), (3, 3));
        let hint: Vec<Option<RecipientId>> = recipients.iter().map(|r| Some(r.id())).collect();
        for identity in &identities {
            let keyring = Keyring::new([Identity::generate(), identity.clone()]);
            for hint in [&hint[..], &[][..]] {
                let opened = open(&sealed, &keyring, &location, hint).expect("opens");
                assert_eq!(opened.value.as_slice(), b"pq");
                assert_eq!(opened.key_id, identity.recipient().id());
            }
            // X25519 identities never try hybrid stanzas; a hybrid trial counts double.
            assert_eq!(summary.trials(&keyring), 3 * crate::limits::HYBRID_TRIAL_COST);
        }
        let stranger = Keyring::new([Identity::generate_hybrid()]);
        assert_eq!(
            unseal(&sealed, &stranger, &location, &hint),
            Err(UnsealError::NoMatchingKey)
        );
        let mixed = [recipients[0].clone(), Identity::generate().recipient().clone()];
        assert_eq!(seal(b"v", &binding, &mixed), Err(SealError::MixedRecipients));
    }

    #[test]
    fn a_stanza_without_its_final_short_line_is_refused() {
        let (identities, recipients, location, binding) = setup(1);
        let text = seal(b"v", &binding, &recipients).expect("seals");
        // Drop the X25519 stanza's (short) body line: the next stanza line then follows it.
        let start = VERSION_LINE.len();
        let first_end = start + text[start..].iter().position(|&b| b == b'\n').expect("line") + 1;
        let body_end = first_end + text[first_end..].iter().position(|&b| b == b'\n').expect("line") + 1;
        let damaged = [&text[..first_end], &text[body_end..]].concat();
        let err = inspect(&damaged).expect_err("refused");
        assert_eq!(err.age_failure(), Some("header failure"), "{err}");
        let keyring = Keyring::new(identities);
        assert!(unseal(&damaged, &keyring, &location, &[]).is_err());
    }

    #[test]
    fn a_wrong_hint_does_not_stop_the_right_key() {
        let (identities, recipients, location, binding) = setup(2);
        let sealed = seal(b"v", &binding, &recipients).expect("seals");
        let swapped = [Some(recipients[1].id()), Some(recipients[0].id())];
        let keyring = Keyring::new([identities[0].clone()]);
        let opened = open(&sealed, &keyring, &location, &swapped).expect("opens");
        assert_eq!(opened.value.as_slice(), b"v");
        assert_eq!(opened.key_id, recipients[0].id());
        assert_eq!(opened.binding, binding);
    }

    #[test]
    fn a_stranger_gets_no_matching_key() {
        let (_, recipients, location, binding) = setup(2);
        let sealed = seal(b"v", &binding, &recipients).expect("seals");
        let stranger = Keyring::new([Identity::generate()]);
        assert_eq!(
            unseal(&sealed, &stranger, &location, &[]),
            Err(UnsealError::NoMatchingKey)
        );
        assert_eq!(
            unseal(&sealed, &Keyring::default(), &location, &[]),
            Err(UnsealError::NoMatchingKey)
        );
    }

    #[test]
    fn seal_enforces_its_bounds() {
        let (_, recipients, _, binding) = setup(1);
        assert_eq!(seal(b"v", &binding, &[]), Err(SealError::NoRecipients));
        let many = vec![recipients[0].clone(); MAX_RECIPIENTS + 1];
        assert_eq!(seal(b"v", &binding, &many), Err(SealError::TooManyRecipients(32)));
        let most = vec![recipients[0].clone(); MAX_RECIPIENTS];
        let sealed = seal(b"v", &binding, &most).expect("31 recipients fit");
        assert_eq!(inspect(&sealed).expect("outline").stanza_tags.len(), MAX_STANZAS);
        let big = vec![0u8; MAX_VALUE_BYTES + 1];
        assert_eq!(
            seal(&big, &binding, &recipients),
            Err(SealError::TooLarge(MAX_VALUE_BYTES + 1))
        );
        assert!(seal(&big[..MAX_VALUE_BYTES], &binding, &recipients).is_ok());
    }

    #[test]
    fn oversize_base64_is_refused_before_decoding() {
        let text = "A".repeat(MAX_SEALED_BASE64 + 4);
        let err = unseal_base64(&text, &Keyring::default(), &Location::new("a", "b", "c"), &[]);
        assert!(matches!(err, Err(UnsealError::TooLarge { .. })), "{err:?}");
        let err = unseal_base64(
            "not base64!",
            &Keyring::default(),
            &Location::new("a", "b", "c"),
            &[],
        );
        assert_eq!(err, Err(UnsealError::MalformedBase64));
    }

    #[test]
    fn inspect_rejects_headers_without_end_or_stanzas() {
        assert!(matches!(inspect(b"hello"), Err(UnsealError::MalformedAgeFile(_))));
        assert!(matches!(
            inspect(b"age-encryption.org/v1\n--- abc\n"),
            Err(UnsealError::MalformedAgeFile(_))
        ));
        let endless = [VERSION_LINE, &b"-> X25519 a\nbody\n".repeat(2000)].concat();
        assert!(matches!(inspect(&endless), Err(UnsealError::TooManyStanzas(_))));
    }
}
