//! The S3 provider against real servers: moto (ACLs enforced on anonymous GET) and s3s-fs
//! (SigV4 and checksums enforced; a second key-less instance over the same folder serves the
//! anonymous GETs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::*;

pub(crate) const ACCESS_KEY: &str = "AKIACUBESHIPTEST";
pub(crate) const SECRET_KEY: &str = "cubeship-test-secret-key-do-not-print";

/// A moto S3 server on a free loopback port with one bucket.
pub(crate) struct Moto {
    _server: Server,
    pub(crate) endpoint: String,
}

impl Moto {
    pub(crate) fn start(bucket: &str) -> Moto {
        let port = free_port();
        let server = Server::start(
            "moto",
            Command::new("python3").args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ]),
        );
        wait_for_tcp(&format!("127.0.0.1:{port}"), Duration::from_secs(30));
        let endpoint = format!("http://127.0.0.1:{port}");
        // moto does not check signatures: an unsigned CreateBucket is enough here.
        let status = runtime().block_on(async {
            reqwest::Client::new()
                .put(format!("{endpoint}/{bucket}"))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(status.is_success(), "create bucket: {status}");
        Moto {
            _server: server,
            endpoint,
        }
    }
}

/// A SigV4-checking s3s-fs and a key-less twin over the same folder for anonymous reads.
pub(crate) struct S3sFs {
    _signed: Server,
    _anonymous: Server,
    pub(crate) _root: tempfile::TempDir,
    pub(crate) endpoint: String,
    pub(crate) public_base: String,
}

impl S3sFs {
    pub(crate) fn start(bucket: &str) -> S3sFs {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(bucket)).unwrap();
        let (signed_port, anonymous_port) = (free_port(), free_port());
        let signed = Server::start(
            "s3s-fs",
            Command::new("s3s-fs")
                .args(["--host", "127.0.0.1", "--port", &signed_port.to_string()])
                .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                .arg(root.path()),
        );
        let anonymous = Server::start(
            "s3s-fs",
            Command::new("s3s-fs")
                .args(["--host", "127.0.0.1", "--port", &anonymous_port.to_string()])
                .arg(root.path()),
        );
        wait_for_tcp(&format!("127.0.0.1:{signed_port}"), Duration::from_secs(20));
        wait_for_tcp(
            &format!("127.0.0.1:{anonymous_port}"),
            Duration::from_secs(20),
        );
        S3sFs {
            _signed: signed,
            _anonymous: anonymous,
            _root: root,
            endpoint: format!("http://127.0.0.1:{signed_port}"),
            public_base: format!("http://127.0.0.1:{anonymous_port}/{bucket}"),
        }
    }
}

/// The binary with test credentials for the servers.
pub(crate) fn with_keys(secret: &str) -> Command {
    let mut command = cubeship();
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1");
    command
}

pub(crate) fn publish_s3(cube: &Path, dest: &str, endpoint: &str, extra: &[&str]) -> Run {
    run(with_keys(SECRET_KEY)
        .args(["package-and-publish"])
        .arg(cube)
        .args(["--to", dest, "--endpoint-url", endpoint, "--json"])
        .args(extra))
}

/// An MLCube with `size` bytes of incompressible weights, so its archive takes the multipart path.
pub(crate) fn cube_with_big_weights(root: &Path, size: usize) -> PathBuf {
    let cube = root.join("big-model");
    copy_tree(
        &fixtures_dir().join("medperf-examples/brats-model-deepmedic"),
        &cube,
    );
    write_random_file(
        &cube.join("workspace/additional_files/weights.bin"),
        size,
        11,
    );
    cube
}

