//! The Synapse REST calls cubeship makes (repo, file and storage endpoints), their JSON types,
//! and the one request path: bearer token on API calls only, shared retry policy, shared
//! status mapping, and the token scrubbed from every message.

use std::collections::BTreeMap;

use cubeship_provider::http::{display_url, error_from_response, transport_error};
use cubeship_provider::secret::redact;
use cubeship_provider::{Error, ErrorKind, RetryPolicy, Secret};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

/// `concreteType` of a file entity.
pub(crate) const FILE_ENTITY: &str = "org.sagebionetworks.repo.model.FileEntity";

/// Where one multipart upload stands (Synapse's `MultipartUploadStatus`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MultipartUploadStatus {
    pub upload_id: String,
    /// One character per part: `1` added, `0` missing.
    #[serde(default)]
    pub parts_state: Option<String>,
    /// `UPLOADING` or `COMPLETED`.
    pub state: String,
    #[serde(default)]
    pub result_file_handle_id: Option<String>,
}

/// A presigned URL for one part, with the headers that were signed (`PartPresignedUrl`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PartPresignedUrl {
    pub part_number: u32,
    pub upload_presigned_url: String,
    #[serde(default)]
    pub signed_headers: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchPresignedUploadUrlResponse {
    #[serde(default)]
    part_presigned_urls: Vec<PartPresignedUrl>,
}

/// The answer to adding a part (`AddPartResponse`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddPartResponse {
    /// `ADD_SUCCESS` or `ADD_FAILED`.
    pub add_part_state: String,
    #[serde(default)]
    pub error_message: Option<String>,
}

/// What cubeship reads of a file handle (`S3FileHandle` and friends).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileHandle {
    #[serde(default)]
    pub content_size: Option<u64>,
    #[serde(default)]
    pub content_md5: Option<String>,
}

/// One result of `POST /fileHandle/batch` (`FileResult`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileResult {
    #[serde(default)]
    pub file_handle: Option<FileHandle>,
    #[serde(default, rename = "preSignedURL")]
    pub pre_signed_url: Option<String>,
    /// `NOT_FOUND` or `UNAUTHORIZED` when the file cannot be had.
    #[serde(default)]
    pub failure_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchFileResult {
    #[serde(default)]
    requested_files: Vec<FileResult>,
}

/// What the caller may do with an entity (`UserEntityPermissions`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct UserEntityPermissions {
    pub can_edit: bool,
    pub can_add_child: bool,
    pub can_certified_user_add_child: bool,
    pub is_certified_user: bool,
    pub can_upload: bool,
}

#[derive(Deserialize)]
struct EntityId {
    id: String,
}

/// A configured connection to one Synapse deployment.
pub(crate) struct Api {
    /// `https://repo-prod.prod.sagebase.org`, without a trailing `/`.
    endpoint: String,
    /// Sends the bearer token; follows no redirects (the token must not leave Synapse).
    client: reqwest::Client,
    /// Presigned storage URLs: no Synapse credentials at all.
    storage: reqwest::Client,
    token: Secret,
    retry: RetryPolicy,
}

