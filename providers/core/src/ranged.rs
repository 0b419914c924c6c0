//! Downloads for verification, hashed as they arrive: one plain GET, or, when the server
//! answers byte ranges and the object is large, fixed-size chunks fetched over several
//! connections at once and hashed strictly in order, so that the size, sha256 and sha1 are
//! exactly those of the single stream.
//!
//! The rule (docs/reliability.md, "Verification downloads"): the first request is a ranged GET
//! of the first chunk (`Range: bytes=0-(CHUNK-1)`). A 200 is a server that ignores ranges: its
//! body is the single stream. A 206 whose `Content-Range` is `bytes 0-E/TOTAL`, with E as
//! asked and TOTAL the expected size (when known), starts the parallel path; an object no
//! larger than one chunk is then complete already. Anything else (an odd or missing
//! `Content-Range`, another total, any other status) is answered by a plain GET, so that
//! errors are exactly those MedPerf's own GET meets. Callers that know the size skip the
//! probe below `RANGED_MIN_SIZE`.
//!
//! Memory is bounded by the chunks in flight plus the one being hashed
//! (`(connections + 1) × CHUNK_SIZE`, 40 MiB by default); every request runs under the same
//! progress timeouts as the rest (`crate::timeouts`), a failed chunk is retried alone by the
//! shared policy, and every chunk's `Content-Range` and length are checked.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::http::{display_url, error_from_response, transport_error};
use crate::timeouts::{Timeouts, next_within_idle, within_timeouts};
use crate::{EnvLookup, Error, ErrorKind, InputError, NoProgress, Progress, Result, RetryPolicy};

/// Bytes per ranged GET: large enough that request overhead is negligible, small enough that
/// the chunks in flight stay within tens of MiB.
pub const CHUNK_SIZE: u64 = 8 * 1024 * 1024;

/// Objects of known size below this are fetched with one plain GET (no probe): for them a few
/// connections gain nothing worth a second code path on the wire.
pub const RANGED_MIN_SIZE: u64 = 32 * 1024 * 1024;

/// Connections one download of a remote host uses at most; `CUBESHIP_DOWNLOAD_CONNECTIONS`
/// overrides it.
pub const DEFAULT_CONNECTIONS: usize = 4;

/// The most connections `CUBESHIP_DOWNLOAD_CONNECTIONS` may ask for.
pub const MAX_CONNECTIONS: usize = 16;

/// How many connections one verification download may use; `1` keeps every download a single
/// plain GET (for a server that dislikes parallel requests).
pub const DOWNLOAD_CONNECTIONS_ENV: &str = "CUBESHIP_DOWNLOAD_CONNECTIONS";

/// Reads `CUBESHIP_DOWNLOAD_CONNECTIONS` from `env`: `None` when unset, else a whole number
/// from 1 to `MAX_CONNECTIONS`, or an input error naming the variable.
pub fn connections_from_env(env: &EnvLookup) -> std::result::Result<Option<usize>, InputError> {
    let Some(raw) = env(DOWNLOAD_CONNECTIONS_ENV).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_CONNECTIONS).contains(&n) => Ok(Some(n)),
        _ => Err(InputError::new(format!(
            "{DOWNLOAD_CONNECTIONS_ENV}={raw}: expected a whole number from 1 to {MAX_CONNECTIONS}"
        ))
        .hint(format!(
            "set {DOWNLOAD_CONNECTIONS_ENV}=1 for single-stream downloads, or unset it for the default"
        ))),
    }
}

/// The connections a download of `url` uses when the caller does not say: the environment's
/// `CUBESHIP_DOWNLOAD_CONNECTIONS`, else one for a server on this machine and
/// `DEFAULT_CONNECTIONS` for any other. On loopback one stream is already bound by CPU (nginx
/// serves ~820 MiB/s to one stream here, ~700 MiB/s to four), and the local S3 emulators cost
/// more per request than per byte (s3s-fs hashes the whole object for every GET, so N ranges
/// cost it N whole-file MD5s): docs/benchmarks.md, "Verification downloads". Across a network,
/// one TCP stream is what limits a download, and S3, GCS and CDNs serve byte ranges of one
/// object in parallel (the AWS guidance for fast GETs).
pub fn default_connections(url: &url::Url) -> usize {
    match connections_from_env(&crate::process_env()) {
        Ok(Some(n)) => n,
        _ if crate::http::is_loopback(url) => 1,
        _ => DEFAULT_CONNECTIONS,
    }
}

