//! The `cubeship` command: `main` only calls [`cli::run`].

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    ExitCode::from(cli::run())
}
