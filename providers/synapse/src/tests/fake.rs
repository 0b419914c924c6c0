//! The provider's internals against `tests/servers/synapse_fake.py`: a resumed multipart
//! upload, the MD5 fallback of `head`, and preflight's answers to bad tokens, missing parents
//! and read-only access. (The conformance suite runs in `tests/e2e/synapse.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cubeship_provider::conformance::asset;
use cubeship_provider::{NoProgress, RetryPolicy, UploadRequest};

use super::*;

const TOKEN: &str = "synapse-pat-fake-0123456789abcdef";
const READ_ONLY: &str = "synapse-pat-read-only-0123456789";
const PROJECT: &str = "syn100";

struct Fake {
    child: Child,
    base: String,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/servers/synapse_fake.py")
}

impl Fake {
    fn start() -> Fake {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .arg(script())
            .args(["--port", &port.to_string(), "--token", TOKEN])
            .args(["--read-only-token", READ_ONLY, "--project", PROJECT])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the fake Synapse");
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "fake Synapse did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Fake {
            child,
            base: format!("http://{addr}"),
        }
    }

    async fn provider_with(
        &self,
        spec: &str,
        token: &str,
        retry: RetryPolicy,
    ) -> Arc<dyn Provider> {
        let endpoint = self.base.clone();
        let given = move |name: &str| (name == "synapse-endpoint").then(|| vec![endpoint.clone()]);
        let settings = Settings::resolve(
            FACTORY.options,
            &given,
            env(&[("SYNAPSE_AUTH_TOKEN", token), ("HOME", "/nonexistent")]),
        )
        .with_retry(retry);
        FACTORY
            .open(Destination::Spec(spec), &settings)
            .await
            .expect("the provider opens")
    }

    async fn provider(&self) -> Arc<dyn Provider> {
        self.provider_with(&format!("synapse:{PROJECT}"), TOKEN, fast_retry())
            .await
    }

    async fn get(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// (path, status, auth) of every request received.
    async fn log(&self) -> Vec<(String, u64, bool)> {
        self.get("/_fake/log")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["path"].as_str().unwrap().to_string(),
                    e["status"].as_u64().unwrap(),
                    e["auth"].as_bool().unwrap(),
                )
            })
            .collect()
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(1),
    }
}