/// What the caller wants besides the hashes.
pub struct FetchOptions<'a> {
    /// The size the object must have, when known: a ranged total that disagrees falls back
    /// to the single stream (whose size the caller then compares), and a known small size
    /// skips the probe.
    pub expected_size: Option<u64>,
    /// How many of the body's first bytes to keep (the link doctor looks for HTML pages).
    pub head_bytes: usize,
    /// Called once the body starts, with its total size (0 when unknown); the bytes hashed go
    /// to the returned `Progress`.
    pub progress: &'a (dyn Fn(u64) -> Arc<dyn Progress> + Sync),
    /// Connections at most (1: always one plain GET); `None`: `default_connections`.
    pub connections: Option<usize>,
}

impl FetchOptions<'_> {
    /// No size known, no head kept, no progress, the default connections.
    pub fn plain() -> FetchOptions<'static> {
        FetchOptions {
            expected_size: None,
            head_bytes: 0,
            progress: &no_progress,
            connections: None,
        }
    }
}

fn no_progress(_total: u64) -> Arc<dyn Progress> {
    Arc::new(NoProgress)
}

/// The body of a download that answered 200 (or, on the ranged path, 206 for every chunk).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedBody {
    /// Bytes received.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Lower-case hex.
    pub sha1: String,
    /// The first `FetchOptions::head_bytes` bytes.
    pub head: Vec<u8>,
    /// How many ranged GETs made the body; 0 when it came as one plain stream.
    pub ranged_requests: u32,
}

/// What a GET of a URL returned.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The final status after redirects; 200 when the body was assembled from ranges (what
    /// the same server answers a plain GET).
    pub status: u16,
    /// The answer's Content-Type.
    pub content_type: Option<String>,
    /// Where the redirects ended.
    pub final_url: url::Url,
    /// The body's digests, for status 200 only.
    pub body: Option<FetchedBody>,
}

/// GETs `url` with `client` and hashes the body as it arrives, over parallel ranged GETs when
/// the server allows it (module docs). Errors name the URL with `display_url` only.
pub async fn fetch_and_hash(
    client: &reqwest::Client,
    url: &url::Url,
    options: &FetchOptions<'_>,
) -> Result<Fetched> {
    let what = format!("GET {}", display_url(url));
    let timeouts = Timeouts::from_process_env();
    let small = options.expected_size.is_some_and(|s| s < RANGED_MIN_SIZE);
    let connections = options
        .connections
        .unwrap_or_else(|| default_connections(url));
    if connections <= 1 || small {
        let response = send(client.get(url.clone()), &timeouts, &what).await?;
        return single_stream(response, options, &timeouts, &what).await;
    }
    let probe = client
        .get(url.clone())
        .header(reqwest::header::RANGE, range_header(0, CHUNK_SIZE));
    let response = send(probe, &timeouts, &what).await?;
    match response.status().as_u16() {
        200 => return single_stream(response, options, &timeouts, &what).await,
        206 => {}
        status => {
            tracing::debug!("{what}: a ranged GET answered {status}; asking with a plain GET");
            drop(response);
            let response = send(client.get(url.clone()), &timeouts, &what).await?;
            return single_stream(response, options, &timeouts, &what).await;
        }
    }
    let total = content_range(response.headers())
        .filter(|range| range.start == 0 && range.end + 1 == CHUNK_SIZE.min(range.total))
        .map(|range| range.total)
        .filter(|total| options.expected_size.is_none_or(|size| size == *total));
    let Some(total) = total else {
        tracing::debug!(
            "{what}: the ranged answer's Content-Range is missing, odd or of another size; asking with a plain GET"
        );
        drop(response);
        let response = send(client.get(url.clone()), &timeouts, &what).await?;
        return single_stream(response, options, &timeouts, &what).await;
    };
    ranged(client, url, response, total, connections, options, &what).await
}

