//! Black-box tests of the `ageseal` binary, one module per command or concern: output, files and
//! exit codes of every command and error path, with input made by `kubectl create secret
//! --dry-run=client` and the age CLI as the peer that opens what we seal.

mod cli {
    pub mod discovery;
    pub mod edit;
    pub mod hygiene;
    pub mod import;
    pub mod keygen;
    pub mod lists;
    pub mod merge;
    pub mod pq;
    pub mod recovery;
    pub mod region;
    pub mod rekey;
    pub mod seal;
    pub mod secrets_in_errors;
    pub mod support;
    pub mod usage;
    pub mod verify;
}