/// Part numbers of the part PUTs that reached storage with `status`, from `log`.
fn part_puts(log: &[(String, u64, bool)], status: u64) -> Vec<u32> {
    log.iter()
        .filter(|(path, s, _)| path.starts_with("/_storage/upload/") && *s == status)
        .map(|(path, _, _)| {
            let path = path.split('?').next().unwrap();
            path.rsplit('/').next().unwrap().parse().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn odd_names_md5_fallback_and_no_token_on_storage_requests() {
    let fake = Fake::start();
    let provider = fake.provider().await;
    let scratch = tempfile::tempdir().unwrap();
    provider.preflight().await.unwrap();

    // A name Synapse does not allow as it is: stored under its cleaned-up name, found again.
    let odd = asset(scratch.path(), "odd.bin", b"odd bytes");
    let key = ObjectKey::from_parts(["odd_name-v1.0+\u{fc}.bin"]);
    let uploaded = provider
        .upload(&UploadRequest {
            asset: &odd,
            key: &key,
            existing: None,
            progress: Arc::new(NoProgress),
            journal: None,
        })
        .await
        .unwrap();
    let remote = provider.head(&key, &odd).await.unwrap().unwrap();
    assert_eq!(remote.sha256.as_deref(), Some(odd.sha256.as_str()));
    assert_eq!(remote.url.as_ref(), Some(&uploaded.url));
    assert_eq!(uploaded.url.scheme(), "synapse");
    let download = provider.download(&uploaded.url).await.unwrap();
    assert_eq!(
        download,
        Download::Ok {
            size: odd.size,
            sha256: odd.sha256.clone(),
            sha1: odd.sha1.clone()
        }
    );
    let state = fake.get("/_fake/state").await;
    assert!(
        state["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "odd_name-v1.0+_.bin"),
        "{state}"
    );

    // An entity another tool uploaded has no sha256 annotation: equal size and MD5 say "same".
    fake.post(
        "/_fake/entity",
        json!({"parentId": PROJECT, "name": "legacy.bin", "content": "legacy bytes"}),
    )
    .await;
    let legacy_key = ObjectKey::from_parts(["legacy.bin"]);
    let same = asset(scratch.path(), "same.bin", b"legacy bytes");
    let seen = provider.head(&legacy_key, &same).await.unwrap().unwrap();
    assert_eq!(seen.sha256.as_deref(), Some(same.sha256.as_str()));
    let other = asset(scratch.path(), "other.bin", b"LEGACY BYTES");
    let seen = provider.head(&legacy_key, &other).await.unwrap().unwrap();
    assert_eq!(
        seen.sha256, None,
        "same size, other MD5: not the same content"
    );
    assert_eq!(seen.size, 12);

    // --overwrite: a new version, and its sha256 recorded for it.
    provider
        .upload(&UploadRequest {
            asset: &other,
            key: &legacy_key,
            existing: Some(&seen),
            progress: Arc::new(NoProgress),
            journal: None,
        })
        .await
        .unwrap();
    let now = provider.head(&legacy_key, &other).await.unwrap().unwrap();
    assert_eq!(now.sha256.as_deref(), Some(other.sha256.as_str()));
    assert_eq!(now.id, seen.id, "the same entity, so the same synapse: URL");
    let state = fake.get("/_fake/state").await;
    let legacy = state["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "legacy.bin")
        .unwrap()
        .clone();
    assert_eq!(legacy["versions"].as_array().unwrap().len(), 2, "{legacy}");

    // Storage requests never carried the Synapse token; API requests always did.
    let log = fake.log().await;
    assert!(log.iter().any(|(p, _, _)| p.starts_with("/_storage/file/")));
    for (path, _, auth) in &log {
        if path.starts_with("/_storage/") {
            assert!(!auth, "{path} got an Authorization header");
        } else if !path.starts_with("/_fake/") {
            assert!(auth, "{path} had no Authorization header");
        }
    }
}

#[tokio::test]
async fn an_interrupted_upload_resumes_with_only_the_missing_parts() {
    let fake = Fake::start();
    let scratch = tempfile::tempdir().unwrap();
    // Three parts: 5 MiB, 5 MiB, and the rest.
    let content: Vec<u8> = (0..(12 * 1024 * 1024 + 1000u32))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let big = asset(scratch.path(), "big.bin", &content);
    let key = ObjectKey::from_parts(["cube-image.tar.gz"]);

    // The connection drops on every part PUT after the first one that gets through.
    fake.post(
        "/_fake/fault",
        json!({"method": "PUT", "path_contains": "/_storage/upload/", "after": 1, "action": "cut", "times": 1000}),
    )
    .await;
    let first = fake.provider().await;
    let request = UploadRequest {
        asset: &big,
        key: &key,
        existing: None,
        progress: Arc::new(NoProgress),
        journal: None,
    };
    let error = first
        .upload(&request)
        .await
        .expect_err("the cut connection fails the upload");
    assert_eq!(error.kind, ErrorKind::Transport, "{error}");
    assert!(!error.message.contains(TOKEN));
    let log = fake.log().await;
    let added_first: Vec<u32> = part_puts(&log, 200);
    assert_eq!(added_first.len(), 1, "{log:?}");
    assert_eq!(
        first.head(&key, &big).await.unwrap(),
        None,
        "no entity for a half upload"
    );

    // A second run (a new provider, as a new process would build) sends only what is missing.
    fake.post("/_fake/clear_faults", json!({})).await;
    let before = log.len();
    let second = fake.provider().await;
    second
        .upload(&request)
        .await
        .expect("the resumed upload completes");
    let log = fake.log().await;
    let mut sent_second = part_puts(&log[before..], 200);
    sent_second.sort();
    let mut expected: Vec<u32> = (1..=3).filter(|n| !added_first.contains(n)).collect();
    expected.sort();
    assert_eq!(
        sent_second, expected,
        "only the missing parts are sent again"
    );
    let starts = log
        .iter()
        .filter(|(p, _, _)| p.starts_with("/file/v1/file/multipart?"))
        .count();
    assert_eq!(starts, 2);
    let state = fake.get("/_fake/state").await;
    let uploads = state["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 1, "the same upload resumed: {state}");

    let remote = second.head(&key, &big).await.unwrap().unwrap();
    assert_eq!(remote.sha256.as_deref(), Some(big.sha256.as_str()));
    let download = second.download(remote.url.as_ref().unwrap()).await.unwrap();
    assert_eq!(
        download,
        Download::Ok {
            size: big.size,
            sha256: big.sha256.clone(),
            sha1: big.sha1.clone()
        }
    );
}

#[tokio::test]
async fn preflight_explains_bad_tokens_missing_parents_and_read_only_access() {
    let fake = Fake::start();
    let bad = "synapse-pat-this-one-is-wrong-42";
    let provider = fake
        .provider_with("synapse:syn100", bad, fast_retry())
        .await;
    let error = provider.preflight().await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthenticated);
    assert!(error.message.contains("SYNAPSE_AUTH_TOKEN"), "{error}");
    assert!(!cubeship_provider::error::chain(&error).contains(bad));
    assert!(!format!("{error:?}").contains(bad));

    let provider = fake
        .provider_with("synapse:syn999", TOKEN, fast_retry())
        .await;
    let error = provider.preflight().await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotFound);
    assert!(
        error
            .message
            .starts_with("syn999 does not exist or you cannot see it"),
        "{error}"
    );

    let provider = fake
        .provider_with("synapse:syn100", READ_ONLY, fast_retry())
        .await;
    let error = provider.preflight().await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::PermissionDenied);
    assert!(error.message.contains("Can edit"), "{error}");

    // Downloads work with read access, and a missing entity is a plain 404 status.
    let missing = Url::parse("synapse:syn424242").unwrap();
    assert_eq!(
        provider.download(&missing).await.unwrap(),
        Download::Status(404)
    );
    assert!(
        provider
            .diagnose_not_public(&ObjectKey::from_parts(["x"]), 403)
            .unwrap()
            .contains("download access")
    );
}
