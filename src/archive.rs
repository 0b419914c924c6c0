//! Reproducible, streaming `.tar.gz` archives of a folder's contents: a sorted walk with safety
//! checks, tar headers built by hand (owner 0/0, fixed mtime, normalised modes), and a pigz-style
//! parallel gzip of 1 MiB blocks, each encoded the way its bytes call for: stored (random-looking
//! data), Huffman-only (float weights) or string matching at the requested level (text).
//!
//! One pass: walk → tar → blocks → deflate (worker threads) → in-order gzip stream → file, with
//! the digests on their own threads. Memory is bounded by a few blocks per thread, whatever the
//! input size.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Strategy};

use crate::error::{InputError, PackageError, packaging_io};
use cubeship_provider::digest::{Digests, ParallelDigests};

/// Every entry's mtime: 2000-01-01T00:00:00Z. A fixed value makes archives reproducible; a
/// zero would make GNU tar warn about implausibly old timestamps on extraction.
pub const NORMALISED_MTIME: u64 = 946_684_800;

/// Uncompressed bytes per independently compressed block. Larger blocks compress a little
/// better; smaller ones parallelise finer. 1 MiB loses ~1-2% against one zlib stream.
pub const BLOCK_SIZE: usize = 1 << 20;

/// How hard and on how many threads to compress an archive.
#[derive(Clone, Copy, Debug)]
pub struct ArchiveOptions {
    /// gzip level 1-9 (0 stores everything).
    pub level: u32,
    /// Compression threads.
    pub threads: usize,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            level: 6,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

#[derive(Debug)]
enum EntryKind {
    Dir,
    File {
        size: u64,
        executable: bool,
        seen: Snapshot,
    },
    Symlink {
        target: PathBuf,
    },
    /// Another name of a file archived earlier (same device and inode): a tar hardlink entry,
    /// so the bytes are stored once and extraction recreates the link.
    HardLink {
        target: PathBuf,
    },
}

/// What identifies a file's content at the walk, compared again after it was read: a rewrite
/// at the same size that restores the mtime still changes the ctime (the kernel sets it on
/// every write and on `touch -d`), and a replacement by rename changes the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snapshot {
    mtime: Option<SystemTime>,
    ctime: (i64, i64),
    inode: (u64, u64),
}

impl Snapshot {
    fn of(meta: &std::fs::Metadata) -> Self {
        Snapshot {
            mtime: meta.modified().ok(),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            inode: (meta.dev(), meta.ino()),
        }
    }
}

/// One checked entry of the folder, in archive order.
#[derive(Debug)]
pub struct Entry {
    /// Path relative to the archived folder; the name inside the archive.
    relative: PathBuf,
    absolute: PathBuf,
    kind: EntryKind,
}

/// Walks `root` in sorted order and checks every entry before anything is written: links must
/// be relative and stay inside `root` (Python's `tarfile` data filter refuses the others), and
/// only files, folders and links are allowed.
pub fn collect_entries(root: &Path) -> Result<Vec<Entry>, InputError> {
    let mut entries = Vec::new();
    let mut first_names: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for item in walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = item.map_err(|e| {
            let path = e
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| root.display().to_string());
            // walkdir's own message repeats the path: show the OS error alone.
            let cause = e
                .io_error()
                .map_or_else(|| e.to_string(), |io| io.to_string());
            InputError::new(format!("cannot read {path}: {cause}"))
                .hint("make the folder readable by the user running cubeship (chmod a+rx), then package again")
        })?;
        let absolute = item.path().to_path_buf();
        let relative = absolute
            .strip_prefix(root)
            .expect("walkdir yields paths under its root")
            .to_path_buf();
        let meta = item.metadata().map_err(|e| {
            InputError::new(format!("cannot read {}: {e}", absolute.display()))
                .hint("make the file readable by the user running cubeship")
        })?;
        let file_type = meta.file_type();
        let kind = if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() {
            let earlier = (meta.nlink() > 1)
                .then(|| first_names.entry((meta.dev(), meta.ino())))
                .and_then(|slot| match slot {
                    std::collections::hash_map::Entry::Occupied(first) => Some(first.get().clone()),
                    std::collections::hash_map::Entry::Vacant(free) => {
                        free.insert(relative.clone());
                        None
                    }
                });
            match earlier {
                Some(target) => EntryKind::HardLink { target },
                None => EntryKind::File {
                    size: meta.len(),
                    executable: meta.permissions().mode() & 0o111 != 0,
                    seen: Snapshot::of(&meta),
                },
            }
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(&absolute).map_err(|e| {
                InputError::new(format!("cannot read the link {}: {e}", absolute.display()))
            })?;
            check_link_stays_inside(&absolute, &relative, &target)?;
            EntryKind::Symlink { target }
        } else {
            return Err(InputError::new(format!(
                "{} is not a regular file, folder or link (a device, socket or pipe)",
                absolute.display()
            ))
            .hint("remove it from the folder; archives may only hold files, folders and links"));
        };
        entries.push(Entry {
            relative,
            absolute,
            kind,
        });
    }
    check_links_resolve_inside(&entries)?;
    Ok(entries)
}

