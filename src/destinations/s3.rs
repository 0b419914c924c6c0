//! Command-line options and construction of the S3 provider (stub until the S3 crate lands).

use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::cli::GlobalArgs;
use crate::error::InputError;

#[derive(Args, Debug, Clone, Default)]
pub struct S3Args {}

#[derive(Subcommand, Debug)]
pub enum S3Command {
    /// Upload files as they are and print their URLs and hashes.
    Upload {
        #[command(flatten)]
        upload: super::UploadSettings,
    },
}

pub async fn build(
    spec: &str,
    _args: &S3Args,
    _public_url_base: Option<&url::Url>,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    Err(InputError::new(format!(
        "{spec}: the s3 provider is not available yet"
    )))
}

pub async fn run(command: S3Command, _global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        S3Command::Upload { .. } => {
            Err(InputError::new("the s3 provider is not available yet").into())
        }
    }
}
