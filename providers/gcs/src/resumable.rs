//! Resumable uploads on the JSON API (`uploadType=resumable`), sent in chunks, with the session
//! URI kept in the deploy folder's upload journal: a run killed outright (kill -9, power
//! loss) leaves the session behind, and the next run of the same bytes asks it how much it
//! holds (`PUT` with `Content-Range: bytes */SIZE`, 308 and `Range`) and sends only the rest.
//! A session recorded for other bytes is cancelled (`DELETE` on its URI).
//!
//! The official crate runs resumable sessions itself but never shows their URI, so large
//! objects take this path. The session URI is a capability (whoever holds it can write the
//! object), kept in a `Secret`: never printed or logged, only written to the journal, whose
//! file is private to the user.

use std::sync::Arc;

use base64::Engine;
use cubeship_provider::http::{error_from_response, file_body};
use cubeship_provider::journal::{Journal, JournalEntry};
use cubeship_provider::timeouts::within_timeouts;
use cubeship_provider::{
    Asset, BodyWatch, Error, ErrorKind, Progress, Result, RetryPolicy, SHA256_METADATA_KEY, Secret,
    Timeouts,
};
use reqwest::{StatusCode, header};

use crate::json_api::{JsonApi, encode_segment};

/// Bytes per chunk request: a multiple of the 256 KiB quantum the service requires of every
/// chunk but the last. A kill loses at most one chunk; each chunk costs one round trip.
pub const CHUNK_SIZE: u64 = 8 * 1024 * 1024;

/// Where a session stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    /// The service holds this many bytes from the start (308).
    Persisted(u64),
    /// The object is complete (200/201) with this size.
    Complete(u64),
    /// The session expired (a week after it started) or was cancelled (404, 410).
    Gone,
}

/// What the upload is: the object, its options, and the request's progress and timeouts.
pub struct Target<'a> {
    pub bucket: &'a str,
    pub name: &'a str,
    pub asset: &'a Asset,
    /// `ifGenerationMatch`: `Some(0)` creates only; a generation replaces only that one.
    pub if_generation_match: Option<i64>,
    pub with_acl: bool,
    pub progress: Arc<dyn Progress>,
    pub timeouts: &'a Timeouts,
    pub retry: RetryPolicy,
}

impl Target<'_> {
    /// The object's journal id, as S3 uses `s3://bucket/key`.
    fn journal_id(&self) -> String {
        format!("gs://{}/{}", self.bucket, self.name)
    }

    fn what(&self) -> String {
        format!("uploading to gs://{}/{}", self.bucket, self.name)
    }
}

/// Parses the `Range: bytes=0-N` of a 308: N + 1 bytes held; none held without the header.
fn persisted(headers: &header::HeaderMap) -> u64 {
    headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes=0-"))
        .and_then(|last| last.parse::<u64>().ok())
        .map_or(0, |last| last + 1)
}

/// The size in an object resource (the JSON API writes 64-bit integers as strings).
async fn object_size(response: reqwest::Response, what: &str) -> Result<u64> {
    let object: serde_json::Value = response.json().await.map_err(|e| {
        Error::new(
            ErrorKind::Transport,
            format!("{what}: unreadable answer: {}", e.without_url()),
        )
    })?;
    let size = &object["size"];
    size.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| size.as_u64())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Transport,
                format!("{what}: the service reported no size"),
            )
        })
}

/// A transport error of a request to the session URI, named by `what` only: reqwest's own
/// message would show the URI.
fn session_transport_error(err: reqwest::Error, what: &str) -> Error {
    let retryable = err.is_timeout() || err.is_connect() || err.is_request() || err.is_body();
    let err = err.without_url();
    Error::new(
        ErrorKind::Transport,
        format!("{what}: {}", cubeship_provider::error::chain(&err)),
    )
    .retryable(retryable || ErrorKind::Transport.is_retryable_by_default())
}

