//! The GitHub release assets provider against a stateful fake of GitHub's REST API
//! (tests/servers/github_fake.py, written from GitHub's public documentation).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

pub(crate) const TOKEN: &str = "ghp_fake_token_with_write_access_0001";

/// A running fake GitHub with repositories `o/r` (public) and `o/secret` (private).
pub(crate) struct FakeGithub {
    _server: Server,
    pub(crate) base: String,
}

impl FakeGithub {
    pub(crate) fn start() -> Self {
        let (server, base) = start_fake(
            "fake GitHub",
            "github_fake.py",
            &[
                "--token",
                TOKEN,
                "--token",
                "ghp_classic_without_repo_scope:read:org",
                "--read-only-token",
                "github_pat_read_only",
                "--repo",
                "o/r",
                "--repo",
                "o/secret:private",
            ],
        );
        FakeGithub {
            _server: server,
            base,
        }
    }

    /// `cubeship` with the token and the API URL in the environment, as in GitHub Actions.
    fn cubeship(&self) -> Command {
        let mut command = cubeship();
        command
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_API_URL", &self.base);
        command
    }

    fn admin(&self, path: &str, body: Value) {
        post_json(&format!("{}{path}", self.base), &body);
    }

    pub(crate) fn get(&self, path: &str) -> Value {
        get_json(&format!("{}{path}", self.base))
    }

    /// Names and sha256 of the assets of release `tag` in `o/r`.
    pub(crate) fn assets(&self, tag: &str) -> Vec<(String, String)> {
        self.get("/_fake/state")
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["repo"] == "r" && r["tag"] == tag)
            .flat_map(|r| r["assets"].as_array().unwrap().clone())
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_string(),
                    a["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// The requests the fake received: (method, path, status, time).
    pub(crate) fn log(&self) -> Vec<(String, String, u64, f64)> {
        fake_log(&self.base)
    }

    fn uploads(&self) -> Vec<(String, u64, f64)> {
        self.log()
            .into_iter()
            .filter(|(method, path, _, _)| method == "POST" && path.starts_with("/uploads/"))
            .map(|(_, path, status, time)| (path, status, time))
            .collect()
    }

    /// `cubeship --json github upload FILE --repo o/REPO --tag TAG [extra…]`.
    fn upload(&self, file: &Path, repo: &str, tag: &str, extra: &[&str]) -> Run {
        run(self
            .cubeship()
            .args(["--json", "--no-progress", "github", "upload"])
            .arg(file)
            .args(["--repo", repo, "--tag", tag])
            .args(extra))
    }
}

fn write_file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn only_url(report: &Value) -> String {
    let urls = published_urls(report);
    assert_eq!(urls.len(), 1, "{report}");
    urls[0].0.clone()
}

fn upload_error(report: &Value) -> String {
    report["components"][0]["uploads"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn package_and_publish_creates_the_release_then_a_rerun_is_unchanged() {
    let github = FakeGithub::start();
    let (_temp, cube) = example_cube("brats-metrics");
    let publish = |extra: &[&str]| {
        run(github
            .cubeship()
            .args(["--json", "--no-progress", "package-and-publish"])
            .arg(&cube)
            .args(["--to", "github://o/r/v1"])
            .args(extra))
    };

    let first = publish(&["--create-release"]);
    first.assert_code(0);
    // The missing release is looked up once per run, not once per component.
    let tag_lookups = github
        .log()
        .iter()
        .filter(|(method, path, _, _)| method == "GET" && path.contains("/releases/tags/"))
        .count();
    assert_eq!(tag_lookups, 1);
    let report = first.json();
    let statuses_first = statuses(&report);
    assert!(!statuses_first.is_empty());
    assert!(statuses_first.iter().all(|s| s == "uploaded"), "{report}");
    assert_urls_serve_their_hashes(&report);
    // Flat names, prefixed by the cube's name so several cubes can share a release.
    for (url, _) in published_urls(&report) {
        assert!(
            url.starts_with(&format!(
                "{}/o/r/releases/download/v1/brats-metrics-",
                github.base
            )),
            "{url}"
        );
    }
    let assets = github.assets("v1");
    assert_eq!(assets.len(), statuses_first.len(), "{assets:?}");

    let second = publish(&[]);
    second.assert_code(0);
    let report = second.json();
    assert!(
        statuses(&report).iter().all(|s| s == "unchanged"),
        "{report}"
    );
    assert_urls_serve_their_hashes(&report);
    assert_eq!(github.assets("v1"), assets);
}

#[test]
fn a_missing_release_without_create_release_is_a_configuration_error() {
    let github = FakeGithub::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"weights");
    let run = github.upload(&file, "o/r", "v9", &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("--create-release"), "{}", run.stderr);
    assert!(github.uploads().is_empty());
}

#[test]
fn other_content_is_refused_without_overwrite_and_replaced_safely_with_it() {
    let github = FakeGithub::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"weights, version 1");
    let first = github.upload(&file, "o/r", "v1", &["--create-release"]);
    first.assert_code(0);
    let url = only_url(&first.json());
    let old_sha = sha256_hex(b"weights, version 1");

    std::fs::write(&file, b"weights, version 2, longer").unwrap();
    let new_sha = sha256_hex(b"weights, version 2, longer");
    let refused = github.upload(&file, "o/r", "v1", &[]);
    refused.assert_code(1);
    let report = refused.json();
    assert!(upload_error(&report).contains("--overwrite"), "{report}");
    assert_eq!(http_get(&url), (200, b"weights, version 1".to_vec()));

    let replaced = github.upload(&file, "o/r", "v1", &["--overwrite"]);
    replaced.assert_code(0);
    let report = replaced.json();
    assert_eq!(statuses(&report), ["uploaded"]);
    assert_eq!(
        only_url(&report),
        url,
        "the URL MedPerf may hold stays the same"
    );
    let (status, body) = http_get(&url);
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&body), new_sha);
    assert_ne!(new_sha, old_sha);
    // Nothing left behind: no temporary copy, no old copy.
    assert_eq!(github.assets("v1"), [("model.bin".to_string(), new_sha)]);
}

