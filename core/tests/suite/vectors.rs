//! Runs every file under tests/vectors: `ok_*` must open to the recorded value, `fail_*` must be
//! rejected with the recorded error, and no error message may quote the value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ageseal_core::{Keyring, Location, RecipientId, parse_identity_file, unseal_base64};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

fn vectors_dir() -> PathBuf {
    crate::package_dir().join("tests/vectors")
}

fn fields(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            line.split_once(": ")
                .or_else(|| line.strip_suffix(':').map(|k| (k, "")))
        })
        .collect()
}

fn keyring(name: &str) -> Keyring {
    let path = vectors_dir().join("identities").join(format!("{name}.key"));
    let text = std::fs::read_to_string(path).expect("identity file");
    Keyring::new(parse_identity_file(&text).expect("identity parses"))
}

fn run(path: &Path) -> Result<(), String> {
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let f = fields(&text);
    let location: Vec<&str> = f["location"].split('/').collect();
    let location = Location::new(location[0], location[1], location[2]);
    let hint: Vec<Option<RecipientId>> = f["hint"]
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect();
    let expected_value = BASE64_STANDARD.decode(f["value"]).map_err(|e| e.to_string())?;
    let result = unseal_base64(f["sealed"], &keyring(f["identity"]), &location, &hint);
    match (f["expect"], result) {
        ("ok", Ok(value)) if file.starts_with("ok_") && value.as_slice() == expected_value => Ok(()),
        ("ok", other) => Err(format!(
            "{file}: expected the value, got {:?}",
            other.map(|_| "a different value")
        )),
        (code, Err(err)) if file.starts_with("fail_") && err.code() == code => {
            let message = err.to_string();
            let quoted = !expected_value.is_empty()
                && message.contains(
                    std::str::from_utf8(&expected_value[..8.min(expected_value.len())]).unwrap_or("\u{0}"),
                );
            if quoted {
                Err(format!("{file}: error message quotes the value: {message}"))
            } else {
                Ok(())
            }
        }
        (code, other) => Err(format!(
            "{file}: expected {code}, got {:?}",
            other.map(|_| "a value").map_err(|e| e.code())
        )),
    }
}

#[test]
fn every_vector_gives_its_recorded_outcome() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("vectors dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    let failures: Vec<String> = files.iter().filter_map(|p| run(p).err()).collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let count = |prefix: &str| {
        files
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .count()
    };
    assert!(count("ok_") >= 5, "too few ok vectors");
    assert!(count("fail_") >= 8, "too few fail vectors");
    assert_eq!(
        count("ok_") + count("fail_"),
        files.len(),
        "every vector is ok_ or fail_"
    );
}

#[test]
fn the_runner_notices_a_wrong_expectation() {
    // Guard against a runner that passes everything: a doctored copy of a vector must fail.
    let original = std::fs::read_to_string(vectors_dir().join("ok_strict.txt")).expect("vector");
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        (
            "ok_doctored.txt",
            original.replace("location: payments/db/", "location: billing/db/"),
        ),
        (
            "fail_doctored.txt",
            original.replace("expect: ok", "expect: ScopeMismatch"),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        assert!(run(&path).is_err(), "{name} should not pass");
    }
}
