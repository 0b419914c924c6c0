//! `-q`: only errors (stderr) and the final URLs (stdout, one per line) for scripts.

use crate::support::*;

#[test]
fn quiet_prints_only_the_urls_and_errors() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    let dest = format!("dir:{}", temp.path().join("published").display());
    let run = cubeship_run([
        "-q",
        "package-and-publish",
        cube.to_str().unwrap(),
        "--to",
        &dest,
    ]);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(
        lines.iter().all(|l| l.starts_with("file://")),
        "{}",
        run.stdout
    );
    assert!(lines[2].ends_with("additional_files.tar.gz"));
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    // A failed check prints one line; a bad input only its error on stderr.
    let failed = cubeship_run(["-q", "verify", lines[0], "--sha256", &"0".repeat(64)]);
    failed.assert_code(1);
    assert_eq!(failed.stdout.lines().count(), 1, "{}", failed.stdout);
    assert!(failed.stdout.starts_with("FAILED "), "{}", failed.stdout);
    let bad = cubeship_run(["-q", "publish", "/nonexistent/deploy", "--to", &dest]);
    bad.assert_code(2);
    assert!(bad.stdout.is_empty());
    assert!(bad.stderr.contains("manifest.json"), "{}", bad.stderr);
}
