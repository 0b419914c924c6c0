//! Container image digests from an OCI / Docker registry (HTTP API v2), for MedPerf's
//! `--image-hash sha256:…`.
//!
//! MedPerf registers a `DockerImage` container with the registry digest of the image tag's
//! top-level manifest: what `docker buildx imagetools inspect` prints, the OCI image index or
//! Docker manifest list of a multi-arch image, not one platform's manifest. [`resolve_digest`]
//! asks the registry for it with one `HEAD` (a `GET` and a local sha256 of the exact bytes
//! when the registry leaves out `Docker-Content-Digest`), authenticating as Docker Hub, GHCR
//! and the CNCF distribution registry ask: a `Bearer` token from the challenge's realm
//! (anonymous, or with a [`RegistryLogin`]), or `Basic` with a login.

use std::fmt;

use cubeship_provider::http::{display_url, error_from_response, is_loopback, transport_error};
use cubeship_provider::secret::redact;
use cubeship_provider::{Error, ErrorKind, InputError, RetryPolicy, Secret};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use url::Url;

/// The manifest media types asked for, top-level kinds (multi-arch) first: OCI image index,
/// Docker manifest list v2, OCI image manifest, Docker image manifest v2 schema 2.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Docker Hub's registry name as users write it, and the host its API answers on.
const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed image reference: registry host (docker.io → registry-1.docker.io for the API),
/// repository (library/ added for official Docker Hub images), and tag or digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    /// `host[:port]` of the registry's API, lower case (`registry-1.docker.io` for Docker Hub).
    pub registry: String,
    /// The repository path, `library/ubuntu`, `owner/image`.
    pub repository: String,
    /// A tag (`latest` when none was given) or a digest `sha256:<64 hex>`; a digest wins when
    /// the image named both (`name:tag@sha256:…`), as in docker.
    pub reference: String,
}

impl ImageReference {
    /// Parses `[REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST]` with docker's rules: the first
    /// path component is a registry when it has a `.` or a `:` or is `localhost`, otherwise
    /// the image is on Docker Hub. Errors name the image and say how to write one.
    pub fn parse(image: &str) -> Result<ImageReference, InputError> {
        let raw = image.trim();
        let shown: String = raw.chars().take(200).collect();
        let bad = |why: &str| {
            InputError::new(format!("image reference {shown:?}: {why}")).hint(
                "write it as [REGISTRY/]REPOSITORY[:TAG][@sha256:DIGEST], for example \
                 docker.io/library/ubuntu:22.04 or ghcr.io/owner/image@sha256:…",
            )
        };
        if raw.is_empty() {
            return Err(bad("empty"));
        }
        if raw.contains("://") {
            return Err(bad(
                "an image reference has no scheme (remove the http(s)://)",
            ));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("spaces and control characters are not allowed"));
        }
        let (name_and_tag, digest) = match raw.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (raw, None),
        };
        if let Some(digest) = digest
            && !is_sha256_digest(digest)
        {
            return Err(bad(
                "the digest must be sha256: and 64 lower-case hex digits",
            ));
        }
        let (name, tag) = match name_and_tag.rfind(':') {
            Some(i) if !name_and_tag[i + 1..].contains('/') => {
                (&name_and_tag[..i], Some(&name_and_tag[i + 1..]))
            }
            _ => (name_and_tag, None),
        };
        if let Some(tag) = tag
            && !is_valid_tag(tag)
        {
            return Err(bad(
                "a tag is 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
            ));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_ascii_lowercase(), rest)
            }
            _ => (DOCKER_HUB.to_string(), name),
        };
        if !is_valid_registry(&domain) {
            return Err(bad(
                "the registry must be a host name or address with an optional :port",
            ));
        }
        let (registry, repository) = if matches!(
            domain.as_str(),
            DOCKER_HUB | "index.docker.io" | DOCKER_HUB_API
        ) {
            let repository = if path.contains('/') {
                path.to_string()
            } else {
                format!("library/{path}")
            };
            (DOCKER_HUB_API.to_string(), repository)
        } else {
            (domain, path.to_string())
        };
        if repository.is_empty() {
            return Err(bad("no repository name"));
        }
        if repository.len() > 255 {
            return Err(bad("the repository name is longer than 255 characters"));
        }
        if !repository.split('/').all(is_valid_path_component) {
            return Err(bad(
                "a repository is lower-case letters and digits in `/`-separated parts, \
                 joined by `.`, `_`, `__` or `-`",
            ));
        }
        let reference = digest
            .or(tag)
            .map(str::to_string)
            .unwrap_or_else(|| "latest".to_string());
        Ok(ImageReference {
            registry,
            repository,
            reference,
        })
    }

    /// `https://REGISTRY`, or `http://` for a loopback host (localhost, 127.0.0.0/8, ::1) with
    /// an explicit port, like docker's default insecure registries. Panics when `registry` is
    /// not a `host[:port]` (it always is after [`ImageReference::parse`]).
    pub fn api_base(&self) -> Url {
        self.try_api_base()
            .unwrap_or_else(|e| panic!("{}", e.message))
    }

    fn try_api_base(&self) -> Result<Url, Error> {
        let invalid = || {
            Error::new(
                ErrorKind::InvalidInput,
                format!("registry {:?} is not a host[:port]", self.registry),
            )
        };
        if !is_valid_registry(&self.registry) {
            return Err(invalid());
        }
        let mut url = Url::parse(&format!("https://{}/", self.registry)).map_err(|_| invalid())?;
        if is_loopback(&url) && url.port().is_some() {
            url.set_scheme("http").map_err(|()| invalid())?;
        }
        Ok(url)
    }

    /// Whether `reference` is a digest rather than a tag.
    pub fn is_digest(&self) -> bool {
        is_sha256_digest(&self.reference)
    }

    fn manifest_url(&self) -> Result<Url, Error> {
        let base = self.try_api_base()?;
        base.join(&format!(
            "v2/{}/manifests/{}",
            self.repository, self.reference
        ))
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{self}: cannot build the manifest URL ({e})"),
            )
        })
    }
}