/// How many links one resolution may go through before it is called a loop (Linux's limit).
const MAX_LINK_HOPS: usize = 40;

/// The lexical check (`check_link_stays_inside`) looks at one link alone; extraction follows
/// the links already extracted, so `a/b/up -> ../..` plus `x -> a/b/up/..` escapes although
/// each looks harmless. Every link target is resolved here against the archive's own tree,
/// following the links inside it, the way the OS will once the archive is extracted.
fn check_links_resolve_inside(entries: &[Entry]) -> Result<(), InputError> {
    let links: HashMap<&Path, &Path> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Symlink { target } => Some((e.relative.as_path(), target.as_path())),
            _ => None,
        })
        .collect();
    for entry in entries {
        let EntryKind::Symlink { target } = &entry.kind else {
            continue;
        };
        let parent: Vec<OsString> = entry
            .relative
            .parent()
            .into_iter()
            .flat_map(|p| p.iter().map(|c| c.to_os_string()))
            .collect();
        let mut through = Vec::new();
        let mut hops = 0;
        let Err(escape) = resolve_in_tree(&links, parent, target, &mut hops, &mut through) else {
            continue;
        };
        let via = through
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(match escape {
            Escape::Outside => InputError::new(format!(
                "{} links to {}, which leaves the folder being archived once the links it goes through ({via}) are followed",
                entry.absolute.display(),
                target.display()
            ))
            .hint("MedPerf refuses archives whose links leave the folder: point the link at the file itself (a path without other links), or copy the file in"),
            Escape::Loop => InputError::new(format!(
                "{} links to {}, which goes round a loop of links ({via})",
                entry.absolute.display(),
                target.display()
            ))
            .hint("remove the loop: each link must end at a file or folder inside the folder"),
        });
    }
    Ok(())
}

enum Escape {
    Outside,
    Loop,
}

/// Resolves `target` from the folder `at` (components from the root), following the links of
/// the tree; names not in the tree resolve lexically, as they would at extraction.
fn resolve_in_tree(
    links: &HashMap<&Path, &Path>,
    mut at: Vec<OsString>,
    target: &Path,
    hops: &mut usize,
    through: &mut Vec<PathBuf>,
) -> Result<Vec<OsString>, Escape> {
    for component in target.components() {
        match component {
            Component::Normal(name) => {
                at.push(name.to_os_string());
                let here: PathBuf = at.iter().collect();
                if let Some(next) = links.get(here.as_path()) {
                    *hops += 1;
                    if *hops > MAX_LINK_HOPS {
                        return Err(Escape::Loop);
                    }
                    through.push(here);
                    at.pop();
                    at = resolve_in_tree(links, at, next, hops, through)?;
                }
            }
            Component::ParentDir => {
                if at.pop().is_none() {
                    return Err(Escape::Outside);
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(Escape::Outside),
        }
    }
    Ok(at)
}

fn check_link_stays_inside(
    absolute: &Path,
    relative: &Path,
    target: &Path,
) -> Result<(), InputError> {
    if target.is_absolute() {
        return Err(InputError::new(format!(
            "{} is a link to the absolute path {}",
            absolute.display(),
            target.display()
        ))
        .hint("archives must extract anywhere: replace it with a relative link inside the folder, or with the file itself"));
    }
    // Resolve lexically from the link's own folder; a `..` above the root escapes.
    let mut depth: i64 = relative.components().count() as i64 - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return Err(InputError::new(format!(
                "{} links to {}, which is outside the folder being archived",
                absolute.display(),
                target.display()
            ))
            .hint("MedPerf refuses archives whose links leave the folder: copy the target file in instead of linking to it"));
        }
    }
    Ok(())
}

/// The total size of the regular files among `entries` (for progress and benchmarks).
pub fn content_size(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|e| match e.kind {
            EntryKind::File { size, .. } => size,
            _ => 0,
        })
        .sum()
}

/// Writes `entries` (from `collect_entries(root)`) as a `.tar.gz` at `out`.
pub fn write_tar_gz(
    entries: &[Entry],
    out: &Path,
    options: ArchiveOptions,
) -> Result<Digests, PackageError> {
    write_tar_gz_reporting(entries, out, options, &cubeship_provider::NoProgress)
}

/// The size of the tar stream of `entries`, near enough for a progress bar: each entry's
/// header and padded content, and the end blocks (GNU long-name blocks are not counted).
pub fn tar_size(entries: &[Entry]) -> u64 {
    let padded = |size: u64| size.div_ceil(512) * 512;
    entries
        .iter()
        .map(|e| {
            512 + match e.kind {
                EntryKind::File { size, .. } => padded(size),
                _ => 0,
            }
        })
        .sum::<u64>()
        + 1024
}

