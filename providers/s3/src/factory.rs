//! How S3 plugs in: its `s3://BUCKET/PREFIX` destinations, its options declared once, the
//! checks of what the user gave, and the configured provider.

use std::sync::Arc;

use cubeship_provider::http::parse_http_url;
use cubeship_provider::{
    BUCKET_UPLOAD_OPTIONS, Destination, InputError, OptionSpec, PUBLIC_URL_BASE, Provider,
    ProviderFactory, Settings, bucket_and_prefix,
};

use crate::{AclMode, ChecksumMode, S3Config, S3Provider};

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::text(
        "region",
        "REGION",
        "AWS region of the bucket [default: from the profile]",
    )
    .with_env(&["AWS_REGION"]),
    OptionSpec::text(
        "endpoint-url",
        "URL",
        "S3-compatible endpoint (MinIO, Ceph, R2, B2…); URLs are path-style",
    )
    .with_env(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]),
    OptionSpec::text(
        "profile",
        "NAME",
        "Named profile from ~/.aws/config and ~/.aws/credentials",
    )
    .with_env(&["AWS_PROFILE"]),
    OptionSpec::choice(
        "acl",
        &[
            (
                "public-read",
                "send x-amz-acl: public-read (without, if the bucket has ACLs disabled)",
            ),
            (
                "none",
                "send no ACL; the bucket policy must make objects public",
            ),
        ],
        "Object ACL sent with uploads",
    )
    .with_default("public-read"),
    OptionSpec::choice(
        "s3-checksum",
        &[
            (
                "when-supported",
                "CRC32 checksums on every upload (AWS's default since SDK 1.69)",
            ),
            (
                "when-required",
                "checksums only where S3 requires them (what most S3-compatible stores handle)",
            ),
        ],
        "Request checksums [default: when-required for custom endpoints, when-supported on AWS]",
    )
    .with_env(&["AWS_REQUEST_CHECKSUM_CALCULATION"]),
    OptionSpec::text(
        "s3-multipart-threshold",
        "MiB",
        "Files of at least this many MiB (5 or more) go as parallel multipart uploads",
    )
    .with_default("64"),
    PUBLIC_URL_BASE,
    OptionSpec::env_only(
        "access-key-id",
        &["AWS_ACCESS_KEY_ID"],
        "Access key id, with AWS_SECRET_ACCESS_KEY [default: the AWS credential chain]",
    ),
    OptionSpec::secret_env(
        "secret-access-key",
        &["AWS_SECRET_ACCESS_KEY"],
        "Secret access key, with AWS_ACCESS_KEY_ID",
    ),
    OptionSpec::secret_env(
        "session-token",
        &["AWS_SESSION_TOKEN"],
        "Session token of temporary credentials",
    ),
];

/// The factory the application registers: `s3://BUCKET/PREFIX` destinations and
/// `cubeship s3 upload`.
pub static FACTORY: ProviderFactory = ProviderFactory {
    name: "s3",
    title: "Amazon S3 and S3-compatible stores",
    destination_syntax: "s3://BUCKET/PREFIX",
    prefixes: &["s3://"],
    options: OPTIONS,
    upload_options: BUCKET_UPLOAD_OPTIONS,
    // aws-config warns about every profile file it does not find.
    log_directives: &["aws_config=error", "aws_smithy_runtime=warn"],
    container_registry: None,
    opener: |destination, settings| Box::pin(open(destination, settings)),
};

async fn open(
    destination: Destination<'_>,
    settings: &Settings,
) -> Result<Arc<dyn Provider>, InputError> {
    let (bucket, prefix, shown) = bucket_and_prefix(destination, settings, "s3://");
    check_bucket(&bucket, &shown)?;
    let config = config(bucket, &prefix, settings)?;
    let provider = S3Provider::new(config).await.map_err(|e| {
        InputError::new(format!("{shown}: {e}"))
            .hint("see docs/providers/s3.md for credentials, regions and endpoints")
    })?;
    Ok(Arc::new(provider))
}

/// Checks a bucket name against S3's rules, so a typo fails before any request.
fn check_bucket(bucket: &str, shown: &str) -> Result<(), InputError> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' || c == '_'
        })
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(InputError::new(format!("{shown}: `{bucket}` is not a valid S3 bucket name"))
            .hint("bucket names have 3-63 lower-case letters, digits, dots and hyphens, as in s3://my-bucket/models"))
    }
}

fn config(bucket: String, prefix: &str, settings: &Settings) -> Result<S3Config, InputError> {
    let mut config = S3Config::new(bucket, prefix);
    config.region = settings.text("region").map(str::to_string);
    config.endpoint_url = settings
        .text("endpoint-url")
        .map(|raw| parse_http_url(raw, &origin(settings, "endpoint-url")))
        .transpose()?;
    config.profile = settings.text("profile").map(str::to_string);
    config.acl = match settings.text("acl") {
        Some("none") => AclMode::None,
        _ => AclMode::PublicRead,
    };
    config.checksum = match settings.text("s3-checksum").map(|v| v.replace('_', "-")) {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("when-supported") => Some(ChecksumMode::WhenSupported),
        Some(v) if v.eq_ignore_ascii_case("when-required") => Some(ChecksumMode::WhenRequired),
        Some(v) => {
            return Err(InputError::new(format!(
                "{} {v}: expected when-supported or when-required",
                origin(settings, "s3-checksum")
            )));
        }
    };
    let threshold: u64 = settings
        .parsed("s3-multipart-threshold", "a whole number of MiB")?
        .unwrap_or(64);
    if threshold < 5 {
        return Err(InputError::new(format!(
            "--s3-multipart-threshold {threshold}: S3 parts are at least 5 MiB"
        ))
        .hint("give 5 or more"));
    }
    config.multipart_threshold = threshold * 1024 * 1024;
    config.public_url_base = settings
        .text(PUBLIC_URL_BASE.name)
        .map(|raw| parse_http_url(raw, "--public-url-base"))
        .transpose()?;
    if let (Some(id), Some(secret)) = (
        settings.text("access-key-id"),
        settings.secret("secret-access-key"),
    ) {
        config.static_credentials = Some(crate::StaticCredentials {
            access_key_id: id.to_string(),
            secret_access_key: secret,
            session_token: settings.secret("session-token"),
        });
    }
    config.retry = settings.retry();
    config.timeouts = settings.timeouts();
    Ok(config)
}

fn origin(settings: &Settings, name: &str) -> String {
    settings
        .origin(name)
        .map(|o| o.to_string())
        .unwrap_or_else(|| format!("--{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(check_bucket("my-bucket.v2", "--bucket").is_ok());
        for bad in ["", "ab", "Bad_Bucket!", "-x-bucket", "bucket-"] {
            assert!(check_bucket(bad, "--bucket").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_environment_spelling_of_the_checksum_mode_is_accepted() {
        let env =
            cubeship_provider::env_from(&[("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")]);
        let settings = Settings::from_env(OPTIONS, env);
        let config = config("b".into(), "", &settings).unwrap();
        assert_eq!(config.checksum, Some(ChecksumMode::WhenRequired));
        assert_eq!(config.multipart_threshold, 64 * 1024 * 1024);
    }
}