impl fmt::Display for ImageReference {
    /// `registry/repository:tag` or `registry/repository@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let separator = if self.is_digest() { '@' } else { ':' };
        write!(
            f,
            "{}/{}{separator}{}",
            self.registry, self.repository, self.reference
        )
    }
}

/// Credentials for a registry's token endpoint (basic auth), e.g. a Synapse user and token
/// for docker.synapse.org.
#[derive(Clone, Debug)]
pub struct RegistryLogin {
    /// The user name, shown in messages.
    pub username: String,
    /// The password or access token; never shown.
    pub password: Secret,
}

/// The digest of the top-level manifest of `image`, `sha256:<64 hex>`: the registry's
/// `Docker-Content-Digest` on a `HEAD`, or the sha256 of the exact bytes of a `GET` when the
/// registry does not send it. A digest reference is checked to exist and returned. Transient
/// failures are retried by the shared policy; 401 challenges are answered with a `Bearer`
/// token (anonymous or with `login`) or with `Basic` auth when `login` is given.
pub async fn resolve_digest(
    image: &ImageReference,
    login: Option<&RegistryLogin>,
) -> Result<String, Error> {
    let url = image.manifest_url()?;
    let client = cubeship_provider::http::client(HeaderMap::new(), true)?;
    let what = format!("resolving the digest of {image}");
    let resolver = Resolver {
        client: &client,
        image,
        login,
        url: &url,
    };
    RetryPolicy::default()
        .run(&what, |_| resolver.resolve_once())
        .await
        .map_err(|e| e.context(&what))
}

/// One resolution's fixed inputs.
struct Resolver<'a> {
    client: &'a reqwest::Client,
    image: &'a ImageReference,
    login: Option<&'a RegistryLogin>,
    url: &'a Url,
}

/// What goes in `Authorization` on manifest requests.
enum Credential {
    Anonymous,
    Bearer(Secret),
    Basic,
}

