//! `cubeship package`: turns a checked MLCube into the deploy folder MedPerf's hosting guide
//! describes (manifest, parameters, additional_files.tar.gz, image.tar.gz, manifest.json),
//! atomically: a failed run leaves no partial deploy folder behind.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::archive::{self, ArchiveOptions};
use crate::error::{InputError, PackageError, packaging_io};
use crate::mlcube::{Layout, MlCube, PARAMETERS_FILE};
use cubeship_provider::digest::{self, Digests};

/// The deploy folder's list of components, read back by `cubeship publish`.
pub const MANIFEST_JSON: &str = "manifest.json";
/// The archive of `workspace/additional_files/`.
pub const ADDITIONAL_FILES_ARCHIVE: &str = "additional_files.tar.gz";
/// The archive of `workspace/.image/`.
pub const IMAGE_ARCHIVE: &str = "image.tar.gz";
/// The `manifest.json` format this cubeship writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// What a component is to MedPerf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The cube's manifest (`mlcube.yaml` or `container_config.yaml`).
    Mlcube,
    /// `parameters.yaml`.
    Parameters,
    /// `additional_files.tar.gz`: weights and other extra files.
    AdditionalFiles,
    /// `image.tar.gz`: the saved container image.
    Image,
}

impl Role {
    /// The name `manifest.json` and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mlcube => "mlcube",
            Role::Parameters => "parameters",
            Role::AdditionalFiles => "additional_files",
            Role::Image => "image",
        }
    }
}

/// One packaged file of the deploy folder.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Component {
    /// What MedPerf uses it for.
    pub role: Role,
    /// The file name in the deploy folder.
    pub file: String,
    /// In bytes.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Lower-case hex.
    pub sha1: String,
    /// Sent to stores that check it on upload; kept out of the printed manifest's required fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<u32>,
}

impl Component {
    /// A component of `role` stored as `file` with `digests`.
    pub fn new(role: Role, file: &str, digests: Digests) -> Self {
        Component {
            role,
            file: file.to_string(),
            size: digests.size,
            sha256: digests.sha256,
            sha1: digests.sha1,
            crc32c: Some(digests.crc32c),
        }
    }
}

/// The packaged MLCube, as `manifest.json` records it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CubeInfo {
    /// The MLCube folder packaged.
    pub path: String,
    /// Its layout.
    pub layout: Layout,
    /// Its name in keys and the medperf command.
    pub name: String,
    /// The Docker image its manifest names, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_image: Option<String>,
}

/// How a `container_config.yaml` cube's image is hosted, as packaged.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The type MedPerf registers (after `--encrypt`, the encrypted one).
    pub container_type: crate::container::ContainerType,
    /// The local image file published as the `image` component, for the file types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_file: Option<String>,
    /// `"cubeship"` when cubeship encrypted the image, `"user"` when it was already an
    /// OpenPGP message; absent for plain images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_by: Option<String>,
    /// The key file MedPerf decrypts with (`--decryption-key`); it stays local.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption_key: Option<String>,
}

/// `deploy/manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// The format version; only `SCHEMA_VERSION` is read.
    pub schema_version: u32,
    /// The cube that was packaged.
    pub mlcube: CubeInfo,
    /// How a container cube's image is hosted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerInfo>,
    /// Every file of the deploy folder but `manifest.json` itself.
    pub components: Vec<Component>,
}

