//! The bad-input catalogue (issue #13): one table of broken inputs, each run through the real
//! binary, with the exit code and the words its message must hold (the file or option, and
//! the fix). docs/errors.md lists the same cases; a test keeps the two in step.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// The folders one case works in.
struct Scene {
    /// The temp folder (also the working directory of the run).
    temp: PathBuf,
    /// The MLCube folder (a copy of a fixture, or an empty folder).
    cube: PathBuf,
    /// The `dir:` destination; must stay empty.
    dest: PathBuf,
    /// Mounts to undo after the run.
    mounts: Vec<Tmpfs>,
}

/// One bad input.
struct Case {
    /// Its name, as docs/errors.md lists it.
    name: &'static str,
    /// The fixture copied as the cube (`""`: an empty folder).
    fixture: &'static str,
    /// Breaks the scene.
    setup: fn(&mut Scene),
    /// The command line; `{cube}`, `{dest}` and `{temp}` are replaced.
    args: &'static [&'static str],
    /// Extra environment; `{temp}` is replaced in values.
    env: &'static [(&'static str, &'static str)],
    /// Run as `nobody` (root reads everything, so permission checks need another user).
    as_nobody: bool,
    /// The exit code.
    code: i32,
    /// Words stderr must hold, compared without case: what is wrong where, and the fix.
    needles: &'static [&'static str],
}

const PACKAGE: &[&str] = &["package", "{cube}"];
const PUBLISH_DIR: &[&str] = &["package-and-publish", "{cube}", "--to", "dir:{dest}"];

fn nothing(_: &mut Scene) {}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn weights(scene: &Scene) -> PathBuf {
    scene.cube.join("workspace/additional_files")
}

/// A `container_config.yaml` cube hosting a Singularity file.
fn singularity_cube(scene: &mut Scene) {
    write(
        &scene.cube.join("container_config.yaml"),
        "container_type: SingularityFile\nimage: model.sif\ntasks:\n  infer:\n    input_volumes: {data_path: {mount_path: /data, type: directory}}\n    output_volumes: {output_path: {mount_path: /out, type: directory}}\n",
    );
    write(&scene.cube.join("workspace/parameters.yaml"), "a: 1\n");
    std::fs::create_dir_all(scene.cube.join("workspace/.image")).unwrap();
}

