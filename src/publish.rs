//! Publishing: plan (components × destinations, object keys), preflight, upload with bounded
//! concurrency and idempotence (skip what is already there, never overwrite other content
//! unless asked), verification the way MedPerf downloads, the report and `publish.json`.
//! Nothing here prints: progress goes to a `Reporter`, results are returned.

use std::path::{Path, PathBuf};

use cubeship_provider::{Asset, ErrorKind, ObjectKey, RemoteObject, Staged, UploadRequest};
use futures::StreamExt;

use crate::destinations::Target;
use crate::error::{Failure, InputError};
use crate::package::{Component, Manifest, Role};
use crate::report::{self, ComponentReport, PublishReport, UploadReport, UploadStatus};
use crate::reporter::{Reporter, Step};
use crate::verify::{self, Verdict};

/// Which hash the printed medperf command carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashKind {
    /// MedPerf since late 2023.
    Sha256,
    /// MedPerf before late 2023.
    Sha1,
}

impl std::str::FromStr for HashKind {
    type Err = InputError;

    fn from_str(value: &str) -> Result<Self, InputError> {
        match value {
            "sha256" => Ok(HashKind::Sha256),
            "sha1" => Ok(HashKind::Sha1),
            other => Err(InputError::new(format!(
                "--hash {other}: expected sha256 or sha1"
            ))),
        }
    }
}

/// How to publish.
#[derive(Clone)]
pub struct PublishOptions {
    /// The environment credentials are read from (registry logins).
    pub env: cubeship_provider::EnvLookup,
    /// Object key template (`None`: content-addressed default).
    pub key_template: Option<String>,
    /// Replace an object that holds other content.
    pub overwrite: bool,
    /// Download every URL after upload and check its hash.
    pub verify: bool,
    /// Hash printed in the medperf command.
    pub hash: HashKind,
    /// Look up a DockerImage container's registry digest for `--image-hash`.
    pub image_digest: bool,
    /// The container command registers it as OPERATIONAL (`--operational`).
    pub operational: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Uploads at once.
    pub jobs: usize,
    /// Records in-flight uploads so that a killed run resumes them (`publish` sets it to the
    /// deploy folder's journal).
    pub journal: Option<cubeship_provider::journal::Journal>,
    /// Uploads started while packaging (`crate::overlap`), promoted instead of uploading again.
    pub staged: Option<std::sync::Arc<crate::overlap::StagedUploads>>,
}

/// The default object key: content-addressed, so a URL that MedPerf registered never starts
/// serving other bytes, and a changed component gets a new URL.
pub const DEFAULT_KEY_TEMPLATE: &str = "{name}/{sha256_16}/{file}";
/// Where names are flat (release assets, entities): one name per cube and file.
pub const FLAT_KEY_TEMPLATE: &str = "{name}-{file}";

/// One file to publish.
#[derive(Clone, Debug)]
pub struct Item {
    /// What it is for MedPerf (`None` for files uploaded as they are).
    pub role: Option<Role>,
    /// File name.
    pub file: String,
    /// The local file and its digests.
    pub asset: Asset,
}

impl Item {
    /// An item for a packaged component.
    pub fn from_component(deploy_dir: &Path, component: &Component) -> Self {
        Item {
            role: Some(component.role),
            file: component.file.clone(),
            asset: Asset {
                path: deploy_dir.join(&component.file),
                size: component.size,
                sha256: component.sha256.clone(),
                sha1: component.sha1.clone(),
                crc32c: component.crc32c.unwrap_or(0),
                content_type: content_type(&component.file),
            },
        }
    }

