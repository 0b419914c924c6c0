//! The S3 provider: Amazon S3 and S3-compatible stores (MinIO, Ceph, R2, B2…) on aws-sdk-s3,
//! with streamed single and parallel multipart uploads, the sha256 in object metadata, public
//! ACLs with a fallback for buckets that refuse them, and diagnoses for private buckets.

mod factory;
mod staged;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{ProvideCredentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectCannedAcl,
};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use cubeship_provider::error::is_missing;
use cubeship_provider::http::display_url;
use cubeship_provider::journal::JournalEntry;
use cubeship_provider::{
    Asset, Capabilities, Error, ErrorKind, ObjectKey, Provider, RemoteObject, Result, RetryPolicy,
    SHA256_METADATA_KEY, Staged, StagedRequest, UploadRequest, Uploaded,
};
use futures::{StreamExt, TryStreamExt};
use url::Url;

pub use factory::FACTORY;

/// Whether objects are sent with `x-amz-acl: public-read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclMode {
    /// Send `public-read`; if the bucket has ACLs disabled, retry without and rely on its policy.
    PublicRead,
    /// Send no ACL: the bucket policy (or a CDN) makes objects public.
    None,
}

/// Whether the SDK adds CRC checksums (aws-chunked bodies with trailers) to uploads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumMode {
    /// On every request that supports one.
    WhenSupported,
    /// Only where S3 requires one.
    WhenRequired,
}

/// Keys given through cubeship's settings rather than found by the AWS credential chain.
#[derive(Clone, Debug)]
pub struct StaticCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: cubeship_provider::Secret,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<cubeship_provider::Secret>,
}

/// Everything that configures one S3 destination.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix under the bucket, without leading or trailing `/`.
    pub prefix: String,
    /// `None`: the profile's region.
    pub region: Option<String>,
    /// A custom endpoint (S3-compatible store); `None` for AWS.
    pub endpoint_url: Option<Url>,
    /// A named AWS profile.
    pub profile: Option<String>,
    /// Keys to use instead of the AWS credential chain.
    pub static_credentials: Option<StaticCredentials>,
    /// Whether objects get a public-read ACL.
    pub acl: AclMode,
    /// Public URLs start here instead of the bucket's own URL (a CDN).
    pub public_url_base: Option<Url>,
    /// `None`: `AWS_REQUEST_CHECKSUM_CALCULATION` if set, else `WhenRequired` for custom
    /// endpoints (many S3-compatible stores mishandle aws-chunked trailers) and the SDK's
    /// `WhenSupported` on AWS.
    pub checksum: Option<ChecksumMode>,
    /// Files of this size or more go as multipart uploads.
    pub multipart_threshold: u64,
    /// Parts uploaded at once per multipart upload.
    pub part_concurrency: usize,
    /// The shared retry policy.
    pub retry: RetryPolicy,
    /// The shared progress timeouts.
    pub timeouts: cubeship_provider::Timeouts,
}

impl S3Config {
    /// A configuration with the defaults for `bucket` and `prefix`.
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        S3Config {
            bucket: bucket.into(),
            prefix: prefix.into().trim_matches('/').to_string(),
            region: None,
            endpoint_url: None,
            profile: None,
            static_credentials: None,
            acl: AclMode::PublicRead,
            public_url_base: None,
            checksum: None,
            multipart_threshold: 64 * 1024 * 1024,
            part_concurrency: 4,
            retry: RetryPolicy::default(),
            timeouts: cubeship_provider::Timeouts::default(),
        }
    }
}

/// The smallest part S3 accepts is 5 MiB and a multipart upload has at most 10,000 parts.
const MIN_PART_SIZE: u64 = 16 * 1024 * 1024;
const MAX_PARTS: u64 = 10_000;
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;

