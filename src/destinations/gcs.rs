//! Command-line options of Google Cloud Storage destinations (`gs://BUCKET/PREFIX`, `cubeship
//! gcs upload`) and construction of the provider: endpoint and emulator detection, credentials
//! choice, public access mode.

use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use cubeship_gcs::{GcsConfig, GcsProvider, PublicAccess};
use cubeship_provider::RetryPolicy;

use crate::cli::GlobalArgs;
use crate::error::InputError;

/// The variable Google's other storage clients read to talk to an emulator; the Rust crate
/// does not, so cubeship does.
pub const EMULATOR_ENV: &str = "STORAGE_EMULATOR_HOST";

/// How uploaded objects become public.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PredefinedAcl {
    /// `predefinedAcl=publicRead`: allUsers may read each object (buckets with fine-grained
    /// access). Buckets with uniform bucket-level access get no ACL and rely on IAM.
    #[default]
    #[value(name = "publicRead")]
    PublicRead,
    /// No ACL: the bucket's IAM policy decides (e.g. allUsers as roles/storage.objectViewer).
    #[value(name = "none")]
    None,
}

/// Options of `gs://` destinations.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Google Cloud Storage options")]
pub struct GcsArgs {
    /// gs:// destinations: the Cloud Storage endpoint, e.g. an emulator (http://127.0.0.1:4443).
    /// A plain-http endpoint gets no credentials. [default: $STORAGE_EMULATOR_HOST, else Google]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<url::Url>,
    /// gs:// destinations: how objects are made public (publicRead, or none to rely on bucket IAM).
    #[arg(long, value_enum, value_name = "ACL", default_value_t = PredefinedAcl::PublicRead)]
    pub predefined_acl: PredefinedAcl,
}

#[derive(Subcommand, Debug)]
pub enum GcsCommand {
    /// Upload files as they are and print their URLs and hashes.
    Upload {
        #[command(flatten)]
        upload: super::UploadSettings,
        /// The bucket (name only, no gs://).
        #[arg(long, value_name = "BUCKET")]
        bucket: String,
        /// Object name prefix inside the bucket.
        #[arg(long, value_name = "PREFIX", default_value = "")]
        prefix: String,
        #[command(flatten)]
        gcs: GcsArgs,
        /// Public URLs start with this base instead of the store's own (a CDN, a custom domain).
        #[arg(long, value_name = "URL")]
        public_url_base: Option<url::Url>,
    },
}

/// Checks a bucket name against Cloud Storage's rules, enough to catch typos and URLs.
fn check_bucket(bucket: &str, option: &str) -> Result<(), InputError> {
    let valid_chars = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    let valid_ends = bucket
        .chars()
        .next()
        .zip(bucket.chars().last())
        .is_some_and(|(a, b)| a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric());
    if (3..=222).contains(&bucket.len()) && valid_chars && valid_ends {
        Ok(())
    } else {
        Err(
            InputError::new(format!("{option}: `{bucket}` is not a Cloud Storage bucket name"))
                .hint("bucket names have 3-63 lower-case letters, digits, -, _ or . (222 with dots), and start and end with a letter or digit"),
        )
    }
}

/// The endpoint to use and whether it is an emulator (no credentials).
fn resolve_endpoint(args: &GcsArgs) -> Result<(Option<url::Url>, bool), InputError> {
    if let Some(endpoint) = &args.endpoint {
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(
                InputError::new(format!("--endpoint {endpoint}: not an http(s) URL"))
                    .hint("give the server's base URL, as in --endpoint http://127.0.0.1:4443"),
            );
        }
        // Bearer tokens never travel over plain HTTP: an http endpoint is an emulator.
        return Ok((Some(endpoint.clone()), endpoint.scheme() == "http"));
    }
    match std::env::var(EMULATOR_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            let value = value.trim();
            let with_scheme = if value.contains("://") {
                value.to_string()
            } else {
                format!("http://{value}")
            };
            let url = url::Url::parse(&with_scheme)
                .ok()
                .filter(|u| u.host_str().is_some())
                .ok_or_else(|| {
                    InputError::new(format!("{EMULATOR_ENV}={value} is not a host:port or URL"))
                        .hint(format!(
                            "set it like {EMULATOR_ENV}=127.0.0.1:4443, or unset it to use Google Cloud Storage"
                        ))
                })?;
            Ok((Some(url), true))
        }
        _ => Ok((None, false)),
    }
}

/// Builds the provider for `gs://` + `spec` (`BUCKET[/PREFIX]`).
pub async fn build(
    spec: &str,
    args: &GcsArgs,
    public_url_base: Option<&url::Url>,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    let (bucket, prefix) = spec.split_once('/').unwrap_or((spec, ""));
    if bucket.is_empty() {
        return Err(InputError::new(format!("--to gs://{spec}: no bucket"))
            .hint("write it as gs://BUCKET or gs://BUCKET/PREFIX"));
    }
    check_bucket(bucket, &format!("--to gs://{spec}"))?;
    provider(bucket, prefix, args, public_url_base).await
}

async fn provider(
    bucket: &str,
    prefix: &str,
    args: &GcsArgs,
    public_url_base: Option<&url::Url>,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    let (endpoint, anonymous) = resolve_endpoint(args)?;
    if let Some(base) = public_url_base
        && !matches!(base.scheme(), "http" | "https")
    {
        return Err(
            InputError::new(format!("--public-url-base {base}: not an http(s) URL"))
                .hint("MedPerf downloads over HTTP(S): give a base like https://cdn.example.org/"),
        );
    }
    let prefix = prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    let config = GcsConfig {
        bucket: bucket.to_string(),
        prefix,
        endpoint,
        anonymous,
        public_access: match args.predefined_acl {
            PredefinedAcl::PublicRead => PublicAccess::PublicReadAcl,
            PredefinedAcl::None => PublicAccess::BucketIam,
        },
        public_url_base: public_url_base.cloned(),
        retry: RetryPolicy::default(),
    };
    let provider = GcsProvider::new(config).await.map_err(|e| {
        InputError::new(format!("gs://{bucket}: {e}"))
            .hint("see docs/providers/gcs.md for credentials and emulators")
    })?;
    Ok(Arc::new(provider))
}

pub async fn run(command: GcsCommand, global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        GcsCommand::Upload {
            upload,
            bucket,
            prefix,
            gcs,
            public_url_base,
        } => {
            check_bucket(&bucket, "--bucket")?;
            let provider = provider(&bucket, &prefix, &gcs, public_url_base.as_ref()).await?;
            let target = crate::publish::Target {
                spec: provider.describe(),
                provider,
            };
            super::run_upload(target, &upload, global).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_checked() {
        assert!(check_bucket("my-bucket.example_1", "--bucket").is_ok());
        for bad in ["", "ab", "My-Bucket", "gs://b", "-bucket", "bucket-", "a/b"] {
            assert!(check_bucket(bad, "--bucket").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_http_endpoint_is_an_emulator_and_https_keeps_credentials() {
        let args = GcsArgs {
            endpoint: Some("http://127.0.0.7".parse().unwrap()),
            ..GcsArgs::default()
        };
        assert!(resolve_endpoint(&args).unwrap().1);
        let args = GcsArgs {
            endpoint: Some("https://private.googleapis.com".parse().unwrap()),
            ..GcsArgs::default()
        };
        assert!(!resolve_endpoint(&args).unwrap().1);
        let args = GcsArgs {
            endpoint: Some("ftp://x".parse().unwrap()),
            ..GcsArgs::default()
        };
        assert!(resolve_endpoint(&args).is_err());
    }
}
