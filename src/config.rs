//! The optional configuration file, `cubeship.toml`: default destinations (`to = [...]`) and
//! provider options (`[options]`, keyed by the names the providers declare). It is the third
//! source of a provider option, below flags and the environment and above defaults
//! (`Settings::resolve_with_file`). Checked against the declarations in the registry, so it
//! names no provider: unknown keys, unknown options, wrong types, secrets and options that
//! describe one destination are refused with the file's path in the message (exit 2).
//! docs/configuration.md is the user's page.

use std::path::{Path, PathBuf};

use cubeship_provider::{EnvLookup, InputError, OptionSpec, Scope, ValueKind};

use crate::destinations::GivenOptions;
use crate::registry::FACTORIES;

/// The file's name, in the current folder and in the user configuration folder.
pub const FILE_NAME: &str = "cubeship.toml";

/// A loaded configuration file.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Where it was read from; `None` when no file was found.
    pub path: Option<PathBuf>,
    /// Default destinations, used when no `--to` is given.
    pub to: Vec<String>,
    /// Provider option values, by declared option name.
    pub options: GivenOptions,
}

/// Where the configuration file is looked for, in order: `cubeship.toml` in `cwd`, then
/// `$XDG_CONFIG_HOME/cubeship/cubeship.toml`, else `$HOME/.config/cubeship/cubeship.toml`.
pub fn candidates(cwd: &Path, env: &EnvLookup) -> Vec<PathBuf> {
    let mut paths = vec![cwd.join(FILE_NAME)];
    let config_home = env("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        });
    if let Some(dir) = config_home {
        paths.push(dir.join("cubeship").join(FILE_NAME));
    }
    paths
}

/// Loads the first configuration file found (see `candidates`); an empty `Config` when none.
pub fn discover(cwd: &Path, env: &EnvLookup) -> Result<Config, InputError> {
    for path in candidates(cwd, env) {
        if path.is_file() {
            return load(&path);
        }
    }
    Ok(Config::default())
}

/// Reads and checks one configuration file.
pub fn load(path: &Path) -> Result<Config, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(format!("cannot read {}: {e}", path.display())))?;
    let mut config = parse(&text, path)?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

/// Every option a configuration file may set: each provider's destination and upload
/// options, once per name.
fn declared() -> Vec<OptionSpec> {
    let mut specs: Vec<OptionSpec> = Vec::new();
    for factory in FACTORIES {
        for spec in factory.options.iter().chain(factory.upload_options) {
            if !specs.iter().any(|s| s.name == spec.name) {
                specs.push(*spec);
            }
        }
    }
    specs
}

/// Parses the text of a configuration file (`path` names it in messages).
pub fn parse(text: &str, path: &Path) -> Result<Config, InputError> {
    let shown = path.display();
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        InputError::new(format!("{shown}: not valid TOML: {}", e.message().trim()))
            .hint("see docs/configuration.md")
    })?;
    let mut config = Config::default();
    for (key, value) in &table {
        match key.as_str() {
            "to" => config.to = strings(value, &format!("{shown}: to"))?,
            "options" => {
                let toml::Value::Table(options) = value else {
                    return Err(InputError::new(format!(
                        "{shown}: options must be a table ([options])"
                    )));
                };
                config.options = options_of(options, path)?;
            }
            other => {
                return Err(InputError::new(format!("{shown}: unknown key {other:?}"))
                    .hint("the file takes `to = [...]` and an [options] table"));
            }
        }
    }
    Ok(config)
}

fn strings(value: &toml::Value, what: &str) -> Result<Vec<String>, InputError> {
    match value {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                toml::Value::String(s) => Ok(s.clone()),
                _ => Err(InputError::new(format!("{what}: expected strings"))
                    .hint("quote each entry, as in to = [\"dir:./published\", \"s3://bucket/models\"]")),
            })
            .collect(),
        _ => Err(InputError::new(format!(
            "{what}: expected a string or a list of strings"
        ))
        .hint("write it as to = \"dir:./published\" or to = [\"dir:./published\", \"s3://bucket/models\"]")),
    }
}

