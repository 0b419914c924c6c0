//! The GitHub release assets provider (`github://OWNER/REPO/TAG`): uploads files as assets of
//! one release, replaces them without ever leaving the release without a copy, and serves them
//! through each asset's `browser_download_url`.

mod api;
mod factory;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cubeship_provider::http::{Download, download_and_hash};
use cubeship_provider::{
    Asset, Capabilities, Error, ErrorKind, ObjectKey, Progress, Provider, RemoteObject, Result,
    Secret, UploadRequest, Uploaded,
};
use url::Url;

use crate::api::{Api, Release, ReleaseAsset};

pub use factory::FACTORY;

/// GitHub refuses release assets of 2 GiB or more.
pub const MAX_ASSET_SIZE: u64 = 2 * 1024 * 1024 * 1024;
/// The public API of github.com; GitHub Enterprise Server uses `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// Prefix of the name a replacement is uploaded under before it takes the real name. Only
/// cubeship makes such names, so a leftover one is safe to delete.
const PARTIAL_PREFIX: &str = "cubeship-partial-";
/// Prefix of the name the old asset is moved to while its replacement takes its name.
const REPLACED_PREFIX: &str = "cubeship-replaced-";
/// An unfinished asset (or a temporary one) younger than this may be a live upload of another
/// run: an asset's `created_at` is the start of its upload, and an asset of up to 2 GiB on a
/// slow link takes hours. Older ones are leftovers of killed runs and are deleted.
const STALE_AFTER_SECONDS: i64 = 24 * 3600;

/// Makes temporary names unique within one process (several uploads at once).
static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// Where and how to publish.
#[derive(Clone, Debug)]
pub struct GithubConfig {
    /// The user or organization that owns the repository.
    pub owner: String,
    /// The repository name.
    pub repo: String,
    /// The tag of the release the assets go to.
    pub tag: String,
    /// The REST API base, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`.
    pub api_url: Url,
    /// A token allowed to write the repository's releases.
    pub token: Secret,
    /// Which variable the token came from, to name it in error messages.
    pub token_source: &'static str,
    /// Create the release when no release has the tag.
    pub create_release: bool,
    /// Create it as a draft.
    pub draft: bool,
    /// The shared retry policy.
    pub retry: cubeship_provider::RetryPolicy,
    /// The shared progress timeouts.
    pub timeouts: cubeship_provider::Timeouts,
}

/// What preflight learned, kept to explain a failed anonymous download.
#[derive(Default)]
struct Known {
    private: Option<bool>,
}

/// Publishes to the assets of one release of one repository.
pub struct GithubProvider {
    config: GithubConfig,
    api: Api,
    /// Looked up once (and created at most once) even when several uploads run at once:
    /// `None` until looked up, then the release or `Some(None)` when the tag has none.
    release: tokio::sync::Mutex<Option<Option<Release>>>,
    known: Mutex<Known>,
    /// Set once the release was searched for leftovers of killed runs.
    swept: AtomicBool,
}

