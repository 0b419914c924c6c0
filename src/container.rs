//! Current MedPerf containers (`container_config.yaml`): the `container_type` and the checks
//! MedPerf's parser makes, the image file of the file types, its OpenPGP encryption for the
//! encrypted types (decryptable by MedPerf's own `gpg --batch --decrypt --passphrase-file`),
//! and the rewrite of `image:` in the deploy copy, keeping the rest of the file as written.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::error::InputError;
use cubeship_provider::digest::{self, Digests};

/// How MedPerf runs a container (`container_type:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ContainerType {
    /// An image on a registry; `--image-hash` is its manifest digest.
    DockerImage,
    /// A `docker save` archive at a URL.
    DockerArchive,
    /// A Singularity/Apptainer `.sif` at a URL.
    SingularityFile,
    /// A `docker save` archive encrypted with GPG.
    EncryptedDockerArchive,
    /// A `.sif` encrypted with GPG.
    EncryptedSingularityFile,
}

impl ContainerType {
    /// Every type, in MedPerf's order.
    pub const ALL: [ContainerType; 5] = [
        ContainerType::DockerImage,
        ContainerType::DockerArchive,
        ContainerType::SingularityFile,
        ContainerType::EncryptedDockerArchive,
        ContainerType::EncryptedSingularityFile,
    ];

    /// The name in `container_config.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerType::DockerImage => "DockerImage",
            ContainerType::DockerArchive => "DockerArchive",
            ContainerType::SingularityFile => "SingularityFile",
            ContainerType::EncryptedDockerArchive => "EncryptedDockerArchive",
            ContainerType::EncryptedSingularityFile => "EncryptedSingularityFile",
        }
    }

    fn parse(value: &str) -> Option<ContainerType> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The image is a file hosted at a URL (not a registry image).
    pub fn is_file(self) -> bool {
        self != ContainerType::DockerImage
    }

    /// The hosted file is GPG-encrypted.
    pub fn is_encrypted(self) -> bool {
        matches!(
            self,
            ContainerType::EncryptedDockerArchive | ContainerType::EncryptedSingularityFile
        )
    }

    /// The encrypted counterpart of a plain file type (`--encrypt`).
    pub fn encrypted(self) -> Option<ContainerType> {
        match self {
            ContainerType::DockerArchive => Some(ContainerType::EncryptedDockerArchive),
            ContainerType::SingularityFile => Some(ContainerType::EncryptedSingularityFile),
            ContainerType::EncryptedDockerArchive | ContainerType::EncryptedSingularityFile => {
                Some(self)
            }
            ContainerType::DockerImage => None,
        }
    }
}

/// What a checked `container_config.yaml` says about its image.
#[derive(Clone, Debug)]
pub struct Container {
    /// The declared type (`DockerImage` when the field is missing).
    pub container_type: ContainerType,
    /// The `image:` value: a registry reference for `DockerImage`, else the file's URL (or
    /// anything, before cubeship hosts the file).
    pub image: String,
}

