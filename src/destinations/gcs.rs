//! Command-line options and construction of the gcs provider (not yet implemented).

use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::cli::GlobalArgs;
use crate::error::InputError;

#[derive(Args, Debug, Clone, Default)]
pub struct GcsArgs {}

#[derive(Subcommand, Debug)]
pub enum GcsCommand {
    /// Upload files as they are and print their URLs and hashes.
    Upload {
        #[command(flatten)]
        upload: super::UploadSettings,
    },
}

pub async fn build(
    spec: &str,
    _args: &GcsArgs,
    _public_url_base: Option<&url::Url>,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    Err(InputError::new(format!(
        "{spec}: the gcs provider is not available yet"
    )))
}

pub async fn run(command: GcsCommand, _global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        GcsCommand::Upload { .. } => {
            Err(InputError::new("the gcs provider is not available yet").into())
        }
    }
}
