//! Interop with the age CLI (Debian package `age`), a peer nobody here wrote: it opens what we
//! seal, and we open what it encrypts. scripts/test.sh installs it; a missing CLI fails the test.

use std::process::Command;

use ageseal_core::envelope::encode;
use ageseal_core::{
    Binding, Identity, Keyring, Location, Recipient, Scope, parse_identity_file, seal, unseal,
};

fn age(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    crate::piped(Command::new("age").args(args), stdin, &format!("age {args:?}"))
}

fn keygen(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, Identity) {
    let path = dir.join(name);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("age-keygen runs");
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).expect("identity written");
    (
        path,
        parse_identity_file(&text)
            .expect("age-keygen output parses")
            .remove(0),
    )
}

#[test]
fn age_cli_opens_what_we_seal_and_sees_our_envelope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (east_path, east) = keygen(dir.path(), "east.key");
    let (west_path, west) = keygen(dir.path(), "west.key");
    let location = Location::new("payments", "db", "password");
    let binding = Binding::new(Scope::Strict, &location).expect("valid");
    let value = b"p@ss\nword\x00";
    let sealed = seal(
        value,
        &binding,
        &[east.recipient().clone(), west.recipient().clone()],
    )
    .expect("seals");
    for path in [east_path, west_path] {
        let opened = age(&["-d", "-i", path.to_str().expect("utf-8")], &sealed);
        assert_eq!(opened, encode(&binding, value).as_slice());
    }
}

#[test]
fn we_open_what_the_age_cli_encrypts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, identity) = keygen(dir.path(), "key");
    let stranger: Recipient = Identity::generate()
        .recipient()
        .to_string()
        .parse()
        .expect("valid");
    let location = Location::new("payments", "db", "password");
    let binding = Binding::new(Scope::NamespaceWide, &location).expect("valid");
    let envelope = encode(&binding, b"from the age CLI");
    let sealed = age(
        &[
            "-r",
            &stranger.to_string(),
            "-r",
            &identity.recipient().to_string(),
        ],
        &envelope,
    );
    let keyring = Keyring::new([identity]);
    let other_name = Location::new("payments", "cache", "password");
    let value = unseal(&sealed, &keyring, &other_name, &[]).expect("opens");
    assert_eq!(value.as_slice(), b"from the age CLI");
    let armored = age(
        &["-a", "-r", &keyring.identities()[0].recipient().to_string()],
        &envelope,
    );
    assert!(
        unseal(&armored, &keyring, &location, &[]).is_err(),
        "armored files are not ageseal values"
    );
}
