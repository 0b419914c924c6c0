//! Verification the way MedPerf downloads: an anonymous GET, redirects followed, status 200
//! only, and the hash of the body compared with what we publish. `file://` URLs (the `dir:`
//! provider) are read from disk.

use std::path::Path;

use cubeship_provider::http::{self, Download};
use cubeship_provider::{Error, RetryPolicy};
use url::Url;

use crate::cli::GlobalArgs;
use crate::error::{InputError, exit};
use crate::report::PublishReport;

/// The result of checking one URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 200 and the expected hash.
    Verified,
    /// 200 but other bytes.
    WrongContent { sha256: String, size: u64 },
    /// Not 200.
    Status(u16),
}

/// Downloads `url` with no credentials and returns its size and hashes, or the failing status.
/// Transport errors are retried by the shared policy (MedPerf retries too).
pub async fn fetch_anonymously(client: &reqwest::Client, url: &Url) -> Result<Download, Error> {
    if url.scheme() == "file" {
        let path = url.to_file_path().map_err(|()| {
            Error::new(
                cubeship_provider::ErrorKind::InvalidInput,
                format!("bad file URL {url}"),
            )
        })?;
        return Ok(match hash_file(&path) {
            Ok(digests) => Download::Ok {
                size: digests.size,
                sha256: digests.sha256,
                sha1: digests.sha1,
            },
            Err(_) => Download::Status(404),
        });
    }
    RetryPolicy::default()
        .run(&format!("GET {url}"), |_| {
            http::download_and_hash(client, url)
        })
        .await
}

/// Checks that `url` serves content with `sha256`.
pub async fn verify_url(
    client: &reqwest::Client,
    url: &Url,
    sha256: &str,
) -> Result<Verdict, Error> {
    Ok(match fetch_anonymously(client, url).await? {
        Download::Ok { sha256: got, .. } if got.eq_ignore_ascii_case(sha256) => Verdict::Verified,
        Download::Ok {
            sha256: got, size, ..
        } => Verdict::WrongContent { sha256: got, size },
        Download::Status(status) => Verdict::Status(status),
    })
}

/// Size and hashes of a local file, streamed.
pub fn hash_file(path: &Path) -> std::io::Result<crate::hashing::Digests> {
    let mut file = std::fs::File::open(path)?;
    crate::hashing::copy_hashed(&mut file, std::io::sink()).map(|(_, digests)| digests)
}

#[derive(serde::Serialize)]
struct VerifyLine {
    url: String,
    expected: String,
    verified: bool,
    detail: String,
}

/// `cubeship verify <publish.json | URL --sha256 HEX>`.
pub async fn run_command(
    target: &str,
    sha256: Option<&str>,
    sha1: Option<&str>,
    global: &GlobalArgs,
) -> anyhow::Result<u8> {
    let client = http::anonymous_client()?;
    let mut checks: Vec<(Url, String, bool)> = Vec::new(); // (url, hex, is_sha1)
    if target.contains("://") && !Path::new(target).exists() {
        let url = Url::parse(target)
            .map_err(|e| InputError::new(format!("{target} is not a valid URL: {e}")))?;
        match (sha256, sha1) {
            (Some(h), None) => checks.push((url, normalise_hex(h, 64, "--sha256")?, false)),
            (None, Some(h)) => checks.push((url, normalise_hex(h, 40, "--sha1")?, true)),
            _ => {
                return Err(InputError::new(format!(
                    "verify {target}: give exactly one of --sha256 or --sha1"
                ))
                .hint("the hash is the one you register with MedPerf")
                .into());
            }
        }
    } else {
        let path = Path::new(target);
        let text = std::fs::read_to_string(path).map_err(|e| {
            InputError::new(format!("cannot read {target}: {e}"))
                .hint("give a publish.json written by cubeship, or a URL with --sha256")
        })?;
        let report: PublishReport = serde_json::from_str(&text).map_err(|e| {
            InputError::new(format!("{target} is not a cubeship publish report: {e}"))
                .hint("give the publish.json from a deploy folder")
        })?;
        for component in &report.components {
            for upload in &component.uploads {
                if let Some(url) = upload.url.as_deref().and_then(|u| Url::parse(u).ok()) {
                    checks.push((url, component.sha256.clone(), false));
                }
            }
        }
        if checks.is_empty() {
            return Err(InputError::new(format!("{target} lists no published URL")).into());
        }
    }

    let mut lines = Vec::new();
    let mut all_ok = true;
    for (url, expected, is_sha1) in checks {
        let (verified, detail) = match fetch_anonymously(&client, &url).await {
            Ok(Download::Ok { size, sha256, sha1 }) => {
                let (kind, got) = if is_sha1 {
                    ("sha1", sha1)
                } else {
                    ("sha256", sha256)
                };
                if got == expected {
                    (true, "ok".to_string())
                } else {
                    (
                        false,
                        format!("content differs: {size} bytes with {kind} {got}"),
                    )
                }
            }
            Ok(Download::Status(status)) => {
                (false, format!("anonymous GET answered HTTP {status}"))
            }
            Err(e) => (false, e.to_string()),
        };
        all_ok &= verified;
        lines.push(VerifyLine {
            url: url.to_string(),
            expected,
            verified,
            detail,
        });
    }
    if global.json {
        crate::cli::print_json(&lines)?;
    } else if !global.quiet {
        for line in &lines {
            if line.verified {
                println!("verified  {}", line.url);
            } else {
                println!("FAILED    {}\n          {}", line.url, line.detail);
            }
        }
    }
    Ok(if all_ok { exit::OK } else { exit::FAILED })
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
