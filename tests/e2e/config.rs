//! cubeship.toml through the binary: default destinations, provider options with the
//! precedence flags > environment > file > defaults, the user config folder, `config show`
//! with secrets redacted, and bad files refused with exit 2 naming the file.

use std::path::Path;

use crate::support::*;

/// `cubeship ARGS…` run in `cwd`, with `xdg` as the user config folder and extra `env`.
fn in_folder(cwd: &Path, xdg: Option<&Path>, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = cubeship();
    command.current_dir(cwd);
    if let Some(xdg) = xdg {
        command.env("XDG_CONFIG_HOME", xdg);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    run(command.args(args))
}

fn option<'a>(shown: &'a serde_json::Value, provider: &str, name: &str) -> &'a serde_json::Value {
    shown["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == provider)
        .unwrap_or_else(|| panic!("no provider {provider}"))["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no option {name}"))
}

#[test]
fn default_destinations_come_from_the_current_folder() {
    let (temp, cube) = example_cube("brats-metrics");
    std::fs::write(
        temp.path().join("cubeship.toml"),
        "to = [\"dir:./published\"]\n",
    )
    .unwrap();
    let run = in_folder(
        temp.path(),
        None,
        &[],
        &["--json", "package-and-publish", cube.to_str().unwrap()],
    );
    run.assert_code(0);
    assert_eq!(statuses(&run.json()), ["uploaded", "uploaded"]);
    assert!(temp.path().join("published/brats-metrics").is_dir());

    // --to wins over the file.
    let run = in_folder(
        temp.path(),
        None,
        &[],
        &[
            "--json",
            "package-and-publish",
            cube.to_str().unwrap(),
            "--to",
            "dir:./elsewhere",
        ],
    );
    run.assert_code(0);
    assert!(temp.path().join("elsewhere/brats-metrics").is_dir());

    // With neither: a usage error that names both ways.
    let empty = tempfile::tempdir().unwrap();
    let run = in_folder(
        empty.path(),
        None,
        &[],
        &["package-and-publish", cube.to_str().unwrap()],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("--to"), "{}", run.stderr);
    assert!(run.stderr.contains("cubeship.toml"), "{}", run.stderr);
}

#[test]
fn options_flag_over_file_and_the_user_folder_is_read() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("notes.txt");
    std::fs::write(&file, "hello\n").unwrap();
    // In the user config folder, not in the current one.
    let xdg = temp.path().join("xdg");
    std::fs::create_dir_all(xdg.join("cubeship")).unwrap();
    std::fs::write(
        xdg.join("cubeship/cubeship.toml"),
        "[options]\ndir = \"from-file\"\n",
    )
    .unwrap();
    let cwd = temp.path().join("work");
    std::fs::create_dir_all(&cwd).unwrap();
    let run = in_folder(
        &cwd,
        Some(&xdg),
        &[],
        &["--json", "dir", "upload", file.to_str().unwrap()],
    );
    run.assert_code(0);
    assert!(cwd.join("from-file/notes.txt").is_file());
    let run = in_folder(
        &cwd,
        Some(&xdg),
        &[],
        &[
            "dir",
            "upload",
            file.to_str().unwrap(),
            "--dir",
            "from-flag",
        ],
    );
    run.assert_code(0);
    assert!(cwd.join("from-flag/notes.txt").is_file());
}

#[test]
fn config_show_resolves_env_over_file_over_default_and_redacts_secrets() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(
        temp.path().join("cubeship.toml"),
        "to = [\"s3://my-bucket/medperf\"]\n[options]\nregion = \"eu-west-1\"\nendpoint-url = \"http://127.0.0.1:9000\"\n",
    )
    .unwrap();
    let secret = "AKIA-very-secret-value";
    let run = in_folder(
        temp.path(),
        None,
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9999"),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("GITHUB_TOKEN", secret),
        ],
        &["--json", "config", "show"],
    );
    run.assert_code(0);
    let shown = run.json();
    assert!(shown["file"].as_str().unwrap().ends_with("cubeship.toml"));
    assert_eq!(shown["to"][0], "s3://my-bucket/medperf");
    let region = option(&shown, "s3", "region");
    assert_eq!(region["value"], "eu-west-1");
    assert_eq!(region["origin"], "file");
    let endpoint = option(&shown, "s3", "endpoint-url");
    assert_eq!(
        endpoint["value"], "http://127.0.0.1:9999",
        "env beats the file"
    );
    assert_eq!(endpoint["origin"], "env:AWS_ENDPOINT_URL");
    assert!(!run.stdout.contains(secret), "a secret was printed");
    assert!(run.stdout.contains("<redacted>"));
    let human = in_folder(
        temp.path(),
        None,
        &[("GITHUB_TOKEN", secret)],
        &["config", "show"],
    );
    human.assert_code(0);
    assert!(!human.stdout.contains(secret));
    assert!(human.stdout.contains("eu-west-1"), "{}", human.stdout);
    assert!(human.stdout.contains("(file)"), "{}", human.stdout);
}

#[test]
fn bad_files_are_refused_naming_the_file() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("cubeship.toml");
    for (text, needle) in [
        ("to = [", "not valid TOML"),
        ("[options]\nno-such = 1\n", "no-such"),
        ("[options]\ntoken = \"ghp_x\"\n", "in the environment"),
        ("colour = true\n", "unknown key"),
    ] {
        std::fs::write(&path, text).unwrap();
        let run = in_folder(temp.path(), None, &[], &["config", "show"]);
        run.assert_code(2);
        assert!(run.stderr.contains("cubeship.toml"), "{}", run.stderr);
        assert!(run.stderr.contains(needle), "{text}: {}", run.stderr);
        assert!(!run.stderr.contains("ghp_x"), "secret echoed");
    }
}
