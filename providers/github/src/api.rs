//! The few GitHub REST calls cubeship needs (repository, releases, release assets), each run
//! under the shared retry policy and classified by the shared status mapping.

use std::sync::Arc;

use cubeship_provider::http::{error_from_response, file_body, transport_error};
use cubeship_provider::secret::redact;
use cubeship_provider::timeouts::within_timeouts;
use cubeship_provider::{BodyWatch, Timeouts};
use cubeship_provider::{Error, ErrorKind, Progress, Result, RetryPolicy, Secret};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

/// The REST API version whose shapes this module was written against.
const API_VERSION: &str = "2022-11-28";
/// GitHub's largest page; fewer round trips for releases with many assets.
const PAGE_SIZE: usize = 100;
/// GitHub's advice for a secondary rate limit without Retry-After: wait at least a minute.
const SECONDARY_RATE_LIMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// A repository with more releases than this is searched by tag only (drafts beyond it are
/// not found), so that a lookup never walks an unbounded history.
const MAX_RELEASE_PAGES: usize = 10;

/// What `GET /repos/{owner}/{repo}` tells us.
#[derive(Clone, Debug, Deserialize)]
pub struct Repository {
    pub full_name: String,
    #[serde(default)]
    pub private: bool,
    /// Present for user tokens: what the token's owner may do here.
    pub permissions: Option<RepositoryPermissions>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RepositoryPermissions {
    #[serde(default)]
    pub push: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    #[serde(default)]
    pub draft: bool,
    /// A URI template, `https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}`.
    pub upload_url: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ReleaseAsset {
    pub id: u64,
    pub name: String,
    /// "uploaded" once complete; "open" (GitHub's "starter") while or after a failed upload.
    pub state: String,
    pub size: u64,
    /// "sha256:<hex>", computed by GitHub since 2025; absent on older assets and on GHES.
    pub digest: Option<String>,
    pub browser_download_url: Url,
    /// The API URL of the asset; with `Accept: application/octet-stream` it redirects to the bytes.
    pub url: Url,
    /// When the upload started (`2025-01-01T00:00:00Z`): tells a leftover from a live upload.
    #[serde(default)]
    pub created_at: Option<String>,
}

impl ReleaseAsset {
    pub fn is_complete(&self) -> bool {
        self.state == "uploaded"
    }

    /// Seconds since the upload started, when GitHub said when that was.
    pub fn age_seconds(&self) -> Option<i64> {
        let started = unix_seconds(self.created_at.as_deref()?)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        Some(i64::try_from(now).ok()? - started)
    }

    /// The sha256 GitHub recorded, lower-case hex.
    pub fn sha256(&self) -> Option<String> {
        self.digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
            .map(str::to_ascii_lowercase)
    }
}

/// Seconds since 1970 of a UTC timestamp as GitHub writes them (`2025-01-31T23:59:59Z`,
/// fractions ignored); `None` for anything else.
fn unix_seconds(timestamp: &str) -> Option<i64> {
    let bytes = timestamp.as_bytes();
    if bytes.len() < 20 || !timestamp.ends_with('Z') || bytes[10] != b'T' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| timestamp.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), years starting in March.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// GitHub's answers that the shared status mapping cannot tell apart by status alone.
fn refine(mut error: Error) -> Error {
    if error.status == Some(422) && error.message.contains("already_exists") {
        error.kind = ErrorKind::AlreadyExists;
    }
    // A secondary rate limit may come as a bare 403; GitHub asks to wait at least a minute
    // when it sends no Retry-After.
    if error.status == Some(403)
        && error.kind != ErrorKind::RateLimited
        && error
            .message
            .to_ascii_lowercase()
            .contains("secondary rate limit")
    {
        error.kind = ErrorKind::RateLimited;
        error.retryable = true;
        error.retry_after = Some(SECONDARY_RATE_LIMIT_WAIT);
    }
    error
}

/// A GitHub API client bound to one repository and one token.
pub struct Api {
    client: reqwest::Client,
    /// Sends the token and asks for raw bytes: downloads an asset of a private repository or
    /// draft release to hash it. reqwest drops the Authorization header when the redirect
    /// leaves the API host, as the storage host requires.
    download_client: reqwest::Client,
    token: Secret,
    base: Url,
    repo_path: Vec<String>,
    retry: RetryPolicy,
    timeouts: Timeouts,
}

fn auth_headers(token: &Secret, accept: &'static str) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    let mut authorization =
        HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
            Error::new(
                ErrorKind::InvalidInput,
                "the GitHub token holds characters that cannot go in an HTTP header",
            )
        })?;
    authorization.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, authorization);
    headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
    headers.insert(
        "x-github-api-version",
        HeaderValue::from_static(API_VERSION),
    );
    Ok(headers)
}

