//! Writes the test vectors under core/tests/vectors (run once; the files are committed).
//!
//! `cargo run -p ageseal-core --example make_vectors` keeps the fixed test identities and
//! rewrites every vector. age encryption is randomized, so a rerun changes the bytes but not
//! what each vector proves. Needs the `age` CLI for the vector that the CLI itself encrypted.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ageseal_core::envelope::encode;
use ageseal_core::limits::MAX_VALUE_BYTES;
use ageseal_core::{Binding, Identity, Location, Recipient, Scope, parse_identity_file, seal};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

struct Vector<'a> {
    name: &'a str,
    about: &'a str,
    identity: &'a str,
    location: Location,
    hint: Vec<String>,
    expect: &'a str,
    value: &'a [u8],
    sealed: Vec<u8>,
}

fn main() {
    // Read at run time (cargo run sets it): a compiled-in path would name whichever checkout
    // first built a shared target folder.
    let package = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from("core"), PathBuf::from);
    let dir = package.join("tests/vectors");
    let alice = identity(&dir, "alice");
    let bob = identity(&dir, "bob");
    let carol = identity(&dir, "carol");
    let both = [alice.recipient().clone(), bob.recipient().clone()];
    let hint: Vec<String> = both.iter().map(|r| r.id().to_string()).collect();
    let here = Location::new("payments", "db", "password");
    let strict = Binding::new(Scope::Strict, &here).expect("valid");
    let ns_wide = Binding::new(Scope::NamespaceWide, &here).expect("valid");
    let cluster = Binding::new(Scope::ClusterWide, &here).expect("valid");
    let seal_to = |binding: &Binding, value: &[u8]| seal(value, binding, &both).expect("seals");
    let value: &[u8] = b"correct horse battery staple";
    let binary: Vec<u8> = (0..=255).collect();
    let good = seal_to(&strict, value);
    let oversize = vec![b'x'; MAX_VALUE_BYTES + 1];

    let v = |name, about, identity, location: &Location, hint: &[String], expect, value, sealed| Vector {
        name,
        about,
        identity,
        location: location.clone(),
        hint: hint.to_vec(),
        expect,
        value,
        sealed,
    };
    let elsewhere = |ns: &str, name: &str, key: &str| Location::new(ns, name, key);
    let vectors = vec![
        v(
            "ok_strict",
            "strict value opened where it was sealed, hint in stanza order",
            "alice",
            &here,
            &hint,
            "ok",
            value,
            good.clone(),
        ),
        v(
            "ok_second_recipient_no_hint",
            "the second region opens it with no hint at all",
            "bob",
            &here,
            &[],
            "ok",
            value,
            good.clone(),
        ),
        v(
            "ok_wrong_hint",
            "a swapped hint only costs time; the right key still opens it",
            "alice",
            &here,
            &[hint[1].clone(), hint[0].clone()],
            "ok",
            value,
            good.clone(),
        ),
        v(
            "ok_namespace_wide",
            "namespace-wide value opened under another name in its namespace",
            "alice",
            &elsewhere("payments", "cache", "password"),
            &hint,
            "ok",
            value,
            seal_to(&ns_wide, value),
        ),
        v(
            "ok_cluster_wide",
            "cluster-wide value opened in another namespace",
            "bob",
            &elsewhere("billing", "other", "password"),
            &hint,
            "ok",
            value,
            seal_to(&cluster, value),
        ),
        v(
            "ok_empty_value",
            "an empty value is a value",
            "alice",
            &here,
            &hint,
            "ok",
            b"",
            seal_to(&strict, b""),
        ),
        v(
            "ok_binary_value",
            "every byte value survives, newlines and NULs included",
            "alice",
            &here,
            &hint,
            "ok",
            &binary,
            seal_to(&strict, &binary),
        ),
        v(
            "ok_from_age_cli",
            "an envelope encrypted by the age CLI (age -r) opens",
            "bob",
            &here,
            &[],
            "ok",
            value,
            age_cli_encrypt(&encode(&strict, value), &both),
        ),
        v(
            "fail_wrong_namespace",
            "strict value replayed into another namespace",
            "alice",
            &elsewhere("billing", "db", "password"),
            &hint,
            "ScopeMismatch",
            value,
            good.clone(),
        ),
        v(
            "fail_wrong_name",
            "strict value replayed under another SealedSecret name",
            "alice",
            &elsewhere("payments", "web", "password"),
            &hint,
            "ScopeMismatch",
            value,
            good.clone(),
        ),
        v(
            "fail_wrong_key",
            "value moved to another encryptedData key",
            "alice",
            &elsewhere("payments", "db", "username"),
            &hint,
            "ScopeMismatch",
            value,
            good.clone(),
        ),
        v(
            "fail_cluster_wide_confusion",
            "strict value placed in an object annotated cluster-wide in another namespace: the envelope, not the annotation, decides",
            "alice",
            &elsewhere("kube-system", "db", "password"),
            &hint,
            "ScopeMismatch",
            value,
            good.clone(),
        ),
        v(
            "fail_namespace_wide_other_namespace",
            "namespace-wide value replayed into another namespace",
            "alice",
            &elsewhere("billing", "db", "password"),
            &hint,
            "ScopeMismatch",
            value,
            seal_to(&ns_wide, value),
        ),
        v(
            "fail_not_a_recipient",
            "an identity the value was not sealed to",
            "carol",
            &here,
            &hint,
            "NoMatchingKey",
            value,
            good.clone(),
        ),
        v(
            "fail_truncated",
            "payload cut short",
            "alice",
            &here,
            &hint,
            "MalformedAgeFile",
            value,
            good[..good.len() - 10].to_vec(),
        ),
        v(
            "fail_flipped_header_byte",
            "one byte of the header MAC changed",
            "alice",
            &here,
            &hint,
            "MalformedAgeFile",
            value,
            flip_mac(&good),
        ),
        v(
            "fail_flipped_payload_byte",
            "one byte of the encrypted payload changed",
            "alice",
            &here,
            &hint,
            "MalformedAgeFile",
            value,
            flip_last(&good),
        ),
        v(
            "fail_too_many_stanzas",
            "33 recipient stanzas (the limit is 32)",
            "alice",
            &here,
            &[],
            "TooManyStanzas",
            value,
            raw_age(&encode(&strict, value), &vec![alice.recipient().clone(); 32]),
        ),
        v(
            "fail_unknown_envelope_version",
            "an envelope from a future format version",
            "alice",
            &here,
            &[],
            "UnsupportedVersion",
            value,
            raw_age(b"ageseal/v2\nscope: strict\n\nfuture", &both),
        ),
        v(
            "fail_not_an_envelope",
            "a bare secret encrypted with age, no envelope",
            "alice",
            &here,
            &[],
            "MalformedEnvelope",
            value,
            raw_age(value, &both),
        ),
        v(
            "fail_oversize",
            "a value one byte over 1 MiB",
            "alice",
            &here,
            &[],
            "TooLarge",
            &[],
            raw_age(&encode(&strict, &oversize), &both),
        ),
    ];
    let _ = carol;
    for vector in &vectors {
        write_vector(&dir, vector);
    }
    println!("wrote {} vectors to {}", vectors.len(), dir.display());
}

