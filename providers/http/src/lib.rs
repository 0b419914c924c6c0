//! The generic HTTP PUT provider (crate `cubeship-http`): each object is sent with one
//! streamed `PUT <base>/<key>` to any server that accepts it (nginx or Apache WebDAV,
//! Artifactory and Nexus raw repositories, a presigned URL) and read back by anonymous
//! clients at `<get base>/<key>`.
//!
//! A plain web server keeps no digest of what it stores, so "is this object already there?"
//! is answered with `HEAD` (size, and a sha256 when the server reports one) and, only when the
//! size matches and no digest was given, by downloading and hashing the remote copy.

mod checksums;
pub mod config;
mod factory;
mod netrc;

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT, LOCATION};
use reqwest::{Method, RequestBuilder, Response};
use url::Url;

use cubeship_provider::error::is_missing;
use cubeship_provider::http::{
    self as shared, Download, display_url, error_from_response, hash_response, transport_error,
};
use cubeship_provider::secret::redact;
use cubeship_provider::timeouts::within_timeouts;
use cubeship_provider::{
    Asset, BodyWatch, Error, ErrorKind, ObjectKey, Provider, RemoteObject, Result, RetryPolicy,
    Timeouts, UploadRequest, Uploaded,
};

pub use config::{Auth, HttpConfig, Target};
pub use factory::{FACTORY, OPTIONS};

/// PUTs objects under one base URL (or to one presigned URL).
pub struct HttpProvider {
    config: HttpConfig,
    /// Sends credentials; follows no redirect, so they never travel to another host and a
    /// streamed upload is never silently dropped by a redirect.
    client: reqwest::Client,
    /// No credentials, redirects followed: reads as MedPerf will do them.
    anonymous: reqwest::Client,
    retry: RetryPolicy,
    timeouts: Timeouts,
    /// Cleared for good once the server answers 417 to `Expect: 100-continue`.
    expect_continue: AtomicBool,
    /// The user gave `--header Content-Type: …` (a presigned URL may be signed for one).
    user_content_type: bool,
}

/// What a `HEAD` (or its fallback) found under a key.
struct Stat {
    size: Option<u64>,
    sha256: Option<String>,
    /// Found without credentials, after a redirect: read it the same way.
    anonymous: bool,
}

impl HttpProvider {
    /// Builds the clients for a checked configuration.
    pub fn new(config: HttpConfig, retry: RetryPolicy, timeouts: Timeouts) -> Result<Self> {
        let client = shared::client(reqwest::header::HeaderMap::new(), false)?;
        let user_content_type = config.headers.iter().any(|h| h.name == CONTENT_TYPE);
        Ok(HttpProvider {
            config,
            client,
            anonymous: shared::anonymous_client()?,
            retry,
            timeouts,
            expect_continue: AtomicBool::new(true),
            user_content_type,
        })
    }

    fn put_url(&self, key: &ObjectKey) -> Url {
        match &self.config.target {
            Target::Folder { put_base, .. } => join(put_base, &key.url_path()),
            Target::Object { put, .. } => put.clone(),
        }
    }

    /// Where `head` looks: the PUT side with credentials (it may keep reads private), or for
    /// a presigned URL, which is signed for PUT only, the public URL without credentials.
    fn stat_location(&self, key: &ObjectKey) -> (Url, bool) {
        match &self.config.target {
            Target::Folder { put_base, .. } => (join(put_base, &key.url_path()), false),
            Target::Object { get, .. } => (get.clone(), true),
        }
    }