/// Uploads to one bucket and prefix.
pub struct S3Provider {
    config: S3Config,
    client: Client,
    region: String,
    /// The endpoint when it is not AWS's own.
    custom_endpoint: Option<Url>,
    checksum: ChecksumMode,
    /// Set once the bucket answered `AccessControlListNotSupported`.
    acls_refused: AtomicBool,
    /// Cleared for good once the store says it does not implement `If-None-Match` writes.
    conditional_writes: AtomicBool,
    credentials: Option<aws_sdk_s3::config::SharedCredentialsProvider>,
    /// Multipart uploads started and not yet completed or aborted: (key, upload id).
    in_flight: std::sync::Mutex<Vec<(String, String)>>,
    /// Staging objects completed and not yet promoted or deleted (full keys).
    staged_objects: std::sync::Mutex<Vec<String>>,
    /// The journal staged uploads are recorded in (set by the first one).
    staged_journal: std::sync::Mutex<Option<cubeship_provider::journal::Journal>>,
    /// The staging keys of this run's staged uploads, recorded before each upload is created,
    /// so that an interrupt also finds an upload whose creation had not answered yet.
    staging_keys: std::sync::Mutex<Vec<String>>,
}

impl S3Provider {
    /// One `UploadPart` (one attempt; callers retry), with the part's CRC32 where the store
    /// takes flexible checksums: what `CompleteMultipartUpload` needs of it.
    pub(crate) async fn upload_part_once(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        length: u64,
        body: ByteStream,
        what: &str,
    ) -> Result<CompletedPart> {
        let mut upload = self
            .client
            .upload_part()
            .bucket(&self.config.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(length as i64)
            .body(body);
        if self.checksum == ChecksumMode::WhenSupported {
            upload = upload.checksum_algorithm(ChecksumAlgorithm::Crc32);
        }
        let out = upload.send().await.map_err(|e| map_error(e, what))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag)
            .set_checksum_crc32(out.checksum_crc32)
            .build())
    }

    /// Loads credentials and region through aws-config's default chain (environment, shared
    /// profiles, SSO, web identity, instance metadata).
    pub async fn new(config: S3Config) -> Result<Self> {
        let custom_endpoint = config.endpoint_url.clone();
        let endpoint = custom_endpoint
            .as_ref()
            .map(|e| e.as_str().trim_end_matches('/').to_string());
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(profile) = &config.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(keys) = &config.static_credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                keys.access_key_id.clone(),
                keys.secret_access_key.expose().to_string(),
                keys.session_token.as_ref().map(|t| t.expose().to_string()),
                None,
                "cubeship-settings",
            ));
        }
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let sdk_config = loader.load().await;
        let region = match sdk_config.region() {
            Some(region) => region.to_string(),
            None if custom_endpoint.is_some() => "us-east-1".to_string(),
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "no AWS region: give --region, set AWS_REGION, or set region in your AWS profile",
                ));
            }
        };
        let checksum = config.checksum.unwrap_or(if custom_endpoint.is_some() {
            ChecksumMode::WhenRequired
        } else {
            ChecksumMode::WhenSupported
        });
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk_config)
            .region(Region::new(region.clone()))
            // One retry policy for every provider: ours, around each call.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(config.timeouts.connect)
                    // The SDK's read timeout runs to the response headers, so per request
                    // it bounds one part's (or one small object's) upload plus the answer:
                    // parts are at most 16 MiB below 160 GiB objects, so the response
                    // timeout (default 300 s) is a floor of ~56 KiB/s per part.
                    .read_timeout(config.timeouts.response)
                    .build(),
            )
            .request_checksum_calculation(match checksum {
                ChecksumMode::WhenSupported => RequestChecksumCalculation::WhenSupported,
                ChecksumMode::WhenRequired => RequestChecksumCalculation::WhenRequired,
            });
        if let Some(endpoint) = &endpoint {
            // Path-style: custom stores rarely have wildcard DNS for bucket subdomains.
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        Ok(S3Provider {
            credentials: sdk_config.credentials_provider(),
            client: Client::from_conf(builder.build()),
            region,
            custom_endpoint,
            checksum,
            acls_refused: AtomicBool::new(false),
            conditional_writes: AtomicBool::new(true),
            in_flight: std::sync::Mutex::new(Vec::new()),
            staged_objects: std::sync::Mutex::new(Vec::new()),
            staged_journal: std::sync::Mutex::new(None),
            staging_keys: std::sync::Mutex::new(Vec::new()),
            config,
        })
    }

    fn full_key(&self, key: &ObjectKey) -> String {
        ObjectKey::from_parts([self.config.prefix.as_str(), key.as_str()]).to_string()
    }

    fn acl(&self) -> Option<ObjectCannedAcl> {
        (self.config.acl == AclMode::PublicRead && !self.acls_refused.load(Ordering::Relaxed))
            .then_some(ObjectCannedAcl::PublicRead)
    }

    fn part_size(size: u64) -> u64 {
        MIN_PART_SIZE.max(size.div_ceil(MAX_PARTS))
    }

    /// Whether to send `If-None-Match: *` (create only) on a write of `key`.
    fn create_only(&self, request: &UploadRequest<'_>) -> bool {
        request.existing.is_none() && self.conditional_writes.load(Ordering::Relaxed)
    }

    /// Reads the answer to a create-only write (`If-None-Match: *` on PutObject or
    /// CompleteMultipartUpload): `Some(AlreadyExists)` when another writer got there first
    /// (412, 409 ConditionalRequestConflict, or moto's bare 403 with the key now present);
    /// `Some(retryable)` after switching the condition off when the store does not implement
    /// it (501, NotImplemented); `None`: an ordinary error.
    async fn conditional_outcome<E>(
        &self,
        error: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        key: &str,
        what: &str,
    ) -> Option<Error>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let code = error.code();
        let taken = || {
            Some(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{what}: s3://{}/{key} was created by another writer meanwhile",
                    self.config.bucket
                ),
            ))
        };
        match (status, code) {
            (_, Some("PreconditionFailed" | "ConditionalRequestConflict")) | (Some(412), _) => {
                taken()
            }
            (Some(501), _) | (_, Some("NotImplemented")) => {
                self.conditional_writes.store(false, Ordering::Relaxed);
                tracing::warn!(
                    "s3://{}: the store does not implement create-only writes (If-None-Match); \
                     a concurrent writer of the same key can no longer be detected",
                    self.config.bucket
                );
                Some(
                    Error::new(
                        ErrorKind::Transport,
                        format!("{what}: retrying without If-None-Match"),
                    )
                    .retryable(true),
                )
            }
            (Some(403), _) if self.exists(key).await => taken(),
            _ => None,
        }
    }

    /// Whether anything is stored under `key`.
    async fn exists(&self, key: &str) -> bool {
        self.client
            .head_object()
            .bucket(&self.config.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    async fn put_single(&self, upload: &UploadRequest<'_>, key: &str) -> Result<()> {
        let asset = upload.asset;
        self.config
            .retry
            .run(
                &format!("PUT s3://{}/{key}", self.config.bucket),
                |_| async {
                    let body = file_stream(asset, 0, asset.size).await?;
                    let mut request = self
                        .client
                        .put_object()
                        .bucket(&self.config.bucket)
                        .key(key)
                        .body(body)
                        .content_length(asset.size as i64)
                        .content_type(asset.content_type)
                        .metadata(SHA256_METADATA_KEY, &asset.sha256);
                    if let Some(acl) = self.acl() {
                        request = request.acl(acl);
                    }
                    let create_only = self.create_only(upload);
                    if create_only {
                        request = request.if_none_match("*");
                    }
                    let what = format!("PUT s3://{}/{key}", self.config.bucket);
                    match request.send().await {
                        Ok(_) => Ok(()),
                        Err(e) => {
                            if create_only
                                && let Some(error) = self.conditional_outcome(&e, key, &what).await
                            {
                                return Err(error);
                            }
                            Err(self.map_write_error(e, &what))
                        }
                    }
                },
            )
            .await
    }

    /// `map_error` for requests that carry an ACL: a bucket that refuses ACLs is remembered and
    /// the request becomes retryable, so the retry goes without one.
    fn map_write_error<E>(
        &self,
        error: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        what: &str,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if is_acl_refusal(&error) {
            self.note_acl_refusal();
            return Error::new(
                ErrorKind::Transport,
                format!("{what}: bucket refuses ACLs; retrying without"),
            )
            .retryable(true);
        }
        map_error(error, what)
    }

    fn note_acl_refusal(&self) {
        if !self.acls_refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "bucket {} has ACLs disabled (Object Ownership: bucket owner enforced); uploading without \
                 a public-read ACL, so its bucket policy must allow anonymous reads",
                self.config.bucket
            );
        }
    }

    /// The journal's name for `key` of this destination (endpoint included: the same bucket
    /// name on another store is another object).
    fn journal_id(&self, key: &str) -> String {
        match &self.custom_endpoint {
            Some(endpoint) => format!(
                "s3+{}/{}/{key}",
                display_url(endpoint).trim_end_matches('/'),
                self.config.bucket
            ),
            None => format!("s3://{}/{key}", self.config.bucket),
        }
    }

    /// The parts already stored for `upload_id` (ListParts, every page), by number; an error
    /// when the upload is gone (completed or aborted meanwhile).
    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<BTreeMap<i32, (i64, CompletedPart)>> {
        let what = format!("listing the parts of s3://{}/{key}", self.config.bucket);
        let mut parts = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.config.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                // moto 5 answers 200 with XML the SDK does not parse: read the parts from it.
                Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(200) => {
                    let body = e
                        .raw_response()
                        .and_then(|r| r.body().bytes())
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    return Ok(parse_list_parts(&body));
                }
                Err(e) => return Err(map_error(e, &what)),
            };
            for part in page.parts() {
                if let Some(number) = part.part_number {
                    parts.insert(
                        number,
                        (
                            part.size.unwrap_or(-1),
                            CompletedPart::builder()
                                .part_number(number)
                                .set_e_tag(part.e_tag.clone())
                                .set_checksum_crc32(part.checksum_crc32.clone())
                                .build(),
                        ),
                    );
                }
            }
            match (page.is_truncated, page.next_part_number_marker) {
                (Some(true), Some(next)) if Some(&next) != marker.as_ref() => marker = Some(next),
                _ => return Ok(parts),
            }
        }
    }

    /// A multipart upload recorded in the journal by a run that was killed: resumed (its
    /// stored parts) when it is for the same bytes cut the same way, else aborted.
    async fn recorded_upload(
        &self,
        request: &UploadRequest<'_>,
        key: &str,
        part_size: u64,
    ) -> Option<(String, BTreeMap<i32, (i64, CompletedPart)>)> {
        let journal = request.journal?;
        let id = self.journal_id(key);
        let asset = request.asset;
        let mut resumed = None;
        // Only uploads of runs that have ended: a live run's upload is its own.
        for entry in journal.abandoned(&id) {
            let same = entry.sha256 == asset.sha256
                && entry.size == asset.size
                && entry.part_size == part_size;
            if same && resumed.is_none() {
                match self.list_parts(key, &entry.upload_id).await {
                    Ok(parts) => {
                        tracing::info!(
                            "s3://{}/{key}: resuming the multipart upload of an interrupted run ({} parts already stored: {:?})",
                            self.config.bucket,
                            parts.len(),
                            parts
                                .iter()
                                .map(|(n, (size, _))| (*n, *size))
                                .collect::<Vec<_>>()
                        );
                        // Taken over: recorded again under this run.
                        journal.remove(&id, entry.pid);
                        journal.put(&id, entry.clone());
                        resumed = Some((entry.upload_id.clone(), parts));
                        continue;
                    }
                    Err(e) => tracing::info!("not resuming the interrupted upload: {e}"),
                }
            } else if self.abort(key, &entry.upload_id).await {
                tracing::info!(
                    "s3://{}/{key}: aborted a multipart upload an interrupted run left behind",
                    self.config.bucket
                );
            }
            journal.remove(&id, entry.pid);
        }
        resumed
    }

    async fn put_multipart(&self, request: &UploadRequest<'_>, key: &str) -> Result<()> {
        let asset = request.asset;
        let what = format!("multipart upload to s3://{}/{key}", self.config.bucket);
        let part_size = Self::part_size(asset.size);
        let journal_id = self.journal_id(key);
        let (upload_id, stored) = match self.recorded_upload(request, key, part_size).await {
            Some(resumed) => resumed,
            None => {
                let upload_id = self.create_multipart(request, key, &what).await?;
                if let Some(journal) = request.journal {
                    journal.put(
                        &journal_id,
                        JournalEntry {
                            upload_id: upload_id.clone(),
                            sha256: asset.sha256.clone(),
                            size: asset.size,
                            part_size,
                            pid: std::process::id(),
                        },
                    );
                }
                (upload_id, BTreeMap::new())
            }
        };
        self.in_flight
            .lock()
            .expect("in-flight list lock")
            .push((key.to_string(), upload_id.clone()));
        let result = self.upload_parts(request, key, &upload_id, &stored).await;
        let completed = self.complete(request, key, &upload_id, result, &what).await;
        // Never leave billed, invisible parts behind; the journal entry goes once the upload
        // is completed or really aborted (a failed abort is for the next run to do).
        let settled = completed.is_ok() || self.abort(key, &upload_id).await;
        if settled && let Some(journal) = request.journal {
            journal.remove(&journal_id, std::process::id());
        }
        self.in_flight
            .lock()
            .expect("in-flight list lock")
            .retain(|(_, id)| id != &upload_id);
        completed
    }

    async fn create_multipart(
        &self,
        request: &UploadRequest<'_>,
        key: &str,
        what: &str,
    ) -> Result<String> {
        let asset = request.asset;
        let what = what.to_string();
        self.config
            .retry
            .run(&what, |_| async {
                let mut create = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.config.bucket)
                    .key(key)
                    .content_type(asset.content_type)
                    .metadata(SHA256_METADATA_KEY, &asset.sha256);
                if self.checksum == ChecksumMode::WhenSupported {
                    create = create.checksum_algorithm(ChecksumAlgorithm::Crc32);
                }
                if let Some(acl) = self.acl() {
                    create = create.acl(acl);
                }
                match create.send().await {
                    Ok(out) => out.upload_id.ok_or_else(|| {
                        Error::new(
                            ErrorKind::Other,
                            format!("{what}: no upload id in the answer"),
                        )
                    }),
                    Err(e) => Err(self.map_write_error(e, &what)),
                }
            })
            .await
    }

    async fn complete(
        &self,
        request: &UploadRequest<'_>,
        key: &str,
        upload_id: &str,
        result: Result<Vec<CompletedPart>>,
        what: &str,
    ) -> Result<()> {
        let asset = request.asset;
        let upload_id = upload_id.to_string();
        let what = what.to_string();
        match result {
            Ok(parts) => {
                self.config
                    .retry
                    .run(&what, |_| async {
                        let create_only = self.create_only(request);
                        let answer = self
                            .client
                            .complete_multipart_upload()
                            .set_if_none_match(create_only.then(|| "*".to_string()))
                            .bucket(&self.config.bucket)
                            .key(key)
                            .upload_id(&upload_id)
                            .multipart_upload(
                                CompletedMultipartUpload::builder()
                                    .set_parts(Some(parts.clone()))
                                    .build(),
                            )
                            .send()
                            .await;
                        match answer {
                            Ok(_) => Ok(()),
                            // Whatever went wrong, look before failing: a lost reply (the
                            // connection dropped after the store completed the object, so a
                            // retry gets NoSuchUpload or 412), or a 200 whose body the SDK
                            // cannot parse (moto 5). The object with our size and sha256 is
                            // the answer that counts, not the XML.
                            // When it was a lost race rather than a lost reply, this run's
                            // upload is still open: abort it (NoSuchUpload counts as gone).
                            Err(_) if self.holds(key, asset).await => {
                                self.abort(key, &upload_id).await;
                                Ok(())
                            }
                            Err(e) => {
                                if create_only
                                    && let Some(error) =
                                        self.conditional_outcome(&e, key, &what).await
                                {
                                    return Err(error);
                                }
                                Err(map_error(e, &what))
                            }
                        }
                    })
                    .await
            }
            Err(e) => Err(e),
        }
    }

    async fn upload_parts(
        &self,
        request: &UploadRequest<'_>,
        key: &str,
        upload_id: &str,
        stored: &BTreeMap<i32, (i64, CompletedPart)>,
    ) -> Result<Vec<CompletedPart>> {
        let asset = request.asset;
        let part_size = Self::part_size(asset.size);
        let count = asset.size.div_ceil(part_size);
        let mut parts: Vec<CompletedPart> = futures::stream::iter(0..count)
            .map(|index| {
                let offset = index * part_size;
                let length = part_size.min(asset.size - offset);
                let number = (index + 1) as i32;
                let what = format!("part {number}/{count} of s3://{}/{key}", self.config.bucket);
                let already = stored
                    .get(&number)
                    // A store that gives no size (-1) is trusted: the journal says the
                    // parts were cut the same way, and a stored part is always whole.
                    .filter(|(size, _)| *size == length as i64 || *size < 0)
                    .map(|(_, part)| part.clone());
                async move {
                    if let Some(part) = already {
                        request.progress.advance(length);
                        return Ok(part);
                    }
                    let part = self
                        .config
                        .retry
                        .run(&what, |_| async {
                            let body = file_stream(asset, offset, length).await?;
                            self.upload_part_once(key, upload_id, number, length, body, &what)
                                .await
                        })
                        .await?;
                    request.progress.advance(length);
                    Ok::<_, Error>(part)
                }
            })
            .buffer_unordered(self.config.part_concurrency.max(1))
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number);
        Ok(parts)
    }

    /// Aborts a multipart upload, logging (not failing) when that is impossible; whether it
    /// is gone.
    async fn abort(&self, key: &str, upload_id: &str) -> bool {
        let what = format!(
            "aborting the multipart upload of s3://{}/{key}",
            self.config.bucket
        );
        let abort = self
            .client
            .abort_multipart_upload()
            .bucket(&self.config.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        match abort {
            Ok(_) => true,
            // Already gone (completed or aborted): nothing left behind.
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => true,
            Err(e) => {
                tracing::warn!("{}", map_error(e, &what));
                false
            }
        }
    }

    /// Whether `key` holds `asset` (size and recorded sha256), after an ambiguous answer.
    async fn holds(&self, key: &str, asset: &Asset) -> bool {
        match self
            .client
            .head_object()
            .bucket(&self.config.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                out.content_length == Some(asset.size as i64)
                    && out
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get(SHA256_METADATA_KEY))
                        == Some(&asset.sha256)
            }
            Err(_) => false,
        }
    }

    /// The bucket policy that makes this destination's prefix readable by anyone.
    pub fn public_read_policy(&self) -> String {
        let resource = if self.config.prefix.is_empty() {
            format!("arn:aws:s3:::{}/*", self.config.bucket)
        } else {
            format!(
                "arn:aws:s3:::{}/{}/*",
                self.config.bucket, self.config.prefix
            )
        };
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PublicReadForMedPerf","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{resource}"}}]}}"#
        )
    }
}