fn options_of(options: &toml::Table, path: &Path) -> Result<GivenOptions, InputError> {
    let shown = path.display();
    let specs = declared();
    let mut given = GivenOptions::default();
    for (name, value) in options {
        let Some(spec) = specs.iter().find(|s| s.name == name) else {
            let known = specs
                .iter()
                .filter(|s| !s.secret)
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(
                InputError::new(format!("{shown}: unknown option {name:?} in [options]")).hint(
                    format!("options are named as their flags without --: {known}"),
                ),
            );
        };
        if spec.secret {
            return Err(InputError::new(format!(
                "{shown}: {name} is a secret and is not read from files"
            ))
            .hint(format!(
                "put {} in the environment",
                spec.env.first().copied().unwrap_or(spec.name)
            )));
        }
        if spec.scope == Scope::OneDestination {
            return Err(InputError::new(format!(
                "{shown}: {name} describes one destination and cannot be a default"
            ))
            .hint(format!("give --{name} on the command line")));
        }
        let what = format!("{shown}: {name}");
        let values = match (spec.kind, value) {
            (ValueKind::Switch, toml::Value::Boolean(on)) => {
                if *on {
                    vec!["true".to_string()]
                } else {
                    continue;
                }
            }
            (ValueKind::Switch, _) => {
                return Err(InputError::new(format!("{what}: expected true or false")));
            }
            (ValueKind::Many { .. }, value) => strings(value, &what)?,
            (_, toml::Value::String(s)) => vec![s.clone()],
            (_, toml::Value::Integer(i)) => vec![i.to_string()],
            (_, toml::Value::Float(f)) => vec![f.to_string()],
            (_, _) => return Err(InputError::new(format!("{what}: expected a string"))),
        };
        if let ValueKind::Choice { choices } = spec.kind
            && !choices.iter().any(|(c, _)| values.iter().all(|v| v == c))
        {
            return Err(InputError::new(format!(
                "{what}: {:?} is not one of {}",
                values.join(" "),
                choices
                    .iter()
                    .map(|(c, _)| *c)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        given.set(name, values);
    }
    Ok(given)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn parse_ok(text: &str) -> Config {
        parse(text, Path::new("cubeship.toml")).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("cubeship.toml"))
            .unwrap_err()
            .to_string()
    }

    /// Any declared option of each kind, found through the registry (no provider named here).
    fn spec_where(pred: impl Fn(&OptionSpec) -> bool) -> OptionSpec {
        declared()
            .into_iter()
            .find(|s| pred(s))
            .expect("some provider declares such an option")
    }

    #[test]
    fn destinations_and_options_are_read() {
        let text_option = spec_where(|s| {
            matches!(s.kind, ValueKind::Text { .. })
                && !s.env_only
                && s.scope == Scope::Shared
                && !s.secret
        });
        let config = parse_ok(&format!(
            "to = [\"dir:./a\", \"dir:./b\"]\n[options]\n{} = \"x1\"\n",
            text_option.name
        ));
        assert_eq!(config.to, ["dir:./a", "dir:./b"]);
        assert_eq!(
            config.options.get(text_option.name),
            Some(vec!["x1".into()])
        );
        assert_eq!(parse_ok("to = \"dir:./one\"").to, ["dir:./one"]);
    }

    #[test]
    fn bad_files_name_the_file_and_the_key() {
        assert!(parse_err("to = [").contains("cubeship.toml: not valid TOML"));
        assert!(parse_err("destinations = []").contains("unknown key \"destinations\""));
        assert!(parse_err("[options]\nno-such-option = 1").contains("no-such-option"));
        assert!(parse_err("to = 3").contains("to: expected"));
        let secret = spec_where(|s| s.secret);
        let message = parse_err(&format!("[options]\n{} = \"abc\"", secret.name));
        assert!(message.contains("is a secret"), "{message}");
        assert!(!message.contains("abc"), "the secret is never echoed");
        let one = spec_where(|s| s.scope == Scope::OneDestination);
        assert!(
            parse_err(&format!("[options]\n{} = \"https://x\"", one.name))
                .contains("describes one destination")
        );
        let switch = spec_where(|s| s.kind == ValueKind::Switch);
        assert!(
            parse_err(&format!("[options]\n{} = \"yes\"", switch.name))
                .contains("expected true or false")
        );
        assert_eq!(
            parse_ok(&format!("[options]\n{} = true", switch.name))
                .options
                .get(switch.name),
            Some(vec!["true".into()])
        );
    }

    #[test]
    fn the_current_folder_comes_before_the_user_folder() {
        let env: EnvLookup = Arc::new(|name| match name {
            "XDG_CONFIG_HOME" => Some("/xdg".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        });
        assert_eq!(
            candidates(Path::new("/work"), &env),
            [
                PathBuf::from("/work/cubeship.toml"),
                PathBuf::from("/xdg/cubeship/cubeship.toml")
            ]
        );
        let env: EnvLookup = Arc::new(|name| (name == "HOME").then(|| "/home/u".into()));
        assert_eq!(
            candidates(Path::new("/work"), &env)[1],
            PathBuf::from("/home/u/.config/cubeship/cubeship.toml")
        );
    }
}
