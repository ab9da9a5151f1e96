//! Writing results and notes. A reader that goes away (`ageseal unseal | head -1`) ends the
//! command quietly, as with other Unix tools, instead of a panic; notes on stderr never fail a
//! command.

use std::io::Write;

use crate::failure::{Exit, Failure};

/// Writes `text` to stdout. A closed pipe becomes [`Failure::closed_pipe`], which `main` ends
/// quietly with exit code 0.
pub fn print(text: &str) -> Result<(), Failure> {
    print_bytes(text.as_bytes())
}

/// [`print`] for bytes that may not be text (a value printed raw).
pub fn print_bytes(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::closed_pipe()),
        Err(e) => Err(Failure::new(
            Exit::Io,
            format!("cannot write the output: {e}"),
            "check where stdout goes",
        )),
    }
}

/// Writes a note (warning, error, summary) to stderr; if stderr is gone, the note is dropped.
/// Every line on stderr comes through here, and anything in it shaped like a private key is
/// replaced ([`ageseal_core::redact`]): errors quote paths, names and arguments, and a user may
/// have given a key where one of those belongs. The first time, a hint says to rotate that key.
pub fn note(text: &str) {
    static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let redacted = ageseal_core::redact::private_keys(text);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{redacted}");
    if matches!(redacted, std::borrow::Cow::Owned(_))
        && !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        let _ = writeln!(err, "hint: {}", ageseal_core::redact::ROTATE_HINT);
    }
}

/// `note(&format!(...))`.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::note(&format!($($arg)*))
    };
}