impl Manifest {
    /// Reads a deploy folder's manifest.json (for `cubeship publish`).
    pub fn load(deploy_dir: &Path) -> Result<Self, InputError> {
        repair_deploy_dir(deploy_dir);
        let path = deploy_dir.join(MANIFEST_JSON);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            InputError::new(format!("cannot read {}: {e}", path.display()))
                .hint("give a folder written by `cubeship package` (it holds manifest.json)")
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            InputError::new(format!(
                "{} is not a cubeship manifest: {e}",
                path.display()
            ))
            .hint("package the MLCube again with `cubeship package`")
        })?;
        if manifest.schema_version != SCHEMA_VERSION {
            return Err(InputError::new(format!(
                "{} has schema_version {}, this cubeship reads {SCHEMA_VERSION}",
                path.display(),
                manifest.schema_version
            ))
            .hint("package the MLCube again with this version of cubeship"));
        }
        for component in &manifest.components {
            let file = deploy_dir.join(&component.file);
            let size = std::fs::metadata(&file).map(|m| m.len()).map_err(|e| {
                InputError::new(format!(
                    "{} is listed in {} but cannot be read: {e}",
                    file.display(),
                    path.display()
                ))
                .hint("package the MLCube again")
            })?;
            if size != component.size {
                return Err(InputError::new(format!(
                    "{} has {size} bytes but {} says {}",
                    file.display(),
                    path.display(),
                    component.size
                ))
                .hint("the deploy folder changed after packaging: package the MLCube again"));
            }
        }
        // Sizes are not enough: a file edited at the same size would be published under its
        // old hash (and a remote copy with that hash taken as "unchanged"). What is sent is
        // what gets hashed, so hash it again.
        let mut changed = Vec::new();
        for component in &manifest.components {
            let file = deploy_dir.join(&component.file);
            let digests = digest::hash_file(&file).map_err(|e| {
                InputError::new(format!("cannot read {}: {e}", file.display()))
                    .hint("package the MLCube again")
            })?;
            if !digests.sha256.eq_ignore_ascii_case(&component.sha256) {
                changed.push(format!(
                    "{} has sha256 {} but {} says {}",
                    file.display(),
                    digests.sha256,
                    path.display(),
                    component.sha256
                ));
            }
        }
        if !changed.is_empty() {
            return Err(InputError::new(changed.join("\n")).hint(
                "the deploy folder changed after packaging: package the MLCube again (cubeship package), then publish",
            ));
        }
        Ok(manifest)
    }
}

/// What `cubeship package` writes where, and how it compresses.
#[derive(Clone, Debug, Default)]
pub struct PackageOptions {
    /// Where the deploy folder goes; default `<mlcube>/deploy`.
    pub deploy_dir: Option<PathBuf>,
    /// Also write one tarball of the deploy folder here.
    pub output: Option<PathBuf>,
    /// Compression level and threads; `None` for the defaults.
    pub archive: Option<ArchiveOptions>,
    /// The image file of a file-type container, instead of the one in `workspace/.image/`.
    pub image: Option<PathBuf>,
    /// Encrypt the image of a DockerArchive or SingularityFile container (it becomes the
    /// Encrypted… type).
    pub encrypt: bool,
    /// The key of an image the user encrypted already, for the medperf command.
    pub decryption_key: Option<PathBuf>,
}

/// The result of packaging.
pub struct Packaged {
    /// The deploy folder written.
    pub deploy_dir: PathBuf,
    /// What its `manifest.json` says.
    pub manifest: Manifest,
}

/// Packages `cube` into its deploy folder. All checks run and all files are written into a
/// staging folder next to the target first; the target is replaced only when everything worked.
///
/// Errors are `PackageError::Input` (exit 2) or, when the machine failed (disk full, I/O
/// error), `PackageError::Io` (exit 1); either way no deploy folder or `--output` is left.
pub fn package(cube: &MlCube, options: &PackageOptions) -> Result<Packaged, PackageError> {
    package_reporting(cube, options, &crate::reporter::NoReporter)
}

/// `package`, with a byte bar per archive on `reporter` (the tar stream's bytes, as they are
/// compressed).
pub fn package_reporting(
    cube: &MlCube,
    options: &PackageOptions,
    reporter: &dyn crate::reporter::Reporter,
) -> Result<Packaged, PackageError> {
    let deploy_dir = options
        .deploy_dir
        .clone()
        .unwrap_or_else(|| cube.root.join("deploy"));
    // The failing path is often inside the hidden staging folder: name the deploy folder too.
    package_into(cube, options, reporter, deploy_dir.clone()).map_err(|error| match error {
        PackageError::Io(crate::error::Failure(message)) => {
            PackageError::Io(crate::error::Failure(format!(
                "packaging {} into {}: {message}",
                cube.root.display(),
                deploy_dir.display()
            )))
        }
        input => input,
    })
}

