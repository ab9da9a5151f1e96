//! Writing an age v1 file (c2sp.org/age): header, header MAC and STREAM payload, with AWS-LC's
//! HKDF-SHA256, HMAC-SHA256 and ChaCha20-Poly1305 (`crate::age_v1`).
//!
//! Why not the age crate's `Encryptor`: sealing a Secret writes one small file per value, and
//! per process the `Encryptor` seeds a ChaCha generator for its grease stanza (CPU feature
//! detection first, about 40 us on the project's virtual machine, where each `cpuid` traps) and
//! builds its payload writer around a 64 KiB buffer; RustCrypto's ciphers detect CPU features
//! once more. AWS-LC detected them when the process started. The files are the same format:
//! the age CLI, the age crate and typage read them (core/tests), as does ageseal's own reader
//! (`crate::age_read`).

use std::collections::HashSet;

use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::age_v1::{
    CHUNK, COLUMNS, NONCE_BYTES, TAG_BYTES, VERSION_LINE, chacha_seal, chunk_nonce, header_mac_key,
    payload_key,
};

/// Random bytes a file takes: the file key, the payload nonce, and the grease stanza's choices.
const RANDOM_BYTES: usize = FILE_KEY_BYTES + NONCE_BYTES + GREASE_RANDOM;
/// The grease stanza's random bytes at most: a tag of 1 to 8 characters (a length byte and 8),
/// the number of arguments (0 to 4), each of 1 to 8 characters, and a body of 0 to 99 bytes.
const GREASE_RANDOM: usize = (1 + 8) + 1 + 4 * (1 + 8) + (1 + 99);

/// Why a file could not be written.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// A recipient could not wrap the file key.
    Wrap(age::EncryptError),
    /// Recipients whose labels differ (age's rule: e.g. post-quantum and classic ones).
    IncompatibleRecipients,
}

/// The age v1 file of `plaintext` for `recipients`, each wrapping a fresh file key, followed by
/// a random grease stanza as age writes one.
pub(crate) fn write_age_file<'a>(
    recipients: impl ExactSizeIterator<Item = &'a dyn age::Recipient>,
    plaintext: &[u8],
) -> Result<Vec<u8>, WriteError> {
    let mut random = Zeroizing::new([0u8; RANDOM_BYTES]);
    rand::rngs::OsRng.fill_bytes(random.as_mut());
    let (key_bytes, rest) = random.split_at(FILE_KEY_BYTES);
    let (nonce, grease_random) = rest.split_at(NONCE_BYTES);
    let file_key = FileKey::init_with_mut(|key| key.copy_from_slice(key_bytes));

    let mut stanzas = Vec::with_capacity(recipients.len() + 1);
    let mut labels: Option<HashSet<String>> = None;
    for recipient in recipients {
        let (mut wrapped, these) = recipient.wrap_file_key(&file_key).map_err(WriteError::Wrap)?;
        match &labels {
            Some(first) if *first != these => return Err(WriteError::IncompatibleRecipients),
            Some(_) => {}
            None => labels = Some(these),
        }
        stanzas.append(&mut wrapped);
    }
    stanzas.push(grease(grease_random));

    let chunks = plaintext.len().div_ceil(CHUNK).max(1);
    // At least the header's length: the version and MAC lines, and for each stanza its tag and
    // arguments and its body in base64 (4/3 of it) with line breaks.
    let header = 96
        + stanzas
            .iter()
            .map(|s| {
                8 + s.tag.len() + s.args.iter().map(|a| a.len() + 1).sum::<usize>() + s.body.len() * 3 / 2
            })
            .sum::<usize>();
    let mut out = Vec::with_capacity(header + NONCE_BYTES + plaintext.len() + chunks * TAG_BYTES);
    out.extend_from_slice(VERSION_LINE);
    for stanza in &stanzas {
        write_stanza(stanza, &mut out);
    }
    out.extend_from_slice(b"---");
    let mac = hmac::sign(&header_mac_key(&file_key), &out);
    out.push(b' ');
    out.extend_from_slice(BASE64_STANDARD_NO_PAD.encode(mac.as_ref()).as_bytes());
    out.push(b'\n');

    out.extend_from_slice(nonce);
    let payload_key = payload_key(&file_key, nonce);
    // An empty payload is one empty, final chunk; otherwise the last chunk is final, full or not.
    let pieces = plaintext
        .chunks(CHUNK)
        .chain(plaintext.is_empty().then_some(&[][..]));
    for (index, chunk) in pieces.enumerate() {
        chacha_seal(
            &payload_key,
            chunk_nonce(index, index + 1 == chunks),
            chunk,
            &mut out,
        );
    }
    Ok(out)
}

/// `-> TAG ARGS...`, then the body in standard base64 without padding, 64 columns a line, the
/// last line shorter (empty when the body fills whole lines).
fn write_stanza(stanza: &Stanza, out: &mut Vec<u8>) {
    out.extend_from_slice(b"-> ");
    out.extend_from_slice(stanza.tag.as_bytes());
    for arg in &stanza.args {
        out.push(b' ');
        out.extend_from_slice(arg.as_bytes());
    }
    out.push(b'\n');
    let body = BASE64_STANDARD_NO_PAD.encode(&stanza.body);
    let mut lines = body.as_bytes().chunks(COLUMNS).peekable();
    while let Some(line) = lines.next() {
        out.extend_from_slice(line);
        out.push(b'\n');
        if lines.peek().is_none() && line.len() == COLUMNS {
            out.push(b'\n');
        }
    }
    if body.is_empty() {
        out.push(b'\n');
    }
}

