//! Staged uploads to S3: a file still being written goes, part by part as it grows, into a
//! multipart upload at a staging key; once its hash is known it is promoted to the final,
//! content-addressed key by one server-side `CopyObject` (create-only with `If-None-Match: *`,
//! the sha256 metadata and ACL replaced), and the staging object is deleted. A run killed
//! before that leaves a journal entry the next staged upload to the destination cleans up.

use std::sync::atomic::Ordering;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, MetadataDirective,
};
use cubeship_provider::journal::JournalEntry;
use cubeship_provider::staged::{STAGING_FOLDER, Staged, StagedRequest};
use cubeship_provider::{
    Asset, Error, ErrorKind, ObjectKey, RemoteObject, Result, SHA256_METADATA_KEY, Uploaded,
};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::{ChecksumMode, MAX_PARTS, S3Provider, map_error};

/// The largest object one `CopyObject` copies; bigger files are not staged (the caller keeps
/// the sequential path for them).
pub const MAX_COPY_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Parts of a staged upload in flight at once. Each part is held in memory until the store
/// accepted it (the file may be renamed under us, so parts are read through one handle), so
/// this times the part size bounds the memory staged uploads take: 4 × 8 MiB below 80 GB.
const STAGED_PART_CONCURRENCY: usize = 4;

/// The smallest staged part: half the ordinary 16 MiB, because staged parts sit in memory
/// (4 × 16 MiB took the 1 GiB cube's `package-and-publish` to 145 MiB peak RSS; 8 MiB keeps it
/// under 128 MiB) and loopback and LAN stores lose nothing with 8 MiB parts.
const MIN_STAGED_PART_SIZE: u64 = 8 * 1024 * 1024;

impl S3Provider {
    /// The part size of a staged upload: the size hint (an upper bound of the final size)
    /// cut into at most 10,000 parts of at least 8 MiB.
    fn staged_part_size(size_hint: u64) -> u64 {
        MIN_STAGED_PART_SIZE.max((size_hint + size_hint / 100).div_ceil(MAX_PARTS))
    }

    /// Removes what killed runs left under this destination's staging folder: their open
    /// multipart uploads and completed staging objects, as their journal entries say.
    async fn clean_abandoned_staging(&self, journal: &cubeship_provider::journal::Journal) {
        let root = self.journal_id("");
        let staging = self.journal_id(&self.full_key(&ObjectKey::from_parts([STAGING_FOLDER])));
        for (id, entry) in journal.abandoned_under(&staging) {
            let Some(key) = id.strip_prefix(&root) else {
                continue;
            };
            let aborted = self.abort(key, &entry.upload_id).await;
            let deleted = self.delete(key).await;
            if aborted && deleted {
                tracing::info!(
                    "s3://{}/{key}: removed the staged upload of an interrupted run",
                    self.config.bucket
                );
                journal.remove(&id, entry.pid);
            }
        }
    }

    /// Deletes `key` (a staging object); whether it is gone.
    async fn delete(&self, key: &str) -> bool {
        match self
            .client
            .delete_object()
            .bucket(&self.config.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => true,
            Err(e) => {
                tracing::warn!(
                    "{}",
                    map_error(e, &format!("deleting s3://{}/{key}", self.config.bucket))
                );
                false
            }
        }
    }