/// The parts of a ListParts answer, read from its XML directly (number, size, ETag).
fn parse_list_parts(xml: &str) -> BTreeMap<i32, (i64, CompletedPart)> {
    fn tag<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].trim())
    }
    xml.split("<Part>")
        .skip(1)
        .filter_map(|part| {
            let part = part.split("</Part>").next()?;
            let number: i32 = tag(part, "PartNumber")?.parse().ok()?;
            let size = tag(part, "Size").and_then(|s| s.parse().ok()).unwrap_or(-1);
            let e_tag = tag(part, "ETag").map(|e| e.replace("&quot;", "\""));
            Some((
                number,
                (
                    size,
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(e_tag)
                        .set_checksum_crc32(tag(part, "ChecksumCRC32").map(str::to_string))
                        .build(),
                ),
            ))
        })
        .collect()
}

/// `length` bytes of the asset's file from `offset`, streamed (and re-opened on each retry).
async fn file_stream(asset: &Asset, offset: u64, length: u64) -> Result<ByteStream> {
    ByteStream::read_from()
        .path(&asset.path)
        .offset(offset)
        .length(Length::Exact(length))
        .buffer_size(256 * 1024)
        .build()
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Other,
                format!("cannot read {}: {e}", asset.path.display()),
            )
        })
}

