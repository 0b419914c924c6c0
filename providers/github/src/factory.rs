//! How GitHub release assets plug in: `github://OWNER/REPO/TAG` destinations, the options
//! declared once (token from the environment only, API base for GitHub Enterprise Server),
//! and the configured provider.

use std::sync::Arc;

use cubeship_provider::http::parse_http_url;
use cubeship_provider::{Destination, InputError, OptionSpec, Provider, ProviderFactory, Settings};

use crate::{DEFAULT_API_URL, GithubConfig, GithubProvider};

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::switch(
        "create-release",
        "Create the release when no release has the tag (default: refuse)",
    ),
    OptionSpec::switch(
        "draft",
        "With --create-release: create it as a draft (its assets are not public until it is published)",
    ),
    OptionSpec::text(
        "api-url",
        "URL",
        "REST API base, e.g. https://HOST/api/v3 for GitHub Enterprise Server",
    )
    .with_env(&["GITHUB_API_URL"])
    .with_default(DEFAULT_API_URL),
    // Never a flag: a flag's value shows in `ps` and shell history.
    OptionSpec::secret_env(
        "token",
        &["GITHUB_TOKEN", "GH_TOKEN"],
        "Token that may write the repository's releases (fine-grained: Contents read and write; classic: repo or public_repo)",
    ),
];

const UPLOAD_OPTIONS: &[OptionSpec] = &[
    OptionSpec::text("repo", "OWNER/REPO", "The repository"),
    OptionSpec::text("tag", "TAG", "The release's tag"),
];

/// The factory the application registers: `github://OWNER/REPO/TAG` destinations and
/// `cubeship github upload`.
pub static FACTORY: ProviderFactory = ProviderFactory {
    name: "github",
    title: "GitHub release assets",
    destination_syntax: "github://OWNER/REPO/TAG",
    prefixes: &["github://"],
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
    let (owner, repo, tag) = match destination {
        Destination::Spec(spec) => parse_spec(spec)?,
        Destination::Upload { .. } => parse_upload(settings)?,
    };
    if settings.switch("draft") && !settings.switch("create-release") {
        return Err(InputError::new("--draft needs --create-release")
            .hint("--draft only applies to a release cubeship creates"));
    }
    let (token_source, token) = ["GITHUB_TOKEN", "GH_TOKEN"]
        .into_iter()
        .find(|var| settings.origin("token").is_some_and(|o| o.to_string() == format!("${var}")))
        .zip(settings.secret("token"))
        .ok_or_else(|| {
            InputError::new("GitHub needs a token: neither GITHUB_TOKEN nor GH_TOKEN is set")
                .hint(format!(
                    "export GITHUB_TOKEN with a token that may write to {owner}/{repo} \
                     (fine-grained: Contents read and write; classic: repo or public_repo); see docs/providers/github.md"
                ))
        })?;
    let origin = settings
        .origin("api-url")
        .map(|o| o.to_string())
        .unwrap_or_else(|| "--api-url".into());
    let api_url = parse_http_url(settings.text("api-url").unwrap_or(DEFAULT_API_URL), &origin)
        .map_err(|e| e.hint("give the REST API base: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server (--api-url)"))?;
    let config = GithubConfig {
        owner: owner.clone(),
        repo: repo.clone(),
        tag: tag.clone(),
        api_url,
        token,
        token_source,
        create_release: settings.switch("create-release"),
        draft: settings.switch("draft"),
        retry: settings.retry(),
        timeouts: settings.timeouts(),
    };
    let provider = GithubProvider::new(config)
        .map_err(|e| InputError::new(format!("github://{owner}/{repo}/{tag}: {e}")))?;
    Ok(Arc::new(provider))
}

fn parse_spec(spec: &str) -> Result<(String, String, String), InputError> {
    let rest = spec.strip_prefix("github://").unwrap_or(spec);
    let mut parts = rest.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(owner), Some(repo), Some(tag))
            if !owner.is_empty() && !repo.is_empty() && !tag.trim_matches('/').is_empty() =>
        {
            Ok((owner.into(), repo.into(), tag.trim_matches('/').into()))
        }
        _ => Err(
            InputError::new(format!("--to {spec}: expected github://OWNER/REPO/TAG")).hint(
                "name the repository and the release tag, as in --to github://my-org/my-model/v1.0",
            ),
        ),
    }
}

fn parse_upload(settings: &Settings) -> Result<(String, String, String), InputError> {
    let repo = settings.text("repo").unwrap_or_default();
    let (owner, name) = repo
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| {
            InputError::new(format!("--repo {repo}: expected OWNER/REPO"))
                .hint("as in --repo my-org/my-model")
        })?;
    let tag = settings.text("tag").unwrap_or_default().trim();
    if tag.is_empty() {
        return Err(
            InputError::new("--tag is empty").hint("give the release's tag, as in --tag v1.0")
        );
    }
    Ok((owner.into(), name.into(), tag.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_name_owner_repo_and_tag() {
        assert_eq!(
            parse_spec("github://o/r/v1.0/").unwrap(),
            ("o".into(), "r".into(), "v1.0".into())
        );
        for bad in ["github://o/r", "github://o//t", "github:///r/t"] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
    }
}
