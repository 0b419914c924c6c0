//! Provider options declared once (the rclone idea): each option's flag, environment
//! variables, help, default, and whether it is a secret. One declaration drives the command
//! line flags, the environment lookup, the redaction of secret values and the docs; `Settings`
//! is what a provider reads after resolution (flag, else environment, else the configuration
//! file, else default).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{InputError, RetryPolicy, Secret};

/// The shape of an option's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A flag without value (`--create-release`); from the environment: `1`/`true`/`yes`.
    Switch,
    /// One value, shown in help as `value_name`.
    Text {
        /// The placeholder in help: `--region REGION`.
        value_name: &'static str,
    },
    /// One of `choices`: (value, help).
    Choice {
        /// Each accepted value with its line of help.
        choices: &'static [(&'static str, &'static str)],
    },
    /// A repeatable value (`--header A --header B`).
    Many {
        /// The placeholder in help: `--header HEADER`.
        value_name: &'static str,
    },
}

/// Whether one value of the option serves every destination of its provider, or describes
/// exactly one destination (a GET base, a CDN in front of one bucket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The value applies to every `--to` of the provider.
    Shared,
    /// The value describes one destination: refused when several `--to` of providers that
    /// declare it are given.
    OneDestination,
}

/// One option of a provider, declared once.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// The key the provider reads it by, and the long flag (`--NAME`) unless `env_only`.
    pub name: &'static str,
    /// Environment variables read, in order, when the flag is not given.
    pub env: &'static [&'static str],
    /// One line of help.
    pub help: &'static str,
    /// Whether it takes a value, and how many.
    pub kind: ValueKind,
    /// The value when neither flag nor environment gives one.
    pub default: Option<&'static str>,
    /// The value is never printed, logged or written to a report.
    pub secret: bool,
    /// No flag: read from the environment only. Secrets are always env-only, because a flag's
    /// value shows in `ps` and shell history.
    pub env_only: bool,
    /// Whether one value may serve several `--to` destinations.
    pub scope: Scope,
}

impl OptionSpec {
    const fn new(name: &'static str, kind: ValueKind, help: &'static str) -> Self {
        OptionSpec {
            name,
            env: &[],
            help,
            kind,
            default: None,
            secret: false,
            env_only: false,
            scope: Scope::Shared,
        }
    }

    /// `--NAME` without a value.
    pub const fn switch(name: &'static str, help: &'static str) -> Self {
        Self::new(name, ValueKind::Switch, help)
    }

    /// `--NAME VALUE`.
    pub const fn text(name: &'static str, value_name: &'static str, help: &'static str) -> Self {
        Self::new(name, ValueKind::Text { value_name }, help)
    }

    /// `--NAME CHOICE`.
    pub const fn choice(
        name: &'static str,
        choices: &'static [(&'static str, &'static str)],
        help: &'static str,
    ) -> Self {
        Self::new(name, ValueKind::Choice { choices }, help)
    }

    /// `--NAME VALUE`, repeatable.
    pub const fn many(name: &'static str, value_name: &'static str, help: &'static str) -> Self {
        Self::new(name, ValueKind::Many { value_name }, help)
    }

    /// A secret read from the environment only.
    pub const fn secret_env(
        name: &'static str,
        env: &'static [&'static str],
        help: &'static str,
    ) -> Self {
        let mut spec = Self::env_only(name, env, help);
        spec.secret = true;
        spec
    }

    /// A setting read from the environment only (no flag).
    pub const fn env_only(
        name: &'static str,
        env: &'static [&'static str],
        help: &'static str,
    ) -> Self {
        let mut spec = Self::new(name, ValueKind::Text { value_name: "" }, help);
        spec.env = env;
        spec.env_only = true;
        spec
    }

    /// Also read from these environment variables, in order.
    pub const fn with_env(mut self, env: &'static [&'static str]) -> Self {
        self.env = env;
        self
    }

    /// The value used when neither flag nor environment gives one.
    pub const fn with_default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    /// Marks the option as describing one destination, so several `--to` refuse it.
    pub const fn for_one_destination(mut self) -> Self {
        self.scope = Scope::OneDestination;
        self
    }

    /// The flag as the user types it (`--region`), or the first variable for env-only options.
    pub fn display_name(&self) -> String {
        if self.env_only {
            self.env.first().copied().unwrap_or(self.name).to_string()
        } else {
            format!("--{}", self.name)
        }
    }

    /// The help line with the environment variables and default appended, as `--help` and
    /// the docs show it.
    pub fn full_help(&self) -> String {
        let mut help = self.help.to_string();
        if !self.env.is_empty() && !self.env_only {
            help.push_str(&format!(" [env: {}]", self.env.join(", ")));
        }
        if let Some(default) = self.default {
            help.push_str(&format!(" [default: {default}]"));
        }
        help
    }
}

/// An option several stores share: public URLs under a CDN or custom domain in front of the
/// bucket. It describes one destination, so it is refused with several `--to` it would serve.
pub const PUBLIC_URL_BASE: OptionSpec = OptionSpec::text(
    "public-url-base",
    "URL",
    "Public URLs start with this base instead of the store's own (a CDN, a custom domain)",
)
.for_one_destination();

