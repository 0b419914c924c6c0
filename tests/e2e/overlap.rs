//! `package-and-publish` overlapping packaging and upload on S3 (moto and s3s-fs): the big
//! archive's parts reach the store while it is still being compressed, land at a staging key,
//! and are promoted to the content-addressed key; no staging object or multipart upload stays
//! behind, an unchanged re-run sends no archive bytes, and Ctrl-C cleans up.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::proxy::{Proxy, Shape};
use crate::s3::{Moto, S3sFs, SECRET_KEY, cube_with_big_weights, unfinished_uploads, with_keys};
use crate::support::*;

/// Big enough to be staged (64 MiB and more) and to take several 16 MiB parts.
const WEIGHTS: usize = 80 * 1024 * 1024;

/// Bytes that must have reached the store by the time packaging ended: archive data (the
/// HEADs before are a few hundred bytes), sent from the first 16 MiB part written. Less than
/// a whole part, so that a loaded machine does not make the proof flaky.
const OVERLAP_PROOF: u64 = 4 * 1024 * 1024;

fn package_and_publish(cube: &Path, dest: &str, endpoint: &str, extra: &[&str]) -> Command {
    let mut command = with_keys(SECRET_KEY);
    command
        .arg("package-and-publish")
        .arg(cube)
        .args(["--to", dest, "--endpoint-url", endpoint, "--json"])
        // The slowest level, so that packaging surely outlasts the first part's upload.
        .args(["--compression-level", "9"])
        .args(extra);
    command
}

/// Runs `command` and measures the bytes the proxy forwarded by the time packaging ended
/// (the deploy folder's manifest.json appears when its staging folder is renamed in place).
fn run_watching_packaging(command: &mut Command, deploy: &Path, proxy: &Proxy) -> (Run, u64) {
    let start_bytes = proxy.bytes();
    let child: Child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let manifest = deploy.join("manifest.json");
    let mut child = child;
    let at_packaged = loop {
        if manifest.exists() {
            break proxy.bytes() - start_bytes;
        }
        if child.try_wait().unwrap().is_some() {
            break proxy.bytes() - start_bytes;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "too slow");
        std::thread::sleep(Duration::from_millis(2));
    };
    let output = child.wait_with_output().unwrap();
    let run = Run::from(output);
    (run, at_packaged)
}

/// The keys stored in `bucket` on moto, by an unsigned ListObjectsV2 (moto checks no
/// signatures).
fn moto_keys(endpoint: &str, bucket: &str) -> Vec<String> {
    let (status, body) = http_get(&format!("{endpoint}/{bucket}?list-type=2"));
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect()
}

fn assert_archive_at_its_content_addressed_key(report: &serde_json::Value) {
    let archive = &report["components"][2];
    assert_eq!(archive["file"], "additional_files.tar.gz");
    let upload = &archive["uploads"][0];
    assert_eq!(upload["status"], "uploaded", "{report}");
    assert_eq!(upload["verified"], true, "{report}");
    let sha256 = archive["sha256"].as_str().unwrap();
    let key = upload["key"].as_str().unwrap();
    assert!(
        key.ends_with(&format!("/{}/additional_files.tar.gz", &sha256[..16])),
        "{key}"
    );
    assert_urls_serve_their_hashes(report);
}

#[test]
fn moto_archive_parts_are_uploaded_while_packaging_then_promoted_and_a_rerun_sends_nothing() {
    let moto = Moto::start("overlap");
    let proxy = Proxy::start(moto.endpoint.trim_start_matches("http://"), Shape::Pass);
    let endpoint = format!("http://{}", proxy.addr);
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), WEIGHTS);
    let deploy = cube.join("deploy");

    let (first, at_packaged) = run_watching_packaging(
        &mut package_and_publish(&cube, "s3://overlap/m", &endpoint, &[]),
        &deploy,
        &proxy,
    );
    first.assert_code(0);
    let report = first.json();
    assert_archive_at_its_content_addressed_key(&report);
    let sent = proxy.bytes();
    eprintln!("bytes sent by the end of packaging: {at_packaged} of {sent}");
    assert!(
        at_packaged >= OVERLAP_PROOF,
        "only {at_packaged} bytes reached the store before packaging ended: no overlap"
    );
    let keys = moto_keys(&moto.endpoint, "overlap");
    assert!(
        keys.iter().all(|k| !k.contains(".cubeship-staging")),
        "a staging object is left: {keys:?}"
    );
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(unfinished_uploads(&moto.endpoint, "overlap"), 0);
    assert!(!cube.join(".deploy.cubeship-staged.json").exists());
    // The archive on disk is the one published.
    assert_eq!(
        sha256_file(&deploy.join("additional_files.tar.gz")),
        report["components"][2]["sha256"].as_str().unwrap()
    );

    // Unchanged: no archive bytes go out (only HEADs and the verification GETs' requests).
    let before = proxy.bytes();
    let again = run(&mut package_and_publish(
        &cube,
        "s3://overlap/m",
        &endpoint,
        &[],
    ));
    again.assert_code(0);
    let resent = proxy.bytes() - before;
    assert_eq!(
        statuses(&again.json()),
        ["unchanged", "unchanged", "unchanged"]
    );
    assert!(
        resent < 256 * 1024,
        "the unchanged re-run sent {resent} bytes"
    );
    assert_eq!(moto_keys(&moto.endpoint, "overlap").len(), 3);
    assert_eq!(unfinished_uploads(&moto.endpoint, "overlap"), 0);
}

