//! Input hygiene: duplicate keys, values copied into labels or annotations, and absurd nesting
//! are refused before anything is sealed; rekey keeps neighbouring documents byte for byte.

use super::support::*;

#[test]
fn duplicates_values_in_metadata_and_deep_nesting_are_refused() {
    let repo = Repo::new();
    let cases = [
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\nstringData: {k: One-V4lue, k: Two-V4lue}\n".to_owned(),
            "a key appears twice",
        ),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b, annotations: {note: 'pw=Annot-V4lue'}}\nstringData: {k: Annot-V4lue}\n".to_owned(),
            "the annotation note holds one of the Secret's values",
        ),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b, labels: {k: TGFiZWwtVjRs}}\nstringData: {k: Label-V4l}\n".to_owned(),
            "the label k holds one of the Secret's values",
        ),
        ("{a: ".repeat(100_000), "nested deeper than 64"),
        ("[".repeat(100_000), "nested deeper than 64"),
    ];
    for (input, needle) in cases {
        let started = std::time::Instant::now();
        let out = repo.run(&["seal", "-o", "out.yaml"], &input);
        assert_fails(&out, 3, needle);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{needle}: too slow"
        );
        assert!(!repo.path("out.yaml").exists());
    }
    // A value mentioned in no label or annotation is fine, and short values are not looked for.
    let fine = "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b, labels: {tier: db}}\nstringData: {k: db}\n";
    assert!(repo.run(&["seal"], fine).status.success());
}

#[test]
fn rekey_keeps_neighbouring_documents_byte_for_byte() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let neighbours = "# not ours\n? [complex, key]\n: value\nodd:    'spacing'\n";
    let file = format!(
        "{neighbours}---\n{}---\n# trailing\nkind: ConfigMap\n",
        repo.read("db.yaml")
    );
    repo.write("db.yaml", &file);
    let out = repo.run(&["rekey", "--all", "-i", "../keys/recovery.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let written = repo.read("db.yaml");
    assert_ne!(written, file, "--all re-sealed nothing");
    assert!(written.starts_with(&format!("{neighbours}---\n")), "{written}");
    assert!(
        written.ends_with("---\n# trailing\nkind: ConfigMap\n"),
        "{written}"
    );
}
