//! Shared value types of the provider contract: keys, assets, remote objects, progress.

use std::path::PathBuf;

use async_trait::async_trait;
use url::Url;

use crate::Result;

/// Metadata name under which every provider stores the sha256 of an object, so that a later
/// run can tell "same content" with one metadata read (S3 `x-amz-meta-sha256`, GCS custom
/// metadata `sha256`, ...).
pub const SHA256_METADATA_KEY: &str = "sha256";

/// A `/`-separated object name relative to the destination's root (bucket prefix, release, folder).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Builds a key from `/`-separated parts, dropping empty parts so that an empty prefix or
    /// stray slashes never produce `//` in a URL.
    pub fn from_parts<'a>(parts: impl IntoIterator<Item = &'a str>) -> Self {
        let joined: Vec<&str> = parts
            .into_iter()
            .flat_map(|p| p.split('/'))
            .filter(|p| !p.is_empty())
            .collect();
        ObjectKey(joined.join("/"))
    }

    /// The key as stored, `/`-separated and not percent-encoded.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last path segment: the file name a client sees.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The key with `/` replaced, for stores whose names are flat (GitHub release assets).
    pub fn flattened(&self, separator: &str) -> String {
        self.0.replace('/', separator)
    }

    /// Percent-encodes each segment for use in a URL path, keeping the `/` separators.
    pub fn url_path(&self) -> String {
        self.0
            .split('/')
            .map(|segment| {
                percent_encoding::utf8_percent_encode(segment, crate::http::PATH_SEGMENT)
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A local file ready to upload, with the digests computed while it was packaged, so that no
/// provider has to read the file an extra time to learn them.
#[derive(Clone, Debug)]
pub struct Asset {
    /// The file on disk.
    pub path: PathBuf,
    /// In bytes.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Lower-case hex.
    pub sha1: String,
    /// CRC32C (Castagnoli) of the file, as Google Cloud Storage checks it.
    pub crc32c: u32,
    /// The MIME type sent with the upload (`application/gzip`).
    pub content_type: &'static str,
}

/// What a destination already holds under a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteObject {
    /// In bytes.
    pub size: u64,
    /// The sha256 the store recorded (our metadata, or a digest the store computes itself).
    /// `None` when the store cannot tell without downloading.
    pub sha256: Option<String>,
    /// The public URL of this object when it is not derivable from the key alone (GitHub).
    pub url: Option<Url>,
    /// A provider-specific handle (GitHub asset id), used to replace the object safely.
    pub id: Option<String>,
}

/// The outcome of a completed upload.
#[derive(Clone, Debug)]
pub struct Uploaded {
    /// The URL an anonymous client reads the object from.
    pub url: Url,
}

/// What a provider can and cannot store, checked at plan time before anything is uploaded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Capabilities {
    /// Largest object the store accepts, in bytes (exclusive), when it has a limit.
    pub max_object_size: Option<u64>,
    /// Object names cannot contain `/` (GitHub release assets, Synapse entities).
    pub flat_names: bool,
    /// The store refuses empty files (Synapse): refused at plan time, before any upload.
    pub refuses_empty: bool,
    /// The container registry that goes with this store (`docker.synapse.org`): MedPerf users
    /// of the store are expected to pull the cube's image from there, so the application warns
    /// when the manifest names an image elsewhere.
    pub container_registry: Option<&'static str>,
    /// `Some(limit)`: the store implements `Provider::upload_staged` and `Provider::promote`
    /// for files of at most `limit` bytes, so a file still being written can be sent before
    /// its final key is known.
    pub max_staged_size: Option<u64>,
}

/// Byte-level upload progress; the CLI draws bars from it, the library only reports.
pub trait Progress: Send + Sync {
    /// `bytes` more were sent.
    fn advance(&self, bytes: u64);
    /// An attempt failed and the transfer starts again from zero.
    fn restart(&self);
}

/// A `Progress` that reports nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _bytes: u64) {}
    fn restart(&self) {}
}

