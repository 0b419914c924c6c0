//! Command-line options and construction of the http provider (not yet implemented).

use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::cli::GlobalArgs;
use crate::error::InputError;

#[derive(Args, Debug, Clone, Default)]
pub struct HttpArgs {}

#[derive(Subcommand, Debug)]
pub enum HttpCommand {
    /// Upload files as they are and print their URLs and hashes.
    Upload {
        #[command(flatten)]
        upload: super::UploadSettings,
    },
}

pub async fn build(
    spec: &str,
    _args: &HttpArgs,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    Err(InputError::new(format!(
        "{spec}: the http provider is not available yet"
    )))
}

pub async fn run(command: HttpCommand, _global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        HttpCommand::Upload { .. } => {
            Err(InputError::new("the http provider is not available yet").into())
        }
    }
}
