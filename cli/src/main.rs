//! `ageseal`: parses the command line and hands over to the library; prints failures with a hint.
//! Whatever happens, the exit code is one of the documented ones, never a panic's 101.

use std::process::ExitCode;

use ageseal::{Exit, output};

fn main() -> ExitCode {
    // A panic is a bug: say so without its message (which could in principle hold data) and
    // exit with the documented code for bugs.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        output::note(&format!("error: internal error{place} (a bug in ageseal)"));
        output::note("hint: please report it with the command you ran (never with secret values)");
    }));
    // `COMPLETE=SHELL ageseal ...` is a completion request from the shell: answer and exit.
    clap_complete::CompleteEnv::with_factory(<ageseal::args::Args as clap::CommandFactory>::command)
        .complete();
    // ageseal never takes a private key on its command line: one given in place of a path or a
    // name is refused before anything runs (every error printed is redacted too: output::note).
    if let Some(position) = ageseal_core::redact::argument_with_private_key(std::env::args_os()) {
        let args: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let flag = |i: usize| args.get(i).map(String::as_str);
        let as_recipient = flag(position - 1) == Some("--recipient")
            || flag(position).is_some_and(|a| a.starts_with("--recipient="));
        let (message, code) = if as_recipient {
            (
                "--recipient is a private key, not a public one: pass the age1... public key".to_owned(),
                Exit::Input,
            )
        } else {
            (
                format!(
                    "argument {position} holds a private key; ageseal takes identities only from files (-i FILE)"
                ),
                Exit::Usage,
            )
        };
        output::note(&format!("error: {message}"));
        output::note(&format!("hint: {}", ageseal_core::redact::ROTATE_HINT));
        return ExitCode::from(code as u8);
    }
    let result = std::panic::catch_unwind(|| ageseal::args::parse().and_then(ageseal::run));
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) if failure.is_closed_pipe() => ExitCode::SUCCESS,
        Ok(Err(failure)) => {
            output::note(&format!("error: {}", failure.message));
            output::note(&format!("hint: {}", failure.hint));
            ExitCode::from(failure.code as u8)
        }
        Err(_) => ExitCode::from(Exit::Bug as u8),
    }
}