impl GithubProvider {
    /// Builds the API client. Fails when the API URL is not http(s).
    pub fn new(config: GithubConfig) -> Result<Self> {
        if !matches!(config.api_url.scheme(), "http" | "https") {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("the GitHub API URL {} is not http(s)", config.api_url),
            ));
        }
        let api = Api::new(
            config.api_url.clone(),
            &config.owner,
            &config.repo,
            config.token.clone(),
            config.retry,
            config.timeouts,
        )?;
        Ok(GithubProvider {
            config,
            api,
            release: tokio::sync::Mutex::new(None),
            known: Mutex::new(Known::default()),
            swept: AtomicBool::new(false),
        })
    }

    fn full_name(&self) -> String {
        format!("{}/{}", self.config.owner, self.config.repo)
    }

    /// The release for the tag; created when `create` and `--create-release` allow it.
    async fn release(&self, create: bool) -> Result<Option<Release>> {
        let mut cached = self.release.lock().await;
        let known = match cached.take() {
            Some(known) => known,
            None => self.api.release_by_tag(&self.config.tag).await?,
        };
        let known = match known {
            None if create && self.config.create_release => {
                tracing::info!(
                    "creating release {} in {}",
                    self.config.tag,
                    self.full_name()
                );
                match self
                    .api
                    .create_release(&self.config.tag, self.config.draft)
                    .await
                {
                    Ok(release) => Some(release),
                    // Another run created it since our look-up: use that one.
                    Err(e) if e.kind == ErrorKind::AlreadyExists => {
                        Some(self.api.release_by_tag(&self.config.tag).await?.ok_or(e)?)
                    }
                    Err(e) => return Err(e),
                }
            }
            known => known,
        };
        *cached = Some(known.clone());
        Ok(known)
    }

    fn missing_release(&self) -> Error {
        Error::new(
            ErrorKind::NotFound,
            format!(
                "{} has no release with tag {} (drafts included): create it on GitHub first, or pass --create-release",
                self.full_name(),
                self.config.tag
            ),
        )
    }

    async fn find_asset(&self, release: &Release, name: &str) -> Result<Option<ReleaseAsset>> {
        Ok(self
            .api
            .list_assets(release)
            .await?
            .into_iter()
            .find(|a| a.name == name))
    }

    /// Uploads under `name`, a temporary name unique to this run and file (see
    /// `temporary_name`): when GitHub says it is taken (422 already_exists), the holder can
    /// only be this run's own earlier attempt: complete with our bytes (its answer was lost),
    /// it is used; otherwise (a 502 may leave the asset in state "starter") it is deleted and
    /// the upload tried once more.
    async fn upload_as(
        &self,
        release: &Release,
        name: &str,
        file: &Asset,
        progress: &Arc<dyn Progress>,
    ) -> Result<ReleaseAsset> {
        let mut cleaned_up = false;
        loop {
            let error = match self.api.upload_asset(release, name, file, progress).await {
                Ok(asset) => return Ok(asset),
                Err(e) if e.kind == ErrorKind::AlreadyExists && !cleaned_up => e,
                Err(e) => return Err(e),
            };
            cleaned_up = true;
            match self.find_asset(release, name).await? {
                // The earlier attempt succeeded, but its answer was lost.
                Some(taken)
                    if taken.is_complete()
                        && taken.size == file.size
                        && taken.sha256().is_some_and(|s| s == file.sha256) =>
                {
                    return Ok(taken);
                }
                Some(taken) => {
                    tracing::warn!(
                        "{name}: deleting what an earlier attempt of this run left ({})",
                        taken.state
                    );
                    self.api.delete_asset(taken.id).await?;
                }
                None => tracing::debug!("{name}: taken, then gone ({error}); trying again"),
            }
        }
    }

    /// A name no other run and no other file uses: the asset is uploaded under it and takes
    /// its real name only once complete, so the real name never holds a half-uploaded asset
    /// that another run could take for a broken one.
    fn temporary_name(name: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let unique = UNIQUE.fetch_add(1, Ordering::Relaxed);
        format!(
            "{PARTIAL_PREFIX}{}-{nanos:x}-{unique}-{name}",
            std::process::id()
        )
    }

    /// Creates asset `name` without ever replacing one: the file goes up under a temporary
    /// name and is renamed to `name`, which GitHub refuses (422 already_exists) when another
    /// asset holds it. Then the holder decides: a complete one (another run was first) makes
    /// this an `AlreadyExists` error, on which publish looks again (same sha256: `unchanged`;
    /// other bytes: refused); an unfinished one is deleted only once older than
    /// `STALE_AFTER_SECONDS` (younger, it may be a live upload of another tool or version).
    async fn create(
        &self,
        release: &Release,
        name: &str,
        file: &Asset,
        progress: &Arc<dyn Progress>,
    ) -> Result<ReleaseAsset> {
        self.sweep_leftovers(release).await;
        let temporary = Self::temporary_name(name);
        let new = self.upload_as(release, &temporary, file, progress).await?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.api.rename_asset(new.id, name).await {
                Ok(placed) => return Ok(placed),
                Err(e) if e.kind == ErrorKind::AlreadyExists && attempts < 3 => e,
                Err(e) => {
                    self.delete_quietly(new.id, &temporary).await;
                    return Err(e);
                }
            };
            let holder = match self.find_asset(release, name).await {
                Ok(holder) => holder,
                Err(e) => {
                    self.delete_quietly(new.id, &temporary).await;
                    return Err(e);
                }
            };
            match holder {
                Some(holder) if holder.is_complete() => {
                    self.delete_quietly(new.id, &temporary).await;
                    return Err(error.context(format!(
                        "another run published {name} in release {} first",
                        self.config.tag
                    )));
                }
                Some(holder) if holder.age_seconds().unwrap_or(0) >= STALE_AFTER_SECONDS => {
                    tracing::warn!(
                        "{name}: deleting an unfinished asset left by an upload that started {} h ago",
                        holder.age_seconds().unwrap_or(0) / 3600
                    );
                    if let Err(e) = self.api.delete_asset(holder.id).await {
                        self.delete_quietly(new.id, &temporary).await;
                        return Err(e);
                    }
                }
                Some(_) => {
                    self.delete_quietly(new.id, &temporary).await;
                    return Err(Error::new(
                        ErrorKind::Other,
                        format!(
                            "an unfinished asset named {name} is in release {} (another upload in progress,                              started less than {} h ago): run again when it has finished, or delete it on GitHub",
                            self.config.tag,
                            STALE_AFTER_SECONDS / 3600
                        ),
                    ));
                }
                // Deleted meanwhile: the name is free again.
                None => {}
            }
        }
    }

    /// Deletes, once per run, this tool's temporary assets (`cubeship-partial-…`) in the
    /// release that are older than `STALE_AFTER_SECONDS`: left by runs killed between upload
    /// and rename. Younger ones may belong to live runs and are left alone. Best effort.
    async fn sweep_leftovers(&self, release: &Release) {
        if self.swept.swap(true, Ordering::Relaxed) {
            return;
        }
        let assets = match self.api.list_assets(release).await {
            Ok(assets) => assets,
            Err(e) => {
                tracing::debug!("not looking for leftovers: {e}");
                return;
            }
        };
        for asset in assets {
            if asset.name.starts_with(PARTIAL_PREFIX)
                && asset
                    .age_seconds()
                    .is_some_and(|age| age >= STALE_AFTER_SECONDS)
            {
                tracing::info!("deleting {}, left by an interrupted run", asset.name);
                self.delete_quietly(asset.id, &asset.name).await;
            }
        }
    }

    /// Replaces asset `old_id` by `file` so that the old bytes are never lost before the new
    /// ones hold the name: upload under a temporary name, move the old asset aside, give the
    /// new one the name, and only then delete the old one. Any failure before the last step
    /// puts the old asset back under its name.
    async fn replace(
        &self,
        release: &Release,
        name: &str,
        old_id: u64,
        file: &Asset,
        progress: &Arc<dyn Progress>,
    ) -> Result<ReleaseAsset> {
        let partial_name = Self::temporary_name(name);
        let new = self
            .upload_as(release, &partial_name, file, progress)
            .await?;
        let aside_name = format!("{REPLACED_PREFIX}{old_id}-{name}");
        if let Err(e) = self.api.rename_asset(old_id, &aside_name).await {
            self.delete_quietly(new.id, &partial_name).await;
            return Err(e.context(format!("replacing {name}: the old asset is unchanged")));
        }
        match self.api.rename_asset(new.id, name).await {
            Ok(renamed) => {
                if let Err(e) = self.api.delete_asset(old_id).await {
                    tracing::warn!(
                        "{name} was replaced, but the old copy {aside_name} could not be deleted ({e}); delete it on GitHub"
                    );
                }
                Ok(renamed)
            }
            Err(e) => {
                let outcome = match self.api.rename_asset(old_id, name).await {
                    Ok(_) => "the old asset is back in place".to_string(),
                    Err(restore) => format!(
                        "the old asset could not be renamed back ({restore}); it is in the release as {aside_name}: rename it to {name} on GitHub"
                    ),
                };
                self.delete_quietly(new.id, &partial_name).await;
                Err(e.context(format!("replacing {name}: {outcome}")))
            }
        }
    }

    async fn delete_quietly(&self, id: u64, name: &str) {
        if let Err(e) = self.api.delete_asset(id).await {
            tracing::warn!(
                "could not delete the temporary asset {name} ({e}); delete it on GitHub"
            );
        }
    }

    /// The sha256 of an asset GitHub recorded no digest for (older assets, GitHub Enterprise
    /// Server), by downloading it through the API with the token.
    async fn hash_by_download(&self, asset: &ReleaseAsset) -> Result<Option<String>> {
        match download_and_hash(self.api.download_client(), &asset.url).await? {
            Download::Ok { sha256, .. } => Ok(Some(sha256)),
            Download::Status(status) => {
                tracing::warn!(
                    "cannot download {} to compare it (HTTP {status})",
                    asset.name
                );
                Ok(None)
            }
        }
    }

    /// The complete asset under `key`. Without a digest from GitHub its sha256 is learned by
    /// downloading it, skipped when its size already differs from `expected_size`.
    async fn find_remote(
        &self,
        key: &ObjectKey,
        expected_size: Option<u64>,
    ) -> Result<Option<RemoteObject>> {
        let Some(release) = self.release(false).await? else {
            return Ok(None);
        };
        let name = asset_name(key);
        let Some(asset) = self.find_asset(&release, &name).await? else {
            return Ok(None);
        };
        // A broken asset serves nothing and holds no registered URL: the upload deletes it.
        if !asset.is_complete() {
            return Ok(None);
        }
        let sha256 = match asset.sha256() {
            Some(sha256) => Some(sha256),
            None if expected_size.is_some_and(|size| size != asset.size) => None,
            None => self.hash_by_download(&asset).await?,
        };
        Ok(Some(RemoteObject {
            size: asset.size,
            sha256,
            url: Some(asset.browser_download_url.clone()),
            id: Some(asset.id.to_string()),
        }))
    }

    /// The web origin serving downloads: `github.com` for `api.github.com`, the server itself
    /// for GitHub Enterprise Server (`https://HOST/api/v3`).
    fn web_base(&self) -> Url {
        let api = &self.config.api_url;
        if api.host_str() == Some("api.github.com") {
            return Url::parse("https://github.com/").expect("valid URL");
        }
        let mut base = api.clone();
        let path = base.path().trim_end_matches('/');
        let path = path.strip_suffix("/api/v3").unwrap_or("").to_string();
        base.set_path(&format!("{path}/"));
        base.set_query(None);
        base
    }
}