impl JsonApi {
    /// Starts a session; its URI comes back in `Location`.
    async fn start_session(&self, target: &Target<'_>) -> Result<Secret> {
        let asset = target.asset;
        let mut url = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=resumable&name={}",
            self.base,
            encode_segment(target.bucket),
            encode_segment(target.name)
        );
        if let Some(generation) = target.if_generation_match {
            url.push_str(&format!("&ifGenerationMatch={generation}"));
        }
        if target.with_acl {
            url.push_str("&predefinedAcl=publicRead");
        }
        let mut metadata = serde_json::json!({
            "name": target.name,
            "contentType": asset.content_type,
            "metadata": { SHA256_METADATA_KEY: asset.sha256 },
        });
        // The CRC32C computed while packaging: the service refuses the object if the bytes
        // it received differ. Zero means the manifest had none.
        if asset.crc32c != 0 {
            metadata["crc32c"] = base64::engine::general_purpose::STANDARD
                .encode(asset.crc32c.to_be_bytes())
                .into();
        }
        let what = format!(
            "starting an upload session for gs://{}/{}",
            target.bucket, target.name
        );
        target
            .retry
            .run(&what, |_| async {
                let headers = self.auth_headers().await?;
                let request = self
                    .upload_client
                    .post(&url)
                    .headers(headers)
                    .header("X-Upload-Content-Type", asset.content_type)
                    .header("X-Upload-Content-Length", asset.size)
                    .json(&metadata)
                    .send();
                let sent = async {
                    request
                        .await
                        .map_err(|e| cubeship_provider::http::transport_error(e, &what))
                };
                let response = within_timeouts(sent, None, target.timeouts, &what).await?;
                if !response.status().is_success() {
                    return Err(error_from_response(response, &what).await);
                }
                response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(Secret::new)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::Transport,
                            format!("{what}: the answer named no session"),
                        )
                    })
            })
            .await
    }

    /// One request to the session URI; `Standing` for 308, 200/201, 404/410.
    async fn to_session(
        &self,
        request: reqwest::RequestBuilder,
        watch: Option<&BodyWatch>,
        timeouts: &Timeouts,
        what: &str,
    ) -> Result<Standing> {
        let sent = async {
            request
                .send()
                .await
                .map_err(|e| session_transport_error(e, what))
        };
        let response = within_timeouts(sent, watch, timeouts, what).await?;
        match response.status() {
            StatusCode::PERMANENT_REDIRECT => {
                Ok(Standing::Persisted(persisted(response.headers())))
            }
            StatusCode::OK | StatusCode::CREATED => {
                Ok(Standing::Complete(object_size(response, what).await?))
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(Standing::Gone),
            _ => Err(error_from_response(response, what).await),
        }
    }

    /// Asks the session how many bytes it holds.
    async fn session_standing(
        &self,
        session: &Secret,
        size: u64,
        timeouts: &Timeouts,
        what: &str,
    ) -> Result<Standing> {
        let request = self
            .upload_client
            .put(session.expose())
            .headers(self.auth_headers().await?)
            .header(header::CONTENT_LENGTH, 0)
            .header(header::CONTENT_RANGE, format!("bytes */{size}"));
        self.to_session(request, None, timeouts, what).await
    }

    /// Sends bytes `offset..offset + len` of the file.
    async fn send_chunk(
        &self,
        session: &Secret,
        target: &Target<'_>,
        offset: u64,
    ) -> Result<Standing> {
        let asset = target.asset;
        let len = CHUNK_SIZE.min(asset.size - offset);
        let watch = BodyWatch::new(len);
        let body = file_body(&asset.path, offset, len, target.progress.clone(), &watch).await?;
        let request = self
            .upload_client
            .put(session.expose())
            .headers(self.auth_headers().await?)
            .header(header::CONTENT_LENGTH, len)
            .header(
                header::CONTENT_RANGE,
                format!("bytes {offset}-{}/{}", offset + len - 1, asset.size),
            )
            .body(body);
        self.to_session(request, Some(&watch), target.timeouts, &target.what())
            .await
    }

    /// Cancels a session (GCS answers 499 to a successful cancel). Best effort.
    async fn cancel_session(&self, session: &Secret, timeouts: &Timeouts, what: &str) {
        let request = match self.auth_headers().await {
            Ok(headers) => self
                .upload_client
                .delete(session.expose())
                .headers(headers)
                .header(header::CONTENT_LENGTH, 0),
            Err(e) => {
                tracing::warn!("{what}: {e}");
                return;
            }
        };
        let sent = async {
            request
                .send()
                .await
                .map_err(|e| session_transport_error(e, what))
        };
        match within_timeouts(sent, None, timeouts, what).await {
            Ok(response)
                if response.status().is_success()
                    || matches!(response.status().as_u16(), 404 | 410 | 499) => {}
            Ok(response) => tracing::warn!(
                "{what}: HTTP {} (an abandoned session expires on its own after a week)",
                response.status().as_u16()
            ),
            Err(e) => tracing::warn!("{e} (an abandoned session expires on its own after a week)"),
        }
    }
}