/// `write_tar_gz`, reporting the tar stream's bytes to `progress` as they are compressed
/// (out of about `tar_size(entries)`).
pub fn write_tar_gz_reporting(
    entries: &[Entry],
    out: &Path,
    options: ArchiveOptions,
    progress: &dyn cubeship_provider::Progress,
) -> Result<Digests, PackageError> {
    let file = File::create(out).map_err(|e| cannot_write(out, e))?;
    let mut gzip = ParallelGzip::new(BufWriter::with_capacity(1 << 20, file), options);
    let counted = Counted {
        inner: &mut gzip,
        progress,
    };
    let written = append_entries(&mut tar::Builder::new(counted), entries, out);
    let finished = gzip.finish();
    let problem = match (written, finished) {
        (Ok(()), Ok((buffered, digests))) => {
            let file = buffered
                .into_inner()
                .map_err(|e| cannot_write(out, e.into_error()))?;
            file.sync_all().map_err(|e| cannot_write(out, e))?;
            return Ok(digests);
        }
        (Err(problem), _) => problem,
        (Ok(()), Err(e)) => cannot_write(out, e),
    };
    let _ = std::fs::remove_file(out);
    Err(problem)
}

/// A writer that reports every byte passing through it.
struct Counted<'a, W> {
    inner: W,
    progress: &'a dyn cubeship_provider::Progress,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn cannot_write(path: &Path, e: io::Error) -> PackageError {
    packaging_io(
        &e,
        format!("cannot write {}: {e}", path.display()),
        "choose a folder you may write with --deploy-dir (or --output)",
    )
}

fn append_entries<W: Write>(
    builder: &mut tar::Builder<W>,
    entries: &[Entry],
    out: &Path,
) -> Result<(), PackageError> {
    // A source file's problem travels inside the tar writer's io::Error; any other error
    // there is the archive's own write failing.
    let tar_error = |e: io::Error| match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<SourceProblem>())
    {
        Some(problem) => problem.0.to_error(),
        None => cannot_write(out, e),
    };
    let mut ahead = ReadAhead::new(entries);
    for (index, entry) in entries.iter().enumerate() {
        ahead.top_up();
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(NORMALISED_MTIME);
        match &entry.kind {
            EntryKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, &entry.relative, io::empty())
                    .map_err(tar_error)?;
            }
            EntryKind::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder
                    .append_link(&mut header, &entry.relative, target)
                    .map_err(tar_error)?;
            }
            EntryKind::HardLink { target } => {
                header.set_entry_type(tar::EntryType::Link);
                header.set_mode(0o644);
                header.set_size(0);
                builder
                    .append_link(&mut header, &entry.relative, target)
                    .map_err(tar_error)?;
            }
            EntryKind::File {
                size,
                executable,
                seen,
            } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if *executable { 0o755 } else { 0o644 });
                header.set_size(*size);
                if let Some(read) = ahead.take(index) {
                    let bytes = read.map_err(|problem| problem.to_error())?;
                    check_read_ahead(&entry.absolute, *size, seen, &bytes)?;
                    builder
                        .append_data(&mut header, &entry.relative, &bytes[..])
                        .map_err(tar_error)?;
                    continue;
                }
                let file = File::open(&entry.absolute)
                    .map_err(|e| cannot_read(&entry.absolute, &e).to_error())?;
                let mut reader = ExactSizeReader {
                    file,
                    remaining: *size,
                    path: &entry.absolute,
                };
                builder
                    .append_data(&mut header, &entry.relative, &mut reader)
                    .map_err(tar_error)?;
                reader.check_unchanged(*size, seen)?;
            }
        }
    }
    builder.finish().map_err(tar_error)
}

/// Files up to this size are read ahead, whole, on the reader threads.
const READ_AHEAD_MAX_FILE: u64 = 256 * 1024;
/// How many small files may be read ahead of the tar writer: bounds memory to 16 MiB.
const READ_AHEAD_FILES: usize = 64;
const READ_AHEAD_THREADS: usize = 2;

type ReadResult = Result<Vec<u8>, InputErrorParts>;

/// Many small files (JSON, configs) cost an open and a read each, one after the other on the
/// tar thread; reader threads open and read the next ones in parallel while the tar writer
/// takes them in archive order (the order and hence the archive do not change).
struct ReadAhead<'a> {
    entries: &'a [Entry],
    small: std::iter::Peekable<std::vec::IntoIter<usize>>,
    pending: std::collections::VecDeque<(usize, Receiver<ReadResult>)>,
    jobs: Option<SyncSender<(PathBuf, u64, SyncSender<ReadResult>)>>,
    threads: Vec<JoinHandle<()>>,
}