impl Resolver<'_> {
    /// One attempt, from scratch: HEAD, answering at most one challenge, then GET if needed.
    async fn resolve_once(&self) -> Result<String, Error> {
        let mut credential = Credential::Anonymous;
        let mut response = self.manifest(Method::HEAD, &credential).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            credential = self.answer_challenge(response.headers()).await?;
            response = self.manifest(Method::HEAD, &credential).await?;
        }
        let status = response.status();
        if matches!(
            status,
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
        ) {
            // A registry that does not answer HEAD on manifests: GET it and hash it.
            return self.digest_of_body(&credential).await;
        }
        if !status.is_success() {
            return Err(self.failure(Method::HEAD, response, &credential).await);
        }
        match response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| is_sha256_digest(v))
        {
            Some(digest) => self.check_against_reference(digest.to_string()),
            None => self.digest_of_body(&credential).await,
        }
    }

    /// GETs the manifest and hashes the exact bytes received.
    async fn digest_of_body(&self, credential: &Credential) -> Result<String, Error> {
        let response = self.manifest(Method::GET, credential).await?;
        if !response.status().is_success() {
            return Err(self.failure(Method::GET, response, credential).await);
        }
        let what = format!("GET {}", display_url(self.url));
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(e.without_url(), &what))?;
        let (_, digests) =
            cubeship_provider::digest::copy_hashed(&mut body.as_ref(), std::io::sink())?;
        self.check_against_reference(format!("sha256:{}", digests.sha256))
    }

    /// A digest reference must come back as itself.
    fn check_against_reference(&self, digest: String) -> Result<String, Error> {
        if self.image.is_digest() && digest != self.image.reference {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "the registry answered the manifest {} with digest {digest}",
                    self.image.reference
                ),
            ));
        }
        Ok(digest)
    }

    async fn manifest(
        &self,
        method: Method,
        credential: &Credential,
    ) -> Result<reqwest::Response, Error> {
        let mut request = self
            .client
            .request(method.clone(), self.url.clone())
            .header(ACCEPT, MANIFEST_ACCEPT);
        match credential {
            Credential::Anonymous => {}
            Credential::Bearer(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        Error::new(
                            ErrorKind::Unauthenticated,
                            "the registry's token service returned a token that is not a valid header value",
                        )
                    })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            Credential::Basic => {
                if let Some(login) = self.login {
                    request = request.basic_auth(&login.username, Some(login.password.expose()));
                }
            }
        }
        let what = format!("{method} {}", display_url(self.url));
        request
            .send()
            .await
            .map_err(|e| self.scrub(transport_error(e.without_url(), &what), credential))
    }

    /// The error for a non-success manifest answer, with what to do for the usual ones.
    async fn failure(
        &self,
        method: Method,
        response: reqwest::Response,
        credential: &Credential,
    ) -> Error {
        let status = response.status().as_u16();
        let what = format!("{method} {}", display_url(self.url));
        let mut error = self.scrub(error_from_response(response, &what).await, credential);
        match status {
            401 | 403 => {
                let hint = match self.login {
                    None => "the image is private or does not exist; give a registry login",
                    Some(_) => "the login was not accepted for this repository",
                };
                error.message = format!("{}: {hint}", error.message);
            }
            404 => {
                error.message = format!(
                    "{}: no manifest {} in repository {} (check the image name and tag; a \
                     private image may also answer 404 without a login)",
                    error.message, self.image.reference, self.image.repository
                );
            }
            _ => {}
        }
        error
    }

    /// Reads the 401's challenges and gets what answers one: a bearer token from the realm,
    /// or basic auth when a login is given.
    async fn answer_challenge(&self, headers: &HeaderMap) -> Result<Credential, Error> {
        let challenges: Vec<Challenge> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            return self.fetch_token(bearer).await.map(Credential::Bearer);
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            return match self.login {
                Some(_) => Ok(Credential::Basic),
                None => Err(Error::from_status(
                    401,
                    format!(
                        "HEAD {}: HTTP 401: the registry asks for a user name and password; \
                         give a registry login",
                        display_url(self.url)
                    ),
                )),
            };
        }
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        Err(Error::from_status(
            401,
            format!(
                "HEAD {}: HTTP 401 with no Bearer or Basic challenge (WWW-Authenticate schemes: {})",
                display_url(self.url),
                if schemes.is_empty() {
                    "none".to_string()
                } else {
                    schemes.join(", ")
                }
            ),
        ))
    }

    /// GETs a token from the challenge's realm with its `service` and `scope` (the
    /// repository's pull scope when the challenge names none).
    async fn fetch_token(&self, challenge: &Challenge) -> Result<Secret, Error> {
        let realm = challenge.param("realm").ok_or_else(|| {
            Error::from_status(401, "the registry's Bearer challenge names no realm")
        })?;
        let mut realm = Url::parse(realm)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                Error::from_status(
                    401,
                    format!("the registry's token realm {realm:?} is not an http(s) URL"),
                )
            })?;
        if self.login.is_some() && realm.scheme() == "http" && !is_loopback(&realm) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "the registry's token realm {} is cleartext http; the login is not sent there",
                    display_url(&realm)
                ),
            ));
        }
        {
            let mut query = realm.query_pairs_mut();
            if let Some(service) = challenge.param("service") {
                query.append_pair("service", service);
            }
            let scope = challenge
                .param("scope")
                .map(str::to_string)
                .unwrap_or_else(|| format!("repository:{}:pull", self.image.repository));
            query.append_pair("scope", &scope);
        }
        let what = format!("GET {}", display_url(&realm));
        let mut request = self.client.get(realm.clone());
        if let Some(login) = self.login {
            request = request.basic_auth(&login.username, Some(login.password.expose()));
        }
        let response = request.send().await.map_err(|e| {
            self.scrub(
                transport_error(e.without_url(), &what),
                &Credential::Anonymous,
            )
        })?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let mut error = self.scrub(
                error_from_response(response, &what).await,
                &Credential::Anonymous,
            );
            if matches!(status, 401 | 403) {
                error.kind = ErrorKind::Unauthenticated;
                error.retryable = false;
                error.message = match self.login {
                    Some(login) => format!(
                        "{}: the token service refused the login of user {:?}",
                        error.message, login.username
                    ),
                    None => format!(
                        "{}: the token service refused an anonymous token; give a registry login",
                        error.message
                    ),
                };
            }
            return Err(error);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(e.without_url(), &what))?;
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorKind::Unauthenticated,
                format!("{what}: the token service's answer is not JSON ({e})"),
            )
        })?;
        ["token", "access_token"]
            .iter()
            .find_map(|key| json.get(key).and_then(|v| v.as_str()))
            .filter(|token| !token.is_empty())
            .map(Secret::new)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unauthenticated,
                    format!("{what}: the token service's answer has no token or access_token"),
                )
            })
    }

    /// Removes the password and the token from a message that may echo them.
    fn scrub(&self, mut error: Error, credential: &Credential) -> Error {
        let mut secrets: Vec<&Secret> = Vec::new();
        if let Some(login) = self.login {
            secrets.push(&login.password);
        }
        if let Credential::Bearer(token) = credential {
            secrets.push(token);
        }
        error.message = redact(&error.message, &secrets);
        error
    }
}

