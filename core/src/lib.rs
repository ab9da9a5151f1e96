//! ageseal-core: the sealed-value format, seal/unseal with scope binding, the repository config
//! model and the SealedSecret types shared by the `ageseal` CLI and `ageseal-controller`.
//!
//! Pure format and crypto: no I/O, no async runtime, no Kubernetes client.

mod age_read;
mod age_v1;
mod age_write;
pub mod config;
pub mod config_edit;
mod cores;
pub mod crd;
pub mod envelope;
pub mod keys;
pub mod manifest;
pub mod manifest_file;
pub mod pq;
pub mod redact;
pub mod seal;
pub mod sealed_file;
pub mod wrapped;
mod x25519;
pub mod yaml;

pub use envelope::{Binding, BindingError, Location, Scope};
pub use keys::{Identity, KeyError, Keyring, Recipient, RecipientId, parse_identity_file};
pub use seal::{
    HeaderSummary, Opened, SealError, UnsealError, decode_base64, decrypt, inspect, open, open_base64, seal,
    seal_base64, unseal, unseal_base64,
};

/// Size bounds (DESIGN §4). Each is checked before the work it bounds.
pub mod limits {
    /// Largest value ageseal seals or opens: a Kubernetes Secret's own limit.
    pub const MAX_VALUE_BYTES: usize = 1 << 20;
    /// Most recipient stanzas in one sealed value.
    pub const MAX_STANZAS: usize = 32;
    /// Most recipients one value is sealed to: age adds one "grease" stanza of its own.
    pub const MAX_RECIPIENTS: usize = MAX_STANZAS - 1;
    /// Most bytes of age header scanned (version line, stanzas, MAC line): room for
    /// [`MAX_STANZAS`] hybrid post-quantum stanzas of about 1.6 KB each.
    pub const MAX_HEADER_BYTES: usize = 64 * 1024;
    /// Largest envelope header (version, scope, namespace, name, key lines).
    pub const MAX_ENVELOPE_HEADER_BYTES: usize = 1024;
    /// Largest sealed value in bytes: value, envelope header, age header, STREAM nonce and tags.
    pub const MAX_SEALED_BYTES: usize = MAX_VALUE_BYTES + MAX_ENVELOPE_HEADER_BYTES + MAX_HEADER_BYTES + 1024;
    /// Most (stanza, identity) pairs a reader may try while opening one SealedSecret: every
    /// value's recipient stanzas times the identities of the same type held. An X25519 pair is at
    /// most one Diffie-Hellman (about 30 µs with AWS-LC) and counts 1; a hybrid pair counts
    /// [`HYBRID_TRIAL_COST`]. So one object costs at most about a quarter of a second of one core,
    /// however it was crafted. Counted from the headers before any pair is tried.
    pub const MAX_TRIALS_PER_OBJECT: usize = 8192;
    /// What one hybrid (`mlkem768x25519`) trial counts against [`MAX_TRIALS_PER_OBJECT`]: one
    /// ML-KEM-768 decapsulation plus one X25519 DH, measured at 1.67x an X25519 trial with both
    /// done by AWS-LC (1.99x before; core/benches/README.md), rounded up.
    pub const HYBRID_TRIAL_COST: usize = 2;
    /// Largest `encryptedData` entry in base64 characters.
    pub const MAX_SEALED_BASE64: usize = MAX_SEALED_BYTES.div_ceil(3) * 4;
    pub(crate) const MAX_VERSION_DIGITS: usize = 4;
}
