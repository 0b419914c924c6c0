//! Parallel ranged verification (issue #12) through the real binary: `cubeship verify URL
//! --sha256 …` and a publish, against nginx with and without byte ranges, s3s-fs, moto and
//! fake-gcs-server, and a small range server that misbehaves on demand
//! (tests/servers/range_server.py): a chunk with other bytes fails verification, a failed or
//! cut chunk is fetched again alone, an odd `Content-Range` falls back to one plain GET.
//!
//! Servers on loopback get one stream by default (docs/benchmarks.md, "Verification
//! downloads"), so these tests ask for parallel ranges with `CUBESHIP_DOWNLOAD_CONNECTIONS`.

use std::path::Path;
use std::process::Command;

use crate::http::Nginx;
use crate::support::*;

/// 20 MiB and a bit: three 8 MiB chunks, the last one short.
const SIZE: usize = 20 * 1024 * 1024 + 12_345;

/// sha1 by coreutils' `sha1sum` (an implementation independent of cubeship's).
fn sha1_file(path: &Path) -> String {
    let out = Command::new("sha1sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..40].to_string()
}

/// `cubeship --json verify URL --sha256 HEX` with `CUBESHIP_DOWNLOAD_CONNECTIONS=connections`:
/// the exit code and the one check's JSON.
fn verify(url: &str, sha256: &str, connections: Option<&str>) -> (i32, serde_json::Value) {
    let mut command = cubeship();
    command.args(["--json", "verify", url, "--sha256", sha256]);
    match connections {
        Some(n) => command.env("CUBESHIP_DOWNLOAD_CONNECTIONS", n),
        None => command.env_remove("CUBESHIP_DOWNLOAD_CONNECTIONS"),
    };
    let run = run(&mut command);
    let check = run.json()[0].clone();
    (run.code, check)
}

/// The size and hashes a check reports, to compare with the file's own.
fn served(check: &serde_json::Value) -> (u64, String, String) {
    (
        check["size"].as_u64().unwrap(),
        check["sha256"].as_str().unwrap().to_string(),
        check["sha1"].as_str().unwrap().to_string(),
    )
}

/// Every request the range server saw: (method, range header or "-", status).
fn range_log(base: &str) -> Vec<(String, String, u64)> {
    get_json(&format!("{base}/_fake/log"))
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["path"].as_str().unwrap().starts_with("/_fake/"))
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["range"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn start_range_server(dir: &Path) -> (Server, String, String, std::path::PathBuf) {
    let file = dir.join("weights.bin");
    write_random_file(&file, SIZE, 7);
    let (server, base) = start_fake(
        "range server",
        "range_server.py",
        &["--file", file.to_str().unwrap()],
    );
    let url = format!("{base}/weights.bin");
    (server, base, url, file)
}

#[test]
fn ranged_verify_from_nginx_gives_the_single_stream_result_and_falls_back_without_ranges() {
    let nginx = Nginx::start();
    let file = nginx.data().join("cubes/weights.bin");
    write_random_file(&file, SIZE, 3);
    let expected = (SIZE as u64, sha256_file(&file), sha1_file(&file));

    let (code, ranged) = verify(&nginx.url("public/weights.bin"), &expected.1, Some("4"));
    assert_eq!(code, 0, "{ranged}");
    assert_eq!(served(&ranged), expected);
    assert_eq!(ranged["status"], 200);
    assert_eq!(ranged["ranged_requests"], 3, "{ranged}");
    let public: Vec<String> = nginx
        .requests()
        .into_iter()
        .filter(|l| l.starts_with("GET /public/"))
        .collect();
    assert_eq!(public.len(), 3, "{public:?}");
    assert!(public.iter().all(|l| l.contains(" 206 ")), "{public:?}");

    // The same bytes from a location without ranges: the probe's 200 is the single stream.
    let (code, plain) = verify(&nginx.url("noranges/weights.bin"), &expected.1, Some("4"));
    assert_eq!(code, 0, "{plain}");
    assert_eq!(served(&plain), expected);
    assert!(plain["ranged_requests"].is_null(), "{plain}");
    let noranges: Vec<String> = nginx
        .requests()
        .into_iter()
        .filter(|l| l.starts_with("GET /noranges/"))
        .collect();
    assert_eq!(noranges.len(), 1, "one GET, no retry: {noranges:?}");
    assert!(noranges[0].contains(" 200 "), "{noranges:?}");

    // A loopback server gets one plain stream by default.
    let before = nginx.requests().len();
    let (code, default) = verify(&nginx.url("public/weights.bin"), &expected.1, None);
    assert_eq!(code, 0, "{default}");
    assert_eq!(served(&default), expected);
    assert!(default["ranged_requests"].is_null(), "{default}");
    let after = nginx.requests();
    assert_eq!(after.len(), before + 1, "{after:?}");
    assert!(after.last().unwrap().contains(" 200 "), "{after:?}");

    // A bad setting is a usage error naming the variable.
    let bad = run(cubeship()
        .env("CUBESHIP_DOWNLOAD_CONNECTIONS", "lots")
        .args(["verify", &nginx.url("public/weights.bin"), "--sha256"])
        .arg(&expected.1));
    bad.assert_code(2);
    assert!(
        bad.stderr.contains("CUBESHIP_DOWNLOAD_CONNECTIONS"),
        "{}",
        bad.stderr
    );
}

#[test]
fn ranged_verify_of_a_chunk_with_other_bytes_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base, url, file) = start_range_server(dir.path());
    let sha256 = sha256_file(&file);
    // The second chunk is served with one byte changed, as if the file changed mid-way.
    post_json(
        &format!("{base}/_fake/fault"),
        &serde_json::json!({ "action": "flip", "range_from": 8 * 1024 * 1024 }),
    );
    let (code, check) = verify(&url, &sha256, Some("4"));
    assert_eq!(code, 1, "{check}");
    assert_eq!(check["verified"], false);
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .starts_with("content differs"),
        "{check}"
    );
    assert_eq!(check["size"], SIZE as u64, "the size is still the file's");
    // One plain stream of the same server gets the file's own bytes: the ranges were read.
    let (code, plain) = verify(&url, &sha256, Some("1"));
    assert_eq!(code, 0, "{plain}");
    assert_eq!(plain["verified"], true);
}

