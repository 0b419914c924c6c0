//! The Google Cloud Storage provider (`gs://bucket/prefix`) on the official
//! `google-cloud-storage` crate: streamed uploads (single request when small; when large, a
//! resumable session of its own, journalled so a killed run resumes: see `resumable`) with the
//! CRC32C sent up front and checked by the service, the sha256 kept as custom metadata, and
//! public access by `predefinedAcl=publicRead` or bucket IAM.
//!
//! Object metadata and bucket settings are read on the JSON API (see `json_api`), because the
//! crate reads them over gRPC only.

mod errors;
mod factory;
mod json_api;
mod resumable;
mod source;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use cubeship_provider::timeouts::within_timeouts;
use cubeship_provider::{
    Capabilities, Error, ErrorKind, ObjectKey, Provider, RemoteObject, Result, RetryPolicy,
    SHA256_METADATA_KEY, UploadRequest, Uploaded,
};
use google_cloud_auth::credentials::Credentials;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_storage::client::Storage;
use google_cloud_storage::retry_policy::RetryableErrors;
use url::Url;

pub use factory::{EMULATOR_ENV, FACTORY};
pub use json_api::BucketPolicy;

/// Google's endpoint for both the JSON API and anonymous downloads.
pub const GOOGLE_ENDPOINT: &str = "https://storage.googleapis.com";

/// Objects of this size or more go through a resumable upload session, which survives a
/// dropped connection by continuing at the offset the service persisted; smaller ones take
/// one request.
pub const RESUMABLE_THRESHOLD: usize = 8 * 1024 * 1024;

/// Cloud Storage's largest object.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;

/// Who may read uploaded objects, as far as the upload itself decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicAccess {
    /// `predefinedAcl=publicRead` (allUsers READER), unless the bucket refuses object ACLs.
    PublicReadAcl,
    /// No ACL: the bucket's IAM policy (e.g. allUsers objectViewer) decides.
    BucketIam,
}

/// Where and how to upload; built by the command line from `gs://…` and the `--gcs` options.
#[derive(Clone, Debug)]
pub struct GcsConfig {
    /// The bucket name.
    pub bucket: String,
    /// Object name prefix, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// An emulator or private endpoint instead of Google's; `None` for Google.
    pub endpoint: Option<Url>,
    /// Send no credentials (emulators). Otherwise Application Default Credentials.
    pub anonymous: bool,
    /// How uploaded objects are made readable by anyone.
    pub public_access: PublicAccess,
    /// Public URLs start here instead of the store's own base (a CDN, a custom domain).
    pub public_url_base: Option<Url>,
    /// The shared retry policy.
    pub retry: RetryPolicy,
    /// The shared progress timeouts: the client has none of its own around data uploads.
    pub timeouts: cubeship_provider::Timeouts,
}

/// Publishes to one Cloud Storage bucket and prefix.
pub struct GcsProvider {
    config: GcsConfig,
    storage: Storage,
    json: json_api::JsonApi,
    /// `projects/_/buckets/<bucket>`: the crate's name for the bucket.
    bucket_resource: String,
    /// What the preflight learned about the bucket, for choosing the ACL and diagnosing 403s.
    bucket_policy: OnceLock<BucketPolicy>,
    /// Set once the bucket refused an object ACL: later uploads go without one.
    acl_refused: AtomicBool,
}