/// Whether journal id `other` is another version of the component `id` names: the same
/// bucket and file name, another key (content-addressed keys differ by version). The journal
/// belongs to one deploy folder, whose components have fixed file names.
fn same_component(id: &str, other: &str) -> bool {
    let bucket_of = |id: &str| {
        id.strip_prefix("gs://")
            .and_then(|rest| rest.split('/').next())
            .map(str::to_string)
    };
    let file_of = |id: &str| id.rsplit('/').next().map(str::to_string);
    bucket_of(id) == bucket_of(other) && file_of(id) == file_of(other)
}

/// Looks at the sessions of ended runs for this object and for other versions of the same
/// component: one for the same object and bytes (sha256, size, chunk size) that the service
/// still holds is taken over and returned with where it stands; every other one is for bytes
/// no run will send again, and is cancelled and forgotten.
async fn take_over(
    api: &JsonApi,
    journal: &Journal,
    target: &Target<'_>,
) -> Option<(Secret, Standing)> {
    let id = target.journal_id();
    let asset = target.asset;
    let mut taken = None;
    for (entry_id, entry) in journal.abandoned_where(|other| same_component(&id, other)) {
        let session = Secret::new(entry.upload_id.clone());
        let same = entry_id == id
            && entry.sha256 == asset.sha256
            && entry.size == asset.size
            && entry.part_size == CHUNK_SIZE;
        if same && taken.is_none() {
            let what = format!("asking the earlier upload session of {id} where it stands");
            match api
                .session_standing(&session, asset.size, target.timeouts, &what)
                .await
            {
                Ok(Standing::Gone) => {
                    tracing::info!("{id}: the earlier upload session expired; starting anew")
                }
                Ok(standing) => {
                    journal.put(&id, entry.clone());
                    journal.remove(&id, entry.pid);
                    taken = Some((session, standing));
                    continue;
                }
                Err(e) => tracing::warn!("{e}; starting a new session"),
            }
        } else {
            tracing::info!("{entry_id}: cancelling an upload session left for other bytes");
            let what = format!("cancelling an earlier upload session of {entry_id}");
            api.cancel_session(&session, target.timeouts, &what).await;
        }
        journal.remove(&entry_id, entry.pid);
    }
    taken
}

