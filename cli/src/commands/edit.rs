//! `ageseal edit FILE`: the plain Secret in `$VISUAL`/`$EDITOR`, then only the values that
//! changed are sealed again; unchanged ciphertexts stay byte-identical, so the Git diff shows only
//! what changed. The plaintext lives only in a 0600 file in a private (0700) folder, in memory
//! when the system offers one (`$XDG_RUNTIME_DIR`, `/dev/shm`), and is overwritten and removed on
//! every way out: success, refusal, an editor that fails, Ctrl-C.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ageseal_core::crd::SealedSecret;
use ageseal_core::manifest::{PlainSecret, parse_secrets};
use ageseal_core::sealed_file::{OpenedSecret, open_sealed_secret};
use ageseal_core::{Binding, Location, Recipient, Scope, seal_base64};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use zeroize::{Zeroize, Zeroizing};

use super::{hint_ids, label, load_sealed_file, open_hint};
use crate::args::EditArgs;
use crate::failure::{Exit, Failure};
use crate::files::{resolve_recipients, write_atomic};

pub fn run(args: EditArgs) -> Result<ExitCode, Failure> {
    let keyring = args.identities.keyring_for(&args.file)?;
    let mut file = load_sealed_file(&args.file)?;
    let sealed = match file.sealed()[..] {
        [one] => one.clone(),
        ref many => {
            return Err(Failure::input(
                format!(
                    "{} holds {} SealedSecrets; edit needs exactly one",
                    args.file.display(),
                    many.len()
                ),
                "split the file",
            ));
        }
    };
    let recipients = resolve_recipients(Some(&args.file), &[], &[])?;
    if hint_ids(&sealed)
        != recipients
            .iter()
            .map(|r| r.recipient.id().to_string())
            .collect::<Vec<_>>()
    {
        return Err(Failure::input(
            format!(
                "{} is sealed to other recipients than .ageseal.yaml now names",
                args.file.display()
            ),
            format!(
                "run `ageseal rekey {} -i IDENTITY` first, then edit",
                args.file.display()
            ),
        ));
    }
    let opened = open_sealed_secret(&sealed, &keyring).map_err(|e| {
        Failure::new(
            Exit::Open,
            format!("{}: {}: {e}", args.file.display(), label(&sealed)),
            open_hint(e.source.code()),
        )
    })?;
    let scope = one_scope(&opened)?;
    let workspace = Workspace::new()?;
    workspace.write(&to_plain_yaml(&sealed, &opened, scope))?;
    let edited = edit_until_valid(&workspace, &sealed)?;
    drop(workspace);
    let keys: Vec<Recipient> = recipients.iter().map(|r| r.recipient.clone()).collect();
    let (changed, new_object) = reseal(&sealed, &opened, &edited, scope, &keys)?;
    if changed.is_empty() {
        crate::note!("no changes; {} left as it was", args.file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut replacement = Some(new_object);
    file.edit(|object| {
        if let Some(new) = replacement.take() {
            *object = new;
        }
        Ok::<bool, Failure>(true)
    })?;
    let text = file
        .to_text()
        .map_err(|e| Failure::input(format!("{}: {e}", args.file.display()), "fix the file by hand"))?;
    write_atomic(&args.file, text.as_bytes(), 0o644)?;
    crate::note!("re-sealed {} in {}", changed.join(", "), args.file.display());
    Ok(ExitCode::SUCCESS)
}

/// The scope every value is sealed with (new keys are sealed the same way).
fn one_scope(opened: &OpenedSecret) -> Result<Scope, Failure> {
    let mut scopes = opened.values.values().map(|o| o.binding.scope());
    let first = scopes.next().unwrap_or_default();
    if scopes.any(|s| s != first) {
        return Err(Failure::input(
            "the values of this SealedSecret are sealed with different scopes",
            "seal them again with one scope (ageseal unseal, then ageseal seal --scope)",
        ));
    }
    Ok(first)
}

/// The plain Secret as the user edits it: text values under stringData, others under data.
fn to_plain_yaml(sealed: &SealedSecret, opened: &OpenedSecret, scope: Scope) -> Zeroizing<String> {
    let template = sealed.spec.template.clone().unwrap_or_default();
    let metadata = template.metadata.unwrap_or_default();
    let mut text = Zeroizing::new(format!(
        "# ageseal edit: {} (sealed {scope}). Save and quit to seal again what changed; values stay\n# in this file only until then. Text values are under stringData, others (base64) under data.\n",
        label(sealed)
    ));
    let mut document = serde_yaml::Mapping::new();
    let mut meta = serde_yaml::Mapping::new();
    meta.insert(
        "name".into(),
        sealed.metadata.name.clone().unwrap_or_default().into(),
    );
    if let Some(ns) = &sealed.metadata.namespace {
        meta.insert("namespace".into(), ns.clone().into());
    }
    if !metadata.labels.is_empty() {
        meta.insert(
            "labels".into(),
            serde_yaml::to_value(&metadata.labels).unwrap_or_default(),
        );
    }
    if !metadata.annotations.is_empty() {
        meta.insert(
            "annotations".into(),
            serde_yaml::to_value(&metadata.annotations).unwrap_or_default(),
        );
    }
    document.insert("apiVersion".into(), "v1".into());
    document.insert("kind".into(), "Secret".into());
    document.insert("metadata".into(), meta.into());
    if let Some(secret_type) = &template.type_ {
        document.insert("type".into(), secret_type.clone().into());
    }
    if let Some(immutable) = template.immutable {
        document.insert("immutable".into(), immutable.into());
    }
    let (mut strings, mut binary) = (serde_yaml::Mapping::new(), serde_yaml::Mapping::new());
    for (key, value) in &opened.values {
        match std::str::from_utf8(&value.value) {
            Ok(s) => strings.insert(key.clone().into(), s.into()),
            Err(_) => binary.insert(
                key.clone().into(),
                BASE64_STANDARD.encode(value.value.as_slice()).into(),
            ),
        };
    }
    if !strings.is_empty() {
        document.insert("stringData".into(), strings.into());
    }
    if !binary.is_empty() {
        document.insert("data".into(), binary.into());
    }
    let value = serde_yaml::Value::Mapping(document);
    let mut body = serde_yaml::to_string(&value).unwrap_or_default();
    text.push_str(&body);
    body.zeroize();
    drop_value(value);
    text
}

/// Overwrites the strings of a YAML value before it is dropped.
fn drop_value(value: serde_yaml::Value) {
    if let serde_yaml::Value::Mapping(map) = value {
        for (_, v) in map {
            match v {
                serde_yaml::Value::String(mut s) => s.zeroize(),
                other => drop_value(other),
            }
        }
    }
}

/// The edited Secret, if it is still this object's (same name and namespace).
fn check_edit(text: &str, sealed: &SealedSecret) -> Result<PlainSecret, Failure> {
    let mut secrets =
        parse_secrets(text).map_err(|e| Failure::input(format!("the edited Secret: {e}"), e.hint()))?;
    let [secret] = &mut secrets[..] else {
        return Err(Failure::input(
            "the edited file must hold exactly one Secret",
            "leave one Secret in it",
        ));
    };
    let same = secret.name == sealed.metadata.name && secret.namespace == sealed.metadata.namespace;
    if !same {
        return Err(Failure::input(
            "the edited Secret's name or namespace changed",
            "a SealedSecret's values are bound to its place: seal a new file for another name (ageseal seal)",
        ));
    }
    Ok(secrets.remove(0))
}

/// The new object: unchanged values keep their ciphertext, changed and new ones are sealed, removed
/// ones go; the template follows the edit. Returns which keys changed (added, changed, removed).
fn reseal(
    sealed: &SealedSecret,
    opened: &OpenedSecret,
    edited: &PlainSecret,
    scope: Scope,
    keys: &[Recipient],
) -> Result<(Vec<String>, SealedSecret), Failure> {
    let mut next = sealed.clone();
    let mut changed = Vec::new();
    let mut data = BTreeMap::new();
    for (key, value) in &edited.data {
        let same = opened
            .values
            .get(key)
            .is_some_and(|o| o.value.as_slice() == value.as_slice());
        if same {
            data.insert(key.clone(), sealed.spec.encrypted_data[key].clone());
            continue;
        }
        let location = Location::new(
            sealed.metadata.namespace.clone().unwrap_or_default(),
            sealed.metadata.name.clone().unwrap_or_default(),
            key.clone(),
        );
        let binding = Binding::new(scope, &location)
            .map_err(|e| Failure::input(format!("key {key}: {e}"), "use a key Kubernetes accepts"))?;
        let text = seal_base64(value, &binding, keys)
            .map_err(|e| Failure::input(format!("key {key}: {e}"), e.hint()))?;
        data.insert(key.clone(), text);
        changed.push(key.clone());
    }
    changed.extend(
        opened
            .values
            .keys()
            .filter(|k| !edited.data.contains_key(*k))
            .cloned(),
    );
    let template = ageseal_core::crd::SecretTemplate {
        metadata: (!edited.labels.is_empty() || !edited.annotations.is_empty()).then(|| {
            ageseal_core::crd::TemplateMetadata {
                labels: edited.labels.clone(),
                annotations: edited.annotations.clone(),
            }
        }),
        type_: edited.type_.clone(),
        immutable: edited.immutable,
    };
    let template = Some(template).filter(|t| *t != ageseal_core::crd::SecretTemplate::default());
    if template != sealed.spec.template {
        changed.push("the template".to_owned());
    }
    next.spec.encrypted_data = data;
    next.spec.template = template;
    Ok((changed, next))
}

/// First words of the lines put on top of the file after a failed edit.
const BANNER: [&str; 3] = ["# error: ", "# hint: ", "# ageseal edit: fix the Secret below"];
/// Editor runs at most, so an editor script that keeps writing new mistakes cannot loop forever.
const MAX_ROUNDS: usize = 50;

/// Runs the editor until the file holds a valid edit. After a mistake (a YAML typo, a renamed
/// Secret) the file is reopened with the error on top, as `kubectl edit` does, the user's changes
/// kept; saving it without a change, or emptying it, gives up and changes nothing.
fn edit_until_valid(workspace: &Workspace, sealed: &SealedSecret) -> Result<PlainSecret, Failure> {
    let mut last: Option<Zeroizing<String>> = None;
    for _ in 0..MAX_ROUNDS {
        workspace.run_editor()?;
        let text = workspace.read()?;
        // Plaintext: built in place in one zeroizing buffer sized up front (no reallocation
        // leaves a copy behind).
        let mut body = Zeroizing::new(String::with_capacity(text.len() + 1));
        for line in text
            .lines()
            .filter(|line| !BANNER.iter().any(|b| line.starts_with(b)))
        {
            body.push_str(line);
            body.push('\n');
        }
        if body
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Err(Failure::input(
                "the edited file was emptied; nothing was changed",
                "run ageseal edit again",
            ));
        }
        let failure = match check_edit(&body, sealed) {
            Ok(edited) => return Ok(edited),
            Err(failure) => failure,
        };
        if last.as_deref() == Some(&*body) {
            return Err(Failure::input(
                format!(
                    "{} (saved again without a change: nothing was changed)",
                    failure.message
                ),
                failure.hint,
            ));
        }
        crate::note!("error: {}", failure.message);
        let banner = format!(
            "{}{}\n{}{}\n{} and save, or delete everything to cancel.\n",
            BANNER[0],
            failure.message.replace('\n', " "),
            BANNER[1],
            failure.hint.replace('\n', " "),
            BANNER[2],
        );
        let mut reopened = Zeroizing::new(String::with_capacity(banner.len() + body.len()));
        reopened.push_str(&banner);
        reopened.push_str(&body);
        workspace.rewrite(&reopened)?;
        last = Some(body);
    }
    Err(Failure::input(
        format!("still not a valid Secret after {MAX_ROUNDS} edits; nothing was changed"),
        "run ageseal edit again",
    ))
}

/// The private folder and file the plaintext lives in while the editor runs.
struct Workspace {
    /// Removed (with anything left in it) when dropped, after the file is overwritten.
    _dir: tempfile::TempDir,
    file: PathBuf,
    interrupted: Arc<AtomicBool>,
    hooks: Vec<signal_hook::SigId>,
}

impl Workspace {
    fn new() -> Result<Self, Failure> {
        let base = private_base();
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("ageseal-edit-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
            .map_err(|e| Failure::io("make a private folder in", &base, &e))?;
        // The folder is 0700 from the start; the file is 0600 before anything is written to it.
        // Its name is fixed: nothing read from the sealed file (whose name is not authenticated
        // outside strict scope) decides where plaintext goes.
        let file = dir.path().join("secret.yaml");
        let interrupted = Arc::new(AtomicBool::new(false));
        // While the editor runs, Ctrl-C and friends reach the editor; here every signal whose
        // default is to end the process only sets a flag, so this process always gets to wipe
        // the file. (SIGKILL cannot be caught: the file then stays in its private folder until
        // the next reboot empties /dev/shm or XDG_RUNTIME_DIR, as with sops.)
        let mut hooks = Vec::new();
        for signal in TERMINATING_SIGNALS {
            if let Ok(id) = signal_hook::flag::register(signal, interrupted.clone()) {
                hooks.push(id);
            }
        }
        Ok(Self {
            _dir: dir,
            file,
            interrupted,
            hooks,
        })
    }

    fn write(&self, text: &str) -> Result<(), Failure> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.file)
            .map_err(|e| Failure::io("create", &self.file, &e))?;
        out.write_all(text.as_bytes())
            .map_err(|e| Failure::io("write", &self.file, &e))
    }

    /// Replaces the file's text (it keeps its 0600 mode and its place).
    fn rewrite(&self, text: &str) -> Result<(), Failure> {
        use std::io::Write;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.file)
            .map_err(|e| Failure::io("write", &self.file, &e))?;
        out.write_all(text.as_bytes())
            .map_err(|e| Failure::io("write", &self.file, &e))
    }

    fn read(&self) -> Result<Zeroizing<String>, Failure> {
        let bytes = crate::files::read_bytes(Some(&self.file))?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| Failure::input("the edited file is not UTF-8 text", "save it as UTF-8"))
    }

    fn run_editor(&self) -> Result<(), Failure> {
        let editor = std::env::var("VISUAL")
            .or_else(|_| std::env::var("EDITOR"))
            .unwrap_or_else(|_| "vi".to_owned());
        // Through the shell, so EDITOR may carry arguments ("code --wait").
        let status = std::process::Command::new("sh")
            .args(["-c", &format!("{editor} \"$1\""), "sh"])
            .arg(&self.file)
            .status()
            .map_err(|e| Failure::io("start the editor", Path::new(&editor), &e))?;
        if self.interrupted.load(std::sync::atomic::Ordering::SeqCst) || !status.success() {
            return Err(Failure::input(
                "the editor was stopped or failed; nothing was changed",
                "edit again, and save and quit normally",
            ));
        }
        Ok(())
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        // Overwrite before removing: the folder may be on disk when no memory-backed one exists.
        if let Ok(len) = std::fs::metadata(&self.file).map(|m| m.len()) {
            let _ = std::fs::write(&self.file, vec![0u8; usize::try_from(len).unwrap_or(0)]);
        }
        let _ = std::fs::remove_file(&self.file);
        for id in self.hooks.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        // The folder itself goes when `dir` is dropped, right after this.
    }
}

/// Every signal that ends a process by default and can be caught (SIGPIPE is ignored by Rust
/// programs already; SIGKILL and SIGSTOP cannot be caught; SIGSEGV, SIGBUS, SIGILL and SIGFPE
/// are faults of this process, not requests).
const TERMINATING_SIGNALS: [std::ffi::c_int; 14] = {
    use signal_hook::consts::signal::*;
    [
        SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ,
        SIGIO, SIGSYS, SIGTRAP,
    ]
};

/// Where the private folder goes: memory-backed and per-user when the system has one.
fn private_base() -> PathBuf {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    runtime
        .filter(|p| p.is_dir())
        .or_else(|| Some(PathBuf::from("/dev/shm")).filter(|p| p.is_dir()))
        .unwrap_or_else(std::env::temp_dir)
}
