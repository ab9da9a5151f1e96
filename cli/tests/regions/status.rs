//! `ageseal status` against two real regions: in sync, drift (missing, old generation, other
//! values), a key no longer published, namespace-only access, and cluster errors said plainly.

use std::sync::Arc;

use ageseal_testenv::regions::Regions;
use ageseal_testenv::{Test, wait_until};

use super::support::{Fleet, SOON, stderr, stdout};

pub fn tests() -> Vec<Test<Regions>> {
    vec![
        Test::new("status_in_sync_then_drift_in_one_region", in_sync_then_drift),
        Test::new("status_flags_an_object_opened_with_a_retired_key", retired_key),
        Test::new(
            "status_lists_per_namespace_when_listing_all_is_forbidden",
            namespace_only,
        ),
        Test::new("status_errors_say_which_identity_and_which_server", errors),
        Test::new(
            "status_shows_the_regions_that_answer_when_one_is_down",
            one_region_down,
        ),
    ]
}

fn status(fleet: &Fleet, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "status",
        "apps",
        "--controller-namespace",
        fleet.system(),
        "--context",
        "east",
        "--context",
        "west",
    ];
    args.extend(extra);
    fleet.ageseal(&args, "")
}

fn in_sync_then_drift(regions: Arc<Regions>) {
    let fleet = Fleet::new(regions, &["east", "west"], "sync");
    fleet.add_regions();
    let db = fleet.seal("db", "Sync-Db-V4lue");
    let cache = fleet.seal("cache", "Sync-Cache-V4lue");
    for region in ["east", "west"] {
        fleet.apply(region, &db, "db");
        fleet.apply(region, &cache, "cache");
    }
    let out = status(&fleet, &[]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let table = stdout(&out);
    assert_eq!(table.lines().count(), 5, "{table}");
    let widths: Vec<usize> = table
        .lines()
        .map(|l| {
            l.find("REGION")
                .or_else(|| l.find("east"))
                .or_else(|| l.find("west"))
                .unwrap_or(0)
        })
        .collect();
    assert!(
        widths.windows(2).all(|w| w[0] == w[1]),
        "columns not aligned:\n{table}"
    );

    // West misses an object: drift, said in the row.
    fleet
        .kubectl("west")
        .ok(&["delete", "sealedsecret", "cache", "-n", fleet.apps()], None);
    let out = status(&fleet, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let missing: Vec<&serde_json::Value> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["present"] == false)
        .collect();
    assert_eq!(missing.len(), 1, "{rows}");
    assert_eq!(
        (missing[0]["region"].as_str(), missing[0]["object"].as_str()),
        (Some("west"), Some(&*format!("{}/cache", fleet.apps())))
    );
    assert!(
        missing[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not applied")
    );

    // East runs an older generation of db than Git: the file changes, east does not see it yet.
    fleet.apply("west", &cache, "cache");
    let text = std::fs::read_to_string(&db).expect("file");
    let input =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: Sync-New-V4lue}\n";
    ageseal_testenv::secrets::remember("Sync-New-V4lue");
    fleet.ok(&["seal", "--merge-into", "apps/db.yaml"], input);
    assert_ne!(std::fs::read_to_string(&db).expect("file"), text);
    fleet.apply("west", &db, "db");
    let out = status(&fleet, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let stale: Vec<&serde_json::Value> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| !r["matches_git"].as_bool().unwrap_or(true))
        .collect();
    assert_eq!(stale.len(), 1, "{rows}");
    assert_eq!(stale[0]["region"], "east");
    fleet.apply("east", &db, "db");
    assert_eq!(status(&fleet, &[]).status.code(), Some(0));
}

/// In an incident: west answers, a third context points at an API server that is gone. West's
/// rows are printed, one error names the region that could not be read, and the exit code is 5.
fn one_region_down(regions: Arc<Regions>) {
    let fleet = Fleet::new(regions.clone(), &["east", "west"], "down");
    fleet.add_regions();
    let db = fleet.seal("db", "Down-V4lue");
    for region in ["east", "west"] {
        fleet.apply(region, &db, "db");
    }
    // A kubeconfig with the regions' contexts plus `gone`, whose API server no longer listens.
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::copy(regions.kubeconfig(), &kubeconfig).expect("copy");
    let closed = ageseal_testenv::free_port();
    let kubectl = ageseal_testenv::Kubectl::new(&kubeconfig);
    kubectl.ok(
        &[
            "config",
            "set-cluster",
            "gone",
            &format!("--server=https://127.0.0.1:{closed}"),
        ],
        None,
    );
    kubectl.ok(
        &["config", "set-context", "gone", "--cluster=gone", "--user=east"],
        None,
    );
    let args = [
        "status",
        "apps",
        "--controller-namespace",
        fleet.system(),
        "--kubeconfig",
        &kubeconfig.display().to_string(),
        "--request-timeout",
        "5s",
        "--context",
        "gone",
        "--context",
        "west",
        "--context",
        "west",
    ];
    let out = fleet.ageseal(&args, "");
    let (table, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(5), "{table}{err}");
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "west's row, once:\n{table}");
    assert!(
        rows[0].contains("db.yaml") && !rows[0].contains("gone"),
        "{table}"
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("context gone") && errors[0].contains(&format!("127.0.0.1:{closed}")),
        "{err}"
    );
    assert!(
        err.contains("1 regions: 0 not in sync, 1 could not be read"),
        "{err}"
    );
}