impl Api {
    pub(crate) fn new(endpoint: &Url, token: Secret, retry: RetryPolicy) -> Result<Api, Error> {
        let mut headers = HeaderMap::new();
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidInput,
                    "the Synapse token holds characters that cannot be sent in a header",
                )
            })?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        Ok(Api {
            endpoint: endpoint.as_str().trim_end_matches('/').to_string(),
            client: cubeship_provider::http::client(headers, false)?,
            storage: cubeship_provider::http::client(HeaderMap::new(), true)?,
            token,
            retry,
        })
    }

    /// The shared retry policy, for steps the caller retries as a whole (a part).
    pub(crate) fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn url(&self, service: &str, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = Url::parse(&format!("{}/{service}/v1/{path}", self.endpoint))
            .expect("the endpoint was checked to be a valid URL");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// The token never shows, even when a server echoes it back.
    fn scrub(&self, mut error: Error) -> Error {
        error.message = redact(&error.message, &[&self.token]);
        error
    }

    /// One JSON call with the token, retried by the shared policy.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
    ) -> Result<T, Error> {
        self.retry
            .run(what, |_| {
                let mut request = self.client.request(method.clone(), url.clone());
                if let Some(body) = body {
                    request = request.json(body);
                }
                async move {
                    let response = request
                        .send()
                        .await
                        .map_err(|e| self.scrub(transport_error(e, what)))?;
                    if !response.status().is_success() {
                        return Err(self.scrub(error_from_response(response, what).await));
                    }
                    response
                        .json::<T>()
                        .await
                        .map_err(|e| self.scrub(transport_error(e, what)))
                }
            })
            .await
    }

    async fn repo<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, Error> {
        let what = format!("{method} /repo/v1/{path}");
        self.call(method, self.url("repo", path, query), body, &what)
            .await
    }

    async fn file<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, Error> {
        let what = format!("{method} /file/v1/{path}");
        self.call(method, self.url("file", path, query), body, &what)
            .await
    }

    /// `GET /userProfile`: who the token belongs to (401 when it is bad).
    pub(crate) async fn user_profile(&self) -> Result<Value, Error> {
        self.repo(Method::GET, "userProfile", &[], None).await
    }

    /// `GET /entity/{id}`: the entity as Synapse returns it, kept whole so an update sends
    /// every field back.
    pub(crate) async fn entity(&self, id: &str) -> Result<Value, Error> {
        self.repo(Method::GET, &format!("entity/{id}"), &[], None)
            .await
    }

    /// `GET /entity/{id}/permissions`.
    pub(crate) async fn permissions(&self, id: &str) -> Result<UserEntityPermissions, Error> {
        self.repo(Method::GET, &format!("entity/{id}/permissions"), &[], None)
            .await
    }

    /// `POST /entity/child`: the id of the entity named `name` under `parent`, if any.
    pub(crate) async fn child(&self, parent: &str, name: &str) -> Result<Option<String>, Error> {
        let body = json!({"parentId": parent, "entityName": name});
        match self
            .repo::<EntityId>(Method::POST, "entity/child", &[], Some(&body))
            .await
        {
            Ok(found) => Ok(Some(found.id)),
            Err(e) if e.status.is_some_and(cubeship_provider::error::is_missing) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /entity`.
    pub(crate) async fn create_entity(&self, entity: &Value) -> Result<Value, Error> {
        self.repo(Method::POST, "entity", &[], Some(entity)).await
    }

    /// `PUT /entity/{id}` (the body carries the etag Synapse checks).
    pub(crate) async fn update_entity(&self, id: &str, entity: &Value) -> Result<Value, Error> {
        self.repo(Method::PUT, &format!("entity/{id}"), &[], Some(entity))
            .await
    }

    /// `GET /entity/{id}/annotations2`.
    pub(crate) async fn annotations(&self, id: &str) -> Result<Value, Error> {
        self.repo(Method::GET, &format!("entity/{id}/annotations2"), &[], None)
            .await
    }

    /// `PUT /entity/{id}/annotations2` (the body carries the etag Synapse checks).
    pub(crate) async fn put_annotations(
        &self,
        id: &str,
        annotations: &Value,
    ) -> Result<Value, Error> {
        self.repo(
            Method::PUT,
            &format!("entity/{id}/annotations2"),
            &[],
            Some(annotations),
        )
        .await
    }

    /// `POST /fileHandle/batch` for the file handle of a file entity: its handle and, when
    /// `presigned`, a URL to download it from.
    pub(crate) async fn file_result(
        &self,
        entity_id: &str,
        file_handle_id: &str,
        presigned: bool,
    ) -> Result<FileResult, Error> {
        let body = json!({
            "requestedFiles": [{
                "fileHandleId": file_handle_id,
                "associateObjectId": entity_id,
                "associateObjectType": "FileEntity",
            }],
            "includePreSignedURLs": presigned,
            "includeFileHandles": true,
            "includePreviewPreSignedURLs": false,
        });
        let result: BatchFileResult = self
            .file(Method::POST, "fileHandle/batch", &[], Some(&body))
            .await?;
        result.requested_files.into_iter().next().ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                format!("Synapse returned no file for {entity_id}"),
            )
        })
    }

    /// `POST /file/multipart?forceRestart=false`: starts the upload, or returns the one
    /// already started with the same request (its `partsState` says which parts are in).
    pub(crate) async fn start_multipart(
        &self,
        request: &Value,
    ) -> Result<MultipartUploadStatus, Error> {
        self.file(
            Method::POST,
            "file/multipart",
            &[("forceRestart", "false")],
            Some(request),
        )
        .await
    }

    /// `POST /file/multipart/{uploadId}/presigned/url/batch`.
    pub(crate) async fn presigned_part_urls(
        &self,
        upload_id: &str,
        parts: &[u32],
        content_type: &str,
    ) -> Result<Vec<PartPresignedUrl>, Error> {
        let body = json!({
            "uploadId": upload_id,
            "partNumbers": parts,
            "contentType": content_type,
        });
        let response: BatchPresignedUploadUrlResponse = self
            .file(
                Method::POST,
                &format!("file/multipart/{upload_id}/presigned/url/batch"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(response.part_presigned_urls)
    }

    /// `PUT /file/multipart/{uploadId}/add/{partNumber}?partMD5Hex=…`.
    pub(crate) async fn add_part(
        &self,
        upload_id: &str,
        part: u32,
        md5_hex: &str,
    ) -> Result<AddPartResponse, Error> {
        self.file(
            Method::PUT,
            &format!("file/multipart/{upload_id}/add/{part}"),
            &[("partMD5Hex", md5_hex)],
            None,
        )
        .await
    }

    /// `PUT /file/multipart/{uploadId}/complete`.
    pub(crate) async fn complete_multipart(
        &self,
        upload_id: &str,
    ) -> Result<MultipartUploadStatus, Error> {
        self.file(
            Method::PUT,
            &format!("file/multipart/{upload_id}/complete"),
            &[],
            None,
        )
        .await
    }

    /// PUTs one part to its presigned URL with exactly the signed headers and a
    /// `Content-Length` (storage refuses chunked bodies), without any Synapse credentials.
    /// Not retried here: the caller retries the whole part with a fresh URL.
    pub(crate) async fn put_part(
        &self,
        url: &PartPresignedUrl,
        body: reqwest::Body,
        len: u64,
        watch: &cubeship_provider::BodyWatch,
    ) -> Result<(), Error> {
        let target = Url::parse(&url.upload_presigned_url).map_err(|e| {
            Error::new(
                ErrorKind::Other,
                format!(
                    "Synapse gave a bad presigned URL for part {}: {e}",
                    url.part_number
                ),
            )
        })?;
        let what = format!("PUT part {} to {}", url.part_number, display_url(&target));
        let mut request = self.storage.put(target).header(CONTENT_LENGTH, len);
        for (name, value) in url.signed_headers.iter().flatten() {
            let name = HeaderName::from_bytes(name.as_bytes());
            let value = HeaderValue::from_str(value);
            if let (Ok(name), Ok(value)) = (name, value) {
                request = request.header(name, value);
            }
        }
        let request = request.body(body).send();
        let sent = async {
            request
                .await
                .map_err(|e| transport_error(e.without_url(), &what))
        };
        let timeouts = cubeship_provider::Timeouts::from_process_env();
        let response =
            cubeship_provider::timeouts::within_timeouts(sent, Some(watch), &timeouts, &what)
                .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            let mut error = error_from_response(response, &what).await;
            // An expired presigned URL answers 403: a fresh URL may well work.
            if error.status == Some(403) {
                error.retryable = true;
            }
            Err(self.scrub(error))
        }
    }

    /// GETs a presigned download URL without Synapse credentials and hashes the body.
    pub(crate) async fn download_presigned(
        &self,
        url: &Url,
        what: &str,
    ) -> Result<cubeship_provider::http::Download, Error> {
        self.retry
            .run(what, |_| async {
                let response = self
                    .storage
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| transport_error(e.without_url(), what))?;
                cubeship_provider::http::hash_response(response, what).await
            })
            .await
    }
}