/// One challenge of a `WWW-Authenticate` header: the scheme, lower case, and its parameters
/// (names lower case, values unquoted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub(crate) scheme: String,
    pub(crate) params: Vec<(String, String)>,
}

impl Challenge {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses `WWW-Authenticate` (RFC 9110 §11.6.1): one or more challenges separated by commas,
/// each a scheme and `name=value` parameters whose values may be quoted strings holding commas,
/// `=` and `\"` escapes. A token68 (`Negotiate abc==`) is skipped; unquoted values run to the
/// next comma, so a realm URL some servers send unquoted still parses.
pub(crate) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let chars: Vec<char> = header.chars().collect();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let read_token = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && is_tchar(chars[*i]) {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let scheme = read_token(&mut i);
        if scheme.is_empty() {
            // Not a token: skip to the next comma and try again.
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
            continue;
        }
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        loop {
            while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
                i += 1;
            }
            if i >= chars.len() {
                break;
            }
            let start = i;
            let name = read_token(&mut i);
            skip_ws(&mut i);
            if name.is_empty() || i >= chars.len() || chars[i] != '=' {
                if name.is_empty() {
                    // Garbage or a token68 start; skip to the next comma.
                    while i < chars.len() && chars[i] != ',' {
                        i += 1;
                    }
                    continue;
                }
                // A token not followed by `=`: the next challenge's scheme.
                i = start;
                break;
            }
            i += 1; // '='
            if i < chars.len() && chars[i] == '=' {
                // token68 padding (`abc==`): not a parameter.
                while i < chars.len() && chars[i] != ',' {
                    i += 1;
                }
                continue;
            }
            skip_ws(&mut i);
            let mut value = String::new();
            if i < chars.len() && chars[i] == '"' {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1; // closing quote (or end)
            } else {
                while i < chars.len() && chars[i] != ',' && !chars[i].is_whitespace() {
                    value.push(chars[i]);
                    i += 1;
                }
            }
            challenge.params.push((name.to_ascii_lowercase(), value));
        }
        out.push(challenge);
    }
    out
}

