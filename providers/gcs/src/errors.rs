//! Maps the storage client's errors and JSON API answers onto the shared error kinds, using
//! the HTTP status wherever one exists so that every provider classifies alike.

use cubeship_provider::{Error, ErrorKind};
use google_cloud_storage::error::WriteError;

/// The `error.message` of a JSON API error body, or the start of the body when it is not JSON.
pub fn service_message(body: &[u8]) -> String {
    let parsed: Option<String> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string));
    let text = parsed.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    text.chars().take(400).collect()
}

/// Whether a 400 answer says the bucket refuses object ACLs (uniform bucket-level access).
pub fn is_uniform_access_refusal(status: Option<u16>, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    status == Some(400)
        && (message.contains("uniform bucket-level access")
            || message.contains("legacy acl")
            || message.contains("bucket policy only"))
}

/// Classifies an error of the official client. `what` says what was attempted and on which
/// object; the client's messages carry no credentials.
pub fn from_storage_error(err: google_cloud_storage::Error, what: &str) -> Error {
    if let Some(status) = err.http_status_code() {
        let detail = err
            .http_payload()
            .map(|body| service_message(body))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| err.to_string());
        let mut error = Error::from_status(status, format!("{what}: HTTP {status}: {detail}"));
        if status == 412 {
            error.message.push_str(
                " (another object was written under this name meanwhile; run again to compare it)",
            );
        }
        return error.with_source(err);
    }
    let kind = if err.is_authentication() {
        ErrorKind::Unauthenticated
    } else if err.is_timeout() || err.is_io() || err.is_connect() || err.is_transport() {
        ErrorKind::Transport
    } else if is_checksum_mismatch(&err) {
        ErrorKind::Integrity
    } else if err.is_binding() {
        ErrorKind::InvalidInput
    } else {
        ErrorKind::Other
    };
    let mut message = format!("{what}: {err}");
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&err);
    while let Some(inner) = cause {
        message.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    if kind == ErrorKind::Unauthenticated {
        message.push_str(
            " (no usable Google credentials: run `gcloud auth application-default login`, or set \
             GOOGLE_APPLICATION_CREDENTIALS to a service-account key file; see docs/providers/gcs.md)",
        );
    }
    if kind == ErrorKind::Integrity {
        message.push_str(" (the service stored other bytes than the file holds; nothing is reported as published)");
    }
    Error::new(kind, message).with_source(err)
}

fn is_checksum_mismatch(err: &google_cloud_storage::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(inner) = cause {
        if let Some(WriteError::ChecksumMismatch { .. }) = inner.downcast_ref::<WriteError>() {
            return true;
        }
        cause = inner.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_message_reads_the_json_error() {
        let body = br#"{"error":{"code":400,"message":"Cannot insert legacy ACL for an object when uniform bucket-level access is enabled."}}"#;
        let message = service_message(body);
        assert!(message.starts_with("Cannot insert legacy ACL"));
        assert!(is_uniform_access_refusal(Some(400), &message));
        assert!(!is_uniform_access_refusal(Some(403), &message));
        assert_eq!(service_message(b" plain text "), "plain text");
    }

    #[test]
    fn http_errors_use_the_shared_status_mapping() {
        let err = google_cloud_storage::Error::http(
            503,
            Default::default(),
            bytes::Bytes::from_static(br#"{"error":{"message":"backend busy"}}"#),
        );
        let mapped = from_storage_error(err, "uploading x");
        assert_eq!(mapped.kind, ErrorKind::Transport);
        assert!(mapped.retryable);
        assert!(
            mapped.message.contains("backend busy"),
            "{}",
            mapped.message
        );
        let err = google_cloud_storage::Error::http(412, Default::default(), bytes::Bytes::new());
        assert_eq!(
            from_storage_error(err, "uploading x").kind,
            ErrorKind::AlreadyExists
        );
    }
}
