//! Destinations: parses `--to` values into configured providers, holds each provider's
//! command-line options (one module per provider) and the shared `<provider> upload FILE…`
//! command.

pub mod gcs;
pub mod github;
pub mod http;
pub mod s3;

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use cubeship_provider::dir::DirProvider;

use crate::cli::GlobalArgs;
use crate::error::{InputError, exit};
use crate::publish::{self, HashKind, Item, PublishOptions, Target};
use crate::report::{ComponentReport, PublishReport};

/// Every provider's options; each applies to the destinations of its kind.
#[derive(Args, Debug, Clone, Default)]
pub struct DestinationArgs {
    #[command(flatten)]
    pub s3: s3::S3Args,
    #[command(flatten)]
    pub gcs: gcs::GcsArgs,
    #[command(flatten)]
    pub github: github::GithubArgs,
    #[command(flatten)]
    pub http: http::HttpArgs,
    /// Public URLs start with this base instead of the store's own (a CDN, a custom domain).
    /// Applies to S3 and GCS destinations; only with a single --to.
    #[arg(long, value_name = "URL", help_heading = "S3 and GCS options")]
    pub public_url_base: Option<url::Url>,
}

/// Builds the provider for one `--to` value.
pub async fn build(spec: &str, args: &DestinationArgs) -> Result<Target, InputError> {
    if args.public_url_base.is_some() && !(spec.starts_with("s3://") || spec.starts_with("gs://")) {
        return Err(
            InputError::new(format!("--public-url-base does not apply to --to {spec}"))
                .hint("it serves S3 and GCS destinations; HTTP destinations take --get-url"),
        );
    }
    let provider: Arc<dyn cubeship_provider::Provider> = if let Some(path) =
        spec.strip_prefix("dir:")
    {
        if path.is_empty() {
            return Err(InputError::new(
                "--to dir: needs a folder, as in --to dir:./published",
            ));
        }
        Arc::new(
            DirProvider::new(PathBuf::from(path))
                .map_err(|e| InputError::new(format!("--to {spec}: {e}")))?,
        )
    } else if let Some(rest) = spec.strip_prefix("s3://") {
        s3::build(rest, &args.s3, args.public_url_base.as_ref()).await?
    } else if let Some(rest) = spec.strip_prefix("gs://") {
        gcs::build(rest, &args.gcs, args.public_url_base.as_ref()).await?
    } else if let Some(rest) = spec.strip_prefix("github://") {
        github::build(rest, &args.github).await?
    } else if spec.starts_with("https://") || spec.starts_with("http://") {
        http::build(spec, &args.http).await?
    } else {
        return Err(InputError::new(format!("--to {spec}: unknown destination"))
            .hint("use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, github://OWNER/REPO/TAG, https://HOST/PATH/ or dir:PATH"));
    };
    Ok(Target {
        spec: provider.describe(),
        provider,
    })
}

/// Builds every `--to` destination; all are checked before any is used.
pub async fn build_all(
    specs: &[String],
    args: &DestinationArgs,
) -> Result<Vec<Target>, InputError> {
    if args.public_url_base.is_some() && specs.len() > 1 {
        return Err(InputError::new(
            "--public-url-base applies to one destination, but several --to were given",
        )
        .hint("publish to each destination in its own run, each with its own --public-url-base"));
    }
    let http_destinations = specs
        .iter()
        .filter(|s| s.starts_with("http://") || s.starts_with("https://"));
    if args.http.get_url.is_some() && http_destinations.count() > 1 {
        return Err(InputError::new(
            "--get-url applies to one http(s) destination, but several --to http(s) URLs were given",
        )
        .hint("publish to each HTTP server in its own run, each with its own --get-url"));
    }
    let mut targets = Vec::new();
    for spec in specs {
        targets.push(build(spec, args).await?);
    }
    Ok(targets)
}

/// Options of every `<provider> upload FILE…` command.
#[derive(Args, Debug, Clone)]
pub struct UploadSettings {
    /// Files to upload, as they are (not packaged).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Replace an existing object that has other content.
    #[arg(long)]
    pub overwrite: bool,
    /// Skip the anonymous download check.
    #[arg(long)]
    pub no_verify: bool,
}

/// Runs a `<provider> upload FILE…` command: each file under its own name, then verified.
pub async fn run_upload(
    target: Target,
    settings: &UploadSettings,
    global: &GlobalArgs,
) -> anyhow::Result<u8> {
    let items = settings
        .files
        .iter()
        .map(|f| Item::from_file(f))
        .collect::<Result<Vec<_>, _>>()?;
    let options = PublishOptions {
        key_template: Some("{file}".into()),
        overwrite: settings.overwrite,
        verify: !settings.no_verify,
        hash: HashKind::Sha256,
        dry_run: global.dry_run,
        jobs: global.jobs as usize,
        output: crate::progress::Output::from_global(global),
    };
    let targets = [target];
    let keys = publish::plan("", &items, &targets, options.key_template.as_deref())?;
    if !options.dry_run {
        publish::preflight(&targets).await?;
    }
    let grid = publish::transfer(&items, &targets, &keys, &options).await?;
    let report = PublishReport {
        schema_version: crate::package::SCHEMA_VERSION,
        mlcube: None,
        components: items
            .iter()
            .zip(grid)
            .map(|(item, uploads)| ComponentReport {
                role: None,
                file: item.file.clone(),
                size: item.asset.size,
                sha256: item.asset.sha256.clone(),
                sha1: item.asset.sha1.clone(),
                uploads,
            })
            .collect(),
        verification: options.verify,
        medperf_command: None,
    };
    publish::print_report(&report, std::path::Path::new("."), &options)?;
    Ok(if options.dry_run || report.all_published() {
        exit::OK
    } else {
        exit::FAILED
    })
}