#[test]
fn moto_publish_is_public_verified_idempotent_and_content_addressed() {
    let moto = Moto::start("models");
    let (_temp, cube) = example_cube("brats-model-deepmedic");
    let first = publish_s3(&cube, "s3://models/medperf", &moto.endpoint, &[]);
    first.assert_code(0);
    let report = first.json();
    assert_eq!(statuses(&report), ["uploaded", "uploaded", "uploaded"]);
    assert_urls_serve_their_hashes(&report);
    let url = report["components"][0]["uploads"][0]["url"]
        .as_str()
        .unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/models/medperf/brats-model-deepmedic/",
            moto.endpoint
        )),
        "{url}"
    );
    assert!(report["medperf_command"].as_str().unwrap().contains(url));

    let again = publish_s3(&cube, "s3://models/medperf", &moto.endpoint, &[]);
    again.assert_code(0);
    assert_eq!(
        statuses(&again.json()),
        ["unchanged", "unchanged", "unchanged"]
    );

    std::fs::write(
        cube.join("workspace/additional_files/greetings.csv"),
        "hello,again\n",
    )
    .unwrap();
    let changed = publish_s3(&cube, "s3://models/medperf", &moto.endpoint, &[]);
    changed.assert_code(0);
    let changed = changed.json();
    assert_eq!(statuses(&changed), ["unchanged", "unchanged", "uploaded"]);
    assert_ne!(
        changed["components"][2]["uploads"][0]["key"],
        report["components"][2]["uploads"][0]["key"]
    );
    assert_urls_serve_their_hashes(&changed);
    // The first weights URL still serves the first weights.
    assert_urls_serve_their_hashes(&report);
}

#[test]
fn moto_private_objects_fail_verification_with_a_bucket_policy_diagnosis() {
    let moto = Moto::start("private");
    let (_temp, cube) = example_cube("brats-metrics");
    let run = publish_s3(&cube, "s3://private/p", &moto.endpoint, &["--acl", "none"]);
    run.assert_code(1);
    let report = run.json();
    assert!(report["medperf_command"].is_null());
    for component in report["components"].as_array().unwrap() {
        let upload = &component["uploads"][0];
        assert_eq!(upload["status"], "uploaded");
        assert_eq!(upload["verified"], false);
        let error = upload["error"].as_str().unwrap();
        assert!(error.contains("HTTP 403"), "{error}");
        assert!(error.contains("--acl none"), "{error}");
        assert!(error.contains("arn:aws:s3:::private/p/*"), "{error}");
        assert!(error.contains("docs/providers/s3.md"), "{error}");
    }
    // The human report does not present the URLs as published.
    let human = run_human(&cube, "s3://private/p", &moto.endpoint, &["--acl", "none"]);
    human.assert_code(1);
    assert!(human.stdout.contains("FAILED"), "{}", human.stdout);
    assert!(
        !human.stdout.contains("Register with MedPerf"),
        "{}",
        human.stdout
    );
}

fn run_human(cube: &Path, dest: &str, endpoint: &str, extra: &[&str]) -> Run {
    run(with_keys(SECRET_KEY)
        .args(["package-and-publish"])
        .arg(cube)
        .args(["--to", dest, "--endpoint-url", endpoint])
        .args(extra))
}

#[test]
fn a_bucket_that_refuses_acls_gets_uploads_without_acl_and_a_policy_diagnosis() {
    let moto = Moto::start("owned");
    let upstream_port = moto.endpoint.rsplit(':').next().unwrap().to_string();
    let port = free_port();
    let _proxy = Server::start(
        "ACL-refusing proxy",
        Command::new("python3")
            .arg(fixtures_dir().join("../servers/acl_refusing_proxy.py"))
            .args([port.to_string(), upstream_port]),
    );
    wait_for_tcp(&format!("127.0.0.1:{port}"), Duration::from_secs(20));
    let (_temp, cube) = example_cube("brats-metrics");
    let run = publish_s3(
        &cube,
        "s3://owned/p",
        &format!("http://127.0.0.1:{port}"),
        &[],
    );
    run.assert_code(1);
    assert!(run.stderr.contains("ACLs disabled"), "{}", run.stderr);
    let report = run.json();
    assert!(report["medperf_command"].is_null());
    for component in report["components"].as_array().unwrap() {
        let upload = &component["uploads"][0];
        assert_eq!(
            upload["status"], "uploaded",
            "the upload fell back to no ACL"
        );
        assert_eq!(upload["verified"], false);
        let error = upload["error"].as_str().unwrap();
        assert!(error.contains("ACLs disabled"), "{error}");
        assert!(error.contains("arn:aws:s3:::owned/p/*"), "{error}");
    }
}