fn retired_key(regions: Arc<Regions>) {
    let fleet = Fleet::new(regions, &["east", "west"], "retired");
    fleet.add_regions();
    let db = fleet.seal("db", "Retired-V4lue");
    for region in ["east", "west"] {
        fleet.apply(region, &db, "db");
    }
    assert_eq!(status(&fleet, &[]).status.code(), Some(0));
    // East's key is retired (say, after a leak): the object is still Ready, opened with that key.
    let east = fleet.kubectl("east");
    let keys = east.ok(
        &[
            "get",
            "secrets",
            "-n",
            fleet.system(),
            "-l",
            "ageseal.io/key",
            "-o",
            "name",
        ],
        None,
    );
    let key = keys.lines().next().expect("a key").to_owned();
    east.ok(
        &[
            "create",
            "secret",
            "generic",
            "ageseal-key-999999999999",
            "-n",
            fleet.system(),
            "--type=ageseal.io/key",
            &format!("--from-literal=identity={}", new_identity()),
            "--field-manager=ageseal-controller",
        ],
        None,
    );
    east.ok(
        &[
            "label",
            "secret",
            "ageseal-key-999999999999",
            "-n",
            fleet.system(),
            "ageseal.io/key=active",
        ],
        None,
    );
    east.ok(
        &[
            "label",
            "--overwrite",
            &key,
            "-n",
            fleet.system(),
            "ageseal.io/key=retired",
        ],
        None,
    );
    let out = wait_until("status to flag the retired key", SOON, || {
        let out = status(&fleet, &[]);
        (out.status.code() == Some(1) && stdout(&out).contains("no longer publishes")).then_some(out)
    });
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .filter(|l| l.contains("no longer publishes"))
            .all(|l| l.contains("east")),
        "{table}"
    );
}

fn new_identity() -> String {
    let out = std::process::Command::new(ageseal_testenv::workspace_binary("ageseal"))
        .arg("keygen")
        .output()
        .expect("keygen");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("identity")
        .to_owned();
    ageseal_testenv::secrets::remember(&line)
}

fn namespace_only(regions: Arc<Regions>) {
    let fleet = Fleet::new(regions.clone(), &["east"], "narrow");
    fleet.add_regions();
    let db = fleet.seal("db", "Narrow-V4lue");
    fleet.apply("east", &db, "db");
    // A developer who may read SealedSecrets in the app namespace and the recipients ConfigMap.
    let east = fleet.kubectl("east");
    let (apps, system) = (fleet.apps(), fleet.system());
    east.apply(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: dev, namespace: {apps}}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: read-sealed, namespace: {apps}}}\nrules:\n- {{apiGroups: [ageseal.io], resources: [sealedsecrets], verbs: [get, list]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: dev, namespace: {apps}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-sealed}}\nsubjects: [{{kind: ServiceAccount, name: dev, namespace: {apps}}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: read-recipients, namespace: {system}}}\nrules:\n- {{apiGroups: [''], resources: [configmaps], verbs: [get]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: dev, namespace: {system}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-recipients}}\nsubjects: [{{kind: ServiceAccount, name: dev, namespace: {apps}}}]\n"
    ));
    let kubeconfig = regions
        .plane("east")
        .service_account_kubeconfig(apps, "dev")
        .expect("token");
    let out = fleet.ageseal(
        &[
            "status",
            "apps",
            "--controller-namespace",
            system,
            "--kubeconfig",
            &kubeconfig.display().to_string(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
}

fn errors(regions: Arc<Regions>) {
    let fleet = Fleet::new(regions.clone(), &["east"], "errors");
    fleet.add_regions();
    let db = fleet.seal("db", "Errors-V4lue");
    fleet.apply("east", &db, "db");
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, ca, _) = regions
        .plane("east")
        .credentials(ageseal_testenv::User::Admin)
        .expect("credentials");
    let closed = ageseal_testenv::free_port();
    let write = |name: &str, server: &str, token: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!("apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: '{server}', certificate-authority: '{}'}}}}]\nusers: [{{name: u, user: {{token: {token}}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n", ca.display()),
        )
        .expect("write");
        path.display().to_string()
    };
    let bad_token = write("bad-token", &server, "Not-A-Real-T0ken");
    let nowhere = write("nowhere", &format!("https://127.0.0.1:{closed}"), "t");
    let cases = [
        (
            bad_token.as_str(),
            fleet.system(),
            "does not accept these credentials (401)",
        ),
        (
            nowhere.as_str(),
            fleet.system(),
            &*format!("cannot reach the API server at https://127.0.0.1:{closed}"),
        ),
    ];
    for (kubeconfig, namespace, needle) in cases {
        let out = fleet.ageseal(
            &[
                "status",
                "apps",
                "--controller-namespace",
                namespace,
                "--kubeconfig",
                kubeconfig,
                "--request-timeout",
                "5s",
            ],
            "",
        );
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
        assert!(stderr(&out).contains("hint: ") && !stderr(&out).contains("Not-A-Real-T0ken"));
    }
    // Installed elsewhere: the ConfigMap is missing in the namespace given.
    let out = fleet.ageseal(
        &[
            "status",
            "apps",
            "--controller-namespace",
            "kube-public",
            "--context",
            "east",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("ageseal-controller is not installed there"),
        "{}",
        stderr(&out)
    );
    // A user with no rights at all: 403, in the API server's words (user, verb, resource).
    east_sa_without_rights(&fleet, &regions);
}

fn east_sa_without_rights(fleet: &Fleet, regions: &Regions) {
    let east = fleet.kubectl("east");
    east.apply(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: nobody, namespace: {}}}\n",
        fleet.apps()
    ));
    let kubeconfig = regions
        .plane("east")
        .service_account_kubeconfig(fleet.apps(), "nobody")
        .expect("token");
    let out = fleet.ageseal(
        &[
            "status",
            "apps",
            "--controller-namespace",
            fleet.system(),
            "--kubeconfig",
            &kubeconfig.display().to_string(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("forbidden") && err.contains("nobody") && err.contains("configmaps"),
        "{err}"
    );
}
