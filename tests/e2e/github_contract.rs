//! Contract check of the GitHub provider's request shapes: cubeship publishes through Stoplight
//! Prism, which validates every request against GitHub's published OpenAPI description
//! (tests/contract/github-releases.openapi.json) before forwarding it to the fake GitHub.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::github::{FakeGithub, TOKEN};
use crate::support::*;

/// Prism compiles the description before it listens: seconds on a loaded machine.
const PRISM_START_TIMEOUT: Duration = Duration::from_secs(40);
/// The upload operation as GitHub's description names it (served from uploads.github.com).
const UPLOAD_PATH: &str = "/repos/{owner}/{repo}/releases/{release_id}/assets";

fn contract_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contract")
}

/// The committed description, adapted to this setup; every change is about where the fake
/// serves things or what it answers, none loosens what cubeship may send, except the upload's
/// media type (see below).
fn spec_for_prism() -> Value {
    let text = std::fs::read_to_string(contract_dir().join("github-releases.openapi.json"))
        .expect("tests/contract/github-releases.openapi.json");
    let mut spec: Value = serde_json::from_str(&text).unwrap();
    let paths = spec["paths"].as_object_mut().unwrap();
    // The fake answers with the fields cubeship reads, not GitHub's full objects: keep the
    // documented status codes and drop the response schemas, so only requests are judged.
    for item in paths.values_mut() {
        for operation in item.as_object_mut().unwrap().values_mut() {
            let Some(responses) = operation.get_mut("responses") else {
                continue;
            };
            for response in responses.as_object_mut().unwrap().values_mut() {
                *response = json!({ "description": "status documented by GitHub" });
            }
        }
    }
    // GitHub takes any media type for an asset (its documentation: the Content-Type header is
    // the asset's media type) though the description lists only application/octet-stream;
    // cubeship sends application/yaml and application/gzip for MLCube files.
    let upload = &mut paths[UPLOAD_PATH]["post"];
    upload["requestBody"]["content"] = json!({ "*/*": { "schema": { "type": "string" } } });
    // The fake serves the uploads host under /uploads on its single port.
    let mut upload_on_fake = json!({
        "parameters": paths[UPLOAD_PATH].get("parameters").cloned().unwrap_or(json!([])),
        "post": paths[UPLOAD_PATH]["post"].clone(),
    });
    upload_on_fake["post"]["operationId"] = json!("fake-uploads-host/upload-release-asset");
    paths.insert(format!("/uploads{UPLOAD_PATH}"), upload_on_fake);
    // Verification downloads browser_download_url, a github.com web URL outside the REST API,
    // which the fake builds on Prism's address too: let it through unjudged.
    let path_parameter = |name: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
    let download_parameters = ["owner", "repo", "tag", "name"].map(path_parameter);
    paths.insert(
        "/{owner}/{repo}/releases/download/{tag}/{name}".into(),
        json!({ "get": {
            "operationId": "web/download-release-asset",
            "parameters": download_parameters,
            "responses": { "200": { "description": "the bytes" }, "404": { "description": "not public" } },
        }}),
    );
    spec
}

/// The request targets the fake received from clients (its own admin calls excluded).
fn api_request_targets(github: &FakeGithub) -> Vec<String> {
    github
        .log()
        .into_iter()
        .map(|(_, path, _, _)| path)
        .filter(|path| !path.starts_with("/_fake/"))
        .collect()
}

/// `prism proxy` in front of the fake, with `--errors`: a request that violates the
/// description is answered 422 by Prism and never reaches the fake.
struct Prism {
    _server: Server,
    _dir: tempfile::TempDir,
    log: PathBuf,
    base: String,
}

impl Prism {
    fn start(spec: &Value, fake_base: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let spec_path = dir.path().join("github.openapi.json");
        std::fs::write(&spec_path, spec.to_string()).unwrap();
        let log = dir.path().join("prism.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut command = Command::new("prism");
        // Prism forwards to its own address through `--upstream-proxy` = the fake: the fake
        // then sees Prism's host in each request and builds upload_url (and every other URL)
        // on it, so uploads pass through Prism as on github.com they go to uploads.github.com.
        command
            .arg("proxy")
            .arg(&spec_path)
            .arg(&base)
            .args(["--upstream-proxy", fake_base])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--errors")
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start Stoplight Prism ({e}); run scripts/install-test-servers.sh, which installs it into target/test-tools/bin (on PATH in scripts/test.sh)"
            )
        });
        let mut server = Server {
            child,
            name: "Prism".into(),
        };
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        // A plain TCP probe: an HTTP probe would itself be logged as an unmatched route.
        while TcpStream::connect(&addr).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "Prism exited ({status}) before listening:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < PRISM_START_TIMEOUT,
                "Prism does not listen on {addr} after {PRISM_START_TIMEOUT:?}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Prism {
            _server: server,
            _dir: dir,
            log,
            base,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Prism's verdicts against requests: validator violations (errors and warnings) and
    /// requests it refused (422 for a violation, unmatched path or method, …).
    fn violations(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|line| {
                line.contains("Violation:") || line.contains("Request terminated with error")
            })
            .map(str::to_string)
            .collect()
    }

    /// `violations()` once Prism has logged refusing `method_and_path` (e.g. "post /x"); the
    /// log is written asynchronously, so it is read again until then.
    fn violations_until_refusal_of(&self, method_and_path: &str) -> Vec<String> {
        let refusal = format!("{method_and_path} ");
        let start = Instant::now();
        loop {
            let violations = self.violations();
            if violations
                .iter()
                .any(|line| line.contains(&refusal) && line.contains("UNPROCESSABLE_ENTITY"))
            {
                return violations;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "Prism never logged refusing {method_and_path}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// "METHOD /path" of every request Prism received, in order.
    fn received(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|line| line.contains("Request received"))
            .filter_map(|line| {
                let rest = line.split("[HTTP SERVER] ").nth(1)?;
                let mut words = rest.split_whitespace();
                Some(format!(
                    "{} {}",
                    words.next()?.to_uppercase(),
                    words.next()?
                ))
            })
            .collect()
    }
}

/// Whether `path` fits `pattern`, where a `*` segment stands for any one segment.
fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    pattern.len() == path.len()
        && pattern
            .iter()
            .zip(&path)
            .all(|(p, s)| *p == *s || (*p == "*" && !s.is_empty()))
}

