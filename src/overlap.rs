//! `package-and-publish` with packaging, upload and verification overlapped: while an archive
//! is still being compressed, its finished parts already go to a staging key on every
//! destination that supports staged uploads (`Capabilities::max_staged_size`); once packaging
//! knows the archive's hash, each staged object is promoted server-side to its
//! content-addressed key and verified, concurrently with the other components.
//!
//! The rule against wasted uploads (docs/architecture.md, "Overlap"): a destination gets a
//! speculative staged upload unless the previous deploy folder's archive is already stored
//! at its content-addressed key there *and* the new archive, compared as it is written, is
//! byte for byte that same archive. The comparison starts the staged upload at the first byte
//! that differs (from offset 0: the parts written so far are read back), so a changed cube
//! loses no overlap beyond the unchanged prefix, and an unchanged one uploads nothing.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cubeship_provider::digest::Digests;
use cubeship_provider::journal::Journal;
use cubeship_provider::staged::{Staged, StagedRequest, staging_key};
use cubeship_provider::{Error, ErrorKind, GrowingSource, Progress, Provider};
use tokio::sync::{mpsc, watch};

use crate::destinations::Target;
use crate::error::Failure;
use crate::mlcube::MlCube;
use crate::package::{Component, MANIFEST_JSON, Manifest, PackageOptions, Packaged};
use crate::publish::{Item, PublishOptions};
use crate::report::PublishReport;
use crate::reporter::Reporter;

/// Archives smaller than this are not staged: they are packaged in a moment, and a staged
/// upload costs three more requests (complete, copy, delete) than a direct one.
pub const MIN_STAGED_SIZE: u64 = 64 * 1024 * 1024;

/// How often a reader waiting for the archive writer looks at the file's length again (the
/// writer also wakes it when it finishes).
const POLL: Duration = Duration::from_millis(20);

/// Bytes compared at once between the archive being written and the previous one.
const COMPARE_CHUNK: u64 = 4 * 1024 * 1024;

/// Where a writer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriterState {
    Writing,
    Done(u64),
    Failed,
}

/// An archive being written by packaging, read through one handle opened when it was created
/// (the staging deploy folder is renamed into place at the end; the handle stays valid).
pub struct GrowingFile {
    file: Arc<std::fs::File>,
    state: watch::Receiver<WriterState>,
    size_hint: u64,
}

#[async_trait]
impl GrowingSource for GrowingFile {
    async fn read_at(&self, offset: u64, length: u64) -> cubeship_provider::Result<Bytes> {
        let mut state = self.state.clone();
        let end = loop {
            let now = *state.borrow_and_update();
            match now {
                WriterState::Done(size) => break offset.saturating_add(length).min(size),
                WriterState::Failed => {
                    return Err(Error::new(
                        ErrorKind::Other,
                        "packaging the archive failed; the staged upload is dropped",
                    ));
                }
                WriterState::Writing => {
                    let written = self.file.metadata().map(|m| m.len()).unwrap_or(0);
                    // Bytes below the length are final: the writer appends and never seeks.
                    if written >= offset + length {
                        break offset + length;
                    }
                }
            }
            tokio::select! {
                changed = state.changed() => {
                    if changed.is_err() && *state.borrow() == WriterState::Writing {
                        return Err(Error::new(ErrorKind::Other, "packaging stopped before the archive was complete"));
                    }
                }
                _ = tokio::time::sleep(POLL) => {}
            }
        };
        if end <= offset {
            return Ok(Bytes::new());
        }
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let mut buffer = vec![0; (end - offset) as usize];
            file.read_exact_at(&mut buffer, offset)
                .map(|()| Bytes::from(buffer))
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Other, format!("reading the archive: {e}")))?
        .map_err(|e| Error::new(ErrorKind::Other, format!("reading the archive: {e}")))
    }

    async fn final_size(&self) -> cubeship_provider::Result<u64> {
        let mut state = self.state.clone();
        loop {
            match *state.borrow_and_update() {
                WriterState::Done(size) => return Ok(size),
                WriterState::Failed => {
                    return Err(Error::new(ErrorKind::Other, "packaging the archive failed"));
                }
                WriterState::Writing => {}
            }
            if state.changed().await.is_err() && *state.borrow() == WriterState::Writing {
                return Err(Error::new(
                    ErrorKind::Other,
                    "packaging stopped before the archive was complete",
                ));
            }
        }
    }

    fn size_hint(&self) -> u64 {
        self.size_hint
    }
}