impl<'a> ReadAhead<'a> {
    fn new(entries: &'a [Entry]) -> Self {
        let small: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.kind, EntryKind::File { size, .. } if size <= READ_AHEAD_MAX_FILE))
            .map(|(i, _)| i)
            .collect();
        let (jobs, rx) = sync_channel::<(PathBuf, u64, SyncSender<ReadResult>)>(READ_AHEAD_FILES);
        let rx = Arc::new(Mutex::new(rx));
        let threads = if small.is_empty() {
            Vec::new()
        } else {
            (0..READ_AHEAD_THREADS)
                .map(|_| {
                    let rx = Arc::clone(&rx);
                    std::thread::spawn(move || {
                        loop {
                            let Ok((path, size, reply)) =
                                rx.lock().expect("read-ahead lock").recv()
                            else {
                                return;
                            };
                            let _ = reply.send(read_whole(&path, size));
                        }
                    })
                })
                .collect()
        };
        ReadAhead {
            entries,
            small: small.into_iter().peekable(),
            pending: Default::default(),
            jobs: Some(jobs),
            threads,
        }
    }

    fn top_up(&mut self) {
        while self.pending.len() < READ_AHEAD_FILES {
            let Some(index) = self.small.next() else {
                return;
            };
            let entry = &self.entries[index];
            let EntryKind::File { size, .. } = entry.kind else {
                unreachable!("only files are read ahead")
            };
            let (reply, result) = sync_channel(1);
            let jobs = self.jobs.as_ref().expect("open until dropped");
            if jobs.send((entry.absolute.clone(), size, reply)).is_err() {
                return;
            }
            self.pending.push_back((index, result));
        }
    }

    /// The bytes of entry `index` if it was read ahead (entries are taken in order).
    fn take(&mut self, index: usize) -> Option<ReadResult> {
        if self.pending.front().is_none_or(|(i, _)| *i != index) {
            return None;
        }
        let (_, result) = self.pending.pop_front().expect("checked");
        Some(result.recv().unwrap_or_else(|_| {
            Err(InputErrorParts {
                message: "a read-ahead thread stopped".into(),
                hint: "package again".into(),
                outside_the_input: true,
            })
        }))
    }
}

impl Drop for ReadAhead<'_> {
    fn drop(&mut self) {
        self.jobs.take();
        self.pending.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Reads up to one byte more than the recorded size, so that growth is seen.
fn read_whole(path: &Path, size: u64) -> ReadResult {
    let mut bytes = Vec::with_capacity(size as usize + 1);
    File::open(path)
        .and_then(|file| file.take(size + 1).read_to_end(&mut bytes))
        .map_err(|e| cannot_read(path, &e))?;
    Ok(bytes)
}

/// The checks `ExactSizeReader` makes, for a file read ahead: its size, and its ctime and
/// inode looked up again now, when it enters the archive, against the walk's.
fn check_read_ahead(
    path: &Path,
    size: u64,
    seen: &Snapshot,
    bytes: &[u8],
) -> Result<(), InputError> {
    if (bytes.len() as u64) < size {
        return Err(changed_while_packaging(path, "shrank").clone_error());
    }
    let meta = std::fs::metadata(path).ok();
    if bytes.len() as u64 > size || meta.as_ref().is_some_and(|m| m.size() != size) {
        return Err(changed_while_packaging(path, "changed size").clone_error());
    }
    if meta.map(|m| Snapshot::of(&m)) != Some(*seen) {
        return Err(changed_while_packaging(path, "was modified").clone_error());
    }
    Ok(())
}

/// Why reading a source file failed, carried through the tar writer's `io::Error`.
#[derive(Debug)]
struct SourceProblem(InputErrorParts);

#[derive(Debug)]
struct InputErrorParts {
    message: String,
    hint: String,
    /// The disk failed, not the input (see `crate::error::outside_the_input`): exit 1.
    outside_the_input: bool,
}

impl InputErrorParts {
    fn clone_error(&self) -> InputError {
        InputError::new(self.message.clone()).hint(self.hint.clone())
    }

    fn to_error(&self) -> PackageError {
        if self.outside_the_input {
            PackageError::Io(crate::error::Failure(format!(
                "{}\n  hint: {}",
                self.message, self.hint
            )))
        } else {
            PackageError::Input(self.clone_error())
        }
    }
}

/// A source file that cannot be read: the user's to fix (permissions, a file that vanished)
/// unless the disk itself failed.
fn cannot_read(path: &Path, e: &io::Error) -> InputErrorParts {
    let outside_the_input = crate::error::outside_the_input(e);
    InputErrorParts {
        message: format!("cannot read {}: {e}", path.display()),
        hint: if outside_the_input {
            "the disk reported an I/O error: check the device, then package again".into()
        } else if e.kind() == io::ErrorKind::NotFound {
            "it vanished while being packaged: stop whatever changes the MLCube folder, then package again".into()
        } else {
            "make the file readable by the user running cubeship (chmod a+r), then package again"
                .into()
        },
        outside_the_input,
    }
}

impl std::fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for SourceProblem {}

fn changed_while_packaging(path: &Path, what: &str) -> InputErrorParts {
    InputErrorParts {
        message: format!("{} {what} while it was being packaged", path.display()),
        hint: "stop whatever writes to the MLCube folder, then package again".into(),
        outside_the_input: false,
    }
}

/// Reads exactly the size recorded in the tar header; a file that shrinks is an error rather
/// than a silently corrupt archive.
struct ExactSizeReader<'a> {
    file: File,
    remaining: u64,
    path: &'a Path,
}