fn package_into(
    cube: &MlCube,
    options: &PackageOptions,
    reporter: &dyn crate::reporter::Reporter,
    deploy_dir: PathBuf,
) -> Result<Packaged, PackageError> {
    let archive_options = options.archive.unwrap_or_default();

    // Walk and check both archive sources before writing a byte.
    let additional = match &cube.additional_files_dir {
        Some(dir) => Some(archive::collect_entries(dir)?),
        None => None,
    };
    // A container cube hosts its image file as it is; only the legacy layout archives .image/.
    let image = match (&cube.image_dir, cube.layout) {
        (Some(dir), Layout::Mlcube) => Some(archive::collect_entries(dir)?),
        _ => None,
    };
    check_deploy_dir(cube, &deploy_dir)?;
    if let Some(output) = &options.output {
        check_output_path(output, &deploy_dir)?;
    }
    let container_plan = plan_container(cube, options, true)?;

    let staging = Staging::create(&deploy_dir)?;
    let mut components = Vec::new();
    let manifest_copy = staging.path.join(cube.layout.manifest_file());
    let manifest_digests = match &container_plan {
        Some(plan) if plan.retype => {
            let text = std::fs::read_to_string(&cube.manifest_path).map_err(|e| {
                InputError::new(format!("cannot read {}: {e}", cube.manifest_path.display()))
            })?;
            let text = crate::container::set_top_level(
                &text,
                "container_type",
                plan.info.container_type.as_str(),
            )?;
            std::fs::write(&manifest_copy, &text).map_err(|e| cannot_write(&manifest_copy, &e))?;
            digest::hash_file(&manifest_copy).map_err(|e| {
                InputError::new(format!("cannot read {}: {e}", manifest_copy.display()))
            })?
        }
        _ => copy_into(&cube.manifest_path, &manifest_copy)?,
    };
    components.push(Component::new(
        Role::Mlcube,
        cube.layout.manifest_file(),
        manifest_digests,
    ));
    if let Some(parameters) = &cube.parameters_path {
        components.push(Component::new(
            Role::Parameters,
            PARAMETERS_FILE,
            copy_into(parameters, &staging.path.join(PARAMETERS_FILE))?,
        ));
    }
    if let Some(entries) = &additional {
        let digests = write_archive(
            entries,
            &staging.path,
            ADDITIONAL_FILES_ARCHIVE,
            archive_options,
            reporter,
        )?;
        components.push(Component::new(
            Role::AdditionalFiles,
            ADDITIONAL_FILES_ARCHIVE,
            digests,
        ));
    }
    if let Some(entries) = &image {
        let digests = write_archive(
            entries,
            &staging.path,
            IMAGE_ARCHIVE,
            archive_options,
            reporter,
        )?;
        components.push(Component::new(Role::Image, IMAGE_ARCHIVE, digests));
    }
    if let Some(plan) = &container_plan
        && let Some(source) = &plan.source
    {
        let target = staging.path.join(&plan.file);
        let digests = match &plan.encrypt_with {
            Some(key) => crate::container::encrypt(source, &target, key)?,
            None => copy_into(source, &target)?,
        };
        components.push(Component::new(Role::Image, &plan.file, digests));
    }
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        mlcube: CubeInfo {
            path: cube.root.display().to_string(),
            layout: cube.layout,
            name: cube.name.clone(),
            docker_image: cube.docker_image.clone(),
        },
        container: container_plan.map(|plan| plan.info),
        components,
    };
    let manifest_json = staging.path.join(MANIFEST_JSON);
    write_json_text(&manifest_json, &manifest).map_err(|e| cannot_write(&manifest_json, &e))?;

    if let Some(output) = &options.output {
        let entries = archive::collect_entries(&staging.path)?;
        let partial = partial_name(output);
        archive::write_tar_gz(&entries, &partial, archive_options).map_err(|error| {
            match error {
                // The partial file's name means nothing to the user; the option does.
                PackageError::Io(crate::error::Failure(message)) => PackageError::Io(
                    crate::error::Failure(format!("--output {}: {message}", output.display())),
                ),
                input => input,
            }
        })?;
        std::fs::rename(&partial, output).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            packaging_io(
                &e,
                format!("cannot write --output {}: {e}", output.display()),
                "choose an --output path in a folder you may write",
            )
        })?;
    }
    staging.commit()?;
    Ok(Packaged {
        deploy_dir,
        manifest,
    })
}

