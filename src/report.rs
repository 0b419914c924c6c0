//! The publish report: per component its hashes and, per destination, URL, status and
//! verification; the ready `medperf … submit` command; printed as a table or as JSON
//! (schema in docs/report.md) and written to `<deploy>/publish.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::package::{CubeInfo, Manifest, Role};

pub const PUBLISH_JSON: &str = "publish.json";

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

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UploadReport {
    /// The destination as given with `--to` (no secrets).
    pub destination: String,
    /// Object key under the destination.
    pub key: String,
    /// The anonymous GET URL.
    pub url: Option<String>,
    pub status: UploadStatus,
    /// The URL was downloaded anonymously and served exactly these bytes.
    pub verified: bool,
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

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComponentReport {
    pub role: Option<Role>,
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub sha1: String,
    pub uploads: Vec<UploadReport>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishReport {
    pub schema_version: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mlcube: Option<CubeInfo>,
    pub components: Vec<ComponentReport>,
    /// `false` with `--no-verify`.
    pub verification: bool,
    /// The command that registers the cube, when every component is published on the first
    /// destination; `null` otherwise.
    pub medperf_command: Option<String>,
}

impl PublishReport {
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

/// The short table `cubeship package` prints.
pub fn print_manifest(deploy_dir: &Path, manifest: &Manifest) {
    println!(
        "Packaged {} ({} layout) into {}",
        manifest.mlcube.name,
        layout_name(manifest),
        deploy_dir.display()
    );
    for c in &manifest.components {
        println!(
            "  {:<26} {:>10}  sha256 {}",
            c.file,
            human_size(c.size),
            c.sha256
        );
    }
}

fn layout_name(manifest: &Manifest) -> &'static str {
    match manifest.mlcube.layout {
        crate::mlcube::Layout::Mlcube => "mlcube.yaml",
        crate::mlcube::Layout::Container => "container_config.yaml",
    }
}

/// Breaks a medperf command before each `--…-file` option, with shell line continuations, so
/// it stays readable and still pastes as one command.
fn wrap_command(command: &str) -> String {
    if command.contains('\'') {
        // A quoted word may hold " --": leave such a command on one line.
        return command.to_string();
    }
    command
        .replace(" --", "\u{0}--")
        .split('\u{0}')
        .fold(String::new(), |mut out, part| {
            if out.is_empty() {
                out.push_str(part);
            } else if part.contains("-file ") {
                out.push_str(" \\\n    ");
                out.push_str(part);
            } else {
                out.push(' ');
                out.push_str(part);
            }
            out
        })
}

/// The table `publish` prints on stdout.
pub fn print_publish(report: &PublishReport, deploy_dir: &Path) {
    if let Some(cube) = &report.mlcube {
        println!("{} from {}", cube.name, deploy_dir.display());
    }
    for c in &report.components {
        println!();
        println!(
            "  {:<26} {:>10}  sha256 {}",
            c.file,
            human_size(c.size),
            c.sha256
        );
        println!("  {:<26} {:>10}  sha1   {}", "", "", c.sha1);
        for u in &c.uploads {
            let state = match (u.status, u.verified, &u.error) {
                (UploadStatus::Planned, _, _) => "planned   ",
                (_, _, Some(_)) | (UploadStatus::Failed, _, _) => "FAILED    ",
                (_, true, None) => "verified  ",
                (_, false, None) => "unverified",
            };
            let how = match u.status {
                UploadStatus::Uploaded => "uploaded",
                UploadStatus::Unchanged => "unchanged",
                UploadStatus::Failed => "failed",
                UploadStatus::Planned => "planned",
            };
            // A URL is shown as published only when it is in place and checked.
            let url = u.url.as_deref().unwrap_or("-");
            match &u.error {
                Some(error) => {
                    println!("    {state} {how:<9} {}  {}", u.destination, url);
                    for line in error.lines() {
                        println!("        {line}");
                    }
                }
                None => println!("    {state} {how:<9} {url}"),
            }
        }
    }
    println!();
    match &report.medperf_command {
        Some(command) => {
            if !report.verification {
                println!(
                    "Not verified (--no-verify): check the URLs with `cubeship verify` before registering."
                );
            }
            println!("Register with MedPerf:\n  {}", wrap_command(command));
        }
        None if report
            .components
            .iter()
            .any(|c| c.uploads.iter().any(|u| u.status == UploadStatus::Planned)) =>
        {
            println!("Dry run: nothing was uploaded.");
        }
        None => println!("Not every component is published and verified: no medperf command."),
    }
}
