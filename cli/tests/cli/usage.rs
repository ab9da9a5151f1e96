//! Usage errors, completions, and garbage input that must never panic.

use super::support::*;

#[test]
fn completions_and_usage_errors() {
    let repo = Repo::new();
    let out = repo.run(&["completions", "bash"], "");
    assert!(out.status.success() && stdout(&out).contains("ageseal"));
    assert_eq!(repo.run(&["seal", "--key", "k"], "").status.code(), Some(2));
    assert_fails(
        &repo.run(&["unseal", "-f", "x.yaml"], ""),
        3,
        "names no recovery identity file",
    );
}

#[test]
fn garbage_never_panics() {
    let repo = Repo::new();
    let garbage: Vec<String> = vec![
        "\u{0}\u{1}\u{2}".into(),
        "apiVersion: ageseal.io/v1alpha1\nkind: SealedSecret\nspec: 5\n".into(),
        "apiVersion: ageseal.io/v1alpha1\nkind: SealedSecret\nmetadata: {name: a, namespace: b}\nspec:\n  encryptedData: {k: YWdlLWVuY3J5cHRpb24ub3JnL3YxCg==}\n".into(),
        "- [ ] {".into(),
        "kind: List\nitems: [1, 2]\n".into(),
    ];
    for input in &garbage {
        repo.write("g.yaml", input);
        for args in [
            &["seal"][..],
            &["unseal", "-i", "../keys/east.key"][..],
            &["verify", "g.yaml"][..],
            &["rekey", "g.yaml", "-i", "../keys/east.key"][..],
        ] {
            let out = repo.run(args, input);
            assert!(
                out.status.code().is_some_and(|c| c != 101),
                "{args:?} on {input:?}: {:?}",
                out.status
            );
            assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
        }
    }
}
