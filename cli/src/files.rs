//! Files: reading input, atomic writes, finding `.ageseal.yaml`, identity files, walking trees.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ageseal_core::config::{CONFIG_FILE, NamedRecipient, RepoConfig};
use ageseal_core::wrapped::PURPOSE_IDENTITY;
use ageseal_core::{Keyring, Recipient, parse_identity_file};
use zeroize::Zeroizing;

use crate::failure::Failure;

/// Reads a text file, or stdin for `None` and `-`.
pub fn read_text(path: Option<&Path>) -> Result<String, Failure> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        let why = ageseal_core::yaml::not_utf8(&bytes).unwrap_or("is not UTF-8 text");
        Failure::input(format!("{} {why}", display(path)), "give a YAML or JSON manifest")
    })
}

/// Reads a file's bytes, or stdin for `None` and `-`, into memory that is zeroized on drop.
pub fn read_bytes(path: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = Zeroizing::new(Vec::new());
    match path.filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            let mut file = std::fs::File::open(p).map_err(|e| Failure::io("read", p, &e))?;
            file.read_to_end(&mut buf)
                .map_err(|e| Failure::io("read", p, &e))?;
        }
        None => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() {
                crate::note!(
                    "reading from the terminal; end with Ctrl-D (or pipe it in: kubectl create secret ... --dry-run=client -o yaml | ageseal seal)"
                );
            }
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::io("read", Path::new("stdin"), &e))?;
        }
    }
    Ok(buf)
}

fn display(path: Option<&Path>) -> String {
    path.map_or_else(|| "stdin".to_owned(), |p| p.display().to_string())
}

/// Replaces `path` with `contents` through a temporary file in the same folder and a rename, so a
/// failure never leaves a partial file. `mode` is the new file's permission bits.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), Failure> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(Failure::new(
            crate::failure::Exit::Io,
            format!(
                "cannot write {}: the folder {} does not exist",
                path.display(),
                dir.display()
            ),
            format!("create it first (mkdir -p {}), or write elsewhere", dir.display()),
        ));
    }
    // The temporary file's own name is no business of the user's: the error names their path.
    let mut temp = tempfile::Builder::new()
        .prefix(".ageseal-")
        .tempfile_in(&dir)
        .map_err(|e| Failure::io("write", path, &std::io::Error::from(e.kind())))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .and_then(|()| {
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
        })
        .map_err(|e| Failure::io("write", path, &e))?;
    temp.persist(path)
        .map_err(|e| Failure::io("write", path, &e.error))?;
    Ok(())
}

