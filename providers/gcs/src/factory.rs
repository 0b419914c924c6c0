//! How Google Cloud Storage plugs in: `gs://BUCKET/PREFIX` destinations, its options declared
//! once (endpoint and emulator detection, public access mode), and the configured provider.

use std::sync::Arc;

use cubeship_provider::http::parse_http_url;
use cubeship_provider::{
    BUCKET_UPLOAD_OPTIONS, Destination, InputError, OptionSpec, PUBLIC_URL_BASE, Provider,
    ProviderFactory, Settings, bucket_and_prefix,
};

use crate::{GcsConfig, GcsProvider, PublicAccess};

/// The variable Google's other storage clients read to talk to an emulator; the Rust crate
/// does not, so cubeship does.
pub const EMULATOR_ENV: &str = "STORAGE_EMULATOR_HOST";

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::text(
        "endpoint",
        "URL",
        "The Cloud Storage endpoint, e.g. an emulator (http://127.0.0.1:4443); a plain-http endpoint gets no credentials [default: Google]",
    ),
    OptionSpec::env_only(
        "emulator-host",
        &[EMULATOR_ENV],
        "host:port of a storage emulator, used without credentials when --endpoint is not given (as Google's other clients read it)",
    ),
    OptionSpec::choice(
        "predefined-acl",
        &[
            (
                "publicRead",
                "allUsers may read each object (buckets with fine-grained access; uniform buckets rely on IAM)",
            ),
            (
                "none",
                "no ACL: the bucket's IAM policy decides (e.g. allUsers as roles/storage.objectViewer)",
            ),
        ],
        "How uploaded objects are made public",
    )
    .with_default("publicRead"),
    PUBLIC_URL_BASE,
];

/// The factory the application registers: `gs://BUCKET/PREFIX` destinations and
/// `cubeship gcs upload`.
pub static FACTORY: ProviderFactory = ProviderFactory {
    name: "gcs",
    title: "Google Cloud Storage",
    destination_syntax: "gs://BUCKET/PREFIX",
    prefixes: &["gs://"],
    options: OPTIONS,
    upload_options: BUCKET_UPLOAD_OPTIONS,
    log_directives: &[],
    container_registry: None,
    opener: |destination, settings| Box::pin(open(destination, settings)),
};

async fn open(
    destination: Destination<'_>,
    settings: &Settings,
) -> Result<Arc<dyn Provider>, InputError> {
    let (bucket, prefix, shown) = bucket_and_prefix(destination, settings, "gs://");
    if bucket.is_empty() {
        return Err(InputError::new(format!("{shown}: no bucket"))
            .hint("write it as gs://BUCKET or gs://BUCKET/PREFIX"));
    }
    check_bucket(&bucket, &shown)?;
    let (endpoint, anonymous) = resolve_endpoint(settings)?;
    let config = GcsConfig {
        prefix: prefix
            .split('/')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("/"),
        bucket: bucket.clone(),
        endpoint,
        anonymous,
        public_access: match settings.text("predefined-acl") {
            Some("none") => PublicAccess::BucketIam,
            _ => PublicAccess::PublicReadAcl,
        },
        public_url_base: settings
            .text(PUBLIC_URL_BASE.name)
            .map(|raw| parse_http_url(raw, "--public-url-base"))
            .transpose()?,
        retry: settings.retry(),
        timeouts: settings.timeouts(),
    };
    let provider = GcsProvider::new(config).await.map_err(|e| {
        InputError::new(format!("gs://{bucket}: {e}"))
            .hint("see docs/providers/gcs.md for credentials and emulators")
    })?;
    Ok(Arc::new(provider))
}

/// Checks a bucket name against Cloud Storage's rules, enough to catch typos and URLs.
fn check_bucket(bucket: &str, shown: &str) -> Result<(), InputError> {
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
            InputError::new(format!("{shown}: `{bucket}` is not a Cloud Storage bucket name"))
                .hint("bucket names have 3-63 lower-case letters, digits, -, _ or . (222 with dots), and start and end with a letter or digit"),
        )
    }
}

/// The endpoint to use and whether it is an emulator (no credentials).
fn resolve_endpoint(settings: &Settings) -> Result<(Option<url::Url>, bool), InputError> {
    if let Some(raw) = settings.text("endpoint") {
        let endpoint = parse_http_url(raw, "--endpoint").map_err(|e| {
            e.hint("give the server's base URL, as in --endpoint http://127.0.0.1:4443")
        })?;
        // Bearer tokens never travel over plain HTTP: an http endpoint is an emulator.
        let anonymous = endpoint.scheme() == "http";
        return Ok((Some(endpoint), anonymous));
    }
    let Some(value) = settings.text("emulator-host") else {
        return Ok((None, false));
    };
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let url = parse_http_url(&with_scheme, EMULATOR_ENV).map_err(|_| {
        InputError::new(format!("{EMULATOR_ENV}={value} is not a host:port or URL")).hint(format!(
            "set it like {EMULATOR_ENV}=127.0.0.1:4443, or unset it to use Google Cloud Storage"
        ))
    })?;
    Ok((Some(url), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &'static [(&'static str, &'static str)]) -> Settings {
        let given = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| vec![v.to_string()])
        };
        Settings::resolve(OPTIONS, &given, Arc::new(|_| None))
    }

    #[test]
    fn bucket_names_are_checked() {
        assert!(check_bucket("my-bucket.example_1", "--bucket").is_ok());
        for bad in ["", "ab", "My-Bucket", "gs://b", "-bucket", "bucket-", "a/b"] {
            assert!(check_bucket(bad, "--bucket").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_http_endpoint_is_an_emulator_and_https_keeps_credentials() {
        let emulator = settings(&[("endpoint", "http://127.0.0.7")]);
        assert!(resolve_endpoint(&emulator).unwrap().1);
        let google = settings(&[("endpoint", "https://private.googleapis.com")]);
        assert!(!resolve_endpoint(&google).unwrap().1);
        let ftp = settings(&[("endpoint", "ftp://x")]);
        assert!(resolve_endpoint(&ftp).is_err());
    }
}
