//! `cubeship::oci::resolve_digest` against a real registry: Debian's `docker-registry` (CNCF
//! distribution 2.8), images pushed with raw v2 API uploads, and a token-auth front
//! (`tests/servers/registry_token_proxy.py`) for the Bearer and Basic challenges.

use std::process::Command;
use std::time::Duration;

use cubeship::oci::{ImageReference, RegistryLogin, resolve_digest};
use cubeship_provider::{ErrorKind, Secret};
use serde_json::json;

use crate::support::{Server, free_port, runtime, sha256_hex, start_fake, wait_for_tcp};

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A registry on a free loopback port, storing in a temp folder.
struct Registry {
    _server: Server,
    _data: tempfile::TempDir,
    /// `127.0.0.1:PORT`
    host: String,
}

impl Registry {
    fn start() -> Registry {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = data.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                data.path().join("storage").display()
            ),
        )
        .unwrap();
        let program = if std::path::Path::new("/usr/bin/docker-registry").exists() {
            "/usr/bin/docker-registry"
        } else {
            "docker-registry"
        };
        let server = Server::start(
            "docker-registry",
            Command::new(program).arg("serve").arg(&config),
        );
        let host = format!("127.0.0.1:{port}");
        wait_for_tcp(&host, Duration::from_secs(15));
        Registry {
            _server: server,
            _data: data,
            host,
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.host)
    }
}

/// Uploads `bytes` as a blob of `name` (monolithic: POST then PUT with the digest); returns
/// its digest.
async fn push_blob(client: &reqwest::Client, base: &str, name: &str, bytes: &[u8]) -> String {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    let started = client
        .post(format!("{base}/v2/{name}/blobs/uploads/"))
        .header("Content-Length", "0")
        .send()
        .await
        .expect("POST upload");
    assert_eq!(started.status().as_u16(), 202, "POST blobs/uploads/");
    let location = started
        .headers()
        .get("location")
        .expect("Location")
        .to_str()
        .unwrap()
        .to_string();
    let mut url = url::Url::parse(base).unwrap().join(&location).unwrap();
    url.query_pairs_mut().append_pair("digest", &digest);
    let put = client
        .put(url)
        .header("Content-Type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("PUT blob");
    assert_eq!(
        put.status().as_u16(),
        201,
        "PUT blob: {:?}",
        put.text().await
    );
    digest
}

/// PUTs a manifest; returns the registry's `Docker-Content-Digest`.
async fn push_manifest(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> String {
    let response = client
        .put(format!("{base}/v2/{name}/manifests/{reference}"))
        .header("Content-Type", media_type)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("PUT manifest");
    let status = response.status().as_u16();
    let digest = response
        .headers()
        .get("docker-content-digest")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(status, 201, "PUT manifest: {:?}", response.text().await);
    digest.expect("Docker-Content-Digest on the PUT")
}

/// A small image: config and one gzipped layer blob, and a Docker v2 schema 2 manifest
/// tagged `tag`. Returns (manifest bytes, the registry's digest of it).
async fn push_image(base: &str, name: &str, tag: &str, seed: &str) -> (Vec<u8>, String) {
    use std::io::Write;
    let client = reqwest::Client::new();
    let layer_plain = format!("layer of {seed}\n").into_bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer_plain).unwrap();
    let layer = gz.finish().unwrap();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&layer_plain))]},
    }))
    .unwrap();
    let config_digest = push_blob(&client, base, name, &config).await;
    let layer_digest = push_blob(&client, base, name, &layer).await;
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(),
            "digest": config_digest,
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": layer.len(),
            "digest": layer_digest,
        }],
    }))
    .unwrap();
    let digest = push_manifest(&client, base, name, tag, DOCKER_MANIFEST, &manifest).await;
    (manifest, digest)
}