impl Api {
    pub fn new(
        base: Url,
        owner: &str,
        repo: &str,
        token: Secret,
        retry: RetryPolicy,
        timeouts: Timeouts,
    ) -> Result<Self> {
        let client = |accept| cubeship_provider::http::client(auth_headers(&token, accept)?, true);
        Ok(Api {
            client: client("application/vnd.github+json")?,
            download_client: client("application/octet-stream")?,
            token,
            base,
            repo_path: vec!["repos".into(), owner.into(), repo.into()],
            retry,
            timeouts,
        })
    }

    pub fn download_client(&self) -> &reqwest::Client {
        &self.download_client
    }

    /// `{base}/repos/{owner}/{repo}/{segments…}`, each segment percent-encoded (tags may hold `/`).
    fn repo_url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("the API base is an http(s) URL");
            path.pop_if_empty();
            path.extend(self.repo_path.iter().map(String::as_str));
            path.extend(segments);
        }
        url
    }

    /// Sends the request `build` makes, retrying what the shared policy retries, and returns the
    /// successful response. `None` on 404 when `missing_ok`.
    async fn send(
        &self,
        what: &str,
        missing_ok: bool,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Option<Response>> {
        self.retry
            .run(what, |_| async {
                let request = build().send();
                let sent = async { request.await.map_err(|e| transport_error(e, what)) };
                let response = within_timeouts(sent, None, &self.timeouts, what).await?;
                let status = response.status();
                if status.is_success() {
                    Ok(Some(response))
                } else if missing_ok && cubeship_provider::error::is_missing(status.as_u16()) {
                    Ok(None)
                } else {
                    Err(self.classify(error_from_response(response, what).await))
                }
            })
            .await
    }

    /// Refines the shared classification with what GitHub's body says, and strips the token in
    /// case a proxy echoed it.
    fn classify(&self, error: Error) -> Error {
        let mut error = refine(error);
        error.message = redact(&error.message, &[&self.token]);
        error
    }

    async fn json<T: DeserializeOwned>(response: Response, what: &str) -> Result<T> {
        response
            .json()
            .await
            .map_err(|e| transport_error(e, format!("{what}: unexpected answer")))
    }

    async fn get_json<T: DeserializeOwned>(&self, what: &str, url: Url) -> Result<Option<T>> {
        match self
            .send(what, true, || self.client.get(url.clone()))
            .await?
        {
            Some(response) => Ok(Some(Self::json(response, what).await?)),
            None => Ok(None),
        }
    }

    /// The repository and, for classic tokens, the scopes the token has (`X-OAuth-Scopes`).
    pub async fn repository(&self) -> Result<Option<(Repository, Option<Vec<String>>)>> {
        let what = format!("GET {}", self.repo_url(&[]));
        let Some(response) = self
            .send(&what, true, || self.client.get(self.repo_url(&[])))
            .await?
        else {
            return Ok(None);
        };
        let scopes = response
            .headers()
            .get("x-oauth-scopes")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            });
        Ok(Some((Self::json(response, &what).await?, scopes)))
    }

    /// The release with `tag`, drafts included: "get a release by tag name" skips drafts, so
    /// a miss falls back to listing releases, which shows drafts to tokens that can push.
    pub async fn release_by_tag(&self, tag: &str) -> Result<Option<Release>> {
        let url = self.repo_url(&["releases", "tags", tag]);
        if let Some(release) = self.get_json(&format!("GET {url}"), url).await? {
            return Ok(Some(release));
        }
        for page in 1..=MAX_RELEASE_PAGES {
            let mut url = self.repo_url(&["releases"]);
            url.query_pairs_mut()
                .append_pair("per_page", &PAGE_SIZE.to_string())
                .append_pair("page", &page.to_string());
            let releases: Vec<Release> = self
                .get_json(&format!("GET {url}"), url)
                .await?
                .unwrap_or_default();
            if let Some(found) = releases.iter().find(|r| r.tag_name == tag) {
                return Ok(Some(found.clone()));
            }
            if releases.len() < PAGE_SIZE {
                break;
            }
        }
        Ok(None)
    }

    pub async fn create_release(&self, tag: &str, draft: bool) -> Result<Release> {
        let url = self.repo_url(&["releases"]);
        let what = format!("POST {url} (create release {tag})");
        let body = serde_json::json!({ "tag_name": tag, "name": tag, "draft": draft });
        let response = self
            .send(&what, false, || self.client.post(url.clone()).json(&body))
            .await?
            .expect("404 is an error here");
        Self::json(response, &what).await
    }

    pub async fn list_assets(&self, release: &Release) -> Result<Vec<ReleaseAsset>> {
        let mut assets = Vec::new();
        for page in 1.. {
            let mut url = self.repo_url(&["releases", &release.id.to_string(), "assets"]);
            url.query_pairs_mut()
                .append_pair("per_page", &PAGE_SIZE.to_string())
                .append_pair("page", &page.to_string());
            let what = format!("GET {url}");
            let batch: Vec<ReleaseAsset> = self.get_json(&what, url).await?.ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("{what}: the release disappeared"),
                )
            })?;
            let full = batch.len() == PAGE_SIZE;
            assets.extend(batch);
            if !full {
                break;
            }
        }
        Ok(assets)
    }

    /// Streams `path` as a new asset `name`. The upload host comes from the release's
    /// `upload_url` template, which differs between github.com and GitHub Enterprise Server.
    pub async fn upload_asset(
        &self,
        release: &Release,
        name: &str,
        file: &cubeship_provider::Asset,
        progress: &Arc<dyn Progress>,
    ) -> Result<ReleaseAsset> {
        let template = release.upload_url.split('{').next().unwrap_or_default();
        let mut url = Url::parse(template).map_err(|e| {
            Error::new(
                ErrorKind::Other,
                format!(
                    "release {} has an unusable upload_url `{}`: {e}",
                    release.tag_name, release.upload_url
                ),
            )
        })?;
        url.query_pairs_mut().append_pair("name", name);
        let what = format!("POST {url}");
        let response = self
            .retry
            .run_transfer(&what, progress.as_ref(), |_| {
                let url = url.clone();
                let what = &what;
                async move {
                    let watch = BodyWatch::new(file.size);
                    let body =
                        file_body(&file.path, 0, file.size, progress.clone(), &watch).await?;
                    // The body is a stream, so the length must be given: GitHub refuses
                    // chunked uploads.
                    let request = self
                        .client
                        .post(url)
                        .header(header::CONTENT_TYPE, file.content_type)
                        .header(header::CONTENT_LENGTH, file.size)
                        .body(body)
                        .send();
                    let sent = async { request.await.map_err(|e| transport_error(e, what)) };
                    let response =
                        within_timeouts(sent, Some(&watch), &self.timeouts, what).await?;
                    if response.status().is_success() {
                        Ok(response)
                    } else {
                        Err(self.classify(error_from_response(response, what).await))
                    }
                }
            })
            .await?;
        Self::json(response, &what).await
    }

    pub async fn rename_asset(&self, id: u64, name: &str) -> Result<ReleaseAsset> {
        let url = self.repo_url(&["releases", "assets", &id.to_string()]);
        let what = format!("PATCH {url} (rename to {name})");
        let body = serde_json::json!({ "name": name });
        let response = self
            .send(&what, false, || {
                self.client.request(Method::PATCH, url.clone()).json(&body)
            })
            .await?
            .expect("404 is an error here");
        Self::json(response, &what).await
    }

    /// Deletes an asset; one already gone counts as deleted.
    pub async fn delete_asset(&self, id: u64) -> Result<()> {
        let url = self.repo_url(&["releases", "assets", &id.to_string()]);
        self.send(&format!("DELETE {url}"), true, || {
            self.client.delete(url.clone())
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_as_github_writes_them() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2025-01-01T00:00:00Z"), Some(1_735_689_600));
        assert_eq!(unix_seconds("2024-02-29T12:30:15Z"), Some(1_709_209_815));
        assert_eq!(unix_seconds("2024-02-29T12:30:15.5Z"), Some(1_709_209_815));
        assert_eq!(unix_seconds("yesterday"), None);
        assert_eq!(unix_seconds("2024-13-01T00:00:00Z"), None);
    }

    #[test]
    fn github_specific_answers_get_their_kinds() {
        let taken = refine(Error::from_status(
            422,
            r#"HTTP 422: {"message":"Validation Failed","errors":[{"code":"already_exists"}]}"#,
        ));
        assert_eq!(taken.kind, ErrorKind::AlreadyExists);
        let invalid = refine(Error::from_status(422, "HTTP 422: size invalid"));
        assert_eq!(invalid.kind, ErrorKind::InvalidInput);
        let secondary = refine(Error::from_status(
            403,
            "HTTP 403: You have exceeded a secondary rate limit",
        ));
        assert!(secondary.retryable);
        assert_eq!(secondary.retry_after, Some(SECONDARY_RATE_LIMIT_WAIT));
        let denied = refine(Error::from_status(403, "HTTP 403: Resource not accessible"));
        assert_eq!(denied.kind, ErrorKind::PermissionDenied);
        assert!(!denied.retryable);
    }

    #[test]
    fn the_digest_gives_the_sha256() {
        let asset: ReleaseAsset = serde_json::from_value(serde_json::json!({
            "id": 1, "name": "a", "state": "uploaded", "size": 3,
            "digest": "sha256:ABCDEF",
            "browser_download_url": "https://github.com/o/r/releases/download/v1/a",
            "url": "https://api.github.com/repos/o/r/releases/assets/1"
        }))
        .unwrap();
        assert_eq!(asset.sha256().as_deref(), Some("abcdef"));
        assert!(asset.is_complete());
    }
}
