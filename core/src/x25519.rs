//! X25519 with AWS-LC: sealing to X25519 recipients (the age `X25519` stanza) and the
//! Diffie-Hellman of our own X25519 keys when opening.
//!
//! Why not the age crate's own recipient: sealing is one ephemeral key and one Diffie-Hellman per
//! value and recipient (15 for a 5-key Secret and 3 regions), most of an `ageseal seal`. AWS-LC's
//! X25519 (s2n-bignum's assembly on x86-64 and Arm) takes about 55 us for both on the project's
//! machine where x25519-dalek takes about 130 us (core/benches/README.md). The stanza is the one
//! age writes (c2sp.org/age, "X25519 recipient stanza"); the age CLI, the age test kit and the age
//! crate open it (core/tests). Opening uses the same X25519 ([`X25519Secret`]): the controller
//! does one Diffie-Hellman per value it opens, and the hybrid key's X25519 half uses it too.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use age_core::format::{FileKey, Stanza};
use age_core::primitives::bech32_encode;
use age_core::secrecy::ExposeSecret;
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::age_v1::{chacha_seal, hkdf_sha256};
use crate::keys::{X25519_LABEL, X25519_TAG};

/// The u-coordinates (little-endian, top bit ignored as X25519 does) of the points of order 1, 2,
/// 4 and 8 on Curve25519 and its twist, including the non-canonical encodings p and p + 1 (the
/// list libsodium checks). A Diffie-Hellman with any of them gives all zeros whatever the
/// ephemeral key, so a value sealed to one would be readable by anyone: such a key is refused
/// when it is parsed.
const LOW_ORDER: [[u8; 32]; 7] = [
    // 0
    [0; 32],
    // 1
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    // 325606250916557431795983626356110631294008115727848805560023387167927233504 (order 8)
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda,
        0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
    ],
    // 39382357235489614581723060781553021112529911719440698176882885853963445705823 (order 8)
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04,
        0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57,
    ],
    // p - 1
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
    // p (0 again)
    [
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
    // p + 1 (1 again)
    [
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
];

/// True when `key` is a point of small order: no Diffie-Hellman with it is secret.
pub(crate) fn is_low_order(key: &[u8; 32]) -> bool {
    LOW_ORDER
        .iter()
        .any(|low| low[..31] == key[..31] && low[31] == key[31] & 0x7f)
}

/// An X25519 recipient's public key, already checked not to be of small order.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct X25519Public([u8; 32]);

impl X25519Public {
    /// The key, or `None` for a point of small order.
    pub(crate) fn new(key: [u8; 32]) -> Option<Self> {
        (!is_low_order(&key)).then_some(Self(key))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key agreement of one `X25519` stanza, which does not depend on the file key: a fresh
    /// ephemeral key, its Diffie-Hellman with this recipient, and HKDF-SHA256 over (ephemeral
    /// share, recipient). Done ahead, a Secret's stanzas can be spread over the cores one by one.
    pub(crate) fn prepare(&self) -> Result<PreparedStanza, age::EncryptError> {
        // The ephemeral scalar comes from the operating system, as x25519-dalek's does: AWS-LC's
        // own generator would first seed itself from CPU jitter, about 60 ms per process.
        let mut scalar = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(scalar.as_mut());
        let (share, shared) = ephemeral_agreement(&scalar, self)
            .ok_or_else(|| age::EncryptError::Io(std::io::Error::other("X25519 key agreement failed")))?;
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&share);
        salt[32..].copy_from_slice(&self.0);
        Ok(PreparedStanza {
            share: BASE64_STANDARD_NO_PAD.encode(share),
            wrap_key: Mutex::new(Some(hkdf_sha256(&salt, X25519_LABEL, shared.as_ref()))),
        })
    }
}

/// The public share of the ephemeral key `scalar` and its Diffie-Hellman with `recipient` (the
/// sender's side of an age X25519 stanza and of a hybrid key's X25519 half).
pub(crate) fn ephemeral_agreement(
    scalar: &[u8; 32],
    recipient: &X25519Public,
) -> Option<([u8; 32], Zeroizing<[u8; 32]>)> {
    let ephemeral = PrivateKey::from_private_key(&X25519, scalar).ok()?;
    let share = <[u8; 32]>::try_from(ephemeral.compute_public_key().ok()?.as_ref()).ok()?;
    // AWS-LC refuses an all-zero shared secret; keys of small order never get here.
    let shared = agree_raw(&ephemeral, recipient.as_bytes())?;
    Some((share, shared))
}

/// X25519 of our private key and a peer's public key, or `None` when the result is all zeros
/// (a peer key of small order) or AWS-LC fails otherwise.
fn agree_raw(private: &PrivateKey, peer: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
    agreement::agree(private, UnparsedPublicKey::new(&X25519, peer), (), |shared| {
        let mut out = Zeroizing::new([0u8; 32]);
        if shared.len() != out.len() {
            return Err(());
        }
        out.copy_from_slice(shared);
        Ok(out)
    })
    .ok()
}

/// An X25519 private key of ours (an identity, or a hybrid key's X25519 half): x25519-dalek's
/// scalar for its encoding, and AWS-LC's copy of it, which computes the public half once and
/// the Diffie-Hellman of every value opened, about a third of x25519-dalek's time
/// (core/benches/README.md). Both copies wipe themselves when dropped (AWS-LC clears what it
/// frees).
#[derive(Clone)]
pub(crate) struct X25519Secret {
    scalar: x25519_dalek::StaticSecret,
    public: X25519Public,
    agreement: Arc<PrivateKey>,
}

impl X25519Secret {
    pub(crate) fn new(scalar: x25519_dalek::StaticSecret) -> Self {
        let bytes = Zeroizing::new(scalar.to_bytes());
        let agreement = PrivateKey::from_private_key(&X25519, bytes.as_ref())
            .expect("AWS-LC takes any 32 bytes as an X25519 private key");
        // A clamped scalar times the base point: never of small order. AWS-LC computed it when
        // it took the key; this copies it out.
        let public = agreement
            .compute_public_key()
            .ok()
            .and_then(|key| <[u8; 32]>::try_from(key.as_ref()).ok())
            .expect("an X25519 private key has a 32-byte public key");
        Self {
            public: X25519Public(public),
            scalar,
            agreement: Arc::new(agreement),
        }
    }

    pub(crate) fn public(&self) -> &X25519Public {
        &self.public
    }

    pub(crate) fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.scalar.to_bytes())
    }

    /// The shared secret with a peer's public key, or `None` when it is all zeros: the peer key
    /// is of small order, and the result would be known to anyone.
    pub(crate) fn diffie_hellman(&self, peer: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        agree_raw(&self.agreement, peer)
    }
}

