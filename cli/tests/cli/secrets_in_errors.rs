//! No error message quotes input: every error path of every command, fed a private key or a
//! marked secret value where it does not belong, says what is wrong without repeating it.

use super::support::*;

const VALUE: &str = "Sup3r-S3cret-MARKER";

fn assert_quiet(repo: &Repo, args: &[&str], stdin: &str, secrets: &[&str]) {
    let out = repo.run(args, stdin);
    let (err, output) = (stderr(&out), stdout(&out));
    assert!(
        !out.status.success() && out.status.code() != Some(101),
        "{args:?} should fail cleanly: {:?}\n{err}",
        out.status
    );
    for secret in secrets {
        assert!(
            !err.contains(secret) && !output.contains(secret),
            "{args:?} repeated a secret:\n{err}{output}"
        );
    }
    assert!(
        err.contains("error: ") || err.contains("hint: ") || !output.is_empty(),
        "{args:?}: silent"
    );
}

#[test]
fn no_command_repeats_a_secret_in_an_error() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let key_file = std::fs::read_to_string(repo.path("../keys/east.key")).expect("key");
    let key = key_file
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity line")
        .to_owned();
    let secrets = [key.as_str(), VALUE, &key[20..40]];
    let scalar =
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: a, namespace: b}}\nstringData: {VALUE}\n");
    let bad_base64 = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: a, namespace: b}}\ndata: {{k: '{VALUE}!'}}\n"
    );
    let number_value =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\nstringData: {k: 77777777777}\n";
    let broken_sealed = format!(
        "apiVersion: ageseal.io/v1alpha1\nkind: SealedSecret\nmetadata: {{name: a, namespace: b}}\nspec: {{encryptedData: {VALUE}}}\n"
    );
    let listed = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {{name: a, namespace: b}}\n  stringData: [{VALUE}]\n"
    );
    repo.write("broken-sealed.yaml", &broken_sealed);
    repo.write("plain.yaml", &scalar);
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["seal", "-f", "../keys/recovery.key"], String::new()),
        (vec!["seal"], key_file.clone()),
        (vec!["seal"], scalar.clone()),
        (vec!["seal"], bad_base64),
        (vec!["seal"], number_value.to_owned()),
        (vec!["seal"], listed),
        (vec!["seal", "--recipient", &key], kubectl(DB)),
        (
            vec![
                "seal",
                "--raw",
                "--key",
                "k",
                "--namespace",
                "n",
                "--name",
                "m",
                "--recipient",
                &key,
            ],
            VALUE.into(),
        ),
        (vec!["seal", "--merge-into", "db.yaml"], scalar.clone()),
        (vec!["seal", "--merge-into", "broken-sealed.yaml"], kubectl(DB)),
        (
            vec!["unseal", "-f", "../keys/east.key", "-i", "../keys/east.key"],
            String::new(),
        ),
        (vec!["unseal", "-f", "db.yaml", "-i", "plain.yaml"], String::new()),
        (
            vec!["unseal", "-f", "broken-sealed.yaml", "-i", "../keys/east.key"],
            String::new(),
        ),
        (vec!["unseal", "-i", "../keys/east.key"], broken_sealed.clone()),
        (vec!["verify", "broken-sealed.yaml", "plain.yaml"], String::new()),
        (vec!["verify", "db.yaml", "-i", "plain.yaml"], String::new()),
        (
            vec!["rekey", "broken-sealed.yaml", "-i", "../keys/east.key"],
            String::new(),
        ),
        (vec!["rekey", "db.yaml", "-i", "plain.yaml"], String::new()),
        (vec!["region", "add", "x", "--recipient", &key], String::new()),
        (vec!["keygen", "--kms-key", VALUE, "-o", "x.kms"], String::new()),
    ];
    for (args, stdin) in &cases {
        assert_quiet(&repo, args, stdin, &secrets);
    }
    // A config holding a private key, as a recipient and as the whole file.
    let config = repo.read(".ageseal.yaml");
    repo.write(".ageseal.yaml", &config.replace(&repo.east, &key));
    assert_quiet(&repo, &["seal"], &kubectl(DB), &secrets);
    assert_quiet(&repo, &["region", "list"], "", &secrets);
    repo.write(".ageseal.yaml", &key_file);
    assert_quiet(&repo, &["seal"], &kubectl(DB), &secrets);
    assert_quiet(&repo, &["verify"], "", &secrets);
    repo.write(".ageseal.yaml", &config);
    // A kubeconfig holding a token, broken: status must not quote it.
    repo.write(
        "kubeconfig",
        &format!("apiVersion: v1\nkind: Config\nusers: [{{name: u, user: {{token: {VALUE}}}}}]\nclusters: {VALUE}\n"),
    );
    let env = [("KUBECONFIG", repo.path("kubeconfig").display().to_string())];
    for args in [
        &["status", "--context", "c"][..],
        &["region", "add", "r", "--from-cluster", "c"][..],
    ] {
        let out = repo.run_env(args, &env);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains(VALUE),
            "{args:?} quoted the kubeconfig: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_private_key_passed_as_a_recipient_is_named_as_such() {
    let repo = Repo::new();
    let key_file = std::fs::read_to_string(repo.path("../keys/west.key")).expect("key");
    let key = key_file
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("line");
    let out = repo.run(&["seal", "--recipient", key], &kubectl(DB));
    assert_fails(&out, 3, "is a private key, not a public one");
    assert!(stderr(&out).contains("shell history"), "{}", stderr(&out));
}