/// A stanza of a random, unknown type (its tag ends in `-grease`) that every age reader must
/// skip: it keeps readers from relying on a fixed set of stanzas, as age's own files do.
fn grease(random: &[u8]) -> Stanza {
    let mut next = random.iter().copied();
    let mut byte = move || next.next().unwrap_or(0);
    // Visible ASCII, 33 to 126, as age's arbitrary strings.
    let word = |byte: &mut dyn FnMut() -> u8| {
        let length = 1 + usize::from(byte() % 8);
        (0..length)
            .map(|_| char::from(33 + byte() % 94))
            .collect::<String>()
    };
    let tag = format!("{}-grease", word(&mut byte));
    let args = (0..byte() % 5).map(|_| word(&mut byte)).collect();
    let body = (0..byte() % 100).map(|_| byte()).collect();
    Stanza { tag, args, body }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn open_with_age_crate(file: &[u8], identity: &age::x25519::Identity) -> Vec<u8> {
        let decryptor = age::Decryptor::new(file).expect("an age v1 header");
        let mut reader = decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .expect("the identity opens it");
        let mut out = Vec::new();
        reader.read_to_end(&mut out).expect("every chunk authenticates");
        out
    }

    #[test]
    fn the_age_crate_opens_every_size_around_the_chunk_boundaries() {
        let identity = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        let recipients = [identity.to_public(), other.to_public()];
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5] {
            let plaintext: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let file = write_age_file(recipients.iter().map(|r| r as &dyn age::Recipient), &plaintext)
                .expect("writes");
            assert_eq!(open_with_age_crate(&file, &identity), plaintext, "size {size}");
            assert_eq!(open_with_age_crate(&file, &other), plaintext, "size {size}");
            let chunks = size.div_ceil(CHUNK).max(1);
            let header_end = file.windows(4).position(|w| w == b"--- ").expect("MAC line");
            let payload =
                file.len() - file[header_end..].iter().position(|b| *b == b'\n').unwrap() - header_end - 1;
            assert_eq!(
                payload,
                16 + size + chunks * TAG_BYTES,
                "size {size}: nonce, chunks, tags"
            );
        }
    }

    #[test]
    fn a_changed_header_or_payload_is_refused() {
        let identity = age::x25519::Identity::generate();
        let file = write_age_file(
            std::iter::once(&identity.to_public() as &dyn age::Recipient),
            b"value",
        )
        .expect("writes");
        for at in [23, file.len() - 20, file.len() - 1] {
            let mut changed = file.clone();
            changed[at] ^= 1;
            let opened = age::Decryptor::new(&changed[..]).ok().and_then(|d| {
                let mut reader = d.decrypt(std::iter::once(&identity as &dyn age::Identity)).ok()?;
                let mut out = Vec::new();
                reader.read_to_end(&mut out).ok().map(|_| out)
            });
            assert_eq!(opened, None, "byte {at} changed");
        }
    }

    #[test]
    fn stanza_bodies_wrap_at_64_columns_and_end_with_a_short_line() {
        let text = |body: Vec<u8>| {
            let mut out = Vec::new();
            let stanza = Stanza {
                tag: "t".into(),
                args: vec!["a".into(), "b".into()],
                body,
            };
            write_stanza(&stanza, &mut out);
            String::from_utf8(out).expect("ASCII")
        };
        assert_eq!(text(vec![]), "-> t a b\n\n");
        assert_eq!(text(vec![0; 3]), "-> t a b\nAAAA\n");
        assert_eq!(text(vec![0; 48]), format!("-> t a b\n{}\n\n", "A".repeat(64)));
        assert_eq!(text(vec![0; 49]), format!("-> t a b\n{}\nAA\n", "A".repeat(64)));
    }

    #[test]
    fn grease_is_an_unknown_stanza_of_visible_characters_within_bounds() {
        for _ in 0..200 {
            let mut random = [0u8; GREASE_RANDOM];
            rand::rngs::OsRng.fill_bytes(&mut random);
            let stanza = grease(&random);
            let name = stanza.tag.strip_suffix("-grease").expect("tag ends in -grease");
            assert!((1..=8).contains(&name.len()), "{}", stanza.tag);
            assert!(stanza.args.len() <= 4 && stanza.body.len() < 100);
            for word in std::iter::once(name).chain(stanza.args.iter().map(String::as_str)) {
                assert!(
                    !word.is_empty() && word.bytes().all(|b| (33..=126).contains(&b)),
                    "{word:?}"
                );
            }
        }
        let top = grease(&[0xff; GREASE_RANDOM]);
        assert_eq!((top.tag.len(), top.args.len()), (8 + 7, 0));
    }

    #[test]
    fn recipients_with_different_labels_are_refused() {
        let classic = age::x25519::Identity::generate().to_public();
        let hybrid = crate::keys::Identity::generate_hybrid();
        let mixed: [&dyn age::Recipient; 2] = [&classic, hybrid.recipient().as_age()];
        assert!(matches!(
            write_age_file(mixed.into_iter(), b"v"),
            Err(WriteError::IncompatibleRecipients)
        ));
    }
}