impl Read for ExactSizeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.remaining as usize);
        let n = self
            .file
            .read(&mut buf[..want])
            .map_err(|e| io::Error::other(SourceProblem(cannot_read(self.path, &e))))?;
        if n == 0 {
            return Err(io::Error::other(SourceProblem(changed_while_packaging(
                self.path, "shrank",
            ))));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl ExactSizeReader<'_> {
    /// After the recorded size was read: nothing more to read, and size, mtime, ctime and
    /// inode as at the walk (the ctime catches a rewrite at the same size and mtime).
    fn check_unchanged(&mut self, size: u64, seen: &Snapshot) -> Result<(), InputError> {
        let mut probe = [0u8; 1];
        let grew = matches!(self.file.read(&mut probe), Ok(n) if n > 0);
        let meta = self.file.metadata().ok();
        let resized = meta.as_ref().is_some_and(|m| m.size() != size);
        let touched = meta.map(|m| Snapshot::of(&m)) != Some(*seen);
        if grew || resized {
            return Err(changed_while_packaging(self.path, "changed size").clone_error());
        }
        if touched {
            return Err(changed_while_packaging(self.path, "was modified").clone_error());
        }
        Ok(())
    }
}

/// A compressed block and the CRC32 of its uncompressed bytes.
struct CompressedBlock {
    deflate: Vec<u8>,
    crc: crc32fast::Hasher,
    len: usize,
}

struct Job {
    data: Vec<u8>,
    /// The last `DICTIONARY_SIZE` bytes of the previous block's input (empty for the first).
    dictionary: Vec<u8>,
    reply: SyncSender<CompressedBlock>,
}

/// A `Write` that gzips what it is given on `threads` threads into one standard gzip member:
/// each block is a raw-deflate run ending on a byte boundary (a sync flush), so the
/// concatenation is one valid deflate stream (as pigz does). A block may refer back into the
/// previous block's bytes (its last 32 KiB are the block's preset dictionary): that is input
/// data, known before any compression starts, so blocks still compress independently and in
/// any order, and the output does not depend on the thread count or on timing.
pub struct ParallelGzip<W: Write + Send + 'static> {
    block: Vec<u8>,
    dictionary: Vec<u8>,
    jobs: Option<SyncSender<Job>>,
    order: Option<SyncSender<Receiver<CompressedBlock>>>,
    workers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<io::Result<(W, Digests)>>>,
    /// The writer's error once it stopped early, given again to every later call: the tar
    /// writer keeps writing after a failed write (its end blocks), and the first cause (a
    /// full disk) is the one to report.
    failed: Option<(io::ErrorKind, Option<i32>, String)>,
}

impl<W: Write + Send + 'static> ParallelGzip<W> {
    /// Starts the compression threads; the gzip stream goes to `inner`, and its digests are
    /// computed on their own threads as it is written.
    pub fn new(inner: W, options: ArchiveOptions) -> Self {
        let threads = options.threads.max(1);
        let (jobs_tx, jobs_rx) = sync_channel::<Job>(threads * 2);
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let workers = (0..threads)
            .map(|_| {
                let jobs = Arc::clone(&jobs_rx);
                let level = options.level;
                std::thread::spawn(move || {
                    loop {
                        let job = match jobs.lock().expect("job queue lock").recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        };
                        let mut crc = crc32fast::Hasher::new();
                        crc.update(&job.data);
                        let deflate = deflate_block(&job.data, &job.dictionary, level).1;
                        let _ = job.reply.send(CompressedBlock {
                            deflate,
                            crc,
                            len: job.data.len(),
                        });
                    }
                })
            })
            .collect();
        let (order_tx, order_rx) = sync_channel::<Receiver<CompressedBlock>>(threads * 4);
        let writer = std::thread::spawn(move || write_gzip_member(inner, order_rx));
        ParallelGzip {
            block: Vec::with_capacity(BLOCK_SIZE),
            dictionary: Vec::new(),
            jobs: Some(jobs_tx),
            order: Some(order_tx),
            workers,
            writer: Some(writer),
            failed: None,
        }
    }

    /// The error the writer stopped with, again.
    fn stopped_error(&self) -> Option<io::Error> {
        self.failed.as_ref().map(|(kind, os, message)| match os {
            Some(code) => io::Error::from_raw_os_error(*code),
            None => io::Error::new(*kind, message.clone()),
        })
    }

    fn dispatch(&mut self) -> io::Result<()> {
        if let Some(error) = self.stopped_error() {
            return Err(error);
        }
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK_SIZE));
        let tail = &data[data.len().saturating_sub(DICTIONARY_SIZE)..];
        let dictionary = std::mem::replace(&mut self.dictionary, tail.to_vec());
        let (reply, result) = sync_channel(1);
        let sent = self
            .order
            .as_ref()
            .expect("not finished")
            .send(result)
            .is_ok()
            && self
                .jobs
                .as_ref()
                .expect("not finished")
                .send(Job {
                    data,
                    dictionary,
                    reply,
                })
                .is_ok();
        if sent {
            Ok(())
        } else {
            // The writer stopped early: its error is the one worth reporting.
            let error = self
                .stop()
                .err()
                .unwrap_or_else(|| io::Error::other("gzip writer stopped"));
            self.failed = Some((error.kind(), error.raw_os_error(), error.to_string()));
            Err(error)
        }
    }

    fn stop(&mut self) -> io::Result<(W, Digests)> {
        self.jobs.take();
        self.order.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        match self.writer.take() {
            Some(writer) => writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("gzip writer thread panicked"))),
            None => Err(io::Error::other("gzip stream already finished")),
        }
    }

    /// Compresses what is left, writes the gzip trailer and returns the inner writer with the
    /// digests of the gzip stream written to it.
    pub fn finish(mut self) -> io::Result<(W, Digests)> {
        if let Some(error) = self.stopped_error() {
            return Err(error);
        }
        if !self.block.is_empty() {
            self.dispatch()?;
        }
        self.stop()
    }
}