/// An archive packaging started.
struct Started {
    file: String,
    source: Arc<GrowingFile>,
}

/// The reporter packaging runs with: forwards everything to the real one, and announces each
/// archive it starts, then tells its readers when it is complete.
struct Observer {
    inner: Arc<dyn Reporter>,
    started: mpsc::UnboundedSender<Started>,
    writers: Mutex<HashMap<String, watch::Sender<WriterState>>>,
}

impl Reporter for Observer {
    fn step_started(&self, message: &str) -> u64 {
        self.inner.step_started(message)
    }

    fn step_done(&self, id: u64) {
        self.inner.step_done(id)
    }

    fn transfer_started(&self, label: &str, total: u64) -> Arc<dyn Progress> {
        self.inner.transfer_started(label, total)
    }

    fn warning(&self, message: &str) {
        self.inner.warning(message)
    }

    fn archive_started(&self, file: &str, path: &Path, tar_size: u64) {
        let Ok(handle) = std::fs::File::open(path) else {
            // Not readable: this archive just takes the sequential path.
            return;
        };
        let (sender, state) = watch::channel(WriterState::Writing);
        self.writers
            .lock()
            .expect("writers lock")
            .insert(file.to_string(), sender);
        let _ = self.started.send(Started {
            file: file.to_string(),
            source: Arc::new(GrowingFile {
                file: Arc::new(handle),
                state,
                size_hint: tar_size,
            }),
        });
    }

    fn archive_finished(&self, file: &str, digests: Option<&Digests>) {
        if let Some(sender) = self.writers.lock().expect("writers lock").remove(file) {
            let _ = sender.send(match digests {
                Some(digests) => WriterState::Done(digests.size),
                None => WriterState::Failed,
            });
        }
    }
}

/// The previous deploy folder's copy of an archive, opened before packaging replaces it.
struct PreviousArchive {
    component: Component,
    file: Arc<std::fs::File>,
}

/// What became of one speculative staged upload.
enum Outcome {
    /// The bytes wait at a staging key.
    Staged(Staged),
    /// Not staged: the previous archive is already published there and the new one is the
    /// same (or staging was not worth it); the ordinary path finds it unchanged.
    Skipped,
    /// The staged upload failed; the ordinary path uploads the file instead.
    Failed(Error),
}

/// Aborts a task when dropped (Ctrl-C drops the whole publish future).
struct AbortOnDrop(tokio::task::JoinHandle<Outcome>);