/// Sends `request` under the response timeout.
async fn send(
    request: reqwest::RequestBuilder,
    timeouts: &Timeouts,
    what: &str,
) -> Result<reqwest::Response> {
    let send = async {
        request
            .send()
            .await
            .map_err(|e| transport_error(e.without_url(), what))
    };
    within_timeouts(send, None, timeouts, what).await
}

fn content_type(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Hashes one plain answer's body as it streams (anything but 200 has no body to hash).
async fn single_stream(
    response: reqwest::Response,
    options: &FetchOptions<'_>,
    timeouts: &Timeouts,
    what: &str,
) -> Result<Fetched> {
    let status = response.status().as_u16();
    let content_type = content_type(&response);
    let final_url = response.url().clone();
    if status != 200 {
        return Ok(Fetched {
            status,
            content_type,
            final_url,
            body: None,
        });
    }
    let progress = (options.progress)(response.content_length().unwrap_or(0));
    let mut sha256 = Sha256::new();
    let mut sha1 = Sha1::new();
    let mut size = 0u64;
    let mut head = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = next_within_idle(stream.try_next(), timeouts, what)
        .await?
        .map_err(|e| transport_error(e.without_url(), what))?
    {
        keep_head(&mut head, &chunk, options.head_bytes);
        size += chunk.len() as u64;
        sha256.update(&chunk);
        sha1.update(&chunk);
        progress.advance(chunk.len() as u64);
    }
    Ok(Fetched {
        status,
        content_type,
        final_url,
        body: Some(FetchedBody {
            size,
            sha256: hex::encode(sha256.finalize()),
            sha1: hex::encode(sha1.finalize()),
            head,
            ranged_requests: 0,
        }),
    })
}

fn keep_head(head: &mut Vec<u8>, chunk: &[u8], want: usize) {
    if head.len() < want {
        let take = (want - head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..take]);
    }
}

/// `Range: bytes=START-END` for `len` bytes from `start`.
fn range_header(start: u64, len: u64) -> String {
    format!("bytes={start}-{}", start + len - 1)
}

/// A parsed `Content-Range: bytes START-END/TOTAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ContentRange {
    start: u64,
    end: u64,
    total: u64,
}

/// The answer's `Content-Range`, when it is the complete form with a known total.
fn content_range(headers: &reqwest::header::HeaderMap) -> Option<ContentRange> {
    let value = headers.get(reqwest::header::CONTENT_RANGE)?.to_str().ok()?;
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let range = ContentRange {
        start: start.trim().parse().ok()?,
        end: end.trim().parse().ok()?,
        total: total.trim().parse().ok()?,
    };
    (range.start <= range.end && range.end < range.total).then_some(range)
}

/// Reads a chunk's body (exactly `len` bytes expected) under the idle timeout.
async fn read_chunk(
    response: reqwest::Response,
    len: u64,
    timeouts: &Timeouts,
    what: &str,
) -> Result<Bytes> {
    let mut buffer = BytesMut::with_capacity(len as usize);
    let mut stream = response.bytes_stream();
    while let Some(piece) = next_within_idle(stream.try_next(), timeouts, what)
        .await?
        .map_err(|e| transport_error(e.without_url(), what))?
    {
        if buffer.len() as u64 + piece.len() as u64 > len {
            return Err(Error::new(
                ErrorKind::Transport,
                format!("{what}: the server sent more than the {len} bytes of the range"),
            )
            .retryable(true));
        }
        buffer.extend_from_slice(&piece);
    }
    if buffer.len() as u64 != len {
        return Err(Error::new(
            ErrorKind::Transport,
            format!(
                "{what}: the range ended after {} of its {len} bytes",
                buffer.len()
            ),
        )
        .retryable(true));
    }
    Ok(buffer.freeze())
}

