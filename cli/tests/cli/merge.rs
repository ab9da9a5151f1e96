//! `ageseal seal --merge-into`: adds and replaces keys, never widens a scope.

use super::support::*;

#[test]
fn merge_into_adds_and_replaces_keys_and_leaves_the_rest_alone() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let before = yaml(&repo.read("db.yaml"));
    let extra = kubectl(&[
        "generic",
        "db",
        "-n",
        "payments",
        "--from-literal=host=db.internal",
        "--from-literal=password=n3w",
    ]);
    let out = repo.run(&["seal", "--merge-into", "db.yaml"], &extra);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = yaml(&repo.read("db.yaml"));
    let data = |doc: &serde_yaml::Value, key: &str| doc["spec"]["encryptedData"][key].clone();
    assert_eq!(
        data(&before, "user"),
        data(&after, "user"),
        "untouched key re-sealed"
    );
    assert_ne!(data(&before, "password"), data(&after, "password"));
    let out = repo.run(&["unseal", "-f", "db.yaml", "-i", "../keys/west.key"], "");
    assert_eq!(secret_value(&stdout(&out), "host"), b"db.internal");
    assert_eq!(secret_value(&stdout(&out), "password"), b"n3w");
    assert_eq!(secret_value(&stdout(&out), "user"), b"admin");
    let other = kubectl(&["generic", "db", "-n", "billing", "--from-literal=k=v"]);
    let unchanged = repo.read("db.yaml");
    assert_fails(
        &repo.run(&["seal", "--merge-into", "db.yaml"], &other),
        3,
        "the input Secret's namespace is \"billing\" but db.yaml holds \"payments\"",
    );
    assert_eq!(repo.read("db.yaml"), unchanged);
}

#[test]
fn merge_into_never_takes_the_scope_from_the_annotation() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    // Someone edits only the unauthenticated annotation.
    let edited = repo
        .read("db.yaml")
        .replace("ageseal.io/scope: strict", "ageseal.io/scope: cluster-wide");
    repo.write("db.yaml", &edited);
    let extra = kubectl(&[
        "generic",
        "db",
        "-n",
        "payments",
        "--from-literal=token=Merge-T0ken",
    ]);
    let out = repo.run(&["seal", "--merge-into", "db.yaml"], &extra);
    assert_fails(&out, 3, "this merge would seal strict");
    assert!(stderr(&out).contains("--scope cluster-wide"), "{}", stderr(&out));
    assert_eq!(repo.read("db.yaml"), edited, "a refused merge changed the file");
    // Put back, a merge seals strict: a copy of the new value elsewhere is refused.
    repo.write("db.yaml", &edited.replace("cluster-wide", "strict"));
    assert!(
        repo.run(&["seal", "--merge-into", "db.yaml"], &extra)
            .status
            .success()
    );
    let moved = repo.read("db.yaml").replace("name: db", "name: web");
    repo.write("web.yaml", &moved);
    assert_fails(
        &repo.run(&["unseal", "-f", "web.yaml", "-i", "../keys/east.key"], ""),
        4,
        "sealed for strict",
    );
}

#[test]
fn merge_into_keeps_neighbouring_documents_byte_for_byte_and_json_as_json() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let neighbours = "# a comment\n? [complex, key]\n: value\nodd:    'spacing'\n";
    let file = format!(
        "{neighbours}---\n{}---\n{{\"kind\": \"ConfigMap\"}}\n",
        repo.read("db.yaml")
    );
    repo.write("db.yaml", &file);
    let extra = kubectl(&["generic", "db", "-n", "payments", "--from-literal=host=Db-H0st"]);
    let out = repo.run(&["seal", "--merge-into", "db.yaml"], &extra);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = repo.read("db.yaml");
    assert!(written.starts_with(&format!("{neighbours}---\n")), "{written}");
    assert!(written.ends_with("---\n{\"kind\": \"ConfigMap\"}\n"), "{written}");
    assert!(written.contains("host:"));
    // A JSON file stays JSON.
    let json = repo.run(&["seal", "--format", "json"], &kubectl(DB));
    repo.write("db.json", &stdout(&json));
    assert!(
        repo.run(&["seal", "--merge-into", "db.json"], &extra)
            .status
            .success()
    );
    let value: serde_json::Value = serde_json::from_str(&repo.read("db.json")).expect("still JSON");
    assert!(value["spec"]["encryptedData"]["host"].is_string());
}

/// A file with Windows line endings keeps them when a document in it is rewritten.
#[test]
fn merge_into_a_crlf_file_keeps_crlf() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let crlf = format!("# from a Windows checkout\n{}", repo.read("db.yaml")).replace('\n', "\r\n");
    repo.write("db.yaml", &crlf);
    let input = kubectl(&[
        "generic",
        "db",
        "-n",
        "payments",
        "--from-literal=host=db.internal",
    ]);
    let out = repo.run(&["seal", "--merge-into", "db.yaml"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = repo.read("db.yaml");
    assert!(after.contains("host: "), "{after}");
    assert_eq!(
        after.matches('\n').count(),
        after.matches("\r\n").count(),
        "a lone LF: {after:?}"
    );
    assert!(!after.contains("\r\r"), "{after:?}");
    assert_eq!(
        opened_value(&repo, "db.yaml", "../keys/east.key", "host"),
        "db.internal"
    );
}