/// An OCI image index (or, with `media_type` DOCKER_LIST, a Docker manifest list) over
/// `manifests` (bytes, digest, architecture), tagged `tag`.
async fn push_index(
    base: &str,
    name: &str,
    tag: &str,
    media_type: &str,
    manifests: &[(&[u8], &str, &str)],
) -> (Vec<u8>, String) {
    let client = reqwest::Client::new();
    let entries: Vec<_> = manifests
        .iter()
        .map(|(bytes, digest, arch)| {
            json!({
                "mediaType": DOCKER_MANIFEST,
                "size": bytes.len(),
                "digest": digest,
                "platform": {"architecture": arch, "os": "linux"},
            })
        })
        .collect();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": entries,
    }))
    .unwrap();
    let digest = push_manifest(&client, base, name, tag, media_type, &index).await;
    (index, digest)
}

fn image(reference: &str) -> ImageReference {
    ImageReference::parse(reference).unwrap_or_else(|e| panic!("{reference}: {e}"))
}

fn login(username: &str, password: &str) -> RegistryLogin {
    RegistryLogin {
        username: username.to_string(),
        password: Secret::new(password),
    }
}

#[test]
fn oci_resolves_a_docker_v2_manifest_by_tag_and_by_digest() {
    let registry = Registry::start();
    let rt = runtime();
    let (manifest, pushed) = rt.block_on(push_image(&registry.base(), "cubeship/hello", "v1", "a"));
    assert_eq!(pushed, format!("sha256:{}", sha256_hex(&manifest)));

    let by_tag = image(&format!("{}/cubeship/hello:v1", registry.host));
    assert_eq!(by_tag.api_base().as_str(), format!("{}/", registry.base()));
    assert_eq!(rt.block_on(resolve_digest(&by_tag, None)).unwrap(), pushed);

    let by_digest = image(&format!("{}/cubeship/hello@{pushed}", registry.host));
    assert_eq!(
        rt.block_on(resolve_digest(&by_digest, None)).unwrap(),
        pushed
    );

    let missing_tag = image(&format!("{}/cubeship/hello:v2", registry.host));
    let error = rt.block_on(resolve_digest(&missing_tag, None)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotFound, "{error}");
    assert!(error.message.contains("cubeship/hello:v2"), "{error}");

    let other = format!("sha256:{}", sha256_hex(b"not pushed"));
    let missing_digest = image(&format!("{}/cubeship/hello@{other}", registry.host));
    let error = rt
        .block_on(resolve_digest(&missing_digest, None))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotFound, "{error}");

    let missing_repo = image(&format!("{}/cubeship/nothing:v1", registry.host));
    let error = rt
        .block_on(resolve_digest(&missing_repo, None))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::NotFound, "{error}");
}

#[test]
fn oci_returns_the_top_level_index_digest_of_a_multi_arch_tag() {
    let registry = Registry::start();
    let rt = runtime();
    let base = registry.base();
    let (amd64, amd64_digest) = rt.block_on(push_image(&base, "cubeship/multi", "amd64", "x"));
    let (arm64, arm64_digest) = rt.block_on(push_image(&base, "cubeship/multi", "arm64", "y"));
    let (index, index_digest) = rt.block_on(push_index(
        &base,
        "cubeship/multi",
        "1.0",
        OCI_INDEX,
        &[
            (&amd64, &amd64_digest, "amd64"),
            (&arm64, &arm64_digest, "arm64"),
        ],
    ));
    assert_eq!(index_digest, format!("sha256:{}", sha256_hex(&index)));

    let resolved = rt
        .block_on(resolve_digest(
            &image(&format!("{}/cubeship/multi:1.0", registry.host)),
            None,
        ))
        .unwrap();
    assert_eq!(resolved, index_digest);
    assert_ne!(resolved, amd64_digest);
    assert_ne!(resolved, arm64_digest);

    // The same with a Docker manifest list (what `docker buildx` pushes with the docker driver).
    let (list, list_digest) = rt.block_on(push_index(
        &base,
        "cubeship/multi",
        "1.0-docker",
        DOCKER_LIST,
        &[
            (&amd64, &amd64_digest, "amd64"),
            (&arm64, &arm64_digest, "arm64"),
        ],
    ));
    assert_eq!(list_digest, format!("sha256:{}", sha256_hex(&list)));
    let resolved = rt
        .block_on(resolve_digest(
            &image(&format!("{}/cubeship/multi:1.0-docker", registry.host)),
            None,
        ))
        .unwrap();
    assert_eq!(resolved, list_digest);
}