/// One attempt at chunk `start..start+len` of an object of `total` bytes.
async fn fetch_chunk_once(
    client: &reqwest::Client,
    url: &url::Url,
    start: u64,
    len: u64,
    total: u64,
    timeouts: &Timeouts,
    what: &str,
) -> Result<Bytes> {
    let request = client
        .get(url.clone())
        .header(reqwest::header::RANGE, range_header(start, len));
    let response = send(request, timeouts, what).await?;
    let status = response.status().as_u16();
    if status != 206 {
        if status == 200 {
            return Err(Error::new(
                ErrorKind::Transport,
                format!(
                    "{what}: the server answered ranges, then a whole body (HTTP 200) to the range at {start}"
                ),
            )
            .retryable(false));
        }
        return Err(error_from_response(response, what).await);
    }
    let expected = ContentRange {
        start,
        end: start + len - 1,
        total,
    };
    let got = content_range(response.headers());
    if got != Some(expected) {
        let shown = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_string();
        return Err(Error::new(
            ErrorKind::Transport,
            format!(
                "{what}: asked for bytes {start}-{} of {total}, the server answered Content-Range {shown} (the object changed?)",
                expected.end
            ),
        )
        // Asking again would not make the parts one object.
        .retryable(false));
    }
    read_chunk(response, len, timeouts, what).await
}

/// Chunk `start..start+len`, retried alone by the shared policy.
async fn fetch_chunk(
    client: reqwest::Client,
    url: url::Url,
    start: u64,
    len: u64,
    total: u64,
    timeouts: Timeouts,
    what: String,
) -> Result<Bytes> {
    let what = format!("{what} (bytes {start}-{})", start + len - 1);
    RetryPolicy::default()
        .run(&what, |_| {
            fetch_chunk_once(&client, &url, start, len, total, &timeouts, &what)
        })
        .await
        // Its retries are spent: a caller retrying the whole download would multiply them.
        .map_err(|e| e.retryable(false))
}

/// A spawned task that is aborted when its handle is dropped (an abandoned download stops
/// its chunk requests).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| {
            joined.map_err(|e| Error::new(ErrorKind::Other, format!("a download task failed: {e}")))
        })
    }
}

