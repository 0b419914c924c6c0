//! The command line's own help: `--help` snapshots (tests/e2e/snapshots/, regenerated with
//! `UPDATE_SNAPSHOTS=1`), examples on every subcommand, completions for every shell clap_complete
//! knows, the man page, and no ANSI escape codes on stderr when it is not a terminal.

use std::path::PathBuf;

use crate::support::*;

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/snapshots")
        .join(name)
}

/// `cubeship ARGS…` at a fixed width, so the wrapping of help does not depend on the terminal.
fn help_of(args: &[&str]) -> Run {
    let mut command = cubeship();
    command.env("COLUMNS", "100").env_remove("CLICOLOR_FORCE");
    run(command.args(args))
}

/// Compares `actual` with the snapshot `name`, or rewrites it with `UPDATE_SNAPSHOTS=1`.
#[track_caller]
fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_path(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); run with UPDATE_SNAPSHOTS=1 to write it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the output (UPDATE_SNAPSHOTS=1 rewrites it):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn top_level_help_matches_its_snapshot() {
    let run = help_of(&["--help"]);
    run.assert_code(0);
    assert_snapshot("help-top.txt", &run.stdout);
}

#[test]
fn verify_help_matches_its_snapshot() {
    let run = help_of(&["verify", "--help"]);
    run.assert_code(0);
    assert_snapshot("help-verify.txt", &run.stdout);
}

#[test]
fn fish_completions_match_their_snapshot() {
    let run = cubeship_run(["completions", "fish"]);
    run.assert_code(0);
    assert_snapshot("completions.fish", &run.stdout);
}

#[test]
fn every_subcommand_has_examples_that_name_itself() {
    let mut subcommands = vec![
        vec!["package"],
        vec!["publish"],
        vec!["package-and-publish"],
        vec!["verify"],
        vec!["completions"],
        vec!["man"],
    ];
    for factory in cubeship::registry::FACTORIES {
        subcommands.push(vec![factory.name, "upload"]);
    }
    for sub in subcommands {
        let mut args = sub.clone();
        args.push("--help");
        let run = help_of(&args);
        run.assert_code(0);
        let examples = run
            .stdout
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{sub:?} --help has no examples:\n{}", run.stdout));
        let lines: Vec<&str> = examples
            .lines()
            .take_while(|l| l.starts_with("  cubeship "))
            .collect();
        assert!(
            lines.len() >= 2,
            "{sub:?}: fewer than 2 examples:\n{}",
            run.stdout
        );
        let prefix = format!("  cubeship {}", sub.join(" "));
        for line in lines {
            assert!(line.starts_with(&prefix), "{sub:?}: {line}");
        }
    }
    // Generated from the declarations: the dir provider's required --dir is in its examples.
    let run = help_of(&["dir", "upload", "--help"]);
    assert!(
        run.stdout
            .contains("  cubeship dir upload weights.tar.gz --dir PATH\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = cubeship_run(["completions", shell]);
        run.assert_code(0);
        for word in ["package-and-publish", "verify", "key-template", "json"] {
            assert!(run.stdout.contains(word), "{shell} completions lack {word}");
        }
        assert!(
            !run.stdout.contains("\nman"),
            "{shell}: hidden man is completed"
        );
    }
}

#[test]
fn man_pages_are_generated_from_the_command_line() {
    let run = cubeship_run(["man"]);
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(".ie"),
        "{}",
        &run.stdout[..80.min(run.stdout.len())]
    );
    assert!(run.stdout.contains(".TH cubeship 1"), "no title header");
    assert!(
        run.stdout.contains("package\\-and\\-publish"),
        "subcommands listed"
    );

    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("man1");
    cubeship_run(["man", "--dir", dir.to_str().unwrap()]).assert_code(0);
    for page in [
        "cubeship.1",
        "cubeship-verify.1",
        "cubeship-package-and-publish.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let verify = std::fs::read_to_string(dir.join("cubeship-verify.1")).unwrap();
    assert!(verify.contains("sha256"), "options are documented");
}

#[test]
fn no_ansi_escape_codes_on_stderr_when_it_is_not_a_terminal() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    let dest = format!("dir:{}", temp.path().join("published").display());
    let runs = [
        // A clap usage error, a bad-input error, a run with warnings/progress, a failed check.
        cubeship_run(["package-and-publish", "--nope"]),
        cubeship_run(["publish", "/nonexistent/deploy", "--to", &dest]),
        cubeship_run([
            "-v",
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            &dest,
        ]),
        cubeship_run([
            "verify",
            "file:///nonexistent/x",
            "--sha256",
            &"0".repeat(64),
        ]),
    ];
    for run in &runs {
        assert!(
            !run.stderr.contains('\u{1b}'),
            "escape codes on stderr:\n{:?}",
            run.stderr
        );
        assert!(!run.stdout.contains('\u{1b}'), "escape codes on stdout");
    }
    assert_eq!(runs[0].code, 2);
    assert_eq!(runs[1].code, 2);
    assert_eq!(runs[2].code, 0, "{}", runs[2].stderr);
    assert_eq!(runs[3].code, 1);
}