fn is_sha256_digest(value: &str) -> bool {
    value.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    tag.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A repository path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]`: a DNS name (letters, digits, `-`, `.`), an IPv4 address or a bracketed IPv6
/// address, and an optional decimal port.
fn is_valid_registry(registry: &str) -> bool {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, after)) => {
                if ip.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                match after {
                    "" => (registry, None),
                    _ => match after.strip_prefix(':') {
                        Some(port) => (registry, Some(port)),
                        None => return false,
                    },
                }
            }
            None => return false,
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || !matches!(port.parse::<u16>(), Ok(p) if p != 0))
    {
        return false;
    }
    if host.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(image: &str) -> (String, String, String) {
        let r = ImageReference::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        (r.registry, r.repository, r.reference)
    }

    fn triple(registry: &str, repository: &str, reference: &str) -> (String, String, String) {
        (registry.into(), repository.into(), reference.into())
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_names_get_the_api_host_library_and_latest() {
        assert_eq!(
            parsed("ubuntu"),
            triple("registry-1.docker.io", "library/ubuntu", "latest")
        );
        assert_eq!(
            parsed("ubuntu:22.04"),
            triple("registry-1.docker.io", "library/ubuntu", "22.04")
        );
        assert_eq!(
            parsed("docker.io/library/ubuntu:22.04"),
            triple("registry-1.docker.io", "library/ubuntu", "22.04")
        );
        assert_eq!(
            parsed("docker.io/ubuntu"),
            triple("registry-1.docker.io", "library/ubuntu", "latest")
        );
        assert_eq!(
            parsed("index.docker.io/mlcommons/medperf-example:0.1.0"),
            triple("registry-1.docker.io", "mlcommons/medperf-example", "0.1.0")
        );
        assert_eq!(
            parsed("mlcommons/hello-world"),
            triple("registry-1.docker.io", "mlcommons/hello-world", "latest")
        );
        let hub = ImageReference::parse("ubuntu").unwrap();
        assert_eq!(hub.api_base().as_str(), "https://registry-1.docker.io/");
        assert_eq!(
            hub.to_string(),
            "registry-1.docker.io/library/ubuntu:latest"
        );
    }

    #[test]
    fn other_registries_keep_their_host_and_path() {
        assert_eq!(parsed("ghcr.io/o/r:1"), triple("ghcr.io", "o/r", "1"));
        assert_eq!(
            parsed("docker.synapse.org/syn123/img:tag"),
            triple("docker.synapse.org", "syn123/img", "tag")
        );
        assert_eq!(
            parsed("GHCR.io/owner/deep/path/image"),
            triple("ghcr.io", "owner/deep/path/image", "latest")
        );
        let ghcr = ImageReference::parse("ghcr.io/o/r:1").unwrap();
        assert_eq!(ghcr.api_base().as_str(), "https://ghcr.io/");
        let synapse = ImageReference::parse("docker.synapse.org/syn123/img:tag").unwrap();
        assert_eq!(synapse.api_base().as_str(), "https://docker.synapse.org/");
    }

    #[test]
    fn digests_loopback_ports_and_both_tag_and_digest() {
        let local = ImageReference::parse(&format!("localhost:5000/x/y@{DIGEST}")).unwrap();
        assert_eq!(
            (local.registry.as_str(), local.repository.as_str()),
            ("localhost:5000", "x/y")
        );
        assert_eq!(local.reference, DIGEST);
        assert!(local.is_digest());
        assert_eq!(local.api_base().as_str(), "http://localhost:5000/");
        assert_eq!(local.to_string(), format!("localhost:5000/x/y@{DIGEST}"));

        let both = ImageReference::parse(&format!("ghcr.io/o/r:1@{DIGEST}")).unwrap();
        assert_eq!(both.reference, DIGEST);

        let ip = ImageReference::parse("127.0.0.1:5001/a:b").unwrap();
        assert_eq!(ip.api_base().as_str(), "http://127.0.0.1:5001/");
        // Loopback without a port, and any other host with one, stay on https.
        let no_port = ImageReference::parse("localhost/a:b").unwrap();
        assert_eq!(no_port.api_base().as_str(), "https://localhost/");
        let remote = ImageReference::parse("registry.example.org:5000/a:b").unwrap();
        assert_eq!(
            remote.api_base().as_str(),
            "https://registry.example.org:5000/"
        );
        let v6 = ImageReference::parse("[::1]:5000/a").unwrap();
        assert_eq!(v6.api_base().as_str(), "http://[::1]:5000/");
    }

    #[test]
    fn bad_references_are_input_errors_naming_the_image() {
        for image in [
            "",
            "   ",
            "https://ghcr.io/o/r:1",
            "Ubuntu",
            "ghcr.io/Owner/r",
            "ubuntu:",
            "ubuntu:-bad",
            "ubuntu@sha256:abc",
            "ubuntu@md5:0123456789abcdef0123456789abcdef",
            &format!("ubuntu@{}", DIGEST.to_uppercase()),
            "ghcr.io//r",
            "ghcr.io/o/r/",
            "ghcr.io/o/-r",
            "ghcr.io/o/r..x",
            "local host/x",
            "ghcr.io:99999/o/r",
            "ghcr.io:/o/r",
            "bad_host.io/o/r",
            "ghcr.io/",
        ] {
            let error = ImageReference::parse(image)
                .err()
                .unwrap_or_else(|| panic!("{image:?} parsed"));
            assert!(
                error.message.contains(&format!("{:?}", image.trim())),
                "{image:?}: {error}"
            );
            assert!(error.hint.is_some(), "{image:?}");
        }
    }

    #[test]
    fn repository_separators_follow_the_distribution_grammar() {
        for ok in ["a", "a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3"] {
            assert!(is_valid_path_component(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a..b", "a___b", "a._b", "A"] {
            assert!(!is_valid_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn bearer_challenges_parse_with_quoted_commas() {
        let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#;
        let challenges = parse_challenges(header);
        assert_eq!(challenges.len(), 1);
        let c = &challenges[0];
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(
            c.param("scope"),
            Some("repository:samalba/my-app:pull,push")
        );
    }

    #[test]
    fn challenges_tolerate_case_spaces_escapes_and_several_schemes() {
        let header = r#"Basic realm="Registry \"Realm\", the one", BEARER Realm = "https://ghcr.io/token" , service=ghcr.io,scope="repository:o/r:pull", Negotiate abc==, error="invalid_token""#;
        let challenges = parse_challenges(header);
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["basic", "bearer", "negotiate"]);
        assert_eq!(
            challenges[0].param("realm"),
            Some(r#"Registry "Realm", the one"#)
        );
        assert_eq!(challenges[1].param("realm"), Some("https://ghcr.io/token"));
        assert_eq!(challenges[1].param("service"), Some("ghcr.io"));
        assert_eq!(challenges[1].param("scope"), Some("repository:o/r:pull"));
        assert_eq!(challenges[2].param("error"), Some("invalid_token"));
        // An unquoted realm URL (seen in the wild) and an unterminated quote do not panic.
        let loose = parse_challenges("Bearer realm=https://h/token?x=1,service=s");
        assert_eq!(loose[0].param("realm"), Some("https://h/token?x=1"));
        assert_eq!(loose[0].param("service"), Some("s"));
        let broken = parse_challenges(r#"Bearer realm="https://h/tok"#);
        assert_eq!(broken[0].param("realm"), Some("https://h/tok"));
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges(" , ,").is_empty());
        assert_eq!(parse_challenges("Basic")[0].scheme, "basic");
    }

    #[test]
    fn digests_are_recognised_only_in_canonical_form() {
        assert!(is_sha256_digest(DIGEST));
        assert!(!is_sha256_digest(&DIGEST[..70]));
        assert!(!is_sha256_digest(&DIGEST.replace("sha256", "sha512")));
        assert!(!is_sha256_digest(&DIGEST.to_uppercase()));
    }
}
