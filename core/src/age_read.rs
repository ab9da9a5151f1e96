//! Reading an age v1 file (c2sp.org/age) to open a sealed value: the header parsed in one pass
//! over the bytes, then, once the keyring has unwrapped the file key, the header MAC and the
//! STREAM payload checked with AWS-LC's HMAC and ChaCha20-Poly1305 (the same primitives
//! [`crate::age_write`] seals with). The plaintext is released only when every chunk has
//! authenticated. The age test kit runs through this reader (core/tests/suite/testkit.rs).
//!
//! Callers bound the header first ([`crate::seal::inspect`]: its size, the stanza count, a MAC
//! line, stanza bodies ending in a short line); this parser checks the grammar itself.

use age_core::format::{FileKey, Stanza};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use zeroize::Zeroizing;

use crate::age_v1::{
    CHUNK, COLUMNS, NONCE_BYTES, TAG_BYTES, VERSION_LINE, chacha_open, chunk_nonce, header_mac_key,
    payload_key,
};

const STANZA_PREFIX: &[u8] = b"-> ";
const MAC_PREFIX: &[u8] = b"---";
/// Base64 characters of the 32-byte header MAC, without padding.
const MAC_COLUMNS: usize = 43;
const SCRYPT_TAG: &str = "scrypt";

/// Why a file could not be read; [`crate::seal`] turns it into an [`crate::seal::UnsealError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The header breaks the grammar, or the payload nonce is missing.
    Header,
    /// The header MAC does not match: the header was altered.
    Mac,
    /// A payload chunk failed to authenticate, or the chunks are cut or ordered wrongly.
    Payload,
}

/// A parsed header and where the payload starts.
pub(crate) struct Parsed<'a> {
    /// The recipient stanzas, in order.
    pub(crate) stanzas: Vec<Stanza>,
    mac: [u8; 32],
    /// The header bytes the MAC covers: up to and including `---`.
    covered: &'a [u8],
    /// The payload nonce and the STREAM chunks.
    payload: &'a [u8],
}

/// Parses the header of an age v1 file.
pub(crate) fn parse(file: &[u8]) -> Result<Parsed<'_>, ReadError> {
    let mut rest = file.strip_prefix(VERSION_LINE).ok_or(ReadError::Header)?;
    let mut stanzas = Vec::new();
    loop {
        let (line, after) = next_line(rest)?;
        if let Some(stanza_line) = line.strip_prefix(STANZA_PREFIX) {
            let (stanza, after_body) = stanza(stanza_line, after)?;
            stanzas.push(stanza);
            rest = after_body;
        } else if let Some(mac_text) = line.strip_prefix(MAC_PREFIX) {
            let mac_text = mac_text.strip_prefix(b" ").ok_or(ReadError::Header)?;
            if stanzas.is_empty() || mac_text.len() != MAC_COLUMNS {
                return Err(ReadError::Header);
            }
            let mut mac = [0u8; 32];
            let written = BASE64_STANDARD_NO_PAD
                .decode_slice(mac_text, &mut mac)
                .map_err(|_| ReadError::Header)?;
            if written != mac.len() {
                return Err(ReadError::Header);
            }
            // An scrypt stanza must be the only one (age's rule for passphrase files).
            if stanzas.len() > 1 && stanzas.iter().any(|s: &Stanza| s.tag == SCRYPT_TAG) {
                return Err(ReadError::Header);
            }
            let covered_len = file.len() - rest.len() + MAC_PREFIX.len();
            return Ok(Parsed {
                stanzas,
                mac,
                covered: &file[..covered_len],
                payload: after,
            });
        } else {
            return Err(ReadError::Header);
        }
    }
}

/// The line at the start of `input` without its `\n`, and what follows it.
fn next_line(input: &[u8]) -> Result<(&[u8], &[u8]), ReadError> {
    let end = input.iter().position(|&b| b == b'\n').ok_or(ReadError::Header)?;
    Ok((&input[..end], &input[end + 1..]))
}

/// One stanza: `line` is its first line after `-> `; the body follows in `input`.
fn stanza<'a>(line: &[u8], mut input: &'a [u8]) -> Result<(Stanza, &'a [u8]), ReadError> {
    let mut words = line.split(|&b| b == b' ').map(|word| {
        // Arbitrary strings: one or more visible ASCII characters.
        if !word.is_empty() && word.iter().all(|&b| (33..=126).contains(&b)) {
            // Visible ASCII is UTF-8.
            std::str::from_utf8(word)
                .map(str::to_owned)
                .map_err(|_| ReadError::Header)
        } else {
            Err(ReadError::Header)
        }
    });
    let tag = words.next().ok_or(ReadError::Header)??;
    let args = words.collect::<Result<Vec<_>, _>>()?;
    // Body: full 64-column lines, then one shorter line (possibly empty) that ends it.
    let mut text = Vec::new();
    loop {
        let (body_line, after) = next_line(input)?;
        if body_line.len() > COLUMNS {
            return Err(ReadError::Header);
        }
        text.extend_from_slice(body_line);
        input = after;
        if body_line.len() < COLUMNS {
            break;
        }
    }
    // Canonical base64 without padding: the engine refuses padding and stray trailing bits.
    let body = BASE64_STANDARD_NO_PAD
        .decode(&text)
        .map_err(|_| ReadError::Header)?;
    Ok((Stanza { tag, args, body }, input))
}

