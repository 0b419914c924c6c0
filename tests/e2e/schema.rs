//! The JSON Schemas in docs/schema/ against real reports produced by the binary: manifest.json
//! and `package --json`, publish.json and `--json` of a publish to `dir:` and of a dry run, a
//! failed publish, `NAME upload`, and `verify --json`. Validated by Python's `jsonschema`
//! (draft 2020-12) through tests/tools/validate_json.py.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;

/// Asserts that `document` is valid against `docs/schema/<schema>`.
#[track_caller]
pub fn assert_valid(schema: &str, document: &serde_json::Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(root.join("tests/tools/validate_json.py"))
        .arg(root.join("docs/schema"))
        .arg(schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (pip install jsonschema: scripts/install-test-servers.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(document.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "not valid against {schema}:\n{}{}\ndocument:\n{document:#}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn manifests_match_their_schema() {
    for example in ["brats-model-deepmedic", "chestxray-tutorial-mobilenetv2"] {
        let (_temp, cube) = example_cube(example);
        let run = cubeship_run(["--json", "package", cube.to_str().unwrap()]);
        run.assert_code(0);
        assert_valid("manifest.schema.json", &run.json());
        assert_valid(
            "manifest.schema.json",
            &read_json(&cube.join("deploy/manifest.json")),
        );
    }
}

#[test]
fn publish_reports_match_their_schema() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    let dest = format!("dir:{}", temp.path().join("published").display());
    let cube_arg = cube.to_str().unwrap();

    let dry = cubeship_run([
        "--json",
        "--dry-run",
        "package-and-publish",
        cube_arg,
        "--to",
        &dest,
    ]);
    dry.assert_code(0);
    assert_eq!(statuses(&dry.json()), ["planned"; 3]);
    assert_valid("publish.schema.json", &dry.json());

    let published = cubeship_run(["--json", "package-and-publish", cube_arg, "--to", &dest]);
    published.assert_code(0);
    assert_valid("publish.schema.json", &published.json());
    assert_valid(
        "publish.schema.json",
        &read_json(&cube.join("deploy/publish.json")),
    );

    // A failed upload (other content under a fixed key) still matches.
    let fixed = ["--key-template", "{name}/{file}"];
    cubeship_run(
        ["--json", "package-and-publish", cube_arg, "--to", &dest]
            .into_iter()
            .chain(fixed),
    )
    .assert_code(0);
    std::fs::write(cube.join("workspace/parameters.yaml"), "changed: true\n").unwrap();
    let failed = cubeship_run(
        ["--json", "package-and-publish", cube_arg, "--to", &dest]
            .into_iter()
            .chain(fixed),
    );
    failed.assert_code(1);
    assert!(failed.json()["medperf_command"].is_null());
    assert_valid("publish.schema.json", &failed.json());

    // Files uploaded as they are: no mlcube, null roles.
    let file = temp.path().join("notes.txt");
    std::fs::write(&file, "hello\n").unwrap();
    let upload = cubeship_run([
        "--json",
        "dir",
        "upload",
        file.to_str().unwrap(),
        "--dir",
        temp.path().join("loose").to_str().unwrap(),
    ]);
    upload.assert_code(0);
    assert!(upload.json()["components"][0]["role"].is_null());
    assert_valid("publish.schema.json", &upload.json());

    // verify --json of the report and of one URL.
    let verify = cubeship_run([
        "--json",
        "verify",
        cube.join("deploy/publish.json").to_str().unwrap(),
    ]);
    assert_valid("verify.schema.json", &verify.json());
    let url = published.json()["components"][0]["uploads"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let one = cubeship_run(["--json", "verify", &url]);
    one.assert_code(0);
    assert_valid("verify.schema.json", &one.json());
}

#[test]
fn the_schemas_reject_what_they_should() {
    let (_temp, cube) = example_cube("brats-metrics");
    let run = cubeship_run(["--json", "package", cube.to_str().unwrap()]);
    let mut manifest = run.json();
    manifest["components"][0]["sha256"] = "not-hex".into();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(root.join("tests/tools/validate_json.py"))
        .arg(root.join("docs/schema"))
        .arg("manifest.schema.json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("components/0/sha256"));
}
