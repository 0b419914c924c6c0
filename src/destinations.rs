//! Destinations: turns `--to` values and the provider options the user gave into configured
//! providers through the registry, after checking that every option given applies to a
//! destination given, and that options describing one destination serve only one.

use std::collections::BTreeMap;
use std::sync::Arc;

use cubeship_provider::{
    Destination, EnvLookup, InputError, OptionSpec, Provider, ProviderFactory, RetryPolicy, Scope,
    Settings,
};

use crate::registry::FACTORIES;

/// A configured destination.
#[derive(Clone)]
pub struct Target {
    /// As the user wrote it, without secrets: shown in reports.
    pub spec: String,
    /// The configured provider.
    pub provider: Arc<dyn Provider>,
}

/// Provider option values as the user gave them on the command line, by option name (the
/// environment and defaults are applied when a provider is opened).
#[derive(Clone, Debug, Default)]
pub struct GivenOptions {
    values: BTreeMap<String, Vec<String>>,
}

impl GivenOptions {
    /// Records the values given for the option `name`.
    pub fn set(&mut self, name: &str, values: Vec<String>) {
        self.values.insert(name.to_string(), values);
    }

    /// The values given for `name`, if it was given.
    pub fn get(&self, name: &str) -> Option<Vec<String>> {
        self.values.get(name).cloned()
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// What opening destinations needs besides the `--to` values.
#[derive(Clone)]
pub struct OpenOptions {
    /// Option values from the command line.
    pub given: GivenOptions,
    /// The environment providers read their variables from.
    pub env: EnvLookup,
    /// Option values from the configuration file (below the environment; `crate::config`).
    pub file: GivenOptions,
    /// The retry policy every provider uses.
    pub retry: RetryPolicy,
}

/// The factory whose destinations `spec` names.
pub fn factory_for(spec: &str) -> Option<&'static ProviderFactory> {
    FACTORIES.iter().copied().find(|f| f.accepts(spec))
}

/// The registered factory called `name`.
pub fn factory_named(name: &str) -> Option<&'static ProviderFactory> {
    FACTORIES.iter().copied().find(|f| f.name == name)
}

/// Every option any destination may take, once per name (options that several providers
/// share, like `--public-url-base`, appear once), with the providers that declare it.
pub fn destination_options() -> Vec<(OptionSpec, Vec<&'static ProviderFactory>)> {
    let mut options: Vec<(OptionSpec, Vec<&'static ProviderFactory>)> = Vec::new();
    for factory in FACTORIES {
        for spec in factory.options {
            match options.iter_mut().find(|(o, _)| o.name == spec.name) {
                Some((_, owners)) => owners.push(*factory),
                None => options.push((*spec, vec![*factory])),
            }
        }
    }
    options
}

fn settings(specs: &[OptionSpec], options: &OpenOptions) -> Settings {
    Settings::resolve_with_file(
        specs,
        &|name| options.given.get(name),
        options.env.clone(),
        &|name| options.file.get(name),
    )
    .with_retry(options.retry)
}

fn syntaxes() -> String {
    FACTORIES
        .iter()
        .map(|f| f.destination_syntax)
        .collect::<Vec<_>>()
        .join(", ")
}

fn names(factories: &[&ProviderFactory]) -> String {
    factories
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds every `--to` destination; all are checked before any is used.
pub async fn open_all(specs: &[String], options: &OpenOptions) -> Result<Vec<Target>, InputError> {
    let mut chosen = Vec::new();
    for spec in specs {
        let factory = factory_for(spec).ok_or_else(|| {
            InputError::new(format!("--to {spec}: unknown destination"))
                .hint(format!("use {}", syntaxes()))
        })?;
        chosen.push((spec, factory));
    }
    let declared = destination_options();
    for name in options.given.names() {
        let Some((option, owners)) = declared.iter().find(|(o, _)| o.name == name) else {
            continue;
        };
        let served: Vec<&String> = chosen
            .iter()
            .filter(|(_, f)| owners.iter().any(|o| o.name == f.name))
            .map(|(spec, _)| *spec)
            .collect();
        if served.is_empty() {
            let to = specs.join(", ");
            return Err(
                InputError::new(format!("--{} does not apply to --to {to}", option.name)).hint(
                    format!(
                        "it serves {} destinations ({})",
                        names(owners),
                        owners
                            .iter()
                            .map(|f| f.destination_syntax)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            );
        }
        if option.scope == Scope::OneDestination && served.len() > 1 {
            return Err(InputError::new(format!(
                "--{} applies to one destination, but {} --to it serves were given",
                option.name,
                served.len()
            ))
            .hint(format!(
                "publish to each destination in its own run, each with its own --{}",
                option.name
            )));
        }
    }
    let mut targets = Vec::new();
    for (spec, factory) in chosen {
        let settings = settings(factory.options, options);
        let provider = factory.open(Destination::Spec(spec), &settings).await?;
        targets.push(Target {
            spec: provider.describe(),
            provider,
        });
    }
    Ok(targets)
}

/// Builds the destination of `cubeship NAME upload` for `files` files.
pub async fn open_upload(
    factory: &ProviderFactory,
    files: usize,
    options: &OpenOptions,
) -> Result<Target, InputError> {
    let specs: Vec<OptionSpec> = factory
        .options
        .iter()
        .chain(factory.upload_options)
        .copied()
        .collect();
    let settings = settings(&specs, options);
    let provider = factory
        .open(Destination::Upload { files }, &settings)
        .await?;
    Ok(Target {
        spec: provider.describe(),
        provider,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_declared_consistently_and_documented_on_its_providers_page() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (option, owners) in destination_options() {
            for owner in &owners {
                let same = owner
                    .options
                    .iter()
                    .find(|o| o.name == option.name)
                    .expect("declared");
                assert_eq!(
                    same.kind, option.kind,
                    "--{} is declared with two shapes",
                    option.name
                );
            }
            assert!(
                !option.secret || option.env_only,
                "secret {} must be env-only",
                option.name
            );
        }
        let mut undocumented = Vec::new();
        for factory in FACTORIES {
            let page = format!("docs/providers/{}.md", factory.name);
            let text = std::fs::read_to_string(root.join(&page))
                .unwrap_or_else(|e| panic!("{} needs {page}: {e}", factory.name));
            for option in factory.options.iter().chain(factory.upload_options) {
                let names = std::iter::once(option.display_name())
                    .chain(option.env.iter().map(|v| v.to_string()));
                for name in names {
                    if !text.contains(&name) {
                        undocumented.push(format!("{page}: {name}"));
                    }
                }
            }
        }
        assert!(
            undocumented.is_empty(),
            "options missing from their provider's page:\n{}",
            undocumented.join("\n")
        );
    }

    #[test]
    fn every_destination_syntax_is_accepted_by_its_own_factory_only() {
        for factory in FACTORIES {
            let example = factory
                .destination_syntax
                .replace("BUCKET", "b")
                .replace("PREFIX", "p");
            assert_eq!(
                factory_for(&example).map(|f| f.name),
                Some(factory.name),
                "{example}"
            );
        }
        assert!(factory_for("ftp://x/y").is_none());
    }
}
