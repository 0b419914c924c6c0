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
