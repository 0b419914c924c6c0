//! `cubeship package`: the MedPerf examples, archive edge cases checked with GNU tar and
//! Python's tarfile data filter, reproducibility, and every bad input refused with exit 2.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

fn package(cube: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "package".to_string(),
        cube.display().to_string(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    cubeship_run(args)
}

fn roles(manifest: &serde_json::Value) -> Vec<String> {
    manifest["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn medperf_examples_package_into_the_files_medperf_hosts() {
    let expected: &[(&str, &[&str], &str)] = &[
        ("brats-data-prep", &["mlcube", "parameters"], "mlcube"),
        ("brats-metrics", &["mlcube", "parameters"], "mlcube"),
        (
            "brats-model-deepmedic",
            &["mlcube", "parameters", "additional_files"],
            "mlcube",
        ),
        (
            "chestxray-tutorial-mobilenetv2",
            &["mlcube", "parameters", "additional_files"],
            "container",
        ),
    ];
    for (name, want_roles, layout) in expected {
        let (_temp, cube) = example_cube(name);
        let run = package(&cube, &[]);
        run.assert_code(0);
        let manifest = run.json();
        assert_eq!(roles(&manifest), *want_roles, "{name}");
        assert_eq!(manifest["mlcube"]["layout"], *layout, "{name}");
        assert_eq!(manifest["mlcube"]["name"], *name);
        let deploy = cube.join("deploy");
        for component in manifest["components"].as_array().unwrap() {
            let file = deploy.join(component["file"].as_str().unwrap());
            assert_eq!(
                sha256_file(&file),
                component["sha256"].as_str().unwrap(),
                "{}",
                file.display()
            );
            assert_eq!(
                std::fs::metadata(&file).unwrap().len(),
                component["size"].as_u64().unwrap()
            );
            assert_eq!(component["sha1"].as_str().unwrap().len(), 40);
        }
        // manifest.json on disk is what --json printed.
        let on_disk: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(deploy.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(on_disk, manifest);
        // The manifest is copied byte for byte.
        let manifest_file = if *layout == "mlcube" {
            "mlcube.yaml"
        } else {
            "container_config.yaml"
        };
        assert_eq!(
            std::fs::read(cube.join(manifest_file)).unwrap(),
            std::fs::read(deploy.join(manifest_file)).unwrap()
        );
        // Nothing else from workspace/ (data, predictions) is published.
        let mut files: Vec<String> = std::fs::read_dir(&deploy)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut want: Vec<String> = manifest["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["file"].as_str().unwrap().to_string())
            .chain(["manifest.json".to_string()])
            .collect();
        want.sort();
        assert_eq!(files, want, "{name}");
    }
}

#[test]
fn the_weights_archive_holds_the_contents_of_additional_files() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    package(&cube, &[]).assert_code(0);
    let out = temp.path().join("x");
    extract_with_gnu_tar(&cube.join("deploy/additional_files.tar.gz"), &out);
    assert_trees_equal(&cube.join("workspace/additional_files"), &out);
}

#[test]
fn a_manifest_naming_missing_weights_is_refused() {
    let (_temp, cube) = example_cube("chestxray-xrv-densenet");
    let run = package(&cube, &[]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("additional_files/weights.pt"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing on stdout: {}", run.stdout);
    assert!(!cube.join("deploy").exists(), "no partial deploy folder");
    assert_no_staging_left(&cube);
}

#[test]
fn every_input_problem_is_reported_in_one_run() {
    let (_temp, cube) = example_cube("chestxray-xrv-densenet");
    std::fs::remove_file(cube.join("workspace/parameters.yaml")).unwrap();
    let run = package(&cube, &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("2 problems"), "{}", run.stderr);
    assert!(
        run.stderr.contains("additional_files/weights.pt"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("parameters.yaml is missing"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("hint:").count(),
        2,
        "one hint each:\n{}",
        run.stderr
    );
    assert!(!cube.join("deploy").exists());
}

/// Builds an MLCube whose additional files exercise every archive edge case.
fn edge_case_cube(root: &Path) -> PathBuf {
    let cube = root.join("edge-cube");
    let files = cube.join("workspace/additional_files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(
        cube.join("mlcube.yaml"),
        "name: edge\ntasks:\n  infer:\n    parameters:\n      inputs: {data_path: data/, parameters_file: parameters.yaml, weights: additional_files/weights/model.bin}\n      outputs: {output_path: {type: directory, default: predictions}}\n",
    )
    .unwrap();
    std::fs::write(cube.join("workspace/parameters.yaml"), "threshold: 0.5\n").unwrap();
    let deep = files.join(
        "a-rather-long-folder-name-for-testing/another-long-folder-name-to-pass-one-hundred-bytes",
    );
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(
        deep.join("and-a-long-file-name-at-the-end-of-the-path.txt"),
        "long path\n",
    )
    .unwrap();
    std::fs::create_dir_all(files.join("weights")).unwrap();
    write_random_file(&files.join("weights/model.bin"), 3 * 1024 * 1024 + 17, 7);
    std::fs::write(
        files.join("weights/config.json"),
        "{\"layers\": 12}\n".repeat(5000),
    )
    .unwrap();
    std::fs::write(files.join("données é ü 日本.txt"), "non-ascii\n").unwrap();
    std::fs::write(files.join("with space.txt"), "space\n").unwrap();
    std::fs::write(files.join("empty.txt"), "").unwrap();
    std::fs::write(files.join(".hidden"), "hidden\n").unwrap();
    std::fs::create_dir_all(files.join("empty-folder")).unwrap();
    std::fs::write(files.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(files.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink("weights/model.bin", files.join("model-link.bin")).unwrap();
    symlink(
        "../config.json",
        files.join("weights/../weights/config-link.json"),
    )
    .unwrap_or(());
    cube
}

fn extract_with_gnu_tar(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .expect("GNU tar runs");
    assert!(status.success(), "GNU tar extracts {}", archive.display());
}

fn extract_with_python_data_filter(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let script = "import sys, tarfile\nwith tarfile.open(sys.argv[1]) as t:\n    t.extractall(sys.argv[2], filter='data')\n";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(archive)
        .arg(into)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python tarfile data filter: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compares two trees: same names, kinds, contents, executable bits and link targets.
fn assert_trees_equal(expected: &Path, actual: &Path) {
    fn listing(root: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                let what = if meta.file_type().is_symlink() {
                    format!("link {}", std::fs::read_link(&path).unwrap().display())
                } else if meta.is_dir() {
                    stack.push(path.clone());
                    "dir".to_string()
                } else {
                    format!(
                        "file {} exec={}",
                        sha256_file(&path),
                        meta.permissions().mode() & 0o100 != 0
                    )
                };
                out.push((rel, what));
            }
        }
        out.sort();
        out
    }
    assert_eq!(listing(expected), listing(actual));
}

#[test]
fn edge_case_archives_round_trip_through_gnu_tar_and_python_data_filter() {
    let temp = tempfile::tempdir().unwrap();
    let cube = edge_case_cube(temp.path());
    package(&cube, &[]).assert_code(0);
    let archive = cube.join("deploy/additional_files.tar.gz");
    let source = cube.join("workspace/additional_files");

    let by_tar = temp.path().join("by-tar");
    extract_with_gnu_tar(&archive, &by_tar);
    assert_trees_equal(&source, &by_tar);

    let by_python = temp.path().join("by-python");
    extract_with_python_data_filter(&archive, &by_python);
    assert_trees_equal(&source, &by_python);

    // Owners and times are normalised in the archive itself.
    let listing = Command::new("tar")
        .arg("--numeric-owner")
        .arg("-tvzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for line in listing.lines() {
        assert!(line.contains(" 0/0 "), "owner not normalised: {line}");
        assert!(line.contains("2000-01-01"), "mtime not normalised: {line}");
    }
}

#[test]
fn packaging_is_reproducible_across_runs_touches_and_folders() {
    let temp = tempfile::tempdir().unwrap();
    let cube = edge_case_cube(temp.path());
    let first = package(&cube, &[]);
    first.assert_code(0);
    let first_bytes = std::fs::read(cube.join("deploy/additional_files.tar.gz")).unwrap();

    // New mtimes everywhere, and another deploy folder.
    let stamp = Command::new("find")
        .arg(cube.join("workspace"))
        .args(["-exec", "touch", "-h", "-d", "2031-05-05 10:00", "{}", "+"])
        .status()
        .unwrap();
    assert!(stamp.success());
    let elsewhere = temp.path().join("elsewhere/deploy");
    let second = package(&cube, &["--deploy-dir", elsewhere.to_str().unwrap()]);
    second.assert_code(0);
    assert_eq!(first.json()["components"], second.json()["components"]);
    assert_eq!(
        first_bytes,
        std::fs::read(elsewhere.join("additional_files.tar.gz")).unwrap()
    );

    // A real change changes the hash.
    std::fs::write(cube.join("workspace/additional_files/empty.txt"), "x").unwrap();
    let third = package(&cube, &[]);
    assert_ne!(
        first.json()["components"][2]["sha256"],
        third.json()["components"][2]["sha256"]
    );
}

#[test]
fn image_folder_becomes_image_tar_gz_and_output_writes_one_tarball() {
    let temp = tempfile::tempdir().unwrap();
    let cube = edge_case_cube(temp.path());
    std::fs::create_dir_all(cube.join("workspace/.image")).unwrap();
    write_random_file(&cube.join("workspace/.image/model.sif"), 200_000, 3);
    let single = temp.path().join("cube-bundle.tar.gz");
    let run = package(&cube, &["--output", single.to_str().unwrap()]);
    run.assert_code(0);
    assert_eq!(
        roles(&run.json()),
        ["mlcube", "parameters", "additional_files", "image"]
    );

    let image = temp.path().join("image");
    extract_with_python_data_filter(&cube.join("deploy/image.tar.gz"), &image);
    assert_trees_equal(&cube.join("workspace/.image"), &image);

    let bundle = temp.path().join("bundle");
    extract_with_gnu_tar(&single, &bundle);
    assert_trees_equal(&cube.join("deploy"), &bundle);
}

#[test]
fn json_output_is_only_json_and_human_output_lists_hashes() {
    let (_temp, cube) = example_cube("brats-metrics");
    let run = package(&cube, &[]);
    run.assert_code(0);
    let _ = run.json();
    let human = cubeship_run(["package", cube.to_str().unwrap()]);
    human.assert_code(0);
    let sha = sha256_file(&cube.join("deploy/parameters.yaml"));
    assert!(human.stdout.contains(&sha), "{}", human.stdout);
    assert!(human.stdout.contains("parameters.yaml"));
}

fn assert_no_staging_left(cube: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(cube)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging") || n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

/// Runs `package` on a broken cube and checks exit 2, the message, and that nothing was left.
#[track_caller]
fn assert_refused(cube: &Path, extra: &[&str], must_mention: &[&str]) -> Run {
    let run = package(cube, extra);
    run.assert_code(2);
    for needle in must_mention {
        assert!(
            run.stderr.contains(needle),
            "stderr should mention {needle:?}:\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    if cube.is_dir() {
        assert!(
            !cube.join("deploy").exists(),
            "no deploy folder after a refusal"
        );
        assert_no_staging_left(cube);
    }
    run
}

#[test]
fn bad_inputs_are_refused_with_exit_2_and_a_message_naming_the_file() {
    let temp = tempfile::tempdir().unwrap();

    // Folder missing.
    assert_refused(
        &temp.path().join("nope"),
        &[],
        &["nope", "cannot open the MLCube folder"],
    );

    // Neither manifest.
    let empty = temp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_refused(
        &empty,
        &[],
        &["neither mlcube.yaml nor container_config.yaml"],
    );

    // Both manifests.
    let (_t, both) = example_cube("brats-metrics");
    std::fs::write(both.join("container_config.yaml"), "tasks: {}\n").unwrap();
    assert_refused(&both, &[], &["both mlcube.yaml and container_config.yaml"]);

    // Not YAML.
    let (_t, broken) = example_cube("brats-metrics");
    std::fs::write(broken.join("mlcube.yaml"), "name: [unclosed\ntasks: {\n").unwrap();
    assert_refused(&broken, &[], &["mlcube.yaml", "not valid YAML"]);

    // parameters_file misnamed.
    let (_t, misnamed) = example_cube("brats-metrics");
    let text = std::fs::read_to_string(misnamed.join("mlcube.yaml")).unwrap();
    std::fs::write(
        misnamed.join("mlcube.yaml"),
        text.replace(
            "parameters_file: parameters.yaml",
            "parameters_file: params.yaml",
        ),
    )
    .unwrap();
    assert_refused(&misnamed, &[], &["params.yaml", "parameters.yaml"]);

    // parameters.yaml missing.
    let (_t, no_params) = example_cube("brats-metrics");
    std::fs::remove_file(no_params.join("workspace/parameters.yaml")).unwrap();
    assert_refused(&no_params, &[], &["workspace/parameters.yaml", "missing"]);

    // Two runners naming an image.
    let (_t, two) = example_cube("brats-metrics");
    let text = std::fs::read_to_string(two.join("mlcube.yaml")).unwrap();
    std::fs::write(
        two.join("mlcube.yaml"),
        format!("{text}\nsingularity:\n  image: metrics.sif\n"),
    )
    .unwrap();
    assert_refused(&two, &[], &["both docker and singularity"]);

    // A singularity image named but absent from workspace/.image.
    let (_t, sif) = example_cube("brats-metrics");
    let text = std::fs::read_to_string(sif.join("mlcube.yaml")).unwrap();
    let text = text.replace(
        "docker:\n  # Image name.\n  image: mlcommons/fets_metrics\n",
        "singularity:\n  image: metrics.sif\ndocker:\n",
    );
    std::fs::write(sif.join("mlcube.yaml"), text).unwrap();
    assert_refused(&sif, &[], &["metrics.sif", ".image"]);

    // The wrong --type.
    let (_t, metrics) = example_cube("brats-metrics");
    assert_refused(&metrics, &["--type", "model"], &["infer"]);

    // A link that leaves the MLCube folder.
    let (_t, escaping) = example_cube("brats-model-deepmedic");
    symlink(
        "../../../../etc/hostname",
        escaping.join("workspace/additional_files/escape"),
    )
    .unwrap();
    assert_refused(&escaping, &[], &["escape", "outside the folder"]);

    // An absolute link.
    let (_t, absolute) = example_cube("brats-model-deepmedic");
    symlink(
        "/etc/hostname",
        absolute.join("workspace/additional_files/abs"),
    )
    .unwrap();
    assert_refused(&absolute, &[], &["abs", "absolute path"]);

    // A named pipe.
    let (_t, fifo) = example_cube("brats-model-deepmedic");
    let made = Command::new("mkfifo")
        .arg(fifo.join("workspace/additional_files/pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    assert_refused(&fifo, &[], &["pipe", "not a regular file"]);

    // A deploy folder that cannot be written (its parent is a file).
    let (_t, cube) = example_cube("brats-metrics");
    let blocker = temp.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let target = blocker.join("deploy");
    assert_refused(
        &cube,
        &["--deploy-dir", target.to_str().unwrap()],
        &["a-file"],
    );
}

#[test]
fn a_staging_folder_left_by_a_killed_run_is_cleaned_up() {
    let (_temp, cube) = example_cube("brats-metrics");
    // A pid that cannot be alive (above the kernel's pid_max limit of 2^22).
    let abandoned = cube.join(".deploy.staging-4999999");
    std::fs::create_dir_all(abandoned.join("inner")).unwrap();
    package(&cube, &[]).assert_code(0);
    assert!(!abandoned.exists(), "abandoned staging folder removed");
    assert_no_staging_left(&cube);
}

#[test]
fn valid_types_are_accepted() {
    for (name, cube_type) in [
        ("brats-model-deepmedic", "model"),
        ("brats-metrics", "metrics"),
        ("brats-data-prep", "data-preparator"),
        ("chestxray-tutorial-mobilenetv2", "model"),
    ] {
        let (_t, cube) = example_cube(name);
        package(&cube, &["--type", cube_type]).assert_code(0);
    }
}

#[test]
fn an_unreadable_file_is_refused() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    let secret = cube.join("workspace/additional_files/locked.bin");
    std::fs::write(&secret, "x").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    // root reads anything: run as `nobody` then, so the permission check is real.
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        .starts_with(b"0\n");
    let run = if is_root {
        Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(temp.path())
            .status()
            .unwrap();
        std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
        run(Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_cubeship"),
                "package",
            ])
            .arg(&cube))
    } else {
        cubeship_run(["package", cube.to_str().unwrap()])
    };
    run.assert_code(2);
    assert!(run.stderr.contains("locked.bin"), "{}", run.stderr);
    assert!(!cube.join("deploy").exists());
}

#[test]
fn a_chain_of_links_that_escapes_once_followed_is_refused() {
    // Each link alone stays inside; followed as extraction follows them, `x` leaves the folder.
    let (_t, cube) = example_cube("brats-model-deepmedic");
    let files = cube.join("workspace/additional_files");
    std::fs::create_dir_all(files.join("a/b")).unwrap();
    symlink("../..", files.join("a/b/up")).unwrap();
    symlink("a/b/up/..", files.join("x")).unwrap();
    let run = assert_refused(&cube, &[], &["additional_files/x", "a/b/up", "hint:"]);
    assert!(run.stderr.contains("leaves the folder"), "{}", run.stderr);

    // The same links without the escape package and extract with the data filter.
    let (temp, fine) = example_cube("brats-model-deepmedic");
    let files = fine.join("workspace/additional_files");
    std::fs::create_dir_all(files.join("a/b")).unwrap();
    symlink("../..", files.join("a/b/up")).unwrap();
    symlink("a/b/up/a", files.join("x")).unwrap();
    package(&fine, &[]).assert_code(0);
    extract_with_python_data_filter(
        &fine.join("deploy/additional_files.tar.gz"),
        &temp.path().join("out"),
    );
}

#[test]
fn hardlinks_are_stored_once_as_hardlink_entries() {
    let temp = tempfile::tempdir().unwrap();
    let cube = edge_case_cube(temp.path());
    let files = cube.join("workspace/additional_files");
    std::fs::hard_link(
        files.join("weights/model.bin"),
        files.join("weights/same.bin"),
    )
    .unwrap();
    package(&cube, &[]).assert_code(0);
    let archive = cube.join("deploy/additional_files.tar.gz");
    let listing = Command::new("tar")
        .arg("-tvzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.contains("weights/same.bin link to weights/model.bin")),
        "{listing}"
    );
    // Stored once: the archive is smaller than the two copies of the incompressible file.
    assert!(std::fs::metadata(&archive).unwrap().len() < 2 * 3 * 1024 * 1024);
    for (name, extract) in [
        ("by-tar", extract_with_gnu_tar as fn(&Path, &Path)),
        ("by-python", extract_with_python_data_filter),
    ] {
        let out = temp.path().join(name);
        extract(&archive, &out);
        assert_trees_equal(&files, &out);
    }
}

#[test]
fn a_file_rewritten_at_the_same_size_and_mtime_while_packaging_is_refused() {
    let (_t, cube) = example_cube("brats-model-deepmedic");
    let files = cube.join("workspace/additional_files");
    // Sorted first, and large: packaging it leaves time to rewrite the last file before it is read.
    write_random_file(&files.join("aa-big.bin"), 128 << 20, 5);
    let last = files.join("zz-last.txt");
    std::fs::write(&last, "original content\n").unwrap();
    let mtime = std::fs::metadata(&last).unwrap().modified().unwrap();

    let child = cubeship()
        .args(["package"])
        .arg(&cube)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The staging folder appears once every entry was walked and checked.
    let staging = cube.join(format!(".deploy.staging-{}", child.id()));
    let started = std::time::Instant::now();
    while !staging.exists() {
        assert!(started.elapsed().as_secs() < 60, "packaging never started");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::fs::write(&last, "tampered content\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&last)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("zz-last.txt"), "{stderr}");
    assert!(
        stderr.contains("was modified while it was being packaged"),
        "{stderr}"
    );
    assert!(
        !cube.join("deploy").exists(),
        "no deploy folder after a refusal"
    );
}

#[test]
fn archives_do_not_depend_on_the_number_of_cores() {
    // The thread count follows the CPUs the process may use: one under `taskset -c 0`.
    let temp = tempfile::tempdir().unwrap();
    let cube = edge_case_cube(temp.path());
    let text: String = (0..200_000)
        .map(|i| format!("w{} ", i * 7 % 3001))
        .collect();
    std::fs::write(cube.join("workspace/additional_files/vocab.txt"), text).unwrap();
    package(&cube, &[]).assert_code(0);
    let all_cores = std::fs::read(cube.join("deploy/additional_files.tar.gz")).unwrap();
    let one = temp.path().join("one-core");
    let pinned = run(Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_cubeship"), "package"])
        .arg(&cube)
        .arg("--deploy-dir")
        .arg(&one));
    pinned.assert_code(0);
    assert!(all_cores == std::fs::read(one.join("additional_files.tar.gz")).unwrap());
}
