//! Interop of hybrid post-quantum recipients with typage (npm `age-encryption`, the TypeScript
//! age by age's author, which has `mlkem768x25519`), a peer nobody here wrote: it opens what we
//! seal to hybrid keys, we open what it encrypts, and each reads the other's key strings.
//! scripts/test.sh installs it (`npm ci` in core/tests/typage); a missing peer fails the test.

use std::process::Command;

use ageseal_core::envelope::encode;
use ageseal_core::{Binding, Identity, Keyring, Location, Recipient, Scope, seal, unseal};

fn typage(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let dir = crate::package_dir().join("tests/typage");
    assert!(
        dir.join("node_modules/age-encryption").is_dir(),
        "typage is not installed: scripts/test.sh runs `npm ci` in {}",
        dir.display()
    );
    let what = format!("typage {:?} (node)", args.first());
    crate::piped(
        Command::new("node").arg(dir.join("peer.mjs")).args(args),
        stdin,
        &what,
    )
}

#[test]
fn typage_opens_what_we_seal_to_hybrid_keys_and_we_open_what_it_encrypts() {
    let location = Location::new("payments", "db", "password");
    let binding = Binding::new(Scope::Strict, &location).expect("valid");
    let value = b"post-quantum p@ss\x00";

    // typage's keys: we parse its identity and recipient strings alike.
    let keys = String::from_utf8(typage(&["keygen"], b"")).expect("UTF-8");
    let mut lines = keys.lines();
    let (their_identity, their_recipient) = (
        lines.next().expect("identity").to_owned(),
        lines.next().expect("recipient").to_owned(),
    );
    let recipient: Recipient = their_recipient.parse().expect("typage's age1pq1 parses");
    assert!(recipient.is_hybrid());
    let parsed = Identity::parse(&their_identity).expect("typage's AGE-SECRET-KEY-PQ-1 parses");
    assert_eq!(
        parsed.recipient(),
        &recipient,
        "same public key derived from the seed"
    );

    // We seal to typage's key and one of ours; typage opens it and sees our envelope.
    let ours = Identity::generate_hybrid();
    let sealed = seal(value, &binding, &[ours.recipient().clone(), recipient]).expect("seals");
    let opened = typage(&["decrypt", &their_identity], &sealed);
    assert_eq!(opened, encode(&binding, value).as_slice());

    // typage encrypts an envelope to our key; we open it, binding checked.
    let file = typage(
        &["encrypt", &ours.recipient().to_string()],
        &encode(&binding, value),
    );
    assert!(
        file.windows(15).any(|w| w == b"mlkem768x25519 "),
        "a hybrid stanza"
    );
    let keyring = Keyring::new([Identity::generate_hybrid(), ours]);
    let got = unseal(&file, &keyring, &location, &[]).expect("opens");
    assert_eq!(got.as_slice(), value);
    let elsewhere = Location::new("payments", "cache", "password");
    assert!(
        unseal(&file, &keyring, &elsewhere, &[]).is_err(),
        "the binding still holds"
    );
}