fn identity(dir: &Path, name: &str) -> Identity {
    let path = dir.join("identities").join(format!("{name}.key"));
    if let Ok(text) = std::fs::read_to_string(&path) {
        return parse_identity_file(&text).expect("valid identity").remove(0);
    }
    let identity = Identity::generate();
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    let text = identity.to_identity_file("fixed test identity: never use outside tests");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("create identity file");
    file.write_all(text.as_bytes()).expect("write identity");
    identity
}

fn raw_age(plaintext: &[u8], recipients: &[Recipient]) -> Vec<u8> {
    let parsed: Vec<age::x25519::Recipient> = recipients
        .iter()
        .map(|r| r.to_string().parse().expect("valid"))
        .collect();
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient)).expect("recipients");
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).expect("header");
    writer.write_all(plaintext).expect("write");
    writer.finish().expect("finish");
    out
}

fn age_cli_encrypt(plaintext: &[u8], recipients: &[Recipient]) -> Vec<u8> {
    let mut cmd = Command::new("age");
    for r in recipients {
        cmd.arg("-r").arg(r.to_string());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the age CLI is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(plaintext)
        .expect("write");
    let out = child.wait_with_output().expect("age runs");
    assert!(out.status.success(), "age failed");
    out.stdout
}

fn flip_mac(sealed: &[u8]) -> Vec<u8> {
    let mut out = sealed.to_vec();
    let mac = out.windows(4).position(|w| w == b"--- ").expect("mac line") + 10;
    out[mac] = if out[mac] == b'A' { b'B' } else { b'A' };
    out
}

fn flip_last(sealed: &[u8]) -> Vec<u8> {
    let mut out = sealed.to_vec();
    let last = out.len() - 20;
    out[last] ^= 0x01;
    out
}

fn write_vector(dir: &Path, v: &Vector) {
    let mut text = String::new();
    writeln!(text, "# {}", v.about).ok();
    writeln!(text, "identity: {}", v.identity).ok();
    writeln!(
        text,
        "location: {}/{}/{}",
        v.location.namespace, v.location.name, v.location.key
    )
    .ok();
    writeln!(text, "hint: {}", v.hint.join(",")).ok();
    writeln!(text, "expect: {}", v.expect).ok();
    writeln!(text, "value: {}", BASE64_STANDARD.encode(v.value)).ok();
    writeln!(text, "sealed: {}", BASE64_STANDARD.encode(&v.sealed)).ok();
    std::fs::write(dir.join(format!("{}.txt", v.name)), text).expect("write vector");
}