/// A path as messages show it: relative to the working folder when it lies under it.
pub fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    match cwd.as_deref().and_then(|c| path.strip_prefix(c).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// The folder a file lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A `.ageseal.yaml` and the folder it governs.
#[derive(Debug, Clone)]
pub struct FoundConfig {
    /// The folder holding the config; rule paths are relative to it.
    pub dir: PathBuf,
    /// The config file itself (`.ageseal.yaml`, or whatever `--config` named).
    pub file: PathBuf,
    /// The parsed, validated config.
    pub config: RepoConfig,
}

impl FoundConfig {
    /// The config file's path.
    pub fn path(&self) -> PathBuf {
        self.file.clone()
    }

    /// `file` relative to the config's folder, `/`-separated, for rule matching.
    pub fn relative(&self, file: &Path) -> Option<String> {
        let file = absolute(file);
        let rel = file.strip_prefix(&self.dir).ok()?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// Who a file at `target` is sealed to (`only` narrows to regions).
    pub fn recipients_for(
        &self,
        target: Option<&Path>,
        only: &[String],
    ) -> Result<Vec<NamedRecipient>, Failure> {
        let rel = target.and_then(|t| self.relative(t));
        self.config
            .recipients_for(rel.as_deref(), only)
            .map_err(|e| Failure::input(format!("{}: {e}", self.path().display()), e.hint()))
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `--config FILE` (or `AGESEAL_CONFIG`): the config for every file this run touches, named by
/// the user (so it is used whoever owns it). Set once, by `run`, before any lookup.
static NAMED_CONFIG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes `path` the config of every file (`--config`).
pub fn use_config(path: PathBuf) {
    let _ = NAMED_CONFIG.set(path);
}

/// Finds `.ageseal.yaml` by walking up from a folder, caching what each folder resolves to. The
/// walk stops at the repository root (a folder holding `.git`) and at a filesystem boundary: a
/// config above a repository, or in `/tmp` above a work folder, is not that repository's. A
/// config owned by another user is refused unless named with `--config` (as git refuses a
/// repository another user owns): whoever can plant it would choose who values are sealed to.
#[derive(Debug, Default)]
pub struct ConfigFinder {
    cache: HashMap<PathBuf, Option<FoundConfig>>,
}

impl ConfigFinder {
    /// The config governing files in `dir`, if any.
    pub fn for_dir(&mut self, dir: &Path) -> Result<Option<FoundConfig>, Failure> {
        if let Some(named) = NAMED_CONFIG.get() {
            let named = absolute(named);
            if let Some(found) = self.cache.get(&named) {
                return Ok(found.clone());
            }
            let found = Some(load_config(&named, true)?);
            self.cache.insert(named, found.clone());
            return Ok(found);
        }
        let dir = absolute(dir);
        if let Some(found) = self.cache.get(&dir) {
            return Ok(found.clone());
        }
        let candidate = dir.join(CONFIG_FILE);
        let found = if candidate.is_file() {
            Some(load_config(&candidate, false)?)
        } else if dir.join(".git").exists() {
            None
        } else {
            match dir.parent() {
                Some(parent) if same_filesystem(&dir, parent) => self.for_dir(parent)?,
                _ => None,
            }
        };
        self.cache.insert(dir, found.clone());
        Ok(found)
    }

    /// The config governing `file`.
    pub fn for_file(&mut self, file: &Path) -> Result<Option<FoundConfig>, Failure> {
        self.for_dir(&parent_dir(&absolute(file)))
    }
}

/// Whether walking up from `dir` to `parent` stays on one filesystem. A folder that does not
/// exist yet (`seal -o new/dir/db.yaml`) belongs to its parent's.
fn same_filesystem(dir: &Path, parent: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(dir), std::fs::metadata(parent)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        (Err(e), _) => e.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// The user this process runs as: the owner of `/proc/self` on Linux, else of a file it makes.
fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    static UID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UID.get_or_init(|| {
        std::fs::metadata("/proc/self").map(|m| m.uid()).ok().or_else(|| {
            tempfile::tempfile()
                .and_then(|f| f.metadata())
                .map(|m| m.uid())
                .ok()
        })
    })
}

/// Reads and checks the config at `path` (size first, then owner unless `named`, then content).
fn load_config(path: &Path, named: bool) -> Result<FoundConfig, Failure> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| Failure::io("read", path, &e))?;
    if !named && current_uid().is_some_and(|me| me != meta.uid()) {
        return Err(Failure::input(
            format!(
                "{} belongs to another user (uid {}), so it is not used",
                path.display(),
                meta.uid()
            ),
            format!(
                "a config planted by someone else would choose who your values are sealed to; if you trust it, name it: --config {}",
                path.display()
            ),
        ));
    }
    let limit = ageseal_core::config::MAX_CONFIG_BYTES;
    if usize::try_from(meta.len()).map_or(true, |len| len > limit) {
        return Err(Failure::input(
            format!(
                "{}: {} bytes; a config is at most {} KiB",
                path.display(),
                meta.len(),
                limit / 1024
            ),
            "this is not a config ageseal wrote: check where it came from, or remove it",
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Failure::io("read", path, &e))?;
    let config =
        RepoConfig::parse(&text).map_err(|e| Failure::input(format!("{}: {e}", path.display()), e.hint()))?;
    Ok(FoundConfig {
        dir: parent_dir(path),
        file: path.to_path_buf(),
        config,
    })
}

/// An `age1...` recipient given on the command line. The text is never repeated (it may be a
/// private key pasted by mistake, which is then said, with what to do).
pub fn parse_recipient_arg(what: &str, text: &str) -> Result<Recipient, Failure> {
    text.parse().map_err(|e: ageseal_core::KeyError| {
        if text.trim().to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
            Failure::input(
                format!("{what} is a private key, not a public one"),
                "pass the age1... public key instead; the private key is now in your shell history: make a new one and retire this one",
            )
        } else {
            Failure::input(
                format!("{what}: {e}"),
                "pass a public key printed by ageseal keygen or age-keygen",
            )
        }
    })
}

/// Recipients for sealing to `target` (or the working folder): `--recipient` if given, else
/// `.ageseal.yaml` narrowed by `--region`.
pub fn resolve_recipients(
    target: Option<&Path>,
    overrides: &[String],
    regions: &[String],
) -> Result<Vec<NamedRecipient>, Failure> {
    if !overrides.is_empty() {
        return overrides
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let recipient = parse_recipient_arg(&format!("--recipient number {}", i + 1), text)?;
                Ok(NamedRecipient::new(format!("recipient-{}", i + 1), recipient))
            })
            .collect();
    }
    let mut finder = ConfigFinder::default();
    // A file written outside any repository (`seal -w /tmp/out.yaml` from inside one) is sealed
    // as the working folder's config says: it governs what is sealed here.
    let (found, borrowed) = match target {
        Some(t) => match finder.for_file(t)? {
            Some(found) => (Some(found), false),
            None => (finder.for_dir(Path::new("."))?, true),
        },
        None => (finder.for_dir(Path::new("."))?, false),
    };
    let start = target.map_or_else(|| PathBuf::from("."), parent_dir);
    let found = found.ok_or_else(|| {
        Failure::input(
            format!(
                "no {CONFIG_FILE} found in {} or any folder above it",
                absolute(&start).display()
            ),
            "create one with `ageseal region add NAME --recipient age1...`, or pass --recipient",
        )
    })?;
    if (target.is_none() || borrowed) && regions.is_empty() && !found.config.rules.is_empty() {
        return Err(Failure::input(
            format!(
                "{} has path rules, and with no output file it is unknown which of them applies",
                found.path().display()
            ),
            "write to the file with -o FILE, say where the result will live with --path PATH, or pick regions with --region",
        ));
    }
    found.recipients_for(target.filter(|_| !borrowed), regions)
}

impl crate::args::OpeningIdentities {
    /// The keyring for opening `target`: the `-i` files given, or else the recovery identity
    /// files named by the `.ageseal.yaml` that governs `target` (found from its folder, as for
    /// sealing; from the working folder for stdin), paths relative to that config's folder. So a
    /// break-glass run from another folder or repository uses the file's own recovery key.
    pub fn keyring_for(&self, target: &Path) -> Result<Keyring, Failure> {
        if !self.files.is_empty() {
            return load_keyring(&self.files);
        }
        let found = if target.as_os_str() == "-" {
            ConfigFinder::default().for_dir(Path::new("."))?
        } else {
            ConfigFinder::default().for_file(target)?
        };
        recovery_keyring(found.as_ref(), target)
    }
}

/// The recovery identities `found` names, loaded; an error that says which config was used.
pub fn recovery_keyring(found: Option<&FoundConfig>, target: &Path) -> Result<Keyring, Failure> {
    let shown = if target.as_os_str() == "-" {
        "stdin (the working folder)".to_owned()
    } else {
        target.display().to_string()
    };
    let Some(found) = found else {
        return Err(Failure::input(
            format!("no identity given, and no {CONFIG_FILE} governs {shown}"),
            "pass -i IDENTITY (a region's key or the recovery identity)",
        ));
    };
    let files: Vec<PathBuf> = found
        .config
        .recovery
        .iter()
        .filter_map(|r| r.identity.as_ref())
        .map(|f| found.dir.join(f))
        .collect();
    if files.is_empty() {
        return Err(Failure::input(
            format!(
                "no identity given, and {} (which governs {shown}) names no recovery identity file",
                found.path().display()
            ),
            "pass -i IDENTITY, or add `identity: FILE` to a recovery entry there",
        ));
    }
    load_keyring(&files)
}

/// Reads identity files into one keyring; errors name the file, never its contents. Files in
/// the KMS-wrapped format are unwrapped in memory through AWS KMS `Decrypt`.
pub fn load_keyring(paths: &[PathBuf]) -> Result<Keyring, Failure> {
    let mut keyring = Keyring::default();
    let mut wrapped = Vec::new();
    for path in paths {
        let bytes = read_bytes(Some(path))?;
        let not_identity = || {
            Failure::input(
                format!("{} is not an identity file", path.display()),
                "pass a file written by ageseal keygen or age-keygen",
            )
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| not_identity())?;
        if ageseal_core::wrapped::is_wrapped(text) {
            let parsed = ageseal_core::wrapped::WrappedIdentity::parse(text).map_err(|e| {
                Failure::input(format!("{}: {e}", path.display()), "restore the file from backup")
            })?;
            wrapped.push((path.clone(), parsed));
            continue;
        }
        let identities = parse_identity_file(text).map_err(|e| {
            Failure::input(
                format!("{}: {e}", path.display()),
                "pass a file written by ageseal keygen or age-keygen",
            )
        })?;
        keyring.extend(identities);
    }
    if !wrapped.is_empty() {
        keyring.extend(unwrap_all(&wrapped)?);
    }
    Ok(keyring)
}

fn unwrap_all(
    wrapped: &[(PathBuf, ageseal_core::wrapped::WrappedIdentity)],
) -> Result<Vec<ageseal_core::Identity>, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start", Path::new("the AWS client"), &e))?;
    let kms = ageseal_kms::AwsKms::new();
    runtime.block_on(async {
        let mut identities = Vec::new();
        for (path, file) in wrapped {
            let identity = ageseal_kms::unwrap_identity(&kms, file, PURPOSE_IDENTITY, &[])
                .await
                .map_err(|e| Failure::kms(&format!("unwrapping {}", path.display()), &e))?;
            identities.push(identity);
        }
        Ok(identities)
    })
}

/// Every regular file under `root` (itself, if a file), skipping hidden folders such as `.git`,
/// sorted.
pub fn all_files(root: &Path) -> Result<Vec<PathBuf>, Failure> {
    if !root.exists() {
        return Err(Failure::io(
            "read",
            root,
            &std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !(entry.file_type().is_dir() && entry.file_name().to_string_lossy().starts_with('.'))
        });
    for entry in walker {
        let entry = entry.map_err(|e| Failure::io("walk", root, &std::io::Error::other(e.to_string())))?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Whether the first `limit` bytes of a file hold `needle`, ignoring ASCII case; false if the
/// file cannot be read.
pub fn prefix_contains(path: &Path, limit: u64, needle: &[u8]) -> bool {
    let mut buf = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(limit).read_to_end(&mut buf);
    }
    buf.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Every YAML or JSON file under `paths` (default `.`), skipping hidden folders, sorted. A path
/// named explicitly is taken whatever its extension.
pub fn manifest_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let roots = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for root in &roots {
        for file in all_files(root)? {
            let is_manifest = file
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json");
            if is_manifest || file == *root {
                files.push(file);
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}