#[test]
fn oci_hashes_the_manifest_when_head_has_no_digest_header() {
    let registry = Registry::start();
    let rt = runtime();
    let base = registry.base();
    let (manifest, _) = rt.block_on(push_image(&base, "cubeship/nodigest", "v1", "n"));
    let (index, index_digest) = rt.block_on(push_index(
        &base,
        "cubeship/nodigest",
        "multi",
        OCI_INDEX,
        &[(
            &manifest,
            &format!("sha256:{}", sha256_hex(&manifest)),
            "amd64",
        )],
    ));
    let upstream = registry.base();
    let (_proxy, proxy_base) = start_fake(
        "registry token proxy",
        "registry_token_proxy.py",
        &["--upstream", &upstream, "--no-head-digest"],
    );
    let host = proxy_base.trim_start_matches("http://");
    let resolved = rt
        .block_on(resolve_digest(
            &image(&format!("{host}/cubeship/nodigest:multi")),
            None,
        ))
        .unwrap();
    assert_eq!(resolved, index_digest);
    assert_eq!(resolved, format!("sha256:{}", sha256_hex(&index)));

    // The proxy saw a HEAD (no digest) and then a GET, both with the token.
    let log = crate::support::get_json(&format!("{proxy_base}/_proxy/log"));
    let manifest_calls: Vec<(String, u64, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().contains("/manifests/"))
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
                e["authorization"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        manifest_calls,
        [
            ("HEAD".to_string(), 401, String::new()),
            ("HEAD".to_string(), 200, "Bearer".to_string()),
            ("GET".to_string(), 200, "Bearer".to_string()),
        ]
    );
}

#[test]
fn oci_answers_an_anonymous_bearer_challenge() {
    let registry = Registry::start();
    let rt = runtime();
    let (_, pushed) = rt.block_on(push_image(&registry.base(), "team/app", "stable", "t"));
    let upstream = registry.base();
    let (_proxy, proxy_base) = start_fake(
        "registry token proxy",
        "registry_token_proxy.py",
        &["--upstream", &upstream],
    );
    let host = proxy_base.trim_start_matches("http://");
    let resolved = rt
        .block_on(resolve_digest(
            &image(&format!("{host}/team/app:stable")),
            None,
        ))
        .unwrap();
    assert_eq!(resolved, pushed);
    let by_digest = rt
        .block_on(resolve_digest(
            &image(&format!("{host}/team/app@{pushed}")),
            None,
        ))
        .unwrap();
    assert_eq!(by_digest, pushed);
}

#[test]
fn oci_bearer_challenge_with_a_login_and_a_wrong_password() {
    let registry = Registry::start();
    let rt = runtime();
    let (_, pushed) = rt.block_on(push_image(&registry.base(), "syn123/img", "tag", "s"));
    let upstream = registry.base();
    let (_proxy, proxy_base) = start_fake(
        "registry token proxy",
        "registry_token_proxy.py",
        &[
            "--upstream",
            &upstream,
            "--login",
            "alice:right-password-42",
        ],
    );
    let host = proxy_base.trim_start_matches("http://");
    let reference = image(&format!("{host}/syn123/img:tag"));

    let good = login("alice", "right-password-42");
    assert_eq!(
        rt.block_on(resolve_digest(&reference, Some(&good)))
            .unwrap(),
        pushed
    );

    // The token endpoint echoes the credentials it refused; the error must not.
    let wrong_password = "wrong-password-0xdeadbeef";
    let error = rt
        .block_on(resolve_digest(
            &reference,
            Some(&login("alice", wrong_password)),
        ))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthenticated, "{error}");
    let shown = format!(
        "{error} {error:?} {}",
        cubeship_provider::error::chain(&error)
    );
    assert!(!shown.contains(wrong_password), "password leaked: {shown}");
    // The echo was there and was redacted, so the check above is not vacuous.
    assert!(error.message.contains("alice:***"), "{error}");
    assert!(error.message.contains("alice"), "{error}");

    let error = rt.block_on(resolve_digest(&reference, None)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthenticated, "{error}");
    assert!(error.message.contains("login"), "{error}");
}