impl<W: Write + Send + 'static> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK_SIZE - self.block.len();
        let n = buf.len().min(room);
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK_SIZE {
            self.dispatch()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send + 'static> Drop for ParallelGzip<W> {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.stop();
        }
    }
}

/// gzip header with no name and no timestamp (RFC 1952), OS "unknown" for reproducibility.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final fixed-Huffman block: ends the deflate stream after the last sync-flushed block.
const DEFLATE_END: [u8; 2] = [0x03, 0x00];

/// Writes the blocks in order; the digests run on their own threads on the same (shared, not
/// copied) buffers, so this thread only writes.
fn write_gzip_member<W: Write>(
    mut out: W,
    blocks: Receiver<Receiver<CompressedBlock>>,
) -> io::Result<(W, Digests)> {
    let mut digests = ParallelDigests::new();
    let mut emit = |out: &mut W, bytes: Arc<[u8]>| -> io::Result<()> {
        out.write_all(&bytes)?;
        digests.update(bytes);
        Ok(())
    };
    emit(&mut out, Arc::from(&GZIP_HEADER[..]))?;
    let mut crc = crc32fast::Hasher::new();
    let mut length = 0u64;
    for pending in blocks {
        let Ok(block) = pending.recv() else {
            return Err(io::Error::other("a compression thread stopped"));
        };
        emit(&mut out, Arc::from(block.deflate))?;
        crc.combine(&block.crc);
        length += block.len as u64;
    }
    let mut trailer = DEFLATE_END.to_vec();
    trailer.extend_from_slice(&crc.finalize().to_le_bytes());
    trailer.extend_from_slice(&(length as u32).to_le_bytes());
    emit(&mut out, Arc::from(trailer))?;
    out.flush()?;
    Ok((out, digests.finish()))
}

/// How a block was encoded (see `deflate_block`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    /// Deflate stored blocks: random-looking bytes (compressed layers, encrypted data).
    Stored,
    /// Huffman coding only, no string matching: float weights, whose gain is all in the skewed
    /// byte distribution (exponent bytes), not in repeats.
    Huffman,
    /// String matching at the requested level, the previous 32 KiB as dictionary: text,
    /// JSON, code, tar headers.
    Full,
}

/// Decides per block, from its bytes only, and encodes it as a byte-aligned, non-final run.
///
/// The rule (figures on the benchmark cube, see docs/benchmarks.md): three 16 KiB samples
/// (start, middle, end) are encoded twice, Huffman-only and with string matching at level 2
/// (zlib-rs level 1 uses fixed Huffman codes, which expand float weights to ~1.06, so it says
/// nothing about them).
/// - both ≥ `INCOMPRESSIBLE_RATIO` of the samples → stored;
/// - matching beats Huffman-only by more than `MATCH_GAIN` of the samples → `Full` at the
///   requested level (text: 0.16 at level 6 against 0.56 Huffman-only);
/// - otherwise → Huffman-only over the whole block (float32 weights: 0.9265, against 0.9267
///   for gzip -6, at ~3.5× the speed of level 2 and ~4× that of level 6).
///
/// Any encoding larger than the stored form falls back to stored.
fn deflate_block(data: &[u8], dictionary: &[u8], level: u32) -> (Method, Vec<u8>) {
    let method = if level == 0 {
        Method::Stored
    } else {
        choose_method(data)
    };
    let encoded = match method {
        Method::Stored => return (Method::Stored, stored_blocks(data)),
        Method::Huffman => raw_deflate(data, &[], 2, Strategy::HuffmanOnly),
        Method::Full => raw_deflate(data, dictionary, level as i32, Strategy::Default),
    };
    if encoded.len() >= stored_len(data.len()) {
        (Method::Stored, stored_blocks(data))
    } else {
        (method, encoded)
    }
}

/// A block whose samples shrink by less than this fraction either way is stored.
const INCOMPRESSIBLE_RATIO: f64 = 0.97;
/// String matching must save more than this fraction of the samples to be worth its CPU.
const MATCH_GAIN: f64 = 0.01;
const SAMPLE_SIZE: usize = 16 * 1024;
/// The deflate window: how far back a block may refer into the previous one.
const DICTIONARY_SIZE: usize = 32 * 1024;

