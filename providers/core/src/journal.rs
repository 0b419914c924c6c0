//! The upload journal: in-flight resumable uploads (an S3 multipart upload id, ...) recorded
//! in `<deploy>/.cubeship-uploads.json`, so that a run killed with no chance to clean up
//! (kill -9, power loss) leaves a note the next run reads: same local bytes, it resumes;
//! other bytes, it aborts the stale upload. Written atomically (temporary file + rename),
//! readable by the user only (a GCS session URI lets whoever holds it write the object).
//!
//! Entries carry the process id of their run: a run only resumes or aborts the uploads of
//! runs that are gone (two runs at once never take over each other's live upload). Runs of
//! one process share a lock; two processes writing the file at the same instant may lose an
//! entry (that upload is then not resumed; never corrupted: entries are checked against the
//! local sha256 and the store before use).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The journal's file name inside the deploy folder.
pub const JOURNAL_FILE: &str = ".cubeship-uploads.json";

static LOCK: Mutex<()> = Mutex::new(());

/// One in-flight upload.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalEntry {
    /// The store's handle of the upload (S3 upload id, a GCS resumable session URI: a secret).
    pub upload_id: String,
    /// The local file's sha256 when the upload started.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// How it was cut into parts.
    pub part_size: u64,
    /// The process that recorded it.
    #[serde(default)]
    pub pid: u32,
}

impl JournalEntry {
    /// Whether the run that recorded it has ended (where `/proc` tells; elsewhere every
    /// other run is taken as ended).
    pub fn is_abandoned(&self) -> bool {
        self.pid != std::process::id()
            && (!Path::new("/proc/self").exists()
                || !Path::new(&format!("/proc/{}", self.pid)).exists())
    }
}

/// The journal of one deploy folder.
#[derive(Clone, Debug)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// The journal in `dir` (the file need not exist).
    pub fn in_dir(dir: &Path) -> Self {
        Journal {
            path: dir.join(JOURNAL_FILE),
        }
    }

    /// The journal in the file `path` (staged uploads of `package-and-publish`, which start
    /// before the deploy folder they belong to exists).
    pub fn at(path: PathBuf) -> Self {
        Journal { path }
    }

    fn read(&self) -> BTreeMap<String, JournalEntry> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    fn write(&self, entries: &BTreeMap<String, JournalEntry>) {
        if entries.is_empty() {
            let _ = std::fs::remove_file(&self.path);
            return;
        }
        let partial = self
            .path
            .with_extension(format!("json.partial-{}", std::process::id()));
        let text = serde_json::to_string_pretty(entries).expect("journal serialises");
        let written = private_file(&partial).and_then(|mut file| {
            use std::io::Write;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&partial, &self.path)
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial);
            tracing::warn!(
                "cannot write {} ({e}); a killed run could not resume",
                self.path.display()
            );
        }
    }

    fn slot(id: &str, pid: u32) -> String {
        format!("{id}#{pid}")
    }

    /// The entries recorded for `id` (a provider's name for the object: `s3://bucket/key`)
    /// by runs that have ended: the uploads to resume or abort.
    pub fn abandoned(&self, id: &str) -> Vec<JournalEntry> {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        self.read()
            .into_iter()
            .filter(|(slot, entry)| {
                slot.rsplit_once('#').map(|(i, _)| i) == Some(id) && entry.is_abandoned()
            })
            .map(|(_, entry)| entry)
            .collect()
    }

    /// The entries of ended runs whose id satisfies `wanted`, with their ids: e.g. the other
    /// versions of one component (content-addressed keys differ by version), which this
    /// deploy folder no longer holds and no run can resume.
    pub fn abandoned_where(&self, wanted: impl Fn(&str) -> bool) -> Vec<(String, JournalEntry)> {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        self.read()
            .into_iter()
            .filter_map(|(slot, entry)| {
                let (id, _) = slot.rsplit_once('#')?;
                (wanted(id) && entry.is_abandoned()).then(|| (id.to_string(), entry))
            })
            .collect()
    }

    /// The entries whose id starts with `prefix`, recorded by runs that have ended, with
    /// their ids: the staged uploads a killed run left under a staging folder.
    pub fn abandoned_under(&self, prefix: &str) -> Vec<(String, JournalEntry)> {
        self.abandoned_where(|id| id.starts_with(prefix))
    }

    /// Records `entry` (for this process) under `id`.
    pub fn put(&self, id: &str, mut entry: JournalEntry) {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        entry.pid = std::process::id();
        let mut entries = self.read();
        entries.insert(Self::slot(id, entry.pid), entry);
        self.write(&entries);
    }

    /// Forgets the entry of `id` recorded by process `pid` (the upload completed or was
    /// aborted, or this run took it over).
    pub fn remove(&self, id: &str, pid: u32) {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries = self.read();
        if entries.remove(&Self::slot(id, pid)).is_some() {
            self.write(&entries);
        }
    }
}

/// Creates `path` readable and writable by the user only: a GCS session URI in the journal is
/// a capability to write the object.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_in_the_file_and_an_empty_journal_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::in_dir(dir.path());
        let entry = JournalEntry {
            upload_id: "u1".into(),
            sha256: "ab".into(),
            size: 3,
            part_size: 1,
            pid: 0,
        };
        journal.put("s3://b/k", entry.clone());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(JOURNAL_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "the journal is private");
        }
        // This process's own entry is live, not abandoned.
        assert!(Journal::in_dir(dir.path()).abandoned("s3://b/k").is_empty());
        let dead = JournalEntry {
            pid: u32::MAX - 1,
            ..entry.clone()
        };
        let mut entries = journal.read();
        entries.insert(Journal::slot("s3://b/k", dead.pid), dead.clone());
        journal.write(&entries);
        assert_eq!(journal.abandoned("s3://b/k"), vec![dead.clone()]);
        assert_eq!(
            journal.abandoned_where(|id| id.starts_with("s3://b/")),
            vec![("s3://b/k".to_string(), dead.clone())]
        );
        assert!(
            journal
                .abandoned_where(|id| id == "s3://b/other")
                .is_empty()
        );
        journal.remove("s3://b/k", dead.pid);
        journal.remove("s3://b/k", std::process::id());
        assert!(!dir.path().join(JOURNAL_FILE).exists());
    }
}