    /// An item for a file uploaded as it is (`cubeship NAME upload FILE…`): hashes it first.
    pub fn from_file(path: &Path) -> Result<Self, InputError> {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| InputError::new(format!("{} is not a file", path.display())))?;
        if !path.is_file() {
            return Err(
                InputError::new(format!("{} is not a readable file", path.display()))
                    .hint("give the paths of existing files"),
            );
        }
        let mut reader = std::fs::File::open(path)
            .map_err(|e| InputError::new(format!("cannot read {}: {e}", path.display())))?;
        let (_, digests) = cubeship_provider::digest::copy_hashed(&mut reader, std::io::sink())
            .map_err(|e| InputError::new(format!("cannot read {}: {e}", path.display())))?;
        Ok(Item {
            role: None,
            asset: Asset {
                path: path.to_path_buf(),
                size: digests.size,
                sha256: digests.sha256,
                sha1: digests.sha1,
                crc32c: digests.crc32c,
                content_type: content_type(&file),
            },
            file,
        })
    }
}

/// The Content-Type stores serve `file` with.
pub fn content_type(file: &str) -> &'static str {
    if file.ends_with(".yaml") || file.ends_with(".yml") {
        "application/yaml"
    } else if file.ends_with(".json") {
        "application/json"
    } else if file.ends_with(".tar.gz") || file.ends_with(".tgz") || file.ends_with(".gz") {
        "application/gzip"
    } else {
        "application/octet-stream"
    }
}

/// Expands a key template for `item` of cube `name`.
pub fn render_key(template: &str, name: &str, item: &Item) -> Result<ObjectKey, InputError> {
    let role = item.role.map(Role::as_str).unwrap_or_default();
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| InputError::new(format!("--key-template {template}: unclosed {{")))?
            + start;
        let value = match &rest[start + 1..end] {
            "name" => name,
            "sha256" => &item.asset.sha256,
            "sha256_16" => &item.asset.sha256[..16],
            "sha1" => &item.asset.sha1,
            "file" => &item.file,
            "role" => role,
            other => {
                return Err(InputError::new(format!(
                    "--key-template {template}: unknown variable {{{other}}}"
                ))
                .hint("use {name}, {sha256}, {sha256_16}, {sha1}, {file} or {role}"));
            }
        };
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    let key = ObjectKey::from_parts([out.as_str()]);
    if key.as_str().is_empty() || key.as_str().split('/').any(|s| s == "." || s == "..") {
        return Err(
            InputError::new(format!("--key-template {template} gives the key `{out}`"))
                .hint("keys need a file name and no . or .. segments"),
        );
    }
    Ok(key)
}

/// Checks a `--key-template` before anything runs, with a stand-in item.
pub fn validate_key_template(template: Option<&str>) -> Result<(), InputError> {
    let Some(template) = template else {
        return Ok(());
    };
    let probe = Item {
        role: Some(Role::Parameters),
        file: "parameters.yaml".into(),
        asset: Asset {
            path: PathBuf::new(),
            size: 0,
            sha256: "0".repeat(64),
            sha1: "0".repeat(40),
            crc32c: 0,
            content_type: "application/yaml",
        },
    };
    render_key(template, "cube", &probe).map(|_| ())
}

/// Checks every destination (credentials, bucket, release) at once, before anything is packaged
/// or uploaded. Any failure is a configuration error (exit 2).
pub async fn preflight(targets: &[Target]) -> Result<(), InputError> {
    let results = futures::future::join_all(targets.iter().map(|t| t.provider.preflight())).await;
    let problems: Vec<String> = targets
        .iter()
        .zip(results)
        .filter_map(|(t, r)| r.err().map(|e| format!("{}: {e}", t.spec)))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(InputError::new(format!(
            "destination check failed:\n  {}",
            problems.join("\n  ")
        ))
        .hint("fix the credentials or destination; nothing was uploaded"))
    }
}