/// The bucket's unfinished multipart uploads, by an unsigned ListMultipartUploads (moto does
/// not check signatures).
pub(crate) fn unfinished_uploads(endpoint: &str, bucket: &str) -> usize {
    let (status, body) = http_get(&format!("{endpoint}/{bucket}?uploads"));
    assert_eq!(status, 200);
    String::from_utf8_lossy(&body).matches("<UploadId>").count()
}

#[test]
fn ctrl_c_during_a_multipart_upload_aborts_it() {
    let moto = Moto::start("interrupted");
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), 200 * 1024 * 1024);
    let mut child = with_keys(SECRET_KEY)
        .args(["package-and-publish"])
        .arg(&cube)
        .args([
            "--to",
            "s3://interrupted/x",
            "--endpoint-url",
            &moto.endpoint,
        ])
        .args(["--s3-multipart-threshold", "5", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while unfinished_uploads(&moto.endpoint, "interrupted") == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no multipart upload started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "cubeship ended before the test could interrupt it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(
        unfinished_uploads(&moto.endpoint, "interrupted"),
        0,
        "the multipart upload was aborted"
    );
    assert!(
        !cube.join("deploy/publish.json").exists(),
        "nothing reported as published"
    );
}

#[test]
fn moto_multipart_upload_round_trips() {
    let moto = Moto::start("big");
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), 20 * 1024 * 1024);
    let run = publish_s3(
        &cube,
        "s3://big",
        &moto.endpoint,
        &["--s3-multipart-threshold", "5"],
    );
    run.assert_code(0);
    let report = run.json();
    assert!(report["components"][2]["size"].as_u64().unwrap() > 20 * 1024 * 1024);
    assert_urls_serve_their_hashes(&report);
}

#[test]
fn s3_upload_puts_files_as_they_are() {
    let moto = Moto::start("files");
    let temp = tempfile::tempdir().unwrap();
    let a = temp.path().join("weights one.bin");
    write_random_file(&a, 100_000, 5);
    let b = temp.path().join("notes.txt");
    std::fs::write(&b, "notes\n").unwrap();
    let result = run(with_keys(SECRET_KEY)
        .args(["s3", "upload"])
        .arg(&a)
        .arg(&b)
        .args([
            "--bucket",
            "files",
            "--prefix",
            "drop/",
            "--endpoint-url",
            &moto.endpoint,
            "--json",
        ]));
    result.assert_code(0);
    let report = result.json();
    assert_urls_serve_their_hashes(&report);
    let url = report["components"][0]["uploads"][0]["url"]
        .as_str()
        .unwrap();
    assert_eq!(
        url,
        format!("{}/files/drop/weights%20one.bin", moto.endpoint)
    );
    assert_eq!(report["components"][1]["sha256"], sha256_file(&b).as_str());
}

