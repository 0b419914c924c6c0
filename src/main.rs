use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(cubeship::cli::run())
}