/// Writes the archive `file` of `entries` into `dir` with a byte bar, telling `reporter` when
/// it starts (the file exists, empty) and ends, so that a caller can upload it as it grows.
fn write_archive(
    entries: &[archive::Entry],
    dir: &Path,
    file: &str,
    options: ArchiveOptions,
    reporter: &dyn crate::reporter::Reporter,
) -> Result<Digests, PackageError> {
    let path = dir.join(file);
    let tar_size = archive::tar_size(entries);
    // Created here so that the observer can open it before the first byte; the writer
    // truncates the same file (same inode), so a reader's handle stays valid.
    std::fs::File::create(&path).map_err(|e| {
        packaging_io(
            &e,
            format!("cannot write {}: {e}", path.display()),
            "choose a --deploy-dir you can write to",
        )
    })?;
    reporter.archive_started(file, &path, tar_size);
    let progress = reporter.transfer_started(&format!("packaging {file}"), tar_size);
    let written = archive::write_tar_gz_reporting(entries, &path, options, progress.as_ref());
    reporter.archive_finished(file, written.as_ref().ok());
    written
}

/// What packaging does with a container cube's image.
struct ContainerPlan {
    info: ContainerInfo,
    /// The image file to publish (file types).
    source: Option<PathBuf>,
    /// Its name in the deploy folder.
    file: String,
    /// Encrypt it with this key on the way in.
    encrypt_with: Option<cubeship_provider::Secret>,
    /// The deploy copy of the config gets the new `container_type`.
    retype: bool,
}

/// Runs the checks of `package` that need no writing (the container image file and its
/// encryption settings), so that callers can refuse bad input before contacting any server.
pub fn check(cube: &MlCube, options: &PackageOptions) -> Result<(), InputError> {
    plan_container(cube, options, false).map(|_| ())
}

