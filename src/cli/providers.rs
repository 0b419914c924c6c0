//! The command-line side of the provider registry: clap flags built from each provider's
//! option declarations, the `cubeship NAME upload` subcommands, the environment-variable
//! help, and the values the user gave read back out of clap's matches.

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command};
use cubeship::destinations::{GivenOptions, destination_options};
use cubeship::registry::FACTORIES;
use cubeship_provider::{OptionSpec, ProviderFactory, ValueKind};

use super::UploadSettings;

/// The heading a provider's options go under in `--help`.
fn heading(factory: &ProviderFactory) -> String {
    format!("Options for {}", factory.destination_syntax)
}

/// The clap argument of a declared option (`None` for env-only options, which have no flag).
fn arg(spec: &OptionSpec, heading: String, served_by: Option<String>) -> Option<Arg> {
    if spec.env_only {
        return None;
    }
    let mut help = spec.full_help();
    if let Some(names) = served_by {
        help.push_str(&format!(" ({names} destinations)"));
    }
    let arg = Arg::new(spec.name)
        .long(spec.name)
        .help(help)
        .help_heading(heading);
    Some(match spec.kind {
        ValueKind::Switch => arg.action(ArgAction::SetTrue),
        ValueKind::Text { value_name } => arg.value_name(value_name).action(ArgAction::Set),
        ValueKind::Choice { choices } => arg
            .value_name("VALUE")
            .action(ArgAction::Set)
            .value_parser(PossibleValuesParser::new(
                choices
                    .iter()
                    .map(|(value, help)| PossibleValue::new(*value).help(*help)),
            )),
        ValueKind::Many { value_name } => arg.value_name(value_name).action(ArgAction::Append),
    })
}

/// Lines naming every environment-only setting of `factories`, for the end of `--help`.
fn environment_help<'a>(factories: impl Iterator<Item = &'a ProviderFactory>) -> String {
    let mut lines = vec!["Environment (credentials are never taken as flags):".to_string()];
    for factory in factories {
        for spec in factory.options.iter().filter(|s| s.env_only) {
            lines.push(format!(
                "  {:<34} {} ({})",
                spec.env.join(", "),
                spec.help,
                factory.name
            ));
        }
    }
    lines.join("\n")
}

/// Adds every destination option of every provider to a publishing subcommand.
pub fn with_destination_options(command: Command) -> Command {
    let args = destination_options()
        .into_iter()
        .filter_map(|(spec, owners)| {
            let served_by = (owners.len() > 1)
                .then(|| owners.iter().map(|f| f.name).collect::<Vec<_>>().join(", "));
            arg(&spec, heading(owners[0]), served_by)
        });
    let forms = FACTORIES
        .iter()
        .map(|f| f.destination_syntax)
        .collect::<Vec<_>>()
        .join(", ");
    command
        .mut_arg("to", |to| {
            to.help(format!("Destination, repeatable: {forms}"))
        })
        .args(args.collect::<Vec<_>>())
        .after_long_help(environment_help(FACTORIES.iter().copied()))
}

/// `cubeship NAME upload FILE…` for every provider. An upload option without a default is
/// required unless `file` (cubeship.toml's options) gives it.
pub fn upload_subcommands(file: &GivenOptions) -> Vec<Command> {
    FACTORIES
        .iter()
        .map(|factory| {
            let place = factory.upload_options.iter().filter_map(|spec| {
                arg(spec, "Where files go".to_string(), None)
                    .map(|a| a.required(spec.default.is_none() && file.get(spec.name).is_none()))
            });
            let options = factory
                .options
                .iter()
                .filter_map(|spec| arg(spec, heading(factory), None));
            // The about comes after augment_args, which would set the struct's own doc.
            let upload = UploadSettings::augment_args(Command::new("upload"))
                .about(format!(
                    "Upload files as they are to {} and print their URLs and hashes",
                    factory.destination_syntax
                ))
                .args(place.collect::<Vec<_>>())
                .args(options.collect::<Vec<_>>())
                .after_help(format!(
                    "{}\n\n{}",
                    super::help::upload_examples(factory),
                    environment_help(std::iter::once(*factory))
                ));
            Command::new(factory.name)
                .about(format!("{}, one step by hand", factory.title))
                .subcommand_required(true)
                .arg_required_else_help(true)
                .subcommand(upload)
        })
        .collect()
}

/// The values given on the command line for `specs`.
pub fn given<'a>(
    matches: &ArgMatches,
    specs: impl Iterator<Item = &'a OptionSpec>,
) -> GivenOptions {
    let mut given = GivenOptions::default();
    for spec in specs.filter(|s| !s.env_only) {
        if matches.value_source(spec.name) != Some(ValueSource::CommandLine) {
            continue;
        }
        let values = match spec.kind {
            ValueKind::Switch => vec!["true".to_string()],
            _ => matches
                .get_many::<String>(spec.name)
                .map(|values| values.cloned().collect())
                .unwrap_or_default(),
        };
        given.set(spec.name, values);
    }
    given
}

/// The values given on the command line for every destination option.
pub fn given_destination_options(matches: &ArgMatches) -> GivenOptions {
    let options = destination_options();
    given(matches, options.iter().map(|(spec, _)| spec))
}
