//! SealedSecrets inside `kind: List` documents (what `seal --format json` writes for several) and
//! behind escaped JSON text are seen by every command: files are parsed first, then judged.

use super::support::*;

fn two_secrets() -> String {
    format!(
        "{}---\n{}",
        kubectl(&["generic", "a", "-n", "payments", "--from-literal=k=List-A1"]),
        kubectl(&["generic", "b", "-n", "payments", "--from-literal=k=List-B2"])
    )
}

#[test]
fn lists_are_walked_by_verify_unseal_and_rekey_and_stay_json() {
    let repo = Repo::new();
    let out = repo.run(&["seal", "--format", "json"], &two_secrets());
    repo.write("apps/both.json", &stdout(&out));
    let out = repo.run(&["verify", "apps"], "");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("checked 2 SealedSecrets"),
        "{}",
        stderr(&out)
    );
    let out = repo.run(&["unseal", "-f", "apps/both.json", "-i", "../keys/east.key"], "");
    assert!(out.status.success());
    assert_eq!(stdout(&out).matches("kind: Secret").count(), 2);
    let south = repo.keygen("../keys/south.key");
    repo.run(&["region", "add", "ap-south-1", "--recipient", &south], "");
    let out = repo.run(&["rekey", "-i", "../keys/recovery.key"], "");
    assert!(
        stderr(&out).contains("rekeyed 2 SealedSecrets in 1 files"),
        "{}",
        stderr(&out)
    );
    let json: serde_json::Value = serde_json::from_str(&repo.read("apps/both.json")).expect("still JSON");
    assert_eq!(json["kind"], "List");
    let out = repo.run(&["unseal", "-f", "apps/both.json", "-i", "../keys/south.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn escaped_api_version_text_is_still_seen() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let out = repo.run(&["seal", "--format", "json"], &kubectl(DB));
    let hidden = stdout(&out).replace("ageseal.io/", "ageseal\\u002eio/");
    assert!(!hidden.contains("ageseal.io/"));
    repo.write("apps/hidden.json", &hidden);
    // Tampered so verify -i must open it to find out: a renamed object.
    repo.write(
        "apps/hidden.json",
        &hidden.replace("\"name\": \"db\"", "\"name\": \"web\""),
    );
    let out = repo.run(&["verify", "apps", "-i", "../keys/east.key"], "");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = stdout(&out);
    assert!(
        report.contains("payments/web") && report.contains("sealed for"),
        "{report}"
    );
    let out = repo.run(
        &["unseal", "-f", "apps/hidden.json", "-i", "../keys/east.key"],
        "",
    );
    assert_eq!(out.status.code(), Some(4));
}