fn is_acl_refusal<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("AccessControlListNotSupported")
}

/// Maps an SDK error onto the shared kinds: by S3 error code where it is specific, else by the
/// HTTP status through the shared mapping; no answer at all is a retryable transport error.
fn map_error<E>(error: SdkError<E, aws_sdk_s3::config::http::HttpResponse>, what: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = error.code().map(str::to_string);
    let status = error.raw_response().map(|r| r.status().as_u16());
    let detail = match (&code, error.message(), status) {
        (Some(code), Some(message), _) => format!("{code}: {message}"),
        (Some(code), None, _) => code.clone(),
        (None, _, Some(status)) => {
            let body = error
                .raw_response()
                .and_then(|r| r.body().bytes())
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .chars()
                        .take(300)
                        .collect::<String>()
                })
                .unwrap_or_default();
            format!("HTTP {status} {}", body.trim())
        }
        (None, _, None) => DisplayErrorContext(&error)
            .to_string()
            .chars()
            .take(500)
            .collect(),
    };
    let message = format!("{what}: {detail}");
    let mut mapped = match (code.as_deref(), status) {
        (Some("SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable"), _) => {
            Error::new(ErrorKind::RateLimited, message).retryable(true)
        }
        (Some("NoSuchBucket"), _) => Error::new(ErrorKind::NotFound, message),
        (
            Some("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken"),
            _,
        ) => Error::new(ErrorKind::Unauthenticated, message),
        (Some("EntityTooLarge"), _) => Error::new(ErrorKind::TooLarge, message),
        (Some("BadDigest" | "XAmzContentSHA256Mismatch" | "InvalidDigest"), _) => {
            Error::new(ErrorKind::Integrity, message).retryable(true)
        }
        (_, Some(status)) => Error::from_status(status, message),
        (_, None) => Error::new(ErrorKind::Transport, message).retryable(matches!(
            error,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        )),
    };
    mapped.status = status;
    // S3-compatible stores (and proxies in front of S3) answer 429/503 with `Retry-After`;
    // the shared policy waits that long instead of its own backoff (found by
    // faults::s3s_fs_a_429_with_retry_after_is_waited_for).
    mapped.retry_after = error
        .raw_response()
        .and_then(|r| r.headers().get("retry-after"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs);
    mapped
}

