//! Verification the way MedPerf downloads: for direct URLs an anonymous GET, redirects
//! followed, status 200 only; for resources MedPerf fetches with the user's own login
//! the provider's own download; then the hash of the body compared with what we publish. The
//! link doctor (`crate::linkdoctor`) reads the URL before and the answer after, and says why
//! MedPerf could not use a link and which URL it could.

use std::path::Path;
use std::time::Instant;

use cubeship_provider::digest::{self, Digests};
use cubeship_provider::http::{self, Download, display_url};
use cubeship_provider::ranged::{self, FetchOptions};
use cubeship_provider::{EnvLookup, Error, ErrorKind, Provider, RetryPolicy, Settings};
use url::Url;

use crate::destinations::factory_for;
use crate::error::InputError;
use crate::linkdoctor::{self, Finding, Severity, strip_direct};
use crate::publish::HashKind;
use crate::report::PublishReport;
use crate::reporter::{NoReporter, Reporter};

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
    /// The URL as registered with MedPerf (`direct:` removed).
    pub url: Url,
    /// Lower-case hex; `None` when only the link itself is checked (`verify URL` without a hash).
    pub expected: Option<String>,
    /// Which hash `expected` is.
    pub hash: HashKind,
}

/// The outcome of one check, as `cubeship verify` reports it (docs/report.md).
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckResult {
    /// The URL checked (its query string hidden: it may be presigned).
    pub url: String,
    /// The hash expected; `null` when none was given.
    pub expected: Option<String>,
    /// `"sha256"` or `"sha1"`: which hash `expected` is.
    pub hash: &'static str,
    /// Downloaded with status 200 and the expected hash.
    pub verified: bool,
    /// The check passed: verified (or, without a hash, downloadable), and no finding of
    /// severity `error`. The exit code is 0 only when every check passed.
    pub ok: bool,
    /// `ok`, or what went wrong.
    pub detail: String,
    /// The final HTTP status (after redirects); `null` when no answer came or for non-HTTP URLs.
    pub status: Option<u16>,
    /// The Content-Type of the answer, when HTTP gave one.
    pub content_type: Option<String>,
    /// Where the redirects ended, when elsewhere than `url` (query hidden).
    pub final_url: Option<String>,
    /// Bytes downloaded (status 200 only).
    pub size: Option<u64>,
    /// sha256 of what was downloaded (status 200 only).
    pub sha256: Option<String>,
    /// sha1 of what was downloaded (status 200 only).
    pub sha1: Option<String>,
    /// Seconds the download took, from the request to the last byte.
    pub seconds: Option<f64>,
    /// `size / seconds`.
    pub bytes_per_second: Option<f64>,
    /// How many parallel ranged GETs the body came in (docs/reliability.md, "Verification
    /// downloads"); `null` when it came as one plain stream or not over HTTP.
    pub ranged_requests: Option<u32>,
    /// What the link doctor noticed (share links, presigned URLs, HTML pages), worst first.
    pub findings: Vec<Finding>,
    /// The URL to register instead, when a finding could derive one.
    pub fixed_url: Option<String>,
    /// With `--try-fixed`: the same check of `fixed_url`, when this one failed and a fixed URL
    /// was derived. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_check: Option<Box<CheckResult>>,
}

