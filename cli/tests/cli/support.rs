//! What the CLI tests share: a scratch repository with keys and .ageseal.yaml, running the
//! `ageseal` binary, kubectl-made input, and assertions on error output.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use base64::Engine;
use base64::prelude::BASE64_STANDARD;

/// A scratch repository with `.ageseal.yaml`, and three keys (two regions and a recovery key)
/// kept beside it in `../keys/`, never in it, as the README says to.
pub struct Repo {
    /// Holds the repository and the keys beside it; removed on drop.
    _scratch: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub east: String,
    pub west: String,
    pub recovery: String,
}

impl Repo {
    pub fn new() -> Self {
        let scratch = tempfile::tempdir().expect("tempdir");
        let dir = scratch.path().join("repo");
        std::fs::create_dir_all(&dir).expect("repo");
        std::fs::create_dir_all(scratch.path().join("keys")).expect("keys");
        let mut repo = Repo {
            _scratch: scratch,
            dir,
            east: String::new(),
            west: String::new(),
            recovery: String::new(),
        };
        repo.east = repo.keygen("../keys/east.key");
        repo.west = repo.keygen("../keys/west.key");
        repo.recovery = repo.keygen("../keys/recovery.key");
        let config = format!(
            "regions:\n- {{name: us-east-1, recipients: [{}]}}\n- {{name: us-west-2, recipients: [{}]}}\nrecovery:\n- {{name: break-glass, recipient: {}}}\n",
            repo.east, repo.west, repo.recovery
        );
        repo.write(".ageseal.yaml", &config);
        repo
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read")
    }

    pub fn keygen(&self, name: &str) -> String {
        let out = self.run(&["keygen", "-o", name], "");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        ageseal_in(&self.dir, args, stdin, &[])
    }

    /// `run` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, String)]) -> Output {
        ageseal_in(&self.dir, args, "", env)
    }

    /// Seals a kubectl-made Secret into `rel`.
    pub fn seal(&self, rel: &str, kubectl_args: &[&str]) {
        std::fs::create_dir_all(self.path(rel).parent().expect("parent")).expect("mkdir");
        let out = self.run(&["seal", "-o", rel], &kubectl(kubectl_args));
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// Runs the `ageseal` binary in `dir`.
pub fn ageseal_in(dir: &std::path::Path, args: &[&str], stdin: &str, env: &[(&str, String)]) -> Output {
    Command::new(ageseal_testenv::workspace_binary("ageseal"))
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(args)
        .write_stdin(stdin)
        .output()
        .expect("runs")
}

/// One value of `file`'s SealedSecret, opened with the identity file `identity` (`ageseal unseal
/// --key`); panics with ageseal's message when it cannot be opened.
pub fn opened_value(repo: &Repo, file: &str, identity: &str, key: &str) -> String {
    let out = repo.run(&["unseal", "-f", file, "-i", identity, "--key", key], "");
    assert!(
        out.status.success(),
        "unseal {file} --key {key}: {}",
        stderr(&out)
    );
    stdout(&out)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `kubectl create secret ARGS --dry-run=client -o yaml`.
pub fn kubectl(args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .args(["create", "secret"])
        .args(args)
        .args(["--dry-run=client", "-o", "yaml"])
        .output()
        .expect("kubectl is installed");
    assert!(out.status.success(), "kubectl: {}", stderr(&out));
    stdout(&out)
}

pub const DB: &[&str] = &[
    "generic",
    "db",
    "-n",
    "payments",
    "--from-literal=password=hunter2",
    "--from-literal=user=admin",
];

pub fn assert_fails(out: &Output, code: i32, needle: &str) {
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

pub fn yaml(text: &str) -> serde_yaml::Value {
    serde_yaml::from_str(text).expect("yaml")
}

pub fn secret_value(unsealed: &str, key: &str) -> Vec<u8> {
    let doc = yaml(unsealed);
    BASE64_STANDARD
        .decode(doc["data"][key].as_str().expect("key present"))
        .expect("base64")
}

/// Rewrites a sealed file with `edit` applied to its YAML.
pub fn tamper(repo: &Repo, rel: &str, edit: impl Fn(&mut serde_yaml::Value)) {
    let mut doc = yaml(&repo.read(rel));
    edit(&mut doc);
    repo.write(rel, &serde_yaml::to_string(&doc).expect("yaml"));
}
