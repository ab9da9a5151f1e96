//! ageseal-core's integration tests, in one binary: vectors, age CLI interop, properties.

mod suite {
    pub mod age_cli;
    pub mod properties;
    pub mod vectors;
}