    pub(crate) async fn upload_staged_impl(&self, request: &StagedRequest<'_>) -> Result<Staged> {
        if let Some(journal) = request.journal {
            self.clean_abandoned_staging(journal).await;
            *self.staged_journal.lock().expect("journal lock") = Some(journal.clone());
        }
        let key = self.full_key(request.key);
        self.staging_keys
            .lock()
            .expect("staging keys lock")
            .push(key.clone());
        let what = format!("staged upload to s3://{}/{key}", self.config.bucket);
        let part_size = Self::staged_part_size(request.source.size_hint());
        let upload_id = self
            .config
            .retry
            .run(&what, |_| async {
                let mut create = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.config.bucket)
                    .key(&key);
                if self.checksum == ChecksumMode::WhenSupported {
                    create = create.checksum_algorithm(ChecksumAlgorithm::Crc32);
                }
                match create.send().await {
                    Ok(out) => out.upload_id.ok_or_else(|| {
                        Error::new(ErrorKind::Other, format!("{what}: no upload id"))
                    }),
                    Err(e) => Err(map_error(e, &what)),
                }
            })
            .await?;
        // Listed for `abort_in_flight` first: the journal write below syncs to disk, and an
        // interrupt meanwhile must still find the upload.
        self.in_flight
            .lock()
            .expect("in-flight list lock")
            .push((key.clone(), upload_id.clone()));
        let journal_id = self.journal_id(&key);
        if let Some(journal) = request.journal {
            // The sha256 is not known yet: the entry is only ever cleaned up, never resumed.
            journal.put(
                &journal_id,
                JournalEntry {
                    upload_id: upload_id.clone(),
                    sha256: String::new(),
                    size: 0,
                    part_size,
                    pid: std::process::id(),
                },
            );
        }
        let result = async {
            let (parts, size) = self
                .upload_growing_parts(request, &key, &upload_id, part_size)
                .await?;
            self.complete_staged(&key, &upload_id, parts, size, &what)
                .await?;
            Ok::<_, Error>(size)
        }
        .await;
        self.in_flight
            .lock()
            .expect("in-flight list lock")
            .retain(|(_, id)| id != &upload_id);
        match result {
            Ok(size) => {
                self.staged_objects
                    .lock()
                    .expect("staged list lock")
                    .push(key.clone());
                Ok(Staged {
                    key: request.key.clone(),
                    size,
                })
            }
            Err(e) => {
                if self.abort(&key, &upload_id).await
                    && let Some(journal) = request.journal
                {
                    journal.remove(&journal_id, std::process::id());
                }
                Err(e)
            }
        }
    }

    /// Sends the growing file's parts as they are written, `STAGED_PART_CONCURRENCY` at once;
    /// the parts and the file's final size.
    async fn upload_growing_parts(
        &self,
        request: &StagedRequest<'_>,
        key: &str,
        upload_id: &str,
        part_size: u64,
    ) -> Result<(Vec<CompletedPart>, u64)> {
        let source = request.source.as_ref();
        let mut sending = FuturesUnordered::new();
        let mut parts = Vec::new();
        let mut size = 0;
        let mut next = Some(0u64);
        loop {
            let can_read = next.is_some() && sending.len() < STAGED_PART_CONCURRENCY;
            // Parts are read in order (each read waits for the writer), sent out of order.
            tokio::select! {
                data = async { source.read_at(next.unwrap_or(0) * part_size, part_size).await }, if can_read => {
                    let data = data?;
                    let index = next.unwrap_or(0);
                    // A short part is the last one; an empty one past the first is none.
                    next = (data.len() as u64 == part_size).then_some(index + 1);
                    if data.is_empty() && index > 0 {
                        continue;
                    }
                    size += data.len() as u64;
                    sending.push(self.send_part(request, key, upload_id, (index + 1) as i32, data));
                }
                Some(sent) = sending.next(), if !sending.is_empty() => parts.push(sent?),
                else => break,
            }
        }
        parts.sort_by_key(|p: &CompletedPart| p.part_number);
        let expected = request.source.final_size().await?;
        if size != expected {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "staged upload to s3://{}/{key}: sent {size} bytes of a {expected}-byte file",
                    self.config.bucket
                ),
            ));
        }
        Ok((parts, size))
    }

    /// One part from memory, retried.
    async fn send_part(
        &self,
        request: &StagedRequest<'_>,
        key: &str,
        upload_id: &str,
        number: i32,
        data: bytes::Bytes,
    ) -> Result<CompletedPart> {
        let what = format!("part {number} of s3://{}/{key}", self.config.bucket);
        let length = data.len() as u64;
        let part = self
            .config
            .retry
            .run(&what, |_| {
                self.upload_part_once(
                    key,
                    upload_id,
                    number,
                    length,
                    ByteStream::from(data.clone()),
                    &what,
                )
            })
            .await?;
        request.progress.advance(length);
        Ok(part)
    }

    async fn complete_staged(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        size: u64,
        what: &str,
    ) -> Result<()> {
        self.config
            .retry
            .run(what, |_| async {
                let answer = self
                    .client
                    .complete_multipart_upload()
                    .bucket(&self.config.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts.clone()))
                            .build(),
                    )
                    .send()
                    .await;
                match answer {
                    Ok(_) => Ok(()),
                    // A lost reply, or a 200 the SDK cannot parse (moto 5): the staging key
                    // is this run's own, so an object of the right size there is ours.
                    Err(_) if self.stored_size(key).await == Some(size) => Ok(()),
                    Err(e) => Err(map_error(e, what)),
                }
            })
            .await
    }

    async fn stored_size(&self, key: &str) -> Option<u64> {
        self.client
            .head_object()
            .bucket(&self.config.bucket)
            .key(key)
            .send()
            .await
            .ok()
            .and_then(|out| out.content_length)
            .map(|n| n.max(0) as u64)
    }

    pub(crate) async fn promote_impl(
        &self,
        staged: &Staged,
        asset: &Asset,
        key: &ObjectKey,
        existing: Option<&RemoteObject>,
    ) -> Result<Uploaded> {
        let source = self.full_key(&staged.key);
        let target = self.full_key(key);
        let what = format!(
            "copying s3://{}/{source} to s3://{}/{target}",
            self.config.bucket, self.config.bucket
        );
        if staged.size != asset.size {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{what}: the staged object has {} bytes, the file {}",
                    staged.size, asset.size
                ),
            ));
        }
        if staged.size > MAX_COPY_SIZE {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("{what}: one server-side copy takes at most 5 GiB"),
            ));
        }
        let copy_source = format!(
            "{}/{}",
            self.config.bucket,
            ObjectKey::from_parts([source.as_str()]).url_path()
        );
        self.config
            .retry
            .run(&what, |_| async {
                let create_only =
                    existing.is_none() && self.conditional_writes.load(Ordering::Relaxed);
                let mut copy = self
                    .client
                    .copy_object()
                    .bucket(&self.config.bucket)
                    .key(&target)
                    .copy_source(&copy_source)
                    .metadata_directive(MetadataDirective::Replace)
                    .metadata(SHA256_METADATA_KEY, &asset.sha256)
                    .content_type(asset.content_type);
                if let Some(acl) = self.acl() {
                    copy = copy.acl(acl);
                }
                if create_only {
                    copy = copy.if_none_match("*");
                }
                match copy.send().await {
                    Ok(_) => Ok(()),
                    // A lost reply, or an answer the SDK cannot parse: the object with our
                    // size and sha256 is the answer that counts.
                    Err(_) if self.holds(&target, asset).await => Ok(()),
                    Err(e) => {
                        if create_only
                            && let Some(error) = self.conditional_outcome(&e, &target, &what).await
                        {
                            return Err(error);
                        }
                        Err(self.map_write_error(e, &what))
                    }
                }
            })
            .await?;
        self.discard_staged_impl(staged).await;
        Ok(Uploaded {
            url: cubeship_provider::Provider::public_url(self, key)?,
        })
    }

    pub(crate) async fn discard_staged_impl(&self, staged: &Staged) {
        let key = self.full_key(&staged.key);
        if self.delete(&key).await {
            self.staged_objects
                .lock()
                .expect("staged list lock")
                .retain(|k| k != &key);
            if let Some(journal) = self.staged_journal.lock().expect("journal lock").as_ref() {
                journal.remove(&self.journal_id(&key), std::process::id());
            }
        }
    }

    /// After an interrupt: deletes the staging objects completed and not yet promoted, and
    /// aborts any upload still open at one of this run's staging keys (one whose creation was
    /// under way when the interrupt came is not in the in-flight list yet).
    pub(crate) async fn delete_staged_objects(&self) {
        let pending = std::mem::take(&mut *self.staged_objects.lock().expect("staged list lock"));
        futures::future::join_all(pending.iter().map(|key| self.delete(key))).await;
        let keys = std::mem::take(&mut *self.staging_keys.lock().expect("staging keys lock"));
        for key in keys {
            let listed = self
                .client
                .list_multipart_uploads()
                .bucket(&self.config.bucket)
                .prefix(&key)
                .send()
                .await;
            let Ok(listed) = listed else { continue };
            for upload in listed.uploads() {
                if let (Some(found), Some(id)) = (upload.key(), upload.upload_id())
                    && found == key
                {
                    self.abort(found, id).await;
                }
            }
        }
    }
}
