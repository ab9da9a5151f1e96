//! The community age test kit (core/tests/age-testkit, copied from C2SP CCTV) through the same
//! age decryption path `unseal` and the controller use, by the runner that
//! `cargo run -p ageseal-core --example testkit -- DIR` prints from.

#[path = "../../examples/testkit.rs"]
#[allow(dead_code, missing_debug_implementations)]
mod runner;

#[test]
fn every_vector_ageseal_reads_gives_the_expected_result() {
    let dir = crate::package_dir().join("tests/age-testkit");
    let report = runner::run(&dir).expect("the kit is readable");
    assert_eq!(report.failed, 0, "{}", report.text);
    assert_eq!(report.passed + report.skipped, 143, "{}", report.text);
    // What is skipped is only armor, passphrase-only files and the three 16 MB streams.
    let skipped: Vec<&str> = report.text.lines().filter(|l| l.contains(" skipped: ")).collect();
    for line in &skipped {
        assert!(
            line.starts_with("armor_") || line.starts_with("scrypt") || line.starts_with("stream_25"),
            "unexpected skip: {line}"
        );
    }
    assert!(report.passed >= 83, "{}", report.text);
}

#[test]
fn every_binary_hybrid_vector_passes() {
    let dir = crate::package_dir().join("tests/age-testkit");
    let report = runner::run(&dir).expect("the kit is readable");
    let hybrid: Vec<String> = std::fs::read_dir(&dir)
        .expect("readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("hybrid"))
        .collect();
    assert_eq!(hybrid.len(), 18);
    for name in &hybrid {
        assert!(
            report.passes.contains(name),
            "{name} did not pass:\n{}",
            report.text
        );
    }
}
