//! Help that is not an option's line: examples at the end of every subcommand's `--help`
//! (provider `NAME upload` examples generated from the providers' declarations), the man
//! pages (`cubeship man`, hidden, from the same clap definition), and the completion scripts.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Command};
use cubeship_provider::{OptionSpec, ProviderFactory, ValueKind};

/// Examples shown after each fixed subcommand's help.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "package",
        "Examples:
  cubeship package ./my-model
  cubeship package ./my-model --type model --output my-model.tar.gz
  cubeship package ./my-model --deploy-dir /tmp/deploy --json",
    ),
    (
        "publish",
        "Examples:
  cubeship publish ./my-model/deploy --to dir:./published
  cubeship publish ./my-model/deploy --to s3://my-bucket/medperf --region eu-west-1
  cubeship publish ./my-model/deploy --to gs://my-bucket/medperf --to github://me/models/v1 --json",
    ),
    (
        "package-and-publish",
        "Examples:
  cubeship package-and-publish ./my-model --to dir:./published
  cubeship package-and-publish ./my-model --to s3://my-bucket/medperf --dry-run
  cubeship package-and-publish ./my-model --to github://me/models/v1 --create-release --hash sha1",
    ),
    (
        "verify",
        "Examples:
  cubeship verify ./my-model/deploy/publish.json
  cubeship verify https://example.org/weights.tar.gz --sha256 \"$(sha256sum weights.tar.gz | cut -d' ' -f1)\"
  cubeship verify 'https://www.dropbox.com/scl/fi/abc/weights.tar.gz?rlkey=k&dl=0'",
    ),
    (
        "completions",
        "Examples:
  cubeship completions bash > ~/.local/share/bash-completion/completions/cubeship
  cubeship completions zsh > ~/.zfunc/_cubeship
  cubeship completions fish > ~/.config/fish/completions/cubeship.fish",
    ),
    (
        "man",
        "Examples:
  cubeship man > cubeship.1 && man ./cubeship.1
  cubeship man --dir /usr/local/share/man/man1",
    ),
];

/// Examples of the whole tool, in front of the top-level help's exit codes.
const TOP_EXAMPLES: &str = "Examples:
  cubeship package-and-publish ./my-model --to dir:./published
  cubeship package-and-publish ./my-model --to s3://my-bucket/medperf --json > report.json
  cubeship verify ./my-model/deploy/publish.json";

/// Adds the examples to the top level and to the fixed subcommands that `command` has, in front of any longer
/// text that `--help` shows instead of `-h`'s (the environment variables of publishing).
pub fn with_examples(mut command: Command) -> Command {
    let top = command.get_after_help().map(|text| text.to_string());
    command = command.after_help(match top {
        Some(top) => format!("{TOP_EXAMPLES}\n\n{top}"),
        None => TOP_EXAMPLES.to_string(),
    });
    for (name, examples) in EXAMPLES {
        if command.find_subcommand(name).is_some() {
            command = command.mut_subcommand(*name, |sub| {
                let long = sub.get_after_long_help().map(|text| text.to_string());
                let sub = sub.after_help(*examples);
                match long {
                    Some(long) => sub.after_long_help(format!("{examples}\n\n{long}")),
                    None => sub,
                }
            });
        }
    }
    command
}

/// A placeholder value for `spec` in a generated example.
fn example_value(spec: &OptionSpec) -> Option<String> {
    match spec.kind {
        ValueKind::Switch => None,
        ValueKind::Text { value_name } | ValueKind::Many { value_name } => {
            Some(value_name.to_string())
        }
        ValueKind::Choice { choices } => choices.first().map(|(v, _)| v.to_string()),
    }
}

/// Examples of `cubeship NAME upload`, generated from the provider's declared upload options:
/// the required ones (no default) in every example, the optional ones in the last.
pub fn upload_examples(factory: &ProviderFactory) -> String {
    let flags = |specs: &mut dyn Iterator<Item = &OptionSpec>| {
        specs
            .filter(|s| !s.env_only)
            .map(|s| match example_value(s) {
                Some(value) => format!(" --{} {value}", s.name),
                None => format!(" --{}", s.name),
            })
            .collect::<String>()
    };
    let required = flags(
        &mut factory
            .upload_options
            .iter()
            .filter(|s| s.default.is_none()),
    );
    let optional = flags(
        &mut factory
            .upload_options
            .iter()
            .filter(|s| s.default.is_some()),
    );
    let name = factory.name;
    let mut lines = vec![
        "Examples:".to_string(),
        format!("  cubeship {name} upload weights.tar.gz{required}"),
        format!("  cubeship {name} upload mlcube.yaml parameters.yaml{required} --json"),
    ];
    if !optional.is_empty() {
        lines.push(format!(
            "  cubeship {name} upload weights.tar.gz{required}{optional} --dry-run"
        ));
    }
    lines.join("\n")
}

/// The hidden `cubeship man [--dir DIR]` subcommand.
pub fn man_subcommand() -> Command {
    Command::new("man")
        .about("Print the man page (roff), or write one page per subcommand into a folder")
        .hide(true)
        .arg(
            Arg::new("dir")
                .long("dir")
                .value_name("DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Write cubeship.1 and cubeship-SUBCOMMAND.1 pages into DIR"),
        )
}

/// Runs `cubeship man`: roff on stdout, or pages into `--dir`.
pub fn man(command: Command, matches: &ArgMatches) -> anyhow::Result<()> {
    let command = command.mut_subcommand("man", |m| m.hide(true));
    match matches.get_one::<PathBuf>("dir") {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(command, dir).map_err(|e| {
                anyhow::anyhow!("cannot write man pages into {}: {e}", dir.display())
            })?;
        }
        None => {
            clap_mangen::Man::new(command).render(&mut std::io::stdout().lock())?;
        }
    }
    Ok(())
}