impl GcsProvider {
    /// Builds the clients. Fails on unusable credentials configuration (e.g. a
    /// GOOGLE_APPLICATION_CREDENTIALS file that does not parse).
    pub async fn new(config: GcsConfig) -> Result<Self> {
        let credentials = credentials(config.anonymous)?;
        let endpoint = config
            .endpoint
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .unwrap_or_else(|| GOOGLE_ENDPOINT.to_string());
        let retry = config.retry;
        let backoff = ExponentialBackoffBuilder::new()
            .with_initial_delay(retry.base_delay)
            .with_maximum_delay(retry.max_delay)
            .build()
            .map_err(|e| Error::new(ErrorKind::Other, format!("GCS backoff policy: {e}")))?;
        // The crate retries uploads itself (and resumes resumable sessions); give it the
        // shared policy's bounds so every provider gives up after the same effort.
        let storage = Storage::builder()
            .with_endpoint(endpoint.clone())
            .with_credentials(credentials.clone())
            .with_retry_policy(RetryableErrors.with_attempt_limit(retry.max_attempts))
            .with_backoff_policy(backoff)
            .with_resumable_upload_threshold(RESUMABLE_THRESHOLD)
            .build()
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("cannot set up the Cloud Storage client: {e}"),
                )
            })?;
        let json = json_api::JsonApi::new(&endpoint, credentials, retry)?;
        Ok(GcsProvider {
            bucket_resource: format!("projects/_/buckets/{}", config.bucket),
            config,
            storage,
            json,
            bucket_policy: OnceLock::new(),
            acl_refused: AtomicBool::new(false),
        })
    }

    /// The full object name: prefix and key.
    fn object_name(&self, key: &ObjectKey) -> String {
        ObjectKey::from_parts([self.config.prefix.as_str(), key.as_str()])
            .as_str()
            .to_string()
    }

    fn uniform_access(&self) -> bool {
        self.acl_refused.load(Ordering::Relaxed)
            || self.bucket_policy.get().is_some_and(|p| p.uniform_access)
    }

    /// One upload attempt sequence (the crate retries within it). `with_acl` adds
    /// `predefinedAcl=publicRead`.
    async fn write(
        &self,
        request: &UploadRequest<'_>,
        name: &str,
        with_acl: bool,
    ) -> Result<std::result::Result<google_cloud_storage::model::Object, google_cloud_storage::Error>>
    {
        let asset = request.asset;
        let watch = cubeship_provider::BodyWatch::new(asset.size);
        let payload = match source::ProgressFile::open(
            &asset.path,
            asset.size,
            request.progress.clone(),
            watch.clone(),
        )
        .await
        {
            Ok(payload) => payload,
            Err(e) => return Ok(Err(google_cloud_storage::Error::io(e))),
        };
        let mut write = self
            .storage
            .write_object(self.bucket_resource.clone(), name.to_string(), payload)
            .set_content_type(asset.content_type)
            .set_metadata([(SHA256_METADATA_KEY, asset.sha256.as_str())]);
        // The CRC32C computed while packaging goes in the upload's metadata: the service
        // rejects the object if the bytes differ, the client compares the service's value,
        // and no trailing checksum part or second read of the file is needed. A zero from a
        // manifest without CRC32C lets the client compute it instead.
        if asset.crc32c != 0 || asset.size == 0 {
            write = write.with_known_crc32c(asset.crc32c);
        }
        // Never replace an object the run did not see: "no object yet" or "the generation we
        // decided to overwrite".
        let generation = match request.existing {
            None => Some(0),
            Some(existing) => existing.id.as_deref().and_then(|g| g.parse::<i64>().ok()),
        };
        if let Some(generation) = generation {
            write = write.set_if_generation_match(generation);
        }
        if with_acl {
            write = write.set_predefined_acl("publicRead");
        }
        // The client sets no timeout on data uploads: a server that stops answering would
        // hang the run. The body must keep moving, and the answer come, within the timeouts.
        let what = format!("uploading to gs://{}/{name}", self.config.bucket);
        within_timeouts(
            async { Ok(write.send_unbuffered().await) },
            Some(&watch),
            &self.config.timeouts,
            &what,
        )
        .await
    }
}

impl GcsProvider {
    /// Large objects: a journalled resumable session (see `resumable`), so that a killed run
    /// is continued by the next one. Falls back to no ACL when the bucket refuses ACLs.
    async fn upload_resumable(
        &self,
        request: &UploadRequest<'_>,
        name: &str,
        with_acl: bool,
        what: &str,
    ) -> Result<Uploaded> {
        // Never replace an object the run did not see: "no object yet" or "the generation we
        // decided to overwrite".
        let if_generation_match = match request.existing {
            None => Some(0),
            Some(existing) => existing.id.as_deref().and_then(|g| g.parse::<i64>().ok()),
        };
        let mut target = resumable::Target {
            bucket: &self.config.bucket,
            name,
            asset: request.asset,
            if_generation_match,
            with_acl,
            progress: request.progress.clone(),
            timeouts: &self.config.timeouts,
            retry: self.config.retry,
        };
        let stored = match resumable::upload(&self.json, &target, request.journal).await {
            Err(err) if with_acl && errors::is_uniform_access_refusal(err.status, &err.message) => {
                tracing::info!(
                    "bucket {} refuses object ACLs (uniform bucket-level access); uploading without one",
                    self.config.bucket
                );
                self.acl_refused.store(true, Ordering::Relaxed);
                request.progress.restart();
                target.with_acl = false;
                resumable::upload(&self.json, &target, request.journal).await
            }
            other => other,
        }
        .map_err(|e| e.context(what.to_string()))?;
        if stored != request.asset.size {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{what}: the service stored {stored} bytes, the file has {}",
                    request.asset.size
                ),
            ));
        }
        Ok(Uploaded {
            url: self.public_url(request.key)?,
        })
    }
}