/// A small tmpfs mounted for one case; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs at {} failed: the disk-full case needs root (CI and this machine run as root)",
            at.display()
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn cases() -> Vec<Case> {
    vec![
        // --- MLCube layout ---
        Case {
            name: "no_manifest",
            fixture: "",
            setup: nothing,
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "neither mlcube.yaml nor container_config.yaml",
                "point cubeship at an MLCube folder",
            ],
        },
        Case {
            name: "mlcube_folder_missing",
            fixture: "",
            setup: |s| std::fs::remove_dir(&s.cube).unwrap(),
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "cannot open the MLCube folder",
                "give the path of the folder",
            ],
        },
        Case {
            name: "both_manifests",
            fixture: "brats-metrics",
            setup: |s| write(&s.cube.join("container_config.yaml"), "tasks: {}\n"),
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "both mlcube.yaml and container_config.yaml",
                "keep only the one",
            ],
        },
        Case {
            name: "parameters_missing",
            fixture: "brats-metrics",
            setup: |s| std::fs::remove_file(s.cube.join("workspace/parameters.yaml")).unwrap(),
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["workspace/parameters.yaml is missing", "hint:"],
        },
        Case {
            name: "weights_missing",
            fixture: "chestxray-xrv-densenet",
            setup: nothing,
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["additional_files/weights.pt", "hint:"],
        },
        Case {
            name: "several_problems_at_once",
            fixture: "chestxray-xrv-densenet",
            setup: |s| std::fs::remove_file(s.cube.join("workspace/parameters.yaml")).unwrap(),
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "2 problems",
                "parameters.yaml is missing",
                "additional_files/weights.pt",
            ],
        },
        Case {
            name: "manifest_bad_yaml",
            fixture: "brats-metrics",
            setup: |s| {
                write(
                    &s.cube.join("mlcube.yaml"),
                    "name: x\ntasks: {\n  infer: [\n",
                )
            },
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["mlcube.yaml is not valid YAML", "line ", "fix the syntax"],
        },
        Case {
            name: "manifest_not_a_mapping",
            fixture: "brats-metrics",
            setup: |s| write(&s.cube.join("mlcube.yaml"), "- infer\n- evaluate\n"),
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["mlcube.yaml does not hold a YAML mapping", "name:, tasks:"],
        },
        Case {
            name: "manifest_tasks_wrong_type",
            fixture: "brats-metrics",
            setup: |s| write(&s.cube.join("mlcube.yaml"), "name: x\ntasks: [infer]\n"),
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["mlcube.yaml", "tasks:", "a mapping"],
        },
        Case {
            name: "parameters_file_misnamed",
            fixture: "brats-metrics",
            setup: |s| {
                edit(
                    &s.cube.join("mlcube.yaml"),
                    "parameters_file: parameters.yaml",
                    "parameters_file: params.yaml",
                )
            },
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["params.yaml", "parameters.yaml"],
        },
        Case {
            name: "wrong_cube_type",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package", "{cube}", "--type", "model"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["infer", "hint:"],
        },
        Case {
            name: "unknown_cube_type",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package", "{cube}", "--type", "segmenter"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--type", "possible values: model, metrics, data-preparator"],
        },
        Case {
            name: "container_type_unknown",
            fixture: "",
            setup: |s| {
                singularity_cube(s);
                edit(
                    &s.cube.join("container_config.yaml"),
                    "SingularityFile",
                    "Podman",
                );
            },
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "container_config.yaml",
                "unknown container_type `Podman`",
                "hint:",
            ],
        },
        Case {
            name: "container_config_without_image",
            fixture: "",
            setup: |s| {
                singularity_cube(s);
                edit(
                    &s.cube.join("container_config.yaml"),
                    "image: model.sif\n",
                    "",
                );
            },
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["container_config.yaml has no `image:`", "hint:"],
        },
        Case {
            name: "container_image_file_missing",
            fixture: "",
            setup: singularity_cube,
            args: &["package", "{cube}", "--image", "{temp}/absent.sif"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--image", "absent.sif", "no such file"],
        },
        // --- archive input ---
        Case {
            name: "link_leaving_the_folder",
            fixture: "brats-model-deepmedic",
            setup: |s| symlink("../../../../etc/hostname", weights(s).join("escape")).unwrap(),
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["escape", "outside the folder", "hint:"],
        },
        Case {
            name: "absolute_link",
            fixture: "brats-model-deepmedic",
            setup: |s| symlink("/etc/hostname", weights(s).join("abs")).unwrap(),
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["abs", "absolute path", "hint:"],
        },
        Case {
            name: "link_chain_escaping",
            fixture: "brats-model-deepmedic",
            setup: |s| {
                let files = weights(s);
                std::fs::create_dir_all(files.join("a/b")).unwrap();
                symlink("../..", files.join("a/b/up")).unwrap();
                symlink("a/b/up/..", files.join("x")).unwrap();
            },
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "additional_files/x",
                "leaves the folder",
                "point the link at the file itself",
            ],
        },
        Case {
            name: "fifo",
            fixture: "brats-model-deepmedic",
            setup: |s| {
                let made = Command::new("mkfifo")
                    .arg(weights(s).join("pipe"))
                    .status()
                    .unwrap();
                assert!(made.success());
            },
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["pipe", "not a regular file", "remove it"],
        },
        Case {
            name: "socket",
            fixture: "brats-model-deepmedic",
            setup: |s| {
                // The socket file stays after the listener is dropped.
                std::os::unix::net::UnixListener::bind(weights(s).join("sock")).unwrap();
            },
            args: PACKAGE,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["sock", "not a regular file", "remove it"],
        },
        Case {
            name: "unreadable_file",
            fixture: "brats-model-deepmedic",
            setup: |s| {
                let locked = weights(s).join("locked.bin");
                std::fs::write(&locked, vec![1u8; 4096]).unwrap();
                std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
            },
            args: PACKAGE,
            env: &[],
            as_nobody: true,
            code: 2,
            needles: &["locked.bin", "permission denied", "make the file readable"],
        },
        Case {
            name: "unreadable_small_file",
            fixture: "brats-model-deepmedic",
            setup: |s| {
                // Under the read-ahead size: read on another thread, same message.
                let locked = weights(s).join("locked.json");
                std::fs::write(&locked, "{}").unwrap();
                std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
            },
            args: PACKAGE,
            env: &[],
            as_nobody: true,
            code: 2,
            needles: &["locked.json", "permission denied", "make the file readable"],
        },
        Case {
            name: "unreadable_folder",
            fixture: "brats-model-deepmedic",
            setup: |s| {
                let locked = weights(s).join("private");
                std::fs::create_dir(&locked).unwrap();
                std::fs::write(locked.join("w.bin"), "x").unwrap();
                std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
            },
            args: PACKAGE,
            env: &[],
            as_nobody: true,
            code: 2,
            needles: &["private", "permission denied", "make the folder readable"],
        },
        Case {
            name: "unreadable_parameters",
            fixture: "brats-metrics",
            setup: |s| {
                let parameters = s.cube.join("workspace/parameters.yaml");
                std::fs::set_permissions(&parameters, std::fs::Permissions::from_mode(0o000))
                    .unwrap();
            },
            args: PACKAGE,
            env: &[],
            as_nobody: true,
            code: 2,
            needles: &[
                "parameters.yaml",
                "permission denied",
                "make the file readable",
            ],
        },
        // --- command line ---
        Case {
            name: "unknown_provider",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "ftp://host/x"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--to ftp://host/x: unknown destination", "use "],
        },
        Case {
            name: "s3_destination_without_bucket",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "s3://"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--to s3://", "bucket"],
        },
        Case {
            name: "gcs_destination_without_bucket",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "gs://"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--to gs://", "bucket"],
        },
        Case {
            name: "github_destination_without_tag",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "package-and-publish",
                "{cube}",
                "--to",
                "github://owner/repo",
            ],
            env: &[("GITHUB_TOKEN", "t0ken")],
            as_nobody: false,
            code: 2,
            needles: &["--to github://owner/repo", "github://OWNER/REPO/TAG"],
        },
        Case {
            name: "synapse_destination_not_an_id",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "synapse:folder"],
            env: &[("SYNAPSE_AUTH_TOKEN", "t0ken")],
            as_nobody: false,
            code: 2,
            needles: &["--to synapse:folder", "synapse:syn"],
        },
        Case {
            name: "http_destination_without_host",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "https://"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "--to: not a valid URL (empty host)",
                "https://files.example.org/",
            ],
        },
        Case {
            name: "http_destination_unencrypted",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "http://host/up/"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--to http://host/up/", "unencrypted", "--allow-http"],
        },
        Case {
            name: "http_destination_presigned",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "package-and-publish",
                "{cube}",
                "--to",
                "https://host/up/?sig=abc123",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--to https://host/up/?…", "presigned", "env:"],
        },
        Case {
            name: "gcs_bucket_name_invalid",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "gs://UPPER"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "--to gs://UPPER",
                "not a Cloud Storage bucket name",
                "lower-case",
            ],
        },
        Case {
            name: "dir_destination_empty",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "dir:"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--to dir: needs a folder", "--to dir:./published"],
        },
        Case {
            name: "option_for_another_provider",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "package-and-publish",
                "{cube}",
                "--to",
                "dir:{dest}",
                "--region",
                "eu-west-1",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--region does not apply to --to dir:", "hint:"],
        },
        Case {
            name: "no_destination",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["no destination: give --to DEST", "cubeship.toml"],
        },
        Case {
            name: "conflicting_flags",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["-q", "-v", "package", "{cube}"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--quiet", "cannot be used with", "--verbose"],
        },
        Case {
            name: "key_template_unknown_variable",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "package-and-publish",
                "{cube}",
                "--to",
                "dir:{dest}",
                "--key-template",
                "{name}/{colour}/{file}",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--key-template", "{colour}", "{sha256}"],
        },
        Case {
            name: "key_template_unclosed_brace",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "package-and-publish",
                "{cube}",
                "--to",
                "dir:{dest}",
                "--key-template",
                "{name}/{sha256_16/{file}",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--key-template", "{sha256_16}"],
        },
        Case {
            name: "jobs_zero",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "--jobs",
                "0",
                "package-and-publish",
                "{cube}",
                "--to",
                "dir:{dest}",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--jobs", "0 is not in 1..=64"],
        },
        Case {
            name: "compression_level_out_of_range",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package", "{cube}", "--compression-level", "12"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--compression-level", "12 is not in 0..=9"],
        },
        Case {
            name: "bad_timeout_env",
            fixture: "brats-metrics",
            setup: nothing,
            args: PUBLISH_DIR,
            env: &[("CUBESHIP_IDLE_TIMEOUT", "soon")],
            as_nobody: false,
            code: 2,
            needles: &["CUBESHIP_IDLE_TIMEOUT", "seconds"],
        },
        Case {
            name: "presigned_url_on_the_command_line",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "http",
                "upload",
                "{cube}/mlcube.yaml",
                "--url",
                "https://store.example/up/?X-Amz-Signature=abc123&X-Amz-Credential=k",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--url", "env:"],
        },
        Case {
            name: "endpoint_with_user_info",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "package-and-publish",
                "{cube}",
                "--to",
                "s3://bucket",
                "--endpoint-url",
                "http://AKIAUSER:s3cr3t@127.0.0.1:9/",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "--endpoint-url",
                "user name or password",
                "through the environment",
            ],
        },
        Case {
            name: "github_token_missing",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "package-and-publish",
                "{cube}",
                "--to",
                "github://owner/repo/v1",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["GITHUB_TOKEN", "GH_TOKEN"],
        },
        Case {
            name: "synapse_token_missing",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package-and-publish", "{cube}", "--to", "synapse:syn123"],
            // A home without ~/.synapseConfig.
            env: &[("HOME", "{temp}")],
            as_nobody: false,
            code: 2,
            needles: &[
                "SYNAPSE_AUTH_TOKEN is not set",
                "~/.synapseConfig",
                "export it",
            ],
        },
        Case {
            name: "upload_file_missing",
            fixture: "brats-metrics",
            setup: nothing,
            args: &[
                "http",
                "upload",
                "{temp}/absent.bin",
                "--url",
                "http://127.0.0.1:9/x/",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["absent.bin", "hint:"],
        },
        Case {
            name: "publish_folder_without_manifest",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["publish", "{cube}/workspace", "--to", "dir:{dest}"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["manifest.json", "cubeship package"],
        },
        // --- deploy folder ---
        Case {
            name: "deploy_folder_not_writable",
            fixture: "brats-metrics",
            setup: |s| {
                let locked = s.temp.join("locked");
                std::fs::create_dir(&locked).unwrap();
                std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
            },
            args: &["package", "{cube}", "--deploy-dir", "{temp}/locked/deploy"],
            env: &[],
            as_nobody: true,
            code: 2,
            needles: &["locked/deploy", "permission denied", "--deploy-dir"],
        },
        Case {
            name: "deploy_folder_is_a_file",
            fixture: "brats-metrics",
            setup: |s| write(&s.temp.join("deploy-file"), ""),
            args: &["package", "{cube}", "--deploy-dir", "{temp}/deploy-file"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["deploy-file is a file", "--deploy-dir"],
        },
        Case {
            name: "deploy_folder_is_the_cube",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package", "{cube}", "--deploy-dir", "{cube}"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--deploy-dir", "would replace the cube", "outside the cube"],
        },
        Case {
            name: "deploy_folder_inside_additional_files",
            fixture: "brats-model-deepmedic",
            setup: nothing,
            args: &[
                "package",
                "{cube}",
                "--deploy-dir",
                "{cube}/workspace/additional_files/deploy",
            ],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--deploy-dir", "which is packaged", "outside workspace/"],
        },
        Case {
            name: "output_inside_the_deploy_folder",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package", "{cube}", "--output", "{cube}/deploy/all.tar.gz"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &[
                "--output",
                "inside the deploy folder",
                "outside the deploy folder",
            ],
        },
        Case {
            name: "output_folder_missing",
            fixture: "brats-metrics",
            setup: nothing,
            args: &["package", "{cube}", "--output", "{temp}/no/such/all.tar.gz"],
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["--output", "does not exist", "create the folder"],
        },
        // --- configuration file ---
        Case {
            name: "config_unknown_key",
            fixture: "brats-metrics",
            setup: |s| write(&s.temp.join("cubeship.toml"), "colour = true\n"),
            args: PUBLISH_DIR,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["cubeship.toml", "unknown key \"colour\"", "[options]"],
        },
        Case {
            name: "config_wrong_type",
            fixture: "brats-metrics",
            setup: |s| write(&s.temp.join("cubeship.toml"), "to = 5\n"),
            args: PUBLISH_DIR,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["cubeship.toml: to", "a string or a list of strings"],
        },
        Case {
            name: "config_not_toml",
            fixture: "brats-metrics",
            setup: |s| write(&s.temp.join("cubeship.toml"), "to = [\n"),
            args: PUBLISH_DIR,
            env: &[],
            as_nobody: false,
            code: 2,
            needles: &["cubeship.toml", "not valid TOML", "docs/configuration.md"],
        },
        // --- I/O failures while packaging ---
        Case {
            name: "disk_full",
            fixture: "brats-model-deepmedic",
            setup: |s| {
                // 3 MiB of random weights do not fit a 1 MiB disk.
                write_random_file(&weights(s).join("big.bin"), 3 << 20, 7);
                let disk = s.temp.join("small-disk");
                s.mounts.push(Tmpfs::mount(&disk, "1m"));
            },
            args: &[
                "package-and-publish",
                "{cube}",
                "--to",
                "dir:{dest}",
                "--deploy-dir",
                "{temp}/small-disk/deploy",
            ],
            env: &[],
            as_nobody: false,
            code: 1,
            needles: &["small-disk", "no space left on device", "free space"],
        },
        Case {
            name: "disk_full_for_output",
            fixture: "brats-model-deepmedic",
            setup: |s| {
                write_random_file(&weights(s).join("big.bin"), 3 << 20, 8);
                let disk = s.temp.join("small-disk");
                s.mounts.push(Tmpfs::mount(&disk, "1m"));
            },
            args: &[
                "package",
                "{cube}",
                "--output",
                "{temp}/small-disk/all.tar.gz",
            ],
            env: &[],
            as_nobody: false,
            code: 1,
            needles: &["small-disk", "no space left on device", "free space"],
        },
        Case {
            name: "disk_full_copying_the_image",
            fixture: "",
            setup: |s| {
                singularity_cube(s);
                write_random_file(&s.cube.join("workspace/.image/model.sif"), 3 << 20, 9);
                let disk = s.temp.join("small-disk");
                s.mounts.push(Tmpfs::mount(&disk, "1m"));
            },
            args: &[
                "package",
                "{cube}",
                "--deploy-dir",
                "{temp}/small-disk/deploy",
            ],
            env: &[],
            as_nobody: false,
            code: 1,
            needles: &[
                "small-disk",
                "model.sif",
                "no space left on device",
                "free space",
            ],
        },
        Case {
            name: "disk_full_while_encrypting",
            fixture: "",
            setup: |s| {
                singularity_cube(s);
                write_random_file(&s.cube.join("workspace/.image/model.sif"), 3 << 20, 10);
                let disk = s.temp.join("small-disk");
                s.mounts.push(Tmpfs::mount(&disk, "1m"));
            },
            args: &[
                "package",
                "{cube}",
                "--encrypt",
                "--deploy-dir",
                "{temp}/small-disk/deploy",
            ],
            env: &[],
            as_nobody: false,
            code: 1,
            needles: &[
                "cannot encrypt",
                "model.sif",
                "no space left on device",
                "free space",
            ],
        },
    ]
}

