//! ageseal-tests: workspace-level tests that cross crates. The disaster-recovery drill is
//! `tests/tests/drill.rs`; run it with `cargo test -p ageseal-tests drill`.
