//! The one list of providers. Adding a storage backend is one crate under `providers/`, one
//! dependency line in Cargo.toml, and one line here: flags, `--to` parsing, the
//! `cubeship NAME upload` subcommand and the docs check are built from its `ProviderFactory`.

use cubeship_provider::ProviderFactory;

/// Every registered provider, in the order `--help` lists them. The first whose `accepts`
/// says yes gets a `--to` value.
pub static FACTORIES: &[&ProviderFactory] = &[
    &cubeship_s3::FACTORY,
    &cubeship_gcs::FACTORY,
    &cubeship_github::FACTORY,
    &cubeship_http::FACTORY,
    &cubeship_synapse::FACTORY,
    &cubeship_dir::FACTORY,
];
