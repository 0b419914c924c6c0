//! One error type for every provider, with kinds, the HTTP status→kind mapping and the
//! retryable flag the shared retry policy reads.

use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

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

/// A provider failure: what kind, a message for humans (never containing a secret), whether a
/// retry may help, and how long the server asked us to wait.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
    pub status: Option<u16>,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
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

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

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
    }
}
