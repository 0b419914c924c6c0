//! The `synapse:synNNN` provider: uploads files as FileEntities into a Synapse project or
//! folder (multipart, resumable), records their sha256 as an annotation, and downloads them
//! back with the user's token the way MedPerf fetches `synapse:` resources.
//!
//! Entities are found by name under the parent; the resource URL MedPerf registers is the
//! entity's id, `synapse:synNNN`, known only once the entity exists.

mod api;
mod config;
mod multipart;

use std::sync::Arc;

use async_trait::async_trait;
use cubeship_provider::http::{Download, is_loopback, parse_http_url};
use cubeship_provider::{
    Asset, Capabilities, ContainerRegistry, Destination, Error, ErrorKind, InputError, ObjectKey,
    OptionSpec, Provider, ProviderFactory, RemoteObject, Result, SHA256_METADATA_KEY, Secret,
    Settings, UploadRequest, Uploaded,
};
use serde_json::{Value, json};
use url::Url;

use crate::api::{Api, FILE_ENTITY};
use crate::config::{authtoken_from_home, entity_name, parse_synapse_id};

/// The public Synapse deployment.
pub const DEFAULT_ENDPOINT: &str = "https://repo-prod.prod.sagebase.org";

/// The Docker registry that goes with Synapse (images named `docker.synapse.org/synNNN/…`).
pub const CONTAINER_REGISTRY: &str = "docker.synapse.org";

/// Annotation naming the file handle whose bytes the `sha256` annotation describes: a new
/// version made elsewhere (the web UI copies annotations) must not inherit a stale sha256.
const SHA256_HANDLE_ANNOTATION: &str = "sha256_file_handle_id";

const ENDPOINT: OptionSpec = OptionSpec::text(
    "synapse-endpoint",
    "URL",
    "The Synapse server (repo, file and auth APIs under /repo/v1, /file/v1, /auth/v1).",
)
.with_env(&["CUBESHIP_SYNAPSE_ENDPOINT"])
.with_default(DEFAULT_ENDPOINT);

const TOKEN: OptionSpec = OptionSpec::secret_env(
    "token",
    &["SYNAPSE_AUTH_TOKEN"],
    "A Synapse personal access token with the view, download and modify scopes; else the \
     authtoken of ~/.synapseConfig.",
);

const OPTIONS: &[OptionSpec] = &[ENDPOINT, TOKEN];

const UPLOAD_OPTIONS: &[OptionSpec] = &[OptionSpec::text(
    "parent",
    "SYNID",
    "The Synapse project or folder (synNNN) the files go into.",
)];

const TOKEN_HINT: &str = "create a personal access token with the view, download and modify \
     scopes at https://www.synapse.org (Account Settings > Personal Access Tokens) and export it \
     as SYNAPSE_AUTH_TOKEN, or put it as `authtoken = …` in the [authentication] section of \
     ~/.synapseConfig";

/// The factory the application registers: `synapse:synNNN` destinations and
/// `cubeship synapse upload`.
pub static FACTORY: ProviderFactory = ProviderFactory {
    name: "synapse",
    title: "Synapse projects and folders (MedPerf downloads with the user's Synapse login)",
    destination_syntax: "synapse:synNNN",
    prefixes: &["synapse:"],
    options: OPTIONS,
    upload_options: UPLOAD_OPTIONS,
    log_directives: &[],
    container_registry: Some(ContainerRegistry {
        host: CONTAINER_REGISTRY,
        login: |settings| Box::pin(registry_login(settings)),
    }),
    opener: |destination, settings| Box::pin(open(destination, settings)),
};

async fn open(
    destination: Destination<'_>,
    settings: &Settings,
) -> std::result::Result<Arc<dyn Provider>, InputError> {
    let parent = match destination {
        Destination::Spec(spec) => {
            let id = spec.strip_prefix("synapse:").unwrap_or(spec);
            parse_synapse_id(id).ok_or_else(|| {
                InputError::new(format!(
                    "--to {spec}: expected synapse:synNNN, the id of a Synapse project or folder"
                ))
                .hint("as in --to synapse:syn12345678 (the id is shown on the project's or folder's page)")
            })?
        }
        Destination::Upload { .. } => {
            let given = settings.text("parent").ok_or_else(|| {
                InputError::new(
                    "--parent is required: the Synapse project or folder the files go into",
                )
                .hint("as in --parent syn12345678")
            })?;
            parse_synapse_id(given).ok_or_else(|| {
                InputError::new(format!(
                    "--parent {given}: expected synNNN, the id of a Synapse project or folder"
                ))
                .hint("as in --parent syn12345678")
            })?
        }
    };
    let endpoint = endpoint(settings)?;
    let token = token(settings)?;
    let api = Api::new(&endpoint, token, settings.retry()).map_err(InputError::from)?;
    Ok(Arc::new(SynapseProvider {
        api,
        parent,
        endpoint,
    }))
}