/// Uploads `target` through a resumable session, resuming one a killed run left for the same
/// bytes. Returns the stored size. Transient failures ask the session where it stands and go
/// on from there, within the retry policy; once that is spent the session stays journalled for
/// the next run. A refusal (412: someone else wrote the object; 400 …) cancels it.
pub async fn upload(api: &JsonApi, target: &Target<'_>, journal: Option<&Journal>) -> Result<u64> {
    let id = target.journal_id();
    let asset = target.asset;
    let what = target.what();
    let taken = match journal {
        Some(journal) => take_over(api, journal, target).await,
        None => None,
    };
    let (session, mut offset) = match taken {
        Some((_, Standing::Complete(size))) => {
            if let Some(journal) = journal {
                journal.remove(&id, std::process::id());
            }
            target.progress.advance(asset.size);
            return Ok(size);
        }
        Some((session, Standing::Persisted(held))) => {
            tracing::info!(
                "{}: resuming a Cloud Storage upload, {held} of {} bytes already there",
                asset.path.display(),
                asset.size
            );
            (session, held)
        }
        _ => {
            let session = api.start_session(target).await?;
            if let Some(journal) = journal {
                journal.put(
                    &id,
                    JournalEntry {
                        upload_id: session.expose().to_string(),
                        sha256: asset.sha256.clone(),
                        size: asset.size,
                        part_size: CHUNK_SIZE,
                        pid: 0,
                    },
                );
            }
            (session, 0)
        }
    };
    let forget = || {
        if let Some(journal) = journal {
            journal.remove(&id, std::process::id());
        }
    };
    target.progress.advance(offset);
    let mut attempt = 1;
    loop {
        let outcome = if offset >= asset.size {
            // Everything is there but the object was not finalised: a status query with the
            // total finalises it.
            api.session_standing(&session, asset.size, target.timeouts, &what)
                .await
        } else {
            api.send_chunk(&session, target, offset).await
        };
        let error = match outcome {
            Ok(Standing::Complete(size)) => {
                forget();
                return Ok(size);
            }
            Ok(Standing::Persisted(held)) => {
                let sent = CHUNK_SIZE.min(asset.size.saturating_sub(offset));
                if held != offset + sent {
                    // The service kept less (or more) than sent: go on from what it holds.
                    target.progress.restart();
                    target.progress.advance(held);
                }
                if held > offset {
                    attempt = 1;
                } else {
                    attempt += 1;
                    if attempt > target.retry.max_attempts {
                        return Err(Error::new(
                            ErrorKind::Transport,
                            format!("{what}: the service keeps none of the bytes sent"),
                        ));
                    }
                }
                offset = held;
                continue;
            }
            Ok(Standing::Gone) => {
                forget();
                return Err(Error::new(
                    ErrorKind::Transport,
                    format!("{what}: the upload session expired or was cancelled"),
                )
                .retryable(false));
            }
            Err(error) => error,
        };
        let Some(wait) = target.retry.delay(attempt, &error) else {
            if !error.retryable {
                api.cancel_session(&session, target.timeouts, &what).await;
                forget();
            }
            return Err(error);
        };
        tracing::warn!(
            "{what}: attempt {attempt} failed ({error}); asking the session where it stands in {:.1}s",
            wait.as_secs_f64()
        );
        attempt += 1;
        tokio::time::sleep(wait).await;
        match api
            .session_standing(&session, asset.size, target.timeouts, &what)
            .await
        {
            Ok(Standing::Persisted(held)) => {
                target.progress.restart();
                target.progress.advance(held);
                offset = held;
            }
            Ok(Standing::Complete(size)) => {
                forget();
                return Ok(size);
            }
            Ok(Standing::Gone) => {
                forget();
                return Err(error.context("the upload session is gone"));
            }
            // Asked again at the next round.
            Err(e) => tracing::warn!("{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_of_a_308_counts_the_bytes_held() {
        let mut headers = header::HeaderMap::new();
        assert_eq!(persisted(&headers), 0);
        headers.insert(header::RANGE, "bytes=0-8388607".parse().unwrap());
        assert_eq!(persisted(&headers), CHUNK_SIZE);
        headers.insert(header::RANGE, "bytes=5-9".parse().unwrap());
        assert_eq!(persisted(&headers), 0);
    }

    #[test]
    fn other_versions_of_a_component_share_bucket_and_file_name() {
        let id = "gs://b/p/cube/0123abcd/additional_files.tar.gz";
        assert!(same_component(id, id));
        assert!(same_component(
            id,
            "gs://b/p/cube/4567ef01/additional_files.tar.gz"
        ));
        assert!(!same_component(id, "gs://b/p/cube/0123abcd/image.tar.gz"));
        assert!(!same_component(
            id,
            "gs://other/p/cube/0123abcd/additional_files.tar.gz"
        ));
    }

    #[test]
    fn chunks_are_whole_quanta() {
        assert_eq!(CHUNK_SIZE % (256 * 1024), 0);
    }
}
