//! Hybrid post-quantum recipients from the command line: `keygen --pq`, a config that moves to
//! hybrid keys, `rekey` carrying a tree over, `verify` with `pq: required`, and the refusal to
//! mix hybrid and X25519 recipients in one value.

use std::os::unix::fs::PermissionsExt;

use super::support::*;

fn keygen_pq(repo: &Repo, name: &str) -> String {
    let out = repo.run(&["keygen", "--pq", "-o", name], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let recipient = stdout(&out).trim().to_owned();
    assert!(recipient.starts_with("age1pq1"), "{recipient}");
    let file = repo.read(name);
    assert!(file.contains("\nAGE-SECRET-KEY-PQ-1"), "age-keygen -pq layout");
    assert!(file.contains(&format!("# public key: {recipient}\n")), "{file}");
    let mode = std::fs::metadata(repo.path(name))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    recipient
}

fn config(east: &str, west: &str, recovery: &str, east_policy: &str) -> String {
    format!(
        "regions:\n- {{name: us-east-1, recipients: [{east}]{east_policy}}}\n- {{name: us-west-2, recipients: [{west}]}}\nrecovery:\n- {{name: break-glass, recipient: {recovery}}}\n"
    )
}

#[test]
fn a_tree_moves_to_hybrid_recipients_and_verify_holds_it_there() {
    let repo = Repo::new();
    repo.seal("apps/db.yaml", DB);
    let east = keygen_pq(&repo, "../keys/east-pq.key");
    let west = keygen_pq(&repo, "../keys/west-pq.key");
    let recovery = keygen_pq(&repo, "../keys/recovery-pq.key");

    // Half-moved: one region hybrid, the rest X25519. Sealing refuses, naming the way out.
    repo.write(".ageseal.yaml", &config(&east, &repo.west, &repo.recovery, ""));
    let out = repo.run(&["seal", "-o", "apps/new.yaml"], &kubectl(DB));
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(101));
    let err = stderr(&out);
    assert!(
        err.contains("hybrid post-quantum") && err.contains("X25519"),
        "{err}"
    );
    assert!(err.contains("hint:") && err.contains("--pq-keys"), "{err}");
    assert!(!repo.path("apps/new.yaml").exists(), "nothing written");

    // pq: required with an X25519 current key is a config error (exit 3), said once.
    repo.write(
        ".ageseal.yaml",
        &config(&repo.east, &repo.west, &repo.recovery, ", pq: required"),
    );
    assert_fails(&repo.run(&["verify"], ""), 3, "pq: required");

    // The move as the runbook does it: set-key per region, swap the recovery key.
    repo.write(
        ".ageseal.yaml",
        &config(&repo.east, &repo.west, &repo.recovery, ""),
    );
    for args in [
        vec!["region", "set-key", "us-east-1", "--recipient", east.as_str()],
        vec!["region", "set-key", "us-west-2", "--recipient", west.as_str()],
        vec![
            "recovery",
            "add",
            "break-glass-pq",
            "--recipient",
            recovery.as_str(),
        ],
        vec!["recovery", "remove", "break-glass"],
    ] {
        let out = repo.run(&args, "");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let edited = repo.read(".ageseal.yaml");
    // Then every recipient is hybrid and east requires it: the old file is reported, specifically.
    let old_east = format!("{east}, {}]", repo.east);
    assert!(
        edited.contains(&old_east),
        "the new key first, the old one kept: {edited}"
    );
    let required = edited.replacen(&old_east, &format!("{old_east}, pq: required"), 1);
    repo.write(".ageseal.yaml", &required);
    let out = repo.run(&["verify"], "");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("requires hybrid post-quantum recipients (pq: required)"),
        "{}",
        stdout(&out)
    );

    // rekey opens with the old recovery key and re-seals to the hybrid keys.
    let out = repo.run(&["rekey", "-i", "../keys/recovery.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = repo.run(&["verify", "-i", "../keys/west-pq.key"], "");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let sealed = repo.read("apps/db.yaml");
    let value = yaml(&sealed)["spec"]["encryptedData"]["password"]
        .as_str()
        .expect("sealed value")
        .to_owned();
    let bytes = base64::Engine::decode(&base64::prelude::BASE64_STANDARD, value).expect("base64");
    let header = String::from_utf8_lossy(&bytes[..bytes.len().min(8000)]).into_owned();
    assert_eq!(header.matches("-> mlkem768x25519 ").count(), 3, "{header}");
    assert!(!header.contains("-> X25519 "));
    for key in [
        "../keys/east-pq.key",
        "../keys/west-pq.key",
        "../keys/recovery-pq.key",
    ] {
        let out = repo.run(&["unseal", "-f", "apps/db.yaml", "-i", key], "");
        assert!(out.status.success(), "{key}: {}", stderr(&out));
        assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");
    }
    assert_fails(
        &repo.run(&["unseal", "-f", "apps/db.yaml", "-i", "../keys/east.key"], ""),
        4,
        "none of the given",
    );

    // New values are sealed hybrid from the start, and a second rekey changes nothing.
    repo.seal(
        "apps/api.yaml",
        &["generic", "api", "-n", "payments", "--from-literal=token=t0ken"],
    );
    let out = repo.run(
        &["unseal", "-f", "apps/api.yaml", "-i", "../keys/east-pq.key"],
        "",
    );
    assert_eq!(secret_value(&stdout(&out), "token"), b"t0ken");
    let settled = repo.read("apps/db.yaml");
    let out = repo.run(&["rekey", "-i", "../keys/recovery-pq.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.read("apps/db.yaml"), settled);
}

#[test]
fn a_hybrid_identity_file_is_refused_whole_when_damaged_and_never_printed() {
    let repo = Repo::new();
    keygen_pq(&repo, "../keys/pq.key");
    let text = repo.read("../keys/pq.key");
    let secret = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
        .expect("secret line")
        .to_owned();
    let damaged = text.replace(&secret, &format!("{}x", &secret[..secret.len() - 1]));
    repo.write("../keys/bad.key", &damaged);
    repo.seal("apps/db.yaml", DB);
    let out = repo.run(&["unseal", "-f", "apps/db.yaml", "-i", "../keys/bad.key"], "");
    assert!(!out.status.success());
    assert_ne!(out.status.code(), Some(101));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("AGE-SECRET-KEY-PQ-1"),
        "names the expected form: {all}"
    );
    assert!(!all.contains(&secret[20..]), "never prints key material: {all}");
}
