//! How a provider plugs in: a `ProviderFactory` table says what it is (name, `--to` form,
//! options declared once) and how to build the configured `Provider` from a destination and
//! the resolved settings. The application keeps a list of factories (its registry) and builds
//! flags, `--to` parsing and `cubeship NAME upload` from them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{InputError, OptionSpec, Provider, Secret, Settings};

/// What the user named as the place to upload to, before any provider is built.
#[derive(Clone, Copy, Debug)]
pub enum Destination<'a> {
    /// A `--to` value, as written.
    Spec(&'a str),
    /// `cubeship NAME upload FILE…`: the place is in the upload options.
    Upload {
        /// How many files are uploaded (a presigned URL names exactly one object).
        files: usize,
    },
}

/// What `ProviderFactory::open` returns.
pub type OpenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Arc<dyn Provider>, InputError>> + Send + 'a>>;

/// What a registry login lookup returns: a user name and password for the registry's token
/// endpoint, or `None` when the user has no credentials for it.
pub type LoginFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<(String, Secret)>, InputError>> + Send + 'a>>;

/// The container registry that goes with a store, and how its users log in to it with the
/// store's own credentials (docker.synapse.org takes a Synapse user and access token).
#[derive(Clone, Copy)]
pub struct ContainerRegistry {
    /// The registry's host, as image references name it.
    pub host: &'static str,
    /// The login from the store's resolved settings.
    pub login: for<'a> fn(&'a Settings) -> LoginFuture<'a>,
}

/// One kind of storage as the application registers it: what it is, declared once as a table
/// (the rclone idea), and how to build a configured `Provider`.
#[derive(Clone, Copy)]
pub struct ProviderFactory {
    /// Short name: the `cubeship NAME upload` subcommand and its `docs/providers/NAME.md`.
    pub name: &'static str,
    /// What it stores to, for `--help`: "Amazon S3 and S3-compatible stores".
    pub title: &'static str,
    /// How its `--to` values are written, for help and errors: `s3://BUCKET/PREFIX`.
    pub destination_syntax: &'static str,
    /// Its `--to` values start with one of these.
    pub prefixes: &'static [&'static str],
    /// Options of its destinations, for `--to` and `upload` alike.
    pub options: &'static [OptionSpec],
    /// Options of `cubeship NAME upload` that say where files go (`--bucket`, `--repo`).
    pub upload_options: &'static [OptionSpec],
    /// `tracing` filter directives that keep its libraries' chatter off the user's terminal
    /// at the default level, as in `aws_config=error`.
    pub log_directives: &'static [&'static str],
    /// The container registry that goes with the store, if any.
    pub container_registry: Option<ContainerRegistry>,
    /// Builds a provider for a destination from the resolved options (its `options` and, for
    /// uploads, its `upload_options`). Configuration mistakes are `InputError`s that name the
    /// option or variable and say what to do; none contains a secret.
    pub opener: for<'a> fn(Destination<'a>, &'a Settings) -> OpenFuture<'a>,
}

impl std::fmt::Debug for ProviderFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderFactory")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ProviderFactory {
    /// Whether `spec` (a `--to` value) is one of its destinations.
    pub fn accepts(&self, spec: &str) -> bool {
        self.prefixes.iter().any(|prefix| spec.starts_with(prefix))
    }

    /// Builds a provider for `destination` (see `opener`).
    pub async fn open(
        &self,
        destination: Destination<'_>,
        settings: &Settings,
    ) -> Result<Arc<dyn Provider>, InputError> {
        (self.opener)(destination, settings).await
    }
}

/// The upload options of a bucket store (`cubeship NAME upload --bucket B --prefix P`), read
/// back by `bucket_and_prefix`.
pub const BUCKET_UPLOAD_OPTIONS: &[OptionSpec] = &[
    OptionSpec::text("bucket", "BUCKET", "The bucket (its name only)"),
    OptionSpec::text("prefix", "PREFIX", "Key prefix under the bucket").with_default(""),
];

/// `BUCKET` and `PREFIX` of a bucket store's destination: from `SCHEME://BUCKET/PREFIX`, or
/// from the `bucket` and `prefix` upload options; with how to name it in messages.
pub fn bucket_and_prefix(
    destination: Destination<'_>,
    settings: &Settings,
    scheme: &str,
) -> (String, String, String) {
    match destination {
        Destination::Spec(spec) => {
            let rest = spec.strip_prefix(scheme).unwrap_or(spec);
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            (
                bucket.to_string(),
                prefix.to_string(),
                format!("--to {spec}"),
            )
        }
        Destination::Upload { .. } => {
            let bucket = settings.text("bucket").unwrap_or_default().to_string();
            let prefix = settings.text("prefix").unwrap_or_default().to_string();
            let shown = format!("--bucket {bucket}");
            (bucket, prefix, shown)
        }
    }
}
