//! `ageseal-controller`'s own command line: a private key given where a path or a name belongs
//! is refused without being echoed, and the user is told to rotate it.

use std::process::Command;

#[test]
fn a_private_key_on_the_command_line_is_refused_unechoed() {
    let binary = env!("CARGO_BIN_EXE_ageseal-controller");
    let key = ageseal_core::Identity::generate().to_identity_file("2026-01-01T00:00:00Z");
    let key = key
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an identity")
        .to_owned();
    for args in [
        vec!["render", "-f", "-", "-i", &key],
        vec!["render", "-f", &key, "-i", "/dev/null"],
        vec!["run", "--region", &key],
        vec!["run", "--region", "r", "--controller-namespace", &key],
    ] {
        let out = Command::new(binary).args(&args).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains(&key[20..]), "{args:?} echoed the key: {err}");
        assert!(
            err.contains("error: ") && err.contains("rotate it"),
            "{args:?}: {err}"
        );
    }
}
