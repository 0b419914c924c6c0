//! Command-line options of the S3 provider and `cubeship s3 upload`.

use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use cubeship_s3::{AclMode, ChecksumMode, S3Config};

use crate::cli::GlobalArgs;
use crate::error::InputError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum AclArg {
    /// Send `x-amz-acl: public-read` (falls back to none if the bucket has ACLs disabled).
    #[default]
    PublicRead,
    /// Send no ACL; the bucket policy must make objects public.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ChecksumArg {
    /// CRC32 checksums on every upload (AWS's default since SDK 1.69).
    WhenSupported,
    /// Checksums only where S3 requires them (what most S3-compatible stores handle).
    WhenRequired,
}

/// Options of S3 destinations (`--to s3://…` and `cubeship s3 upload`).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "S3 options")]
pub struct S3Args {
    /// AWS region of the bucket [default: from AWS_REGION or the profile].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// S3-compatible endpoint (MinIO, Ceph, R2, B2…) [env: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL].
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Named profile from ~/.aws/config and ~/.aws/credentials [env: AWS_PROFILE].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Object ACL sent with uploads.
    #[arg(long, value_enum, default_value_t = AclArg::PublicRead)]
    pub acl: AclArg,
    /// Request checksums [default: AWS_REQUEST_CHECKSUM_CALCULATION, else when-required for
    /// custom endpoints and when-supported on AWS].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub s3_checksum: Option<ChecksumArg>,
    /// Files of at least this many MiB go as parallel multipart uploads.
    #[arg(long, value_name = "MiB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(5..))]
    pub s3_multipart_threshold: u64,
}

#[derive(Subcommand, Debug)]
pub enum S3Command {
    /// Upload files as they are to s3://BUCKET/PREFIX and print their URLs and hashes.
    Upload {
        #[command(flatten)]
        upload: super::UploadSettings,
        /// Bucket name.
        #[arg(long)]
        bucket: String,
        /// Key prefix under the bucket.
        #[arg(long, default_value = "")]
        prefix: String,
        #[command(flatten)]
        s3: S3Args,
        /// Public URLs start with this base instead of the bucket's own (a CDN).
        #[arg(long, value_name = "URL")]
        public_url_base: Option<url::Url>,
    },
}

/// Checks a bucket name against S3's rules, so a typo fails before any request.
fn check_bucket(bucket: &str, spec: &str) -> Result<(), InputError> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' || c == '_'
        })
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(InputError::new(format!("{spec}: `{bucket}` is not a valid S3 bucket name"))
            .hint("bucket names have 3-63 lower-case letters, digits, dots and hyphens, as in s3://my-bucket/models"))
    }
}

fn config(
    bucket: &str,
    prefix: &str,
    args: &S3Args,
    public_url_base: Option<&url::Url>,
) -> S3Config {
    let mut config = S3Config::new(bucket, prefix);
    config.region = args.region.clone();
    config.endpoint_url = args.endpoint_url.clone();
    config.profile = args.profile.clone();
    config.acl = match args.acl {
        AclArg::PublicRead => AclMode::PublicRead,
        AclArg::None => AclMode::None,
    };
    config.checksum = args.s3_checksum.map(|c| match c {
        ChecksumArg::WhenSupported => ChecksumMode::WhenSupported,
        ChecksumArg::WhenRequired => ChecksumMode::WhenRequired,
    });
    config.multipart_threshold = args.s3_multipart_threshold * 1024 * 1024;
    config.public_url_base = public_url_base.cloned();
    config
}

async fn provider(
    config: S3Config,
    spec: &str,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    cubeship_s3::provider(config).await.map_err(|e| {
        InputError::new(format!("{spec}: {e}"))
            .hint("see docs/providers/s3.md for credentials, regions and endpoints")
    })
}

/// Builds the provider for `--to s3://BUCKET/PREFIX` (`rest` is `BUCKET/PREFIX`).
pub async fn build(
    rest: &str,
    args: &S3Args,
    public_url_base: Option<&url::Url>,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    let spec = format!("s3://{rest}");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    check_bucket(bucket, &spec)?;
    provider(config(bucket, prefix, args, public_url_base), &spec).await
}

pub async fn run(command: S3Command, global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        S3Command::Upload {
            upload,
            bucket,
            prefix,
            s3,
            public_url_base,
        } => {
            let spec = format!("--bucket {bucket}");
            check_bucket(&bucket, &spec)?;
            let provider = provider(
                config(&bucket, &prefix, &s3, public_url_base.as_ref()),
                &spec,
            )
            .await?;
            let target = crate::publish::Target {
                spec: provider.describe(),
                provider,
            };
            super::run_upload(target, &upload, global).await
        }
    }
}