/// Checks a container config the way MedPerf's parser does: `container_type` one of its five
/// values, `image` and `tasks` present, every volume with `type` (file or directory) and
/// `mount_path`. A missing `container_type` is taken as `DockerImage`, with a warning.
pub fn check_config(
    document: &Value,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Container, InputError> {
    let shown = path.display();
    let container_type = match document.get("container_type") {
        None => {
            warnings.push(format!(
                "{shown} has no container_type: taken as DockerImage (MedPerf's current client requires the field; add `container_type: DockerImage`)"
            ));
            ContainerType::DockerImage
        }
        Some(value) => {
            let text = value.as_str().unwrap_or_default();
            ContainerType::parse(text).ok_or_else(|| {
                InputError::new(format!("{shown}: unknown container_type `{text}`")).hint(format!(
                    "use one of {}",
                    ContainerType::ALL.map(ContainerType::as_str).join(", ")
                ))
            })?
        }
    };
    let image = match document.get("image") {
        Some(Value::String(image)) if !image.trim().is_empty() => image.trim().to_string(),
        _ => {
            return Err(InputError::new(format!("{shown} has no `image:`")).hint(
                "name the image: a registry reference for DockerImage (e.g. org/model:1.0), \
                 or any placeholder for the file types (cubeship sets the hosted file's URL)",
            ));
        }
    };
    let Some(tasks) = document.get("tasks").and_then(Value::as_mapping) else {
        return Err(InputError::new(format!("{shown} has no `tasks:` section"))
            .hint("declare the cube's tasks (infer, evaluate, prepare…) under tasks:"));
    };
    for (task, spec) in tasks {
        let task = task.as_str().unwrap_or_default();
        for group in ["input_volumes", "output_volumes"] {
            let Some(volumes) = spec.get(group).and_then(Value::as_mapping) else {
                continue;
            };
            for (label, volume) in volumes {
                let label = label.as_str().unwrap_or_default();
                let field = |name: &str| volume.get(name).and_then(Value::as_str);
                if field("mount_path").is_none() {
                    return Err(InputError::new(format!(
                        "{shown}: volume `{label}` of task `{task}` has no `mount_path`"
                    ))
                    .hint("give the path inside the container, as in mount_path: /mlcommons/volumes/data"));
                }
                match field("type") {
                    Some("file" | "directory") => {}
                    other => {
                        return Err(InputError::new(format!(
                            "{shown}: volume `{label}` of task `{task}` has type `{}`",
                            other.unwrap_or("(none)")
                        ))
                        .hint("MedPerf mounts `type: file` or `type: directory`"));
                    }
                }
            }
        }
    }
    Ok(Container {
        container_type,
        image,
    })
}

/// The image file of a file-type container: `explicit` (`--image FILE`), else the one file in
/// `workspace/.image/`.
pub fn image_file(
    container: &Container,
    image_dir: Option<&Path>,
    explicit: Option<&Path>,
) -> Result<Option<PathBuf>, InputError> {
    if !container.container_type.is_file() {
        if let Some(file) = explicit {
            return Err(InputError::new(format!(
                "--image {}: a DockerImage container has no image file",
                file.display()
            ))
            .hint("set container_type to DockerArchive or SingularityFile to host a file, or drop --image"));
        }
        return Ok(None);
    }
    let kind = container.container_type.as_str();
    if let Some(file) = explicit {
        if !file.is_file() {
            return Err(
                InputError::new(format!("--image {}: no such file", file.display()))
                    .hint("give the path of the docker save archive or .sif file"),
            );
        }
        return Ok(Some(file.to_path_buf()));
    }
    let Some(dir) = image_dir else {
        return Err(InputError::new(format!(
            "a {kind} container needs its image file, and there is no workspace/.image/ folder"
        ))
        .hint(
            "put the file (docker save archive or .sif) in workspace/.image/, or pass --image FILE",
        ));
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| InputError::new(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    match files.as_slice() {
        [one] if one.is_file() => Ok(Some(one.clone())),
        [] => Err(InputError::new(format!(
            "a {kind} container needs its image file, and {} is empty",
            dir.display()
        ))
        .hint("put the docker save archive or .sif file there, or pass --image FILE")),
        [one] => Err(InputError::new(format!("{} is not a file", one.display()))
            .hint("workspace/.image/ must hold exactly one image file")),
        many => Err(InputError::new(format!(
            "{} holds {} entries ({}); a {kind} container has exactly one image file",
            dir.display(),
            many.len(),
            many.iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hint("keep only the image file there, or pass --image FILE")),
    }
}

/// Whether `path` already holds an OpenPGP message (encrypted by the user with gpg): its first
/// packet is a symmetric- or public-key-encrypted session key.
pub fn is_openpgp_message(path: &Path) -> bool {
    let mut first = [0u8; 1];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut first));
    if read.is_err() {
        return false;
    }
    let tag = match first[0] {
        b if b & 0xC0 == 0xC0 => b & 0x3F,
        b if b & 0xC0 == 0x80 => (b >> 2) & 0x0F,
        _ => return false,
    };
    // 1: public-key encrypted session key, 3: symmetric-key encrypted session key.
    matches!(tag, 1 | 3)
}

/// The decryption key of a cube's encrypted image: a file next to the deploy folder (never in
/// it, so neither uploads nor `--output` take it), mode 0600, reused by later runs so that the
/// same image encrypts to the same bytes.
pub fn key_path(deploy_dir: &Path) -> PathBuf {
    let name = deploy_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "deploy".into());
    deploy_dir.with_file_name(format!("{name}.decryption-key"))
}

/// Reads the key at `path`, or makes a fresh one: 32 random bytes, written as 64 hex
/// characters (gpg reads the first line of a passphrase file; raw bytes could hold a newline).
pub fn load_or_create_key(path: &Path) -> Result<cubeship_provider::Secret, InputError> {
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| {
            InputError::new(format!(
                "cannot read the decryption key {}: {e}",
                path.display()
            ))
        })?;
        let key = text.trim().to_string();
        if key.is_empty() {
            return Err(
                InputError::new(format!("the decryption key {} is empty", path.display())).hint(
                    "delete it to have cubeship make a new one (the image is then encrypted anew)",
                ),
            );
        }
        return Ok(cubeship_provider::Secret::new(key));
    }
    // ThreadRng is a CSPRNG seeded from the operating system.
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let key = hex::encode(bytes);
    write_private(path, key.as_bytes())?;
    Ok(cubeship_provider::Secret::new(key))
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), InputError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        InputError::new(format!(
            "cannot write the decryption key {}: {e}",
            path.display()
        ))
        .hint("check that the deploy folder's parent folder is writable")
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| InputError::new(format!("cannot write {}: {e}", path.display())))
}