/// Object keys for every item on every target: `keys[item][target]`. Refuses, before any
/// upload, items a target cannot store.
pub fn plan(
    name: &str,
    items: &[Item],
    targets: &[Target],
    key_template: Option<&str>,
) -> Result<Vec<Vec<ObjectKey>>, InputError> {
    let mut keys = Vec::new();
    for item in items {
        let mut per_target = Vec::new();
        for target in targets {
            let capabilities = target.provider.capabilities();
            if let Some(limit) = capabilities.max_object_size
                && item.asset.size >= limit
            {
                return Err(InputError::new(format!(
                    "{} is {} but {} accepts files under {}",
                    item.file,
                    report::human_size(item.asset.size),
                    target.spec,
                    report::human_size(limit)
                ))
                .hint("publish this component to another provider without that limit, or make it smaller"));
            }
            if capabilities.refuses_empty && item.asset.size == 0 {
                return Err(InputError::new(format!(
                    "{} is empty, and {} does not store empty files",
                    item.file, target.spec
                ))
                .hint("publish it to another destination, or leave the empty file out"));
            }
            let template = key_template.unwrap_or(if capabilities.flat_names {
                FLAT_KEY_TEMPLATE
            } else {
                DEFAULT_KEY_TEMPLATE
            });
            let mut key = render_key(template, name, item)?;
            if capabilities.flat_names && key.as_str().contains('/') {
                key = ObjectKey::from_parts([key.flattened("-").as_str()]);
            }
            per_target.push(key);
        }
        keys.push(per_target);
    }
    Ok(keys)
}

/// Uploads and verifies every item on every target; `reports[item][target]`. Dropping the
/// future cancels the uploads; the caller then calls `abort_in_flight`.
pub async fn transfer(
    items: &[Item],
    targets: &[Target],
    keys: &[Vec<ObjectKey>],
    options: &PublishOptions,
    reporter: &dyn Reporter,
) -> Vec<Vec<UploadReport>> {
    let jobs = (0..items.len()).flat_map(|i| (0..targets.len()).map(move |t| (i, t)));
    let mut results = futures::stream::iter(jobs)
        .map(|(i, t)| {
            let (item, target, key) = (&items[i], &targets[t], &keys[i][t]);
            async move {
                let report = if options.dry_run {
                    UploadReport {
                        destination: target.spec.clone(),
                        key: key.to_string(),
                        url: target.provider.public_url(key).ok().map(|u| u.to_string()),
                        status: UploadStatus::Planned,
                        verified: false,
                        error: None,
                    }
                } else {
                    upload_one(item, target, key, options, reporter).await
                };
                (i, t, report)
            }
        })
        .buffer_unordered(options.jobs.max(1))
        .collect::<Vec<(usize, usize, UploadReport)>>()
        .await;
    results.sort_by_key(|(i, t, _)| (*i, *t));
    let mut grid: Vec<Vec<UploadReport>> = (0..items.len()).map(|_| Vec::new()).collect();
    for (i, _, report) in results {
        grid[i].push(report);
    }
    grid
}

/// After an interrupt: lets every provider cancel what would otherwise stay behind on the
/// server (multipart uploads, whose parts are billed until aborted).
pub async fn abort_in_flight(targets: &[Target]) {
    futures::future::join_all(targets.iter().map(|t| t.provider.abort_in_flight())).await;
}