/// The parallel path: `first` is the probe's 206 answer (the first chunk), `total` the size.
async fn ranged(
    client: &reqwest::Client,
    original: &url::Url,
    first: reqwest::Response,
    total: u64,
    connections: usize,
    options: &FetchOptions<'_>,
    what: &str,
) -> Result<Fetched> {
    let timeouts = &Timeouts::from_process_env();
    let content_type = content_type(&first);
    let final_url = first.url().clone();
    // The chunks go straight where the redirects ended when that is the same origin (one hop
    // less each). Another origin gets the original URL and its redirects again: the client may
    // carry credentials in its default headers (GitHub's token), which reqwest strips only
    // when a redirect leaves the host, never on a request sent there directly.
    let chunk_url = if final_url.origin() == original.origin() {
        final_url.clone()
    } else {
        original.clone()
    };
    let progress = (options.progress)(total);
    let first_len = CHUNK_SIZE.min(total);
    let chunks = total.div_ceil(CHUNK_SIZE);
    let probe_body = {
        let (client, url, timeouts, what) = (
            client.clone(),
            chunk_url.clone(),
            *timeouts,
            what.to_string(),
        );
        async move {
            match read_chunk(first, first_len, &timeouts, &what).await {
                Ok(bytes) => Ok(bytes),
                // The probe's body broke: fetch the first chunk again like any other.
                Err(e) if e.retryable => {
                    tracing::warn!("{what}: {e}; fetching the first range again");
                    fetch_chunk(client, url, 0, first_len, total, timeouts, what).await
                }
                Err(e) => Err(e),
            }
        }
    };
    let first_task = AbortOnDrop(tokio::spawn(probe_body));
    // `buffered` takes the next task from this lazy iterator only when one of its
    // `connections` slots is free, so chunks are spawned (and keep downloading while the
    // caller hashes) `connections` at a time, and come out in order.
    let rest = (1..chunks).map(|index| {
        let start = index * CHUNK_SIZE;
        let len = CHUNK_SIZE.min(total - start);
        let (client, url, timeouts, what) = (
            client.clone(),
            chunk_url.clone(),
            *timeouts,
            what.to_string(),
        );
        AbortOnDrop(tokio::spawn(fetch_chunk(
            client, url, start, len, total, timeouts, what,
        )))
    });
    let mut in_order =
        futures::stream::iter(std::iter::once(first_task).chain(rest)).buffered(connections);
    let mut sha256 = Sha256::new();
    let mut sha1 = Sha1::new();
    let mut size = 0u64;
    let mut head = Vec::new();
    while let Some(chunk) = in_order.next().await {
        let chunk = chunk??;
        let len = chunk.len() as u64;
        keep_head(&mut head, &chunk, options.head_bytes);
        size += len;
        // Both digests off the async threads and beside each other, while the next chunks
        // keep arriving.
        let for_sha1 = chunk.clone();
        let sha256_task = tokio::task::spawn_blocking(move || {
            sha256.update(&chunk);
            sha256
        });
        let sha1_task = tokio::task::spawn_blocking(move || {
            sha1.update(&for_sha1);
            sha1
        });
        let (done256, done1) = tokio::join!(sha256_task, sha1_task);
        let hashing_failed = |e: tokio::task::JoinError| {
            Error::new(ErrorKind::Other, format!("hashing failed: {e}"))
        };
        sha256 = done256.map_err(hashing_failed)?;
        sha1 = done1.map_err(hashing_failed)?;
        progress.advance(len);
    }
    if size != total {
        return Err(Error::new(
            ErrorKind::Transport,
            format!("{what}: received {size} bytes in ranges, the server announced {total}"),
        ));
    }
    drop(in_order);
    Ok(Fetched {
        status: 200,
        content_type,
        final_url,
        body: Some(FetchedBody {
            size,
            sha256: hex::encode(sha256.finalize()),
            sha1: hex::encode(sha1.finalize()),
            head,
            ranged_requests: chunks as u32,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_RANGE, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_a_complete_content_range_with_a_known_total_is_taken() {
        assert_eq!(
            content_range(&headers("bytes 0-8388607/20000000")),
            Some(ContentRange {
                start: 0,
                end: 8_388_607,
                total: 20_000_000
            })
        );
        for odd in [
            "bytes 0-9/*",
            "bytes */100",
            "bytes 10-5/100",
            "bytes 0-100/100",
            "items 0-9/10",
            "bytes 0-x/10",
        ] {
            assert_eq!(content_range(&headers(odd)), None, "{odd}");
        }
        assert_eq!(
            content_range(&reqwest::header::HeaderMap::new()),
            None,
            "missing"
        );
    }

    #[test]
    fn the_connections_setting_is_checked() {
        use crate::env_from as env;
        assert_eq!(connections_from_env(&env(&[])).unwrap(), None);
        let eight: &'static [(&'static str, &'static str)] = &[(DOWNLOAD_CONNECTIONS_ENV, "8")];
        assert_eq!(connections_from_env(&env(eight)).unwrap(), Some(8));
        for bad in ["0", "17", "many", "-1"] {
            let pairs: &'static [(&'static str, &'static str)] =
                Box::leak(Box::new([(DOWNLOAD_CONNECTIONS_ENV, bad)]));
            let err = connections_from_env(&env(pairs)).unwrap_err();
            assert!(err.to_string().contains(DOWNLOAD_CONNECTIONS_ENV), "{err}");
        }
        let local = url::Url::parse("http://127.0.0.1:9000/b/k").unwrap();
        let remote = url::Url::parse("https://bucket.s3.amazonaws.com/k").unwrap();
        if std::env::var_os(DOWNLOAD_CONNECTIONS_ENV).is_none() {
            assert_eq!(default_connections(&local), 1);
            assert_eq!(default_connections(&remote), DEFAULT_CONNECTIONS);
        }
    }
}