#[test]
fn moto_configuration_errors_exit_2_before_any_upload() {
    let moto = Moto::start("exists");
    let (_temp, cube) = example_cube("brats-metrics");
    let missing = publish_s3(&cube, "s3://no-such-bucket/x", &moto.endpoint, &[]);
    missing.assert_code(2);
    assert!(
        missing.stderr.contains("no-such-bucket"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
    assert!(
        !cube.join("deploy").exists(),
        "preflight runs before packaging"
    );

    let no_credentials = run(cubeship().args(["package-and-publish"]).arg(&cube).args([
        "--to",
        "s3://exists/x",
        "--endpoint-url",
        &moto.endpoint,
    ]));
    no_credentials.assert_code(2);
    assert!(
        no_credentials.stderr.contains("no AWS credentials"),
        "{}",
        no_credentials.stderr
    );
}

#[test]
fn s3s_fs_enforces_signatures_and_checksums_in_both_modes_with_multipart() {
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), 20 * 1024 * 1024);
    for mode in ["when-supported", "when-required"] {
        let server = S3sFs::start("strict");
        let run = publish_s3(
            &cube,
            "s3://strict/medperf",
            &server.endpoint,
            &[
                "--s3-checksum",
                mode,
                "--s3-multipart-threshold",
                "5",
                "--public-url-base",
                &server.public_base,
                "--acl",
                "none",
            ],
        );
        run.assert_code(0);
        let report = run.json();
        assert_eq!(
            statuses(&report),
            ["uploaded", "uploaded", "uploaded"],
            "{mode}"
        );
        assert_urls_serve_their_hashes(&report);
        let url = report["components"][2]["uploads"][0]["url"]
            .as_str()
            .unwrap();
        assert!(
            url.starts_with(&format!("{}/medperf/big-model/", server.public_base)),
            "{url}"
        );

        let again = publish_s3(
            &cube,
            "s3://strict/medperf",
            &server.endpoint,
            &[
                "--s3-checksum",
                mode,
                "--public-url-base",
                &server.public_base,
                "--acl",
                "none",
            ],
        );
        again.assert_code(0);
        assert_eq!(
            statuses(&again.json()),
            ["unchanged", "unchanged", "unchanged"],
            "{mode}"
        );
    }
}

#[test]
fn s3s_fs_rejects_a_wrong_secret_and_the_secret_is_never_printed() {
    let server = S3sFs::start("strict");
    let (_temp, cube) = example_cube("brats-metrics");
    let wrong = "wrong-secret-that-must-not-be-printed";
    let result = run(with_keys(wrong)
        .args(["package-and-publish"])
        .arg(&cube)
        .args([
            "--to",
            "s3://strict/x",
            "--endpoint-url",
            &server.endpoint,
            "-vv",
        ]));
    result.assert_code(2);
    assert!(result.stderr.contains("s3://strict/x"), "{}", result.stderr);
    for output in [&result.stdout, &result.stderr] {
        assert!(!output.contains(wrong), "secret leaked: {output}");
    }
    assert!(!cube.join("deploy").exists());
}

#[test]
fn conformance_on_moto() {
    let moto = Moto::start("conformance");
    conformance(
        "s3://conformance/suite",
        &[("endpoint-url", &moto.endpoint), ("region", "us-east-1")],
        &[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ],
    );
}

#[test]
fn conformance_on_s3s_fs_with_both_checksum_modes() {
    let s3s = S3sFs::start("conformance");
    for mode in ["when-supported", "when-required"] {
        conformance(
            &format!("s3://conformance/{mode}"),
            &[
                ("endpoint-url", &s3s.endpoint),
                ("region", "us-east-1"),
                ("s3-checksum", mode),
                ("public-url-base", &s3s.public_base),
            ],
            &[
                ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
                ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ],
        );
    }
}

/// Runs `publish DEPLOY --to DEST` `n` times at once; their outcomes.
fn publish_at_once(
    n: usize,
    deploy: &Path,
    dest: &str,
    endpoint: &str,
    extra: &[&str],
) -> Vec<Run> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            with_keys(SECRET_KEY)
                .arg("publish")
                .arg(deploy)
                .args(["--to", dest, "--endpoint-url", endpoint, "--json"])
                .args(extra)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            Run::from(output)
        })
        .collect()
}

/// Issue #13 defect 4: three runs publishing the same cube (one component multipart) to the
/// same bucket at once all exit 0, with create-only writes (`If-None-Match: *` on PutObject
/// and CompleteMultipartUpload; a lost race is looked at again and is "unchanged"), every URL
/// serves its bytes, and no multipart upload stays open.
#[test]
fn moto_runs_publishing_the_same_cube_at_once_all_succeed() {
    let moto = Moto::start("race");
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), 20 * 1024 * 1024);
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    let runs = publish_at_once(
        3,
        &cube.join("deploy"),
        "s3://race/c",
        &moto.endpoint,
        &["--s3-multipart-threshold", "5"],
    );
    for run in &runs {
        run.assert_code(0);
        let report = run.json();
        assert_urls_serve_their_hashes(&report);
    }
    assert_eq!(unfinished_uploads(&moto.endpoint, "race"), 0);
}