/// Where a resolved value came from, for messages that must name what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The long flag of this name (without `--`).
    Flag(&'static str),
    /// This environment variable.
    Env(&'static str),
    /// The option of this name in the configuration file (`cubeship.toml`).
    File(&'static str),
    /// The option's declared default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) => write!(f, "--{name}"),
            Origin::Env(var) => write!(f, "${var}"),
            Origin::File(name) => write!(f, "{name} in cubeship.toml"),
            Origin::Default => f.write_str("the default"),
        }
    }
}

#[derive(Clone, Debug)]
struct Resolved {
    values: Vec<String>,
    origin: Origin,
    secret: bool,
}

/// Reads a variable of the process environment, or of a map in tests.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn process_env() -> EnvLookup {
    Arc::new(|name| std::env::var(name).ok())
}

/// A fixed environment of `pairs` and nothing else (tests, library callers that keep the
/// process environment out).
pub fn env_from(pairs: &[(&str, &str)]) -> EnvLookup {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Arc::new(move |name| map.get(name).cloned())
}

/// The resolved options of one provider, with the environment (for `env:VAR` values) and the
/// shared retry policy. `Debug` never shows secret values.
#[derive(Clone)]
pub struct Settings {
    values: BTreeMap<&'static str, Resolved>,
    env: EnvLookup,
    retry: RetryPolicy,
    timeouts: crate::Timeouts,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.values {
            if value.secret {
                map.entry(name, &"***");
            } else {
                map.entry(name, &value.values);
            }
        }
        map.finish()
    }
}

impl Settings {
    /// Resolves `specs`: `given(name)` returns the values passed as flags (none for an option
    /// not given), else the first set environment variable, else the default.
    pub fn resolve(
        specs: &[OptionSpec],
        given: &dyn Fn(&str) -> Option<Vec<String>>,
        env: EnvLookup,
    ) -> Settings {
        Self::resolve_with_file(specs, given, env, &|_| None)
    }

    /// `resolve` with a third source below the environment: `file(name)` returns the values
    /// of a configuration file. Flag > environment > file > default. Secrets never come from
    /// the file (the caller refuses them there; they are ignored here too).
    pub fn resolve_with_file(
        specs: &[OptionSpec],
        given: &dyn Fn(&str) -> Option<Vec<String>>,
        env: EnvLookup,
        file: &dyn Fn(&str) -> Option<Vec<String>>,
    ) -> Settings {
        let mut values = BTreeMap::new();
        for spec in specs {
            let from_flag = (!spec.env_only)
                .then(|| given(spec.name))
                .flatten()
                .filter(|v| !v.is_empty())
                .map(|v| (v, Origin::Flag(spec.name)));
            let from_env = || {
                spec.env.iter().find_map(|var| {
                    env(var)
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                        .map(|v| (vec![v], Origin::Env(var)))
                })
            };
            let from_file = || {
                (!spec.secret)
                    .then(|| file(spec.name))
                    .flatten()
                    .filter(|v| !v.is_empty())
                    .map(|v| (v, Origin::File(spec.name)))
            };
            let from_default = || spec.default.map(|d| (vec![d.to_string()], Origin::Default));
            if let Some((values_of, origin)) = from_flag
                .or_else(from_env)
                .or_else(from_file)
                .or_else(from_default)
            {
                values.insert(
                    spec.name,
                    Resolved {
                        values: values_of,
                        origin,
                        secret: spec.secret,
                    },
                );
            }
        }
        let timeouts = crate::Timeouts::from_env(&env).unwrap_or_default();
        let retry = RetryPolicy::from_env(&env).unwrap_or_default();
        Settings {
            values,
            env,
            retry,
            timeouts,
        }
    }

    /// Settings with nothing given, reading `env` (for tests and library callers).
    pub fn from_env(specs: &[OptionSpec], env: EnvLookup) -> Settings {
        Self::resolve(specs, &|_| None, env)
    }

    /// Replaces the retry policy every provider built from these settings uses.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The retry policy providers built from these settings use.
    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// The progress timeouts (from `CUBESHIP_*_TIMEOUT` in the environment, else defaults)
    /// providers built from these settings use.
    pub fn timeouts(&self) -> crate::Timeouts {
        self.timeouts
    }

    /// Replaces the progress timeouts.
    pub fn with_timeouts(mut self, timeouts: crate::Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The value of a text or choice option.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .filter(|v| !v.secret)
            .and_then(|v| v.values.last())
            .map(String::as_str)
    }

    /// Whether a switch is on.
    pub fn switch(&self, name: &str) -> bool {
        self.values
            .get(name)
            .and_then(|v| v.values.last())
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    }

    /// Every value of a repeatable option.
    pub fn many(&self, name: &str) -> &[String] {
        self.values
            .get(name)
            .map(|v| v.values.as_slice())
            .unwrap_or(&[])
    }

