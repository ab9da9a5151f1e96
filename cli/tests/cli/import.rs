//! `ageseal import`: Bitnami SealedSecrets made by kubesealpy (a third-party implementation of
//! their format) and Secrets encrypted by the real `sops` binary become ageseal SealedSecrets that
//! open in every region with the same bytes; scopes survive; what cannot be carried over is
//! refused by name and nothing is written.
//!
//! The peers come from scripts/test.sh: `AGESEAL_KUBESEAL_PYTHON` (a Python with kubesealpy) and
//! `sops` on PATH. Without them these tests fail, saying so.

use std::path::Path;
use std::process::Command;

use super::support::*;

const BITNAMI: &str = r#"
import base64, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kubesealpy import Sealer, SealingScope

out = sys.argv[1]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption())
open(out + "/key.pem", "wb").write(pem)
b64 = base64.b64encode(pem).decode()
open(out + "/keys.yaml", "w").write(
    "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n"
    "  metadata: {name: sealed-secrets-key7x2, namespace: kube-system}\n"
    "  type: kubernetes.io/tls\n  data:\n    tls.crt: ''\n    tls.key: " + b64 + "\n")
sealer = Sealer(key.public_key())
strict = sealer.seal("db", "payments", {"username": b"admin", "password": b"Bitnami-Str1ct"},
                     secret_type="kubernetes.io/basic-auth", labels={"app": "db"},
                     annotations={"team": "pay", "sealedsecrets.bitnami.com/managed": "true"})
strict.spec.template.immutable = True
shared = sealer.seal("shared", "payments", {"token": b"Bitnami-NsW1de"},
                     scope=SealingScope.NAMESPACE_WIDE)
everywhere = sealer.seal("global", "default", {"k": b"Bitnami-Cl4ster"},
                         scope=SealingScope.CLUSTER_WIDE)
open(out + "/db.yaml", "w").write(
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep-me, namespace: payments}\n"
    "data: {a: b}\n---\n" + strict.to_yaml())
open(out + "/shared.yaml", "w").write(shared.to_yaml())
open(out + "/global.yaml", "w").write(everywhere.to_yaml())
moved = sealer.seal("db", "payments", {"password": b"Bitnami-M0ved"})
moved.metadata.name = "stolen"
open(out + "/moved.yaml", "w").write(moved.to_yaml())
foreign = Sealer(other.public_key()).seal("x", "payments", {"password": b"Bitnami-F0reign"})
open(out + "/foreign.yaml", "w").write(foreign.to_yaml())
"#;

fn python() -> String {
    std::env::var("AGESEAL_KUBESEAL_PYTHON").unwrap_or_else(|_| {
        panic!("AGESEAL_KUBESEAL_PYTHON is not set: run scripts/test.sh, which installs kubesealpy")
    })
}

/// Writes Bitnami objects and their controller's key (PEM and key Secret List) into `dir`.
fn bitnami_fixtures(dir: &Path) {
    let out = Command::new(python())
        .args(["-c", BITNAMI])
        .arg(dir)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "kubesealpy: {}", stderr(&out));
}

fn unsealed(repo: &Repo, rel: &str, key: &str) -> String {
    let out = repo.run(&["unseal", "-f", rel, "-i", key], "");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// A scratch repository with these Bitnami fixture files under apps/, the fixtures folder (kept
/// alive by the caller) and the path of the controller's key Secrets there.
fn repo_with_bitnami(files: &[&str]) -> (Repo, tempfile::TempDir, String) {
    let repo = Repo::new();
    let fixtures = tempfile::tempdir().expect("tempdir");
    bitnami_fixtures(fixtures.path());
    std::fs::create_dir_all(repo.path("apps")).expect("apps");
    for file in files {
        std::fs::copy(fixtures.path().join(file), repo.path(&format!("apps/{file}"))).expect("copied");
    }
    let keys = fixtures.path().join("keys.yaml").display().to_string();
    (repo, fixtures, keys)
}

/// `ageseal import apps --from sealed-secrets --private-key KEYS [EXTRA...]` in `repo`.
fn import_bitnami(repo: &Repo, keys: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import",
        "apps",
        "--from",
        "sealed-secrets",
        "--private-key",
        keys,
    ];
    args.extend(extra);
    repo.run(&args, "")
}