/// What `cubeship verify TARGET` checks: one URL (plain or `direct:`) with an optional
/// `--sha256`/`--sha1`, or every URL of a `publish.json`.
pub fn checks_for(
    target: &str,
    sha256: Option<&str>,
    sha1: Option<&str>,
) -> Result<Vec<Check>, InputError> {
    let resource = strip_direct(target);
    let looks_like_url = resource.contains("://") || factory_for(resource).is_some();
    if looks_like_url && !Path::new(target).exists() {
        let url = Url::parse(resource)
            .map_err(|e| InputError::new(format!("{target} is not a valid URL: {e}")))?;
        let (expected, hash) = match (sha256, sha1) {
            (Some(h), None) => (Some(normalise_hex(h, 64, "--sha256")?), HashKind::Sha256),
            (None, Some(h)) => (Some(normalise_hex(h, 40, "--sha1")?), HashKind::Sha1),
            (None, None) => (None, HashKind::Sha256),
            (Some(_), Some(_)) => {
                return Err(InputError::new(format!(
                    "verify {target}: give --sha256 or --sha1, not both"
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
    if sha256.is_some() || sha1.is_some() {
        return Err(InputError::new(format!(
            "verify {target}: --sha256/--sha1 go with a URL; a publish.json holds its own hashes"
        )));
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
                    expected: Some(component.sha256.clone()),
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

/// How many bytes of a body the link doctor reads for HTML detection.
const HEAD_BYTES: usize = 8 * 1024;

/// One download as the link doctor sees it.
struct Fetched {
    status: Option<u16>,
    content_type: Option<String>,
    final_url: Option<Url>,
    body: Option<(Digests, Vec<u8>)>,
    ranged_requests: Option<u32>,
    seconds: f64,
}

/// An anonymous GET, redirects followed (MedPerf's download), hashing as it streams (over
/// parallel ranged GETs for a large object on a server that answers ranges) and keeping the
/// body's first bytes and the Content-Type.
async fn fetch_http(
    client: &reqwest::Client,
    url: &Url,
    reporter: &dyn Reporter,
) -> Result<Fetched, Error> {
    let started = Instant::now();
    let name = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| url.host_str().unwrap_or_default());
    let label = format!("verifying {name}");
    let progress = |total: u64| reporter.transfer_started(&label, total);
    let options = FetchOptions {
        head_bytes: HEAD_BYTES,
        progress: &progress,
        ..FetchOptions::plain()
    };
    let fetched = ranged::fetch_and_hash(client, url, &options).await?;
    Ok(Fetched {
        status: Some(fetched.status),
        content_type: fetched.content_type,
        final_url: (&fetched.final_url != url).then_some(fetched.final_url),
        ranged_requests: fetched
            .body
            .as_ref()
            .map(|body| body.ranged_requests)
            .filter(|n| *n > 0),
        body: fetched.body.map(|body| {
            (
                Digests {
                    size: body.size,
                    sha256: body.sha256,
                    sha1: body.sha1,
                    crc32c: 0,
                },
                body.head,
            )
        }),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Downloads `url` as MedPerf will: http(s) anonymously (retried like MedPerf retries),
/// `file://` from disk, and the provider's own download for resources MedPerf fetches with the
/// user's login (opened from `env`).
async fn fetch(url: &Url, env: &EnvLookup, reporter: &dyn Reporter) -> Result<Fetched, Error> {
    let started = Instant::now();
    match url.scheme() {
        "http" | "https" => {
            let client = http::anonymous_client()?;
            let what = format!("GET {}", display_url(url));
            // A 429 or 5xx is a server in trouble, not an answer about the object: tried again
            // like a dropped connection (as publish's verification does), and reported as the
            // status it kept giving once the attempts are spent.
            let last_transient = std::sync::Mutex::new(None);
            let outcome = RetryPolicy::from_env(env)
                .unwrap_or_default()
                .run(&what, |_| async {
                    let fetched = fetch_http(&client, url, reporter).await?;
                    match fetched.status {
                        Some(status) if http::is_transient_status(status) => {
                            *last_transient.lock().unwrap_or_else(|e| e.into_inner()) =
                                Some(fetched);
                            Err(Error::from_status(status, format!("{what}: HTTP {status}"))
                                .retryable(true))
                        }
                        _ => Ok(fetched),
                    }
                })
                .await;
            return match outcome {
                Err(error) if error.status.is_some() => last_transient
                    .into_inner()
                    .unwrap_or_else(|e| e.into_inner())
                    .ok_or(error),
                other => other,
            };
        }
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| Error::new(ErrorKind::InvalidInput, format!("bad file URL {url}")))?;
            let body = std::fs::File::open(&path).and_then(|mut file| {
                let mut head = vec![0; HEAD_BYTES];
                let n = std::io::Read::read(&mut file, &mut head)?;
                head.truncate(n);
                Ok((digest::hash_file(&path)?, head))
            });
            return Ok(Fetched {
                status: None,
                content_type: None,
                final_url: None,
                body: body.ok(),
                ranged_requests: None,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        _ => {}
    }
    let Some(factory) = factory_for(url.as_str()) else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{url}: MedPerf cannot download this kind of URL"),
        ));
    };
    let settings = Settings::from_env(factory.options, env.clone())
        .with_retry(RetryPolicy::from_env(env).unwrap_or_default());
    let provider = factory
        .open(
            cubeship_provider::Destination::Spec(url.as_str()),
            &settings,
        )
        .await
        .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
    let download = provider.download(url).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(match download {
        Download::Ok { size, sha256, sha1 } => Fetched {
            status: None,
            content_type: None,
            final_url: None,
            body: Some((
                Digests {
                    size,
                    sha256,
                    sha1,
                    crc32c: 0,
                },
                Vec::new(),
            )),
            ranged_requests: None,
            seconds,
        },
        Download::Status(status) => Fetched {
            status: Some(status),
            content_type: None,
            final_url: None,
            body: None,
            ranged_requests: None,
            seconds,
        },
    })
}

/// Checks one URL: the link doctor on the URL, the download, the hash, and the link doctor on
/// what came back.
pub async fn run_check(check: &Check, env: &EnvLookup, reporter: &dyn Reporter) -> CheckResult {
    let mut findings = linkdoctor::diagnose_url(&check.url);
    let mut result = CheckResult {
        url: display_url(&check.url),
        expected: check.expected.clone(),
        hash: match check.hash {
            HashKind::Sha1 => "sha1",
            HashKind::Sha256 => "sha256",
        },
        verified: false,
        ok: false,
        detail: String::new(),
        status: None,
        content_type: None,
        final_url: None,
        size: None,
        sha256: None,
        sha1: None,
        seconds: None,
        bytes_per_second: None,
        ranged_requests: None,
        findings: Vec::new(),
        fixed_url: None,
        fixed_check: None,
    };
    let mut downloadable = false;
    match fetch(&check.url, env, reporter).await {
        Ok(fetched) => {
            result.status = fetched.status;
            result.content_type = fetched.content_type.clone();
            result.final_url = fetched.final_url.as_ref().map(display_url);
            result.seconds = Some(fetched.seconds);
            result.ranged_requests = fetched.ranged_requests;
            match (&fetched.body, fetched.status) {
                (Some((digests, head)), _) => {
                    downloadable = true;
                    result.size = Some(digests.size);
                    result.sha256 = Some(digests.sha256.clone());
                    result.sha1 = Some(digests.sha1.clone());
                    if fetched.seconds > 0.0 {
                        result.bytes_per_second = Some(digests.size as f64 / fetched.seconds);
                    }
                    let got = match check.hash {
                        HashKind::Sha1 => &digests.sha1,
                        HashKind::Sha256 => &digests.sha256,
                    };
                    result.verified = check.expected.as_deref() == Some(got.as_str());
                    result.detail = match &check.expected {
                        Some(_) if result.verified => "ok".to_string(),
                        Some(_) => format!(
                            "content differs: {} bytes with {} {got}",
                            digests.size, result.hash
                        ),
                        None => "downloadable (no hash given to compare)".to_string(),
                    };
                    // Bytes that match the registered hash are the file, whatever they look like.
                    if !result.verified
                        && let Some(finding) = linkdoctor::diagnose_body(
                            &check.url,
                            fetched.content_type.as_deref(),
                            head,
                        )
                    {
                        findings.insert(0, finding);
                    }
                }
                (None, Some(status)) => {
                    result.detail = format!("the download answered HTTP {status}");
                }
                (None, None) => result.detail = "not found".to_string(),
            }
        }
        Err(e) => result.detail = e.to_string(),
    }
    findings.sort_by_key(|f| f.severity != Severity::Error);
    let blocking = findings.iter().any(|f| f.severity == Severity::Error);
    result.ok = !blocking && (result.verified || (check.expected.is_none() && downloadable));
    result.fixed_url = findings.iter().find_map(|f| f.fixed_url.clone());
    if result.ok && result.detail.is_empty() {
        result.detail = "ok".to_string();
    }
    result.findings = findings;
    result
}

/// Runs `checks` one after the other, reporting nowhere.
pub async fn run_checks(checks: &[Check], env: &EnvLookup) -> Vec<CheckResult> {
    run_checks_reporting(checks, env, &NoReporter, false).await
}

/// Runs `checks` one after the other; each HTTP download's bytes go to `reporter` (bytes,
/// rate and ETA on the CLI's bars). With `try_fixed`, a failed check whose link doctor
/// derived a fixed URL also checks that URL (`CheckResult::fixed_check`).
pub async fn run_checks_reporting(
    checks: &[Check],
    env: &EnvLookup,
    reporter: &dyn Reporter,
    try_fixed: bool,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for check in checks {
        let mut result = run_check(check, env, reporter).await;
        if try_fixed
            && !result.ok
            && let Some(fixed) = result.fixed_url.as_deref().and_then(|u| Url::parse(u).ok())
            && fixed != check.url
        {
            let again = Check {
                url: fixed,
                expected: check.expected.clone(),
                hash: check.hash,
            };
            result.fixed_check = Some(Box::new(run_check(&again, env, reporter).await));
        }
        results.push(result);
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