#[test]
fn ranged_verify_retries_a_failed_or_cut_chunk_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base, url, file) = start_range_server(dir.path());
    for fault in [
        serde_json::json!({ "action": "status", "status": 503, "range_start": 8 * 1024 * 1024 }),
        serde_json::json!({ "action": "truncate", "range_start": 16 * 1024 * 1024 }),
    ] {
        post_json(&format!("{base}/_fake/fault"), &fault);
    }
    let (code, check) = verify(&url, &sha256_file(&file), Some("4"));
    assert_eq!(code, 0, "{check}");
    assert_eq!(served(&check).2, sha1_file(&file));
    assert_eq!(check["ranged_requests"], 3);
    let log = range_log(&base);
    assert!(
        log.iter().all(|(_, range, _)| range != "-"),
        "no plain GET: {log:?}"
    );
    assert_eq!(log.len(), 5, "three chunks and two retries: {log:?}");
    assert_eq!(log.iter().filter(|(_, _, s)| *s == 503).count(), 1);
    for chunk in ["bytes=8388608-16777215", "bytes=16777216-20983864"] {
        assert_eq!(
            log.iter().filter(|(_, r, _)| r == chunk).count(),
            2,
            "the failed chunk alone was asked again: {log:?}"
        );
    }
}

#[test]
fn ranged_verify_falls_back_to_one_plain_get_on_an_odd_content_range() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base, url, file) = start_range_server(dir.path());
    let sha256 = sha256_file(&file);
    for (round, action) in ["bad_range", "no_range_header"].into_iter().enumerate() {
        post_json(
            &format!("{base}/_fake/fault"),
            &serde_json::json!({ "action": action }),
        );
        let (code, check) = verify(&url, &sha256, Some("4"));
        assert_eq!(code, 0, "{action}: {check}");
        assert!(check["ranged_requests"].is_null(), "{action}: {check}");
        let log = range_log(&base);
        assert_eq!(log.len(), 2 * (round + 1), "{action}: {log:?}");
        let last_two = &log[log.len() - 2..];
        assert_eq!(last_two[0].1, "bytes=0-8388607", "{action}: the probe");
        assert_eq!(
            (last_two[1].1.as_str(), last_two[1].2),
            ("-", 200),
            "{action}: then one plain GET"
        );
    }
}

