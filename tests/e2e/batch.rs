//! Batch publishing through the binary: several MLCubes in one `package-and-publish` to a
//! `dir:` destination, one of them broken; one combined report (validated against
//! docs/schema/batch.schema.json), the others published and verified, exit 1; a dry run;
//! per-cube `--output`; every cube broken is exit 2.

use std::path::{Path, PathBuf};

use crate::schema::assert_valid;
use crate::support::*;

/// Two good cubes and a broken one (a manifest that is not YAML) between them.
fn three_cubes() -> (tempfile::TempDir, Vec<PathBuf>) {
    let temp = tempfile::tempdir().unwrap();
    let fixtures = fixtures_dir().join("medperf-examples");
    let good_a = temp.path().join("brats-metrics");
    copy_tree(&fixtures.join("brats-metrics"), &good_a);
    let broken = temp.path().join("broken-cube");
    copy_tree(&fixtures.join("brats-metrics"), &broken);
    std::fs::write(broken.join("mlcube.yaml"), "name: [unclosed\n  - :\n").unwrap();
    let good_b = temp.path().join("chestxray-tutorial-mobilenetv2");
    copy_tree(&fixtures.join("chestxray-tutorial-mobilenetv2"), &good_b);
    (temp, vec![good_a, broken, good_b])
}

fn batch(cubes: &[PathBuf], dest: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--json".to_string(), "package-and-publish".to_string()];
    args.extend(cubes.iter().map(|c| c.display().to_string()));
    args.push("--to".into());
    args.push(format!("dir:{}", dest.display()));
    args.extend(extra.iter().map(|s| s.to_string()));
    cubeship_run(args)
}

#[test]
fn one_broken_cube_does_not_stop_the_others() {
    let (temp, cubes) = three_cubes();
    let dest = temp.path().join("published");
    let run = batch(&cubes, &dest, &[]);
    run.assert_code(1);
    let report = run.json();
    assert_valid("batch.schema.json", &report);
    assert_eq!(report["all_published"], false);
    let entries = report["mlcubes"].as_array().unwrap();
    assert_eq!(entries.len(), 3);

    for index in [0, 2] {
        let entry = &entries[index];
        assert_eq!(entry["published"], true, "{entry}");
        assert!(entry["error"].is_null());
        let command = entry["medperf_command"].as_str().unwrap();
        assert!(command.starts_with("medperf "), "{command}");
        assert_eq!(entry["report"]["medperf_command"], command);
        for (url, sha256) in published_urls(&entry["report"]) {
            let path = url.strip_prefix("file://").expect("a dir: URL");
            assert_eq!(sha256_file(Path::new(path)), sha256, "{url}");
        }
        // Each cube's own publish.json is written as in a single run.
        assert!(cubes[index].join("deploy/publish.json").is_file());
    }
    assert!(
        entries[0]["medperf_command"]
            .as_str()
            .unwrap()
            .starts_with("medperf mlcube submit --name brats-metrics")
    );
    assert!(
        entries[2]["medperf_command"]
            .as_str()
            .unwrap()
            .starts_with("medperf container submit --name chestxray-tutorial-mobilenetv2")
    );

    let broken = &entries[1];
    assert_eq!(broken["published"], false);
    assert!(broken["report"].is_null());
    let error = broken["error"].as_str().unwrap();
    assert!(error.contains("mlcube.yaml"), "{error}");
    assert!(!cubes[1].join("deploy").exists());

    // The human form ends with one line per cube.
    let mut args = vec!["package-and-publish".to_string()];
    args.extend(cubes.iter().map(|c| c.display().to_string()));
    args.extend(["--to".to_string(), format!("dir:{}", dest.display())]);
    let human = cubeship_run(args);
    human.assert_code(1);
    assert!(
        human.stdout.contains("2 of 3 MLCubes published:"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("FAILED  "), "{}", human.stdout);
    assert_eq!(human.stdout.matches("Register with MedPerf:").count(), 2);
}

#[test]
fn a_batch_dry_run_and_per_cube_outputs() {
    let (temp, mut cubes) = three_cubes();
    cubes.remove(1);
    let dest = temp.path().join("published");
    let dry = batch(&cubes, &dest, &["--dry-run"]);
    dry.assert_code(0);
    let report = dry.json();
    assert_valid("batch.schema.json", &report);
    assert_eq!(report["all_published"], true);
    for entry in report["mlcubes"].as_array().unwrap() {
        assert!(
            statuses(&entry["report"]).iter().all(|s| s == "planned"),
            "{entry}"
        );
    }
    assert!(!dest.exists(), "the dry run created the destination");
    assert!(!cubes[0].join("deploy").exists());

    let dist = temp.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let output = format!("{}/{{name}}.tar.gz", dist.display());
    let run = batch(&cubes, &dest, &["--output", &output]);
    run.assert_code(0);
    assert_eq!(run.json()["all_published"], true);
    assert!(dist.join("brats-metrics.tar.gz").is_file());
    assert!(dist.join("chestxray-tutorial-mobilenetv2.tar.gz").is_file());

    // A path shared by every cube is refused before anything runs.
    assert_usage_error(
        [
            "package-and-publish",
            cubes[0].to_str().unwrap(),
            cubes[1].to_str().unwrap(),
            "--to",
            &format!("dir:{}", dest.display()),
            "--output",
            "all.tar.gz",
        ],
        "{name}",
    );
}

#[test]
fn a_batch_of_broken_cubes_is_a_usage_error() {
    let temp = tempfile::tempdir().unwrap();
    let a = temp.path().join("a");
    let b = temp.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let run = batch(&[a, b], &temp.path().join("published"), &[]);
    run.assert_code(2);
    let report = run.json();
    assert_valid("batch.schema.json", &report);
    assert!(
        report["mlcubes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["error"].is_string())
    );
}
