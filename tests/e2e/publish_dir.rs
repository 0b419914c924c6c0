//! Publishing to `dir:` (no account needed): the whole pipeline — plan, upload, verify,
//! report, medperf command, idempotence, overwrite protection, dry run, `verify`.

use std::path::Path;

use crate::support::*;

fn publish(cube: &Path, dest: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "package-and-publish".to_string(),
        cube.display().to_string(),
        "--to".into(),
        format!("dir:{}", dest.display()),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    cubeship_run(args)
}

fn file_url_path(url: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(url.strip_prefix("file://").expect("file URL"))
}

#[test]
fn package_and_publish_to_a_folder_verifies_and_prints_the_medperf_command() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    let dest = temp.path().join("published");
    let run = publish(&cube, &dest, &[]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(statuses(&report), ["uploaded", "uploaded", "uploaded"]);
    for component in report["components"].as_array().unwrap() {
        let upload = &component["uploads"][0];
        assert_eq!(upload["verified"], true);
        assert!(upload["error"].is_null());
        let path = file_url_path(upload["url"].as_str().unwrap());
        assert!(path.starts_with(&dest), "{}", path.display());
        // Content-addressed key: <name>/<first 16 hex of sha256>/<file>.
        let sha = component["sha256"].as_str().unwrap();
        let expected_key = format!(
            "brats-model-deepmedic/{}/{}",
            &sha[..16],
            component["file"].as_str().unwrap()
        );
        assert_eq!(upload["key"], expected_key.as_str());
        assert_eq!(sha256_file(&path), sha);
    }
    let command = report["medperf_command"].as_str().unwrap();
    assert!(
        command.starts_with(
            "medperf mlcube submit --name brats-model-deepmedic --mlcube-file file://"
        ),
        "{command}"
    );
    for flag in [
        "--mlcube-hash",
        "--parameters-file",
        "--parameters-hash",
        "--additional-file",
        "--additional-hash",
    ] {
        assert!(command.contains(flag), "{command}");
    }
    assert!(
        !command.contains("--image-file"),
        "no image component: {command}"
    );
    let mlcube_sha = report["components"][0]["sha256"].as_str().unwrap();
    assert!(
        command.contains(&format!("--mlcube-hash {mlcube_sha}")),
        "{command}"
    );

    // The same report is in the deploy folder.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cube.join("deploy/publish.json")).unwrap())
            .unwrap();
    assert_eq!(saved, report);
}

#[test]
fn a_rerun_uploads_nothing_and_a_changed_weight_gets_a_new_key() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    let dest = temp.path().join("published");
    let first = publish(&cube, &dest, &[]);
    first.assert_code(0);

    let again = publish(&cube, &dest, &[]);
    again.assert_code(0);
    assert_eq!(
        statuses(&again.json()),
        ["unchanged", "unchanged", "unchanged"]
    );

    std::fs::write(
        cube.join("workspace/additional_files/greetings.csv"),
        "hello,changed\n",
    )
    .unwrap();
    let changed = publish(&cube, &dest, &[]);
    changed.assert_code(0);
    let report = changed.json();
    assert_eq!(statuses(&report), ["unchanged", "unchanged", "uploaded"]);
    let old_key = first.json()["components"][2]["uploads"][0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let new_key = report["components"][2]["uploads"][0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(old_key, new_key);
    // The old URL still serves the old bytes: what MedPerf registered never changes.
    let old_sha = first.json()["components"][2]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sha256_file(&dest.join(&old_key)), old_sha);
}