async fn upload_one(
    item: &Item,
    target: &Target,
    key: &ObjectKey,
    options: &PublishOptions,
    reporter: &dyn Reporter,
) -> UploadReport {
    let provider = &target.provider;
    let mut report = UploadReport {
        destination: target.spec.clone(),
        key: key.to_string(),
        url: provider.public_url(key).ok().map(|u| u.to_string()),
        status: UploadStatus::Failed,
        verified: false,
        error: None,
    };
    // An upload started while packaging is waited for first: what the key holds is looked
    // at once the bytes are staged, so a key written meanwhile is seen.
    let staged = match &options.staged {
        Some(staged) => staged.take(&item.file, &target.spec).await,
        None => None,
    };
    let existing = match provider.head(key, &item.asset).await {
        Ok(existing) => existing,
        Err(e) => {
            discard(provider.as_ref(), staged.as_ref()).await;
            report.error = Some(format!("cannot check {key}: {e}"));
            return report;
        }
    };
    let same = |remote: &RemoteObject| {
        remote.size == item.asset.size
            && remote
                .sha256
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&item.asset.sha256))
    };
    match &existing {
        Some(remote) if same(remote) => {
            // Staged for nothing: the same bytes are there already.
            discard(provider.as_ref(), staged.as_ref()).await;
            report.status = UploadStatus::Unchanged;
            if let Some(url) = &remote.url {
                report.url = Some(url.to_string());
            }
        }
        Some(remote) if !options.overwrite => {
            discard(provider.as_ref(), staged.as_ref()).await;
            let what = match &remote.sha256 {
                Some(sha) => format!("other content ({} bytes, sha256 {sha})", remote.size),
                None => format!("content of unknown hash ({} bytes)", remote.size),
            };
            report.error = Some(format!(
                "{key} already holds {what}; refusing to overwrite a URL that may be registered with MedPerf \
                 (use --overwrite to replace it, or another prefix/--key-template)"
            ));
            return report;
        }
        _ => {
            let sent = match &staged {
                Some(staged) => {
                    let promoted = provider
                        .promote(staged, &item.asset, key, existing.as_ref())
                        .await;
                    if promoted.is_err() {
                        provider.discard_staged(staged).await;
                    }
                    promoted
                }
                None => {
                    let progress = reporter.transfer_started(
                        &format!("{} → {}", item.file, target.spec),
                        item.asset.size,
                    );
                    let request = UploadRequest {
                        asset: &item.asset,
                        key,
                        existing: existing.as_ref(),
                        progress,
                        journal: options.journal.as_ref(),
                    };
                    provider.upload(&request).await
                }
            };
            match sent {
                Ok(uploaded) => {
                    report.status = UploadStatus::Uploaded;
                    report.url = Some(uploaded.url.to_string());
                }
                // The store's precondition (create only) failed: another run wrote the key
                // between our check and our write. Look again instead of failing.
                Err(e) if e.kind == ErrorKind::AlreadyExists && existing.is_none() => {
                    match provider.head(key, &item.asset).await {
                        Ok(Some(remote)) if same(&remote) => {
                            report.status = UploadStatus::Unchanged;
                            if let Some(url) = &remote.url {
                                report.url = Some(url.to_string());
                            }
                        }
                        Ok(Some(_)) => {
                            report.error = Some(format!(
                                "{key} was written with other content by someone else during this run ({e}); \
                                 refusing to overwrite a URL that may be registered with MedPerf"
                            ));
                            return report;
                        }
                        _ => {
                            report.error = Some(format!(
                                "upload of {} to {} failed: {e}",
                                item.file, target.spec
                            ));
                            return report;
                        }
                    }
                }
                Err(e) => {
                    report.error = Some(format!(
                        "upload of {} to {} failed: {e}",
                        item.file, target.spec
                    ));
                    return report;
                }
            }
        }
    }
    if !options.verify {
        return report;
    }
    let _verifying = Step::start(
        reporter,
        &format!("verifying {} on {}", item.file, target.spec),
    );
    let Some(url) = report.url.as_deref().and_then(|u| url::Url::parse(u).ok()) else {
        report.error = Some("no public URL to verify".into());
        return report;
    };
    match verify::verify_with(provider.as_ref(), &url, &item.asset.sha256).await {
        Ok(Verdict::Verified) => report.verified = true,
        Ok(Verdict::Status(status)) => {
            let mut message = format!(
                "verification failed: a download of the URL as MedPerf does it answered HTTP {status}"
            );
            if let Some(diagnosis) = provider.diagnose_not_public(key, status) {
                message.push('\n');
                message.push_str(&diagnosis);
            }
            report.error = Some(message);
        }
        Ok(Verdict::WrongContent { sha256, size }) => {
            report.error = Some(format!(
                "verification failed: the URL serves {size} bytes with sha256 {sha256}, not {} (a cache or proxy may serve an old copy)",
                item.asset.sha256
            ));
        }
        Err(e) => report.error = Some(format!("verification failed: {e}")),
    }
    report
}

