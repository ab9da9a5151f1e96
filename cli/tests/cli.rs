//! Black-box tests of the `ageseal` binary: output, files and exit codes of every command and
//! error path, with input made by `kubectl create secret --dry-run=client` and the age CLI as
//! the peer that opens what we seal.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

/// A scratch repository with three keys (two regions and a recovery key) and `.ageseal.yaml`.
struct Repo {
    dir: tempfile::TempDir,
    east: String,
    west: String,
    recovery: String,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut repo = Repo {
            dir,
            east: String::new(),
            west: String::new(),
            recovery: String::new(),
        };
        repo.east = repo.keygen("east.key");
        repo.west = repo.keygen("west.key");
        repo.recovery = repo.keygen("recovery.key");
        let config = format!(
            "regions:\n- {{name: us-east-1, recipients: [{}]}}\n- {{name: us-west-2, recipients: [{}]}}\nrecovery:\n- {{name: break-glass, recipient: {}}}\n",
            repo.east, repo.west, repo.recovery
        );
        repo.write(".ageseal.yaml", &config);
        repo
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read")
    }

    fn keygen(&self, name: &str) -> String {
        let out = self.run(&["keygen", "-o", name], "");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        ageseal_in(self.dir.path(), args, stdin, &[])
    }

    /// `run` with extra environment variables.
    fn run_env(&self, args: &[&str], env: &[(&str, String)]) -> Output {
        ageseal_in(self.dir.path(), args, "", env)
    }

    /// Seals a kubectl-made Secret into `rel`.
    fn seal(&self, rel: &str, kubectl_args: &[&str]) {
        std::fs::create_dir_all(self.path(rel).parent().expect("parent")).expect("mkdir");
        let out = self.run(&["seal", "-o", rel], &kubectl(kubectl_args));
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// Runs the `ageseal` binary in `dir`.
fn ageseal_in(dir: &std::path::Path, args: &[&str], stdin: &str, env: &[(&str, String)]) -> Output {
    Command::cargo_bin("ageseal")
        .expect("binary")
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .write_stdin(stdin)
        .output()
        .expect("runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `kubectl create secret ARGS --dry-run=client -o yaml`.
fn kubectl(args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .args(["create", "secret"])
        .args(args)
        .args(["--dry-run=client", "-o", "yaml"])
        .output()
        .expect("kubectl is installed");
    assert!(out.status.success(), "kubectl: {}", stderr(&out));
    stdout(&out)
}

const DB: &[&str] = &[
    "generic",
    "db",
    "-n",
    "payments",
    "--from-literal=password=hunter2",
    "--from-literal=user=admin",
];

fn assert_fails(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(
        err.contains("error: ") && err.contains("\nhint: "),
        "no error/hint: {err}"
    );
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(
        !err.contains("hunter2") && !stdout(out).contains("hunter2"),
        "secret printed: {err}"
    );
}

fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).expect("yaml")
}

fn secret_value(unsealed: &str, key: &str) -> Vec<u8> {
    let doc = yaml(unsealed);
    BASE64_STANDARD
        .decode(doc["data"][key].as_str().expect("key present"))
        .expect("base64")
}

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
    for key in ["east.key", "west.key", "recovery.key"] {
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
        .arg(repo.path("west.key"))
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
        let leftovers: Vec<_> = std::fs::read_dir(repo.dir.path())
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
    let out = repo.run(&["unseal", "-f", "west/apps/db.yaml", "-i", "east.key"], "");
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
        .arg(repo.path("east.key"))
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
    let out = repo.run(&["unseal", "-f", "db.yaml", "-i", "west.key"], "");
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

/// Rewrites a sealed file with `edit` applied to its YAML.
fn tamper(repo: &Repo, rel: &str, edit: impl Fn(&mut serde_yaml::Value)) {
    let mut doc = yaml(&repo.read(rel));
    edit(&mut doc);
    repo.write(rel, &serde_yaml::to_string(&doc).expect("yaml"));
}

#[test]
fn tampering_makes_unseal_and_verify_fail() {
    let flip = |doc: &mut serde_yaml::Value| {
        let text = doc["spec"]["encryptedData"]["password"]
            .as_str()
            .expect("value")
            .to_owned();
        let mut bytes = BASE64_STANDARD.decode(text).expect("base64");
        let last = bytes.len() - 5;
        bytes[last] ^= 1;
        doc["spec"]["encryptedData"]["password"] = BASE64_STANDARD.encode(bytes).into();
    };
    let rename = |doc: &mut serde_yaml::Value| {
        let map = doc["spec"]["encryptedData"].as_mapping_mut().expect("map");
        let value = map.remove("password").expect("present");
        map.insert("token".into(), value);
    };
    type Edit = Box<dyn Fn(&mut serde_yaml::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "namespace",
            Box::new(|d| d["metadata"]["namespace"] = "billing".into()),
            "ScopeMismatch",
        ),
        (
            "name",
            Box::new(|d| d["metadata"]["name"] = "web".into()),
            "ScopeMismatch",
        ),
        (
            "cluster-wide annotation",
            Box::new(|d| {
                d["metadata"]["namespace"] = "billing".into();
                d["metadata"]["annotations"]["ageseal.io/scope"] = "cluster-wide".into();
            }),
            "ScopeMismatch",
        ),
        ("renamed key", Box::new(rename), "ScopeMismatch"),
        ("flipped byte", Box::new(flip), "MalformedValue"),
    ];
    for (what, edit, _reason) in cases {
        let repo = Repo::new();
        repo.seal("db.yaml", DB);
        tamper(&repo, "db.yaml", edit);
        let out = repo.run(&["unseal", "-f", "db.yaml", "-i", "east.key"], "");
        assert_eq!(out.status.code(), Some(4), "{what}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{what}: printed something");
        let out = repo.run(&["verify", "-i", "east.key"], "");
        assert_eq!(out.status.code(), Some(1), "{what}: verify -i passed");
        assert!(!stdout(&out).contains("hunter2"));
    }
}

#[test]
fn verify_reports_each_problem_and_passes_a_clean_tree() {
    let repo = Repo::new();
    repo.seal("apps/db.yaml", DB);
    repo.write(
        "apps/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
    );
    repo.write("apps/chart.yaml", "{{ .Values.helm }}: [\n");
    let out = repo.run(&["verify"], "");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("checked 1 SealedSecrets"));

    repo.seal("apps/a.yaml", DB);
    tamper(&repo, "apps/a.yaml", |d| {
        d["metadata"]["annotations"] = serde_yaml::Value::Null;
        d["spec"]["recipients"].as_sequence_mut().expect("hint").pop();
        d["spec"]["encryptedData"]["user"] = "!!not base64!!".into();
    });
    let out = repo.run(&["verify", "apps"], "");
    assert_eq!(out.status.code(), Some(1));
    let report = stdout(&out);
    for needle in [
        "annotation is missing",
        "sealed to 3 recipients but spec.recipients lists 2",
        "not valid base64",
        "run ageseal rekey",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in {report}");
    }
    assert!(
        report.lines().all(|l| l.contains("a.yaml: payments/db: ")),
        "{report}"
    );
}