fn plan_container(
    cube: &MlCube,
    options: &PackageOptions,
    create_key: bool,
) -> Result<Option<ContainerPlan>, InputError> {
    let Some(container) = &cube.container else {
        for (given, flag) in [
            (options.image.is_some(), "--image"),
            (options.encrypt, "--encrypt"),
            (options.decryption_key.is_some(), "--decryption-key"),
        ] {
            if given {
                return Err(InputError::new(format!(
                    "{flag} applies to container_config.yaml cubes, and {} has an mlcube.yaml",
                    cube.root.display()
                ))
                .hint("mlcube.yaml cubes host workspace/.image/ as image.tar.gz"));
            }
        }
        return Ok(None);
    };
    let declared = container.container_type;
    let effective = if options.encrypt {
        declared.encrypted().ok_or_else(|| {
            InputError::new("--encrypt needs a file-type container, and this one is DockerImage")
                .hint("set container_type to DockerArchive (a docker save archive) or SingularityFile")
        })?
    } else {
        declared
    };
    let mut info = ContainerInfo {
        container_type: effective,
        image_file: None,
        encrypted_by: None,
        decryption_key: None,
    };
    let Some(source) = crate::container::image_file(
        container,
        cube.image_dir.as_deref(),
        options.image.as_deref(),
    )?
    else {
        if options.decryption_key.is_some() {
            return Err(
                InputError::new("--decryption-key applies to encrypted containers")
                    .hint("drop it, or set container_type to an Encrypted… type"),
            );
        }
        return Ok(Some(ContainerPlan {
            info,
            source: None,
            file: String::new(),
            encrypt_with: None,
            retype: false,
        }));
    };
    info.image_file = Some(source.display().to_string());
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let already_encrypted = crate::container::is_openpgp_message(&source);
    let (file, encrypt_with) = match (effective.is_encrypted(), already_encrypted) {
        (false, true) => {
            return Err(InputError::new(format!(
                "{} is encrypted (an OpenPGP message) but container_type is {}",
                source.display(),
                effective.as_str()
            ))
            .hint(format!(
                "set container_type to {} and pass --decryption-key KEYFILE",
                declared
                    .encrypted()
                    .map(|t| t.as_str())
                    .unwrap_or("an Encrypted… type")
            )));
        }
        (false, false) => (name, None),
        (true, true) => {
            info.encrypted_by = Some("user".into());
            info.decryption_key = options.decryption_key.as_ref().map(|p| {
                std::path::absolute(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            });
            (name, None)
        }
        (true, false) => {
            if options.decryption_key.is_some() {
                return Err(InputError::new(
                    "--decryption-key names the key of an image you encrypted, but this image is not encrypted",
                )
                .hint("drop --decryption-key: cubeship encrypts the image and writes a fresh key"));
            }
            let deploy_dir = options
                .deploy_dir
                .clone()
                .unwrap_or_else(|| cube.root.join("deploy"));
            let key_path =
                crate::container::key_path(&std::path::absolute(&deploy_dir).unwrap_or(deploy_dir));
            let key = if create_key {
                crate::container::load_or_create_key(&key_path)?
            } else {
                cubeship_provider::Secret::new(String::new())
            };
            info.encrypted_by = Some("cubeship".into());
            info.decryption_key = Some(key_path.display().to_string());
            (format!("{name}.gpg"), Some(key))
        }
    };
    Ok(Some(ContainerPlan {
        info,
        source: Some(source),
        file,
        encrypt_with,
        retype: effective != declared,
    }))
}

fn partial_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// `path` made absolute with links resolved as far as it exists (the rest appended), so that
/// two spellings of one place compare equal before either exists.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// The deploy folder replaces whatever is at its path, and everything under the cube's
/// `additional_files/` and `.image/` is archived: a deploy folder that is the cube, holds
/// it, or lies inside what gets archived would destroy the cube or archive itself.
fn check_deploy_dir(cube: &MlCube, deploy_dir: &Path) -> Result<(), InputError> {
    let deploy = resolved(deploy_dir);
    let root = resolved(&cube.root);
    if root.starts_with(&deploy) {
        return Err(InputError::new(format!(
            "--deploy-dir {} is the MLCube folder {} or holds it: packaging would replace the cube",
            deploy_dir.display(),
            cube.root.display()
        ))
        .hint("drop --deploy-dir (the default is <MLCUBE>/deploy) or choose a folder outside the cube"));
    }
    let archived = [&cube.additional_files_dir, &cube.image_dir];
    for source in archived.into_iter().flatten() {
        if deploy.starts_with(resolved(source)) {
            return Err(InputError::new(format!(
                "--deploy-dir {} is inside {}, which is packaged",
                deploy_dir.display(),
                source.display()
            ))
            .hint("drop --deploy-dir (the default is <MLCUBE>/deploy) or choose a folder outside workspace/"));
        }
    }
    Ok(())
}

fn check_output_path(output: &Path, deploy_dir: &Path) -> Result<(), InputError> {
    if resolved(output).starts_with(resolved(deploy_dir)) {
        return Err(InputError::new(format!(
            "--output {} is inside the deploy folder {}",
            output.display(),
            deploy_dir.display()
        ))
        .hint("write the single tarball outside the deploy folder (e.g. next to it)"));
    }
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(InputError::new(format!(
            "--output {}: the folder {} does not exist",
            output.display(),
            parent.display()
        ))
        .hint("create the folder first or choose another --output path"));
    }
    let inside_deploy = parent
        .canonicalize()
        .ok()
        .zip(deploy_dir.canonicalize().ok())
        .is_some_and(|(p, d)| p.starts_with(d));
    if inside_deploy {
        return Err(InputError::new(format!(
            "--output {} is inside the deploy folder {}",
            output.display(),
            deploy_dir.display()
        ))
        .hint("write the single tarball outside the deploy folder"));
    }
    Ok(())
}

