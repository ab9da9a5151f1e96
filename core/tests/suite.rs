//! ageseal-core's integration tests, in one binary: vectors, age CLI interop, properties, the
//! age test kit.

mod suite {
    pub mod age_cli;
    pub mod properties;
    pub mod testkit;
    pub mod typage;
    pub mod vectors;
}

/// This package's folder, read at run time (cargo sets `CARGO_MANIFEST_DIR` when it runs tests):
/// a path compiled in with `env!` names whichever checkout first built a shared target folder.
pub fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Runs `command` with `stdin` piped in and returns its stdout; `what` names it in failures.
pub fn piped(command: &mut std::process::Command, stdin: &[u8], what: &str) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} cannot run ({e}): scripts/test.sh installs it"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("the child ends");
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