    /// Adds the configured credentials and extra headers.
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        let request = match &self.config.auth {
            Auth::None => request,
            Auth::Bearer { token } => request.bearer_auth(token.expose()),
            Auth::Basic { user, password, .. } => request.basic_auth(user, Some(password.expose())),
        };
        self.config
            .headers
            .iter()
            .fold(request, |r, h| r.header(h.name.clone(), h.value.clone()))
    }

    fn request(&self, method: Method, url: &Url, anonymous: bool) -> RequestBuilder {
        if anonymous {
            self.anonymous.request(method, url.clone())
        } else {
            self.authorize(self.client.request(method, url.clone()))
        }
    }

    /// Removes every configured secret from a message (servers may echo headers back).
    fn scrub(&self, mut error: Error) -> Error {
        let secrets: Vec<_> = self.config.secrets.iter().collect();
        error.message = redact(&error.message, &secrets);
        error
    }

    /// Sends `request` under the progress timeouts (`watch` follows its body, if any); a
    /// transport failure, a stall or a transient answer (5xx, 429, 408) becomes a retryable
    /// error, every other answer is the caller's to read.
    async fn send(
        &self,
        request: RequestBuilder,
        method: &Method,
        url: &Url,
        watch: Option<&BodyWatch>,
    ) -> Result<Response> {
        let what = format!("{method} {}", display_url(url));
        // `without_url`: reqwest would print the full URL, presigned query string included.
        let sent = async {
            request
                .send()
                .await
                .map_err(|e| self.scrub(transport_error(e.without_url(), &what)))
        };
        let response = within_timeouts(sent, watch, &self.timeouts, &what).await?;
        let status = response.status().as_u16();
        let rate_limited = status == 403 && shared::retry_after(response.headers()).is_some();
        if ErrorKind::from_status(status).is_retryable_by_default() || rate_limited {
            return Err(self.explain(
                error_from_response(response, &what).await,
                method,
                url,
                None,
            ));
        }
        Ok(response)
    }

    /// Rewrites an HTTP error into what the user needs to know for this kind of server:
    /// which credentials were rejected, which server setting refuses uploads.
    fn explain(&self, mut error: Error, method: &Method, url: &Url, size: Option<u64>) -> Error {
        let Some(status) = error.status else {
            return self.scrub(error);
        };
        let shown = display_url(url);
        let prefix = format!("{method} {shown}: HTTP {status}");
        // Keep the server's own words unless they are an HTML error page.
        let detail = error
            .message
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_prefix(": "))
            .filter(|d| !d.trim_start().starts_with('<'))
            .map(|d| format!(" (server said: {d})"))
            .unwrap_or_default();
        let message = match error.kind {
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => {
                format!(
                    "credentials rejected for {shown} (HTTP {status} to {method}): {}",
                    self.credentials_used()
                )
            }
            ErrorKind::NotSupported => format!(
                "this server does not accept {method} at {shown} (HTTP {status}); enable uploads there \
                 (nginx: `dav_methods PUT;`) or check the URL"
            ),
            ErrorKind::TooLarge => format!(
                "server limit on upload size: {shown} refused {} (HTTP 413); raise the limit \
                 (nginx: `client_max_body_size 0;`) or ask the server's administrator",
                size.map(|s| format!("{s} bytes"))
                    .unwrap_or_else(|| "the upload".into())
            ),
            ErrorKind::StorageFull => {
                format!("server storage full: {shown} answered HTTP 507 to {method}")
            }
            ErrorKind::AlreadyExists if status == 409 && *method == Method::PUT => format!(
                "{method} {shown}: HTTP 409 Conflict: the folder it goes into does not exist and could \
                 not be created (nginx: `create_full_put_path on;`, or allow MKCOL)"
            ),
            _ => prefix,
        };
        error.message = message + &detail;
        self.scrub(error)
    }

    /// For messages: the credentials sent, by variable name, and what to set when none were.
    fn credentials_used(&self) -> String {
        let mut used = self.config.auth.describe();
        if matches!(self.config.auth, Auth::None) {
            used.push_str(&format!(
                "; set {}, or {} and {}, or add the host to ~/.netrc",
                factory::TOKEN.display_name(),
                factory::USER.display_name(),
                factory::PASSWORD.display_name()
            ));
        }
        let from_env: Vec<String> = self
            .config
            .headers
            .iter()
            .filter_map(|h| {
                h.from_env
                    .as_ref()
                    .map(|var| format!("{} from ${var}", h.name))
            })
            .collect();
        if !from_env.is_empty() {
            used.push_str(&format!(", with header {}", from_env.join(", ")));
        }
        used
    }

    async fn stat(&self, url: &Url, anonymous: bool) -> Result<Option<Stat>> {
        let what = format!("HEAD {}", display_url(url));
        let response = self
            .retry
            .run(&what, |_| {
                self.send(
                    self.request(Method::HEAD, url, anonymous),
                    &Method::HEAD,
                    url,
                    None,
                )
            })
            .await?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(Some(Stat {
                // Read the header itself: a HEAD answer has no body to measure.
                size: response
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok()),
                sha256: checksums::sha256_from_headers(response.headers()),
                anonymous,
            })),
            status if is_missing(status) => Ok(None),
            // A presigned object that is not public yet: S3 and GCS answer 403 for a missing
            // object to a reader who may not list the bucket.
            401 | 403 if anonymous => Ok(None),
            // Reads are served elsewhere (a CDN, Artifactory's redirect to object storage):
            // look as an anonymous reader would, who follows redirects without credentials.
            300..=399 if !anonymous => Box::pin(self.stat(url, true)).await,
            // No HEAD here: a GET tells size and content.
            405 | 501 => Ok(Some(Stat {
                size: None,
                sha256: None,
                anonymous,
            })),
            _ => Err(self.explain(
                error_from_response(response, &what).await,
                &Method::HEAD,
                url,
                None,
            )),
        }
    }

    /// Downloads `url` and hashes it as it streams: `(size, sha256)`, or `None` if absent.
    async fn hash_remote(&self, url: &Url, anonymous: bool) -> Result<Option<(u64, String)>> {
        let what = format!("GET {}", display_url(url));
        self.retry
            .run(&what, |_| async {
                let response = self
                    .send(
                        self.request(Method::GET, url, anonymous),
                        &Method::GET,
                        url,
                        None,
                    )
                    .await?;
                match response.status().as_u16() {
                    200 => {}
                    status if is_missing(status) => return Ok(None),
                    _ => {
                        return Err(self.explain(
                            error_from_response(response, &what).await,
                            &Method::GET,
                            url,
                            None,
                        ));
                    }
                }
                match hash_response(response, &what)
                    .await
                    .map_err(|e| self.scrub(e))?
                {
                    Download::Ok { size, sha256, .. } => Ok(Some((size, sha256))),
                    Download::Status(status) => {
                        Err(Error::from_status(status, format!("{what}: HTTP {status}")))
                    }
                }
            })
            .await
    }

    /// `head`, downloading the remote copy to hash it only when the server gave no digest and
    /// its size is unknown or equals `expected`'s.
    async fn look_up(
        &self,
        key: &ObjectKey,
        expected: Option<&Asset>,
    ) -> Result<Option<RemoteObject>> {
        let (url, anonymous) = self.stat_location(key);
        let Some(stat) = self.stat(&url, anonymous).await? else {
            return Ok(None);
        };
        let found = |size, sha256| RemoteObject {
            size,
            sha256,
            url: None,
            id: None,
        };
        match (stat.size, stat.sha256) {
            (Some(size), Some(sha256)) => Ok(Some(found(size, Some(sha256)))),
            (Some(size), None) if expected.is_none_or(|e| e.size != size) => {
                Ok(Some(found(size, None)))
            }
            _ => {
                tracing::debug!(
                    "{} reports no sha256; downloading it to compare",
                    display_url(&url)
                );
                Ok(self
                    .hash_remote(&url, stat.anonymous)
                    .await?
                    .map(|(size, sha256)| found(size, Some(sha256))))
            }
        }
    }

    async fn put_once(&self, request: &UploadRequest<'_>, url: &Url) -> Result<()> {
        let asset = request.asset;
        let watch = BodyWatch::new(asset.size);
        let body =
            shared::file_body(&asset.path, 0, asset.size, request.progress.clone(), &watch).await?;
        let mut builder = self
            .client
            .put(url.clone())
            .header(CONTENT_LENGTH, asset.size)
            .headers(checksums::upload_headers(asset));
        if !self.user_content_type {
            builder = builder.header(CONTENT_TYPE, asset.content_type);
        }
        if request.existing.is_none() {
            // Create only: a server that honours it answers 412 when another run wrote the
            // key since our HEAD (nginx's WebDAV module ignores it; see docs/providers/http.md).
            builder = builder.header(reqwest::header::IF_NONE_MATCH, "*");
        }
        if asset.size > 0 && self.expect_continue.load(Ordering::Relaxed) {
            // hyper does not wait for the `100 Continue`, but a server that refuses the
            // request (401, 403, 413) answers at once instead of reading the body, and that
            // answer ends the transfer as soon as it arrives.
            builder = builder.header(EXPECT, "100-continue");
        }
        let builder = self.authorize(builder).body(body);
        let response = self.send(builder, &Method::PUT, url, Some(&watch)).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let shown = display_url(url);
        if status.as_u16() == 417 {
            self.expect_continue.store(false, Ordering::Relaxed);
            return Err(Error::from_status(
                417,
                format!("PUT {shown}: HTTP 417 to Expect: 100-continue"),
            )
            .retryable(true));
        }
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| url.join(v).ok())
                .map(|v| display_url(&v))
                .unwrap_or_else(|| "another address".into());
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "PUT {shown} was redirected (HTTP {status}) to {location}; an upload is not resent \
                     to another address: give the final URL"
                ),
            ));
        }
        let error = error_from_response(response, format!("PUT {shown}")).await;
        Err(self.explain(error, &Method::PUT, url, Some(asset.size)))
    }

    async fn put_with_retries(&self, request: &UploadRequest<'_>, url: &Url) -> Result<()> {
        let what = format!("PUT {}", display_url(url));
        self.retry
            .run_transfer(&what, request.progress.as_ref(), |_| {
                self.put_once(request, url)
            })
            .await
    }

    /// WebDAV servers without automatic folder creation answer a PUT into a missing folder
    /// with 409: create the missing folders with MKCOL, as rclone does, from the object's own
    /// folder upwards only as far as they are missing (MKCOL too answers 409 when the parent
    /// is missing, and 405 when the folder exists).
    async fn make_folders(&self, object: &Url) -> Result<()> {
        let mkcol = Method::from_bytes(b"MKCOL").expect("MKCOL is a valid method");
        let mut missing = vec![parent_folder(object)];
        while let Some(folder) = missing.last() {
            let Some(folder) = folder.clone() else {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "PUT {}: the server has no folder to create it in",
                        display_url(object)
                    ),
                ));
            };
            let what = format!("MKCOL {}", display_url(&folder));
            let response = self
                .retry
                .run(&what, |_| {
                    self.send(
                        self.request(mkcol.clone(), &folder, false),
                        &mkcol,
                        &folder,
                        None,
                    )
                })
                .await?;
            match response.status().as_u16() {
                200..=299 | 405 => {
                    missing.pop();
                }
                409 => missing.push(parent_folder(&folder)),
                _ => {
                    let error = error_from_response(response, &what).await;
                    return Err(self.explain(error, &mkcol, &folder, None));
                }
            }
        }
        Ok(())
    }
}