/// Encrypts `plain` into `encrypted` as an OpenPGP message MedPerf's `gpg --batch --decrypt
/// --passphrase-file KEY` opens: a symmetric-key session key packet (iterated and salted S2K,
/// AES-256) and an integrity-protected data packet (SEIPD v1, which every gpg 2.x reads).
///
/// The random values (salt, session key, IV) come from a generator seeded by the key and the
/// plaintext's sha256, so the same image under the same key gives the same bytes and a re-run
/// is `unchanged`; this reveals only that two ciphertexts hold the same image.
pub fn encrypt(
    plain: &Path,
    encrypted: &Path,
    key: &cubeship_provider::Secret,
) -> Result<Digests, crate::error::PackageError> {
    use pgp::composed::MessageBuilder;
    use pgp::crypto::sym::SymmetricKeyAlgorithm;
    use pgp::types::{Password, StringToKey};
    use rand_chacha::rand_core::SeedableRng;
    use sha2::{Digest, Sha256};

    let plain_sha256 = digest::hash_file(plain)
        .map_err(|e| InputError::new(format!("cannot read {}: {e}", plain.display())))?
        .sha256;
    let seed: [u8; 32] = Sha256::new()
        .chain_update(b"cubeship image encryption v1\0")
        .chain_update(key.expose().as_bytes())
        .chain_update(plain_sha256.as_bytes())
        .finalize()
        .into();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    // A full disk under the encrypted file is the machine's fault (exit 1), as everywhere
    // in packaging; anything else about encrypting is reported against the input.
    let failed = |e: &(dyn std::error::Error + 'static)| {
        let message = format!(
            "cannot encrypt {} into {}: {e}",
            plain.display(),
            encrypted.display()
        );
        match crate::error::io_in_chain(e) {
            Some(io) => crate::error::packaging_io(
                io,
                message,
                "check that the image is readable and the deploy folder writable",
            ),
            None => InputError::new(message).into(),
        }
    };
    let mut builder =
        MessageBuilder::from_file(plain).seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
    builder
        .encrypt_with_password(
            StringToKey::new_default(&mut rng),
            &Password::from(key.expose()),
        )
        .map_err(|e| failed(&e))?;
    let file = std::fs::File::create(encrypted).map_err(|e| failed(&e))?;
    let mut hashing = digest::HashingWriter::new(std::io::BufWriter::new(file));
    builder
        .to_writer(&mut rng, &mut hashing)
        .map_err(|e| failed(&e))?;
    let (mut inner, digests) = hashing.finish();
    inner.flush().map_err(|e| failed(&e))?;
    Ok(digests)
}

