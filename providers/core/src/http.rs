//! HTTP helpers shared by the reqwest-based providers and by verification: the one client
//! set-up with timeouts, the one check of user-given http(s) URLs, streamed file bodies with
//! progress, response→error classification, and the MedPerf-style download-and-hash.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::timeouts::{BodyWatch, Timeouts, next_within_idle};
use crate::{Error, ErrorKind, InputError, Progress, Result};

/// Characters left as they are in a URL path segment: RFC 3986 unreserved.
pub const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Sent with every request.
pub const USER_AGENT: &str = concat!("cubeship/", env!("CARGO_PKG_VERSION"));

/// Only the connection set-up has a client-wide timeout. reqwest's `read_timeout` would run
/// from `send()` to the response headers, capping the whole body upload whatever its progress
/// (a 1 GiB upload would need a fast link), so it is not used: the transfer timeouts are about
/// progress (`crate::timeouts::within_timeouts` around each request, idle reads of bodies).
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Timeouts::from_process_env().connect)
        .pool_idle_timeout(Duration::from_secs(60))
}

/// The one way providers build an HTTP client: the shared timeouts, `default_headers` on every
/// request (credentials marked sensitive), and redirects followed only when `follow_redirects`
/// (an API client must not carry its token to another host).
pub fn client(
    default_headers: reqwest::header::HeaderMap,
    follow_redirects: bool,
) -> Result<reqwest::Client> {
    let redirects = if follow_redirects {
        reqwest::redirect::Policy::limited(10)
    } else {
        reqwest::redirect::Policy::none()
    };
    client_builder()
        .default_headers(default_headers)
        .redirect(redirects)
        .build()
        .map_err(|e| Error::new(ErrorKind::Other, format!("cannot build HTTP client: {e}")))
}

/// A client with no credentials that follows redirects: what MedPerf uses to download.
pub fn anonymous_client() -> Result<reqwest::Client> {
    client(reqwest::header::HeaderMap::new(), true)
}

/// Checks a user-given http(s) URL (`option` names where it came from, for the message):
/// absolute, http or https, no user name or password (secrets do not belong on the command
/// line), no fragment. The raw value is never echoed when it does not parse, as it may hold a
/// secret.
pub fn parse_http_url(raw: &str, option: &str) -> std::result::Result<url::Url, InputError> {
    let url = url::Url::parse(raw.trim()).map_err(|e| {
        InputError::new(format!("{option}: not a valid URL ({e})"))
            .hint("write an absolute URL such as https://files.example.org/medperf/")
    })?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(InputError::new(format!(
            "{option} {}: only http:// and https:// URLs are supported here",
            display_url(&url)
        ))
        .hint("write an https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(InputError::new(format!(
            "{option} {} holds a user name or password; secrets do not belong on the command line",
            display_url(&url)
        ))
        .hint("remove them from the URL and give credentials through the environment (see the provider's page in docs/providers/)"));
    }
    if url.fragment().is_some() {
        return Err(InputError::new(format!(
            "{option} {}: a URL fragment (#…) is never sent to the server",
            display_url(&url)
        ))
        .hint("remove the #… part"));
    }
    Ok(url)
}

/// `url` for messages: no user info, and a query string (a presigned URL's signature) hidden.
pub fn display_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if shown.query().is_some() {
        shown.set_query(None);
        format!("{shown}?…")
    } else {
        shown.to_string()
    }
}

/// Whether `url` points at this machine (where cleartext HTTP and emulators are fine).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Streams `len` bytes of `path` from `offset` as a request body, reporting progress to
/// `progress` and to `watch` (send the request through `within_timeouts` with that watch, so
/// that a stalled body fails and a slow one does not).
pub async fn file_body(
    path: &Path,
    offset: u64,
    len: u64,
    progress: Arc<dyn Progress>,
    watch: &BodyWatch,
) -> Result<reqwest::Body> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::from(e).context(format!("cannot open {}", path.display())))?;
    if offset > 0 {
        file.seek(std::io::SeekFrom::Start(offset)).await?;
    }
    let watch = watch.clone();
    let end = watch.clone();
    let stream = ReaderStream::with_capacity(file.take(len), 64 * 1024)
        .inspect_ok(move |chunk| {
            progress.advance(chunk.len() as u64);
            watch.advance(chunk.len() as u64);
        })
        .chain(futures::stream::once(async move {
            end.finish();
            Ok::<_, std::io::Error>(bytes::Bytes::new())
        }))
        .try_filter(|chunk| futures::future::ready(!chunk.is_empty()));
    Ok(reqwest::Body::wrap_stream(stream))
}

/// Classifies a transport-level reqwest error (no HTTP answer). Timeouts and connection
/// failures are retryable; the URL is named but never its credentials (reqwest strips them).
pub fn transport_error(err: reqwest::Error, what: impl std::fmt::Display) -> Error {
    let retryable = err.is_timeout() || err.is_connect() || err.is_request() || err.is_body();
    let message = format!("{what}: {}", crate::error::chain(&err));
    let kind = match err.status() {
        Some(status) => ErrorKind::from_status(status.as_u16()),
        None => ErrorKind::Transport,
    };
    Error::new(kind, message).retryable(retryable || kind.is_retryable_by_default())
}

