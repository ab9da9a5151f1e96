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