impl age::Recipient for X25519Public {
    fn wrap_file_key(&self, file_key: &FileKey) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        self.prepare()?.wrap_file_key(file_key)
    }
}

/// An `X25519` stanza whose key agreement is done ([`X25519Public::prepare`]); it wraps one file
/// key. Its wrap key is taken on use, so it can never wrap a second file key under the same
/// ChaCha20-Poly1305 key and zero nonce.
pub(crate) struct PreparedStanza {
    share: String,
    wrap_key: Mutex<Option<Zeroizing<[u8; 32]>>>,
}

impl age::Recipient for PreparedStanza {
    fn wrap_file_key(&self, file_key: &FileKey) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let wrap_key = self
            .wrap_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| age::EncryptError::Io(std::io::Error::other("an X25519 stanza was used twice")))?;
        let stanza = Stanza {
            tag: X25519_TAG.to_owned(),
            args: vec![self.share.clone()],
            body: {
                let mut body = Vec::with_capacity(32);
                chacha_seal(&wrap_key, [0; 12], file_key.expose_secret(), &mut body);
                body
            },
        };
        Ok((vec![stanza], HashSet::new()))
    }
}

impl fmt::Display for X25519Public {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bech32_encode(bech32::Hrp::parse_unchecked("age"), &self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_key_is_of_small_order_with_or_without_its_top_bit() {
        let secret = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
        for low in LOW_ORDER {
            for top in [0, 0x80] {
                let mut key = low;
                key[31] |= top;
                assert!(is_low_order(&key));
                let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(key));
                assert!(!shared.was_contributory(), "{key:02x?} is not of small order");
                assert!(X25519Public::new(key).is_none());
            }
        }
        let ordinary = x25519_dalek::PublicKey::from(&secret);
        assert!(!is_low_order(ordinary.as_bytes()));
    }