impl AbortOnDrop {
    /// Waits for the task; `None` when it panicked or was aborted. Dropped while waiting, it
    /// still aborts the task.
    async fn join(mut self) -> Option<Outcome> {
        (&mut self.0).await.ok()
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The staged uploads of one run, by (file, destination as written).
#[derive(Default)]
pub struct StagedUploads {
    tasks: Mutex<HashMap<(String, String), AbortOnDrop>>,
}

impl StagedUploads {
    /// Waits for the staged upload of `file` to `destination`, if one was started; `None`:
    /// upload it the ordinary way.
    pub async fn take(&self, file: &str, destination: &str) -> Option<Staged> {
        let task = self
            .tasks
            .lock()
            .expect("tasks lock")
            .remove(&(file.to_string(), destination.to_string()))?;
        match task.join().await {
            Some(Outcome::Staged(staged)) => Some(staged),
            Some(Outcome::Skipped) | None => None,
            Some(Outcome::Failed(e)) => {
                tracing::warn!(
                    "{destination}: the upload of {file} during packaging failed ({e}); uploading it now"
                );
                None
            }
        }
    }

    /// Waits for every staged upload still unclaimed and deletes what it staged (packaging
    /// failed, or publishing did not claim it).
    async fn discard_all(&self, targets: &[Target]) {
        let tasks: Vec<_> = self.tasks.lock().expect("tasks lock").drain().collect();
        for ((_, destination), task) in tasks {
            if let Some(Outcome::Staged(staged)) = task.join().await
                && let Some(target) = targets.iter().find(|t| t.spec == destination)
            {
                target.provider.discard_staged(&staged).await;
            }
        }
    }
}

/// The journal of staged uploads for `deploy_dir`: next to it, not in it, because packaging
/// replaces the deploy folder while staged uploads run.
pub fn staged_journal(deploy_dir: &Path) -> Journal {
    let name = deploy_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "deploy".into());
    let parent = deploy_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Journal::at(parent.join(format!(".{name}.cubeship-staged.json")))
}

/// The archives of the previous deploy folder, by file name, opened now: packaging replaces
/// the folder, and the open handles keep the old bytes readable for the comparison.
fn previous_archives(deploy_dir: &Path) -> HashMap<String, PreviousArchive> {
    let Ok(text) = std::fs::read_to_string(deploy_dir.join(MANIFEST_JSON)) else {
        return HashMap::new();
    };
    let Ok(manifest) = serde_json::from_str::<Manifest>(&text) else {
        return HashMap::new();
    };
    manifest
        .components
        .into_iter()
        .filter(|c| c.file.ends_with(".tar.gz"))
        .filter_map(|component| {
            let file = std::fs::File::open(deploy_dir.join(&component.file)).ok()?;
            // A copy edited since it was packaged is no prediction of anything.
            (file.metadata().ok()?.len() == component.size).then(|| {
                (
                    component.file.clone(),
                    PreviousArchive {
                        component,
                        file: Arc::new(file),
                    },
                )
            })
        })
        .collect()
}

/// Whether the archive being written turns out byte for byte the same as `previous`; reads
/// it as it is written, and answers `false` at the first difference.
async fn same_as_previous(source: &GrowingFile, previous: &PreviousArchive) -> bool {
    let size = previous.component.size;
    let mut offset = 0;
    loop {
        let Ok(new) = source.read_at(offset, COMPARE_CHUNK).await else {
            return false;
        };
        let length = (new.len() as u64).min(size.saturating_sub(offset));
        let mut old = vec![0; length as usize];
        let file = previous.file.clone();
        let read =
            tokio::task::spawn_blocking(move || file.read_exact_at(&mut old, offset).map(|()| old))
                .await;
        let Ok(Ok(old)) = read else {
            return false;
        };
        if old[..] != new[..] {
            return false;
        }
        offset += new.len() as u64;
        if (new.len() as u64) < COMPARE_CHUNK {
            return offset == size;
        }
    }
}

/// Everything one speculative staged upload needs, owned (it runs as its own task).
struct StagedJob {
    file: String,
    target: Target,
    source: Arc<GrowingFile>,
    /// The previous archive and its content-addressed key on this target.
    previous: Option<(Arc<PreviousArchive>, cubeship_provider::ObjectKey)>,
    run_id: String,
    journal: Journal,
    reporter: Arc<dyn Reporter>,
}

impl StagedJob {
    async fn run(self) -> Outcome {
        let provider = &self.target.provider;
        if let Some((previous, key)) = &self.previous {
            let asset = Item::from_component(Path::new(""), &previous.component).asset;
            let published = matches!(
                provider.head(key, &asset).await,
                Ok(Some(remote)) if remote.size == asset.size
                    && remote.sha256.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&asset.sha256))
            );
            if published && same_as_previous(&self.source, previous).await {
                return Outcome::Skipped;
            }
        }
        let progress = self.reporter.transfer_started(
            &format!("{} → {} (while packaging)", self.file, self.target.spec),
            self.source.size_hint(),
        );
        let key = staging_key(&self.run_id, &self.file);
        let request = StagedRequest {
            source: self.source.clone(),
            key: &key,
            progress,
            journal: Some(&self.journal),
        };
        match provider.upload_staged(&request).await {
            Ok(staged) => Outcome::Staged(staged),
            Err(e) => Outcome::Failed(e),
        }
    }
}

