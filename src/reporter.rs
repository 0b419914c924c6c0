//! How the library tells its caller what it is doing, without drawing anything itself (the
//! shape of uv's publish reporter): steps without a byte count, transfers with one, and
//! warnings. The CLI implements it with indicatif bars on stderr; library callers and tests
//! use `NoReporter`.

use std::sync::Arc;

use cubeship_provider::{NoProgress, Progress};

/// Receives progress from packaging, publishing and verification.
pub trait Reporter: Send + Sync {
    /// A step without a byte count starts (packaging a cube, verifying a URL). The returned
    /// id is passed to `step_done` when it ends.
    fn step_started(&self, message: &str) -> u64;

    /// The step `id` ended.
    fn step_done(&self, id: u64);

    /// A transfer of `total` bytes starts; byte counts go to the returned `Progress`, which
    /// is dropped when the transfer ends.
    fn transfer_started(&self, label: &str, total: u64) -> Arc<dyn Progress>;

    /// Something the user should know that is not an error.
    fn warning(&self, message: &str);

    /// Packaging starts writing the archive `file` of the deploy folder at `path` (created,
    /// still empty; written front to back, never rewritten) from `tar_size` bytes of tar
    /// stream. A caller that uploads while packaging opens it here.
    fn archive_started(&self, _file: &str, _path: &std::path::Path, _tar_size: u64) {}

    /// The archive `file` is complete with `digests`; `None`: writing it failed.
    fn archive_finished(&self, _file: &str, _digests: Option<&cubeship_provider::digest::Digests>) {
    }
}

/// Reports nowhere.
pub struct NoReporter;

impl Reporter for NoReporter {
    fn step_started(&self, _message: &str) -> u64 {
        0
    }

    fn step_done(&self, _id: u64) {}

    fn transfer_started(&self, _label: &str, _total: u64) -> Arc<dyn Progress> {
        Arc::new(NoProgress)
    }

    fn warning(&self, message: &str) {
        tracing::warn!("{message}");
    }
}

/// A running step, ended when dropped (also on early return and cancellation).
pub struct Step<'a> {
    reporter: &'a dyn Reporter,
    id: u64,
}

impl<'a> Step<'a> {
    /// Starts a step on `reporter`.
    pub fn start(reporter: &'a dyn Reporter, message: &str) -> Self {
        Step {
            id: reporter.step_started(message),
            reporter,
        }
    }
}

impl Drop for Step<'_> {
    fn drop(&mut self) {
        self.reporter.step_done(self.id);
    }
}
