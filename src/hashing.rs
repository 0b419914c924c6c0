//! Digests of a byte stream computed while it is written: size, sha256 and sha1 (what MedPerf
//! checks, current and pre-2023) and CRC32C (what Google Cloud Storage checks).

use std::io::{self, Write};

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The digests of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    pub sha256: String,
    pub sha1: String,
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
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            size: 0,
            sha256: Sha256::new(),
            sha1: Sha1::new(),
            crc32c: 0,
        }
    }

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

/// Copies `reader` into `writer` while hashing, for files published as they are.
pub fn copy_hashed(reader: &mut impl io::Read, writer: impl Write) -> io::Result<(u64, Digests)> {
    let mut hashing = HashingWriter::new(writer);
    let copied = io::copy(reader, &mut hashing)?;
    let (mut inner, digests) = hashing.finish();
    inner.flush()?;
    Ok((copied, digests))
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
}
