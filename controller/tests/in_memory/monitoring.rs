//! deploy/monitoring uses only metric names the controller exports.
use ageseal_controller::metrics::Metrics;

#[test]
fn monitoring_files_use_only_real_metric_names() {
    let metrics = Metrics::default();
    metrics.failed("ScopeMismatch");
    metrics.unseal_seconds.observe(0.001);
    let exposed = metrics.encode();
    let dir = ageseal_testenv::workspace_dir().join("deploy/monitoring");
    let mut used = std::collections::BTreeSet::new();
    for file in ["alerts.yaml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("monitoring file");
        let mut rest = text.as_str();
        while let Some(start) = rest.find("ageseal_") {
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(tail.len());
            used.insert(tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    assert!(used.len() >= 5, "expected the files to use the metrics: {used:?}");
    for name in &used {
        let line_start = format!("\n{name}");
        assert!(
            exposed.contains(&line_start),
            "{name} is not exported by the controller:\n{exposed}"
        );
    }
}