    /// The value of a secret option.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.values
            .get(name)
            .and_then(|v| v.values.last())
            .map(|v| Secret::new(v.clone()))
    }

    /// Where an option's value came from, for messages.
    pub fn origin(&self, name: &str) -> Option<&Origin> {
        self.values.get(name).map(|v| &v.origin)
    }

    /// Parses a text option, naming where it came from when it does not parse.
    pub fn parsed<T: std::str::FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, InputError> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|_| {
            let origin = self.origin(name).cloned().unwrap_or(Origin::Default);
            InputError::new(format!("{origin} {text}: expected {expected}"))
        })
    }

    /// A variable of the environment the settings were resolved in (for `env:VAR` values).
    pub fn env_var(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    /// Every secret value held, to scrub from server messages.
    pub fn secrets(&self) -> Vec<Secret> {
        self.values
            .values()
            .filter(|v| v.secret)
            .flat_map(|v| v.values.iter().map(|s| Secret::new(s.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptionSpec] = &[
        OptionSpec::text("region", "REGION", "AWS region").with_env(&["AWS_REGION"]),
        OptionSpec::text("threshold", "MiB", "multipart threshold").with_default("64"),
        OptionSpec::switch("create-release", "create it"),
        OptionSpec::secret_env("token", &["GITHUB_TOKEN", "GH_TOKEN"], "token"),
    ];

    use super::env_from as env;

    #[test]
    fn flags_win_over_environment_which_wins_over_defaults() {
        let given = |name: &str| (name == "region").then(|| vec!["eu-west-1".to_string()]);
        let settings = Settings::resolve(SPECS, &given, env(&[("AWS_REGION", "us-east-2")]));
        assert_eq!(settings.text("region"), Some("eu-west-1"));
        assert_eq!(settings.origin("region"), Some(&Origin::Flag("region")));
        let settings = Settings::from_env(SPECS, env(&[("AWS_REGION", "us-east-2")]));
        assert_eq!(settings.text("region"), Some("us-east-2"));
        assert_eq!(settings.origin("region"), Some(&Origin::Env("AWS_REGION")));
        assert_eq!(
            settings.parsed::<u64>("threshold", "MiB").unwrap(),
            Some(64)
        );
        assert!(!settings.switch("create-release"));
    }

    #[test]
    fn secrets_come_from_the_first_set_variable_and_never_show() {
        let settings = Settings::from_env(SPECS, env(&[("GH_TOKEN", "ghp_abcdef123456")]));
        assert_eq!(
            settings.secret("token").unwrap().expose(),
            "ghp_abcdef123456"
        );
        assert_eq!(settings.text("token"), None, "secrets are not read as text");
        assert_eq!(settings.origin("token"), Some(&Origin::Env("GH_TOKEN")));
        assert!(!format!("{settings:?}").contains("ghp_"));
        assert_eq!(settings.secrets().len(), 1);
        // Secret options have no flag, whatever the command line holds.
        let given = |_: &str| Some(vec!["from-a-flag".to_string()]);
        let settings = Settings::resolve(SPECS, &given, env(&[]));
        assert!(settings.secret("token").is_none());
    }

    #[test]
    fn the_file_comes_after_the_environment_and_before_defaults() {
        let file = |name: &str| match name {
            "region" => Some(vec!["ap-south-1".to_string()]),
            "threshold" => Some(vec!["128".to_string()]),
            "token" => Some(vec!["from-the-file".to_string()]),
            _ => None,
        };
        let none = |_: &str| None;
        let settings =
            Settings::resolve_with_file(SPECS, &none, env(&[("AWS_REGION", "us-east-2")]), &file);
        assert_eq!(settings.text("region"), Some("us-east-2"));
        assert_eq!(settings.text("threshold"), Some("128"));
        assert_eq!(
            settings.origin("threshold"),
            Some(&Origin::File("threshold"))
        );
        assert_eq!(
            Origin::File("threshold").to_string(),
            "threshold in cubeship.toml"
        );
        assert!(settings.secret("token").is_none(), "no secret from a file");
        let settings = Settings::resolve_with_file(SPECS, &none, env(&[]), &file);
        assert_eq!(settings.text("region"), Some("ap-south-1"));
        let flag = |name: &str| (name == "region").then(|| vec!["eu-west-1".to_string()]);
        let settings = Settings::resolve_with_file(SPECS, &flag, env(&[]), &file);
        assert_eq!(settings.text("region"), Some("eu-west-1"));
        let settings = Settings::resolve_with_file(SPECS, &none, env(&[]), &none);
        assert_eq!(settings.origin("threshold"), Some(&Origin::Default));
    }

    #[test]
    fn help_names_the_environment_and_default() {
        assert_eq!(SPECS[0].full_help(), "AWS region [env: AWS_REGION]");
        assert_eq!(SPECS[1].full_help(), "multipart threshold [default: 64]");
        assert_eq!(SPECS[3].display_name(), "GITHUB_TOKEN");
        assert_eq!(SPECS[2].display_name(), "--create-release");
    }
}
