//! The combined report of a batch run (`cubeship package-and-publish DIR1 DIR2 …`): one entry
//! per MLCube, in the order given, each with its own publish report and medperf command, or
//! the error that stopped that cube. One broken cube does not stop the others. A single cube's
//! run keeps printing a plain `PublishReport` (docs/report.md).

use serde::{Deserialize, Serialize};

use crate::report::PublishReport;

/// One MLCube of a batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchEntry {
    /// The MLCube folder as given.
    pub path: String,
    /// The cube's name, once its folder was read.
    pub name: Option<String>,
    /// Every component is in place and verified (or, with `--dry-run`, planned).
    pub published: bool,
    /// What stopped this cube (bad input, packaging, planning); `null` when it was published
    /// or when its failures are per upload (see `report`).
    pub error: Option<String>,
    /// The registration command, as in `report.medperf_command`.
    pub medperf_command: Option<String>,
    /// The cube's publish report (also written to its deploy folder's publish.json); `null`
    /// when the cube stopped before publishing.
    pub report: Option<PublishReport>,
}

/// The whole batch (`--json` of a run with several MLCubes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchReport {
    /// Bumped on incompatible changes.
    pub schema_version: u32,
    /// Every cube was published.
    pub all_published: bool,
    /// One per MLCube, in the order given.
    pub mlcubes: Vec<BatchEntry>,
}

impl BatchReport {
    /// The report of `entries`.
    pub fn new(mlcubes: Vec<BatchEntry>) -> Self {
        BatchReport {
            schema_version: 1,
            all_published: mlcubes.iter().all(|e| e.published),
            mlcubes,
        }
    }
}

/// A per-cube path from a template given once for the batch: `{name}` becomes the cube's
/// name. `None` when `template` has no `{name}` (several cubes would share the path).
pub fn per_cube_path(template: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    let text = template.to_string_lossy();
    text.contains("{name}")
        .then(|| std::path::PathBuf::from(text.replace("{name}", name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn templates_need_the_name() {
        assert_eq!(
            per_cube_path(Path::new("dist/{name}.tar.gz"), "cube-a"),
            Some("dist/cube-a.tar.gz".into())
        );
        assert_eq!(per_cube_path(Path::new("dist/all.tar.gz"), "cube-a"), None);
    }

    #[test]
    fn all_published_only_when_every_entry_is() {
        let entry = |published| BatchEntry {
            path: "p".into(),
            name: None,
            published,
            error: None,
            medperf_command: None,
            report: None,
        };
        assert!(BatchReport::new(vec![entry(true), entry(true)]).all_published);
        assert!(!BatchReport::new(vec![entry(true), entry(false)]).all_published);
    }
}
