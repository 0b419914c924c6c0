//! The upload payload: a file read in chunks straight from disk, reporting progress, and
//! seekable so the storage client can resume a resumable upload at the offset the service
//! persisted instead of holding the object in memory.

use std::path::Path;
use std::sync::Arc;

use cubeship_provider::{BodyWatch, Progress};
use google_cloud_storage::streaming_source::{Seek, SizeHint, StreamingSource};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes read per chunk; a multiple of the 256 KiB resumable-upload quantum.
const CHUNK_SIZE: usize = 1024 * 1024;

pub struct ProgressFile {
    file: tokio::fs::File,
    /// The size recorded when the file was packaged; the upload declares exactly this many bytes.
    size: u64,
    progress: Arc<dyn Progress>,
    /// Told of every chunk, so that a stalled upload fails (`within_timeouts`).
    watch: BodyWatch,
}

impl ProgressFile {
    pub async fn open(
        path: &Path,
        size: u64,
        progress: Arc<dyn Progress>,
        watch: BodyWatch,
    ) -> std::io::Result<Self> {
        let file = tokio::fs::File::open(path).await?;
        Ok(ProgressFile {
            file,
            size,
            progress,
            watch,
        })
    }
}

impl StreamingSource for ProgressFile {
    type Error = std::io::Error;

    async fn next(&mut self) -> Option<Result<bytes::Bytes, Self::Error>> {
        let mut buffer = vec![0u8; CHUNK_SIZE];
        let mut filled = 0;
        // Fill whole chunks: short reads would only make more, smaller HTTP body frames.
        while filled < buffer.len() {
            match self.file.read(&mut buffer[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Some(Err(e)),
            }
        }
        if filled == 0 {
            self.watch.finish();
            return None;
        }
        buffer.truncate(filled);
        self.progress.advance(filled as u64);
        self.watch.advance(filled as u64);
        Some(Ok(bytes::Bytes::from(buffer)))
    }

    async fn size_hint(&self) -> Result<SizeHint, Self::Error> {
        Ok(SizeHint::with_exact(self.size))
    }
}

impl Seek for ProgressFile {
    type Error = std::io::Error;

    async fn seek(&mut self, offset: u64) -> Result<(), Self::Error> {
        self.file.seek(std::io::SeekFrom::Start(offset)).await?;
        // A resumed upload sends again from `offset`: show what the service already holds.
        self.progress.restart();
        self.progress.advance(offset);
        self.watch.advance(0);
        Ok(())
    }
}
