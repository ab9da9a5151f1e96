//! `ageseal seal`: recipients, output, template, errors, `--raw`; the age CLI opens what it writes.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::support::*;

#[test]
fn each_region_and_the_recovery_key_open_what_seal_wrote() {
    let repo = Repo::new();
    repo.seal("apps/db.yaml", DB);
    let sealed = yaml(&repo.read("apps/db.yaml"));
    assert_eq!(sealed["metadata"]["annotations"]["ageseal.io/scope"], "strict");
    let names: Vec<&str> = sealed["spec"]["recipients"]
        .as_sequence()
        .expect("hint")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["us-east-1", "us-west-2", "break-glass"]);
    assert!(!repo.read("apps/db.yaml").contains("hunter2"));
    for key in ["../keys/east.key", "../keys/west.key", "../keys/recovery.key"] {
        let out = repo.run(&["unseal", "-f", "apps/db.yaml", "-i", key], "");
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("unencrypted"));
        assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");
        assert_eq!(secret_value(&stdout(&out), "user"), b"admin");
    }
}

#[test]
fn the_age_cli_opens_a_value_the_cli_sealed() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let sealed = yaml(&repo.read("db.yaml"));
    let value = BASE64_STANDARD
        .decode(
            sealed["spec"]["encryptedData"]["password"]
                .as_str()
                .expect("value"),
        )
        .expect("base64");
    std::fs::write(repo.path("value.age"), value).expect("write");
    let out = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(repo.path("../keys/west.key"))
        .arg(repo.path("value.age"))
        .output()
        .expect("age runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "ageseal/v1\nscope: strict\nnamespace: payments\nname: db\nkey: password\n\nhunter2"
    );
}

#[test]
fn seal_keeps_template_and_strips_server_side_metadata() {
    let repo = Repo::new();
    let tls = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\n  namespace: shop\n  uid: 1234\n  resourceVersion: '99'\n  creationTimestamp: '2026-01-01T00:00:00Z'\n  labels: {app: web}\n  annotations:\n    team: checkout\n    kubectl.kubernetes.io/last-applied-configuration: '{\"stringData\":{\"tls.key\":\"hunter2\"}}'\ntype: kubernetes.io/tls\nimmutable: true\nstringData:\n  tls.key: hunter2\n  tls.crt: cert\n";
    let out = repo.run(&["seal"], tls);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("hunter2") && !text.contains("last-applied") && !text.contains("uid"));
    assert!(!text.contains("resourceVersion") && !text.contains("creationTimestamp"));
    let doc = yaml(&text);
    assert_eq!(doc["spec"]["template"]["type"], "kubernetes.io/tls");
    assert_eq!(doc["spec"]["template"]["immutable"], true);
    assert_eq!(doc["spec"]["template"]["metadata"]["labels"]["app"], "web");
    assert_eq!(
        doc["spec"]["template"]["metadata"]["annotations"]["team"],
        "checkout"
    );
}

#[test]
fn seal_reads_many_documents_and_writes_json() {
    let repo = Repo::new();
    let input = format!(
        "{}---\n{}",
        kubectl(&["generic", "a", "-n", "x", "--from-literal=k=1"]),
        kubectl(&["generic", "b", "-n", "x", "--from-literal=k=2"])
    );
    let out = repo.run(&["seal"], &input);
    assert!(out.status.success());
    assert_eq!(stdout(&out).matches("kind: SealedSecret").count(), 2);
    let out = repo.run(&["seal", "--format", "json"], &input);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["kind"], "List");
    assert_eq!(json["items"][1]["metadata"]["name"], "b");
}

