//! `cubeship config show`: the configuration file found, the default destinations, and every
//! provider option as it resolves now (flag > environment > cubeship.toml > default), secrets
//! redacted. Built from the providers' declarations.

use clap::{ArgMatches, Command};
use cubeship::config::{self, Config};
use cubeship::registry::FACTORIES;
use cubeship_provider::{EnvLookup, InputError, Origin, Settings, ValueKind, process_env};

/// What a redacted secret shows.
const REDACTED: &str = "<redacted>";

/// The `cubeship config` subcommand and its `show`.
pub fn subcommand() -> Command {
    Command::new("config")
        .about("Show the configuration: cubeship.toml, default destinations, provider options")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("show")
                .about("Print every provider option as it resolves now, secrets redacted")
                .after_help(
                    "Precedence: flags > environment > cubeship.toml > defaults. The file is \
                     ./cubeship.toml, else $XDG_CONFIG_HOME/cubeship/cubeship.toml (or \
                     ~/.config/cubeship/cubeship.toml); see docs/configuration.md.\n\n\
                     Examples:\n  cubeship config show\n  cubeship config show --json",
                ),
        )
}

/// The configuration file of this run (the current folder, then the user folder).
pub fn load() -> Result<Config, InputError> {
    let cwd = std::env::current_dir()
        .map_err(|e| InputError::new(format!("cannot read the current folder: {e}")))?;
    config::discover(&cwd, &process_env())
}

#[derive(serde::Serialize)]
struct ShownOption {
    name: &'static str,
    /// `--flag`, or the variable of an env-only option.
    set_by: String,
    value: Option<serde_json::Value>,
    /// `flag`, `env:VAR`, `file`, `default`, or null when unset.
    origin: Option<String>,
    secret: bool,
}

#[derive(serde::Serialize)]
struct ShownProvider {
    name: &'static str,
    destination: &'static str,
    options: Vec<ShownOption>,
}

#[derive(serde::Serialize)]
struct Shown {
    file: Option<String>,
    looked_in: Vec<String>,
    to: Vec<String>,
    providers: Vec<ShownProvider>,
}

fn origin_name(origin: &Origin) -> String {
    match origin {
        Origin::Flag(_) => "flag".into(),
        Origin::Env(var) => format!("env:{var}"),
        Origin::File(_) => "file".into(),
        Origin::Default => "default".into(),
    }
}

fn resolve(config: &Config, env: EnvLookup) -> Vec<ShownProvider> {
    FACTORIES
        .iter()
        .map(|factory| {
            let specs: Vec<_> = factory
                .options
                .iter()
                .chain(factory.upload_options)
                .copied()
                .collect();
            let settings = Settings::resolve_with_file(&specs, &|_| None, env.clone(), &|name| {
                config.options.get(name)
            });
            let options = specs
                .iter()
                .map(|spec| {
                    let origin = settings.origin(spec.name);
                    let value = origin.map(|_| {
                        if spec.secret {
                            serde_json::Value::from(REDACTED)
                        } else {
                            match spec.kind {
                                ValueKind::Switch => settings.switch(spec.name).into(),
                                ValueKind::Many { .. } => settings.many(spec.name).to_vec().into(),
                                _ => settings.text(spec.name).unwrap_or_default().into(),
                            }
                        }
                    });
                    ShownOption {
                        name: spec.name,
                        set_by: spec.display_name(),
                        value,
                        origin: origin.map(origin_name),
                        secret: spec.secret,
                    }
                })
                .collect();
            ShownProvider {
                name: factory.name,
                destination: factory.destination_syntax,
                options,
            }
        })
        .collect()
}

/// Runs `cubeship config show`.
pub fn run(matches: &ArgMatches, json: bool) -> anyhow::Result<()> {
    let Some(("show", _)) = matches.subcommand() else {
        unreachable!("clap requires a config subcommand");
    };
    let config = load()?;
    let cwd = std::env::current_dir()?;
    let env = process_env();
    let shown = Shown {
        file: config.path.as_ref().map(|p| p.display().to_string()),
        looked_in: config::candidates(&cwd, &env)
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        to: config.to.clone(),
        providers: resolve(&config, env),
    };
    if json {
        return super::render::print_json(&shown);
    }
    match &shown.file {
        Some(file) => println!("Configuration file: {file}"),
        None => println!(
            "Configuration file: none (looked in {})",
            shown.looked_in.join(", ")
        ),
    }
    if shown.to.is_empty() {
        println!("Default destinations: none (give --to)");
    } else {
        println!("Default destinations: {}", shown.to.join(" "));
    }
    for provider in &shown.providers {
        if provider.options.is_empty() {
            continue;
        }
        println!();
        println!("{} ({})", provider.destination, provider.name);
        for option in &provider.options {
            let value = match &option.value {
                None => "-".to_string(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            let origin = option.origin.as_deref().unwrap_or("not set");
            println!("  {:<28} {:<30} ({origin})", option.set_by, value);
        }
    }
    Ok(())
}