#[test]
fn s3s_fs_archive_is_staged_while_packaging_and_promoted_with_its_sha256() {
    let server = S3sFs::start("overlap");
    let proxy = Proxy::start(server.endpoint.trim_start_matches("http://"), Shape::Pass);
    let endpoint = format!("http://{}", proxy.addr);
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), WEIGHTS);
    let deploy = cube.join("deploy");
    let flags = [
        "--public-url-base",
        server.public_base.as_str(),
        "--acl",
        "none",
    ];
    let (first, at_packaged) = run_watching_packaging(
        &mut package_and_publish(&cube, "s3://overlap/m", &endpoint, &flags),
        &deploy,
        &proxy,
    );
    first.assert_code(0);
    let report = first.json();
    assert_archive_at_its_content_addressed_key(&report);
    eprintln!("bytes sent by the end of packaging: {at_packaged}");
    assert!(
        at_packaged >= OVERLAP_PROOF,
        "only {at_packaged} bytes reached the store before packaging ended: no overlap"
    );
    let staging_left: Vec<_> = walk(server._root.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".cubeship-staging") && p.is_file())
        .collect();
    assert!(staging_left.is_empty(), "{staging_left:?}");

    // The promoted object carries its sha256: the re-run finds it unchanged, sends nothing.
    let before = proxy.bytes();
    let again = run(&mut package_and_publish(
        &cube,
        "s3://overlap/m",
        &endpoint,
        &flags,
    ));
    again.assert_code(0);
    assert_eq!(
        statuses(&again.json()),
        ["unchanged", "unchanged", "unchanged"]
    );
    let resent = proxy.bytes() - before;
    assert!(
        resent < 256 * 1024,
        "the unchanged re-run sent {resent} bytes"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn ctrl_c_while_packaging_aborts_the_staged_upload_and_leaves_no_staging_object() {
    let moto = Moto::start("stop");
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), 160 * 1024 * 1024);
    let mut child = package_and_publish(&cube, "s3://stop/x", &moto.endpoint, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while unfinished_uploads(&moto.endpoint, "stop") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no staged upload started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "cubeship ended before the test could interrupt it"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !cube.join("deploy/manifest.json").exists(),
        "the upload started while packaging"
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    // It stopped packaging too, rather than finishing the deploy folder after the interrupt.
    assert!(
        !cube.join("deploy/manifest.json").exists(),
        "packaging went on after Ctrl-C"
    );
    assert_eq!(unfinished_uploads(&moto.endpoint, "stop"), 0, "{stderr}");
    let keys = moto_keys(&moto.endpoint, "stop");
    assert!(keys.is_empty(), "{keys:?}");
}

#[test]
fn a_killed_staged_upload_is_aborted_by_the_next_run() {
    let moto = Moto::start("killed");
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), 120 * 1024 * 1024);
    let mut child = package_and_publish(&cube, "s3://killed/x", &moto.endpoint, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = cube.join(".deploy.cubeship-staged.json");
    let start = Instant::now();
    while unfinished_uploads(&moto.endpoint, "killed") == 0 || !journal.is_file() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no staged upload"
        );
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    assert_eq!(unfinished_uploads(&moto.endpoint, "killed"), 1);

    let again = run(&mut package_and_publish(
        &cube,
        "s3://killed/x",
        &moto.endpoint,
        &["-v"],
    ));
    again.assert_code(0);
    assert!(
        again
            .stderr
            .contains("removed the staged upload of an interrupted run"),
        "{}",
        again.stderr
    );
    assert_urls_serve_their_hashes(&again.json());
    assert_eq!(unfinished_uploads(&moto.endpoint, "killed"), 0);
    let keys = moto_keys(&moto.endpoint, "killed");
    assert!(
        keys.iter().all(|k| !k.contains(".cubeship-staging")),
        "{keys:?}"
    );
    assert!(!journal.exists(), "the journal is emptied");
}

/// Without a previous deploy folder to compare with, the archive is staged even though the
/// store holds it already: the staged copy is then deleted and the archive reported unchanged.
#[test]
fn moto_a_staged_archive_found_published_meanwhile_is_dropped_and_reported_unchanged() {
    let moto = Moto::start("twice");
    let proxy = Proxy::start(moto.endpoint.trim_start_matches("http://"), Shape::Pass);
    let endpoint = format!("http://{}", proxy.addr);
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), WEIGHTS);
    let publish_into = |deploy: &str| {
        let mut command = package_and_publish(&cube, "s3://twice/m", &endpoint, &[]);
        command.arg("--deploy-dir").arg(temp.path().join(deploy));
        run(&mut command)
    };
    let first = publish_into("first");
    first.assert_code(0);
    let before = proxy.bytes();
    let second = publish_into("second");
    second.assert_code(0);
    let staged = proxy.bytes() - before;
    assert!(
        staged > 16 * 1024 * 1024,
        "nothing was staged: {staged} bytes"
    );
    let report = second.json();
    assert_eq!(statuses(&report), ["unchanged", "unchanged", "unchanged"]);
    assert_urls_serve_their_hashes(&report);
    let keys = moto_keys(&moto.endpoint, "twice");
    assert_eq!(keys.len(), 3, "no staging object is left: {keys:?}");
    assert_eq!(unfinished_uploads(&moto.endpoint, "twice"), 0);
}
