//! Shell completion: clap's dynamic completion, so region names come from `.ageseal.yaml` and
//! context names from the kubeconfig at the moment Tab is pressed. `ageseal completions SHELL`
//! prints the script that registers it (bash needs the bash-completion package).

use std::ffi::OsStr;
use std::path::Path;

use clap_complete::engine::CompletionCandidate;

use crate::files::ConfigFinder;

fn starting_with(current: &OsStr, names: impl IntoIterator<Item = String>) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    names
        .into_iter()
        .filter(|name| name.starts_with(prefix.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

/// Region names of the `.ageseal.yaml` governing the working folder.
pub fn regions(current: &OsStr) -> Vec<CompletionCandidate> {
    let found = ConfigFinder::default().for_dir(Path::new(".")).ok().flatten();
    let names = found
        .map(|f| f.config.regions.into_iter().map(|r| r.name).collect())
        .unwrap_or_else(Vec::new);
    starting_with(current, names)
}

/// Context names of the kubeconfig (KUBECONFIG or ~/.kube/config).
pub fn contexts(current: &OsStr) -> Vec<CompletionCandidate> {
    let names: Vec<String> = kube::config::Kubeconfig::read()
        .map(|k| k.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    starting_with(current, names)
}

/// The registration script for `shell` (what `COMPLETE=SHELL ageseal` prints).
pub fn registration(shell: &str) -> Option<String> {
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells.completer(shell)?;
    let mut script = Vec::new();
    completer
        .write_registration("COMPLETE", "ageseal", "ageseal", "ageseal", &mut script)
        .ok()?;
    Some(String::from_utf8_lossy(&script).into_owned())
}
