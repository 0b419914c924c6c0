//! The streaming digests, computed once while bytes pass: size, sha256 and sha1 (what MedPerf
//! checks, current and pre-2023), CRC32C (what Google Cloud Storage checks), and MD5 where a
//! store requires it (Synapse parts). Nothing is ever held in memory whole.
//!
//! The SHA CPU extensions (x86 SHA-NI, ARMv8 SHA1/SHA2) are used wherever the CPU has them:
//! sha1/sha2 0.11 detect them at run time by default, with no C or assembler toolchain (0.10
//! needed the `asm` feature and a C build of sha2-asm for ARM, and had no SHA1 path there).

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The digests of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    /// Bytes seen.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Lower-case hex.
    pub sha1: String,
    /// CRC32C (Castagnoli).
    pub crc32c: u32,
}

/// A writer that hashes everything passing through it on the way to `inner`.
pub struct HashingWriter<W> {
    inner: W,
    size: u64,
    sha256: Sha256,
    sha1: Sha1,
    crc32c: u32,
}

impl<W: Write> HashingWriter<W> {
    /// Hashes what is written on its way to `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            size: 0,
            sha256: Sha256::new(),
            sha1: Sha1::new(),
            crc32c: 0,
        }
    }

    /// The inner writer and the digests of everything written.
    pub fn finish(self) -> (W, Digests) {
        let digests = Digests {
            size: self.size,
            sha256: hex::encode(self.sha256.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            crc32c: self.crc32c,
        };
        (self.inner, digests)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = &buf[..n];
        self.size += n as u64;
        self.sha256.update(written);
        self.sha1.update(written);
        self.crc32c = crc32c::crc32c_append(self.crc32c, written);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Digests computed on their own threads, for a producer that hands over whole owned chunks
/// (the archive writer's compressed blocks): sha256 and sha1 each run on a thread fed by a
/// bounded channel, so neither sits on the producer's critical path; size and CRC32C (hardware
/// CRC, ~10 GB/s) stay on the caller's thread. Memory: at most a few chunks per algorithm.
pub struct ParallelDigests {
    size: u64,
    crc32c: u32,
    sha256: HashThread,
    sha1: HashThread,
}

struct HashThread {
    chunks: Option<SyncSender<Arc<[u8]>>>,
    thread: Option<JoinHandle<String>>,
}

impl HashThread {
    fn start<D: sha2::Digest + Send + 'static>(hasher: D) -> Self {
        let (chunks, rx) = sync_channel::<Arc<[u8]>>(4);
        let thread = std::thread::spawn(move || {
            let mut hasher = hasher;
            for chunk in rx {
                hasher.update(&chunk);
            }
            hex::encode(hasher.finalize())
        });
        HashThread {
            chunks: Some(chunks),
            thread: Some(thread),
        }
    }

    fn send(&self, chunk: Arc<[u8]>) {
        // A hashing thread only stops by panicking; `finish` reports that.
        let _ = self.chunks.as_ref().expect("not finished").send(chunk);
    }

    fn finish(&mut self) -> String {
        self.chunks.take();
        self.thread
            .take()
            .expect("finished once")
            .join()
            .expect("hashing thread panicked")
    }
}

impl Default for ParallelDigests {
    fn default() -> Self {
        Self::new()
    }
}

impl ParallelDigests {
    /// Starts the hashing threads.
    pub fn new() -> Self {
        ParallelDigests {
            size: 0,
            crc32c: 0,
            sha256: HashThread::start(Sha256::new()),
            sha1: HashThread::start(Sha1::new()),
        }
    }

    /// Hashes the next `chunk` of the stream (shared with the hashing threads, not copied).
    pub fn update(&mut self, chunk: Arc<[u8]>) {
        self.size += chunk.len() as u64;
        self.crc32c = crc32c::crc32c_append(self.crc32c, &chunk);
        self.sha256.send(Arc::clone(&chunk));
        self.sha1.send(chunk);
    }

    /// Waits for the hashing threads and returns the digests of everything given.
    pub fn finish(mut self) -> Digests {
        Digests {
            size: self.size,
            sha256: self.sha256.finish(),
            sha1: self.sha1.finish(),
            crc32c: self.crc32c,
        }
    }
}

impl Drop for HashThread {
    fn drop(&mut self) {
        self.chunks.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies `reader` into `writer` while hashing, for files published as they are.
pub fn copy_hashed(reader: &mut impl io::Read, writer: impl Write) -> io::Result<(u64, Digests)> {
    let mut hashing = HashingWriter::new(writer);
    let copied = io::copy(reader, &mut hashing)?;
    let (mut inner, digests) = hashing.finish();
    inner.flush()?;
    Ok((copied, digests))
}

/// Size and digests of a local file, streamed.
pub fn hash_file(path: &std::path::Path) -> io::Result<Digests> {
    let mut file = std::fs::File::open(path)?;
    copy_hashed(&mut file, io::sink()).map(|(_, digests)| digests)
}

/// Lower-case hex sha256 of a local file, streamed on the blocking pool.
pub async fn sha256_file(path: &std::path::Path) -> io::Result<String> {
    let path = path.to_path_buf();
    run_blocking(move || hash_file(&path).map(|d| d.sha256)).await
}

/// Lower-case hex MD5 of `len` bytes of a local file from `offset` (all of it with `None`),
/// streamed on the blocking pool.
pub async fn md5_file(path: &std::path::Path, offset: u64, len: Option<u64>) -> io::Result<String> {
    // md-5 is on digest 0.10, sha1/sha2 on 0.11 (for their SHA-extension backends).
    use md5::{Digest as _, Md5};
    use std::io::{Read, Seek};
    let path = path.to_path_buf();
    run_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        file.seek(io::SeekFrom::Start(offset))?;
        let mut reader: Box<dyn Read> = match len {
            Some(len) => Box::new(file.take(len)),
            None => Box::new(file),
        };
        let mut hasher = Md5::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .await
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_vectors() {
        let (_, d) = copy_hashed(&mut &b"abc"[..], io::sink()).unwrap();
        assert_eq!(d.size, 3);
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        // RFC 3720 check value of CRC32C over "123456789".
        let (_, d) = copy_hashed(&mut &b"123456789"[..], io::sink()).unwrap();
        assert_eq!(d.crc32c, 0xe306_9283);
    }

    #[test]
    fn parallel_digests_match_the_streaming_ones() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (_, serial) = copy_hashed(&mut &data[..], io::sink()).unwrap();
        let mut parallel = ParallelDigests::new();
        for chunk in data.chunks(1 << 20) {
            parallel.update(Arc::from(chunk));
        }
        parallel.update(Arc::from(&b""[..]));
        assert_eq!(parallel.finish(), serial);
    }

    #[tokio::test]
    async fn file_digests_stream_the_whole_file_or_a_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"xabcx").unwrap();
        assert_eq!(
            md5_file(&path, 1, Some(3)).await.unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).await.unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