#[async_trait]
impl Provider for S3Provider {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn describe(&self) -> String {
        if self.config.prefix.is_empty() {
            format!("s3://{}", self.config.bucket)
        } else {
            format!("s3://{}/{}", self.config.bucket, self.config.prefix)
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_object_size: Some(MAX_OBJECT_SIZE),
            flat_names: false,
            max_staged_size: Some(staged::MAX_COPY_SIZE),
            ..Capabilities::default()
        }
    }

    async fn preflight(&self) -> Result<()> {
        let Some(credentials) = &self.credentials else {
            return Err(no_credentials());
        };
        if let Err(e) = credentials.provide_credentials().await {
            return Err(no_credentials().context(DisplayErrorContext(&e)));
        }
        let what = format!("checking bucket {}", self.config.bucket);
        self.config
            .retry
            .run(&what, |_| async {
                match self.client.head_bucket().bucket(&self.config.bucket).send().await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let status = e.raw_response().map(|r| r.status().as_u16());
                        Err(match status {
                            Some(404) => Error::new(
                                ErrorKind::NotFound,
                                format!("bucket {} does not exist (or is in another account or region)", self.config.bucket),
                            ),
                            Some(403) => Error::new(
                                ErrorKind::PermissionDenied,
                                format!(
                                    "access to bucket {} denied: the credentials need s3:ListBucket, s3:GetObject and s3:PutObject on it",
                                    self.config.bucket
                                ),
                            ),
                            Some(301) => Error::new(
                                ErrorKind::InvalidInput,
                                format!("bucket {} is in another region than {}: give --region", self.config.bucket, self.region),
                            ),
                            _ => map_error(e, &what),
                        })
                    }
                }
            })
            .await
    }

    async fn head(&self, key: &ObjectKey, _expected: &Asset) -> Result<Option<RemoteObject>> {
        let full_key = self.full_key(key);
        let what = format!("HEAD s3://{}/{full_key}", self.config.bucket);
        self.config
            .retry
            .run(&what, |_| async {
                match self
                    .client
                    .head_object()
                    .bucket(&self.config.bucket)
                    .key(&full_key)
                    .send()
                    .await
                {
                    Ok(out) => Ok(Some(RemoteObject {
                        size: out.content_length.unwrap_or(0).max(0) as u64,
                        sha256: out
                            .metadata
                            .as_ref()
                            .and_then(|m| m.get(SHA256_METADATA_KEY))
                            .map(|s| s.to_ascii_lowercase()),
                        url: None,
                        id: None,
                    })),
                    Err(e)
                        if e.raw_response()
                            .is_some_and(|r| is_missing(r.status().as_u16())) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(map_error(e, &what)),
                }
            })
            .await
    }

    async fn upload(&self, request: &UploadRequest<'_>) -> Result<Uploaded> {
        let key = self.full_key(request.key);
        if request.asset.size >= self.config.multipart_threshold {
            self.put_multipart(request, &key).await?;
        } else {
            self.put_single(request, &key).await?;
            request.progress.advance(request.asset.size);
        }
        Ok(Uploaded {
            url: self.public_url(request.key)?,
        })
    }

    fn public_url(&self, key: &ObjectKey) -> Result<Url> {
        let full = ObjectKey::from_parts([self.config.prefix.as_str(), key.as_str()]);
        let text = if let Some(base) = &self.config.public_url_base {
            // The base stands for the bucket's root (a CDN or custom domain in front of it).
            format!(
                "{}/{}",
                base.as_str().trim_end_matches('/'),
                full.url_path()
            )
        } else if let Some(endpoint) = &self.custom_endpoint {
            format!(
                "{}/{}/{}",
                endpoint.as_str().trim_end_matches('/'),
                self.config.bucket,
                full.url_path()
            )
        } else if self.config.bucket.contains('.') {
            // Virtual-hosted URLs of dotted bucket names fail TLS validation.
            format!(
                "https://s3.{}.amazonaws.com/{}/{}",
                self.region,
                self.config.bucket,
                full.url_path()
            )
        } else {
            format!(
                "https://{}.s3.{}.amazonaws.com/{}",
                self.config.bucket,
                self.region,
                full.url_path()
            )
        };
        Url::parse(&text).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("public URL {text} is invalid: {e}"),
            )
        })
    }

    async fn abort_in_flight(&self) {
        let pending = std::mem::take(&mut *self.in_flight.lock().expect("in-flight list lock"));
        futures::future::join_all(pending.iter().map(|(key, id)| self.abort(key, id))).await;
        self.delete_staged_objects().await;
    }

    async fn upload_staged(&self, request: &StagedRequest<'_>) -> Result<Staged> {
        self.upload_staged_impl(request).await
    }

    async fn promote(
        &self,
        staged: &Staged,
        asset: &Asset,
        key: &ObjectKey,
        existing: Option<&RemoteObject>,
    ) -> Result<Uploaded> {
        self.promote_impl(staged, asset, key, existing).await
    }

    async fn discard_staged(&self, staged: &Staged) {
        self.discard_staged_impl(staged).await
    }

    fn diagnose_not_public(&self, _key: &ObjectKey, status: u16) -> Option<String> {
        if status != 403 && status != 401 {
            return None;
        }
        let acl = if self.config.acl == AclMode::None {
            "The objects were uploaded without a public ACL (--acl none)".to_string()
        } else if self.acls_refused.load(Ordering::Relaxed) {
            "The bucket has ACLs disabled (Object Ownership: bucket owner enforced), so the public-read ACL could not be set".to_string()
        } else {
            "The objects carry a public-read ACL, but S3 Block Public Access may be on for this bucket or account".to_string()
        };
        Some(format!(
            "{acl}. MedPerf downloads anonymously: make the prefix public. Turn off Block Public Access for the \
             bucket (BlockPublicPolicy and RestrictPublicBuckets) and attach this bucket policy:\n{}\n\
             See docs/providers/s3.md.",
            self.public_read_policy()
        ))
    }
}

fn no_credentials() -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, use --profile or AWS_PROFILE, \
         or run `aws sso login`",
    )
}
