//! Issue #13: runs that are killed, raced or fed a changed deploy folder, on the `dir:`
//! provider (a real folder; the other providers' races are in their own modules).

use std::path::{Path, PathBuf};

use crate::support::*;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Defect 6: a deploy file edited at the same size used to be published as "unchanged" under
/// its old hash (and then failed verification forever). `publish` hashes what it sends.
#[test]
fn publish_refuses_a_deploy_file_edited_at_the_same_size() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    let deploy = cube.join("deploy");
    let dest = temp.path().join("published");
    let to = format!("dir:{}", dest.display());
    cubeship_run(["publish", deploy.to_str().unwrap(), "--to", &to]).assert_code(0);
    let before = files_under(&dest);

    let edited = deploy.join("mlcube.yaml");
    let mut bytes = std::fs::read(&edited).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
    std::fs::write(&edited, &bytes).unwrap();

    let run = cubeship_run(["publish", deploy.to_str().unwrap(), "--to", &to]);
    run.assert_code(2);
    assert!(run.stderr.contains("mlcube.yaml"), "{}", run.stderr);
    assert!(
        run.stderr.contains("package the MLCube again"),
        "{}",
        run.stderr
    );
    assert_eq!(files_under(&dest), before, "something was uploaded");
}

/// Defect 5: a run killed between the two renames of the deploy-folder swap left no deploy
/// folder (only `.deploy.old`, or `.deploy.staging-PID.old` before), and the leftover made
/// later runs fail. The swap is now one atomic exchange where the kernel can, and every run
/// heals the states a kill can leave.
#[test]
fn a_deploy_folder_lost_in_a_killed_swap_is_restored_and_leftovers_removed() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    let deploy = cube.join("deploy");
    let manifest = std::fs::read(deploy.join("manifest.json")).unwrap();

    // Killed after the first rename of the old two-rename swap (either name).
    for leftover in [".deploy.old", ".deploy.staging-4194999.old"] {
        std::fs::rename(&deploy, cube.join(leftover)).unwrap();
        let dest = temp.path().join(format!("published{leftover}"));
        let run = cubeship_run([
            "publish",
            deploy.to_str().unwrap(),
            "--to",
            &format!("dir:{}", dest.display()),
        ]);
        run.assert_code(0);
        assert_eq!(
            std::fs::read(deploy.join("manifest.json")).unwrap(),
            manifest
        );
        assert!(!cube.join(leftover).exists());
    }

    // Both the deploy folder and leftovers of dead runs present: packaging works and cleans up.
    copy_tree(&deploy, &cube.join(".deploy.old"));
    copy_tree(&deploy, &cube.join(".deploy.staging-4194999.old"));
    copy_tree(&deploy, &cube.join(".deploy.staging-4194999"));
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    let mut names: Vec<String> = std::fs::read_dir(&cube)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("deploy"))
        .collect();
    names.sort();
    assert_eq!(names, ["deploy"]);
    assert_eq!(
        std::fs::read(deploy.join("manifest.json")).unwrap(),
        manifest
    );
}

/// Defect 4: "never overwrite other bytes" was check-then-act. Several runs publishing the
/// same cube to the same folder at once all succeed (each object is written by one of them
/// with a link that never replaces; the others see it and report it unchanged), and every
/// object holds the right bytes.
#[test]
fn runs_publishing_the_same_cube_at_once_all_succeed() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    write_random_file(
        &cube.join("workspace/additional_files/weights.bin"),
        8 << 20,
        3,
    );
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    let deploy = cube.join("deploy");
    let dest = temp.path().join("published");
    let to = format!("dir:{}", dest.display());
    let children: Vec<_> = (0..4)
        .map(|_| {
            cubeship()
                .args(["--json", "publish", deploy.to_str().unwrap(), "--to", &to])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut uploaded = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let run = Run::from(output);
        run.assert_code(0);
        let statuses = statuses(&run.json());
        assert!(
            statuses.iter().all(|s| s == "uploaded" || s == "unchanged"),
            "{statuses:?}"
        );
        uploaded += statuses.iter().filter(|s| *s == "uploaded").count();
    }
    assert!(uploaded >= 3, "each object was uploaded at least once");
    let files = files_under(&dest);
    assert_eq!(files.len(), 3, "no partial files left: {files:#?}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy.join("manifest.json")).unwrap())
            .unwrap();
    for component in manifest["components"].as_array().unwrap() {
        let file = component["file"].as_str().unwrap();
        let published = files
            .iter()
            .find(|p| p.file_name().unwrap() == file)
            .unwrap();
        assert_eq!(
            sha256_file(published),
            component["sha256"].as_str().unwrap()
        );
    }
}

#[track_caller]
fn assert_secret_absent(run: &Run, secret: &str, files: &[&Path]) {
    let mut hits = run.stdout.matches(secret).count() + run.stderr.matches(secret).count();
    for file in files {
        hits += std::fs::read_to_string(file)
            .unwrap_or_default()
            .matches(secret)
            .count();
    }
    assert_eq!(
        hits, 0,
        "the secret was shown:\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

/// Defect 8: secrets on the command line or in URLs never reach output, logs or reports.
#[test]
fn secrets_in_urls_are_refused_or_never_shown() {
    let secret = "Sig-5ecr3t-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.bin");
    std::fs::write(&file, b"bytes").unwrap();

    // A literal presigned URL for `http upload`: refused before anything is sent, with the
    // env:VAR way as the hint.
    let url = format!("http://127.0.0.1:9/o.bin?X-Signature={secret}");
    let literal = cubeship_run([
        "-v",
        "http",
        "upload",
        file.to_str().unwrap(),
        "--url",
        &url,
    ]);
    literal.assert_code(2);
    assert!(literal.stderr.contains("env:"), "{}", literal.stderr);
    assert_secret_absent(&literal, secret, &[]);

    // S3 endpoint with user info: refused, and the password never echoed.
    let (_temp, cube) = example_cube("brats-model-deepmedic");
    let endpoint = run(cubeship()
        .env("AWS_ACCESS_KEY_ID", "k")
        .env("AWS_SECRET_ACCESS_KEY", "s")
        .args(["-v", "package-and-publish"])
        .arg(&cube)
        .args(["--to", "s3://b/p", "--endpoint-url"])
        .arg(format!("http://user:{secret}@127.0.0.1:9")));
    endpoint.assert_code(2);
    assert_secret_absent(&endpoint, secret, &[]);
    assert!(!cube.join("deploy/publish.json").exists());

    // Verification of a URL with a query string: the failure names the URL without it.
    let verify = cubeship_run([
        "-v",
        "--json",
        "verify",
        &format!("http://127.0.0.1:9/o.bin?X-Signature={secret}"),
        "--sha256",
        &"0".repeat(64),
    ]);
    verify.assert_code(1);
    assert_secret_absent(&verify, secret, &[]);

    // A presigned PUT URL from the environment stays out of stdout and stderr, even in the
    // failures of a server that does not answer (exit 2 at the destination check).
    let deploy_run = run(cubeship()
        .env("CUBESHIP_SECRET_URL", &url)
        .args(["-v", "--json", "http", "upload"])
        .arg(&file)
        .args(["--url", "env:CUBESHIP_SECRET_URL"]));
    deploy_run.assert_code(2);
    assert_secret_absent(&deploy_run, secret, &[]);
}
