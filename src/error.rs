//! Errors of the application: `InputError` (bad input or configuration found before anything
//! was uploaded; the contract crate's type, shared with every provider) and `Failure` (a
//! failure after work started). The CLI maps them to exit codes 2 and 1.

use std::fmt;

pub use cubeship_provider::InputError;

/// A failure after work started (an upload, a verification, writing the report).
#[derive(Debug)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// One error for several input problems: the only one as it is, or a numbered list with each
/// problem's hint under it. `None` when there is no problem.
pub fn combine(mut problems: Vec<InputError>) -> Option<InputError> {
    match problems.len() {
        0 => None,
        1 => problems.pop(),
        n => {
            let mut message = format!("{n} problems:");
            for (i, problem) in problems.iter().enumerate() {
                message.push_str(&format!("\n  {}. {}", i + 1, problem.message));
                if let Some(hint) = &problem.hint {
                    message.push_str(&format!("\n     hint: {hint}"));
                }
            }
            Some(InputError::new(message))
        }
    }
}

/// Why packaging stopped. The split follows the exit-code rule of docs/errors.md: `Input` is
/// something the user must change (exit 2: a bad file, an unreadable file, a deploy folder
/// they may not write), `Io` is a failure outside the input (exit 1: the disk is full, the
/// disk reports an I/O error), where running again after fixing the machine works unchanged.
#[derive(Debug)]
pub enum PackageError {
    /// The input or the command line must change.
    Input(InputError),
    /// Reading or writing failed for a reason outside the input.
    Io(Failure),
}

impl From<InputError> for PackageError {
    fn from(error: InputError) -> Self {
        PackageError::Input(error)
    }
}

impl fmt::Display for PackageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageError::Input(error) => error.fmt(f),
            PackageError::Io(failure) => failure.fmt(f),
        }
    }
}

impl std::error::Error for PackageError {}

/// True when `error` is the machine's fault rather than the input's: no space or quota left,
/// a file over the file system's size limit, or the device's own I/O error (EIO). Permission
/// problems, missing files and read-only file systems are the user's to fix (exit 2).
pub fn outside_the_input(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    const EIO: i32 = 5;
    matches!(
        error.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    ) || error.raw_os_error() == Some(EIO)
}

/// An I/O error met while packaging, as the exit-code rule sorts it: `message` names the path
/// (and ends with the error), `input_hint` says what the user changes when it is theirs to fix.
pub fn packaging_io(error: &std::io::Error, message: String, input_hint: &str) -> PackageError {
    if outside_the_input(error) {
        let hint = if error.raw_os_error() == Some(5) {
            "the disk reported an I/O error: check the device, then package again"
        } else {
            "free space on that disk (or choose another --deploy-dir / --output), then package again"
        };
        PackageError::Io(Failure(format!(
            "{message}\n  hint: {hint}; nothing of this run was kept"
        )))
    } else {
        PackageError::Input(InputError::new(message).hint(input_hint))
    }
}

/// The `io::Error` somewhere in `error`'s source chain (a library error wrapping a failed read
/// or write), so that it can be sorted by `outside_the_input` too.
pub fn io_in_chain<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = error.source();
    }
    None
}
