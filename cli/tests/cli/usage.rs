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

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let input = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: big, namespace: p}}\nstringData: {{k: {}}}\n",
        "x".repeat(300_000)
    );
    repo.write(
        "big.json",
        &stdout(&repo.run(&["seal", "--format", "json"], &input)),
    );
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["seal"], input.clone()),
        (
            vec!["unseal", "-f", "big.json", "-i", "../keys/east.key"],
            String::new(),
        ),
        (vec!["region", "list"], String::new()),
        (vec!["keygen"], String::new()),
        (vec!["completions", "bash"], String::new()),
    ];
    for (args, stdin) in cases {
        let mut child = Command::new(ageseal_testenv::workspace_binary("ageseal"))
            .current_dir(&repo.dir)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        let mut feed = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let _ = feed.write_all(stdin.as_bytes());
        });
        // Read one byte, then hang up, like `| head -c 1`.
        let mut out = child.stdout.take().expect("stdout");
        let mut byte = [0u8; 1];
        let _ = out.read(&mut byte);
        drop(out);
        let result = child.wait_with_output().expect("ends");
        let _ = writer.join();
        let err = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("internal error"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn usage_errors_say_error_and_hint_and_never_repeat_values() {
    let repo = Repo::new();
    for (args, needle) in [
        (
            &["seal", "--scope", "Wide-Open-V4lue"][..],
            "invalid value for --scope",
        ),
        (&["seal", "Stray-Arg-V4lue"][..], "unexpected argument"),
        (&["sael"][..], "unknown command"),
        (&["seal", "-o", "yaml"][..], "--format yaml"),
        (&["seal", "-o", "json"][..], "--format json"),
        (
            &["seal", "--raw", "--key", "k", "-o", "x"][..],
            "cannot be used with",
        ),
    ] {
        let out = repo.run(args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ") && err.contains("\nhint: "),
            "{args:?}: {err}"
        );
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("V4lue"), "{args:?} repeated a value: {err}");
    }
    assert!(!repo.path("yaml").exists() && !repo.path("json").exists());
}

#[test]
fn version_names_the_commit_and_the_envelope_format() {
    let repo = Repo::new();
    let out = repo.run(&["--version"], "");
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with("ageseal 0.1.0 (commit ") && text.contains("envelope ageseal/v1"),
        "{text}"
    );
}

#[test]
fn reading_a_secret_from_a_terminal_says_how_to_end_or_pipe_it() {
    let repo = Repo::new();
    let out = std::process::Command::new("script")
        .current_dir(&repo.dir)
        .args([
            "-qec",
            &format!("{} seal", ageseal_testenv::workspace_binary("ageseal").display()),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) gives ageseal a terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("reading from the terminal; end with Ctrl-D"),
        "{text}"
    );
}

#[test]
fn completion_offers_region_and_context_names() {
    let repo = Repo::new();
    repo.write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n- {name: prod-east, context: {cluster: a, user: b}}\n- {name: prod-west, context: {cluster: a, user: b}}\ncurrent-context: prod-east\n",
    );
    let complete = |words: &[&str]| {
        let mut args = vec!["--", "ageseal"];
        args.extend(words);
        let env = [
            ("COMPLETE", "fish".to_owned()),
            ("KUBECONFIG", repo.path("kubeconfig").display().to_string()),
        ];
        stdout(&repo.run_env(&args, &env))
    };
    assert_eq!(complete(&["seal", "--region", ""]), "us-east-1\nus-west-2\n");
    assert_eq!(complete(&["region", "remove", "us-w"]), "us-west-2\n");
    assert_eq!(
        complete(&["status", "--context", "prod-"]),
        "prod-east\nprod-west\n"
    );
    let script = stdout(&repo.run(&["completions", "bash"], ""));
    assert!(
        script.contains("COMPLETE=\"bash\"") || script.contains("COMPLETE=bash"),
        "{script}"
    );
}