/// The binary as `nobody`, with the same scrubbed environment `cubeship()` gives.
fn cubeship_as_nobody() -> Command {
    let template = cubeship();
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        env!("CARGO_BIN_EXE_cubeship"),
    ]);
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

/// Files and folders under `dir`, for "nothing was published / nothing was left".
fn listing(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.path().display().to_string())
        .collect()
}

/// Runs one case; returns what went wrong, if anything.
fn check(case: &Case) -> Vec<String> {
    let temp = tempfile::tempdir().unwrap();
    let cube = temp.path().join("cube");
    if case.fixture.is_empty() {
        std::fs::create_dir_all(&cube).unwrap();
    } else {
        copy_tree(
            &fixtures_dir().join("medperf-examples").join(case.fixture),
            &cube,
        );
    }
    let mut scene = Scene {
        temp: temp.path().to_path_buf(),
        cube: cube.clone(),
        dest: temp.path().join("published"),
        mounts: Vec::new(),
    };
    std::fs::create_dir_all(&scene.dest).unwrap();
    let as_nobody = case.as_nobody && is_root();
    if as_nobody {
        // nobody must reach everything but what the case locks: open the tree first.
        Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(temp.path())
            .status()
            .unwrap();
    }
    (case.setup)(&mut scene);
    let deploy_existed = cube.join("deploy").exists();

    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| {
            a.replace("{cube}", cube.to_str().unwrap())
                .replace("{dest}", scene.dest.to_str().unwrap())
                .replace("{temp}", temp.path().to_str().unwrap())
        })
        .collect();
    let mut command = if as_nobody {
        cubeship_as_nobody()
    } else {
        cubeship()
    };
    command.current_dir(temp.path()).args(&args);
    for (key, value) in case.env {
        command.env(key, value.replace("{temp}", temp.path().to_str().unwrap()));
    }
    let run = run(&mut command);

    // Shown with --nocapture: the first line of each message, as docs/errors.md quotes it.
    eprintln!(
        "catalogue | `{}` | {} | {} | {}",
        case.name,
        run.code,
        run.stderr.lines().next().unwrap_or_default(),
        run.stderr
            .lines()
            .find(|l| l.contains("hint:") || l.contains("tip:") || l.contains("possible values"))
            .unwrap_or_default()
            .trim()
    );
    let mut problems = Vec::new();
    if run.code != case.code {
        problems.push(format!("exit code {} (expected {})", run.code, case.code));
    }
    let stderr = run.stderr.to_lowercase();
    for needle in case.needles {
        if !stderr.contains(&needle.to_lowercase()) {
            problems.push(format!("stderr lacks {needle:?}"));
        }
    }
    for bad in ["panicked", "backtrace", "stack backtrace"] {
        if stderr.contains(bad) {
            problems.push(format!("stderr shows {bad:?}"));
        }
    }
    if !run.stdout.trim().is_empty() {
        problems.push(format!("stdout is not empty: {:?}", run.stdout));
    }
    let published = listing(&scene.dest);
    if !published.is_empty() {
        problems.push(format!("the destination is not empty: {published:?}"));
    }
    if !deploy_existed && cube.join("deploy").exists() {
        problems.push("a deploy folder was left in the cube".into());
    }
    for mount in &scene.mounts {
        let left = listing(&mount.0);
        // The --encrypt key is kept on purpose (a re-run encrypts to the same bytes).
        if left.iter().any(|p| !p.ends_with(".decryption-key")) {
            problems.push(format!("half-written files on the full disk: {left:?}"));
        }
    }
    let leftovers: Vec<String> = [temp.path(), cube.as_path()]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.filter_map(Result::ok))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging") || n.contains("partial"))
        .collect();
    if !leftovers.is_empty() {
        problems.push(format!("left behind: {leftovers:?}"));
    }
    if !problems.is_empty() {
        problems.insert(
            0,
            format!(
                "case {}: cubeship {}\nstderr:\n{}",
                case.name,
                args.join(" "),
                run.stderr
            ),
        );
    }
    drop(scene);
    problems
}

#[test]
fn every_bad_input_of_the_catalogue_gets_its_exit_code_and_message() {
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "the catalogue holds {} cases",
        cases.len()
    );
    let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    let failures: Vec<String> = cases.iter().flat_map(check).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn docs_errors_md_lists_every_case_of_the_catalogue() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md"))
            .expect("docs/errors.md exists");
    let missing: Vec<_> = cases()
        .iter()
        .map(|c| c.name)
        .filter(|name| !page.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/errors.md has no row for {missing:?} (one row per case: | `name` | exit | message | fix |)"
    );
}