#[test]
fn other_content_under_the_same_key_is_never_overwritten_without_overwrite() {
    let (temp, cube) = example_cube("brats-metrics");
    let dest = temp.path().join("published");
    let fixed_keys = ["--key-template", "{name}/{file}"];
    publish(&cube, &dest, &fixed_keys).assert_code(0);
    let target = dest.join("brats-metrics/parameters.yaml");
    let before = std::fs::read(&target).unwrap();

    std::fs::write(cube.join("workspace/parameters.yaml"), "changed: true\n").unwrap();
    let refused = publish(&cube, &dest, &fixed_keys);
    refused.assert_code(1);
    let report = refused.json();
    assert_eq!(statuses(&report), ["unchanged", "failed"]);
    let error = report["components"][1]["uploads"][0]["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("--overwrite"), "{error}");
    assert!(report["medperf_command"].is_null());
    assert_eq!(
        std::fs::read(&target).unwrap(),
        before,
        "nothing overwritten"
    );

    let replaced = publish(
        &cube,
        &dest,
        &["--key-template", "{name}/{file}", "--overwrite"],
    );
    replaced.assert_code(0);
    assert_eq!(std::fs::read(&target).unwrap(), b"changed: true\n");
}

#[test]
fn dry_run_plans_and_changes_nothing() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    let dest = temp.path().join("published");
    let run = publish(&cube, &dest, &["--dry-run"]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(statuses(&report), ["planned", "planned", "planned"]);
    assert!(
        report["components"][2]["uploads"][0]["url"]
            .as_str()
            .unwrap()
            .contains("additional_files.tar.gz")
    );
    assert!(!dest.exists(), "dry run created the destination");
    assert!(
        !cube.join("deploy").exists(),
        "dry run wrote the deploy folder"
    );
}

#[test]
fn container_layout_gets_the_container_submit_command_and_sha1_on_request() {
    let (temp, cube) = example_cube("chestxray-tutorial-mobilenetv2");
    let dest = temp.path().join("published");
    let run = publish(&cube, &dest, &["--hash", "sha1"]);
    run.assert_code(0);
    let report = run.json();
    let command = report["medperf_command"].as_str().unwrap();
    assert!(
        command.starts_with("medperf container submit --name chestxray-tutorial-mobilenetv2"),
        "{command}"
    );
    assert!(command.contains("--container-config-file "), "{command}");
    assert!(
        command.contains("deploy/container_config.yaml"),
        "{command}"
    );
    assert!(command.contains("--parameters-file "), "{command}");
    let additional = &report["components"][2];
    assert!(
        command.contains(&format!(
            "--additional-hash {}",
            additional["sha1"].as_str().unwrap()
        )),
        "{command}"
    );
    assert!(!command.contains("--mlcube-hash"), "{command}");
}

#[test]
fn publish_of_a_deploy_folder_and_verify_of_the_report() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    let dest = temp.path().join("published");
    let run = cubeship_run([
        "publish",
        cube.join("deploy").to_str().unwrap(),
        "--to",
        &format!("dir:{}", dest.display()),
    ]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("Register with MedPerf:"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("verified"), "{}", run.stdout);

    let publish_json = cube.join("deploy/publish.json");
    cubeship_run(["verify", publish_json.to_str().unwrap()]).assert_code(0);

    // One URL on its own.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&publish_json).unwrap()).unwrap();
    let url = report["components"][0]["uploads"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let sha = report["components"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    cubeship_run(["verify", &url, "--sha256", &sha]).assert_code(0);
    let wrong = "0".repeat(64);
    cubeship_run(["verify", &url, "--sha256", &wrong]).assert_code(1);

    // Tampering with a published file is caught.
    std::fs::write(file_url_path(&url), "tampered").unwrap();
    let failed = cubeship_run(["verify", publish_json.to_str().unwrap()]);
    failed.assert_code(1);
    assert!(failed.stdout.contains("FAILED"), "{}", failed.stdout);
}

#[test]
fn bad_destinations_and_options_are_usage_errors() {
    let (temp, cube) = example_cube("brats-metrics");
    let never = temp.path().join("never");
    let never_dest = format!("dir:{}", never.display());
    assert_usage_error(
        [
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            "ftp://x/y",
        ],
        "ftp://x/y",
    );
    assert!(!cube.join("deploy").exists());

    assert_usage_error(
        [
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            "s3://Bad_Bucket!/x",
        ],
        "Bad_Bucket!",
    );

    assert_usage_error(
        [
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            &never_dest,
            "--key-template",
            "{nope}/{file}",
        ],
        "{nope}",
    );

    assert_usage_error(
        [
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            &never_dest,
            "--public-url-base",
            "https://cdn.example.org",
        ],
        "--public-url-base",
    );

    assert_usage_error(
        [
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            "http://127.0.0.1:9/a/",
            "--to",
            "http://127.0.0.1:9/b/",
            "--get-url",
            "http://127.0.0.1:9/public/",
        ],
        "--get-url",
    );

    assert_usage_error(
        ["publish", "/nonexistent/deploy", "--to", &never_dest],
        "manifest.json",
    );
    assert!(!never.exists(), "nothing was created at the destination");
    assert!(!cube.join("deploy").exists());
}

#[test]
fn completions_and_version_are_printed() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = cubeship_run(["completions", shell]);
        run.assert_code(0);
        assert!(run.stdout.contains("package-and-publish"), "{shell}");
    }
    let version = cubeship_run(["--version"]);
    version.assert_code(0);
    assert!(
        version.stdout.starts_with("cubeship "),
        "{}",
        version.stdout
    );
    assert_usage_error(["completions", "tcsh"], "tcsh");
}

#[test]
fn conformance_on_a_folder() {
    let temp = tempfile::tempdir().unwrap();
    conformance(
        &format!("dir:{}", temp.path().join("published").display()),
        &[],
        &[],
    );
}

/// Issue #13 item 4: `cubeship NAME upload` keys are the file names, not content-addressed,
/// so the write must be create-only: the same bytes are `unchanged`, other bytes are refused
/// unless `--overwrite`, and of several runs racing with different bytes for one key exactly
/// one wins; the bytes it printed are the ones stored.
#[test]
fn upload_keys_are_create_only_unless_overwrite_even_when_runs_race() {
    let temp = tempfile::tempdir().unwrap();
    let dest = temp.path().join("dest");
    let file = temp.path().join("notes.txt");
    let upload = |file: &Path, extra: &[&str]| {
        let mut args = vec![
            "--json".to_string(),
            "dir".into(),
            "upload".into(),
            file.display().to_string(),
            "--dir".into(),
            dest.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        cubeship_run(args)
    };
    std::fs::write(&file, "version 1\n").unwrap();
    let first = upload(&file, &[]);
    first.assert_code(0);
    assert_eq!(statuses(&first.json()), ["uploaded"]);
    let again = upload(&file, &[]);
    again.assert_code(0);
    assert_eq!(statuses(&again.json()), ["unchanged"]);
    std::fs::write(&file, "version 2\n").unwrap();
    let refused = upload(&file, &[]);
    refused.assert_code(1);
    let report = refused.json();
    let error = report["components"][0]["uploads"][0]["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("--overwrite"), "{error}");
    assert_eq!(
        std::fs::read_to_string(dest.join("notes.txt")).unwrap(),
        "version 1\n"
    );
    let replaced = upload(&file, &["--overwrite"]);
    replaced.assert_code(0);
    assert_eq!(statuses(&replaced.json()), ["uploaded"]);
    assert_eq!(
        std::fs::read_to_string(dest.join("notes.txt")).unwrap(),
        "version 2\n"
    );

    // Four runs at once, each with other bytes under the same name, to a fresh folder.
    let race = temp.path().join("race");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let folder = temp.path().join(format!("run{i}"));
            std::fs::create_dir_all(&folder).unwrap();
            let file = folder.join("notes.txt");
            std::fs::write(&file, format!("written by run {i}\n").repeat(10_000)).unwrap();
            cubeship()
                .args(["--json", "dir", "upload"])
                .arg(&file)
                .arg("--dir")
                .arg(&race)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut winners = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        match output.status.code() {
            Some(0) => winners.push(
                report["components"][0]["sha256"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            Some(1) => assert_eq!(statuses(&report), ["failed"], "{report}"),
            other => panic!("exit {other:?}: {report}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one run wins the key");
    assert_eq!(sha256_file(&race.join("notes.txt")), winners[0]);
}
