//! Current MedPerf containers (container_config.yaml) with a hosted image file: DockerArchive,
//! SingularityFile, and their encrypted forms, published to a real nginx and to a folder. The
//! encrypted image is decrypted with exactly MedPerf's gpg command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::http::{Nginx, credentials, cubeship_with};
use crate::support::*;

const EXAMPLE: &str = "chestxray-tutorial-mobilenetv2";

/// The example container cube with `container_type` and `image` replaced and, when `image` is
/// given, that many bytes of image in workspace/.image/model.tar.
fn container_cube(container_type: &str, image: Option<usize>) -> (tempfile::TempDir, PathBuf) {
    let (temp, cube) = example_cube(EXAMPLE);
    let config = cube.join("container_config.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text
        .replace(
            "container_type: DockerImage",
            &format!("container_type: {container_type}  # set by the test"),
        )
        .replace(
            "image: mlcommons/chestxray-tutorial-mobilenetv2:0.0.1",
            "image: to-be-hosted",
        );
    std::fs::write(&config, text).unwrap();
    if let Some(size) = image {
        let dir = cube.join("workspace/.image");
        std::fs::create_dir_all(&dir).unwrap();
        write_random_file(&dir.join("model.tar"), size, 21);
    }
    (temp, cube)
}

fn publish_to(nginx: &Nginx, cube: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "--json".to_string(),
        "package-and-publish".into(),
        cube.display().to_string(),
        "--to".into(),
        nginx.url("cubes/containers/"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    cubeship_with(&credentials(), args)
}

fn yaml(path: &Path) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks the registration of a hosted image: the config names the verified URL, which
/// serves bytes whose sha256 is the printed --image-hash; returns (url, hash).
fn assert_image_registered(report: &Value, cube: &Path, container_type: &str) -> (String, String) {
    let container = &report["container"];
    assert_eq!(container["container_type"], container_type, "{report:#}");
    assert_eq!(container["image_source"], "file");
    let url = container["image"].as_str().expect("image URL").to_string();
    let hash = container["image_hash"]
        .as_str()
        .expect("image hash")
        .to_string();
    let (status, body) = http_get(&url);
    assert_eq!(status, 200, "anonymous GET {url}");
    assert_eq!(
        sha256_hex(&body),
        hash,
        "{url} serves other bytes than --image-hash"
    );
    let deploy_config = yaml(&cube.join("deploy/container_config.yaml"));
    assert_eq!(deploy_config["image"].as_str(), Some(url.as_str()));
    assert_eq!(
        deploy_config["container_type"].as_str(),
        Some(container_type)
    );
    assert_eq!(
        yaml(&cube.join("container_config.yaml"))["image"].as_str(),
        Some("to-be-hosted"),
        "the source config must never change"
    );
    let command = report["medperf_command"].as_str().expect("medperf command");
    assert!(
        command.contains(&format!("--image-hash {hash}")),
        "{command}"
    );
    assert!(
        command.contains("deploy/container_config.yaml"),
        "{command}"
    );
    (url, hash)
}

#[test]
fn a_docker_archive_is_hosted_as_is_and_the_config_names_its_url() {
    let nginx = Nginx::start();
    let (_temp, cube) = container_cube("DockerArchive", Some(300_000));
    let run = publish_to(&nginx, &cube, &[]);
    run.assert_code(0);
    let report = run.json();
    let (url, hash) = assert_image_registered(&report, &cube, "DockerArchive");
    assert_eq!(
        hash,
        sha256_file(&cube.join("workspace/.image/model.tar")),
        "not re-packed"
    );
    assert!(url.ends_with("/model.tar"), "{url}");
    let text = std::fs::read_to_string(cube.join("deploy/container_config.yaml")).unwrap();
    assert!(
        text.contains("container_type: DockerArchive  # set by the test"),
        "comments kept:\n{text}"
    );

    // A re-run sends nothing and gives the same registration.
    let again = publish_to(&nginx, &cube, &[]);
    again.assert_code(0);
    let report = again.json();
    assert!(
        statuses(&report).iter().all(|s| s == "unchanged"),
        "{report:#}"
    );
    assert_eq!(report["container"]["image_hash"], hash.as_str());
}

#[test]
fn a_singularity_file_given_with_image_is_published_to_a_folder() {
    let (temp, cube) = container_cube("SingularityFile", None);
    let sif = temp.path().join("model.sif");
    write_random_file(&sif, 100_000, 4);
    let dest = temp.path().join("published");
    let run = cubeship_run([
        "--json",
        "package-and-publish",
        cube.to_str().unwrap(),
        "--image",
        sif.to_str().unwrap(),
        "--to",
        &format!("dir:{}", dest.display()),
    ]);
    run.assert_code(0);
    let report = run.json();
    let container = &report["container"];
    assert_eq!(container["container_type"], "SingularityFile");
    assert_eq!(container["image_hash"], sha256_file(&sif).as_str());
    let url = container["image"].as_str().unwrap();
    assert!(
        url.starts_with("file://") && url.ends_with("/model.sif"),
        "{url}"
    );
    assert_eq!(
        yaml(&cube.join("deploy/container_config.yaml"))["image"].as_str(),
        Some(url)
    );
}

/// Decrypts `file` with MedPerf's command line (`gpg --batch --decrypt --output OUT
/// --passphrase-file KEY FILE`) in a throw-away GnuPG home.
fn medperf_decrypt(file: &Path, key: &Path) -> Vec<u8> {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("decrypted");
    let status = Command::new("gpg")
        .env("GNUPGHOME", home.path())
        .args(["--batch", "--decrypt", "--output"])
        .arg(&out)
        .arg("--passphrase-file")
        .arg(key)
        .arg(file)
        .status()
        .expect("gpg runs (scripts/test.sh installs gnupg)");
    assert!(status.success(), "gpg could not decrypt {}", file.display());
    std::fs::read(out).unwrap()
}

#[test]
fn encrypt_makes_an_image_medperfs_gpg_decrypts_and_the_key_stays_local() {
    let nginx = Nginx::start();
    let (temp, cube) = container_cube("DockerArchive", Some(250_000));
    let run = publish_to(&nginx, &cube, &["--encrypt", "--operational"]);
    run.assert_code(0);
    let report = run.json();
    let (url, _) = assert_image_registered(&report, &cube, "EncryptedDockerArchive");
    assert!(url.ends_with("/model.tar.gpg"), "{url}");

    let key = cube.join("deploy.decryption-key");
    assert_eq!(
        report["container"]["decryption_key"],
        key.display().to_string().as_str()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key file is private");
    }
    let command = report["medperf_command"].as_str().unwrap();
    assert!(
        command.contains(&format!("--decryption-key {}", key.display())),
        "{command}"
    );

    let downloaded = temp.path().join("downloaded.gpg");
    std::fs::write(&downloaded, http_get(&url).1).unwrap();
    let original = std::fs::read(cube.join("workspace/.image/model.tar")).unwrap();
    assert_eq!(medperf_decrypt(&downloaded, &key), original);

    let secret = std::fs::read_to_string(&key).unwrap();
    let published = std::fs::read_to_string(cube.join("deploy/publish.json")).unwrap();
    for text in [&run.stdout, &run.stderr, &published] {
        assert!(!text.contains(secret.trim()), "the key was printed");
    }
    assert!(!cube.join("deploy").join("deploy.decryption-key").exists());

    // The same image under the same key encrypts to the same bytes: a re-run is unchanged.
    let again = publish_to(&nginx, &cube, &["--encrypt"]);
    again.assert_code(0);
    assert!(
        statuses(&again.json()).iter().all(|s| s == "unchanged"),
        "{}",
        again.stdout
    );
}

#[test]
fn an_image_encrypted_beforehand_is_published_as_is_with_the_given_key() {
    let (temp, cube) = container_cube("EncryptedSingularityFile", None);
    let plain = temp.path().join("model.sif");
    write_random_file(&plain, 50_000, 8);
    let key = temp.path().join("my.key");
    std::fs::write(&key, "correct horse battery staple\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = cube.join("workspace/.image");
    std::fs::create_dir_all(&dir).unwrap();
    let encrypted = dir.join("model.sif.gpg");
    let status = Command::new("gpg")
        .env("GNUPGHOME", home.path())
        .args(["--batch", "--symmetric", "--output"])
        .arg(&encrypted)
        .arg("--passphrase-file")
        .arg(&key)
        .arg(&plain)
        .status()
        .unwrap();
    assert!(status.success());
    let dest = temp.path().join("published");
    let run = cubeship_run([
        "--json",
        "package-and-publish",
        cube.to_str().unwrap(),
        "--decryption-key",
        key.to_str().unwrap(),
        "--to",
        &format!("dir:{}", dest.display()),
    ]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(
        report["container"]["image_hash"],
        sha256_file(&encrypted).as_str()
    );
    let command = report["medperf_command"].as_str().unwrap();
    assert!(
        command.contains(&format!("--decryption-key {}", key.display())),
        "{command}"
    );
    assert!(
        !cube.join("deploy.decryption-key").exists(),
        "no key of cubeship's own"
    );
}

#[test]
fn bad_container_configs_exit_2_before_anything_is_uploaded() {
    let cases: Vec<(&str, Edit, &[&str], &str)> = vec![
        (
            "unknown type",
            Box::new(|c: &Path| edit(c, "container_type: DockerArchive", "container_type: Podman")),
            &[],
            "Podman",
        ),
        (
            "no image",
            Box::new(|c: &Path| edit(c, "image: to-be-hosted\n", "")),
            &[],
            "image",
        ),
        (
            "bad volume",
            Box::new(|c: &Path| edit(c, "type: directory", "type: socket")),
            &[],
            "type",
        ),
        (
            "no mount path",
            Box::new(|c: &Path| edit(c, "mount_path: /mlcommons/volumes/data", "path: /data")),
            &[],
            "mount_path",
        ),
        (
            "two image files",
            Box::new(|c: &Path| write_random_file(&c.join("workspace/.image/other.tar"), 10, 1)),
            &[],
            "exactly one",
        ),
        (
            "no image file",
            Box::new(|c: &Path| std::fs::remove_dir_all(c.join("workspace/.image")).unwrap()),
            &[],
            "needs its image file",
        ),
        (
            "encrypted but declared plain",
            Box::new(|c: &Path| {
                std::fs::write(c.join("workspace/.image/model.tar"), [0x8c, 0x0d, 0x04]).unwrap()
            }),
            &[],
            "encrypted",
        ),
        (
            "encrypt a registry image",
            Box::new(|c: &Path| {
                edit(
                    c,
                    "container_type: DockerArchive",
                    "container_type: DockerImage",
                );
                std::fs::remove_dir_all(c.join("workspace/.image")).unwrap();
            }),
            &["--encrypt"],
            "--encrypt",
        ),
    ];
    for (what, change, extra, needle) in cases {
        let (temp, cube) = container_cube("DockerArchive", Some(1_000));
        change(&cube);
        let dest = temp.path().join("published");
        let mut args = vec![
            "package-and-publish".to_string(),
            cube.display().to_string(),
            "--to".into(),
            format!("dir:{}", dest.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let run = cubeship_run(&args);
        assert_eq!(run.code, 2, "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains(needle),
            "{what}: stderr should name {needle:?}:\n{}",
            run.stderr
        );
        assert!(!dest.exists(), "{what}: nothing may be published");
        assert!(!cube.join("deploy").exists(), "{what}: no deploy folder");
    }
}

/// A change that breaks a container cube.
type Edit = Box<dyn Fn(&Path)>;

fn edit(cube: &Path, from: &str, to: &str) {
    let path = cube.join("container_config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in the config");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}