fn credentials(anonymous: bool) -> Result<Credentials> {
    if anonymous {
        return Ok(google_cloud_auth::credentials::anonymous::Builder::new().build());
    }
    google_cloud_auth::credentials::Builder::default()
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::Unauthenticated,
                format!(
                    "cannot load Google Application Default Credentials: {e} (check the file \
                     GOOGLE_APPLICATION_CREDENTIALS names, or run `gcloud auth application-default login`; \
                     see docs/providers/gcs.md)"
                ),
            )
        })
}

#[async_trait]
impl Provider for GcsProvider {
    fn kind(&self) -> &'static str {
        "gcs"
    }

    fn describe(&self) -> String {
        if self.config.prefix.is_empty() {
            format!("gs://{}", self.config.bucket)
        } else {
            format!("gs://{}/{}", self.config.bucket, self.config.prefix)
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_object_size: Some(MAX_OBJECT_SIZE + 1),
            flat_names: false,
            ..Capabilities::default()
        }
    }

    async fn preflight(&self) -> Result<()> {
        let bucket = &self.config.bucket;
        match self.json.bucket_policy(bucket).await {
            Ok(Some(policy)) => {
                if policy.public_access_prevented && self.config.public_url_base.is_none() {
                    return Err(Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "public access prevention is enforced on bucket {bucket}: its objects can never be \
                             downloaded anonymously, as MedPerf does. Turn it off \
                             (`gcloud storage buckets update gs://{bucket} --no-public-access-prevention`) or use \
                             another bucket; see docs/providers/gcs.md"
                        ),
                    ));
                }
                if policy.uniform_access {
                    tracing::info!(
                        "bucket {bucket} has uniform bucket-level access: uploading without object ACLs; \
                         anonymous reads need allUsers as roles/storage.objectViewer on the bucket"
                    );
                }
                let _ = self.bucket_policy.set(policy);
                Ok(())
            }
            Ok(None) => Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "bucket {bucket} does not exist{}",
                    match &self.config.endpoint {
                        Some(endpoint) => format!(" at {endpoint}"),
                        None => String::new(),
                    }
                ),
            )),
            // Uploading needs only object permissions (roles/storage.objectCreator); reading
            // bucket settings needs storage.buckets.get. Without it, learn the rest by uploading.
            Err(e) if e.kind == ErrorKind::PermissionDenied => {
                tracing::warn!(
                    "cannot read the settings of bucket {bucket} ({e}); continuing, uploads will tell"
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn head(
        &self,
        key: &ObjectKey,
        _expected: &cubeship_provider::Asset,
    ) -> Result<Option<RemoteObject>> {
        let name = self.object_name(key);
        let info = self.json.object(&self.config.bucket, &name).await?;
        Ok(info.map(|info| RemoteObject {
            size: info.size,
            sha256: info.metadata.get(SHA256_METADATA_KEY).cloned(),
            url: None,
            id: Some(info.generation).filter(|g| !g.is_empty()),
        }))
    }

    async fn upload(&self, request: &UploadRequest<'_>) -> Result<Uploaded> {
        let name = self.object_name(request.key);
        let what = format!(
            "uploading {} to gs://{}/{name}",
            request.asset.path.display(),
            self.config.bucket
        );
        let with_acl =
            self.config.public_access == PublicAccess::PublicReadAcl && !self.uniform_access();
        if request.asset.size >= RESUMABLE_THRESHOLD as u64 {
            return self.upload_resumable(request, &name, with_acl, &what).await;
        }
        let object = match self.write(request, &name, with_acl).await? {
            Ok(object) => object,
            Err(err)
                if with_acl && {
                    let message = err
                        .http_payload()
                        .map(|b| errors::service_message(b))
                        .unwrap_or_default();
                    errors::is_uniform_access_refusal(err.http_status_code(), &message)
                } =>
            {
                // The bucket has uniform bucket-level access (found out now because its
                // settings were not readable): upload without ACL and rely on IAM.
                tracing::info!(
                    "bucket {} refuses object ACLs (uniform bucket-level access); uploading without one",
                    self.config.bucket
                );
                self.acl_refused.store(true, Ordering::Relaxed);
                request.progress.restart();
                self.write(request, &name, false)
                    .await?
                    .map_err(|e| errors::from_storage_error(e, &what))?
            }
            Err(err) => return Err(errors::from_storage_error(err, &what)),
        };
        if u64::try_from(object.size).ok() != Some(request.asset.size) {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "{what}: the service stored {} bytes, the file has {}",
                    object.size, request.asset.size
                ),
            ));
        }
        Ok(Uploaded {
            url: self.public_url(request.key)?,
        })
    }

    fn public_url(&self, key: &ObjectKey) -> Result<Url> {
        let name = ObjectKey::from_parts([self.object_name(key).as_str()]);
        let base = match (&self.config.public_url_base, &self.config.endpoint) {
            (Some(base), _) => base.as_str().trim_end_matches('/').to_string(),
            // Emulators serve downloads the way storage.googleapis.com does: /<bucket>/<object>.
            (None, Some(endpoint)) if self.config.anonymous => format!(
                "{}/{}",
                endpoint.as_str().trim_end_matches('/'),
                json_api::encode_segment(&self.config.bucket)
            ),
            (None, _) => format!(
                "{GOOGLE_ENDPOINT}/{}",
                json_api::encode_segment(&self.config.bucket)
            ),
        };
        let url = format!("{base}/{}", name.url_path());
        Url::parse(&url).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{url} is not a valid URL: {e}"),
            )
        })
    }

    fn diagnose_not_public(&self, _key: &ObjectKey, status: u16) -> Option<String> {
        let bucket = &self.config.bucket;
        let docs = "see docs/providers/gcs.md";
        if status == 404 && self.config.public_url_base.is_some() {
            return Some(format!(
                "the object is in gs://{bucket}, but --public-url-base does not serve it; check that base ({docs})"
            ));
        }
        if status != 401 && status != 403 {
            return None;
        }
        let grant = format!(
            "make the bucket's objects public: `gcloud storage buckets add-iam-policy-binding gs://{bucket} \
             --member=allUsers --role=roles/storage.objectViewer`"
        );
        let policy = self.bucket_policy.get();
        Some(if policy.is_some_and(|p| p.public_access_prevented) {
            format!(
                "public access prevention is enforced on gs://{bucket}, so nothing in it can be public: turn it off \
                 (`gcloud storage buckets update gs://{bucket} --no-public-access-prevention`), then {grant}; {docs}"
            )
        } else if self.uniform_access() {
            format!(
                "gs://{bucket} has uniform bucket-level access, so object ACLs do not apply; {grant}; {docs}"
            )
        } else if self.config.public_access == PublicAccess::BucketIam {
            format!(
                "objects were uploaded without an ACL (--predefined-acl none); {grant}, or upload with --predefined-acl publicRead; {docs}"
            )
        } else {
            format!(
                "the object has the publicRead ACL but is still not readable: public access prevention may be \
                 enforced on gs://{bucket} or its project/organisation; otherwise {grant}; {docs}"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn provider(prefix: &str, endpoint: Option<&str>, base: Option<&str>) -> GcsProvider {
        GcsProvider::new(GcsConfig {
            bucket: "my-bucket".into(),
            prefix: prefix.into(),
            endpoint: endpoint.map(|e| Url::parse(e).unwrap()),
            anonymous: true,
            public_access: PublicAccess::PublicReadAcl,
            public_url_base: base.map(|b| Url::parse(b).unwrap()),
            retry: RetryPolicy::none(),
            timeouts: cubeship_provider::Timeouts::default(),
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn public_urls_encode_each_segment_under_the_right_base() {
        let key = ObjectKey::from_parts(["cube/0123/a b+c.tar.gz"]);
        let google = provider("medperf/x", None, None).await;
        assert_eq!(
            google.public_url(&key).unwrap().as_str(),
            "https://storage.googleapis.com/my-bucket/medperf/x/cube/0123/a%20b%2Bc.tar.gz"
        );
        assert_eq!(google.describe(), "gs://my-bucket/medperf/x");
        let emulator = provider("", Some("http://127.0.0.7/"), None).await;
        assert_eq!(
            emulator.public_url(&key).unwrap().as_str(),
            "http://127.0.0.7/my-bucket/cube/0123/a%20b%2Bc.tar.gz"
        );
        let cdn = provider("p", None, Some("https://cdn.example.org/models/")).await;
        assert_eq!(
            cdn.public_url(&key).unwrap().as_str(),
            "https://cdn.example.org/models/p/cube/0123/a%20b%2Bc.tar.gz"
        );
    }

    #[tokio::test]
    async fn diagnosis_names_the_iam_grant_when_acls_are_refused() {
        let p = provider("", None, None).await;
        p.acl_refused.store(true, Ordering::Relaxed);
        let text = p
            .diagnose_not_public(&ObjectKey::from_parts(["k"]), 403)
            .unwrap();
        assert!(text.contains("allUsers") && text.contains("roles/storage.objectViewer"));
        assert!(text.contains("docs/providers/gcs.md"));
        assert!(
            p.diagnose_not_public(&ObjectKey::from_parts(["k"]), 500)
                .is_none()
        );
    }
}
