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

/// The hint of an unreachable cluster names --request-timeout; `region add --from-cluster`
/// takes it (it used to refuse the flag its own hint named).
#[test]
fn region_add_from_an_unreachable_cluster_takes_the_flag_its_hint_names() {
    let repo = Repo::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    repo.write(
        "kubeconfig",
        &format!("apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{closed}', insecure-skip-tls-verify: true}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: gone, context: {{cluster: c, user: u}}}}]\ncurrent-context: gone\n"),
    );
    let env = [("KUBECONFIG", repo.path("kubeconfig").display().to_string())];
    let out = repo.run_env(&["region", "add", "eu-west-1", "--from-cluster", "gone"], &env);
    assert_fails(&out, 5, "cannot reach the API server");
    assert!(stderr(&out).contains("--request-timeout"), "{}", stderr(&out));
    let out = repo.run_env(
        &[
            "region",
            "add",
            "eu-west-1",
            "--from-cluster",
            "gone",
            "--request-timeout",
            "2s",
        ],
        &env,
    );
    assert_fails(&out, 5, "cannot reach the API server");
}

/// KUBECONFIG=a:b as kubectl reads it: a file that does not exist is skipped; when none exists
/// the error names the path once, in plain words.
#[test]
fn kubeconfig_lists_skip_missing_files_as_kubectl_does() {
    let repo = Repo::new();
    repo.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n- {name: prod-east, context: {cluster: a, user: b}}\ncurrent-context: prod-east\n",
    );
    let missing = repo.path("no-such-kubeconfig").display().to_string();
    let list = format!("{missing}:{}", repo.path("kubeconfig").display());
    let out = repo.run_env(&["status", "--context", "nowhere"], &[("KUBECONFIG", list)]);
    assert_fails(&out, 5, "kubeconfig context nowhere");
    let out = repo.run_env(&["status"], &[("KUBECONFIG", missing.clone())]);
    assert_fails(
        &out,
        5,
        &format!("cannot read the kubeconfig {missing}: no such file or folder"),
    );
    assert!(
        !stderr(&out).contains("\"\"") && !stderr(&out).contains("'\""),
        "{}",
        stderr(&out)
    );
}
