//! Configuration of the HTTP PUT provider: its environment options declared once (name, help,
//! secret or not), and the checks that turn what the user gave into a ready `HttpConfig`
//! before anything is sent.

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use cubeship_provider::Secret;

use crate::netrc;

/// One setting read from the environment. This table drives the lookup, the redaction of
/// secret values, the names quoted in error messages and the provider's documentation.
#[derive(Clone, Copy, Debug)]
pub struct EnvOption {
    pub name: &'static str,
    pub help: &'static str,
    /// Its value is never printed, logged or written to a report.
    pub secret: bool,
}

pub const TOKEN: EnvOption = EnvOption {
    name: "CUBESHIP_HTTP_TOKEN",
    help: "bearer token, sent as `Authorization: Bearer …`",
    secret: true,
};
pub const USER: EnvOption = EnvOption {
    name: "CUBESHIP_HTTP_USER",
    help: "user name for HTTP basic auth (with CUBESHIP_HTTP_PASSWORD)",
    secret: false,
};
pub const PASSWORD: EnvOption = EnvOption {
    name: "CUBESHIP_HTTP_PASSWORD",
    help: "password for HTTP basic auth (with CUBESHIP_HTTP_USER)",
    secret: true,
};
pub const NETRC: EnvOption = EnvOption {
    name: "NETRC",
    help: "the netrc file to read a login for the host from when no variable above is set [default: ~/.netrc]",
    secret: false,
};

/// Every environment variable the provider reads, in documentation order.
pub const ENV_OPTIONS: &[EnvOption] = &[TOKEN, USER, PASSWORD, NETRC];

/// Prefix of a `--header` value (and of `--url`) that names an environment variable holding
/// the actual value, so that secrets stay off the command line.
pub const ENV_PREFIX: &str = "env:";

/// What the user configured, as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    /// The PUT URL: a folder, or (when `single_object` allows it and it has a query string,
    /// as presigned URLs do) the object itself. `env:VAR` reads it from `$VAR`.
    pub url: String,
    /// The option that carried `url`, for messages (`--to`, `--url`).
    pub url_option: &'static str,
    /// Where anonymous clients read from, when not from `url`.
    pub get_url: Option<String>,
    /// `Name: value` or `Name: env:VAR` lines.
    pub headers: Vec<String>,
    /// Cleartext `http://` to a host other than loopback.
    pub allow_http: bool,
    /// The caller uploads exactly one file, so a URL with a query string may name it.
    pub single_object: bool,
}

/// A configuration mistake, found before anything is sent: what is wrong (naming the option
/// or variable, never a secret value) and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub message: String,
    pub hint: Option<String>,
}

impl ConfigError {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where uploads go and where readers find them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `PUT <put_base>/<key>`, read at `<get_base>/<key>`. Both end with `/`.
    Folder { put_base: Url, get_base: Url },
    /// One object at exactly `put` (a presigned URL), read at exactly `get`.
    Object { put: Url, get: Url },
}

/// Credentials sent with every request to the PUT side.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer {
        token: Secret,
    },
    Basic {
        user: String,
        password: Secret,
        /// Where they came from, for messages: variable names or the netrc file.
        source: String,
    },
}

impl Auth {
    /// For messages: which credentials were sent and where they came from, without values.
    pub fn describe(&self) -> String {
        match self {
            Auth::None => "no credentials were sent".into(),
            Auth::Bearer { .. } => format!("sent a bearer token from {}", TOKEN.name),
            Auth::Basic { source, .. } => format!("sent basic auth from {source}"),
        }
    }
}

/// A header added to every request to the PUT side.
#[derive(Clone, Debug)]
pub struct ExtraHeader {
    pub name: HeaderName,
    pub value: HeaderValue,
    /// The variable the value came from (then it is a secret).
    pub from_env: Option<String>,
}

