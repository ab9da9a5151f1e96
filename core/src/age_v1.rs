//! What the age v1 format (c2sp.org/age) fixes and both [`crate::age_write`] and
//! [`crate::age_read`] (and the X25519 stanzas, `crate::x25519` and `crate::keys`) use: the
//! version line, the stanza body's columns, the STREAM chunking, and the key derivations and
//! ChaCha20-Poly1305, with AWS-LC.

use age_core::format::FileKey;
use age_core::secrecy::ExposeSecret;
use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac};
use zeroize::Zeroizing;

/// The first line of an age v1 file.
pub(crate) const VERSION_LINE: &[u8] = b"age-encryption.org/v1\n";
/// Columns of a full stanza body line.
pub(crate) const COLUMNS: usize = 64;
/// Bytes of plaintext per STREAM chunk.
pub(crate) const CHUNK: usize = 64 * 1024;
/// The Poly1305 tag after each chunk.
pub(crate) const TAG_BYTES: usize = 16;
/// The payload nonce, written after the header.
pub(crate) const NONCE_BYTES: usize = 16;

/// HKDF-SHA256 of `ikm` with `salt` and `info`, 32 bytes (age's `hkdf`).
pub(crate) fn hkdf_sha256(salt: &[u8], info: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(out.as_mut()))
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// The HMAC-SHA256 key of the header MAC.
pub(crate) fn header_mac_key(file_key: &FileKey) -> hmac::Key {
    let key = hkdf_sha256(&[], b"header", file_key.expose_secret());
    hmac::Key::new(hmac::HMAC_SHA256, key.as_ref())
}

/// The STREAM key of the payload after `nonce`.
pub(crate) fn payload_key(file_key: &FileKey, nonce: &[u8]) -> Zeroizing<[u8; 32]> {
    hkdf_sha256(nonce, b"payload", file_key.expose_secret())
}

/// The nonce of chunk `index`: an 11-byte big-endian counter, then 1 for the last chunk.
pub(crate) fn chunk_nonce(index: usize, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&(index as u64).to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

fn chacha(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key"))
}

/// ChaCha20-Poly1305 of `plaintext` under `key` and `nonce`, tag appended to `out`.
pub(crate) fn chacha_seal(key: &[u8; 32], nonce: [u8; 12], plaintext: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = chacha(key)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut out[start..],
        )
        .expect("a chunk of at most 64 KiB");
    out.extend_from_slice(tag.as_ref());
}

/// Opens `sealed` (ciphertext and tag) in place under `key` and `nonce`: the plaintext, or
/// `None` when it does not authenticate.
pub(crate) fn chacha_open<'a>(key: &[u8; 32], nonce: [u8; 12], sealed: &'a mut [u8]) -> Option<&'a [u8]> {
    chacha(key)
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::empty(), sealed)
        .ok()
        .map(|plain| &*plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primitives_match_age_core() {
        let (salt, ikm) = ([7u8; 64], [9u8; 32]);
        assert_eq!(
            *hkdf_sha256(&salt, b"label", &ikm),
            age_core::primitives::hkdf(&salt, b"label", &ikm)
        );
        assert_eq!(
            *hkdf_sha256(&[], b"header", &ikm),
            age_core::primitives::hkdf(&[], b"header", &ikm)
        );
        let mut sealed = Vec::new();
        chacha_seal(&[5u8; 32], [0; 12], b"sixteen byte key", &mut sealed);
        assert_eq!(
            sealed,
            age_core::primitives::aead_encrypt(&[5u8; 32], b"sixteen byte key")
        );
        let opened = chacha_open(&[5u8; 32], [0; 12], &mut sealed).expect("authenticates");
        assert_eq!(opened, b"sixteen byte key");
        sealed[0] ^= 1;
        assert!(chacha_open(&[5u8; 32], [0; 12], &mut sealed).is_none());
        assert_eq!(chunk_nonce(258, true), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1]);
    }
}