/// Deletes a staged object that is not going to be promoted.
async fn discard(provider: &dyn cubeship_provider::Provider, staged: Option<&Staged>) {
    if let Some(staged) = staged {
        provider.discard_staged(staged).await;
    }
}

/// Publishes a packaged deploy folder: plan, upload, verify, and the report (also written to
/// `publish.json` unless this is a dry run).
pub async fn publish(
    deploy_dir: &Path,
    manifest: &Manifest,
    targets: &[Target],
    options: &PublishOptions,
    reporter: &dyn Reporter,
) -> anyhow::Result<PublishReport> {
    let mut manifest = manifest.clone();
    // Multipart uploads in flight are recorded in the deploy folder, so a killed run resumes.
    let options = &PublishOptions {
        journal: Some(cubeship_provider::journal::Journal::in_dir(deploy_dir)),
        ..options.clone()
    };
    let name = manifest.mlcube.name.clone();
    let template = options.key_template.as_deref();
    let items_of = |manifest: &Manifest| -> Vec<Item> {
        manifest
            .components
            .iter()
            .map(|c| Item::from_component(deploy_dir, c))
            .collect()
    };
    // Every component is checked against every destination before anything is sent.
    plan(&name, &items_of(&manifest), targets, template)?;
    warn_about_registries(&manifest, targets, reporter);

    // A hosted container image goes first: the deploy copy of the config then names its
    // verified URL, and is published with it.
    let image_index = manifest.container.as_ref().and_then(|_| {
        manifest
            .components
            .iter()
            .position(|c| c.role == Role::Image)
    });
    let mut grid: Vec<Option<Vec<UploadReport>>> = vec![None; manifest.components.len()];
    if let Some(index) = image_index {
        let item = [Item::from_component(
            deploy_dir,
            &manifest.components[index],
        )];
        let keys = plan(&name, &item, targets, template)?;
        let uploads = transfer(&item, targets, &keys, options, reporter)
            .await
            .into_iter()
            .next()
            .unwrap_or_default();
        if !options.dry_run
            && let Some(url) = uploads
                .first()
                .filter(|u| u.is_published(options.verify))
                .and_then(|u| u.url.clone())
        {
            crate::container::point_config_at(deploy_dir, &mut manifest, &url)?;
        }
        grid[index] = Some(uploads);
    }
    let rest: Vec<usize> = (0..manifest.components.len())
        .filter(|i| Some(*i) != image_index)
        .collect();
    let all_items = items_of(&manifest);
    let items: Vec<Item> = rest.iter().map(|i| all_items[*i].clone()).collect();
    let keys = plan(&name, &items, targets, template)?;
    for (index, uploads) in rest
        .iter()
        .zip(transfer(&items, targets, &keys, options, reporter).await)
    {
        grid[*index] = Some(uploads);
    }

    let components: Vec<ComponentReport> = manifest
        .components
        .iter()
        .zip(grid)
        .map(|(c, uploads)| ComponentReport {
            role: Some(c.role),
            file: c.file.clone(),
            size: c.size,
            sha256: c.sha256.clone(),
            sha1: c.sha1.clone(),
            uploads: uploads.unwrap_or_default(),
        })
        .collect();
    let mut report = PublishReport {
        schema_version: crate::package::SCHEMA_VERSION,
        mlcube: Some(manifest.mlcube.clone()),
        container: None,
        components,
        verification: options.verify,
        medperf_command: None,
    };
    report.container = container_report(&manifest, &report, options, reporter).await;
    if !options.dry_run {
        report.medperf_command = medperf_command(&report, deploy_dir, options);
        crate::package::write_json(&deploy_dir.join(report::PUBLISH_JSON), &report)
            .map_err(|e| Failure(e.to_string()))?;
    }
    Ok(report)
}