/// The login docker.synapse.org takes: the Synapse user name and the access token. `None`
/// without a token.
async fn registry_login(
    settings: &Settings,
) -> std::result::Result<Option<(String, Secret)>, InputError> {
    let Ok(token) = token(settings) else {
        return Ok(None);
    };
    let api = Api::new(&endpoint(settings)?, token.clone(), settings.retry())
        .map_err(InputError::from)?;
    let profile = api.user_profile().await.map_err(InputError::from)?;
    let user = profile["userName"].as_str().unwrap_or_default().to_string();
    Ok(Some((user, token)))
}

fn endpoint(settings: &Settings) -> std::result::Result<Url, InputError> {
    let raw = settings.text(ENDPOINT.name).unwrap_or(DEFAULT_ENDPOINT);
    let shown = settings
        .origin(ENDPOINT.name)
        .map(|o| o.to_string())
        .unwrap_or_else(|| "--synapse-endpoint".to_string());
    let url = parse_http_url(raw, &shown)?;
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(InputError::new(format!(
            "{shown} {url}: cleartext http:// would send the Synapse token unprotected"
        ))
        .hint("use https:// (http:// is accepted only for a server on this machine)"));
    }
    if url.query().is_some() {
        return Err(
            InputError::new(format!("{shown} {url}: the endpoint takes no query"))
                .hint("give the server's base URL, such as https://repo-prod.prod.sagebase.org"),
        );
    }
    Ok(url)
}

/// `SYNAPSE_AUTH_TOKEN`, else the `authtoken` of `$HOME/.synapseConfig`.
fn token(settings: &Settings) -> std::result::Result<Secret, InputError> {
    if let Some(token) = settings.secret(TOKEN.name) {
        return Ok(token);
    }
    settings
        .env_var("HOME")
        .filter(|home| !home.is_empty())
        .and_then(|home| authtoken_from_home(&home))
        .map(Secret::new)
        .ok_or_else(|| {
            InputError::new(
                "no Synapse token: SYNAPSE_AUTH_TOKEN is not set and ~/.synapseConfig has no authtoken",
            )
            .hint(TOKEN_HINT)
        })
}

/// Files as FileEntities under one Synapse project or folder.
pub struct SynapseProvider {
    api: Api,
    /// `synNNN` of the project or folder.
    parent: String,
    endpoint: Url,
}

impl std::fmt::Debug for SynapseProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SynapseProvider")
            .field("parent", &self.parent)
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

/// `synapse:synNNN`.
fn resource_url(id: &str) -> Result<Url> {
    Url::parse(&format!("synapse:{id}"))
        .map_err(|e| Error::new(ErrorKind::Other, format!("bad Synapse id {id}: {e}")))
}

fn text_field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

/// The first string value of an annotation (annotations v2: `{type, value: [...]}`).
fn annotation<'a>(annotations: &'a Value, key: &str) -> Option<&'a str> {
    annotations
        .get("annotations")?
        .get(key)?
        .get("value")?
        .as_array()?
        .first()?
        .as_str()
}

/// The sha256 the annotations record for `file_handle_id`, if they describe that file.
fn recorded_sha256(annotations: &Value, file_handle_id: &str) -> Option<String> {
    let sha256 = annotation(annotations, SHA256_METADATA_KEY)?;
    (annotation(annotations, SHA256_HANDLE_ANNOTATION) == Some(file_handle_id)
        && sha256.len() == 64
        && sha256.bytes().all(|b| b.is_ascii_hexdigit()))
    .then(|| sha256.to_ascii_lowercase())
}

/// What one entity under the parent holds.
struct Found {
    id: String,
    entity: Value,
    file_handle_id: String,
}

impl SynapseProvider {
    fn not_visible(&self, id: &str) -> String {
        format!(
            "{id} does not exist or you cannot see it (on {})",
            self.endpoint.as_str().trim_end_matches('/')
        )
    }