/// A checked configuration, ready to build a provider from.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub target: Target,
    pub auth: Auth,
    pub headers: Vec<ExtraHeader>,
    /// Every secret value the configuration holds, to scrub from server messages.
    pub secrets: Vec<Secret>,
}

impl HttpConfig {
    /// Checks `options` and reads credentials through `env` (the process environment, or a
    /// map in tests).
    pub fn from_options(
        options: &HttpOptions,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HttpConfig, ConfigError> {
        let mut secrets = Vec::new();
        let option = if options.url_option.is_empty() {
            "--url"
        } else {
            options.url_option
        };
        let raw_url = match options.url.strip_prefix(ENV_PREFIX) {
            Some(var) => {
                let value = read_env(env, var, option)?;
                // A URL kept in the environment is a secret as a whole (a presigned URL).
                secrets.push(Secret::new(value.clone()));
                value
            }
            None => options.url.clone(),
        };
        let put = parse_url(&raw_url, option)?;
        check_cleartext(&put, option, options.allow_http)?;
        let get = options
            .get_url
            .as_deref()
            .map(|raw| parse_url(raw, "--get-url"))
            .transpose()?;

        let target = if put.query().is_some() {
            if !options.single_object {
                return Err(ConfigError::new(
                    format!(
                        "{option} {}: a URL with a query string (a presigned URL) names one object, \
                         but several files are to be uploaded",
                        display_url(&put)
                    ),
                    "give a folder URL without a query string, or upload one file with \
                     `cubeship http upload FILE --url PRESIGNED_URL --get-url PUBLIC_URL`",
                ));
            }
            for (_, value) in put.query_pairs() {
                if value.len() >= 4 {
                    secrets.push(Secret::new(value.into_owned()));
                }
            }
            secrets.push(Secret::new(put.query().unwrap_or_default()));
            let get = get.unwrap_or_else(|| {
                let mut bare = put.clone();
                bare.set_query(None);
                bare
            });
            Target::Object { put, get }
        } else {
            if get.as_ref().is_some_and(|g| g.query().is_some()) {
                return Err(ConfigError::new(
                    "--get-url has a query string, but it is a base that object keys are appended to",
                    "give the GET base as scheme://host/path/ without ?…",
                ));
            }
            let put_base = as_folder(put);
            let get_base = get.map(as_folder).unwrap_or_else(|| put_base.clone());
            Target::Folder { put_base, get_base }
        };

        let host = match &target {
            Target::Folder { put_base, .. } => put_base.host_str().unwrap_or_default().to_string(),
            Target::Object { put, .. } => put.host_str().unwrap_or_default().to_string(),
        };
        let auth = read_auth(env, &host)?;
        match &auth {
            Auth::Bearer { token } => secrets.push(token.clone()),
            Auth::Basic { password, .. } => secrets.push(password.clone()),
            Auth::None => {}
        }

        let mut headers = Vec::new();
        for line in &options.headers {
            let header = parse_header(line, env)?;
            if header.from_env.is_some()
                && let Ok(value) = header.value.to_str()
            {
                secrets.push(Secret::new(value));
            }
            if header.name == reqwest::header::AUTHORIZATION && !matches!(auth, Auth::None) {
                return Err(ConfigError::new(
                    format!(
                        "--header Authorization and {} both give credentials",
                        auth_variables(&auth)
                    ),
                    "keep one of them",
                ));
            }
            headers.push(header);
        }
        Ok(HttpConfig {
            target,
            auth,
            headers,
            secrets,
        })
    }
}

fn auth_variables(auth: &Auth) -> String {
    match auth {
        Auth::None => String::new(),
        Auth::Bearer { .. } => TOKEN.name.to_string(),
        Auth::Basic { source, .. } => source.clone(),
    }
}

/// `url` for messages: no user info, and a query string (a presigned URL's signature) hidden.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if shown.query().is_some() {
        shown.set_query(None);
        format!("{shown}?…")
    } else {
        shown.to_string()
    }
}