#[test]
fn rekey_brings_in_a_new_region_and_a_second_run_changes_nothing() {
    let repo = Repo::new();
    repo.seal("apps/db.yaml", DB);
    repo.seal(
        "apps/cache.yaml",
        &[
            "generic",
            "cache",
            "-n",
            "payments",
            "--from-literal=url=redis://x",
        ],
    );
    let south = repo.keygen("south.key");
    assert!(
        repo.run(&["region", "add", "ap-south-1", "--recipient", &south], "")
            .status
            .success()
    );
    assert_eq!(
        repo.run(&["verify"], "").status.code(),
        Some(1),
        "old files are not sealed for the new region"
    );
    assert_fails(
        &repo.run(&["unseal", "-f", "apps/db.yaml", "-i", "south.key"], ""),
        4,
        "none of the given",
    );

    let before = repo.read("apps/db.yaml");
    let out = repo.run(&["rekey", "--dry-run", "-i", "recovery.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("would rekey") && stdout(&out).contains("db.yaml"));
    assert_eq!(repo.read("apps/db.yaml"), before, "dry run wrote");

    let out = repo.run(&["rekey", "-i", "recovery.key"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rekeyed 2 SealedSecrets in 2 files"),
        "{}",
        stderr(&out)
    );
    assert!(repo.run(&["verify", "-i", "south.key"], "").status.success());
    let out = repo.run(&["unseal", "-f", "apps/db.yaml", "-i", "south.key"], "");
    assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");

    let settled = repo.read("apps/db.yaml");
    let out = repo.run(&["rekey", "-i", "recovery.key"], "");
    assert!(
        stderr(&out).contains("rekeyed 0 SealedSecrets in 0 files; 2 already current"),
        "{}",
        stderr(&out)
    );
    assert_eq!(repo.read("apps/db.yaml"), settled, "second run changed a file");
}

#[test]
fn rekey_with_the_wrong_identity_changes_nothing() {
    let repo = Repo::new();
    repo.seal("db.yaml", DB);
    let stranger = repo.keygen("stranger.key");
    repo.run(&["region", "add", "eu-west-1", "--recipient", &stranger], "");
    let before = repo.read("db.yaml");
    assert_fails(&repo.run(&["rekey", "-i", "stranger.key"], ""), 4, "db.yaml");
    assert_eq!(repo.read("db.yaml"), before);
}

#[test]
fn keygen_writes_0600_prints_the_public_key_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let repo = Repo::new();
    let mode = std::fs::metadata(repo.path("east.key"))
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = repo.read("east.key");
    assert!(text.contains(&format!("# public key: {}", repo.east)));
    assert!(repo.east.starts_with("age1"));
    assert_fails(&repo.run(&["keygen", "-o", "east.key"], ""), 3, "already exists");
    assert_eq!(repo.read("east.key"), text);
    let out = repo.run(&["keygen"], "");
    assert!(stdout(&out).contains("AGE-SECRET-KEY-1") && stderr(&out).contains("Public key: age1"));
}

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
            &["unseal", "-i", "east.key"][..],
            &["verify", "g.yaml"][..],
            &["rekey", "g.yaml", "-i", "east.key"][..],
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
fn a_kms_wrapped_recovery_key_is_made_by_keygen_and_opens_sealed_files() {
    use ageseal_kms::moto::Moto;
    let moto = Moto::start();
    let arn = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(moto.create_key("us-east-1"));
    let repo = Repo::new();
    let with_moto = |args: &[&str], env: &[(&'static str, String)]| repo.run_env(args, env);
    let out = with_moto(&["keygen", "--kms-key", &arn, "-o", "recovery.kms"], &moto.env());
    assert!(out.status.success(), "{}", stderr(&out));
    let recipient = stdout(&out).trim().to_owned();
    let file = repo.read("recovery.kms");
    assert!(
        file.contains("ageseal-kms-identity/v1") && file.contains(&arn) && !file.contains("AGE-SECRET-KEY")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(repo.path("recovery.kms"))
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let config = format!(
        "regions:\n- {{name: us-east-1, recipients: [{}]}}\nrecovery:\n- {{name: break-glass, recipient: {recipient}, identity: recovery.kms}}\n",
        repo.east
    );
    repo.write(".ageseal.yaml", &config);
    repo.seal("db.yaml", DB);
    let out = with_moto(&["unseal", "-f", "db.yaml", "-i", "recovery.kms"], &moto.env());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");
    // Without -i, the recovery identity .ageseal.yaml names is used.
    let out = with_moto(&["unseal", "-f", "db.yaml"], &moto.env());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(secret_value(&stdout(&out), "password"), b"hunter2");

    repo.write(
        "tampered.kms",
        &file.replace("purpose=ageseal-identity", "purpose=something-else"),
    );
    let out = with_moto(&["unseal", "-f", "db.yaml", "-i", "tampered.kms"], &moto.env());
    assert_fails(&out, 6, "wrong key or wrong encryption context");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut unreachable = moto.env();
    unreachable[0].1 = format!("http://127.0.0.1:{closed}");
    let out = with_moto(&["unseal", "-f", "db.yaml", "-i", "recovery.kms"], &unreachable);
    assert_fails(&out, 6, "cannot reach AWS KMS");
    let out = with_moto(&["keygen", "--kms-key", "not-an-arn", "-o", "x.kms"], &moto.env());
    assert_fails(&out, 6, "not a KMS key ARN");
    assert!(!repo.path("x.kms").exists(), "a failed keygen left a file");
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
        3,
        "kubeconfig context nowhere",
    );
    assert_fails(
        &run(&["region", "add", "eu-west-1", "--from-cluster", "nowhere"]),
        3,
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