/// What the report says of a container cube's image: where MedPerf gets it and the
/// `--image-hash` it registers.
async fn container_report(
    manifest: &Manifest,
    report: &PublishReport,
    options: &PublishOptions,
    reporter: &dyn Reporter,
) -> Option<report::ContainerReport> {
    let container = manifest.container.as_ref()?;
    let mut out = report::ContainerReport {
        container_type: container.container_type,
        image_source: report::ImageSource::File,
        image: None,
        image_hash: None,
        image_hash_source: None,
        decryption_key: container.decryption_key.clone(),
    };
    if container.container_type.is_file() {
        let image = report
            .components
            .iter()
            .find(|c| c.role == Some(Role::Image))?;
        let first = image.uploads.first()?;
        if first.is_published(options.verify) {
            out.image = first.url.clone();
            out.image_hash = Some(match options.hash {
                HashKind::Sha256 => image.sha256.clone(),
                HashKind::Sha1 => image.sha1.clone(),
            });
            out.image_hash_source = Some("the hosted file's hash".into());
        }
        if container.container_type.is_encrypted() && container.decryption_key.is_none() {
            reporter.warning(
                "the image was encrypted before packaging and no --decryption-key was given: \
                 add `--decryption-key KEYFILE` to the medperf command",
            );
        }
        return Some(out);
    }
    out.image_source = report::ImageSource::Registry;
    out.image = manifest.mlcube.docker_image.clone();
    if options.image_digest
        && !options.dry_run
        && let Some(image) = &out.image
    {
        match crate::container::registry_digest(image, &options.env).await {
            Ok(digest) => {
                out.image_hash = Some(digest);
                out.image_hash_source = Some("the registry's manifest digest".into());
            }
            Err(e) => reporter.warning(&format!(
                "cannot look up the digest of {image} ({e}); the medperf command has no --image-hash \
                 (MedPerf then records the digest it pulls)"
            )),
        }
    }
    Some(out)
}

/// Uploads files as they are (`cubeship NAME upload FILE…`), each under its own name, then
/// verifies them.
pub async fn upload_files(
    items: &[Item],
    targets: &[Target],
    options: &PublishOptions,
    reporter: &dyn Reporter,
) -> Result<PublishReport, InputError> {
    let keys = plan("", items, targets, options.key_template.as_deref())?;
    if !options.dry_run {
        preflight(targets).await?;
    }
    let grid = transfer(items, targets, &keys, options, reporter).await;
    Ok(PublishReport {
        schema_version: crate::package::SCHEMA_VERSION,
        mlcube: None,
        container: None,
        components: items
            .iter()
            .zip(grid)
            .map(|(item, uploads)| ComponentReport {
                role: None,
                file: item.file.clone(),
                size: item.asset.size,
                sha256: item.asset.sha256.clone(),
                sha1: item.asset.sha1.clone(),
                uploads,
            })
            .collect(),
        verification: options.verify,
        medperf_command: None,
    })
}

/// A store that comes with its own container registry expects the cube's image
/// there: say so when the manifest names an image elsewhere.
fn warn_about_registries(manifest: &Manifest, targets: &[Target], reporter: &dyn Reporter) {
    let Some(image) = manifest.mlcube.docker_image.as_deref() else {
        return;
    };
    for target in targets {
        if let Some(registry) = target.provider.capabilities().container_registry
            && !image.starts_with(&format!("{registry}/"))
        {
            reporter.warning(&format!(
                "{}: the manifest's image {image} is not on {registry}; MedPerf will pull it from where it names. \
                 To host it with the files, push it there (docker tag {image} {registry}/PROJECT/NAME:TAG, then docker push) \
                 and name that image in the manifest",
                target.spec
            ));
        }
    }
}

