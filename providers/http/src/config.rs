//! Configuration of the HTTP PUT provider: the checks that turn the resolved settings (see
//! `factory` for their declarations) into a ready `HttpConfig` before anything is sent.

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use cubeship_provider::http::{display_url, is_loopback, parse_http_url};
use cubeship_provider::{InputError, Secret, Settings};

use crate::factory::{PASSWORD, TOKEN, USER};
use crate::netrc;

/// The environment variable of a `--header` value or `--url` written `env:VAR`, which keeps a
/// secret off the command line.
pub const ENV_PREFIX: &str = "env:";

/// Where uploads go and where readers find them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `PUT <put_base>/<key>`, read at `<get_base>/<key>`. Both end with `/`.
    Folder {
        /// Where objects are PUT.
        put_base: Url,
        /// Where anonymous clients GET them.
        get_base: Url,
    },
    /// One object at exactly `put` (a presigned URL), read at exactly `get`.
    Object {
        /// The PUT URL.
        put: Url,
        /// The GET URL.
        get: Url,
    },
}

/// Credentials sent with every request to the PUT side.
#[derive(Clone, Debug)]
pub enum Auth {
    /// None.
    None,
    /// `Authorization: Bearer …`.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// HTTP basic auth.
    Basic {
        /// The user name.
        user: String,
        /// The password.
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
            Auth::Bearer { .. } => format!("sent a bearer token from {}", TOKEN.display_name()),
            Auth::Basic { source, .. } => format!("sent basic auth from {source}"),
        }
    }
}

/// A header added to every request to the PUT side.
#[derive(Clone, Debug)]
pub struct ExtraHeader {
    /// Header name.
    pub name: HeaderName,
    /// Header value (sensitive when it came from the environment).
    pub value: HeaderValue,
    /// The variable the value came from (then it is a secret).
    pub from_env: Option<String>,
}

/// A checked configuration, ready to build a provider from.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Where objects go.
    pub target: Target,
    /// The credentials sent on the PUT side.
    pub auth: Auth,
    /// Extra headers sent on the PUT side.
    pub headers: Vec<ExtraHeader>,
    /// Every secret value the configuration holds, to scrub from server messages.
    pub secrets: Vec<Secret>,
}