#[test]
fn seal_error_paths_say_what_and_what_to_do_and_write_nothing() {
    let repo = Repo::new();
    let empty = kubectl(&["generic", "e", "-n", "x"]);
    let no_ns = kubectl(&["generic", "db", "--from-literal=password=hunter2"]);
    let db = kubectl(DB);
    let cases: Vec<(Vec<&str>, String, i32, &str)> = vec![
        (vec!["seal", "-o", "out.yaml"], empty.clone(), 3, "--allow-empty"),
        (vec!["seal", "-o", "out.yaml"], no_ns, 3, "--namespace"),
        (
            vec!["seal", "-o", "out.yaml", "--namespace", "billing"],
            db.clone(),
            3,
            "the manifest says namespace",
        ),
        (
            vec!["seal", "-o", "out.yaml", "--region", "mars-1"],
            db.clone(),
            3,
            "mars-1",
        ),
        (
            vec!["seal", "-o", "out.yaml", "--recipient", "age1bogus"],
            db.clone(),
            3,
            "--recipient",
        ),
        (
            vec!["seal", "-o", "out.yaml"],
            "apiVersion: v1\nkind: ConfigMap\n".into(),
            3,
            "expected Secret",
        ),
        (
            vec!["seal", "-o", "out.yaml"],
            "{{{ not yaml".into(),
            3,
            "document 1",
        ),
        (
            vec!["seal", "-o", "out.yaml"],
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: b}\nstringData: {password: 4242}\n"
                .into(),
            3,
            "stringData.password must be a string",
        ),
        (
            vec!["seal", "-o", "missing/dir/out.yaml"],
            db.clone(),
            5,
            "missing/dir",
        ),
        (
            vec!["seal", "-o", "out.yaml", "--name", "x"],
            format!("{db}---\n{db}"),
            3,
            "--name",
        ),
    ];
    for (args, input, code, needle) in cases {
        let out = repo.run(&args, &input);
        assert_fails(&out, code, needle);
        assert!(!repo.path("out.yaml").exists(), "{args:?} left a file");
        let leftovers: Vec<_> = std::fs::read_dir(&repo.dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".ageseal-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind");
    }
    assert!(repo.run(&["seal", "--allow-empty"], &empty).status.success());
    // A failing seal leaves an existing output file exactly as it was.
    repo.write("out.yaml", "previous\n");
    assert_fails(&repo.run(&["seal", "-o", "out.yaml"], &empty), 3, "no data");
    assert_eq!(repo.read("out.yaml"), "previous\n");
}

#[test]
fn seal_without_config_explains_how_to_make_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ageseal_in(dir.path(), &["seal"], &kubectl(DB), &[]);
    assert_fails(&out, 3, "ageseal region add");
}