/// Points the deploy copy of the container config at the hosted image: `image:` becomes
/// `url` (the source config is never touched), and `manifest.json` records the new digests.
pub fn point_config_at(
    deploy_dir: &Path,
    manifest: &mut crate::package::Manifest,
    url: &str,
) -> Result<(), InputError> {
    use crate::package::Role;
    let Some(component) = manifest
        .components
        .iter_mut()
        .find(|c| c.role == Role::Mlcube)
    else {
        return Ok(());
    };
    let path = deploy_dir.join(&component.file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| InputError::new(format!("cannot read {}: {e}", path.display())))?;
    let rewritten = set_top_level(&text, "image", url)?;
    if rewritten != text {
        let partial = deploy_dir.join(format!(".{}.partial", component.file));
        std::fs::write(&partial, &rewritten)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&partial);
                InputError::new(format!("cannot write {}: {e}", path.display()))
                    .hint("check that the deploy folder is writable")
            })?;
    }
    let digests = digest::hash_file(&path)
        .map_err(|e| InputError::new(format!("cannot read {}: {e}", path.display())))?;
    *component = crate::package::Component::new(Role::Mlcube, &component.file.clone(), digests);
    crate::package::write_json(&deploy_dir.join(crate::package::MANIFEST_JSON), manifest)
}

/// `text` (a container config) with the top-level `key:` set to `value`, every other line as
/// written (comments, order, quoting); the key is appended when missing. The result is parsed
/// back and compared with the original, so a rewrite can never change anything else.
pub fn set_top_level(text: &str, key: &str, value: &str) -> Result<String, InputError> {
    let rendered = yaml_scalar(value);
    let prefix = format!("{key}:");
    let mut lines: Vec<String> = Vec::new();
    let mut found = false;
    let mut source = text.lines().peekable();
    while let Some(line) = source.next() {
        if !found && line.starts_with(&prefix) {
            found = true;
            let rest = line[prefix.len()..].trim_start();
            // A trailing comment keeps the spaces that stood before it.
            let comment = rest
                .find(" #")
                .map(|i| {
                    let start = rest[..i].trim_end().len();
                    rest[start..].to_string()
                })
                .unwrap_or_default();
            lines.push(format!("{key}: {rendered}{comment}"));
            // A value continued on indented lines (folded or quoted over several lines).
            while source
                .peek()
                .is_some_and(|next| next.starts_with(' ') || next.starts_with('\t'))
            {
                source.next();
            }
        } else {
            lines.push(line.to_string());
        }
    }
    if !found {
        lines.push(format!("{key}: {rendered}"));
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') || !found {
        out.push('\n');
    }
    let mut expected: Value = serde_yaml::from_str(text)
        .map_err(|e| InputError::new(format!("the container config is not valid YAML: {e}")))?;
    if let Value::Mapping(map) = &mut expected {
        map.insert(Value::String(key.into()), Value::String(value.into()));
    }
    let actual: Value = serde_yaml::from_str(&out).map_err(|e| {
        InputError::new(format!(
            "rewriting `{key}:` in the container config failed: {e}"
        ))
    })?;
    if actual != expected {
        return Err(InputError::new(format!(
            "cannot rewrite `{key}:` in the container config without changing other settings"
        ))
        .hint(format!(
            "write `{key}:` on one line at the top level of the file"
        )));
    }
    Ok(out)
}

