//! The errors of every provider: `Error` (a failure while working, with a kind, the HTTP
//! status→kind mapping and the retryable flag the shared retry policy reads), `InputError` (a
//! configuration mistake found before anything is sent, with a hint), and the one way to print
//! an error with its causes.

use std::time::Duration;

/// A provider result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as far as a caller needs to decide (retry, refuse, explain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No or invalid credentials (401).
    Unauthenticated,
    /// Credentials valid but not allowed (403).
    PermissionDenied,
    /// Bucket, release, repository or object missing (404).
    NotFound,
    /// An object with other content is already there (409, 412, GitHub 422 already_exists).
    AlreadyExists,
    /// The object exceeds what the store accepts (413, GitHub 2 GiB).
    TooLarge,
    /// The server does not support the operation (405, 501).
    NotSupported,
    /// The server has no room left (507).
    StorageFull,
    /// Too many requests (429, S3 SlowDown, GitHub secondary rate limit).
    RateLimited,
    /// The stored bytes do not match what was sent.
    Integrity,
    /// Bad configuration or request detected locally or by the server (400).
    InvalidInput,
    /// Network failure, timeout, or server-side error (5xx).
    Transport,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether retrying the same request can succeed.
    pub fn is_retryable_by_default(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Transport)
    }

    /// Maps an HTTP status to a kind; the one mapping every provider uses.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            400 | 411 | 416 | 422 => ErrorKind::InvalidInput,
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::PermissionDenied,
            404 | 410 => ErrorKind::NotFound,
            405 | 501 => ErrorKind::NotSupported,
            409 | 412 => ErrorKind::AlreadyExists,
            413 => ErrorKind::TooLarge,
            429 => ErrorKind::RateLimited,
            507 => ErrorKind::StorageFull,
            408 | 500..=599 => ErrorKind::Transport,
            _ => ErrorKind::Other,
        }
    }
}

/// Whether an HTTP status on a read of one object means "nothing there" (rather than a
/// failure): 404 Not Found and 410 Gone. The one rule every provider's `head` uses.
pub fn is_missing(status: u16) -> bool {
    matches!(status, 404 | 410)
}

/// `error` and its causes on one line, `a: b: c`, skipping a cause whose text the previous
/// one already ends with (many libraries repeat their source in their own message).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Bad input or configuration, found before anything was sent: what is wrong (naming the
/// file, option or variable, never a secret value) and what to do. The CLI exits with 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl InputError {
    /// An error without a hint yet.
    pub fn new(message: impl Into<String>) -> Self {
        InputError {
            message: message.into(),
            hint: None,
        }
    }

    /// Adds what to do.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with where it happened (`--to s3://b: ...`).
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

impl From<Error> for InputError {
    /// A provider failure during set-up or preflight (bad credentials, missing bucket) is a
    /// configuration problem to the user.
    fn from(error: Error) -> Self {
        InputError::new(error.message)
    }
}

/// A provider failure: what kind, a message for humans (never containing a secret), whether a
/// retry may help, and how long the server asked us to wait.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// For humans; never contains a secret.
    pub message: String,
    /// Whether the retry policy may try again.
    pub retryable: bool,
    /// How long the server asked us to wait.
    pub retry_after: Option<Duration>,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The underlying error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind`, retryable when the kind usually is.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            retryable: kind.is_retryable_by_default(),
            retry_after: None,
            status: None,
            source: None,
        }
    }

    /// An error for an HTTP answer with `status`, classified by the shared mapping.
    pub fn from_status(status: u16, message: impl Into<String>) -> Self {
        let mut error = Error::new(ErrorKind::from_status(status), message);
        error.status = Some(status);
        error
    }

    /// Keeps the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Records how long the server asked us to wait.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    /// Overrides whether a retry may help.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Prefixes the message with where it happened (`uploading x to s3://b/k: ...`).
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            std::io::ErrorKind::StorageFull => ErrorKind::StorageFull,
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::UnexpectedEof => ErrorKind::Transport,
            _ => ErrorKind::Other,
        };
        Error::new(kind, err.to_string()).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_marks_only_transient_answers_retryable() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(Error::from_status(status, "x").retryable, "{status}");
        }
        for status in [400, 401, 403, 404, 405, 409, 412, 413, 422, 501, 507] {
            assert!(!Error::from_status(status, "x").retryable, "{status}");
        }
        assert_eq!(ErrorKind::from_status(501), ErrorKind::NotSupported);
        assert_eq!(ErrorKind::from_status(507), ErrorKind::StorageFull);
        assert!(is_missing(404) && is_missing(410) && !is_missing(403));
    }

    #[test]
    fn chain_joins_causes_once() {
        let inner = std::io::Error::other("connection reset");
        let outer = Error::new(ErrorKind::Transport, "PUT x").with_source(inner);
        assert_eq!(chain(&outer), "PUT x: connection reset");
        let repeated = Error::new(ErrorKind::Transport, "PUT x: connection reset")
            .with_source(std::io::Error::other("connection reset"));
        assert_eq!(chain(&repeated), "PUT x: connection reset");
    }
}