fn choose_method(data: &[u8]) -> Method {
    let samples: Vec<&[u8]> = if data.len() < 4 * SAMPLE_SIZE {
        vec![data]
    } else {
        [
            0,
            data.len() / 2 - SAMPLE_SIZE / 2,
            data.len() - SAMPLE_SIZE,
        ]
        .iter()
        .map(|&start| &data[start..start + SAMPLE_SIZE])
        .collect()
    };
    let (mut total, mut huffman, mut matched) = (0usize, 0usize, 0usize);
    for sample in samples {
        total += sample.len();
        huffman += raw_deflate(sample, &[], 2, Strategy::HuffmanOnly).len();
        matched += raw_deflate(sample, &[], 2, Strategy::Default).len();
    }
    let total = total as f64;
    if huffman as f64 >= total * INCOMPRESSIBLE_RATIO
        && matched as f64 >= total * INCOMPRESSIBLE_RATIO
    {
        Method::Stored
    } else if (matched as f64) < huffman as f64 - total * MATCH_GAIN {
        Method::Full
    } else {
        Method::Huffman
    }
}

/// Raw deflate of `data`, sync-flushed so that the run ends on a byte boundary and the next
/// block can follow it in the same stream.
fn raw_deflate(data: &[u8], dictionary: &[u8], level: i32, strategy: Strategy) -> Vec<u8> {
    let mut deflate = Deflate::new_with_config(DeflateConfig {
        level,
        window_bits: -15,
        strategy,
        ..DeflateConfig::default()
    });
    if !dictionary.is_empty() {
        deflate
            .set_dictionary(dictionary)
            .expect("a dictionary of at most 32 KiB is accepted");
    }
    let mut out = vec![0u8; zlib_rs::compress_bound(data.len()) + 64];
    loop {
        let (consumed, produced) = (deflate.total_in() as usize, deflate.total_out() as usize);
        deflate
            .compress(
                &data[consumed..],
                &mut out[produced..],
                DeflateFlush::SyncFlush,
            )
            .expect("deflate of an in-memory buffer cannot fail");
        // A sync flush is complete once all input is in and output space was left over.
        if deflate.total_in() as usize == data.len() && (deflate.total_out() as usize) < out.len() {
            break;
        }
        let grown = out.len() * 2;
        out.resize(grown, 0);
    }
    out.truncate(deflate.total_out() as usize);
    out
}

fn stored_len(len: usize) -> usize {
    len + len.div_ceil(65535).max(1) * 5
}