#[test]
fn bitnami_sealed_secrets_become_ageseal_ones_that_open_in_every_region() {
    let (repo, fixtures, keys) = repo_with_bitnami(&["db.yaml", "shared.yaml", "global.yaml"]);
    let before = repo.read("apps/db.yaml");

    // Without --in-place: the converted documents on stdout, files untouched.
    let out = import_bitnami(&repo, &keys, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).matches("kind: SealedSecret").count(),
        3,
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("apiVersion: ageseal.io/"));
    assert_eq!(repo.read("apps/db.yaml"), before, "written without --in-place");

    // --in-place, with the PEM key this time.
    let pem = fixtures.path().join("key.pem").display().to_string();
    let out = import_bitnami(&repo, &pem, &["--in-place"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = repo.read("apps/db.yaml");
    assert!(
        db.starts_with("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep-me, namespace: payments}\ndata: {a: b}\n---\n"),
        "the other document changed: {db}"
    );
    assert!(!db.contains("bitnami.com"), "{db}");
    let out = repo.run(&["verify", "apps"], "");
    assert!(out.status.success(), "verify: {}", stderr(&out));

    // Every region opens every value, with the same bytes; template metadata carried over.
    for key in ["../keys/east.key", "../keys/west.key"] {
        let plain = unsealed(&repo, "apps/db.yaml", key);
        assert_eq!(secret_value(&plain, "password"), b"Bitnami-Str1ct");
        assert_eq!(secret_value(&plain, "username"), b"admin");
        let doc = yaml(&plain);
        assert_eq!(doc["type"], "kubernetes.io/basic-auth");
        assert_eq!(doc["immutable"], true);
        assert_eq!(doc["metadata"]["labels"]["app"], "db");
        assert_eq!(doc["metadata"]["annotations"]["team"], "pay");
        assert!(
            doc["metadata"]["annotations"]
                .get("sealedsecrets.bitnami.com/managed")
                .is_none(),
            "a Bitnami directive was carried into the template"
        );
        assert_eq!(
            secret_value(&unsealed(&repo, "apps/shared.yaml", key), "token"),
            b"Bitnami-NsW1de"
        );
        assert_eq!(
            secret_value(&unsealed(&repo, "apps/global.yaml", key), "k"),
            b"Bitnami-Cl4ster"
        );
    }
    // Scopes survive.
    let scope = |rel: &str| yaml(&repo.read(rel))["metadata"]["annotations"]["ageseal.io/scope"].clone();
    assert_eq!(scope("apps/shared.yaml"), "namespace-wide");
    assert_eq!(scope("apps/global.yaml"), "cluster-wide");
    let db_scope = yaml(db.split("---\n").nth(1).expect("second document"))["metadata"]["annotations"]
        ["ageseal.io/scope"]
        .clone();
    assert!(db_scope.is_null() || db_scope == "strict", "{db_scope:?}");
}

#[test]
fn bitnami_objects_that_cannot_be_carried_over_are_refused_and_nothing_is_written() {
    let (repo, _fixtures, keys) = repo_with_bitnami(&["db.yaml", "moved.yaml", "foreign.yaml"]);
    let templated = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: tpl, namespace: payments}\nspec:\n  encryptedData: {}\n  template:\n    data:\n      url: 'postgres://{{ index . \"password\" }}@db'\n";
    repo.write("apps/tpl.yaml", templated);
    let before = repo.read("apps/db.yaml");
    let out = import_bitnami(&repo, &keys, &["--in-place"]);
    assert_fails(&out, 3, "nothing was written");
    let err = stderr(&out);
    assert!(
        err.contains("payments/stolen") && err.contains("moved from another name"),
        "{err}"
    );
    assert!(
        err.contains("payments/x") && err.contains("none of the given private keys"),
        "{err}"
    );
    assert!(
        err.contains("payments/tpl") && err.contains("template.data"),
        "{err}"
    );
    for value in ["Bitnami-M0ved", "Bitnami-F0reign", "Bitnami-Str1ct"] {
        assert!(
            !err.contains(value) && !stdout(&out).contains(value),
            "a value was printed"
        );
    }
    assert_eq!(repo.read("apps/db.yaml"), before, "a file was written");
    assert!(repo.read("apps/moved.yaml").contains("bitnami.com"));

    // Keys that are not keys are refused without echoing them.
    repo.write(
        "../keys/bad.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
    );
    let out = import_bitnami(&repo, "../keys/bad.pem", &[]);
    assert_fails(&out, 3, "does not parse");
    assert!(!stderr(&out).contains("bm90IGEga2V5"));
    let out = repo.run(&["import", "apps", "--from", "sealed-secrets"], "");
    assert_fails(&out, 2, "--private-key");
}

fn sops_encrypt(repo: &Repo, rel: &str, recipient: &str) {
    let out = Command::new("sops")
        .current_dir(&repo.dir)
        .args([
            "--encrypt",
            "--age",
            recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
        ])
        .args(["--input-type", "yaml", "--output-type", "yaml", "--in-place", rel])
        .output()
        .unwrap_or_else(|e| panic!("sops is not on PATH ({e}): run scripts/test.sh, which installs it"));
    assert!(out.status.success(), "sops: {}", stderr(&out));
}