fn copy_into(source: &Path, target: &Path) -> Result<Digests, PackageError> {
    let mut reader = File::open(source).map_err(|e| {
        packaging_io(
            &e,
            format!("cannot read {}: {e}", source.display()),
            "make the file readable by the user running cubeship (chmod a+r), then package again",
        )
    })?;
    let writer = File::create(target).map_err(|e| cannot_write(target, &e))?;
    // Each side's own error: a full disk is the target's, an unreadable block the source's.
    let mut hashing = digest::HashingWriter::new(BufWriter::new(writer));
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(packaging_io(
                    &e,
                    format!("cannot read {}: {e}", source.display()),
                    "make the file readable by the user running cubeship, then package again",
                ));
            }
        };
        hashing
            .write_all(&buffer[..n])
            .map_err(|e| cannot_write(target, &e))?;
    }
    let (mut inner, digests) = hashing.finish();
    inner.flush().map_err(|e| cannot_write(target, &e))?;
    Ok(digests)
}

/// A write into the deploy folder failed: the user's to fix (permissions) or the machine's
/// (disk full), as `packaging_io` sorts it.
fn cannot_write(path: &Path, e: &std::io::Error) -> PackageError {
    packaging_io(
        e,
        format!("cannot write {}: {e}", path.display()),
        "choose a folder you may write with --deploy-dir",
    )
}

fn write_json_text<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).expect("manifest serialises");
    text.push('\n');
    std::fs::write(path, text)
}

/// Writes `value` as pretty JSON with a final newline.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), InputError> {
    write_json_text(path, value).map_err(|e| {
        InputError::new(format!("cannot write {}: {e}", path.display()))
            .hint("check that the deploy folder is writable")
    })
}

/// A sibling folder that becomes the deploy folder on `commit` and is removed otherwise.
struct Staging {
    path: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    fn create(target: &Path) -> Result<Self, PackageError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "deploy".into());
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let unwritable = |e: std::io::Error| {
            packaging_io(
                &e,
                format!("cannot write the deploy folder {}: {e}", target.display()),
                "choose a writable place with --deploy-dir",
            )
        };
        std::fs::create_dir_all(&parent).map_err(unwritable)?;
        if target.exists() && !target.is_dir() {
            return Err(InputError::new(format!(
                "the deploy folder {} is a file",
                target.display()
            ))
            .hint("remove it or choose another --deploy-dir")
            .into());
        }
        repair_deploy_dir(target);
        remove_abandoned_staging(&parent, &name);
        let path = parent.join(format!(".{name}.staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).map_err(unwritable)?;
        Ok(Staging {
            path,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    fn commit(mut self) -> Result<(), PackageError> {
        let replace_error = |e: std::io::Error| {
            packaging_io(
                &e,
                format!(
                    "cannot replace the deploy folder {}: {e}",
                    self.target.display()
                ),
                "check its permissions, or choose another --deploy-dir",
            )
        };
        if self.target.exists() {
            carry_upload_journal(&self.target, &self.path);
            // One atomic exchange where the kernel can: the deploy folder is never missing.
            // The staging name then holds the old folder; a kill before its removal leaves a
            // staging folder of a dead process, which the next run removes.
            if cubeship_provider::fsutil::exchange(&self.path, &self.target)
                .map_err(replace_error)?
            {
                let _ = std::fs::remove_dir_all(&self.path);
                self.committed = true;
                return Ok(());
            }
            // Two renames: killed between them, the old folder is at `.NAME.old` and the
            // next run puts it back (`repair_deploy_dir`).
            let old = old_name(&self.target);
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(&self.target, &old).map_err(replace_error)?;
            std::fs::rename(&self.path, &self.target).map_err(replace_error)?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&self.path, &self.target).map_err(replace_error)?;
        }
        self.committed = true;
        Ok(())
    }
}

/// Copies the upload journal (in-flight uploads of killed runs) into the new deploy folder, so
/// that the next publish can still find them: GCS cancels a session left for an older version
/// of a component instead of forgetting it. Best effort: without it they are only not visited.
fn carry_upload_journal(old: &Path, new: &Path) {
    let journal = old.join(cubeship_provider::journal::JOURNAL_FILE);
    if journal.is_file()
        && let Err(e) = std::fs::copy(&journal, new.join(cubeship_provider::journal::JOURNAL_FILE))
    {
        tracing::warn!("cannot keep {} ({e})", journal.display());
    }
}

/// Where the previous deploy folder waits during a swap by two renames: `.NAME.old` next to it.
fn old_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "deploy".into());
    target.with_file_name(format!(".{name}.old"))
}