/// One upload: the file, where it goes, and what was found there first.
pub struct UploadRequest<'a> {
    /// The local file to send.
    pub asset: &'a Asset,
    /// Where it goes under the destination.
    pub key: &'a ObjectKey,
    /// The object already at `key` (the caller decided to replace it), if any.
    pub existing: Option<&'a RemoteObject>,
    /// Told of the bytes sent, and of restarts.
    pub progress: std::sync::Arc<dyn Progress>,
    /// Where in-flight uploads are recorded so that a killed run can resume them (the deploy
    /// folder's `crate::journal::Journal`); `None`: nothing is recorded.
    pub journal: Option<&'a crate::journal::Journal>,
}

/// A place that stores files and serves them to anonymous HTTP clients.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Short name: "s3", "gcs", "github", "http", "dir".
    fn kind(&self) -> &'static str;

    /// The destination as the user would write it (`s3://bucket/prefix`), with no secrets.
    fn describe(&self) -> String;

    /// What it can store (size limit, flat names); no limits unless overridden.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Cheap check of credentials and target (bucket exists, token valid) before packaging.
    async fn preflight(&self) -> Result<()>;

    /// What is stored under `key`, or `None`. `expected` is the file the caller means to put
    /// there: a store that keeps no hash of its objects (a plain web server) downloads and
    /// hashes the remote copy only when its size matches, instead of always or never.
    async fn head(&self, key: &ObjectKey, expected: &Asset) -> Result<Option<RemoteObject>>;

    /// Uploads `request.asset` to `request.key`, streaming it from disk.
    async fn upload(&self, request: &UploadRequest<'_>) -> Result<Uploaded>;

    /// The URL an anonymous client will GET for `key` (best known before upload).
    fn public_url(&self, key: &ObjectKey) -> Result<Url>;

    /// After an interrupt (Ctrl-C): cancels uploads that would otherwise leave state behind on
    /// the server, such as S3 multipart uploads, whose parts are billed until aborted.
    async fn abort_in_flight(&self) {}

    /// Explains, for humans, why an anonymous GET of `url` answered `status`, when this
    /// provider knows a likely cause (private bucket, ACLs disabled, private repository).
    fn diagnose_not_public(&self, _key: &ObjectKey, _status: u16) -> Option<String> {
        None
    }

    /// Downloads `url` the way MedPerf will and hashes it, for verification. The default is
    /// MedPerf's handling of direct URLs: an anonymous GET, redirects followed, status 200
    /// only, transient failures retried. A store whose resources MedPerf fetches with the
    /// user's own login (Synapse) overrides it.
    async fn download(&self, url: &Url) -> Result<crate::http::Download> {
        crate::http::download_anonymously(url).await
    }

    /// Uploads a file that is still being written to a staging key (parts are sent as soon
    /// as they are written). Only for stores whose `Capabilities::staged_uploads` is set.
    async fn upload_staged(
        &self,
        request: &crate::staged::StagedRequest<'_>,
    ) -> Result<crate::staged::Staged> {
        Err(crate::Error::new(
            crate::ErrorKind::Other,
            format!(
                "{}: staged uploads are not supported (for {})",
                self.describe(),
                request.key
            ),
        ))
    }

    /// Moves a staged object to its final `key` server-side, with the same create-only rule
    /// as `upload` (`existing` is the object the caller decided to replace), `asset`'s sha256
    /// recorded and the public ACL set; the staging object is then deleted.
    async fn promote(
        &self,
        staged: &crate::staged::Staged,
        asset: &Asset,
        key: &ObjectKey,
        existing: Option<&RemoteObject>,
    ) -> Result<Uploaded> {
        let _ = (asset, existing);
        Err(crate::Error::new(
            crate::ErrorKind::Other,
            format!(
                "{}: cannot promote {} to {key}: staged uploads are not supported",
                self.describe(),
                staged.key
            ),
        ))
    }

    /// Deletes a staged object that will not be promoted (its final key already holds the
    /// same bytes, or the run failed); logs rather than fails.
    async fn discard_staged(&self, _staged: &crate::staged::Staged) {}
}