/// Single-quotes `value` for POSIX shells when it holds anything but safe characters.
pub fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The `medperf … submit` command for the first destination, when all its components are
/// published (and verified, unless verification was skipped).
pub fn medperf_command(
    report: &PublishReport,
    deploy_dir: &Path,
    options: &PublishOptions,
) -> Option<String> {
    let cube = report.mlcube.as_ref()?;
    let mut published = Vec::new();
    for component in &report.components {
        let upload = component.uploads.first()?;
        if !upload.is_published(options.verify) {
            return None;
        }
        let hash = match options.hash {
            HashKind::Sha256 => &component.sha256,
            HashKind::Sha1 => &component.sha1,
        };
        published.push((
            component.role?,
            upload.url.clone()?,
            hash.clone(),
            component.file.clone(),
        ));
    }
    let mut words: Vec<String> = Vec::new();
    let local = |file: &str| -> String {
        let path: PathBuf = deploy_dir.join(file);
        std::path::absolute(&path)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    match cube.layout {
        crate::mlcube::Layout::Mlcube => {
            words.extend(["medperf", "mlcube", "submit", "--name"].map(String::from));
            words.push(cube.name.clone());
            for (role, url, hash, _) in &published {
                let (file_flag, hash_flag) = match role {
                    Role::Mlcube => ("--mlcube-file", "--mlcube-hash"),
                    Role::Parameters => ("--parameters-file", "--parameters-hash"),
                    Role::AdditionalFiles => ("--additional-file", "--additional-hash"),
                    Role::Image => ("--image-file", "--image-hash"),
                };
                words.extend([
                    file_flag.to_string(),
                    url.clone(),
                    hash_flag.to_string(),
                    hash.clone(),
                ]);
            }
        }
        crate::mlcube::Layout::Container => {
            words.extend(["medperf", "container", "submit", "--name"].map(String::from));
            words.push(cube.name.clone());
            for (role, url, hash, file) in &published {
                match role {
                    Role::Mlcube => {
                        words.extend(["--container-config-file".to_string(), local(file)])
                    }
                    Role::Parameters => {
                        words.extend(["--parameters-file".to_string(), local(file)])
                    }
                    Role::AdditionalFiles => words.extend([
                        "--additional-file".to_string(),
                        url.clone(),
                        "--additional-hash".to_string(),
                        hash.clone(),
                    ]),
                    Role::Image => {}
                }
            }
            if let Some(container) = &report.container {
                if let Some(hash) = &container.image_hash {
                    words.extend(["--image-hash".to_string(), hash.clone()]);
                }
                if let Some(key) = &container.decryption_key {
                    words.extend(["--decryption-key".to_string(), key.clone()]);
                }
            }
            if options.operational {
                words.push("--operational".into());
            }
        }
    }
    Some(
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_safe_words_and_quotes_the_rest() {
        assert_eq!(
            shell_quote("https://h/a-b_c.tar.gz"),
            "https://h/a-b_c.tar.gz"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn key_template_variables_expand() {
        let item = Item {
            role: Some(Role::AdditionalFiles),
            file: "additional_files.tar.gz".into(),
            asset: Asset {
                path: "x".into(),
                size: 1,
                sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
                sha1: "s1".into(),
                crc32c: 0,
                content_type: "application/gzip",
            },
        };
        let key = render_key(DEFAULT_KEY_TEMPLATE, "cube", &item).unwrap();
        assert_eq!(
            key.as_str(),
            "cube/0123456789abcdef/additional_files.tar.gz"
        );
        let key = render_key("/{role}//{sha1}-{file}", "cube", &item).unwrap();
        assert_eq!(key.as_str(), "additional_files/s1-additional_files.tar.gz");
        assert!(render_key("{nope}", "cube", &item).is_err());
        assert!(render_key("../{file}", "cube", &item).is_err());
    }
}
