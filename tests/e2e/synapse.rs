//! The Synapse provider against a stateful fake of Synapse's REST API
//! (tests/servers/synapse_fake.py, written from Synapse's public documentation): publishing a
//! cube, re-runs, new versions, refusals, configuration errors, a multipart upload resumed by a
//! second process, and the conformance suite run in-process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

const TOKEN: &str = "synapse-pat-fake-with-modify-scope-0001";
const PROJECT: &str = "syn100";

/// A running fake Synapse with project `syn100`, writable with `TOKEN`.
struct FakeSynapse {
    _server: Server,
    base: String,
    home: tempfile::TempDir,
}

impl FakeSynapse {
    fn start() -> Self {
        let (server, base) = start_fake(
            "fake Synapse",
            "synapse_fake.py",
            &["--token", TOKEN, "--project", PROJECT],
        );
        FakeSynapse {
            _server: server,
            base,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// `cubeship` with the token and the endpoint in the environment, HOME in a temp folder.
    fn cubeship(&self) -> Command {
        let mut command = cubeship();
        command
            .env("SYNAPSE_AUTH_TOKEN", TOKEN)
            .env("CUBESHIP_SYNAPSE_ENDPOINT", &self.base)
            .env("HOME", self.home.path());
        command
    }

    fn get(&self, path: &str) -> Value {
        get_json(&format!("{}{path}", self.base))
    }

    fn admin(&self, path: &str, body: Value) {
        post_json(&format!("{}{path}", self.base), &body);
    }

    /// Requests received: (method, path, status).
    fn log(&self) -> Vec<(String, String, u64)> {
        fake_log(&self.base)
            .into_iter()
            .map(|(method, path, status, _)| (method, path, status))
            .collect()
    }

    /// Every file entity: id → (name, sha256 of each version, oldest first).
    fn files(&self) -> BTreeMap<String, (String, Vec<String>)> {
        self.get("/_fake/state")["entities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["concreteType"] == "org.sagebionetworks.repo.model.FileEntity")
            .map(|e| {
                let versions = e["versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["sha256"].as_str().unwrap().to_string())
                    .collect();
                (
                    e["id"].as_str().unwrap().to_string(),
                    (e["name"].as_str().unwrap().to_string(), versions),
                )
            })
            .collect()
    }

    /// Asserts that every URL of `report` is `synapse:synNNN` of an entity whose latest
    /// version holds the component's sha256, and that cubeship verified it.
    #[track_caller]
    fn assert_published(&self, report: &Value) {
        let files = self.files();
        let urls = published_urls(report);
        assert!(!urls.is_empty(), "no URL in {report}");
        for (url, sha256) in urls {
            let id = url
                .strip_prefix("synapse:")
                .unwrap_or_else(|| panic!("{url} is not synapse:synNNN"));
            let (_, versions) = files.get(id).unwrap_or_else(|| panic!("no entity {id}"));
            assert_eq!(versions.last(), Some(&sha256), "latest version of {id}");
        }
        for component in report["components"].as_array().unwrap() {
            for upload in component["uploads"].as_array().unwrap() {
                assert_eq!(upload["verified"], json!(true), "{report}");
            }
        }
    }

    /// `cubeship --json synapse upload FILE --parent PARENT [extra…]`.
    fn upload(&self, file: &Path, parent: &str, extra: &[&str]) -> Run {
        run(self
            .cubeship()
            .args(["--json", "--no-progress", "synapse", "upload"])
            .arg(file)
            .args(["--parent", parent])
            .args(extra))
    }

    /// Part PUTs to presigned storage answered `status`, as (upload id, part number).
    fn part_puts(log: &[(String, String, u64)], status: u64) -> Vec<(String, u32)> {
        log.iter()
            .filter(|(m, p, s)| m == "PUT" && p.starts_with("/_storage/upload/") && *s == status)
            .map(|(_, p, _)| {
                let path = p.split('?').next().unwrap();
                let mut parts = path.rsplit('/');
                let number = parts.next().unwrap().parse().unwrap();
                (parts.next().unwrap().to_string(), number)
            })
            .collect()
    }
}

fn write_file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn upload_error(report: &Value) -> String {
    report["components"][0]["uploads"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn only_url(report: &Value) -> String {
    let urls = published_urls(report);
    assert_eq!(urls.len(), 1, "{report}");
    urls[0].0.clone()
}

#[test]
fn package_and_publish_creates_file_entities_then_a_rerun_is_unchanged() {
    let synapse = FakeSynapse::start();
    let (_temp, cube) = example_cube("brats-metrics");
    let publish = || {
        run(synapse
            .cubeship()
            .args(["--json", "--no-progress", "package-and-publish"])
            .arg(&cube)
            .args(["--to", "synapse:syn100"]))
    };
    let first = publish();
    first.assert_code(0);
    let report = first.json();
    let statuses_first = statuses(&report);
    assert!(!statuses_first.is_empty());
    assert!(statuses_first.iter().all(|s| s == "uploaded"), "{report}");
    synapse.assert_published(&report);
    let files = synapse.files();
    assert_eq!(files.len(), statuses_first.len(), "{files:?}");
    // The registration command names the synapse: resources.
    let command = report["medperf_command"].as_str().unwrap_or_default();
    assert!(command.contains("synapse:syn"), "{report}");

    let second = publish();
    second.assert_code(0);
    let report = second.json();
    assert!(
        statuses(&report).iter().all(|s| s == "unchanged"),
        "{report}"
    );
    synapse.assert_published(&report);
    assert_eq!(synapse.files(), files, "nothing new on Synapse");
    let uploads_started = synapse
        .log()
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.starts_with("/file/v1/file/multipart?"))
        .count();
    assert_eq!(
        uploads_started,
        statuses_first.len(),
        "a re-run uploads nothing"
    );
}

#[test]
fn other_content_is_refused_without_overwrite_and_becomes_a_new_version_with_it() {
    let synapse = FakeSynapse::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"weights, version 1");
    let first = synapse.upload(&file, PROJECT, &[]);
    first.assert_code(0);
    let url = only_url(&first.json());
    assert!(url.starts_with("synapse:syn"), "{url}");

    std::fs::write(&file, b"weights, version 2, longer").unwrap();
    let refused = synapse.upload(&file, PROJECT, &[]);
    refused.assert_code(1);
    let report = refused.json();
    assert!(
        upload_error(&report).contains("refusing to overwrite"),
        "{report}"
    );
    let id = url.strip_prefix("synapse:").unwrap().to_string();
    assert_eq!(synapse.files()[&id].1, [sha256_hex(b"weights, version 1")]);

    let replaced = synapse.upload(&file, PROJECT, &["--overwrite"]);
    replaced.assert_code(0);
    let report = replaced.json();
    assert_eq!(statuses(&report), ["uploaded"]);
    assert_eq!(
        only_url(&report),
        url,
        "the synapse: id MedPerf may hold stays the same"
    );
    synapse.assert_published(&report);
    assert_eq!(
        synapse.files()[&id],
        (
            "model.bin".to_string(),
            vec![
                sha256_hex(b"weights, version 1"),
                sha256_hex(b"weights, version 2, longer")
            ]
        ),
        "a new version, the old one kept"
    );

    // Same bytes again: unchanged, no third version.
    let again = synapse.upload(&file, PROJECT, &[]);
    again.assert_code(0);
    assert_eq!(statuses(&again.json()), ["unchanged"]);
    assert_eq!(synapse.files()[&id].1.len(), 2);
}

#[test]
fn bad_tokens_missing_parents_and_bad_destinations_are_configuration_errors() {
    let synapse = FakeSynapse::start();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"weights");

    let wrong = "synapse-pat-this-token-is-wrong-1234567890";
    let run_bad = run(synapse
        .cubeship()
        .env("SYNAPSE_AUTH_TOKEN", wrong)
        .args(["synapse", "upload"])
        .arg(&file)
        .args(["--parent", PROJECT]));
    run_bad.assert_code(2);
    assert!(
        run_bad.stderr.contains("SYNAPSE_AUTH_TOKEN"),
        "{}",
        run_bad.stderr
    );
    assert!(!run_bad.stderr.contains(wrong) && !run_bad.stdout.contains(wrong));

    let (_temp, cube) = example_cube("brats-metrics");
    let missing = run(synapse
        .cubeship()
        .args(["package-and-publish"])
        .arg(&cube)
        .args([
            "--to",
            "synapse:syn999",
            "--synapse-endpoint",
            &synapse.base,
        ]));
    missing.assert_code(2);
    assert!(
        missing
            .stderr
            .contains("syn999 does not exist or you cannot see it"),
        "{}",
        missing.stderr
    );

    let malformed = run(synapse
        .cubeship()
        .args(["package-and-publish"])
        .arg(&cube)
        .args(["--to", "synapse:my-project"]));
    malformed.assert_code(2);
    assert!(malformed.stderr.contains("--to"), "{}", malformed.stderr);
    assert!(
        malformed.stderr.contains("synapse:synNNN"),
        "{}",
        malformed.stderr
    );

    let no_token = run(synapse
        .cubeship()
        .env_remove("SYNAPSE_AUTH_TOKEN")
        .args(["synapse", "upload"])
        .arg(&file)
        .args(["--parent", PROJECT]));
    no_token.assert_code(2);
    assert!(
        no_token.stderr.contains("SYNAPSE_AUTH_TOKEN"),
        "{}",
        no_token.stderr
    );
    assert!(
        no_token.stderr.contains("~/.synapseConfig"),
        "{}",
        no_token.stderr
    );

    // Nothing was uploaded by any of these.
    assert!(
        !synapse
            .log()
            .iter()
            .any(|(_, p, _)| p.starts_with("/file/v1/file/multipart")),
        "{:?}",
        synapse.log()
    );
    assert!(synapse.files().is_empty());
}

#[test]
fn the_token_of_the_synapse_config_file_is_used() {
    let synapse = FakeSynapse::start();
    std::fs::write(
        synapse.home.path().join(".synapseConfig"),
        format!("[authentication]\nauthtoken = {TOKEN}\n"),
    )
    .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let file = write_file(temp.path(), "model.bin", b"weights from a config token");
    let run = run(synapse
        .cubeship()
        .env_remove("SYNAPSE_AUTH_TOKEN")
        .args(["--json", "synapse", "upload"])
        .arg(&file)
        .args(["--parent", PROJECT]));
    run.assert_code(0);
    synapse.assert_published(&run.json());
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
}

#[test]
fn an_interrupted_multipart_upload_is_resumed_by_the_next_run() {
    let synapse = FakeSynapse::start();
    let (_temp, cube) = example_cube("brats-metrics");
    // 12 MiB of incompressible weights: additional_files.tar.gz has three parts of 5 MiB,
    // 5 MiB and the rest.
    let weights = cube.join("workspace/additional_files");
    std::fs::create_dir_all(&weights).unwrap();
    write_random_file(&weights.join("weights.bin"), 12 << 20, 7);

    // Of the full-size parts, the first gets through; the connection of the next is cut.
    synapse.admin(
        "/_fake/fault",
        json!({"method": "PUT", "path_contains": "/_storage/upload/", "min_length": 5 << 20,
               "after": 1, "action": "cut", "times": 1000}),
    );
    let publish = || {
        run(synapse
            .cubeship()
            .args(["--json", "--no-progress", "package-and-publish"])
            .arg(&cube)
            .args(["--to", "synapse:syn100"]))
    };
    let first = publish();
    first.assert_code(1);
    let log = synapse.log();
    let stored_first = FakeSynapse::part_puts(&log, 200);
    let state = synapse.get("/_fake/state");
    let upload = state["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["fileName"].as_str().unwrap().contains("additional_files"))
        .unwrap_or_else(|| panic!("no upload of additional_files: {state}"))
        .clone();
    assert_eq!(upload["state"], "UPLOADING", "{upload}");
    let upload_id = upload["uploadId"].as_str().unwrap().to_string();
    let parts_state = upload["partsState"].as_str().unwrap().to_string();
    assert_eq!(parts_state.len(), 3);
    assert_eq!(parts_state.matches('1').count(), 2, "{parts_state}");
    let missing: Vec<u32> = parts_state
        .chars()
        .enumerate()
        .filter(|(_, c)| *c == '0')
        .map(|(i, _)| i as u32 + 1)
        .collect();
    assert!(
        stored_first
            .iter()
            .filter(|(id, _)| *id == upload_id)
            .count()
            >= 2,
        "{stored_first:?}"
    );

    synapse.admin("/_fake/clear_faults", json!({}));
    let second = publish();
    second.assert_code(0);
    let report = second.json();
    synapse.assert_published(&report);
    let log_after = synapse.log();
    let sent_second: Vec<u32> = FakeSynapse::part_puts(&log_after[log.len()..], 200)
        .into_iter()
        .filter(|(id, _)| *id == upload_id)
        .map(|(_, n)| n)
        .collect();
    assert_eq!(sent_second, missing, "only the missing part is sent again");
    let state = synapse.get("/_fake/state");
    let resumed = state["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["uploadId"] == upload_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(resumed["state"], "COMPLETED", "{resumed}");
    // The entity holds exactly the packaged bytes.
    let deploy_file = cube.join("deploy/additional_files.tar.gz");
    let expected = sha256_file(&deploy_file);
    assert!(
        synapse
            .files()
            .values()
            .any(|(_, versions)| versions.last() == Some(&expected)),
        "no entity holds {expected}"
    );
}

/// The conformance suite in-process (Synapse declares that it stores no empty files, so the
/// suite leaves that scenario out).
#[tokio::test(flavor = "multi_thread")]
async fn conformance() {
    use cubeship_provider::{Destination, Settings};
    let synapse = FakeSynapse::start();
    let scratch = tempfile::tempdir().unwrap();
    let home = synapse.home.path().display().to_string();
    let env = cubeship_provider::env_from(&[("SYNAPSE_AUTH_TOKEN", TOKEN), ("HOME", &home)]);
    let endpoint = synapse.base.clone();
    let given = move |name: &str| (name == "synapse-endpoint").then(|| vec![endpoint.clone()]);
    let factory = &cubeship_synapse::FACTORY;
    let provider = factory
        .open(
            Destination::Spec("synapse:syn100"),
            &Settings::resolve(factory.options, &given, env),
        )
        .await
        .expect("the provider opens");
    cubeship_provider::conformance::check_provider(provider, scratch.path(), "conformance-e2e")
        .await;
}
