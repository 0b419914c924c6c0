//! Verification the way MedPerf downloads: for direct URLs an anonymous GET, redirects
//! followed, status 200 only; for resources MedPerf fetches with the user's own login
//! the provider's own download; then the hash of the body compared with what we publish.

use std::path::Path;

use cubeship_provider::http::{self, Download};
use cubeship_provider::{EnvLookup, Error, Provider, RetryPolicy, Settings};
use url::Url;

use crate::destinations::factory_for;
use crate::error::InputError;
use crate::publish::HashKind;
use crate::report::PublishReport;

/// The result of checking one URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 200 and the expected hash.
    Verified,
    /// 200 but other bytes.
    WrongContent {
        /// What was served.
        sha256: String,
        /// How many bytes were served.
        size: u64,
    },
    /// Not 200.
    Status(u16),
}

/// Checks that `url`, downloaded by `provider` as MedPerf will, serves content with `sha256`.
pub async fn verify_with(
    provider: &dyn Provider,
    url: &Url,
    sha256: &str,
) -> Result<Verdict, Error> {
    Ok(match provider.download(url).await? {
        Download::Ok { sha256: got, .. } if got.eq_ignore_ascii_case(sha256) => Verdict::Verified,
        Download::Ok {
            sha256: got, size, ..
        } => Verdict::WrongContent { sha256: got, size },
        Download::Status(status) => Verdict::Status(status),
    })
}

/// One URL to check and the hash it must have.
#[derive(Clone, Debug)]
pub struct Check {
    /// The URL as registered with MedPerf.
    pub url: Url,
    /// Lower-case hex.
    pub expected: String,
    /// Which hash `expected` is.
    pub hash: HashKind,
}

/// The outcome of one check, as `cubeship verify` reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckResult {
    /// The URL checked (its query string hidden: it may be presigned).
    pub url: String,
    /// The hash expected.
    pub expected: String,
    /// Downloaded with status 200 and the expected hash.
    pub verified: bool,
    /// `ok`, or what went wrong.
    pub detail: String,
}

/// What `cubeship verify TARGET` checks: one URL with `--sha256`/`--sha1`, or every URL of a
/// `publish.json`.
pub fn checks_for(
    target: &str,
    sha256: Option<&str>,
    sha1: Option<&str>,
) -> Result<Vec<Check>, InputError> {
    let looks_like_url = target.contains("://") || factory_for(target).is_some();
    if looks_like_url && !Path::new(target).exists() {
        let url = Url::parse(target)
            .map_err(|e| InputError::new(format!("{target} is not a valid URL: {e}")))?;
        let (expected, hash) = match (sha256, sha1) {
            (Some(h), None) => (normalise_hex(h, 64, "--sha256")?, HashKind::Sha256),
            (None, Some(h)) => (normalise_hex(h, 40, "--sha1")?, HashKind::Sha1),
            _ => {
                return Err(InputError::new(format!(
                    "verify {target}: give exactly one of --sha256 or --sha1"
                ))
                .hint("the hash is the one you register with MedPerf"));
            }
        };
        return Ok(vec![Check {
            url,
            expected,
            hash,
        }]);
    }
    let text = std::fs::read_to_string(target).map_err(|e| {
        InputError::new(format!("cannot read {target}: {e}"))
            .hint("give a publish.json written by cubeship, or a URL with --sha256")
    })?;
    let report: PublishReport = serde_json::from_str(&text).map_err(|e| {
        InputError::new(format!("{target} is not a cubeship publish report: {e}"))
            .hint("give the publish.json from a deploy folder")
    })?;
    let checks: Vec<Check> = report
        .components
        .iter()
        .flat_map(|component| {
            component.uploads.iter().filter_map(|upload| {
                let url = Url::parse(upload.url.as_deref()?).ok()?;
                Some(Check {
                    url,
                    expected: component.sha256.clone(),
                    hash: HashKind::Sha256,
                })
            })
        })
        .collect();
    if checks.is_empty() {
        return Err(InputError::new(format!("{target} lists no published URL")));
    }
    Ok(checks)
}

/// Downloads `url` as MedPerf will: through the provider whose resources MedPerf fetches with
/// the user's login (opened from `env`), else anonymously.
async fn download(url: &Url, env: &EnvLookup) -> Result<Download, Error> {
    if matches!(url.scheme(), "http" | "https" | "file") {
        return http::download_anonymously(url).await;
    }
    let Some(factory) = factory_for(url.as_str()) else {
        return Err(Error::new(
            cubeship_provider::ErrorKind::InvalidInput,
            format!("{url}: MedPerf cannot download this kind of URL"),
        ));
    };
    let settings =
        Settings::from_env(factory.options, env.clone()).with_retry(RetryPolicy::default());
    let provider = factory
        .open(
            cubeship_provider::Destination::Spec(url.as_str()),
            &settings,
        )
        .await
        .map_err(|e| Error::new(cubeship_provider::ErrorKind::InvalidInput, e.to_string()))?;
    provider.download(url).await
}

/// Runs `checks` one after the other.
pub async fn run_checks(checks: &[Check], env: &EnvLookup) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for check in checks {
        let (verified, detail) = match download(&check.url, env).await {
            Ok(Download::Ok { size, sha256, sha1 }) => {
                let (kind, got) = match check.hash {
                    HashKind::Sha1 => ("sha1", sha1),
                    HashKind::Sha256 => ("sha256", sha256),
                };
                if got == check.expected {
                    (true, "ok".to_string())
                } else {
                    (
                        false,
                        format!("content differs: {size} bytes with {kind} {got}"),
                    )
                }
            }
            Ok(Download::Status(status)) => (false, format!("the download answered HTTP {status}")),
            Err(e) => (false, e.to_string()),
        };
        results.push(CheckResult {
            url: http::display_url(&check.url),
            expected: check.expected.clone(),
            verified,
            detail,
        });
    }
    results
}

fn normalise_hex(value: &str, len: usize, option: &str) -> Result<String, InputError> {
    let value = value.trim().to_ascii_lowercase();
    if value.len() != len || !value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(InputError::new(format!(
            "{option} {value}: expected {len} hexadecimal digits"
        )));
    }
    Ok(value)
}
