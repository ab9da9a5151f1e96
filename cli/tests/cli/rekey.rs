//! `ageseal rekey`: new regions, idempotence, files it cannot open.

use super::support::*;

#[test]
fn rekey_brings_in_a_new_region_and_a_second_run_changes_nothing() {
    let repo = Repo::new();
    repo.seal("apps/db.yaml", DB);
    repo.seal(
        "apps/cache.yaml",
        &[
            "generic",
            "cache",
            "-n",
            "payments",
            "--from-literal=url=redis://x",
        ],
    );
    let south = repo.keygen("../keys/south.key");
    assert!(
        repo.run(&["region", "add", "ap-south-1", "--recipient", &south], "")
            .status
            .success()
    );
    assert_eq!(
        repo.run(&["verify"], "").status.code(),
        Some(1),
        "old files are not sealed for the new region"
    );
    assert_fails(
        &repo.run(&["unseal", "-f", "apps/db.yaml", "-i", "../keys/south.key"], ""),
        4,
        "none of the given",
    );

    let before = repo.read("apps/db.yaml");
    let out = repo.run(&["rekey", "--dry-run", "-i", "../keys/recovery.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("would rekey") && stdout(&out).contains("db.yaml"));
    assert_eq!(repo.read("apps/db.yaml"), before, "dry run wrote");

    let out = repo.run(&["rekey", "-i", "../keys/recovery.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rekeyed 2 SealedSecrets in 2 files"),
        "{}",
        stderr(&out)
    );
    assert!(
        repo.run(&["verify", "-i", "../keys/south.key"], "")
            .status
            .success()
    );
    let out = repo.run(&["unseal", "-f", "apps/db.yaml", "-i", "../keys/south.key"], "");
    assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");

    let settled = repo.read("apps/db.yaml");
    let out = repo.run(&["rekey", "-i", "../keys/recovery.key"], "");
    assert!(
        stderr(&out).contains("rekeyed 0 SealedSecrets in 0 files; 2 already current"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.read("apps/db.yaml"), settled, "second run changed a file");
}

#[test]
fn rekey_with_the_wrong_identity_changes_nothing() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let stranger = repo.keygen("../keys/stranger.key");
    repo.run(&["region", "add", "eu-west-1", "--recipient", &stranger], "");
    let before = repo.read("db.yaml");
    assert_fails(
        &repo.run(&["rekey", "-i", "../keys/stranger.key"], ""),
        4,
        "db.yaml",
    );
    assert_eq!(repo.read("db.yaml"), before);
}

#[test]
fn rekey_all_reseals_what_the_hint_calls_current() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let before = repo.read("db.yaml");
    let out = repo.run(&["rekey", "-i", "../keys/recovery.key"], "");
    assert!(
        stderr(&out).contains("rekeyed 0 SealedSecrets"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.read("db.yaml"), before);
    let out = repo.run(&["rekey", "--all", "-i", "../keys/recovery.key"], "");
    assert!(
        stderr(&out).contains("rekeyed 1 SealedSecrets in 1 files"),
        "{}",
        stderr(&out)
    );
    let after = repo.read("db.yaml");
    assert_ne!(after, before, "every value is sealed anew");
    let out = repo.run(&["unseal", "-f", "db.yaml", "-i", "../keys/west.key"], "");
    assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");
}