#[test]
fn region_flag_rules_and_recipient_override_pick_the_recipients() {
    let repo = Repo::new();
    let config = repo.read(".ageseal.yaml") + "rules:\n- {path: \"west/**\", regions: [us-west-2]}\n";
    repo.write(".ageseal.yaml", &config);
    let hint_names = |text: &str| -> Vec<String> {
        yaml(text)["spec"]["recipients"]
            .as_sequence()
            .expect("hint")
            .iter()
            .map(|r| r["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let out = repo.run(&["seal", "--region", "us-east-1"], &kubectl(DB));
    assert_eq!(hint_names(&stdout(&out)), ["us-east-1", "break-glass"]);
    repo.seal("west/apps/db.yaml", DB);
    assert_eq!(
        hint_names(&repo.read("west/apps/db.yaml")),
        ["us-west-2", "break-glass"]
    );
    let out = repo.run(
        &["unseal", "-f", "west/apps/db.yaml", "-i", "../keys/east.key"],
        "",
    );
    assert_fails(&out, 4, "none of the given identities");
    let out = repo.run(&["seal", "--recipient", &repo.east], &kubectl(DB));
    assert_eq!(hint_names(&stdout(&out)), ["recipient-1"]);
}

#[test]
fn raw_seals_one_value_for_its_binding() {
    let repo = Repo::new();
    let out = repo.run(
        &[
            "seal",
            "--raw",
            "--namespace",
            "payments",
            "--name",
            "db",
            "--key",
            "token",
        ],
        "s3cr3t",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sealed = BASE64_STANDARD.decode(stdout(&out).trim()).expect("base64");
    std::fs::write(repo.path("v.age"), sealed).expect("write");
    let opened = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(repo.path("../keys/east.key"))
        .arg(repo.path("v.age"))
        .output()
        .expect("age");
    assert_eq!(
        stdout(&opened),
        "ageseal/v1\nscope: strict\nnamespace: payments\nname: db\nkey: token\n\ns3cr3t"
    );
    assert_fails(
        &repo.run(&["seal", "--raw", "--namespace", "p", "--key", "k"], "v"),
        3,
        "--name",
    );
    let out = repo.run(&["seal", "--raw", "--scope", "cluster-wide", "--key", "k"], "v");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn path_rules_need_an_output_file_or_path_and_w_is_o() {
    let repo = Repo::new();
    let config = repo.read(".ageseal.yaml") + "rules:\n- {path: \"west/**\", regions: [us-west-2]}\n";
    repo.write(".ageseal.yaml", &config);
    assert_fails(&repo.run(&["seal"], &kubectl(DB)), 3, "--path PATH");
    let out = repo.run(&["seal", "--path", "west/db.yaml"], &kubectl(DB));
    assert!(out.status.success(), "{}", stderr(&out));
    let names: Vec<String> = yaml(&stdout(&out))["spec"]["recipients"]
        .as_sequence()
        .expect("hint")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["us-west-2", "break-glass"]);
    std::fs::create_dir_all(repo.path("west")).expect("mkdir");
    assert!(
        repo.run(&["seal", "-w", "west/db.yaml"], &kubectl(DB))
            .status
            .success()
    );
    assert!(repo.read("west/db.yaml").contains("us-west-2"));
}

#[test]
fn a_secret_over_one_mebibyte_in_total_is_refused() {
    let repo = Repo::new();
    let half = "x".repeat(600_000);
    let input = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: big, namespace: p}}\nstringData: {{a: {half}, b: {half}}}\n"
    );
    assert_fails(
        &repo.run(&["seal", "-o", "big.yaml"], &input),
        3,
        "Kubernetes keeps at most 1 MiB",
    );
    assert!(!repo.path("big.yaml").exists());
}

#[test]
fn unseal_prints_json_or_one_raw_value_and_identities_come_from_the_environment() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let env = [(
        "AGESEAL_IDENTITY",
        repo.path("../keys/east.key").display().to_string(),
    )];
    let out = repo.run_env(&["unseal", "-f", "db.yaml", "--format", "json"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["kind"], "Secret");
    let out = repo.run_env(&["unseal", "-f", "db.yaml", "--key", "password"], &env);
    assert_eq!(out.stdout, b"hunter2", "raw, nothing added");
    assert_fails(
        &repo.run_env(&["unseal", "-f", "db.yaml", "--key", "nope"], &env),
        3,
        "its keys are: password, user",
    );
}

/// The X25519 key 0, a point of small order: every Diffie-Hellman with it is all zeros, so
/// anyone could open a value sealed to it. The age CLI refuses it too ("low order point").
const LOW_ORDER_RECIPIENT: &str = "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z";
const DB_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: payments}\nstringData: {password: hunter2}\n";

#[test]
fn a_low_order_recipient_is_refused_and_nothing_is_written() {
    let repo = Repo::new();
    let out = repo.run(
        &["seal", "--recipient", LOW_ORDER_RECIPIENT, "-o", "db.yaml"],
        DB_SECRET,
    );
    assert_fails(
        &out,
        3,
        "--recipient number 1: not a usable age recipient: its X25519 key is a low-order point",
    );
    assert!(!repo.path("db.yaml").exists());
    let config = repo
        .read(".ageseal.yaml")
        .replace(&repo.west, LOW_ORDER_RECIPIENT);
    repo.write(".ageseal.yaml", &config);
    let out = repo.run(&["seal", "-o", "db.yaml"], DB_SECRET);
    assert_fails(&out, 3, "regions[1].recipients[0]: not a usable age recipient");
    assert!(!repo.path("db.yaml").exists());
    let age = std::process::Command::new("age")
        .args(["-r", LOW_ORDER_RECIPIENT])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("age runs");
    assert!(
        !age.status.success() && stderr(&age).contains("low order"),
        "{}",
        stderr(&age)
    );
}