/// Deflate "stored" blocks (RFC 1951 §3.2.4), non-final, starting on a byte boundary.
fn stored_blocks(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored_len(data.len()));
    for chunk in data.chunks(65535) {
        let len = chunk.len() as u16;
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn gzip_parallel(data: &[u8], threads: usize) -> Vec<u8> {
        let mut gz = ParallelGzip::new(Vec::new(), ArchiveOptions { level: 6, threads });
        gz.write_all(data).unwrap();
        gz.finish().unwrap().0
    }

    fn pseudo_random(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn round_trips_mixed_data_and_is_independent_of_thread_count() {
        let mut data = b"hello world ".repeat(300_000);
        data.extend(pseudo_random(3 * BLOCK_SIZE + 12345));
        data.extend(b"tail".repeat(1000));
        let one = gzip_parallel(&data, 1);
        let four = gzip_parallel(&data, 4);
        assert_eq!(one, four, "output must not depend on the thread count");
        assert_eq!(gunzip(&one), data);
    }

    #[test]
    fn stores_incompressible_blocks_with_little_overhead() {
        let data = pseudo_random(4 * BLOCK_SIZE);
        let gz = gzip_parallel(&data, 2);
        assert_eq!(gunzip(&gz), data);
        assert!(
            gz.len() < data.len() + data.len() / 1000 + 64,
            "{} vs {}",
            gz.len(),
            data.len()
        );
    }

    /// float32 values of a normal distribution, like trained weights.
    fn float_weights(len: usize) -> Vec<u8> {
        let raw = pseudo_random(len);
        raw.chunks(8)
            .flat_map(|c| {
                let u1 = (u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64 + 1.0) / 4294967297.0;
                let u2 = u32::from_le_bytes([c[4], c[5], c[6], c[7]]) as f64 / 4294967296.0;
                let r = (-2.0 * u1.ln()).sqrt() * 0.02;
                let t = std::f64::consts::TAU * u2;
                [(r * t.cos()) as f32, (r * t.sin()) as f32]
            })
            .flat_map(f32::to_le_bytes)
            .collect()
    }

    #[test]
    fn each_kind_of_block_gets_its_encoding() {
        let text: Vec<u8> = (0..BLOCK_SIZE / 16)
            .flat_map(|i| format!("layer_{:05}.w {}\n", i * 7919 % 5000, i % 97).into_bytes())
            .take(BLOCK_SIZE)
            .collect();
        let floats = float_weights(BLOCK_SIZE);
        let random = pseudo_random(BLOCK_SIZE);
        for (data, want) in [
            (&text, Method::Full),
            (&floats, Method::Huffman),
            (&random, Method::Stored),
        ] {
            let (method, encoded) = deflate_block(data, &[], 6);
            assert_eq!(method, want);
            let mut decoded = Vec::new();
            flate2::read::DeflateDecoder::new(&encoded[..])
                .read_to_end(&mut decoded)
                .unwrap_or_default();
            assert_eq!(&decoded, data, "{want:?} round-trips");
        }
        let (_, floats_encoded) = deflate_block(&floats, &[], 6);
        let ratio = floats_encoded.len() as f64 / floats.len() as f64;
        assert!(ratio < 0.95, "float weights still shrink: {ratio}");
        assert_eq!(deflate_block(&text, &[], 0).0, Method::Stored);
    }

    #[test]
    fn blocks_referring_to_the_previous_one_decode_and_do_not_depend_on_threads() {
        // Text repeating every 600 KiB: the second copy straddles blocks, so the dictionary is
        // what finds it.
        let unit: Vec<u8> = (0..40_000)
            .flat_map(|i| format!("{} ", i * 31 % 9973).into_bytes())
            .take(600 * 1024)
            .collect();
        let mut data = unit.repeat(4);
        data.extend(float_weights(2 * BLOCK_SIZE));
        let one = gzip_parallel(&data, 1);
        assert_eq!(one, gzip_parallel(&data, 3));
        assert_eq!(gunzip(&one), data);
    }

    #[test]
    fn empty_input_is_a_valid_gzip_stream() {
        let gz = gzip_parallel(b"", 2);
        assert!(gunzip(&gz).is_empty());
    }

    fn archive_after(change: impl FnOnce(&Path)) -> Result<Digests, String> {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        std::fs::create_dir(&source).unwrap();
        std::fs::write(source.join("weights.bin"), vec![7u8; 100_000]).unwrap();
        let entries = collect_entries(&source).unwrap();
        change(&source.join("weights.bin"));
        write_tar_gz(
            &entries,
            &dir.path().join("out.tar.gz"),
            ArchiveOptions::default(),
        )
        .map_err(|e| match e {
            PackageError::Input(input) => input.to_string(),
            PackageError::Io(failure) => panic!("a changed file is the input's fault: {failure}"),
        })
    }

    #[test]
    fn files_read_ahead_enter_the_archive_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        std::fs::create_dir(&source).unwrap();
        // More small files than the read-ahead window, with a large one in the middle.
        for i in 0..(3 * READ_AHEAD_FILES) {
            std::fs::write(
                source.join(format!("f{i:04}.json")),
                format!("{{\"i\": {i}}}"),
            )
            .unwrap();
        }
        std::fs::write(
            source.join("f0100.bin"),
            pseudo_random(READ_AHEAD_MAX_FILE as usize + 1),
        )
        .unwrap();
        let out = dir.path().join("out.tar.gz");
        write_tar_gz(
            &collect_entries(&source).unwrap(),
            &out,
            ArchiveOptions::default(),
        )
        .unwrap();
        let bytes = gunzip(&std::fs::read(&out).unwrap());
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            assert_eq!(
                content,
                std::fs::read(source.join(&name)).unwrap(),
                "{name}"
            );
            names.push(name);
        }
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 3 * READ_AHEAD_FILES + 1);
    }

    #[test]
    fn a_file_that_changes_size_or_vanishes_while_packaging_is_refused() {
        let grew = archive_after(|file| {
            let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
            f.write_all(b"more").unwrap();
        });
        assert!(grew.unwrap_err().contains("changed size"));
        let shrank = archive_after(|file| std::fs::write(file, b"short").unwrap());
        assert!(shrank.unwrap_err().contains("shrank"));
        let vanished = archive_after(|file| std::fs::remove_file(file).unwrap());
        let vanished = vanished.unwrap_err();
        assert!(
            vanished.contains("weights.bin") && vanished.contains("vanished while being packaged"),
            "{vanished}"
        );
        assert!(archive_after(|_| {}).is_ok());
    }

    /// A disk that fills up after `room` bytes.
    struct FullDisk {
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from_raw_os_error(28));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_is_reported_by_every_later_write_and_by_finish() {
        // One thread and stored blocks: the queues (a few blocks deep) fill up quickly, so
        // writes see the writer's failure, and the writes after it (as the tar writer makes
        // for its end blocks) and `finish` used to panic on the stopped queues.
        let options = ArchiveOptions {
            level: 0,
            threads: 1,
        };
        let mut gzip = ParallelGzip::new(FullDisk { room: 1000 }, options);
        let block = vec![0u8; BLOCK_SIZE];
        let mut errors = Vec::new();
        for _ in 0..32 {
            if let Err(e) = gzip.write_all(&block) {
                errors.push(e);
            }
        }
        let finished = gzip.finish().map(|_| ()).unwrap_err();
        errors.push(finished);
        assert!(errors.len() >= 2, "{errors:?}");
        for error in errors {
            assert_eq!(error.kind(), io::ErrorKind::StorageFull, "{error}");
        }
    }

    #[test]
    fn links_that_leave_the_folder_are_refused() {
        let ok = check_link_stays_inside(Path::new("/r/a/l"), Path::new("a/l"), Path::new("../b"));
        assert!(ok.is_ok());
        let escape = check_link_stays_inside(
            Path::new("/r/a/l"),
            Path::new("a/l"),
            Path::new("../../etc"),
        );
        assert!(escape.unwrap_err().message.contains("outside the folder"));
        let absolute =
            check_link_stays_inside(Path::new("/r/l"), Path::new("l"), Path::new("/etc/passwd"));
        assert!(absolute.unwrap_err().message.contains("absolute path"));
    }
}