#[test]
fn oci_answers_a_basic_challenge_with_a_login() {
    let registry = Registry::start();
    let rt = runtime();
    let (_, pushed) = rt.block_on(push_image(&registry.base(), "private/img", "v1", "b"));
    let upstream = registry.base();
    let (_proxy, proxy_base) = start_fake(
        "registry token proxy",
        "registry_token_proxy.py",
        &[
            "--upstream",
            &upstream,
            "--scheme",
            "basic",
            "--login",
            "bob:basic-secret-77",
        ],
    );
    let host = proxy_base.trim_start_matches("http://");
    let reference = image(&format!("{host}/private/img:v1"));
    assert_eq!(
        rt.block_on(resolve_digest(
            &reference,
            Some(&login("bob", "basic-secret-77"))
        ))
        .unwrap(),
        pushed
    );
    let error = rt.block_on(resolve_digest(&reference, None)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthenticated, "{error}");
    let error = rt
        .block_on(resolve_digest(
            &reference,
            Some(&login("bob", "not-the-secret")),
        ))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::Unauthenticated, "{error}");
    assert!(!error.message.contains("not-the-secret"), "{error}");
}

/// The example DockerImage cube with its `image:` set to `image`.
fn docker_image_cube(image: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (temp, cube) = crate::support::example_cube("chestxray-tutorial-mobilenetv2");
    let config = cube.join("container_config.yaml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("mlcommons/chestxray-tutorial-mobilenetv2:0.0.1", image);
    std::fs::write(&config, text).unwrap();
    (temp, cube)
}

fn publish_to_folder(
    cube: &std::path::Path,
    dest: &std::path::Path,
    extra: &[&str],
) -> crate::support::Run {
    let mut args = vec![
        "--json".to_string(),
        "package-and-publish".into(),
        cube.display().to_string(),
        "--to".into(),
        format!("dir:{}", dest.display()),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    crate::support::cubeship_run(&args)
}

#[test]
fn a_docker_image_cube_gets_the_registry_digest_as_image_hash() {
    let registry = Registry::start();
    let (_, pushed) =
        runtime().block_on(push_image(&registry.base(), "cubeship/model", "1.0", "m"));
    let (temp, cube) = docker_image_cube(&format!("{}/cubeship/model:1.0", registry.host));
    let run = publish_to_folder(&cube, &temp.path().join("published"), &[]);
    run.assert_code(0);
    let report = run.json();
    let container = &report["container"];
    assert_eq!(container["container_type"], "DockerImage");
    assert_eq!(container["image_source"], "registry");
    assert_eq!(container["image_hash"], pushed.as_str(), "{report:#}");
    let command = report["medperf_command"].as_str().unwrap();
    assert!(
        command.contains(&format!("--image-hash {pushed}")),
        "{command}"
    );

    let skipped = publish_to_folder(
        &cube,
        &temp.path().join("published"),
        &["--no-image-digest"],
    );
    skipped.assert_code(0);
    assert!(
        !skipped.json()["medperf_command"]
            .as_str()
            .unwrap()
            .contains("--image-hash")
    );
}

#[test]
fn an_unreachable_registry_gives_a_warning_and_no_image_hash_never_a_wrong_one() {
    let port = free_port();
    let (temp, cube) = docker_image_cube(&format!("127.0.0.1:{port}/cubeship/model:1.0"));
    let run = publish_to_folder(&cube, &temp.path().join("published"), &[]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("cannot look up the digest"),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert!(report["container"]["image_hash"].is_null(), "{report:#}");
    assert!(
        !report["medperf_command"]
            .as_str()
            .unwrap()
            .contains("--image-hash")
    );
}