fn read_env(
    env: &dyn Fn(&str) -> Option<String>,
    var: &str,
    option: &str,
) -> Result<String, ConfigError> {
    if var.is_empty() {
        return Err(ConfigError::new(
            format!("{option}: `env:` needs a variable name"),
            "write env:VARIABLE_NAME",
        ));
    }
    match env(var) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(ConfigError::new(
            format!("{option} reads ${var}, which is not set"),
            format!("export {var}=… before running cubeship"),
        )),
    }
}

fn parse_url(raw: &str, option: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        ConfigError::new(
            // The raw value may hold a password or signature: show only why it failed.
            format!("{option}: not a valid URL ({e})"),
            "write an absolute URL such as https://files.example.org/medperf/",
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            format!(
                "{option} {}: only http:// and https:// are supported here",
                display_url(&url)
            ),
            "write an https:// URL",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            format!(
                "{option} {} holds a user name or password; secrets do not belong on the command line",
                display_url(&url)
            ),
            format!(
                "remove them from the URL and export {} and {} (or {}, or add the host to ~/.netrc)",
                USER.name, PASSWORD.name, TOKEN.name
            ),
        ));
    }
    if url.fragment().is_some() {
        return Err(ConfigError::new(
            format!(
                "{option} {}: a URL fragment (#…) is never sent to the server",
                display_url(&url)
            ),
            "remove the #… part",
        ));
    }
    Ok(url)
}