/// `cubeship --json github upload FILES… --repo o/r --tag TAG [extra…]` against `api_url`.
fn upload(api_url: &str, files: &[PathBuf], tag: &str, extra: &[&str]) -> Run {
    run(cubeship()
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_API_URL", api_url)
        .args(["--json", "--no-progress", "github", "upload"])
        .args(files)
        .args(["--repo", "o/r", "--tag", tag])
        .args(extra))
}

#[test]
fn every_request_of_create_upload_and_safe_replace_matches_githubs_description() {
    let started = Instant::now();
    let github = FakeGithub::start();
    let prism = Prism::start(&spec_for_prism(), &github.base);

    // Text files only: Prism reads a non-JSON body as UTF-8 text before forwarding it, which
    // would alter binary bytes. Two media types: application/yaml and application/octet-stream.
    let temp = tempfile::tempdir().unwrap();
    let manifest = temp.path().join("mlcube.yaml");
    let weights = temp.path().join("weights.bin");
    std::fs::write(&manifest, "name: contract-check\n").unwrap();
    std::fs::write(&weights, "weights, version 1\n").unwrap();
    let files = [manifest.clone(), weights.clone()];

    // Preflight, release by tag (404, then the draft fallback listing), create release, uploads.
    let created = upload(&prism.base, &files, "v1", &["--create-release"]);
    created.assert_code(0);
    assert_eq!(statuses(&created.json()), ["uploaded", "uploaded"]);
    // Same content: release found by tag, assets listed, nothing sent.
    let unchanged = upload(&prism.base, &files, "v1", &[]);
    unchanged.assert_code(0);
    assert_eq!(statuses(&unchanged.json()), ["unchanged", "unchanged"]);
    // Other content with --overwrite: upload under a temporary name, two renames, one delete.
    std::fs::write(&weights, "weights, version 2, longer\n").unwrap();
    let replaced = upload(&prism.base, &files, "v1", &["--overwrite"]);
    replaced.assert_code(0);
    let report = replaced.json();
    assert_eq!(statuses(&report), ["unchanged", "uploaded"]);
    assert_urls_serve_their_hashes(&report);
    assert_eq!(
        github.assets("v1"),
        [
            ("mlcube.yaml".to_string(), sha256_file(&manifest)),
            ("weights.bin".to_string(), sha256_file(&weights)),
        ]
    );

    // The check itself works, and its refusal marks the end of the log: Prism writes its log
    // asynchronously, and once this line is there every earlier request's lines are too. A
    // create-release body without the required tag_name is refused and never reaches the fake.
    let releases_before = github.get("/_fake/state").as_array().unwrap().len();
    let (status, body) = runtime().block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{}/repos/o/r/releases", prism.base))
            .bearer_auth(TOKEN)
            .json(&json!({ "name": "no tag" }))
            .send()
            .await
            .expect("POST through Prism");
        (response.status().as_u16(), response.text().await.unwrap())
    });
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("tag_name"), "{body}");
    assert_eq!(
        github.get("/_fake/state").as_array().unwrap().len(),
        releases_before
    );
    let violations = prism.violations_until_refusal_of("post /repos/o/r/releases");
    assert_eq!(
        violations.len(),
        1,
        "requests that do not match GitHub's description (the last one is the deliberate one):\n{}\n\nPrism's log:\n{}",
        violations.join("\n"),
        prism.log_text()
    );

    // Every operation of the flow was judged by Prism…
    let received = prism.received();
    let seen = |method: &str, pattern: &str| {
        received.iter().any(|r| {
            r.split_once(' ')
                .is_some_and(|(m, path)| m == method && path_matches(pattern, path))
        })
    };
    for (method, pattern) in [
        ("GET", "/repos/o/r"),
        ("GET", "/repos/o/r/releases/tags/v1"),
        ("GET", "/repos/o/r/releases"),
        ("POST", "/repos/o/r/releases"),
        ("GET", "/repos/o/r/releases/*/assets"),
        ("POST", "/uploads/repos/o/r/releases/*/assets"),
        ("PATCH", "/repos/o/r/releases/assets/*"),
        ("DELETE", "/repos/o/r/releases/assets/*"),
    ] {
        assert!(
            seen(method, pattern),
            "{method} {pattern} not among the requests Prism received: {received:#?}"
        );
    }
    // …and nothing reached the fake around it: requests through the upstream proxy carry
    // Prism's absolute URL, a direct one only a path.
    let targets = api_request_targets(&github);
    assert!(!targets.is_empty());
    for target in &targets {
        assert!(
            target.starts_with(&format!("{}/", prism.base)),
            "{target} bypassed Prism"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the contract check took {:?}",
        started.elapsed()
    );
}