#[test]
fn a_fault_between_upload_and_rename_leaves_the_old_asset_in_place() {
    let github = FakeGithub::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"old bytes");
    github
        .upload(&file, "o/r", "v1", &["--create-release"])
        .assert_code(0);
    let old = vec![("model.bin".to_string(), sha256_hex(b"old bytes"))];
    std::fs::write(&file, b"new bytes").unwrap();

    // Every rename fails: the old asset is never touched, the uploaded copy is removed.
    github.admin(
        "/_fake/fault",
        json!({"method": "PATCH", "status": 500, "times": 100}),
    );
    let failed = github.upload(&file, "o/r", "v1", &["--overwrite"]);
    failed.assert_code(1);
    let report = failed.json();
    assert!(
        upload_error(&report).contains("old asset is unchanged"),
        "{report}"
    );
    assert_eq!(github.assets("v1"), old);
    let url = format!("{}/o/r/releases/download/v1/model.bin", github.base);
    assert_eq!(http_get(&url), (200, b"old bytes".to_vec()));
    assert_eq!(
        github.uploads().len(),
        1 + 1,
        "one upload per run: {:?}",
        github.uploads()
    );

    // Only the new copy's rename fails, after the old one moved aside: it is moved back.
    github.admin("/_fake/clear_faults", json!({}));
    github.admin(
        "/_fake/fault",
        json!({"method": "PATCH", "asset_name_prefix": "cubeship-partial-", "status": 500, "times": 100}),
    );
    let failed = github.upload(&file, "o/r", "v1", &["--overwrite"]);
    failed.assert_code(1);
    let report = failed.json();
    assert!(
        upload_error(&report).contains("old asset is back in place"),
        "{report}"
    );
    assert_eq!(github.assets("v1"), old);
    assert_eq!(http_get(&url), (200, b"old bytes".to_vec()));
}