/// Editors on Windows save UTF-8 with a byte order mark: it is read like any UTF-8 file, by every
/// command. UTF-16 is refused with a message that names the encoding.
#[test]
fn a_byte_order_mark_is_accepted_everywhere_and_utf16_is_named() {
    let repo = Repo::new();
    let input = format!("\u{feff}{}", kubectl(DB));
    repo.write("bom-input.yaml", &input);
    let out = repo.run(&["seal", "-f", "bom-input.yaml", "-o", "db.yaml"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = repo.run(
        &["seal", "-o", "stdin.yaml"],
        &format!("\u{feff}---\n{}", kubectl(DB)),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // A sealed file saved again with a BOM still verifies, opens and rekeys.
    repo.write("db.yaml", &format!("\u{feff}{}", repo.read("db.yaml")));
    std::fs::remove_file(repo.path("bom-input.yaml")).expect("rm");
    let out = repo.run(&["verify"], "");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        opened_value(&repo, "db.yaml", "../keys/east.key", "password"),
        "hunter2"
    );
    let out = repo.run(&["rekey", "--all", "-i", "../keys/east.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    // UTF-16 (with its BOM, as Windows writes it).
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(kubectl(DB).encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(repo.path("utf16.yaml"), utf16).expect("write");
    let out = repo.run(&["seal", "-f", "utf16.yaml"], "");
    assert_fails(&out, 3, "UTF-16");
    let out = repo.run(&["verify", "utf16.yaml"], "");
    assert!(
        stdout(&out).contains("UTF-16") || stderr(&out).contains("UTF-16"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// `seal -o FILE` onto a file holding SealedSecrets would silently drop the keys the input lacks:
/// refused, pointing at --merge-into and --force; either works as said.
#[test]
fn sealing_over_an_existing_sealed_file_is_refused_unless_forced() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let before = repo.read("db.yaml");
    let only_host = kubectl(&[
        "generic",
        "db",
        "-n",
        "payments",
        "--from-literal=host=db.internal",
    ]);
    let out = repo.run(&["seal", "-o", "db.yaml"], &only_host);
    assert_fails(&out, 3, "already holds payments/db");
    assert!(stderr(&out).contains("--merge-into db.yaml") && stderr(&out).contains("--force"));
    assert_eq!(repo.read("db.yaml"), before);
    let out = repo.run(&["seal", "--merge-into", "db.yaml"], &only_host);
    assert!(out.status.success(), "{}", stderr(&out));
    let merged = yaml(&repo.read("db.yaml"));
    assert_eq!(
        merged["spec"]["encryptedData"].as_mapping().map(|m| m.len()),
        Some(3)
    );
    let out = repo.run(&["seal", "-o", "db.yaml", "--force"], &only_host);
    assert!(out.status.success(), "{}", stderr(&out));
    let forced = yaml(&repo.read("db.yaml"));
    assert_eq!(
        forced["spec"]["encryptedData"].as_mapping().map(|m| m.len()),
        Some(1)
    );
}

/// A value so large that the SealedSecret exceeds what client-side `kubectl apply` accepts
/// (its last-applied-configuration annotation is limited to 256 KiB): sealed, with a warning.
#[test]
fn a_sealed_secret_too_large_for_client_side_apply_says_so() {
    let repo = Repo::new();
    let big = "x".repeat(300 * 1024);
    let input = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: big, namespace: payments}}\nstringData: {{blob: {big}}}\n"
    );
    let out = repo.run(&["seal", "-o", "big.yaml"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kubectl apply --server-side"),
        "{}",
        stderr(&out)
    );
    let out = repo.run(&["seal", "-o", "small.yaml"], &kubectl(DB));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

/// Small habits: a missing output folder is named (never the hidden temporary file), and
/// `AGESEAL_IDENTITY="a, b"` means the files a and b.
#[test]
fn a_missing_folder_is_named_and_identity_lists_are_trimmed() {
    let repo = Repo::new();
    let out = repo.run(&["seal", "-o", "no/such/dir/db.yaml"], &kubectl(DB));
    assert_fails(&out, 5, "the folder no/such/dir does not exist");
    assert!(!stderr(&out).contains(".ageseal-"), "{}", stderr(&out));
    repo.seal("db.yaml", DB);
    let out = repo.run_env(
        &["unseal", "-f", "db.yaml", "--key", "password"],
        &[(
            "AGESEAL_IDENTITY",
            "../keys/west.key, ../keys/east.key".to_owned(),
        )],
    );
    assert_eq!(stdout(&out), "hunter2", "{}", stderr(&out));
}

/// `seal -w /tmp/out.yaml` from inside a repository: no config governs /tmp, so the working
/// folder's does (it decides what is sealed here); with path rules the file's place must be said.
#[test]
fn sealing_to_a_file_outside_the_repository_uses_the_working_folders_config() {
    let repo = Repo::new();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out_file = elsewhere.path().join("out.yaml").display().to_string();
    let out = repo.run(&["seal", "-w", &out_file], &kubectl(DB));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        opened_value(&repo, &out_file, "../keys/west.key", "user"),
        "admin"
    );
    let config = repo.read(".ageseal.yaml");
    repo.write(
        ".ageseal.yaml",
        &format!("{config}rules:\n- {{path: \"eu/**\", regions: [us-west-2]}}\n"),
    );
    let out = repo.run(&["seal", "-w", &out_file, "--force"], &kubectl(DB));
    assert_fails(&out, 3, "--path");
}

/// A type the controller produces only when allowed is sealed with a warning that says so.
#[test]
fn a_secret_type_the_controller_refuses_by_default_is_sealed_with_a_warning() {
    let repo = Repo::new();
    let input = kubectl(&[
        "generic",
        "db",
        "-n",
        "payments",
        "--type=custom.io/x",
        "--from-literal=a=b",
    ]);
    let out = repo.run(&["seal", "-o", "custom.yaml"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--allow-secret-type custom.io/x"),
        "{}",
        stderr(&out)
    );
    let out = repo.run(
        &["seal", "-o", "tls.yaml"],
        &kubectl(&[
            "generic",
            "t",
            "-n",
            "p",
            "--type=kubernetes.io/tls",
            "--from-literal=tls.crt=x",
            "--from-literal=tls.key=y",
        ]),
    );
    assert!(
        out.status.success() && stderr(&out).is_empty(),
        "{}",
        stderr(&out)
    );
}

/// `echo "$TOKEN" | ageseal seal --raw` seals the newline too: kept (the bytes are the value),
/// but said.
#[test]
fn a_raw_value_ending_in_a_newline_is_sealed_as_is_with_a_warning() {
    let repo = Repo::new();
    let args = [
        "seal",
        "--raw",
        "--namespace",
        "payments",
        "--name",
        "db",
        "--key",
        "token",
    ];
    let out = repo.run(&args, "T0ken\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("ends with a newline"), "{}", stderr(&out));
    let out = repo.run(&args, "T0ken");
    assert!(
        out.status.success() && stderr(&out).is_empty(),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stdin_cannot_be_both_the_identity_and_the_file() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let key = repo.read("../keys/east.key");
    let out = repo.run(&["unseal", "-i", "-"], &key);
    assert_fails(&out, 2, "stdin cannot be both");
    let out = repo.run(&["unseal", "-i", "-", "-f", "db.yaml", "--key", "user"], &key);
    assert_eq!(stdout(&out), "admin", "{}", stderr(&out));
}