#[async_trait]
impl Provider for GithubProvider {
    fn kind(&self) -> &'static str {
        "github"
    }

    fn describe(&self) -> String {
        format!("github://{}/{}", self.full_name(), self.config.tag)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_object_size: Some(MAX_ASSET_SIZE),
            flat_names: true,
            ..Capabilities::default()
        }
    }

    async fn preflight(&self) -> Result<()> {
        let token_source = self.config.token_source;
        let found = self.api.repository().await.map_err(|e| match e.kind {
            ErrorKind::Unauthenticated => e.context(format!(
                "GitHub rejected the token in {token_source}; make a new one (fine-grained: Contents read and write)"
            )),
            _ => e,
        })?;
        let Some((repository, scopes)) = found else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "repository {} not found, or the token in {token_source} cannot see it \
                     (a fine-grained token must list this repository)",
                    self.full_name()
                ),
            ));
        };
        self.known.lock().expect("not poisoned").private = Some(repository.private);
        // Classic tokens announce their scopes; fine-grained ones do not (their permissions
        // show in `permissions.push` below).
        if let Some(scopes) = scopes {
            let has = |s: &str| scopes.iter().any(|x| x == s);
            let enough = has("repo") || (!repository.private && has("public_repo"));
            if !enough {
                let needed = if repository.private {
                    "repo"
                } else {
                    "public_repo (or repo)"
                };
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "the classic token in {token_source} has scopes [{}] but uploading to {} needs the scope {needed}",
                        scopes.join(", "),
                        repository.full_name
                    ),
                ));
            }
        }
        if let Some(permissions) = &repository.permissions
            && !permissions.push
        {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "the token in {token_source} cannot write to {}: give a fine-grained token the \
                     repository permission Contents: read and write (classic tokens: scope repo or public_repo)",
                    repository.full_name
                ),
            ));
        }
        let release = self.release(false).await?;
        if release.is_none() && !self.config.create_release {
            return Err(self.missing_release());
        }
        // Said now rather than after the upload, when verification fails.
        if repository.private {
            tracing::warn!(
                "{} is private: MedPerf downloads anonymously and cannot read its release assets; make it public or use another provider",
                repository.full_name
            );
        }
        if release.map_or(self.config.draft, |r| r.draft) {
            tracing::warn!(
                "release {} is a draft: its assets are not public until it is published on GitHub",
                self.config.tag
            );
        }
        Ok(())
    }

    async fn head(&self, key: &ObjectKey, expected: &Asset) -> Result<Option<RemoteObject>> {
        self.find_remote(key, Some(expected.size)).await
    }

    async fn upload(&self, request: &UploadRequest<'_>) -> Result<Uploaded> {
        let release = self
            .release(true)
            .await?
            .ok_or_else(|| self.missing_release())?;
        let name = asset_name(request.key);
        let old_id = request
            .existing
            .and_then(|e| e.id.as_deref())
            .and_then(|id| id.parse::<u64>().ok());
        let asset = match old_id {
            Some(old_id) => {
                self.replace(&release, &name, old_id, request.asset, &request.progress)
                    .await?
            }
            None => {
                self.create(&release, &name, request.asset, &request.progress)
                    .await?
            }
        };
        if asset.name != name {
            tracing::warn!(
                "GitHub stored {name} as {} (it renames unusual characters)",
                asset.name
            );
        }
        Ok(Uploaded {
            url: asset.browser_download_url,
        })
    }

    fn public_url(&self, key: &ObjectKey) -> Result<Url> {
        let mut url = self.web_base();
        url.path_segments_mut()
            .map_err(|()| Error::new(ErrorKind::InvalidInput, "bad GitHub API URL"))?
            .pop_if_empty()
            .extend([
                self.config.owner.as_str(),
                self.config.repo.as_str(),
                "releases",
                "download",
                self.config.tag.as_str(),
                asset_name(key).as_str(),
            ]);
        Ok(url)
    }

    fn diagnose_not_public(&self, _key: &ObjectKey, status: u16) -> Option<String> {
        if !matches!(status, 401 | 403 | 404) {
            return None;
        }
        let private = self.known.lock().expect("not poisoned").private;
        let draft = self
            .release
            .try_lock()
            .ok()
            .and_then(|r| r.as_ref().and_then(|known| known.as_ref().map(|r| r.draft)));
        Some(if private == Some(true) {
            format!(
                "{} is a private repository, so its release assets need a token to download. \
                 MedPerf downloads anonymously: make the repository public or use another provider (S3, GCS, HTTP); see docs/providers/github.md",
                self.full_name()
            )
        } else if draft == Some(true) {
            format!(
                "release {} is a draft: its assets are not public until it is published. \
                 Publish it on GitHub, then run `cubeship verify` on the report",
                self.config.tag
            )
        } else {
            "MedPerf downloads anonymously: the repository must be public and the release published; see docs/providers/github.md".to_string()
        })
    }
}

