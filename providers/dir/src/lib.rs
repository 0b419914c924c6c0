//! The `dir:PATH` provider: "publishes" into a local folder, for trying cubeship without a
//! cloud account. Its URLs are `file://` and verification reads the file back.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use cubeship_provider::digest::sha256_file;
use cubeship_provider::{
    Asset, Destination, Error, ErrorKind, InputError, ObjectKey, OptionSpec, Provider,
    ProviderFactory, RemoteObject, Result, Settings, UploadRequest, Uploaded,
};
use url::Url;

const UPLOAD_OPTIONS: &[OptionSpec] = &[OptionSpec::text(
    "dir",
    "PATH",
    "The folder files are copied into (created if missing).",
)];

/// The factory the application registers: `dir:PATH` destinations and
/// `cubeship dir upload`.
pub static FACTORY: ProviderFactory = ProviderFactory {
    name: "dir",
    title: "A local folder (no account needed; file:// URLs)",
    destination_syntax: "dir:PATH",
    prefixes: &["dir:"],
    options: &[],
    upload_options: UPLOAD_OPTIONS,
    log_directives: &[],
    container_registry: None,
    opener: |destination, settings| Box::pin(open(destination, settings)),
};

async fn open(
    destination: Destination<'_>,
    settings: &Settings,
) -> std::result::Result<Arc<dyn Provider>, InputError> {
    let (path, shown) = match destination {
        Destination::Spec(spec) => {
            let path = spec.strip_prefix("dir:").unwrap_or(spec);
            (path, format!("--to dir:{path}"))
        }
        Destination::Upload { .. } => {
            let path = settings.text("dir").unwrap_or_default();
            (path, format!("--dir {path}"))
        }
    };
    if path.is_empty() {
        return Err(InputError::new(format!("{} needs a folder", shown.trim()))
            .hint("as in --to dir:./published or --dir ./published"));
    }
    let provider = DirProvider::new(PathBuf::from(path))
        .map_err(|e| InputError::new(format!("{shown}: {e}")))?;
    Ok(Arc::new(provider))
}

/// Copies files into a folder; its URLs are `file://`.
pub struct DirProvider {
    root: PathBuf,
}

impl DirProvider {
    /// `root` is created at preflight if missing; it is made absolute so URLs are valid.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()?.join(root)
        };
        Ok(DirProvider { root })
    }

    fn path_of(&self, key: &ObjectKey) -> PathBuf {
        key.as_str()
            .split('/')
            .fold(self.root.clone(), |p, s| p.join(s))
    }
}

#[async_trait]
impl Provider for DirProvider {
    fn kind(&self) -> &'static str {
        "dir"
    }

    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    async fn preflight(&self) -> Result<()> {
        tokio::fs::create_dir_all(&self.root).await.map_err(|e| {
            Error::from(e).context(format!("cannot create folder {}", self.root.display()))
        })?;
        let probe = self
            .root
            .join(format!(".cubeship-probe-{}", std::process::id()));
        tokio::fs::write(&probe, b"").await.map_err(|e| {
            Error::from(e).context(format!("cannot write into {}", self.root.display()))
        })?;
        let _ = tokio::fs::remove_file(&probe).await;
        Ok(())
    }

    async fn head(&self, key: &ObjectKey, _expected: &Asset) -> Result<Option<RemoteObject>> {
        let path = self.path_of(key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(RemoteObject {
                size: meta.len(),
                sha256: Some(sha256_file(&path).await?),
                url: None,
                id: None,
            })),
            Ok(_) => Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("{} exists and is not a file", path.display()),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from(e).context(path.display())),
        }
    }

    async fn upload(&self, request: &UploadRequest<'_>) -> Result<Uploaded> {
        let target = self.path_of(request.key);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&parent).await?;
        // Copy to a temporary name and rename, so a reader never sees half a file.
        let partial = parent.join(format!(
            ".{}.partial-{}",
            request.key.file_name(),
            std::process::id()
        ));
        let copied = tokio::fs::copy(&request.asset.path, &partial).await;
        let copied = match copied {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(Error::from(e).context(format!("copying to {}", target.display())));
            }
        };
        request.progress.advance(copied);
        if request.existing.is_some() {
            // Replacing was asked for (`--overwrite`).
            tokio::fs::rename(&partial, &target).await?;
        } else {
            // Never replace what another run wrote since our `head`: the check and the write
            // are one step (a link never replaces).
            let (from, to) = (partial.clone(), target.clone());
            let placed = tokio::task::spawn_blocking(move || {
                cubeship_provider::fsutil::rename_no_replace(&from, &to)
            })
            .await
            .map_err(|e| Error::new(ErrorKind::Other, e.to_string()))?;
            if let Err(e) = placed {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Error::new(
                        ErrorKind::AlreadyExists,
                        format!("{} was written by someone else meanwhile", target.display()),
                    )
                } else {
                    Error::from(e).context(format!("moving into {}", target.display()))
                });
            }
        }
        Ok(Uploaded {
            url: self.public_url(request.key)?,
        })
    }

    fn public_url(&self, key: &ObjectKey) -> Result<Url> {
        Url::from_file_path(self.path_of(key)).map_err(|()| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{} is not a valid file URL path", self.root.display()),
            )
        })
    }
}
