//! Break-glass from anywhere: `unseal`, `edit` and `rekey` without `-i` open a file with the
//! recovery identity named by the `.ageseal.yaml` that governs that file, wherever they are run
//! from: the home folder, or inside another repository with a recovery key of its own.

use super::support::*;

/// Repository `repo` with its recovery identity file named in its config.
fn with_recovery_identity(repo: &Repo) {
    let config = repo.read(".ageseal.yaml").replace(
        &format!("recipient: {}}}", repo.recovery),
        &format!("recipient: {}, identity: ../keys/recovery.key}}", repo.recovery),
    );
    assert!(config.contains("identity: ../keys/recovery.key"), "{config}");
    repo.write(".ageseal.yaml", &config);
}

#[test]
fn recovery_uses_the_files_own_config_from_any_folder() {
    let (a, b) = (Repo::new(), Repo::new());
    with_recovery_identity(&a);
    with_recovery_identity(&b);
    a.seal("apps/db.yaml", DB);
    let file = a.path("apps/db.yaml").display().to_string();
    let folder = a.path("apps").display().to_string();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    for dir in [elsewhere.path(), b.dir.as_path()] {
        let out = ageseal_in(dir, &["unseal", "-f", &file, "--key", "password"], "", &[]);
        assert!(
            out.status.success(),
            "unseal from {}: {}",
            dir.display(),
            stderr(&out)
        );
        assert_eq!(stdout(&out), "hunter2");
        let out = ageseal_in(dir, &["edit", &file], "", &[("EDITOR", "true".to_owned())]);
        assert!(
            out.status.success(),
            "edit from {}: {}",
            dir.display(),
            stderr(&out)
        );
        let out = ageseal_in(dir, &["rekey", "--all", &folder], "", &[]);
        assert!(
            out.status.success(),
            "rekey from {}: {}",
            dir.display(),
            stderr(&out)
        );
    }
    // Still a clear error where the governing config names no recovery identity file.
    let c = Repo::new();
    c.seal("db.yaml", DB);
    let out = ageseal_in(
        elsewhere.path(),
        &["unseal", "-f", &c.path("db.yaml").display().to_string()],
        "",
        &[],
    );
    assert_fails(&out, 3, "names no recovery identity file");
    assert!(
        stderr(&out).contains(&c.path(".ageseal.yaml").display().to_string()),
        "{}",
        stderr(&out)
    );
}

/// The command `recovery add` suggests, with the placeholder filled in, works as printed.
fn suggested(out: &std::process::Output, identity: &str) -> Vec<String> {
    let err = stderr(out);
    let command = err
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command suggested: {err}"))
        .replace("IDENTITY", identity);
    command.split_whitespace().skip(1).map(str::to_owned).collect()
}

#[test]
fn the_rekey_suggested_after_a_new_recovery_key_works_as_printed() {
    for old_has_identity in [true, false] {
        let repo = Repo::new();
        if old_has_identity {
            with_recovery_identity(&repo);
        }
        repo.seal("db.yaml", DB);
        let new = repo.keygen("../keys/new-recovery.key");
        let out = repo.run(
            &[
                "recovery",
                "add",
                "second",
                "--recipient",
                &new,
                "--identity",
                "../keys/new-recovery.key",
            ],
            "",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let args = suggested(&out, "../keys/east.key");
        assert_eq!(
            args.iter().any(|a| a == "-i"),
            !old_has_identity,
            "{}",
            stderr(&out)
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = repo.run(&args, "");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        // Now the new recovery key opens the file.
        let out = repo.run(&["unseal", "-f", "db.yaml", "-i", "../keys/new-recovery.key"], "");
        assert!(out.status.success(), "{}", stderr(&out));
    }
}
