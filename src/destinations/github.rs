//! Command-line options and construction of the GitHub release assets provider
//! (`--to github://OWNER/REPO/TAG`, `cubeship github upload`).

use std::sync::Arc;

use clap::{Args, Subcommand};
use cubeship_github::{DEFAULT_API_URL, GithubConfig, GithubProvider};
use cubeship_provider::Secret;

use crate::cli::GlobalArgs;
use crate::error::InputError;
use crate::publish::Target;

/// Environment variables read for the token, in order. Never a flag: a flag value shows in `ps`.
const TOKEN_VARIABLES: [&str; 2] = ["GITHUB_TOKEN", "GH_TOKEN"];
/// Set by GitHub Actions and by users of GitHub Enterprise Server.
const API_URL_VARIABLE: &str = "GITHUB_API_URL";

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "GitHub options")]
pub struct GithubArgs {
    /// GitHub: create the release when no release has the tag (default: refuse).
    #[arg(long)]
    pub create_release: bool,
    /// GitHub: create the release as a draft (its assets are not public until it is published).
    #[arg(long, requires = "create_release")]
    pub draft: bool,
    /// GitHub: REST API base, e.g. https://HOST/api/v3 for GitHub Enterprise Server
    /// [default: $GITHUB_API_URL, else https://api.github.com].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum GithubCommand {
    /// Upload files as they are to a release and print their URLs and hashes.
    Upload {
        #[command(flatten)]
        upload: super::UploadSettings,
        /// The repository, OWNER/REPO.
        #[arg(long, value_name = "OWNER/REPO")]
        repo: String,
        /// The release's tag.
        #[arg(long)]
        tag: String,
        #[command(flatten)]
        github: GithubArgs,
    },
}

/// Builds the provider for `OWNER/REPO/TAG` (the part of `github://…` after the scheme).
pub async fn build(
    spec: &str,
    args: &GithubArgs,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    let mut parts = spec.splitn(3, '/');
    let (owner, repo, tag) = (parts.next(), parts.next(), parts.next());
    match (owner, repo, tag) {
        (Some(owner), Some(repo), Some(tag))
            if !owner.is_empty() && !repo.is_empty() && !tag.trim_matches('/').is_empty() =>
        {
            provider(owner, repo, tag.trim_matches('/'), args)
        }
        _ => Err(InputError::new(format!(
            "--to github://{spec}: expected github://OWNER/REPO/TAG"
        ))
        .hint("name the repository and the release tag, as in --to github://my-org/my-model/v1.0")),
    }
}

fn provider(
    owner: &str,
    repo: &str,
    tag: &str,
    args: &GithubArgs,
) -> Result<Arc<dyn cubeship_provider::Provider>, InputError> {
    let (token_source, token) = TOKEN_VARIABLES
        .iter()
        .find_map(|name| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| (*name, Secret::new(v)))
        })
        .ok_or_else(|| {
            InputError::new("GitHub needs a token: neither GITHUB_TOKEN nor GH_TOKEN is set")
                .hint(format!(
                    "export GITHUB_TOKEN with a token that may write to {owner}/{repo} \
                     (fine-grained: Contents read and write; classic: repo or public_repo); see docs/providers/github.md"
                ))
        })?;
    let (api_url, api_url_source) = match &args.api_url {
        Some(url) => (url.clone(), "--api-url"),
        None => match std::env::var(API_URL_VARIABLE) {
            Ok(url) if !url.trim().is_empty() => (url, API_URL_VARIABLE),
            _ => (DEFAULT_API_URL.to_string(), "the default API URL"),
        },
    };
    let api_url = url::Url::parse(api_url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| {
            InputError::new(format!(
                "{api_url_source} {api_url} is not an http(s) URL"
            ))
            .hint("give the REST API base: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server")
        })?;
    let config = GithubConfig {
        owner: owner.to_string(),
        repo: repo.to_string(),
        tag: tag.to_string(),
        api_url,
        token,
        token_source,
        create_release: args.create_release,
        draft: args.draft,
    };
    let provider = GithubProvider::new(config)
        .map_err(|e| InputError::new(format!("github://{owner}/{repo}/{tag}: {e}")))?;
    Ok(Arc::new(provider))
}

pub async fn run(command: GithubCommand, global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        GithubCommand::Upload {
            upload,
            repo,
            tag,
            github,
        } => {
            let (owner, name) = repo
                .split_once('/')
                .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
                .ok_or_else(|| {
                    InputError::new(format!("--repo {repo}: expected OWNER/REPO"))
                        .hint("as in --repo my-org/my-model")
                })?;
            if tag.trim().is_empty() {
                return Err(InputError::new("--tag is empty")
                    .hint("give the release's tag, as in --tag v1.0")
                    .into());
            }
            let provider = provider(owner, name, tag.trim(), &github)?;
            let target = Target {
                spec: provider.describe(),
                provider,
            };
            super::run_upload(target, &upload, global).await
        }
    }
}