#[test]
fn rate_limits_are_waited_out() {
    let github = FakeGithub::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"rate limited bytes");
    // GitHub's primary rate limit: 403 with x-ratelimit-remaining 0 and the reset time.
    github.admin(
        "/_fake/fault",
        json!({"method": "POST", "path_contains": "/uploads/", "rate_limit_reset_in": 2}),
    );
    // A secondary rate limit: 429 with Retry-After.
    github.admin(
        "/_fake/fault",
        json!({"method": "GET", "path_contains": "/releases/tags/", "status": 429, "retry_after": 1}),
    );
    let run = github.upload(&file, "o/r", "v1", &["--create-release"]);
    run.assert_code(0);
    assert_urls_serve_their_hashes(&run.json());
    let uploads = github.uploads();
    assert_eq!(uploads.len(), 2, "{uploads:?}");
    assert_eq!((uploads[0].1, uploads[1].1), (403, 201));
    let waited = uploads[1].2 - uploads[0].2;
    assert!(
        waited >= 0.9,
        "retried {waited:.2}s after the rate limit, before its reset"
    );
    let log = github.log();
    let limited = log.iter().position(|e| e.2 == 429).expect("429 served");
    assert_eq!(
        log[limited + 1].1,
        log[limited].1,
        "the same request is retried"
    );
    assert!(log[limited + 1].3 - log[limited].3 >= 0.9, "{log:?}");
}

#[test]
fn a_broken_asset_left_by_a_failed_upload_is_deleted_and_the_upload_retried() {
    let github = FakeGithub::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"bytes after a 502");
    // GitHub documents that an upstream failure answers 502 and may leave an empty asset in
    // state "starter"; the retry then meets 422 already_exists.
    github.admin(
        "/_fake/fault",
        json!({"method": "POST", "path_contains": "/uploads/", "status": 502, "leave_starter": true}),
    );
    let run = github.upload(&file, "o/r", "v1", &["--create-release"]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(statuses(&report), ["uploaded"]);
    assert_urls_serve_their_hashes(&report);
    let statuses_seen: Vec<u64> = github.uploads().iter().map(|u| u.1).collect();
    assert_eq!(statuses_seen, [502, 422, 201]);
    assert!(github.log().iter().any(|e| e.0 == "DELETE"));
    assert_eq!(
        github.assets("v1"),
        [("model.bin".to_string(), sha256_hex(b"bytes after a 502"))]
    );
}