impl Parsed<'_> {
    /// Checks the header MAC with `file_key`, then decrypts the payload; nothing is returned
    /// unless every chunk authenticated and the chunks end where the file ends.
    pub(crate) fn open(&self, file_key: &FileKey) -> Result<Zeroizing<Vec<u8>>, ReadError> {
        hmac::verify(&header_mac_key(file_key), self.covered, &self.mac).map_err(|_| ReadError::Mac)?;
        if self.payload.len() < NONCE_BYTES {
            return Err(ReadError::Header);
        }
        let (nonce, chunks) = self.payload.split_at(NONCE_BYTES);
        let payload_key = payload_key(file_key, nonce);
        let sealed_chunk = CHUNK + TAG_BYTES;
        let count = chunks.len().div_ceil(sealed_chunk);
        if count == 0 {
            return Err(ReadError::Payload);
        }
        let mut plaintext = Zeroizing::new(Vec::with_capacity(chunks.len()));
        let mut buffer = Zeroizing::new(Vec::with_capacity(sealed_chunk.min(chunks.len())));
        for (index, chunk) in chunks.chunks(sealed_chunk).enumerate() {
            let last = index + 1 == count;
            // Only the final chunk may be short, and it may be empty only as the sole chunk.
            if chunk.len() < TAG_BYTES || (last && chunk.len() == TAG_BYTES && index > 0) {
                return Err(ReadError::Payload);
            }
            buffer.clear();
            buffer.extend_from_slice(chunk);
            let opened =
                chacha_open(&payload_key, chunk_nonce(index, last), &mut buffer).ok_or(ReadError::Payload)?;
            plaintext.extend_from_slice(opened);
        }
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(body: &str) -> Vec<u8> {
        format!("age-encryption.org/v1\n{body}--- {}\n", "A".repeat(43)).into_bytes()
    }

    #[test]
    fn stanzas_are_read_with_their_arguments_and_bodies() {
        let body = BASE64_STANDARD_NO_PAD.encode([7u8; 48]);
        let file = header(&format!("-> X25519 abc\n{}\n\n-> x-grease\n\n", &body));
        let parsed = parse(&file).expect("valid");
        assert_eq!(parsed.stanzas.len(), 2);
        assert_eq!(parsed.stanzas[0].tag, "X25519");
        assert_eq!(parsed.stanzas[0].args, ["abc"]);
        assert_eq!(parsed.stanzas[0].body, [7u8; 48]);
        assert!(parsed.stanzas[1].args.is_empty() && parsed.stanzas[1].body.is_empty());
        assert_eq!(parsed.covered, &file[..file.len() - 45]);
        assert!(parsed.payload.is_empty());
    }

    fn read(file: &[u8], identity: &age::x25519::Identity) -> Result<Vec<u8>, ReadError> {
        let parsed = parse(file)?;
        let file_key = age::Identity::unwrap_stanzas(identity, &parsed.stanzas)
            .ok_or(ReadError::Header)?
            .map_err(|_| ReadError::Header)?;
        parsed.open(&file_key).map(|plaintext| plaintext.to_vec())
    }

    #[test]
    fn every_size_around_the_chunk_boundaries_reads_back() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 7] {
            let plaintext: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let file = crate::age_write::write_age_file(
                std::iter::once(&recipient as &dyn age::Recipient),
                &plaintext,
            )
            .expect("writes");
            assert_eq!(read(&file, &identity), Ok(plaintext), "size {size}");
        }
    }

    #[test]
    fn every_cut_and_every_changed_byte_is_refused_without_panic() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        let file = crate::age_write::write_age_file(
            std::iter::once(&recipient as &dyn age::Recipient),
            b"a value of some length",
        )
        .expect("writes");
        assert!(read(&file, &identity).is_ok());
        for len in 0..file.len() {
            assert!(read(&file[..len], &identity).is_err(), "cut at {len}");
        }
        for at in 0..file.len() {
            for flip in [0x01u8, 0x80] {
                let mut changed = file.clone();
                changed[at] ^= flip;
                assert!(read(&changed, &identity).is_err(), "byte {at} ^ {flip:#x}");
            }
        }
    }

    #[test]
    fn grammar_breaks_are_header_failures() {
        for bad in [
            "-> X25519  abc\n\n",                 // empty argument
            "-> \n\n",                            // no tag
            "-> X25519 a\u{7f}b\n\n",             // invisible character
            "-> X25519 abc\nAAA=\n",              // padding
            "-> X25519 abc\nAB\n",                // trailing bits set
            "-> X25519 abc\n",                    // no body line before the MAC line
            "-> scrypt abc\n\n-> X25519 abc\n\n", // scrypt with another stanza
            "->X25519 abc\n\n",                   // no space after the arrow
        ] {
            assert_eq!(parse(&header(bad)).err(), Some(ReadError::Header), "{bad:?}");
        }
        assert_eq!(
            parse(b"age-encryption.org/v1\n--- x\n").err(),
            Some(ReadError::Header)
        );
        assert_eq!(parse(b"").err(), Some(ReadError::Header));
    }
}
