//! `ageseal verify` (and `unseal`) on tampered and broken files.

use base64::Engine;
use base64::prelude::BASE64_STANDARD;

use super::support::*;

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
        let out = repo.run(&["unseal", "-f", "db.yaml", "-i", "../keys/east.key"], "");
        assert_eq!(out.status.code(), Some(4), "{what}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{what}: printed something");
        let out = repo.run(&["verify", "-i", "../keys/east.key"], "");
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
        "hint: re-seal to the current recipients: ageseal rekey FILE",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in {report}");
    }
    assert!(
        report.lines().all(|l| l.contains("a.yaml: payments/db: ")),
        "{report}"
    );
}

/// The summary counts the files that hold SealedSecrets (not the config beside them), and a
/// tree of Bitnami SealedSecrets gets pointed at `import`.
#[test]
fn the_summary_counts_sealed_files_and_bitnami_trees_are_pointed_at_import() {
    let repo = Repo::new();
    repo.seal("apps/db.yaml", DB);
    let out = repo.run(&["verify"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("checked 1 SealedSecrets in 1 files ("),
        "{}",
        stderr(&out)
    );
    repo.write(
        "legacy/db.yaml",
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: payments}\nspec: {encryptedData: {password: AgBy3i4OJSWK}}\n",
    );
    let out = repo.run(&["verify", "legacy"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("ageseal import --from sealed-secrets"),
        "{}",
        stdout(&out)
    );
}