#[test]
fn sops_encrypted_secrets_become_ageseal_sealed_secrets() {
    let repo = Repo::new();
    let sops_key = repo.keygen("../keys/sops.key");
    repo.write("apps/db.yaml", &kubectl(DB));
    sops_encrypt(&repo, "apps/db.yaml", &sops_key);
    let encrypted = repo.read("apps/db.yaml");
    assert!(
        encrypted.contains("ENC[") && !encrypted.contains("aHVudGVyMg"),
        "{encrypted}"
    );
    let key_file = repo.path("../keys/sops.key").display().to_string();
    let env = [("SOPS_AGE_KEY_FILE", key_file.clone())];

    let out = repo.run_env(&["import", "apps", "--from", "sops"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("kind: SealedSecret") && !stdout(&out).contains("hunter2"));
    assert_eq!(repo.read("apps/db.yaml"), encrypted, "written without --in-place");

    let out = repo.run_env(&["import", "apps", "--from", "sops", "--in-place"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    for key in ["../keys/east.key", "../keys/west.key"] {
        let plain = unsealed(&repo, "apps/db.yaml", key);
        assert_eq!(secret_value(&plain, "password"), b"hunter2");
        assert_eq!(secret_value(&plain, "user"), b"admin");
    }

    // sops cannot decrypt (no key): a clear error, nothing written.
    repo.write("apps/other.yaml", &kubectl(DB).replace("name: db", "name: other"));
    sops_encrypt(&repo, "apps/other.yaml", &sops_key);
    let before = repo.read("apps/other.yaml");
    let out = repo.run_env(
        &["import", "apps/other.yaml", "--from", "sops", "--in-place"],
        &[("SOPS_AGE_KEY_FILE", "/nonexistent".to_owned())],
    );
    assert_fails(&out, 3, "sops could not decrypt it");
    assert_eq!(repo.read("apps/other.yaml"), before);

    // No sops binary: say so.
    let out = repo.run_env(
        &["import", "apps/other.yaml", "--from", "sops"],
        &[("AGESEAL_SOPS", "/nonexistent/sops".to_owned())],
    );
    assert_fails(&out, 3, "needs the sops binary");
}

/// sops contacts whatever key service a file's metadata names. A file that names a Vault
/// address (next to its age key) is listed and refused before sops runs: nothing connects to
/// that address, nothing is written, and the other files of the tree are left alone too.
#[test]
fn sops_files_naming_other_key_services_are_listed_and_refused_before_sops_runs() {
    let repo = Repo::new();
    let sops_key = repo.keygen("../keys/sops.key");
    for name in ["db", "cache"] {
        repo.write(
            &format!("apps/{name}.yaml"),
            &kubectl(DB).replace("name: db", &format!("name: {name}")),
        );
        sops_encrypt(&repo, &format!("apps/{name}.yaml"), &sops_key);
    }
    // A "Vault" that records whether anyone connects.
    let vault = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    vault.set_nonblocking(true).expect("nonblocking");
    let address = format!("http://{}", vault.local_addr().expect("addr"));
    let planted = repo.read("apps/db.yaml").replace(
        "sops:\n",
        &format!("sops:\n    hc_vault:\n        - vault_address: {address}\n          engine_path: transit\n          key_name: ageseal\n          created_at: \"2026-12-01T00:00:00Z\"\n          enc: vault:v1:AAAA\n"),
    );
    assert!(planted.contains("hc_vault"), "{planted}");
    repo.write("apps/db.yaml", &planted);
    let before = (repo.read("apps/db.yaml"), repo.read("apps/cache.yaml"));
    let env = [(
        "SOPS_AGE_KEY_FILE",
        repo.path("../keys/sops.key").display().to_string(),
    )];
    let out = repo.run_env(&["import", "apps", "--from", "sops", "--in-place"], &env);
    assert_fails(&out, 3, "--allow-key-source hc-vault");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("hc-vault {address} (transit/ageseal)"))
            && err.contains(&format!("age {sops_key}")),
        "{err}"
    );
    assert!(
        vault.accept().is_err(),
        "something connected to the Vault address"
    );
    assert_eq!(
        (repo.read("apps/db.yaml"), repo.read("apps/cache.yaml")),
        before,
        "a file was written"
    );
    // Allowed by name, sops is run on it (and fails here: that Vault holds no key).
    let out = repo.run_env(
        &[
            "import",
            "apps/db.yaml",
            "--from",
            "sops",
            "--allow-key-source",
            "hc-vault",
        ],
        &env,
    );
    assert!(
        !stderr(&out).contains("--allow-key-source hc-vault"),
        "{}",
        stderr(&out)
    );
    // age-only files convert as before.
    let out = repo.run_env(&["import", "apps/cache.yaml", "--from", "sops"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
}
