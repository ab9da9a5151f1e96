//! `.ageseal.yaml` filled from real clusters: `region add --from-cluster` warns when the cluster
//! calls itself another region and refuses a key another region uses; `region set-key` follows a
//! rotation; every edit keeps the file's comments.

use std::sync::Arc;

use ageseal_testenv::regions::Regions;
use ageseal_testenv::{Test, wait_until};

use super::support::{Fleet, SOON, stderr};

pub fn tests() -> Vec<Test<Regions>> {
    vec![Test::new(
        "region_add_and_set_key_from_clusters_keep_comments",
        from_clusters,
    )]
}

fn from_clusters(regions: Arc<Regions>) {
    let fleet = Fleet::new(regions, &["east", "west"], "config");
    let config = fleet.repo.path().join(".ageseal.yaml");
    std::fs::write(
        &config,
        "# who our values are sealed to\nregions: []  # filled by ageseal region add\n",
    )
    .expect("write");
    fleet.ok(
        &[
            "region",
            "add",
            "east",
            "--from-cluster",
            "east",
            "--controller-namespace",
            fleet.system(),
        ],
        "",
    );
    // The west cluster, added under a wrong name: allowed, with a warning.
    let out = fleet.ok(
        &[
            "region",
            "add",
            "us-west-2",
            "--from-cluster",
            "west",
            "--controller-namespace",
            fleet.system(),
        ],
        "",
    );
    assert!(
        stderr(&out).contains("says it is region west, not us-west-2"),
        "{}",
        stderr(&out)
    );
    // The same key again under another name: refused, nothing written.
    let before = std::fs::read_to_string(&config).expect("config");
    let out = fleet.ageseal(
        &[
            "region",
            "add",
            "west-again",
            "--from-cluster",
            "west",
            "--controller-namespace",
            fleet.system(),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already used by region us-west-2"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&config).expect("config"), before);

    // East's controller gets a new key (rotation); set-key makes it current, the old one stays listed.
    let east = fleet.kubectl("east");
    let identity = std::process::Command::new(ageseal_testenv::workspace_binary("ageseal"))
        .arg("keygen")
        .output()
        .expect("keygen");
    let line = String::from_utf8_lossy(&identity.stdout)
        .lines()
        .find(|l| l.starts_with("AGE-SECRET"))
        .expect("key")
        .to_owned();
    ageseal_testenv::secrets::remember(&line);
    east.ok(
        &[
            "create",
            "secret",
            "generic",
            "ageseal-key-999999999999",
            "-n",
            fleet.system(),
            "--type=ageseal.io/key",
            &format!("--from-literal=identity={line}"),
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
    let newest = wait_until("east to publish the new key first", SOON, || {
        let keys = fleet.controllers[0].recipients();
        (keys.len() == 2).then(|| keys[0].clone())
    });
    fleet.ok(
        &[
            "region",
            "set-key",
            "east",
            "--from-cluster",
            "east",
            "--controller-namespace",
            fleet.system(),
        ],
        "",
    );
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(text.starts_with("# who our values are sealed to\n"), "{text}");
    let east_line = text
        .lines()
        .find(|l| l.contains("name: east"))
        .expect("east entry");
    let new_at = east_line.find(&newest).expect("new key listed");
    let old = &fleet.controllers[0].recipients()[1];
    assert!(
        east_line.find(old.as_str()).is_some_and(|old_at| old_at > new_at),
        "{east_line}"
    );
}