/// The folder (ending with `/`) holding `url`, or `None` at the server's root.
fn parent_folder(url: &Url) -> Option<Url> {
    let path = url.path().trim_end_matches('/');
    let cut = path.rfind('/')?;
    if cut == 0 {
        return None;
    }
    let mut parent = url.clone();
    parent.set_path(&path[..=cut]);
    parent.set_query(None);
    Some(parent)
}

/// `base` (ending with `/`) followed by an already percent-encoded relative path.
fn join(base: &Url, encoded_path: &str) -> Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{encoded_path}", base.path()));
    url
}

#[async_trait]
impl Provider for HttpProvider {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn describe(&self) -> String {
        match &self.config.target {
            Target::Folder { put_base, .. } => display_url(put_base),
            Target::Object { put, .. } => display_url(put),
        }
    }

    /// Checks that the server answers at all. Credentials cannot be checked without writing
    /// something, so a rejected password shows at the first upload.
    async fn preflight(&self) -> Result<()> {
        let (url, anonymous) = match &self.config.target {
            Target::Folder { put_base, .. } => (put_base.clone(), false),
            Target::Object { get, .. } => (get.clone(), true),
        };
        let what = format!("HEAD {}", display_url(&url));
        self.retry
            .run(&what, |_| {
                let head = async {
                    self.request(Method::HEAD, &url, anonymous)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| self.scrub(transport_error(e.without_url(), &what)))
                };
                within_timeouts(head, None, &self.timeouts, &what)
            })
            .await
            .map_err(|e| e.context("the server does not answer"))
    }

    async fn head(&self, key: &ObjectKey, expected: &Asset) -> Result<Option<RemoteObject>> {
        self.look_up(key, Some(expected)).await
    }

    async fn upload(&self, request: &UploadRequest<'_>) -> Result<Uploaded> {
        let url = self.put_url(request.key);
        match self.put_with_retries(request, &url).await {
            Err(error)
                if error.status == Some(409)
                    && matches!(self.config.target, Target::Folder { .. }) =>
            {
                tracing::debug!("{}: creating its folders with MKCOL", display_url(&url));
                self.make_folders(&url).await?;
                request.progress.restart();
                self.put_with_retries(request, &url).await?;
            }
            result => result?,
        }
        Ok(Uploaded {
            url: self.public_url(request.key)?,
        })
    }

    fn public_url(&self, key: &ObjectKey) -> Result<Url> {
        Ok(match &self.config.target {
            Target::Folder { get_base, .. } => join(get_base, &key.url_path()),
            Target::Object { get, .. } => get.clone(),
        })
    }

    fn diagnose_not_public(&self, key: &ObjectKey, status: u16) -> Option<String> {
        let url = display_url(&self.public_url(key).ok()?);
        match status {
            401 | 403 => Some(format!(
                "{url} needs credentials to read, but MedPerf downloads without any: let anonymous \
                 clients GET it (nginx: put auth_basic inside `limit_except GET HEAD {{ … }}`), or \
                 give --get-url a base that serves the same files publicly; see docs/providers/http.md"
            )),
            404 => Some(format!(
                "the upload succeeded but {url} does not serve it: the GET URL must map to the same \
                 files as the PUT URL (check --get-url); see docs/providers/http.md"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_appended_encoded_under_the_base() {
        let base = Url::parse("https://h.example/repo/medperf/").unwrap();
        let key = ObjectKey::from_parts(["cube", "a b#.tar.gz"]);
        assert_eq!(
            join(&base, &key.url_path()).as_str(),
            "https://h.example/repo/medperf/cube/a%20b%23.tar.gz"
        );
    }

    #[test]
    fn parent_folders_stop_below_the_root() {
        let url = Url::parse("https://h.example/a/b/file?x=1").unwrap();
        let parent = parent_folder(&url).unwrap();
        assert_eq!(parent.as_str(), "https://h.example/a/b/");
        let grandparent = parent_folder(&parent).unwrap();
        assert_eq!(grandparent.as_str(), "https://h.example/a/");
        assert_eq!(parent_folder(&grandparent), None);
    }
}
