//! How a provider plugs in: a `ProviderFactory` names its scheme, declares its options once,
//! parses its `--to` destinations and the options of its `upload` subcommand, and builds the
//! configured `Provider`. The application keeps a list of factories (its registry) and builds
//! flags, `--to` parsing and `cubeship NAME upload` from them.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{InputError, OptionSpec, Provider, Settings};

/// What the user named as the place to upload to, before any provider is built.
#[derive(Clone, Copy, Debug)]
pub enum Destination<'a> {
    /// A `--to` value, as written.
    Spec(&'a str),
    /// `cubeship NAME upload FILE…`: the place is in the upload options; `files` files are
    /// uploaded (a presigned URL names exactly one object).
    Upload { files: usize },
}

/// One kind of storage, as the application registers it.
#[async_trait]
pub trait ProviderFactory: Send + Sync {
    /// Short name: the `cubeship NAME upload` subcommand, the report's provider, the docs page.
    fn name(&self) -> &'static str;

    /// What it stores to, for `--help`: "Amazon S3 and S3-compatible stores".
    fn title(&self) -> &'static str;

    /// How its `--to` values are written, for help and errors: `s3://BUCKET/PREFIX`.
    fn destination_syntax(&self) -> &'static str;

    /// Whether `spec` (a `--to` value) is one of its destinations.
    fn accepts(&self, spec: &str) -> bool;

    /// Options of its destinations, for `--to` and `upload` alike.
    fn options(&self) -> &'static [OptionSpec];

    /// Options of `cubeship NAME upload` that say where files go (`--bucket`, `--repo`).
    fn upload_options(&self) -> &'static [OptionSpec];

    /// Builds a provider for `destination` from the resolved options (its own `options` and,
    /// for uploads, its `upload_options`). Configuration mistakes are `InputError`s that name
    /// the option or variable and say what to do; none contains a secret.
    async fn open(
        &self,
        destination: Destination<'_>,
        settings: &Settings,
    ) -> Result<Arc<dyn Provider>, InputError>;
}
