//! The staged-upload half of the provider contract: sending a file that is still being
//! written (an archive being compressed) to a staging key, before its hash — and so its
//! content-addressed key — is known, then promoting it to the final key server-side.
//!
//! Only stores with a cheap server-side copy implement it (`Capabilities::staged_uploads`);
//! everyone else keeps the sequential path (package, then upload).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{ObjectKey, Progress, Result};

/// The folder, under a destination's root, where staged objects wait for their final key.
pub const STAGING_FOLDER: &str = ".cubeship-staging";

/// A file that grows while it is read: reads wait until the bytes asked for are written, or
/// until the writer finished (then the file's final size is known).
#[async_trait]
pub trait GrowingSource: Send + Sync {
    /// The bytes `[offset, offset + length)`, waiting for them to be written; shorter only at
    /// the end of the finished file (empty past it). An error when the writer failed.
    async fn read_at(&self, offset: u64, length: u64) -> Result<Bytes>;

    /// The finished file's size, waiting until the writer is done.
    async fn final_size(&self) -> Result<u64>;

    /// A size the finished file is expected to stay under (the uncompressed tar size for an
    /// archive), used to cut it into parts before its real size is known.
    fn size_hint(&self) -> u64;
}

/// One staged upload: the growing file and where it goes.
pub struct StagedRequest<'a> {
    /// The bytes to send.
    pub source: Arc<dyn GrowingSource>,
    /// The staging key, relative to the destination's root (under `STAGING_FOLDER`).
    pub key: &'a ObjectKey,
    /// Told of the bytes sent.
    pub progress: Arc<dyn Progress>,
    /// Where the staged upload is recorded until its staging object is gone, so that a run
    /// killed with no chance to clean up has it removed by the next one.
    pub journal: Option<&'a crate::journal::Journal>,
}

/// An object stored at a staging key, waiting to be promoted or discarded.
#[derive(Clone, Debug)]
pub struct Staged {
    /// Its staging key, relative to the destination's root.
    pub key: ObjectKey,
    /// In bytes.
    pub size: u64,
}

/// The staging key of `file` for run `run_id`.
pub fn staging_key(run_id: &str, file: &str) -> ObjectKey {
    ObjectKey::from_parts([STAGING_FOLDER, run_id, file])
}
