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

#[test]
fn usage_errors_say_error_and_hint_and_run_help_says_how_the_cluster_is_found() {
    let binary = env!("CARGO_BIN_EXE_ageseal-controller");
    for args in [
        vec!["run"],
        vec!["run", "--region", "r", "--no-such-flag"],
        vec!["nonsense"],
    ] {
        let out = Command::new(binary).args(&args).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.len() == 2 && lines[0].starts_with("error: ") && lines[1].starts_with("hint: "),
            "{args:?}: {err}"
        );
    }
    let out = Command::new(binary)
        .args(["run", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for needle in ["KUBECONFIG", "ServiceAccount", "POD_NAMESPACE", "ageseal-system"] {
        assert!(help.contains(needle), "run --help does not say {needle}:\n{help}");
    }
}
