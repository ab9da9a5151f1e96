//! `ageseal edit`: only changed values are sealed again (unchanged ciphertexts stay byte-identical),
//! the plaintext lives in a 0600 file in a 0700 folder and is gone on every way out: a good edit,
//! an editor that fails, an edit that is refused, Ctrl-C.

use std::os::unix::fs::PermissionsExt;

use super::support::*;

/// An editor: a shell script run as `$EDITOR FILE`.
fn editor(repo: &Repo, name: &str, body: &str) -> String {
    let path = repo.path(&format!("../{name}.sh"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("editor");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

fn edit(repo: &Repo, editor: &str, runtime: &std::path::Path) -> std::process::Output {
    repo.run_env(
        &["edit", "db.yaml", "-i", "../keys/east.key"],
        &[
            ("EDITOR", editor.to_owned()),
            ("VISUAL", editor.to_owned()),
            ("XDG_RUNTIME_DIR", runtime.display().to_string()),
        ],
    )
}

fn leftovers(runtime: &std::path::Path) -> usize {
    std::fs::read_dir(runtime).expect("runtime dir").count()
}

fn ciphertext(text: &str, key: &str) -> String {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).expect("yaml");
    doc["spec"]["encryptedData"][key]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn only_changed_values_are_sealed_again_and_the_plaintext_is_gone() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let runtime = tempfile::tempdir().expect("runtime");
    let before = repo.read("db.yaml");
    let log = repo.path("../editor.log");
    let script = editor(
        &repo,
        "change",
        &format!(
            "stat -c '%a %n' \"$1\" \"$(dirname \"$1\")\" > {log}\nsed -i 's/hunter2/Edited-V4lue/; s/^  user: admin$/  user: admin\\n  added: Added-V4lue/' \"$1\"",
            log = log.display()
        ),
    );
    let out = edit(&repo, &script, runtime.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let after = repo.read("db.yaml");
    assert_eq!(
        ciphertext(&before, "user"),
        ciphertext(&after, "user"),
        "an unchanged value was sealed again"
    );
    assert_ne!(ciphertext(&before, "password"), ciphertext(&after, "password"));
    let perms = std::fs::read_to_string(&log).expect("log");
    let modes: Vec<&str> = perms
        .lines()
        .map(|l| l.split(' ').next().unwrap_or_default())
        .collect();
    assert_eq!(modes, ["600", "700"], "{perms}");
    assert_eq!(leftovers(runtime.path()), 0, "plaintext left behind");
    let out = repo.run(&["unseal", "-f", "db.yaml", "-i", "../keys/west.key"], "");
    assert_eq!(secret_value(&stdout(&out), "password"), b"Edited-V4lue");
    assert_eq!(secret_value(&stdout(&out), "added"), b"Added-V4lue");
    assert_eq!(secret_value(&stdout(&out), "user"), b"admin");
    // Saving without a change writes nothing.
    let out = edit(&repo, "true", runtime.path());
    assert!(stderr(&out).contains("no changes"), "{}", stderr(&out));
    assert_eq!(repo.read("db.yaml"), after);
}

#[test]
fn a_failed_refused_or_interrupted_edit_changes_nothing_and_leaves_nothing() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let runtime = tempfile::tempdir().expect("runtime");
    let before = repo.read("db.yaml");
    let cases = [
        ("fails", "exit 1".to_owned(), "the editor was stopped or failed"),
        (
            "garbage",
            "printf '{{{ not yaml' > \"$1\"".to_owned(),
            "the edited Secret",
        ),
        (
            "renames",
            "sed -i 's/name: db/name: web/' \"$1\"".to_owned(),
            "name or namespace changed",
        ),
        (
            "interrupted",
            "sed -i s/hunter2/Interrupted-V4lue/ \"$1\"; kill -INT $PPID; sleep 1".to_owned(),
            "stopped or failed",
        ),
    ];
    for (name, body, needle) in cases {
        let script = editor(&repo, name, &body);
        let out = edit(&repo, &script, runtime.path());
        assert_fails(&out, 3, needle);
        assert_eq!(repo.read("db.yaml"), before, "{name} changed the file");
        assert_eq!(leftovers(runtime.path()), 0, "{name} left plaintext behind");
        assert!(!stderr(&out).contains("hunter2"));
    }
}

/// Every catchable signal that would end `ageseal` (sent to it alone, as `kill` does, while the
/// editor runs): the edit is abandoned, the plaintext wiped, the file unchanged.
#[test]
fn every_terminating_signal_during_an_edit_leaves_no_plaintext() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let runtime = tempfile::tempdir().expect("runtime");
    let before = repo.read("db.yaml");
    for signal in [
        "HUP", "INT", "QUIT", "TERM", "USR1", "USR2", "ALRM", "VTALRM", "PROF", "XCPU", "XFSZ", "IO", "SYS",
        "TRAP",
    ] {
        // Up the process tree from the editor to ageseal itself, then signal only it.
        let body = format!(
            "sed -i s/hunter2/Signalled-V4lue/ \"$1\"\np=$PPID\nwhile [ \"$(cat /proc/$p/comm)\" != ageseal ]; do p=$(cut -d' ' -f4 /proc/$p/stat); done\nkill -{signal} $p\nsleep 0.3"
        );
        let script = editor(&repo, &format!("signal-{signal}"), &body);
        let out = edit(&repo, &script, runtime.path());
        assert_fails(&out, 3, "stopped or failed");
        assert_eq!(repo.read("db.yaml"), before, "SIG{signal} changed the file");
        assert_eq!(leftovers(runtime.path()), 0, "SIG{signal} left plaintext behind");
    }
}

/// Outside strict scope `metadata.name` is not authenticated: a name that is a path must never
/// decide where the plaintext goes. Such names are refused wherever a file is read.
#[test]
fn a_name_that_is_a_path_is_refused_and_nothing_is_written_outside() {
    let repo = Repo::new();
    let input = kubectl(DB);
    let out = repo.run(&["seal", "--scope", "namespace-wide", "-o", "db.yaml"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let runtime = tempfile::tempdir().expect("runtime");
    let inner = runtime.path().join("a/b");
    std::fs::create_dir_all(&inner).expect("mkdir");
    for name in ["../../evil", "/tmp/evil-abs", "Evil"] {
        tamper(&repo, "db.yaml", |doc| doc["metadata"]["name"] = name.into());
        let out = repo.run_env(
            &["edit", "db.yaml", "-i", "../keys/east.key"],
            &[
                ("EDITOR", "true".to_owned()),
                ("XDG_RUNTIME_DIR", inner.display().to_string()),
            ],
        );
        assert_fails(&out, 3, "is not a Kubernetes name");
        assert_eq!(std::fs::read_dir(&inner).expect("dir").count(), 0, "{name}");
        assert!(
            !runtime.path().join("evil.yaml").exists()
                && !std::path::Path::new("/tmp/evil-abs.yaml").exists()
        );
        for args in [
            vec!["unseal", "-f", "db.yaml", "-i", "../keys/east.key"],
            vec!["rekey", "--all", "-i", "../keys/east.key"],
        ] {
            let out = repo.run(&args, "");
            assert!(!out.status.success(), "{args:?} accepted {name}");
            assert!(
                stderr(&out).contains("is not a Kubernetes name"),
                "{args:?}: {}",
                stderr(&out)
            );
        }
        let out = repo.run(&["verify"], "");
        assert_eq!(out.status.code(), Some(1), "verify accepted {name}");
        assert!(
            stdout(&out).contains("is not a Kubernetes name")
                || stderr(&out).contains("is not a Kubernetes name")
        );
    }
}

/// A YAML typo does not throw the edit away: the file comes back with the error on top and the
/// user's changes kept, as with `kubectl edit`; fixing it and saving seals the change.
#[test]
fn a_typo_reopens_the_editor_with_the_error_on_top_and_the_changes_kept() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let runtime = tempfile::tempdir().expect("runtime");
    let seen = repo.path("../seen-error");
    let body = format!(
        "if grep -q '^# error: ' \"$1\"; then\n  grep '^# error: ' \"$1\" > {seen}\n  grep -q Typo-V4lue \"$1\" && sed -i -e s/Typo-V4lue/Fixed-V4lue/ -e '/^BROKEN/d' \"$1\"\nelse\n  sed -i s/hunter2/Typo-V4lue/ \"$1\"; echo 'BROKEN: [' >> \"$1\"\nfi",
        seen = seen.display()
    );
    let script = editor(&repo, "typo", &body);
    let out = edit(&repo, &script, runtime.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let error = std::fs::read_to_string(&seen).expect("the editor saw the error");
    assert!(error.contains("the edited Secret"), "{error}");
    assert_eq!(
        opened_value(&repo, "db.yaml", "../keys/east.key", "password"),
        "Fixed-V4lue"
    );
    assert_eq!(leftovers(runtime.path()), 0);
    // Emptying the file cancels.
    let before = repo.read("db.yaml");
    let script = editor(&repo, "empties", ": > \"$1\"");
    assert_fails(&edit(&repo, &script, runtime.path()), 3, "emptied");
    assert_eq!(repo.read("db.yaml"), before);
}
