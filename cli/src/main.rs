//! `ageseal`: parses the command line and hands over to the library; prints failures with a hint.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = ageseal::args::Args::parse();
    match ageseal::run(args) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            eprintln!("hint: {}", failure.hint);
            ExitCode::from(failure.code as u8)
        }
    }
}
