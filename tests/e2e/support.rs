//! Test helpers: run the binary, copy fixtures into temp folders, start and stop servers.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The result of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// The binary under test, with an environment free of the developer's own cloud settings.
pub fn cubeship() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cubeship"));
    // Every variable a provider declares, and the ones its SDK reads behind our back.
    let declared = cubeship::registry::FACTORIES.iter().flat_map(|f| {
        f.options
            .iter()
            .chain(f.upload_options)
            .flat_map(|o| o.env.iter().copied())
    });
    let undeclared = [
        "AWS_DEFAULT_REGION",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "CUBESHIP_CONNECT_TIMEOUT",
        "CUBESHIP_IDLE_TIMEOUT",
        "CUBESHIP_RESPONSE_TIMEOUT",
        "CUBESHIP_RETRY_MAX_ATTEMPTS",
        "CUBESHIP_RETRY_BASE_DELAY",
        "CUBESHIP_DOWNLOAD_CONNECTIONS",
    ];
    for var in declared.chain(undeclared) {
        command.env_remove(var);
    }
    command.env("AWS_CONFIG_FILE", "/nonexistent/cubeship-test-aws-config");
    command.env(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/cubeship-test-aws-credentials",
    );
    command.env("AWS_EC2_METADATA_DISABLED", "true");
    // No user cubeship.toml: tests that want one write it and set XDG_CONFIG_HOME or the folder.
    command.env("XDG_CONFIG_HOME", "/nonexistent/cubeship-test-config");
    command.stdin(Stdio::null());
    command
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

pub fn run(command: &mut Command) -> Run {
    command.output().expect("cubeship runs").into()
}

/// Runs `cubeship ARGS…`.
pub fn cubeship_run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run(cubeship().args(args))
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Copies `tests/fixtures/medperf-examples/<name>` into a fresh temp folder; returns (guard, cube path).
pub fn example_cube(name: &str) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let target = temp.path().join(name);
    copy_tree(&fixtures_dir().join("medperf-examples").join(name), &target);
    (temp, target)
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_tcp(addr: &str, timeout: Duration) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {addr} after {timeout:?}");
}

/// A server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub name: String,
}

impl Server {
    /// Starts `program args…`; panics with an install hint if it is missing (tests never skip).
    pub fn start(name: &str, command: &mut Command) -> Server {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start the {name} test server ({e}); run scripts/test.sh, which installs it"
            )
        });
        Server {
            child,
            name: name.to_string(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Anonymous GET of `url` (redirects followed): status and body.
pub fn http_get(url: &str) -> (u16, Vec<u8>) {
    runtime().block_on(async {
        let response = reqwest::Client::new().get(url).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("body").to_vec())
    })
}

/// GET of a fake server's JSON admin or state endpoint, which must answer 200.
pub fn get_json(url: &str) -> serde_json::Value {
    let (status, body) = http_get(url);
    assert_eq!(status, 200, "GET {url}");
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// Starts `tests/servers/<script>` (a fake REST API) on a free loopback port with `args`;
/// returns the server and its base URL.
pub fn start_fake(name: &str, script: &str, args: &[&str]) -> (Server, String) {
    let port = free_port();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/servers")
        .join(script);
    let server = Server::start(
        name,
        Command::new("python3")
            .arg(path)
            .args(["--port", &port.to_string()])
            .args(args),
    );
    let addr = format!("127.0.0.1:{port}");
    wait_for_tcp(&addr, Duration::from_secs(10));
    (server, format!("http://{addr}"))
}

/// The request log of a fake REST server (`GET /_fake/log`): (method, path, status, time).
pub fn fake_log(base: &str) -> Vec<(String, String, u64, f64)> {
    get_json(&format!("{base}/_fake/log"))
        .as_array()
        .expect("the log is a list")
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
                e["time"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// POST of a JSON body to a fake server's admin endpoint (faults, state), which must succeed.
pub fn post_json(url: &str, body: &serde_json::Value) {
    runtime().block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .json(body)
            .send()
            .await
            .expect("admin request");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
    });
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Writes `len` pseudo-random (incompressible) bytes to `path`, seeded.
pub fn write_random_file(path: &Path, len: usize, seed: u64) {
    use std::io::Write;
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut buffer = Vec::with_capacity(1 << 16);
    let mut left = len;
    while left > 0 {
        buffer.clear();
        let n = left.min(1 << 16);
        while buffer.len() < n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            buffer.extend_from_slice(&state.to_le_bytes());
        }
        buffer.truncate(n);
        file.write_all(&buffer).unwrap();
        left -= n;
    }
}

/// Every URL of a publish report (JSON) with the sha256 it must serve.
pub fn published_urls(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for component in report["components"].as_array().unwrap() {
        for upload in component["uploads"].as_array().unwrap() {
            out.push((
                upload["url"].as_str().unwrap().to_string(),
                component["sha256"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// Asserts that every URL in `report` serves its sha256 to an anonymous client.
#[track_caller]
pub fn assert_urls_serve_their_hashes(report: &serde_json::Value) {
    let urls = published_urls(report);
    assert!(!urls.is_empty(), "no URL in report");
    for (url, sha256) in urls {
        let (status, body) = http_get(&url);
        assert_eq!(status, 200, "anonymous GET {url}");
        assert_eq!(sha256_hex(&body), sha256, "content of {url}");
    }
}

/// Statuses of every upload in a report, in order.
pub fn statuses(report: &serde_json::Value) -> Vec<String> {
    report["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["uploads"].as_array().unwrap().iter())
        .map(|u| u["status"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `cubeship ARGS…` and expects a usage error: exit 2 with `needle` on stderr.
#[track_caller]
pub fn assert_usage_error<I, S>(args: I, needle: &str) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let run = cubeship_run(args);
    run.assert_code(2);
    assert!(
        run.stderr.contains(needle),
        "stderr should mention {needle:?}:\n{}",
        run.stderr
    );
    run
}

/// Runs the provider conformance suite (`cubeship_provider::conformance`) against `--to spec`,
/// opened through the registry exactly as the CLI opens it, with `flags` as given on the
/// command line and `env` as the only environment the provider sees.
pub fn conformance(spec: &str, flags: &[(&str, &str)], env: &[(&str, &str)]) {
    use cubeship::destinations::{GivenOptions, OpenOptions, open_all};
    let mut given = GivenOptions::default();
    for (name, value) in flags {
        let mut values = given.get(name).unwrap_or_default();
        values.push(value.to_string());
        given.set(name, values);
    }
    let open = OpenOptions {
        given,
        env: cubeship_provider::env_from(env),
        file: GivenOptions::default(),
        retry: cubeship_provider::RetryPolicy::default(),
    };
    let scratch = tempfile::tempdir().unwrap();
    let namespace = format!("conformance-{}", std::process::id());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let targets = open_all(&[spec.to_string()], &open)
                .await
                .unwrap_or_else(|e| panic!("--to {spec} does not open: {e}"));
            let provider = targets[0].provider.clone();
            cubeship_provider::conformance::check_provider(provider, scratch.path(), &namespace)
                .await;
        });
}