/// Issue #13 defect 3: a run killed with SIGKILL in the middle of a multipart upload (no
/// chance to abort) left billed parts and the next run started again from byte 0. The upload
/// id is recorded in `deploy/.cubeship-uploads.json`: the re-run lists the parts already
/// stored and sends only the rest, the object is right, and no multipart upload stays open.
#[test]
fn moto_a_killed_multipart_upload_is_resumed_by_the_next_run() {
    let moto = Moto::start("resume");
    let proxy = crate::proxy::Proxy::start(
        moto.endpoint.trim_start_matches("http://"),
        crate::proxy::Shape::Throttle {
            bytes_per_second: 1_300_000,
        },
    );
    let endpoint = format!("http://{}", proxy.addr);
    let temp = tempfile::tempdir().unwrap();
    let size = 120 * 1024 * 1024;
    let cube = cube_with_big_weights(temp.path(), size);
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    let deploy = cube.join("deploy");
    let publish = || {
        let mut command = with_keys(SECRET_KEY);
        command
            .arg("publish")
            .arg(&deploy)
            .args([
                "--to",
                "s3://resume/c",
                "--endpoint-url",
                &endpoint,
                "--json",
            ])
            .args(["--s3-multipart-threshold", "5"]);
        command
    };
    let mut child = publish()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    // Three quarters of the archive sent (16 MiB parts, 4 at once, all progressing
    // together): the first four parts are stored, the next ones not.
    while proxy.bytes() < (size as u64) * 3 / 4 {
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        assert!(start.elapsed() < Duration::from_secs(120), "too slow");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let first = proxy.bytes();
    assert_eq!(
        unfinished_uploads(&moto.endpoint, "resume"),
        1,
        "the kill left it open"
    );
    assert!(deploy.join(".cubeship-uploads.json").is_file());

    let again = run(publish().arg("-v"));
    again.assert_code(0);
    assert!(again.stderr.contains("resuming"), "{}", again.stderr);
    let second = proxy.bytes() - first;
    assert_urls_serve_their_hashes(&again.json());
    eprintln!("bytes sent: first run {first} (killed), second run {second}, archive {size}");
    eprintln!(
        "{}",
        again
            .stderr
            .lines()
            .filter(|l| l.contains("resuming"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        second + 16 * 1024 * 1024 < size as u64,
        "the re-run sent {second} bytes: it did not resume"
    );
    assert_eq!(unfinished_uploads(&moto.endpoint, "resume"), 0);
    assert!(!deploy.join(".cubeship-uploads.json").exists());
}

/// Issue #13 defect 9: the store completed the object but the reply to
/// CompleteMultipartUpload was lost (the proxy closes the connection instead of passing it
/// on). The retry then meets `NoSuchUpload` (or 412): cubeship checks the object (size and
/// sha256 metadata) before failing, and reports it uploaded and verified.
#[test]
fn moto_a_lost_complete_multipart_upload_reply_is_not_a_failure() {
    let moto = Moto::start("lostreply");
    let proxy = crate::proxy::Proxy::start(
        moto.endpoint.trim_start_matches("http://"),
        crate::proxy::Shape::DropReplyTo("POST ", "uploadId="),
    );
    let temp = tempfile::tempdir().unwrap();
    let cube = cube_with_big_weights(temp.path(), 20 * 1024 * 1024);
    let run = publish_s3(
        &cube,
        "s3://lostreply",
        &format!("http://{}", proxy.addr),
        &["--s3-multipart-threshold", "5"],
    );
    run.assert_code(0);
    assert!(
        proxy.dropped.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy never dropped a reply"
    );
    let report = run.json();
    // "uploaded", not "unchanged" through the create-only refusal of the retry: the HEAD
    // after the failed completion found our object.
    assert!(
        statuses(&report).iter().all(|s| s == "uploaded"),
        "{:?}",
        statuses(&report)
    );
    assert_urls_serve_their_hashes(&report);
    assert_eq!(unfinished_uploads(&moto.endpoint, "lostreply"), 0);
}