    /// The file entity named like `key` under the parent, if any.
    async fn find(&self, key: &ObjectKey) -> Result<Option<Found>> {
        let name = entity_name(key.as_str());
        let Some(id) = self.api.child(&self.parent, &name).await? else {
            return Ok(None);
        };
        let entity = self.api.entity(&id).await?;
        let kind = text_field(&entity, "concreteType").unwrap_or_default();
        if kind != FILE_ENTITY {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{name} in {} is {id}, a {}, not a file",
                    self.parent,
                    kind.rsplit('.').next().unwrap_or("entity")
                ),
            ));
        }
        let file_handle_id = text_field(&entity, "dataFileHandleId")
            .unwrap_or_default()
            .to_string();
        Ok(Some(Found {
            id,
            entity,
            file_handle_id,
        }))
    }

    /// Records the sha256 of the entity's current file, bound to that file handle.
    async fn annotate(&self, id: &str, file_handle_id: &str, sha256: &str) -> Result<()> {
        let mut last = None;
        for _ in 0..3 {
            let mut annotations = self.api.annotations(id).await?;
            if annotations
                .get("annotations")
                .is_none_or(|a| !a.is_object())
            {
                annotations["annotations"] = json!({});
            }
            annotations["annotations"][SHA256_METADATA_KEY] =
                json!({"type": "STRING", "value": [sha256]});
            annotations["annotations"][SHA256_HANDLE_ANNOTATION] =
                json!({"type": "STRING", "value": [file_handle_id]});
            match self.api.put_annotations(id, &annotations).await {
                Ok(_) => return Ok(()),
                // Someone changed the entity between our read and write: read again.
                Err(e) if e.status == Some(412) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("three attempts failed").context(format!(
            "recording the sha256 of {id} (the file is there; a re-run compares it by MD5)"
        )))
    }

    /// Points the entity at `file_handle_id`: Synapse makes a new version when the MD5 differs.
    async fn new_version(&self, found: Found, file_handle_id: &str) -> Result<String> {
        let Found { id, mut entity, .. } = found;
        let mut last = None;
        for attempt in 0..3 {
            if attempt > 0 {
                entity = self.api.entity(&id).await?;
            }
            if text_field(&entity, "dataFileHandleId") == Some(file_handle_id) {
                return Ok(id);
            }
            entity["dataFileHandleId"] = json!(file_handle_id);
            match self.api.update_entity(&id, &entity).await {
                Ok(_) => return Ok(id),
                Err(e) if e.status == Some(412) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last
            .expect("three attempts failed")
            .context(format!("making a new version of {id}")))
    }

    /// Creates the file entity; when the name is taken already (an earlier attempt whose answer
    /// was lost, or a concurrent run), adopts the entity only if it holds this very file.
    async fn create(&self, key: &ObjectKey, file_handle_id: &str) -> Result<String> {
        let name = entity_name(key.as_str());
        let body = json!({
            "concreteType": FILE_ENTITY,
            "name": name,
            "parentId": self.parent,
            "dataFileHandleId": file_handle_id,
        });
        match self.api.create_entity(&body).await {
            Ok(entity) => text_field(&entity, "id")
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::new(ErrorKind::Other, "Synapse created an entity without an id")
                }),
            Err(e) if e.kind == ErrorKind::AlreadyExists => match self.find(key).await? {
                Some(found) if found.file_handle_id == file_handle_id => Ok(found.id),
                Some(found) => Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "{name} in {} already exists as {} with other content",
                        self.parent, found.id
                    ),
                )),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Provider for SynapseProvider {
    fn kind(&self) -> &'static str {
        "synapse"
    }

    fn describe(&self) -> String {
        format!("synapse:{}", self.parent)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_object_size: Some(multipart::MAX_FILE_SIZE + 1),
            flat_names: true,
            refuses_empty: true,
            container_registry: Some(CONTAINER_REGISTRY),
            ..Capabilities::default()
        }
    }

    async fn preflight(&self) -> Result<()> {
        if let Err(e) = self.api.user_profile().await {
            if e.kind == ErrorKind::Unauthenticated {
                return Err(Error::from_status(
                    401,
                    format!(
                        "Synapse refused the token (from SYNAPSE_AUTH_TOKEN or ~/.synapseConfig): \
                         it is wrong, expired or revoked; {TOKEN_HINT}"
                    ),
                ));
            }
            return Err(e.context("checking the Synapse token"));
        }
        let parent = match self.api.entity(&self.parent).await {
            Ok(parent) => parent,
            Err(e) if matches!(e.status, Some(403 | 404 | 410)) => {
                return Err(
                    Error::new(ErrorKind::NotFound, self.not_visible(&self.parent)).with_source(e),
                );
            }
            Err(e) => return Err(e.context(format!("looking up {}", self.parent))),
        };
        let kind = text_field(&parent, "concreteType").unwrap_or_default();
        if !(kind.ends_with(".Project") || kind.ends_with(".Folder")) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} is a {}, not a project or folder: files go into a project or folder",
                    self.parent,
                    kind.rsplit('.').next().unwrap_or("entity")
                ),
            ));
        }
        let permissions = self
            .api
            .permissions(&self.parent)
            .await
            .map_err(|e| e.context(format!("reading your permissions on {}", self.parent)))?;
        if !permissions.can_add_child
            && permissions.can_certified_user_add_child
            && !permissions.is_certified_user
        {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "you cannot add files to {} until you are a Synapse Certified User: take the \
                     certification quiz (Account Settings on synapse.org)",
                    self.parent
                ),
            ));
        }
        if !permissions.can_add_child || !permissions.can_edit {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "you cannot add or update files in {}: ask its administrator to share it with \
                     you as \"Can edit\" (or higher)",
                    self.parent
                ),
            ));
        }
        if !permissions.can_upload {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "access requirements on {} prevent you from uploading into it",
                    self.parent
                ),
            ));
        }
        Ok(())
    }

    /// The entity named like `key` under the parent. Its sha256 is the `sha256` annotation when
    /// the annotation names the entity's current file handle; otherwise, when size and MD5 of
    /// the file handle equal those of `expected`, the sha256 is `expected`'s (MD5 equality of
    /// equal-size files is taken as same content, as Synapse itself does for versions); else
    /// `None`, which the application treats as other content.
    async fn head(&self, key: &ObjectKey, expected: &Asset) -> Result<Option<RemoteObject>> {
        let Some(found) = self.find(key).await? else {
            return Ok(None);
        };
        let handle = self
            .api
            .file_result(&found.id, &found.file_handle_id, false)
            .await?
            .file_handle
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Other,
                    format!("Synapse returned no file handle for {}", found.id),
                )
            })?;
        let size = handle.content_size.unwrap_or(0);
        let annotations = self.api.annotations(&found.id).await?;
        let mut sha256 = recorded_sha256(&annotations, &found.file_handle_id);
        if sha256.is_none()
            && size == expected.size
            && let Some(remote_md5) = handle.content_md5.as_deref()
        {
            let local_md5 = cubeship_provider::digest::md5_file(&expected.path, 0, None)
                .await
                .map_err(Error::from)?;
            if local_md5.eq_ignore_ascii_case(remote_md5) {
                sha256 = Some(expected.sha256.clone());
            }
        }
        Ok(Some(RemoteObject {
            size,
            sha256,
            url: Some(resource_url(&found.id)?),
            id: Some(found.id),
        }))
    }

    async fn upload(&self, request: &UploadRequest<'_>) -> Result<Uploaded> {
        let asset = request.asset;
        if asset.size == 0 {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{}: Synapse does not store empty files (a file needs at least one byte)",
                    request.key
                ),
            ));
        }
        let file_handle_id = multipart::upload(
            &self.api,
            asset,
            request.key.file_name(),
            request.progress.clone(),
        )
        .await
        .map_err(|e| e.context(format!("uploading {} to {}", request.key, self.describe())))?;
        let existing = match request.existing.and_then(|e| e.id.as_deref()) {
            Some(_) => self.find(request.key).await?,
            None => None,
        };
        let id = match existing {
            Some(found) => self.new_version(found, &file_handle_id).await?,
            None => self.create(request.key, &file_handle_id).await?,
        };
        self.annotate(&id, &file_handle_id, &asset.sha256).await?;
        Ok(Uploaded {
            url: resource_url(&id)?,
        })
    }

    fn public_url(&self, key: &ObjectKey) -> Result<Url> {
        Err(Error::new(
            ErrorKind::NotSupported,
            format!(
                "the synapse:synNNN id of {key} is known only once Synapse has created its entity in {}",
                self.parent
            ),
        ))
    }

    fn diagnose_not_public(&self, _key: &ObjectKey, status: u16) -> Option<String> {
        matches!(status, 401 | 403 | 404).then(|| {
            "MedPerf downloads synapse: resources with each user's own Synapse login: every \
             MedPerf user of this cube needs at least download access to the entity (share the \
             file, or its folder or project, with them or their team as \"Can download\", or make \
             it public on Synapse); see docs/providers/synapse.md"
                .to_string()
        })
    }

    /// MedPerf's download of `synapse:synNNN`: the entity's current file, fetched with the
    /// user's token through a presigned URL (which is fetched without the token).
    async fn download(&self, url: &Url) -> Result<Download> {
        let id = (url.scheme() == "synapse")
            .then(|| parse_synapse_id(url.path()))
            .flatten()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("{url} is not a synapse:synNNN resource"),
                )
            })?;
        let entity = match self.api.entity(&id).await {
            Ok(entity) => entity,
            Err(e) if matches!(e.status, Some(403 | 404)) => {
                return Ok(Download::Status(e.status.unwrap_or(404)));
            }
            Err(e) => return Err(e),
        };
        let Some(handle) = text_field(&entity, "dataFileHandleId") else {
            return Ok(Download::Status(404));
        };
        let result = self.api.file_result(&id, handle, true).await?;
        match result.failure_code.as_deref() {
            Some("UNAUTHORIZED") => return Ok(Download::Status(403)),
            Some(_) => return Ok(Download::Status(404)),
            None => {}
        }
        let presigned = result
            .pre_signed_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Other,
                    format!("Synapse gave no download URL for {id}"),
                )
            })?;
        self.api
            .download_presigned(&presigned, &format!("download of {url}"))
            .await
    }
}

#[cfg(test)]
mod tests;