#[test]
fn ranged_verify_from_s3s_fs_moto_and_fake_gcs_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("weights.bin");
    write_random_file(&file, SIZE, 5);
    let body = std::fs::read(&file).unwrap();
    let expected = (SIZE as u64, sha256_file(&file), sha1_file(&file));

    // s3s-fs serves the files of its folder; the key-less twin answers anonymous GETs.
    let s3s = crate::s3::S3sFs::start("ranges");
    std::fs::copy(&file, s3s._root.path().join("ranges/weights.bin")).unwrap();
    let url = format!("{}/weights.bin", s3s.public_base);

    // moto checks no signature: an unsigned public-read PUT is enough.
    let moto = crate::s3::Moto::start("ranges");
    let moto_url = format!("{}/ranges/weights.bin", moto.endpoint);
    let gcs = crate::gcs::start_fake_gcs();
    let gcs_url = format!("{}/{}/weights.bin", gcs.base, crate::gcs::BUCKET);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let put = client
            .put(&moto_url)
            .header("x-amz-acl", "public-read")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "moto PUT: {}", put.status());
        let upload = client
            .post(format!(
                "{}/upload/storage/v1/b/{}/o?uploadType=media&name=weights.bin&predefinedAcl=publicRead",
                gcs.base,
                crate::gcs::BUCKET
            ))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            upload.status().is_success(),
            "fake-gcs upload: {}",
            upload.status()
        );
    });

    for (server, url) in [
        ("s3s-fs", url),
        ("moto", moto_url),
        ("fake-gcs-server", gcs_url),
    ] {
        let (code, check) = verify(&url, &expected.1, Some("4"));
        assert_eq!(code, 0, "{server}: {check}");
        assert_eq!(served(&check), expected, "{server}");
        assert_eq!(
            check["ranged_requests"], 3,
            "{server} answers ranges: {check}"
        );
    }
}

#[test]
fn ranged_verification_after_a_publish_to_nginx() {
    let nginx = Nginx::start();
    let (_temp, cube) = example_cube("brats-model-deepmedic");
    write_random_file(
        &cube.join("workspace/additional_files/weights.bin"),
        SIZE,
        9,
    );
    let run = crate::http::cubeship_with(
        &[
            ("CUBESHIP_HTTP_USER", "uploader"),
            ("CUBESHIP_HTTP_PASSWORD", "s3cret-Pa55word"),
            ("CUBESHIP_DOWNLOAD_CONNECTIONS", "4"),
        ],
        [
            "package-and-publish".to_string(),
            cube.display().to_string(),
            "--to".into(),
            nginx.url("cubes/ranged/"),
            "--get-url".into(),
            nginx.url("public/ranged/"),
            "--json".into(),
        ],
    );
    let report = run.assert_code(0).json();
    assert_urls_serve_their_hashes(&report);
    let ranged_gets: Vec<String> = nginx
        .requests()
        .into_iter()
        .filter(|l| {
            l.starts_with("GET /public/ranged/")
                && l.contains("additional_files")
                && l.contains(" 206 ")
        })
        .collect();
    assert!(
        ranged_gets.len() >= 3,
        "the archive was verified over ranges: {ranged_gets:?}"
    );
}
