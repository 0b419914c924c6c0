//! The publish report: per component its hashes and, per destination, URL, status and
//! verification; the ready `medperf … submit` command. Written to `<deploy>/publish.json`
//! and printed by the CLI as a table or as JSON (schema in docs/report.md).

use serde::{Deserialize, Serialize};

use crate::package::{CubeInfo, Role};

/// The report's file name in the deploy folder.
pub const PUBLISH_JSON: &str = "publish.json";

/// What happened to one component on one destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    /// Sent by this run.
    Uploaded,
    /// Already there with the same sha256; nothing sent.
    Unchanged,
    /// Upload or verification did not complete; see `error`.
    Failed,
    /// `--dry-run`: would be uploaded.
    Planned,
}

/// One component on one destination.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UploadReport {
    /// The destination as given with `--to` (no secrets).
    pub destination: String,
    /// Object key under the destination.
    pub key: String,
    /// The anonymous GET URL.
    pub url: Option<String>,
    /// What happened.
    pub status: UploadStatus,
    /// The URL was downloaded as MedPerf will and served exactly these bytes.
    pub verified: bool,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl UploadReport {
    /// Whether this URL can be given to MedPerf: in place and (unless verification was
    /// skipped) verified.
    pub fn is_published(&self, verification_required: bool) -> bool {
        matches!(
            self.status,
            UploadStatus::Uploaded | UploadStatus::Unchanged
        ) && self.error.is_none()
            && (self.verified || !verification_required)
    }
}

/// Where MedPerf gets a container's image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageSource {
    /// A file cubeship hosted (the `image` component).
    File,
    /// A registry image (`DockerImage`).
    Registry,
}

/// The image part of a container cube's registration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerReport {
    /// The type registered.
    pub container_type: crate::container::ContainerType,
    /// File or registry.
    pub image_source: ImageSource,
    /// The hosted file's verified URL on the first destination, or the registry reference.
    pub image: Option<String>,
    /// What `--image-hash` carries: the hosted file's hash, or `sha256:…` of the registry
    /// manifest; `null` when unknown (not published, lookup skipped or failed).
    pub image_hash: Option<String>,
    /// How `image_hash` was obtained.
    pub image_hash_source: Option<String>,
    /// The local key file for `--decryption-key` (never uploaded).
    pub decryption_key: Option<String>,
}

/// One component (or file uploaded as it is) on every destination.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComponentReport {
    /// What it is for MedPerf; `None` for files uploaded as they are.
    pub role: Option<Role>,
    /// File name.
    pub file: String,
    /// Bytes.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Lower-case hex.
    pub sha1: String,
    /// One per destination, in `--to` order.
    pub uploads: Vec<UploadReport>,
}

/// The whole report (`publish.json`, `--json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishReport {
    /// Bumped on incompatible changes.
    pub schema_version: u32,
    /// The cube, when a cube was published.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mlcube: Option<CubeInfo>,
    /// How a container cube's image is registered (container_config.yaml cubes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub container: Option<ContainerReport>,
    /// Every component.
    pub components: Vec<ComponentReport>,
    /// `false` with `--no-verify`.
    pub verification: bool,
    /// The command that registers the cube, when every component is published on the first
    /// destination; `null` otherwise.
    pub medperf_command: Option<String>,
}

impl PublishReport {
    /// Whether every upload is in place and (unless skipped) verified.
    pub fn all_published(&self) -> bool {
        self.components
            .iter()
            .flat_map(|c| &c.uploads)
            .all(|u| u.is_published(self.verification))
    }
}

/// Human size: 1.4 KiB, 12.0 MiB.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