/// `value` as a YAML scalar: plain when that reads back as the same string, else quoted.
fn yaml_scalar(value: &str) -> String {
    let plain_ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=?&~,".contains(c))
        && !value.contains(": ")
        && serde_yaml::from_str::<Value>(value).ok() == Some(Value::String(value.into()));
    if plain_ok {
        value.to_string()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The registry digest of `image` (`sha256:…`), for `--image-hash` of a DockerImage container:
/// anonymously, or with the login of the registered store that goes with the image's registry
/// (its credentials read from `env`).
pub async fn registry_digest(
    image: &str,
    env: &cubeship_provider::EnvLookup,
) -> Result<String, cubeship_provider::Error> {
    use crate::oci::{ImageReference, RegistryLogin, resolve_digest};
    let invalid = |e: InputError| {
        cubeship_provider::Error::new(cubeship_provider::ErrorKind::InvalidInput, e.message)
    };
    let reference = ImageReference::parse(image).map_err(invalid)?;
    let mut login = None;
    for factory in crate::registry::FACTORIES {
        if let Some(registry) = factory.container_registry
            && registry.host == reference.registry
        {
            let settings = cubeship_provider::Settings::from_env(factory.options, env.clone());
            login = (registry.login)(&settings)
                .await
                .map_err(invalid)?
                .map(|(username, password)| RegistryLogin { username, password });
        }
    }
    resolve_digest(&reference, login.as_ref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "# my model\ncontainer_type: DockerArchive  # saved with docker save\nimage: placeholder\ntasks:\n  infer:\n    input_volumes:\n      data_path:\n        mount_path: /data\n        type: directory\n";

    #[test]
    fn image_is_rewritten_and_everything_else_kept() {
        let url = "https://h.example/cube/0123/model.tar?x=1";
        let out = set_top_level(CONFIG, "image", url).unwrap();
        assert!(out.starts_with("# my model\ncontainer_type: DockerArchive  # saved"));
        assert!(out.contains(&format!("\nimage: {url}\n")), "{out}");
        let out = set_top_level(&out, "container_type", "EncryptedDockerArchive").unwrap();
        assert!(out.contains("container_type: EncryptedDockerArchive  # saved with docker save"));
        let doc: Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(doc["image"].as_str(), Some(url));
    }

    #[test]
    fn a_missing_key_is_appended_and_odd_values_are_quoted() {
        let out = set_top_level("tasks: {}\n", "image", "a: b # c").unwrap();
        let doc: Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(doc["image"].as_str(), Some("a: b # c"));
    }

    #[test]
    fn configs_are_checked_like_medperfs_parser() {
        let path = Path::new("container_config.yaml");
        let mut warnings = Vec::new();
        let parse = |text: &str| serde_yaml::from_str::<Value>(text).unwrap();
        let ok = check_config(&parse(CONFIG), path, &mut warnings).unwrap();
        assert_eq!(ok.container_type, ContainerType::DockerArchive);
        let bad_type = check_config(
            &parse("container_type: Podman\nimage: x\ntasks: {}\n"),
            path,
            &mut warnings,
        );
        assert!(bad_type.unwrap_err().message.contains("Podman"));
        let no_image = check_config(&parse("tasks: {}\n"), path, &mut warnings);
        assert!(no_image.unwrap_err().message.contains("image"));
        let bad_volume = check_config(
            &parse(
                "image: x\ntasks:\n  infer:\n    output_volumes:\n      out:\n        mount_path: /o\n        type: socket\n",
            ),
            path,
            &mut warnings,
        );
        assert!(bad_volume.unwrap_err().message.contains("`out`"));
        let defaulted = check_config(&parse("image: x\ntasks: {}\n"), path, &mut warnings).unwrap();
        assert_eq!(defaulted.container_type, ContainerType::DockerImage);
        assert!(warnings.iter().any(|w| w.contains("no container_type")));
    }

    #[test]
    fn openpgp_messages_are_recognised_by_their_first_packet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, [0x8c, 0x0d]).unwrap();
        assert!(is_openpgp_message(&path));
        std::fs::write(&path, [0xc3, 0x0d]).unwrap();
        assert!(is_openpgp_message(&path));
        std::fs::write(&path, b"ustar...").unwrap();
        assert!(!is_openpgp_message(&path));
    }
}