#[test]
fn runs_publishing_the_same_cube_at_once_all_succeed_and_delete_nothing_printed() {
    let github = FakeGithub::start();
    // Each upload takes half a second once its body arrived (real ones take seconds), so the
    // runs all find the names free and upload at the same time.
    github.admin("/_fake/config", json!({"upload_delay": 0.5}));
    let (_temp, cube) = example_cube("brats-metrics");
    run(cubeship().args(["--no-progress", "package"]).arg(&cube)).assert_code(0);
    let deploy = cube.join("deploy");
    let runs = 3;
    let children: Vec<_> = (0..runs)
        .map(|_| {
            github
                .cubeship()
                .args(["--json", "--no-progress", "publish"])
                .arg(&deploy)
                .args(["--to", "github://o/r/v1", "--create-release"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut reports = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let run = Run::from(output);
        run.assert_code(0);
        let report = run.json();
        let statuses = statuses(&report);
        assert!(
            statuses.iter().all(|s| s == "uploaded" || s == "unchanged"),
            "{statuses:?}"
        );
        reports.push(report);
    }
    // Only now, after every run ended: nothing a run printed was deleted or replaced by another.
    for report in &reports {
        assert_urls_serve_their_hashes(report);
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy.join("manifest.json")).unwrap())
            .unwrap();
    let components = manifest["components"].as_array().unwrap();
    let mut expected: Vec<(String, String)> = components
        .iter()
        .map(|c| {
            (
                format!("brats-metrics-{}", c["file"].as_str().unwrap()),
                c["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut assets = github.assets("v1");
    expected.sort();
    assets.sort();
    // One asset per component under its name: no temporary copy, no duplicate.
    assert_eq!(assets, expected);
    let releases = github.get("/_fake/state");
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases}");
    // The race was real: the runs uploaded the same components at the same time.
    let uploads = github.uploads();
    assert!(
        uploads.len() > components.len(),
        "{} uploads for {} components",
        uploads.len(),
        components.len()
    );
}

#[test]
fn an_unfinished_asset_is_deleted_only_when_too_old_to_be_a_live_upload() {
    let github = FakeGithub::start();
    github.admin(
        "/_fake/release",
        json!({"owner": "o", "repo": "r", "tag": "v1"}),
    );
    // `created_at` is the start of the asset's upload; the fake's default is now.
    let asset = |name: &str, state: &str, created_at: Option<&str>| {
        let mut body =
            json!({"owner": "o", "repo": "r", "tag": "v1", "name": name, "state": state});
        if let Some(created_at) = created_at {
            body["created_at"] = json!(created_at);
        }
        github.admin("/_fake/asset", body)
    };
    let now = None;
    let old = Some("2025-01-01T00:00:00Z");
    // Another tool's upload in progress (started "now") holds model.bin.
    asset("model.bin", "starter", now);
    // Temporary assets of cubeship runs: one killed a year ago, one maybe still running.
    asset("cubeship-partial-1-0-0-old.bin", "uploaded", old);
    asset("cubeship-partial-2-0-0-live.bin", "starter", now);
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"model bytes");
    let refused = github.upload(&file, "o/r", "v1", &[]);
    refused.assert_code(1);
    let error = upload_error(&refused.json());
    assert!(error.contains("another upload in progress"), "{error}");
    let mut assets = github.assets("v1");
    assets.sort();
    assert_eq!(
        assets,
        [
            (
                "cubeship-partial-2-0-0-live.bin".to_string(),
                sha256_hex(b"")
            ),
            ("model.bin".to_string(), sha256_hex(b"")),
        ],
        "the live uploads are untouched, the old leftover and this run's copy are gone"
    );

    // A day-old unfinished asset is a leftover: deleted, and the name taken.
    let other = write_file(temp.path(), "weights.bin", b"weights");
    asset("weights.bin", "starter", old);
    let published = github.upload(&other, "o/r", "v1", &[]);
    published.assert_code(0);
    let report = published.json();
    assert_eq!(statuses(&report), ["uploaded"]);
    assert_urls_serve_their_hashes(&report);
    assert!(
        github
            .assets("v1")
            .contains(&("weights.bin".to_string(), sha256_hex(b"weights")))
    );
}

#[test]
fn an_asset_without_a_digest_is_compared_by_downloading_it() {
    let github = FakeGithub::start();
    github.admin(
        "/_fake/release",
        json!({"owner": "o", "repo": "r", "tag": "v1"}),
    );
    github.admin(
        "/_fake/asset",
        json!({"owner": "o", "repo": "r", "tag": "v1", "name": "model.bin", "content": "old asset", "digest": false}),
    );
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"old asset");
    let run = github.upload(&file, "o/r", "v1", &[]);
    run.assert_code(0);
    assert_eq!(statuses(&run.json()), ["unchanged"]);
    assert!(github.uploads().is_empty());
    let asset_downloads = || {
        github
            .log()
            .iter()
            .filter(|e| e.0 == "GET" && e.1.contains("/releases/assets/"))
            .count()
    };
    assert_eq!(asset_downloads(), 1);

    // Another size is other content: refused without downloading anything.
    std::fs::write(&file, b"a longer, different asset").unwrap();
    let run = github.upload(&file, "o/r", "v1", &[]);
    run.assert_code(1);
    assert!(upload_error(&run.json()).contains("--overwrite"));
    assert_eq!(asset_downloads(), 1);
}

#[test]
fn bad_or_insufficient_tokens_are_configuration_errors_that_never_print_the_token() {
    let github = FakeGithub::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"weights");
    let secret = "ghp_this_token_is_wrong_1234567890";
    let cases: [(&str, Option<&str>, &[&str]); 4] = [
        (
            "GITHUB_TOKEN",
            Some(secret),
            &["Bad credentials", "GITHUB_TOKEN"],
        ),
        (
            "GH_TOKEN",
            Some("ghp_classic_without_repo_scope"),
            &["public_repo", "GH_TOKEN"],
        ),
        (
            "GH_TOKEN",
            Some("github_pat_read_only"),
            &["Contents: read and write"],
        ),
        ("GITHUB_TOKEN", None, &["GITHUB_TOKEN", "GH_TOKEN"]),
    ];
    for (variable, token, expected) in cases {
        let mut command = cubeship();
        command.env("GITHUB_API_URL", &github.base);
        if let Some(token) = token {
            command.env(variable, token);
        }
        let run = run(command.args(["github", "upload"]).arg(&file).args([
            "--repo",
            "o/r",
            "--tag",
            "v1",
            "--create-release",
        ]));
        run.assert_code(2);
        for text in expected {
            assert!(run.stderr.contains(text), "{text} in {}", run.stderr);
        }
        if let Some(token) = token {
            assert!(!run.stderr.contains(token) && !run.stdout.contains(token));
        }
    }
    assert!(github.uploads().is_empty());
}

#[test]
fn bad_configuration_is_refused_before_any_request() {
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"weights");
    let with_token = |args: &[&str]| {
        run(cubeship()
            .env("GITHUB_TOKEN", TOKEN)
            .args(["github", "upload"])
            .arg(&file)
            .args(args))
    };
    let run = with_token(&["--repo", "just-a-name", "--tag", "v1"]);
    run.assert_code(2);
    assert!(run.stderr.contains("--repo"), "{}", run.stderr);
    let run = with_token(&["--repo", "o/r", "--tag", "v1", "--api-url", "ftp://x"]);
    run.assert_code(2);
    assert!(run.stderr.contains("--api-url"), "{}", run.stderr);
    let (_temp, cube) = example_cube("brats-metrics");
    let run = run_publish_to(&cube, "github://o/r");
    run.assert_code(2);
    assert!(run.stderr.contains("OWNER/REPO/TAG"), "{}", run.stderr);
}

fn run_publish_to(cube: &Path, to: &str) -> Run {
    run(cubeship()
        .env("GITHUB_TOKEN", TOKEN)
        .args(["package-and-publish"])
        .arg(cube)
        .args(["--to", to]))
}

#[test]
fn a_private_repository_fails_verification_with_advice() {
    let github = FakeGithub::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"private weights");
    let run = github.upload(&file, "o/secret", "v1", &["--create-release"]);
    run.assert_code(1);
    let report = run.json();
    let error = upload_error(&report);
    assert!(error.contains("private repository"), "{report}");
    assert!(error.contains("MedPerf downloads anonymously"), "{report}");
}

