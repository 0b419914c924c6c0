//! Command-line options of the HTTP PUT destination (`--to https://…`, `cubeship http upload`)
//! and their translation, checked before anything is sent, into a configured provider.

use std::sync::Arc;

use clap::{Args, Subcommand};
use cubeship_http::{ConfigError, HttpConfig, HttpOptions, HttpProvider};

use crate::cli::GlobalArgs;
use crate::error::InputError;
use crate::publish::Target;

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "HTTP PUT options")]
pub struct HttpArgs {
    /// http(s) destinations: the base URL anonymous clients GET from, when reads are served
    /// elsewhere than PUTs [default: the PUT URL]
    #[arg(long, value_name = "URL")]
    pub get_url: Option<String>,
    /// http(s) destinations: an extra request header, repeatable: 'Name: value', or
    /// 'Name: env:VAR' to send the value of $VAR (required for credentials)
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// http(s) destinations: allow cleartext http:// to a host other than loopback
    #[arg(long)]
    pub allow_http: bool,
}

#[derive(Subcommand, Debug)]
pub enum HttpCommand {
    /// Upload files as they are with HTTP PUT and print their URLs and hashes.
    Upload {
        #[command(flatten)]
        upload: super::UploadSettings,
        /// The folder URL files are PUT under (each as <URL>/<file name>), or one presigned
        /// object URL (with its ?query) for a single FILE; env:VAR reads it from $VAR
        #[arg(long, value_name = "URL")]
        url: String,
        #[command(flatten)]
        http: HttpArgs,
    },
}

/// Builds the provider for `--to https://HOST/PATH/`.
pub async fn build(
    spec: &str,
    args: &HttpArgs,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    let options = HttpOptions {
        url: spec.to_string(),
        url_option: "--to",
        get_url: args.get_url.clone(),
        headers: args.headers.clone(),
        allow_http: args.allow_http,
        single_object: false,
    };
    Ok(Arc::new(provider(&options)?))
}

fn provider(options: &HttpOptions) -> Result<HttpProvider, InputError> {
    let config =
        HttpConfig::from_options(options, &|name| std::env::var(name).ok()).map_err(input_error)?;
    HttpProvider::new(config).map_err(|e| InputError::new(e.to_string()))
}

fn input_error(error: ConfigError) -> InputError {
    let input = InputError::new(error.message);
    match error.hint {
        Some(hint) => input.hint(hint),
        None => input,
    }
}

pub async fn run(command: HttpCommand, global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        HttpCommand::Upload { upload, url, http } => {
            let options = HttpOptions {
                url,
                url_option: "--url",
                get_url: http.get_url,
                headers: http.headers,
                allow_http: http.allow_http,
                single_object: upload.files.len() == 1,
            };
            let provider = provider(&options)?;
            let target = Target {
                spec: cubeship_provider::Provider::describe(&provider),
                provider: Arc::new(provider),
            };
            super::run_upload(target, &upload, global).await
        }
    }
}