/// The server's `Retry-After` (seconds form) or GitHub's `x-ratelimit-reset` (epoch seconds)
/// when it asked us to wait.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(seconds) = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(seconds));
    }
    let remaining = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let reset = headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let (Some(0), Some(reset)) = (remaining, reset) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    None
}

/// Turns a non-success response into an `Error` of the shared kinds, with the start of the
/// server's message. A 403 that carries a rate-limit wait is a `RateLimited`, retryable.
pub async fn error_from_response(
    response: reqwest::Response,
    what: impl std::fmt::Display,
) -> Error {
    let status = response.status().as_u16();
    let wait = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let snippet: String = body.trim().chars().take(400).collect();
    let message = if snippet.is_empty() {
        format!("{what}: HTTP {status}")
    } else {
        format!("{what}: HTTP {status}: {snippet}")
    };
    let mut error = Error::from_status(status, message).with_retry_after(wait);
    if status == 403 && wait.is_some() {
        error.kind = ErrorKind::RateLimited;
        error.retryable = true;
    }
    error
}

/// What a GET of a URL returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Download {
    /// Status 200 after redirects: the body's size, sha256 and sha1 (hex; MedPerf checks one
    /// or the other depending on its version).
    Ok {
        /// Bytes received.
        size: u64,
        /// Lower-case hex.
        sha256: String,
        /// Lower-case hex.
        sha1: String,
    },
    /// Any other final status.
    Status(u16),
}

/// Hashes a response's body as it streams, never holding it in memory; anything but 200 is
/// `Download::Status`. A body that stalls for the idle timeout fails. Errors name `what`,
/// never the URL's query (it may be presigned).
pub async fn hash_response(response: reqwest::Response, what: &str) -> Result<Download> {
    let timeouts = Timeouts::from_process_env();
    if response.status().as_u16() != 200 {
        return Ok(Download::Status(response.status().as_u16()));
    }
    let mut sha256 = Sha256::new();
    let mut sha1 = Sha1::new();
    let mut size = 0u64;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = next_within_idle(stream.try_next(), &timeouts, what)
        .await?
        .map_err(|e| transport_error(e.without_url(), what))?
    {
        size += chunk.len() as u64;
        sha256.update(&chunk);
        sha1.update(&chunk);
    }
    Ok(Download::Ok {
        size,
        sha256: hex::encode(sha256.finalize()),
        sha1: hex::encode(sha1.finalize()),
    })
}

/// Downloads `url` the way MedPerf does (GET, redirects followed by `client`, only 200
/// accepted) and hashes the body, under the progress timeouts (time to answer, then idle).
/// Large objects on servers that answer ranges come over parallel ranged GETs, hashed in
/// order to the same result (`crate::ranged`).
pub async fn download_and_hash(client: &reqwest::Client, url: &url::Url) -> Result<Download> {
    let fetched =
        crate::ranged::fetch_and_hash(client, url, &crate::ranged::FetchOptions::plain()).await?;
    Ok(match fetched.body {
        Some(body) => Download::Ok {
            size: body.size,
            sha256: body.sha256,
            sha1: body.sha1,
        },
        None => Download::Status(fetched.status),
    })
}

/// MedPerf's download of a direct URL: an anonymous GET with redirects followed, status 200
/// only, transient failures retried by the shared policy (MedPerf retries too). `file://` URLs
/// (the `dir:` provider) are read from disk; a missing file is a 404.
pub async fn download_anonymously(url: &url::Url) -> Result<Download> {
    if url.scheme() == "file" {
        let path = url
            .to_file_path()
            .map_err(|()| Error::new(ErrorKind::InvalidInput, format!("bad file URL {url}")))?;
        return Ok(match crate::digest::hash_file(&path) {
            Ok(digests) => Download::Ok {
                size: digests.size,
                sha256: digests.sha256,
                sha1: digests.sha1,
            },
            Err(_) => Download::Status(404),
        });
    }
    let client = &anonymous_client()?;
    let what = &format!("GET {}", display_url(url));
    // A 429 or a 5xx (but 501) is a server or CDN in trouble, not an answer about the
    // object: tried again like a dropped connection, and reported as the status it kept
    // giving when the attempts are spent (found by faults::http_a_503_on_the_verification_download_is_retried).
    let attempt = move |_| async move {
        match download_and_hash(client, url).await? {
            Download::Status(status) if is_transient_status(status) => {
                Err(Error::from_status(status, format!("{what}: HTTP {status}")).retryable(true))
            }
            answer => Ok(answer),
        }
    };
    match crate::RetryPolicy::from_process_env()
        .run(what, attempt)
        .await
    {
        Err(error) if error.status.is_some_and(is_transient_status) => {
            Ok(Download::Status(error.status.unwrap_or_default()))
        }
        other => other,
    }
}

/// Statuses that say "try again later" rather than anything about the resource.
pub fn is_transient_status(status: u16) -> bool {
    status == 429 || ((500..=599).contains(&status) && status != 501)
}