/// Whether `target` takes a staged upload of an archive of about `tar_size` bytes.
fn stages(provider: &dyn Provider, tar_size: u64) -> bool {
    // Compressed output can exceed its input by a little (incompressible data): 1 % margin.
    let bound = tar_size + tar_size / 100;
    tar_size >= MIN_STAGED_SIZE
        && provider
            .capabilities()
            .max_staged_size
            .is_some_and(|limit| bound <= limit)
}

/// Packages `cube` and publishes it to `targets`, overlapping the two where the targets
/// support staged uploads; the packaged folder and the report, as `package` followed by
/// `publish::publish` would give them.
pub async fn package_and_publish(
    cube: MlCube,
    package_options: PackageOptions,
    targets: &[Target],
    options: &PublishOptions,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<(Packaged, PublishReport)> {
    let deploy_dir = package_options
        .deploy_dir
        .clone()
        .unwrap_or_else(|| cube.root.join("deploy"));
    crate::package::repair_deploy_dir(&deploy_dir);
    let previous: HashMap<String, Arc<PreviousArchive>> = previous_archives(&deploy_dir)
        .into_iter()
        .map(|(file, archive)| (file, Arc::new(archive)))
        .collect();
    let name = cube.name.clone();
    let journal = staged_journal(&deploy_dir);
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let (started, mut announcements) = mpsc::unbounded_channel();
    let observer = Observer {
        inner: reporter.clone(),
        started,
        writers: Mutex::new(HashMap::new()),
    };
    let mut packaging = tokio::task::spawn_blocking(move || {
        let _step = crate::reporter::Step::start(&observer, &format!("packaging {}", cube.name));
        crate::package::package_reporting(&cube, &package_options, &observer)
    });
    let staged = Arc::new(StagedUploads::default());
    let packaged = loop {
        tokio::select! {
            Some(archive) = announcements.recv() => {
                for target in targets {
                    if !stages(target.provider.as_ref(), archive.source.size_hint()) {
                        continue;
                    }
                    let previous = previous.get(&archive.file).and_then(|p| {
                        let item = Item::from_component(Path::new(""), &p.component);
                        let keys = crate::publish::plan(
                            &name,
                            std::slice::from_ref(&item),
                            std::slice::from_ref(target),
                            options.key_template.as_deref(),
                        )
                        .ok()?;
                        Some((p.clone(), keys.into_iter().next()?.into_iter().next()?))
                    });
                    let job = StagedJob {
                        file: archive.file.clone(),
                        target: target.clone(),
                        source: archive.source.clone(),
                        previous,
                        run_id: run_id.clone(),
                        journal: journal.clone(),
                        reporter: reporter.clone(),
                    };
                    staged.tasks.lock().expect("tasks lock").insert(
                        (archive.file.clone(), target.spec.clone()),
                        AbortOnDrop(tokio::spawn(job.run())),
                    );
                }
            }
            result = &mut packaging => break result,
        }
    };
    let packaged: Packaged = match packaged {
        Ok(Ok(packaged)) => packaged,
        Ok(Err(e)) => {
            staged.discard_all(targets).await;
            return Err(e.into());
        }
        Err(e) => {
            staged.discard_all(targets).await;
            return Err(Failure(format!("packaging stopped: {e}")).into());
        }
    };
    let options = PublishOptions {
        staged: Some(staged.clone()),
        ..options.clone()
    };
    let report = crate::publish::publish(
        &packaged.deploy_dir,
        &packaged.manifest,
        targets,
        &options,
        reporter.as_ref(),
    )
    .await;
    // Anything staged and not claimed (a component the report left out) is deleted.
    staged.discard_all(targets).await;
    Ok((packaged, report?))
}
