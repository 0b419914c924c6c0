//! How HTTP PUT plugs in: `https://HOST/PATH/` destinations (and `http://` on loopback or with
//! `--allow-http`), its options declared once (credentials from the environment only), and
//! the configured provider.

use std::sync::Arc;

use cubeship_provider::{Destination, InputError, OptionSpec, Provider, ProviderFactory, Settings};

use crate::{HttpConfig, HttpProvider};

/// `Authorization: Bearer …`.
pub const TOKEN: OptionSpec = OptionSpec::secret_env(
    "token",
    &["CUBESHIP_HTTP_TOKEN"],
    "Bearer token, sent as `Authorization: Bearer …`",
);
/// Basic auth user.
pub const USER: OptionSpec = OptionSpec::env_only(
    "user",
    &["CUBESHIP_HTTP_USER"],
    "User name for HTTP basic auth (with CUBESHIP_HTTP_PASSWORD)",
);
/// Basic auth password.
pub const PASSWORD: OptionSpec = OptionSpec::secret_env(
    "password",
    &["CUBESHIP_HTTP_PASSWORD"],
    "Password for HTTP basic auth (with CUBESHIP_HTTP_USER)",
);

/// Every option of HTTP destinations, in documentation order.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::text(
        "get-url",
        "URL",
        "The base URL anonymous clients GET from, when reads are served elsewhere than PUTs [default: the PUT URL]",
    )
    .for_one_destination(),
    OptionSpec::many(
        "header",
        "NAME: VALUE",
        "An extra request header, repeatable: 'Name: value', or 'Name: env:VAR' to send the value of $VAR (required for credentials)",
    ),
    OptionSpec::switch(
        "allow-http",
        "Allow cleartext http:// to a host other than loopback",
    ),
    TOKEN,
    USER,
    PASSWORD,
    OptionSpec::env_only(
        "netrc",
        &["NETRC"],
        "The netrc file to read a login for the host from when no variable above is set [default: ~/.netrc]",
    ),
];

const UPLOAD_OPTIONS: &[OptionSpec] = &[OptionSpec::text(
    "url",
    "URL",
    "The folder URL files are PUT under (each as <URL>/<file name>), or one presigned object URL (with its ?query) for a single FILE; env:VAR reads it from $VAR",
)];

/// The factory the application registers: `https://HOST/PATH/` destinations and
/// `cubeship http upload`.
pub static FACTORY: ProviderFactory = ProviderFactory {
    name: "http",
    title: "Any server that accepts HTTP PUT (WebDAV, Artifactory, Nexus, presigned URLs)",
    destination_syntax: "https://HOST/PATH/",
    prefixes: &["https://", "http://"],
    options: OPTIONS,
    upload_options: UPLOAD_OPTIONS,
    log_directives: &[],
    container_registry: None,
    opener: |destination, settings| Box::pin(open(destination, settings)),
};

async fn open(
    destination: Destination<'_>,
    settings: &Settings,
) -> Result<Arc<dyn Provider>, InputError> {
    let config = match destination {
        Destination::Spec(spec) => HttpConfig::from_settings(spec, "--to", false, settings)?,
        Destination::Upload { files } => HttpConfig::from_settings(
            settings.text("url").unwrap_or_default(),
            "--url",
            files == 1,
            settings,
        )?,
    };
    let provider = HttpProvider::new(config, settings.retry(), settings.timeouts())
        .map_err(|e| InputError::new(e.to_string()))?;
    Ok(Arc::new(provider))
}