/// Asset names are flat; publish already flattens keys, this keeps any caller safe.
fn asset_name(key: &ObjectKey) -> String {
    key.flattened("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(api_url: &str) -> GithubProvider {
        GithubProvider::new(GithubConfig {
            owner: "o".into(),
            repo: "r".into(),
            tag: "models/v1".into(),
            api_url: Url::parse(api_url).unwrap(),
            token: Secret::new("t"),
            token_source: "GITHUB_TOKEN",
            create_release: false,
            draft: false,
            retry: cubeship_provider::RetryPolicy::none(),
            timeouts: cubeship_provider::Timeouts::default(),
        })
        .unwrap()
    }

    #[test]
    fn public_urls_point_at_the_web_host_of_the_api() {
        let key = ObjectKey::from_parts(["cube-mlcube.yaml"]);
        assert_eq!(
            provider("https://api.github.com")
                .public_url(&key)
                .unwrap()
                .as_str(),
            "https://github.com/o/r/releases/download/models%2Fv1/cube-mlcube.yaml"
        );
        assert_eq!(
            provider("https://ghe.example.com/api/v3/")
                .public_url(&key)
                .unwrap()
                .as_str(),
            "https://ghe.example.com/o/r/releases/download/models%2Fv1/cube-mlcube.yaml"
        );
    }

    #[test]
    fn assets_are_limited_to_under_2_gib_with_flat_names() {
        let capabilities = provider("https://api.github.com").capabilities();
        assert_eq!(capabilities.max_object_size, Some(2 << 30));
        assert!(capabilities.flat_names);
        assert_eq!(asset_name(&ObjectKey::from_parts(["a/b.txt"])), "a-b.txt");
    }
}