/// Heals what a killed swap left: with the deploy folder missing and its previous version
/// at `.NAME.old` (or the `.NAME.staging-PID.old` of older releases), the previous version is
/// put back; with both present, the leftover is removed. Runs before packaging and publishing.
pub fn repair_deploy_dir(target: &Path) {
    let Some(parent) = target.parent() else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "deploy".into());
    let mut leftovers = vec![old_name(target)];
    if let Ok(entries) = std::fs::read_dir(parent) {
        let prefix = format!(".{name}.staging-");
        leftovers.extend(entries.flatten().map(|e| e.path()).filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(&prefix) && n.ends_with(".old")
            })
        }));
    }
    for old in leftovers.into_iter().filter(|p| p.is_dir()) {
        if !target.exists() && old.join(MANIFEST_JSON).is_file() {
            if std::fs::rename(&old, target).is_ok() {
                tracing::warn!(
                    "{} was missing after an interrupted run; restored it from {}",
                    target.display(),
                    old.display()
                );
            }
        } else {
            let _ = std::fs::remove_dir_all(&old);
        }
    }
}

/// Removes staging folders left by runs that were killed (Ctrl-C while packaging): their
/// process no longer exists. Only where `/proc` tells which processes live (Linux).
fn remove_abandoned_staging(parent: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let prefix = format!(".{name}.staging-");
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::reporter::Reporter;

    /// Records every transfer the library reports: (label, total, bytes advanced).
    #[derive(Default)]
    struct Recording(Mutex<Vec<(String, u64, Arc<AtomicU64>)>>);

    struct Counter(Arc<AtomicU64>);

    impl cubeship_provider::Progress for Counter {
        fn advance(&self, bytes: u64) {
            self.0.fetch_add(bytes, Ordering::Relaxed);
        }
        fn restart(&self) {
            self.0.store(0, Ordering::Relaxed);
        }
    }

    impl Reporter for Recording {
        fn step_started(&self, _message: &str) -> u64 {
            0
        }
        fn step_done(&self, _id: u64) {}
        fn transfer_started(
            &self,
            label: &str,
            total: u64,
        ) -> Arc<dyn cubeship_provider::Progress> {
            let counter = Arc::new(AtomicU64::new(0));
            self.0
                .lock()
                .unwrap()
                .push((label.to_string(), total, counter.clone()));
            Arc::new(Counter(counter))
        }
        fn warning(&self, _message: &str) {}
    }

    #[test]
    fn packaging_reports_the_bytes_of_each_archive() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("cube");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/medperf-examples/brats-model-deepmedic");
        for entry in walkdir::WalkDir::new(&fixture) {
            let entry = entry.unwrap();
            let target = root.join(entry.path().strip_prefix(&fixture).unwrap());
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&target).unwrap();
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
        let weights = vec![7u8; 3 << 20];
        std::fs::write(
            root.join("workspace/additional_files/weights.bin"),
            &weights,
        )
        .unwrap();
        let cube = crate::mlcube::load(&root, None, None).unwrap();
        let recording = Recording::default();
        package_reporting(&cube, &PackageOptions::default(), &recording).unwrap();
        let transfers = recording.0.lock().unwrap();
        let (label, total, sent) = transfers
            .iter()
            .find(|(label, _, _)| label.contains(ADDITIONAL_FILES_ARCHIVE))
            .expect("a bar for the weights archive");
        let sent = sent.load(Ordering::Relaxed);
        assert!(*total > weights.len() as u64, "{label}: total {total}");
        assert_eq!(sent, *total, "{label}: the whole tar stream is reported");
    }
}