/// Credentials over cleartext HTTP are readable by anyone on the path; allowed on loopback,
/// elsewhere only when asked for.
fn check_cleartext(url: &Url, option: &str, allow_http: bool) -> Result<(), ConfigError> {
    if url.scheme() != "http" || allow_http || is_loopback(url) {
        return Ok(());
    }
    Err(ConfigError::new(
        format!(
            "{option} {}: http:// sends credentials and data unencrypted",
            display_url(url)
        ),
        "use https://, or pass --allow-http if this network is trusted",
    ))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A folder URL ends with `/`, so that keys are appended under it, not next to it.
fn as_folder(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

fn read_auth(env: &dyn Fn(&str) -> Option<String>, host: &str) -> Result<Auth, ConfigError> {
    let get = |option: &EnvOption| env(option.name).filter(|v| !v.is_empty());
    let token = get(&TOKEN);
    let user = get(&USER);
    let password = get(&PASSWORD);
    match (token, user, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ConfigError::new(
            format!(
                "both {} and {}/{} are set",
                TOKEN.name, USER.name, PASSWORD.name
            ),
            "unset the one this server does not use",
        )),
        (Some(token), None, None) => Ok(Auth::Bearer {
            token: Secret::new(token),
        }),
        (None, Some(user), Some(password)) => Ok(Auth::Basic {
            user,
            password: Secret::new(password),
            source: format!("{} and {}", USER.name, PASSWORD.name),
        }),
        (None, Some(_), None) => Err(ConfigError::new(
            format!("{} is set but {} is not", USER.name, PASSWORD.name),
            format!("export {} too", PASSWORD.name),
        )),
        (None, None, Some(_)) => Err(ConfigError::new(
            format!("{} is set but {} is not", PASSWORD.name, USER.name),
            format!("export {} too", USER.name),
        )),
        (None, None, None) => {
            let path = netrc::default_path(env(NETRC.name));
            Ok(
                match path.as_deref().and_then(|p| netrc::login_for(p, host)) {
                    Some(login) => Auth::Basic {
                        user: login.user,
                        password: Secret::new(login.password),
                        source: format!(
                            "{} (machine {host})",
                            path.as_deref()
                                .map(|p| p.display().to_string())
                                .unwrap_or_default()
                        ),
                    },
                    None => Auth::None,
                },
            )
        }
    }
}

/// Headers cubeship computes itself; a user value would make the request lie about its body.
const OWN_HEADERS: &[&str] = &["content-length", "transfer-encoding", "expect", "host"];

/// Whether a header name suggests its value is a credential, which must then come from the
/// environment, not the command line (where shells, `ps` and CI logs keep it).
fn looks_secret(name: &HeaderName) -> bool {
    let name = name.as_str();
    ["authorization", "cookie"].contains(&name)
        || [
            "token",
            "secret",
            "password",
            "auth",
            "key",
            "art-api",
            "signature",
            "session",
        ]
        .iter()
        .any(|word| name.contains(word))
}

fn parse_header(
    line: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ExtraHeader, ConfigError> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(ConfigError::new(
            format!(
                "--header `{}`: expected `Name: value`",
                line.chars().take(40).collect::<String>()
            ),
            "write --header 'X-Api-Key: env:MY_KEY' (the value read from $MY_KEY) or 'Name: value'",
        ));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        ConfigError::new(
            format!("--header `{}`: not a valid header name", name.trim()),
            "header names are letters, digits and -",
        )
    })?;
    if OWN_HEADERS.contains(&name.as_str()) {
        return Err(ConfigError::new(
            format!("--header {name}: cubeship sets this header itself"),
            "remove this --header",
        ));
    }
    let value = value.trim();
    let (value, from_env) = match value.strip_prefix(ENV_PREFIX) {
        Some(var) => (
            read_env(env, var, &format!("--header {name}"))?,
            Some(var.to_string()),
        ),
        None if looks_secret(&name) => {
            return Err(ConfigError::new(
                format!(
                    "--header {name} carries a credential on the command line, where shell history and process lists keep it"
                ),
                format!("export it and write --header '{name}: env:VARIABLE'"),
            ));
        }
        None => (value.to_string(), None),
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        ConfigError::new(
            match &from_env {
                Some(var) => {
                    format!("--header {name}: ${var} holds characters not allowed in a header")
                }
                None => {
                    format!("--header {name}: the value holds characters not allowed in a header")
                }
            },
            "header values are visible ASCII",
        )
    })?;
    value.set_sensitive(from_env.is_some());
    Ok(ExtraHeader {
        name,
        value,
        from_env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("NETRC".into())
            .or_insert_with(|| "/nonexistent/netrc".into());
        move |name: &str| map.get(name).cloned()
    }

    fn options(url: &str) -> HttpOptions {
        HttpOptions {
            url: url.into(),
            url_option: "--to",
            ..Default::default()
        }
    }

    #[test]
    fn folder_urls_get_a_trailing_slash_and_default_to_the_same_get_base() {
        let config =
            HttpConfig::from_options(&options("https://h.example/a/b"), &env_of(&[])).unwrap();
        let Target::Folder { put_base, get_base } = config.target else {
            panic!("folder expected")
        };
        assert_eq!(put_base.as_str(), "https://h.example/a/b/");
        assert_eq!(get_base, put_base);
    }

    #[test]
    fn cleartext_http_is_refused_off_loopback_unless_allowed() {
        let env = env_of(&[]);
        assert!(HttpConfig::from_options(&options("http://127.0.0.1:8080/x/"), &env).is_ok());
        assert!(HttpConfig::from_options(&options("http://localhost/x/"), &env).is_ok());
        let error =
            HttpConfig::from_options(&options("http://files.example/x/"), &env).unwrap_err();
        assert!(error.message.contains("unencrypted"), "{error:?}");
        let mut allowed = options("http://files.example/x/");
        allowed.allow_http = true;
        assert!(HttpConfig::from_options(&allowed, &env).is_ok());
    }

    #[test]
    fn passwords_in_urls_are_refused_without_being_echoed() {
        let error =
            HttpConfig::from_options(&options("https://me:hunter22@h.example/x/"), &env_of(&[]))
                .unwrap_err();
        assert!(!format!("{error:?}").contains("hunter22"));
        assert!(error.hint.unwrap().contains("CUBESHIP_HTTP_PASSWORD"));
    }

    #[test]
    fn presigned_urls_name_one_object_and_hide_their_signature() {
        let url =
            "https://b.s3.example/k/file.tar.gz?X-Amz-Signature=deadbeefcafe&X-Amz-Expires=600";
        let error = HttpConfig::from_options(&options(url), &env_of(&[])).unwrap_err();
        assert!(!error.message.contains("deadbeefcafe"), "{error:?}");
        let mut single = options(url);
        single.single_object = true;
        let config = HttpConfig::from_options(&single, &env_of(&[])).unwrap();
        let Target::Object { get, .. } = &config.target else {
            panic!("object expected")
        };
        assert_eq!(get.as_str(), "https://b.s3.example/k/file.tar.gz");
        assert!(config.secrets.iter().any(|s| s.expose() == "deadbeefcafe"));
    }

    #[test]
    fn credentials_come_from_the_environment_and_conflicts_are_refused() {
        let basic = HttpConfig::from_options(
            &options("https://h.example/"),
            &env_of(&[
                ("CUBESHIP_HTTP_USER", "u"),
                ("CUBESHIP_HTTP_PASSWORD", "pw-secret"),
            ]),
        )
        .unwrap();
        assert!(matches!(basic.auth, Auth::Basic { .. }));
        assert!(!format!("{basic:?}").contains("pw-secret"));
        let half = HttpConfig::from_options(
            &options("https://h.example/"),
            &env_of(&[("CUBESHIP_HTTP_USER", "u")]),
        )
        .unwrap_err();
        assert!(half.message.contains("CUBESHIP_HTTP_PASSWORD"));
        let both = HttpConfig::from_options(
            &options("https://h.example/"),
            &env_of(&[
                ("CUBESHIP_HTTP_TOKEN", "t0k3n"),
                ("CUBESHIP_HTTP_USER", "u"),
            ]),
        )
        .unwrap_err();
        assert!(both.message.contains("CUBESHIP_HTTP_TOKEN"));
    }

    #[test]
    fn header_values_come_from_env_or_are_refused_when_they_look_secret() {
        let mut with_header = options("https://h.example/");
        with_header.headers = vec!["X-JFrog-Art-Api: env:ART_KEY".into()];
        let config =
            HttpConfig::from_options(&with_header, &env_of(&[("ART_KEY", "k3y-value")])).unwrap();
        assert_eq!(config.headers[0].from_env.as_deref(), Some("ART_KEY"));
        assert!(config.headers[0].value.is_sensitive());
        assert!(config.secrets.iter().any(|s| s.expose() == "k3y-value"));

        let missing = HttpConfig::from_options(&with_header, &env_of(&[])).unwrap_err();
        assert!(missing.message.contains("$ART_KEY"), "{missing:?}");

        with_header.headers = vec!["X-Api-Key: literal-secret".into()];
        let literal = HttpConfig::from_options(&with_header, &env_of(&[])).unwrap_err();
        assert!(!format!("{literal:?}").contains("literal-secret"));

        with_header.headers = vec!["X-Repository-Note: medperf".into()];
        assert!(HttpConfig::from_options(&with_header, &env_of(&[])).is_ok());

        with_header.headers = vec!["Content-Length: 3".into()];
        assert!(HttpConfig::from_options(&with_header, &env_of(&[])).is_err());
        with_header.headers = vec!["no colon".into()];
        assert!(HttpConfig::from_options(&with_header, &env_of(&[])).is_err());
    }

    #[test]
    fn the_provider_page_documents_every_variable() {
        let page = include_str!("../../../docs/providers/http.md");
        for option in ENV_OPTIONS {
            assert!(
                page.contains(option.name),
                "docs/providers/http.md misses {}",
                option.name
            );
        }
    }

    #[test]
    fn display_url_hides_queries() {
        let url = Url::parse("https://h.example/a?sig=abc").unwrap();
        assert_eq!(display_url(&url), "https://h.example/a?…");
    }
}
