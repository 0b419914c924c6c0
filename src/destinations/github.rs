//! Command-line options and construction of the github provider (not yet implemented).

use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::cli::GlobalArgs;
use crate::error::InputError;

#[derive(Args, Debug, Clone, Default)]
pub struct GithubArgs {}

#[derive(Subcommand, Debug)]
pub enum GithubCommand {
    /// Upload files as they are and print their URLs and hashes.
    Upload {
        #[command(flatten)]
        upload: super::UploadSettings,
    },
}

pub async fn build(
    spec: &str,
    _args: &GithubArgs,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    Err(InputError::new(format!(
        "{spec}: the github provider is not available yet"
    )))
}

pub async fn run(command: GithubCommand, _global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        GithubCommand::Upload { .. } => {
            Err(InputError::new("the github provider is not available yet").into())
        }
    }
}
