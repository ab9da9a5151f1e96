//! `ageseal region` and kubeconfig contexts.

use super::support::*;

#[test]
fn region_add_list_remove_edit_the_config() {
    let repo = Repo::new();
    let list = stdout(&repo.run(&["region", "list"], ""));
    assert!(list.contains("us-east-1") && list.contains("break-glass\t") && list.contains("recovery"));
    assert_fails(
        &repo.run(&["region", "add", "us-east-1", "--recipient", &repo.west], ""),
        3,
        "already exists",
    );
    assert_fails(
        &repo.run(&["region", "add", "x", "--recipient", "nope"], ""),
        3,
        "--recipient",
    );
    assert!(repo.run(&["region", "remove", "us-west-2"], "").status.success());
    assert!(!stdout(&repo.run(&["region", "list"], "")).contains("us-west-2"));
    assert_fails(
        &repo.run(&["region", "remove", "us-west-2"], ""),
        3,
        "no region named",
    );
    // Nested folders find the config by walking up.
    std::fs::create_dir_all(repo.path("deep/er")).expect("mkdir");
    let out = ageseal_in(&repo.path("deep/er"), &["region", "list"], "", &[]);
    assert!(stdout(&out).contains("us-east-1"));
}

#[test]
fn unknown_kubeconfig_contexts_are_refused_with_a_hint_and_change_nothing() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    repo.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    );
    let config_before = repo.read(".ageseal.yaml");
    let kubeconfig = [("KUBECONFIG", repo.path("kubeconfig").display().to_string())];
    let run = |args: &[&str]| repo.run_env(args, &kubeconfig);
    assert_fails(
        &run(&["status", "--context", "nowhere"]),
        5,
        "kubeconfig context nowhere",
    );
    assert_fails(
        &run(&["region", "add", "eu-west-1", "--from-cluster", "nowhere"]),
        5,
        "kubectl config get-contexts",
    );
    assert_eq!(repo.read(".ageseal.yaml"), config_before);
    assert_eq!(
        run(&[
            "region",
            "add",
            "x",
            "--recipient",
            &repo.east,
            "--from-cluster",
            "c"
        ])
        .status
        .code(),
        Some(2)
    );
}