impl HttpConfig {
    /// Checks the PUT URL `url` (given with `option`; `env:VAR` reads it from `$VAR`) and the
    /// resolved `settings`. `single_object`: exactly one file is uploaded, so a URL with a
    /// query string (a presigned URL) may name it.
    pub fn from_settings(
        url: &str,
        option: &str,
        single_object: bool,
        settings: &Settings,
    ) -> Result<HttpConfig, InputError> {
        let mut secrets = settings.secrets();
        let raw_url = match url.strip_prefix(ENV_PREFIX) {
            Some(var) => {
                let value = read_env(settings, var, option)?;
                // A URL kept in the environment is a secret as a whole (a presigned URL).
                secrets.push(Secret::new(value.clone()));
                value
            }
            None => url.to_string(),
        };
        let put = parse_url(&raw_url, option)?;
        check_cleartext(&put, option, settings.switch("allow-http"))?;
        let get = settings
            .text("get-url")
            .map(|raw| parse_url(raw, "--get-url"))
            .transpose()?;

        let target = if put.query().is_some() {
            if !url.starts_with(ENV_PREFIX) {
                // The signature would sit in shell history and in every process list.
                return Err(refused(
                    format!(
                        "{option} {}: a URL with a query string (a presigned URL) is a secret and \
                         does not belong on the command line",
                        display_url(&put)
                    ),
                    "export it and name the variable: export PUT_URL='…'; then give `--url env:PUT_URL`",
                ));
            }
            if !single_object {
                return Err(refused(
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
                return Err(refused(
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
        let auth = read_auth(settings, &host)?;
        if let Auth::Basic { password, .. } = &auth {
            secrets.push(password.clone());
        }

        let mut headers = Vec::new();
        for line in settings.many("header") {
            let header = parse_header(line, settings)?;
            if header.from_env.is_some()
                && let Ok(value) = header.value.to_str()
            {
                secrets.push(Secret::new(value));
            }
            if header.name == reqwest::header::AUTHORIZATION && !matches!(auth, Auth::None) {
                return Err(refused(
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
        Auth::Bearer { .. } => TOKEN.display_name(),
        Auth::Basic { source, .. } => source.clone(),
    }
}

/// A configuration mistake, with what to do.
fn refused(message: impl Into<String>, hint: impl Into<String>) -> InputError {
    InputError::new(message).hint(hint)
}

fn read_env(settings: &Settings, var: &str, option: &str) -> Result<String, InputError> {
    if var.is_empty() {
        return Err(refused(
            format!("{option}: `env:` needs a variable name"),
            "write env:VARIABLE_NAME",
        ));
    }
    match settings.env_var(var) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(refused(
            format!("{option} reads ${var}, which is not set"),
            format!("export {var}=… before running cubeship"),
        )),
    }
}

/// The shared URL check, with this provider's own credentials named in the hint.
fn parse_url(raw: &str, option: &str) -> Result<Url, InputError> {
    parse_http_url(raw, option).map_err(|mut error| {
        if error.message.contains("user name or password") {
            error.hint = Some(format!(
                "remove them from the URL and export {} and {} (or {}, or add the host to ~/.netrc)",
                USER.display_name(),
                PASSWORD.display_name(),
                TOKEN.display_name()
            ));
        }
        error
    })
}

/// Credentials over cleartext HTTP are readable by anyone on the path; allowed on loopback,
/// elsewhere only when asked for.
fn check_cleartext(url: &Url, option: &str, allow_http: bool) -> Result<(), InputError> {
    if url.scheme() != "http" || allow_http || is_loopback(url) {
        return Ok(());
    }
    Err(refused(
        format!(
            "{option} {}: http:// sends credentials and data unencrypted",
            display_url(url)
        ),
        "use https://, or pass --allow-http if this network is trusted",
    ))
}

/// A folder URL ends with `/`, so that keys are appended under it, not next to it.
fn as_folder(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

fn read_auth(settings: &Settings, host: &str) -> Result<Auth, InputError> {
    let token = settings.secret(TOKEN.name);
    let user = settings.text(USER.name).map(str::to_string);
    let password = settings.secret(PASSWORD.name);
    let (token_var, user_var, password_var) = (
        TOKEN.display_name(),
        USER.display_name(),
        PASSWORD.display_name(),
    );
    match (token, user, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(refused(
            format!("both {token_var} and {user_var}/{password_var} are set"),
            "unset the one this server does not use",
        )),
        (Some(token), None, None) => Ok(Auth::Bearer { token }),
        (None, Some(user), Some(password)) => Ok(Auth::Basic {
            user,
            password,
            source: format!("{user_var} and {password_var}"),
        }),
        (None, Some(_), None) => Err(refused(
            format!("{user_var} is set but {password_var} is not"),
            format!("export {password_var} too"),
        )),
        (None, None, Some(_)) => Err(refused(
            format!("{password_var} is set but {user_var} is not"),
            format!("export {user_var} too"),
        )),
        (None, None, None) => {
            let path = netrc::default_path(
                settings.text("netrc").map(str::to_string),
                settings.env_var("HOME"),
            );
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

fn parse_header(line: &str, settings: &Settings) -> Result<ExtraHeader, InputError> {
    let Some((name, value)) = line.split_once(':') else {
        return Err(refused(
            format!(
                "--header `{}`: expected `Name: value`",
                line.chars().take(40).collect::<String>()
            ),
            "write --header 'X-Api-Key: env:MY_KEY' (the value read from $MY_KEY) or 'Name: value'",
        ));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        refused(
            format!("--header `{}`: not a valid header name", name.trim()),
            "header names are letters, digits and -",
        )
    })?;
    if OWN_HEADERS.contains(&name.as_str()) {
        return Err(refused(
            format!("--header {name}: cubeship sets this header itself"),
            "remove this --header",
        ));
    }
    let value = value.trim();
    let (value, from_env) = match value.strip_prefix(ENV_PREFIX) {
        Some(var) => (
            read_env(settings, var, &format!("--header {name}"))?,
            Some(var.to_string()),
        ),
        None if looks_secret(&name) => {
            return Err(refused(
                format!(
                    "--header {name} carries a credential on the command line, where shell history and process lists keep it"
                ),
                format!("export it and write --header '{name}: env:VARIABLE'"),
            ));
        }
        None => (value.to_string(), None),
    };
    let mut value = HeaderValue::from_str(&value).map_err(|_| {
        refused(
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
    use std::sync::Arc;

    /// Settings as the CLI resolves them: `flags` given on the command line, `env` the
    /// environment (with no netrc unless a test names one).
    fn settings(flags: &[(&str, &str)], env: &[(&str, &str)]) -> Settings {
        let flags: Vec<(String, String)> = flags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("NETRC".into())
            .or_insert_with(|| "/nonexistent/netrc".into());
        let given = move |name: &str| {
            let values: Vec<String> = flags
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .collect();
            (!values.is_empty()).then_some(values)
        };
        Settings::resolve(
            crate::factory::OPTIONS,
            &given,
            Arc::new(move |name| map.get(name).cloned()),
        )
    }

    fn config(url: &str, settings: &Settings) -> Result<HttpConfig, InputError> {
        HttpConfig::from_settings(url, "--to", false, settings)
    }

    #[test]
    fn folder_urls_get_a_trailing_slash_and_default_to_the_same_get_base() {
        let config = config("https://h.example/a/b", &settings(&[], &[])).unwrap();
        let Target::Folder { put_base, get_base } = config.target else {
            panic!("folder expected")
        };
        assert_eq!(put_base.as_str(), "https://h.example/a/b/");
        assert_eq!(get_base, put_base);
    }

    #[test]
    fn cleartext_http_is_refused_off_loopback_unless_allowed() {
        let plain = settings(&[], &[]);
        assert!(config("http://127.0.0.1:8080/x/", &plain).is_ok());
        assert!(config("http://localhost/x/", &plain).is_ok());
        let error = config("http://files.example/x/", &plain).unwrap_err();
        assert!(error.message.contains("unencrypted"), "{error:?}");
        let allowed = settings(&[("allow-http", "true")], &[]);
        assert!(config("http://files.example/x/", &allowed).is_ok());
    }

    #[test]
    fn passwords_in_urls_are_refused_without_being_echoed() {
        let error = config("https://me:hunter22@h.example/x/", &settings(&[], &[])).unwrap_err();
        assert!(!format!("{error:?}").contains("hunter22"));
        assert!(error.hint.unwrap().contains("CUBESHIP_HTTP_PASSWORD"));
    }

    #[test]
    fn presigned_urls_name_one_object_and_hide_their_signature() {
        let url =
            "https://b.s3.example/k/file.tar.gz?X-Amz-Signature=deadbeefcafe&X-Amz-Expires=600";
        let plain = settings(&[], &[]);
        let error = config(url, &plain).unwrap_err();
        assert!(!error.message.contains("deadbeefcafe"), "{error:?}");
        // Written literally on the command line: refused, with the env: way as the hint.
        let literal = HttpConfig::from_settings(url, "--url", true, &plain).unwrap_err();
        assert!(
            !format!("{literal:?}").contains("deadbeefcafe"),
            "{literal:?}"
        );
        assert!(
            literal.hint.as_deref().unwrap().contains("env:"),
            "{literal:?}"
        );
        let in_env = settings(&[], &[("PUT_URL", url)]);
        let config = HttpConfig::from_settings("env:PUT_URL", "--url", true, &in_env).unwrap();
        let Target::Object { get, .. } = &config.target else {
            panic!("object expected")
        };
        assert_eq!(get.as_str(), "https://b.s3.example/k/file.tar.gz");
        assert!(config.secrets.iter().any(|s| s.expose() == "deadbeefcafe"));
    }

    #[test]
    fn credentials_come_from_the_environment_and_conflicts_are_refused() {
        let basic = config(
            "https://h.example/",
            &settings(
                &[],
                &[
                    ("CUBESHIP_HTTP_USER", "u"),
                    ("CUBESHIP_HTTP_PASSWORD", "pw-secret"),
                ],
            ),
        )
        .unwrap();
        assert!(matches!(basic.auth, Auth::Basic { .. }));
        assert!(!format!("{basic:?}").contains("pw-secret"));
        assert!(basic.secrets.iter().any(|s| s.expose() == "pw-secret"));
        let half = config(
            "https://h.example/",
            &settings(&[], &[("CUBESHIP_HTTP_USER", "u")]),
        )
        .unwrap_err();
        assert!(half.message.contains("CUBESHIP_HTTP_PASSWORD"));
        let both = config(
            "https://h.example/",
            &settings(
                &[],
                &[
                    ("CUBESHIP_HTTP_TOKEN", "t0k3n"),
                    ("CUBESHIP_HTTP_USER", "u"),
                ],
            ),
        )
        .unwrap_err();
        assert!(both.message.contains("CUBESHIP_HTTP_TOKEN"));
    }

    #[test]
    fn header_values_come_from_env_or_are_refused_when_they_look_secret() {
        let header = |line: &'static str, env: &[(&str, &str)]| {
            config("https://h.example/", &settings(&[("header", line)], env))
        };
        let config = header("X-JFrog-Art-Api: env:ART_KEY", &[("ART_KEY", "k3y-value")]).unwrap();
        assert_eq!(config.headers[0].from_env.as_deref(), Some("ART_KEY"));
        assert!(config.headers[0].value.is_sensitive());
        assert!(config.secrets.iter().any(|s| s.expose() == "k3y-value"));

        let missing = header("X-JFrog-Art-Api: env:ART_KEY", &[]).unwrap_err();
        assert!(missing.message.contains("$ART_KEY"), "{missing:?}");

        let literal = header("X-Api-Key: literal-secret", &[]).unwrap_err();
        assert!(!format!("{literal:?}").contains("literal-secret"));

        assert!(header("X-Repository-Note: medperf", &[]).is_ok());
        assert!(header("Content-Length: 3", &[]).is_err());
        assert!(header("no colon", &[]).is_err());
    }
}
