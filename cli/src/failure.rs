//! What a failed command tells the user: `error:` what happened, `hint:` what to do, and an exit
//! code from the documented list.

/// Exit codes (README, "Exit codes"). Clap's own usage errors exit with 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// `verify` found problems, or `status` found a region out of sync.
    Problems = 1,
    /// The command line is not valid (unknown flag, missing argument, conflicting flags).
    Usage = 2,
    /// Bad input: a manifest, config, identity file or flag combination that cannot be used.
    Input = 3,
    /// A sealed value could not be opened (no matching key, scope mismatch, damaged value).
    Open = 4,
    /// Reading or writing a file failed.
    Io = 5,
    /// AWS KMS refused, or could not be reached (KMS-wrapped identities).
    Kms = 6,
    /// A bug in ageseal (an internal error was caught); never 101.
    Bug = 70,
}

const CLOSED_PIPE: &str = "stdout was closed";

/// A failure to report; never holds secret bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// Process exit code.
    pub code: Exit,
}

impl Failure {
    /// Whoever read stdout went away: end quietly (exit 0), as `yes | head` does for its reader.
    pub fn closed_pipe() -> Self {
        Self::new(Exit::Problems, CLOSED_PIPE, "")
    }

    /// True for [`Failure::closed_pipe`].
    pub fn is_closed_pipe(&self) -> bool {
        self.message == CLOSED_PIPE && self.hint.is_empty()
    }

    /// A failure with its hint and exit code.
    pub fn new(code: Exit, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: hint.into(),
            code,
        }
    }

    /// Bad input.
    pub fn input(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(Exit::Input, message, hint)
    }

    /// AWS KMS failed, with its cause and remedy.
    pub fn kms(what: &str, err: &ageseal_kms::KmsError) -> Self {
        Self::new(Exit::Kms, format!("{what}: {err}"), err.hint())
    }

    /// A file could not be read or written.
    pub fn io(what: &str, path: &std::path::Path, err: &std::io::Error) -> Self {
        let hint = match err.kind() {
            std::io::ErrorKind::NotFound => "check the path",
            std::io::ErrorKind::PermissionDenied => "check the file's permissions",
            _ => "check the disk and the path",
        };
        Self::new(
            Exit::Io,
            format!("cannot {what} {}: {}", path.display(), io_words(err)),
            hint,
        )
    }
}

/// An I/O error in the same words whether it came from the system ("No such file or directory
/// (os error 2)") or was made from its kind ("entity not found").
pub fn io_words(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::AlreadyExists => "it already exists".to_owned(),
        _ => err.to_string(),
    }
}