#[test]
fn a_draft_release_is_found_and_its_unpublished_assets_are_explained() {
    let github = FakeGithub::start();
    github.admin(
        "/_fake/release",
        json!({"owner": "o", "repo": "r", "tag": "v2", "draft": true}),
    );
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"draft weights");
    let run = github.upload(&file, "o/r", "v2", &[]);
    run.assert_code(1);
    let report = run.json();
    assert_eq!(statuses(&report), ["uploaded"]);
    assert!(upload_error(&report).contains("draft"), "{report}");
    let releases = github.get("/_fake/state");
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases}");
}

/// sha256 of a file read in pieces (it may be too large for memory).
fn sha256_of_large_file(path: &Path) -> String {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    hex::encode(hasher.finalize())
}

#[test]
fn assets_of_2_gib_or_more_are_refused_at_plan_time() {
    let github = FakeGithub::start();
    let (_temp, cube) = example_cube("brats-metrics");
    let deploy = cube.join("deploy");
    cubeship_run([Path::new("package"), &cube]).assert_code(0);
    // Grow one component to exactly 2 GiB without using disk (a sparse file), and say so in
    // the manifest, as if packaging had produced it.
    let manifest_path = deploy.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let component = &mut manifest["components"][0];
    let file = deploy.join(component["file"].as_str().unwrap());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    component["size"] = json!(2u64 << 30);
    // `publish` hashes what it sends again: the manifest must name the grown file's sha256.
    component["sha256"] = json!(sha256_of_large_file(&file));
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();

    for extra in [&["--dry-run"][..], &[]] {
        let run = run(github
            .cubeship()
            .args(extra)
            .arg("publish")
            .arg(&deploy)
            .args(["--to", "github://o/r/v1", "--create-release"]));
        run.assert_code(2);
        assert!(run.stderr.contains("another provider"), "{}", run.stderr);
    }
    assert!(github.uploads().is_empty());
}

#[test]
fn conformance_on_the_fake() {
    let github = FakeGithub::start();
    conformance(
        "github://o/r/conformance",
        &[("api-url", &github.base), ("create-release", "true")],
        &[("GITHUB_TOKEN", TOKEN)],
    );
}