    #[test]
    fn our_diffie_hellman_matches_x25519_dalek_and_refuses_keys_of_small_order() {
        let scalar = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
        let ours = X25519Secret::new(x25519_dalek::StaticSecret::from(scalar.to_bytes()));
        assert_eq!(
            ours.public().as_bytes(),
            x25519_dalek::PublicKey::from(&scalar).as_bytes()
        );
        for _ in 0..8 {
            let peer = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::random_from_rng(
                rand::rngs::OsRng,
            ));
            let shared = ours.diffie_hellman(peer.as_bytes()).expect("an ordinary key");
            assert_eq!(&*shared, scalar.diffie_hellman(&peer).as_bytes());
        }
        for low in LOW_ORDER {
            for top in [0, 0x80] {
                let mut key = low;
                key[31] |= top;
                assert!(ours.diffie_hellman(&key).is_none(), "{key:02x?} was accepted");
            }
        }
    }

    /// An identity of the age crate and its recipient as ageseal parses it.
    fn age_key_pair() -> (age::x25519::Identity, X25519Public) {
        let identity = age::x25519::Identity::generate();
        let (_, bytes) = bech32::decode(&identity.to_public().to_string()).expect("age recipient");
        let public = X25519Public::new(bytes.try_into().expect("32 bytes")).expect("ordinary key");
        (identity, public)
    }

    #[test]
    fn a_wrapped_file_key_opens_with_the_age_crate() {
        let (identity, public) = age_key_pair();
        assert_eq!(public.to_string(), identity.to_public().to_string());
        let file_key = FileKey::new(Box::new([9u8; 16]));
        let wrap = |public: &X25519Public| {
            let (mut stanzas, labels) = age::Recipient::wrap_file_key(public, &file_key).expect("wrap");
            assert!(labels.is_empty() && stanzas.len() == 1);
            stanzas.remove(0)
        };
        let stanza = wrap(&public);
        assert_eq!(stanza.tag, "X25519");
        assert_eq!(stanza.args.len(), 1);
        assert_eq!(stanza.body.len(), 32);
        assert_ne!(
            stanza.args,
            wrap(&public).args,
            "each stanza has its own ephemeral key"
        );
        let opened = age::Identity::unwrap_stanza(&identity, &stanza)
            .expect("an X25519 stanza")
            .expect("the right key");
        assert_eq!(opened.expose_secret(), &[9u8; 16]);
        let stranger = age::x25519::Identity::generate();
        assert!(age::Identity::unwrap_stanza(&stranger, &stanza).is_none());
    }

    #[test]
    fn a_prepared_stanza_wraps_one_file_key_only() {
        let (identity, public) = age_key_pair();
        let prepared = public.prepare().expect("key agreement");
        let first = FileKey::new(Box::new([1u8; 16]));
        let (stanzas, _) = age::Recipient::wrap_file_key(&prepared, &first).expect("first use");
        let opened = age::Identity::unwrap_stanza(&identity, &stanzas[0])
            .expect("an X25519 stanza")
            .expect("the right key");
        assert_eq!(opened.expose_secret(), &[1u8; 16]);
        let second = FileKey::new(Box::new([2u8; 16]));
        assert!(age::Recipient::wrap_file_key(&prepared, &second).is_err());
    }
}