/// A private key given where a path or a name belongs, in every command that takes one: the key
/// never appears on stderr or stdout, and the user is told to rotate it.
#[test]
fn a_private_key_given_as_a_path_or_a_name_is_never_echoed_and_must_be_rotated() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let x25519 = std::fs::read_to_string(repo.path("../keys/east.key"))
        .expect("key")
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity line")
        .to_owned();
    let out = repo.run(&["keygen", "--pq", "-o", "../keys/pq.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let hybrid = std::fs::read_to_string(repo.path("../keys/pq.key"))
        .expect("key")
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-"))
        .expect("identity line")
        .to_owned();
    let lowercase = x25519.to_ascii_lowercase();
    let in_a_path = format!("/tmp/{x25519}.key");
    for key in [
        x25519.as_str(),
        hybrid.as_str(),
        lowercase.as_str(),
        in_a_path.as_str(),
    ] {
        let kubeconfig = (
            "KUBECONFIG",
            repo.path("../kubeconfig-missing").display().to_string(),
        );
        let cases: Vec<Vec<&str>> = vec![
            vec!["unseal", "-f", "db.yaml", "-i", key],
            vec!["verify", "-i", key],
            vec!["verify", key],
            vec!["edit", key, "-i", "../keys/east.key"],
            vec!["edit", "db.yaml", "-i", key],
            vec!["rekey", "-i", key],
            vec!["import", "--from", "sops", key],
            vec![
                "import",
                "--from",
                "sealed-secrets",
                "--private-key",
                key,
                "db.yaml",
            ],
            vec!["status", "db.yaml", "--context", key],
            vec!["seal", "--region", key, "-f", "-"],
            vec!["seal", "-f", key],
            vec!["seal", "-o", key],
            vec!["region", "remove", key],
            vec!["region", "add", "x", "--from-cluster", key],
            vec!["recovery", "remove", key],
            vec!["keygen", "--kms-key", key, "-o", "../keys/k.kms"],
        ];
        for args in cases {
            let out = ageseal_in(&repo.dir, &args, &kubectl(DB), std::slice::from_ref(&kubeconfig));
            let (err, output) = (stderr(&out), stdout(&out));
            assert!(
                !out.status.success() && out.status.code() != Some(101),
                "{args:?} should fail cleanly: {:?}\n{err}",
                out.status
            );
            let body = &key.to_ascii_uppercase()[key.len() - 40..];
            assert!(
                !err.to_ascii_uppercase().contains(body) && !output.to_ascii_uppercase().contains(body),
                "{args:?} echoed the private key:\n{err}{output}"
            );
            assert!(
                err.contains("rotate it"),
                "{args:?} did not say to rotate the key:\n{err}"
            );
        }
        // Not on the command line but where a path belongs all the same: every error printed
        // is redacted.
        let out = repo.run_env(
            &["unseal", "-f", "db.yaml"],
            &[("AGESEAL_IDENTITY", key.to_owned())],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(5), "{err}");
        assert!(
            !err.to_ascii_uppercase()
                .contains(&key.to_ascii_uppercase()[key.len() - 40..]),
            "{err}"
        );
        assert!(
            err.contains(ageseal_core::redact::REDACTED) && err.contains("rotate it"),
            "{err}"
        );
    }
}
