//! ageseal-core's integration tests, in one binary: vectors, age CLI interop, properties, the
//! age test kit.

mod suite {
    pub mod age_cli;
    pub mod properties;
    pub mod testkit;
    pub mod vectors;
}
