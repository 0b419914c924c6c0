//! Metadata reads on the Cloud Storage JSON API (`buckets.get`, `objects.get`) with reqwest.
//!
//! The official crate's `StorageControl` client makes these calls over gRPC only, which the
//! emulators cubeship is tested against (and some proxies) do not speak; its `Storage` client
//! (HTTP) only reads and writes object data. So metadata goes over the documented JSON API,
//! authenticated with the same `google-cloud-auth` credentials the storage client uses. Large
//! uploads use its resumable sessions too (see `resumable`).

use std::collections::HashMap;

use cubeship_provider::http::{error_from_response, transport_error};
use cubeship_provider::{Error, ErrorKind, Result, RetryPolicy};
use google_cloud_auth::credentials::{CacheableResource, Credentials};
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;

/// What `buckets.get` tells about who may read the bucket's objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketPolicy {
    /// Uniform bucket-level access: object ACLs are refused, only IAM applies.
    pub uniform_access: bool,
    /// Public access prevention is `enforced`: nothing in the bucket can be public.
    pub public_access_prevented: bool,
}

/// What `objects.get` tells about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub generation: String,
    pub metadata: HashMap<String, String>,
}

pub struct JsonApi {
    client: reqwest::Client,
    /// For resumable upload sessions: follows no redirect (a 308 there means "incomplete").
    pub(crate) upload_client: reqwest::Client,
    /// `https://storage.googleapis.com` or an emulator's address, without trailing `/`.
    pub(crate) base: String,
    credentials: Credentials,
    retry: RetryPolicy,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BucketResource {
    #[serde(default)]
    iam_configuration: Option<IamConfiguration>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IamConfiguration {
    #[serde(default)]
    uniform_bucket_level_access: Option<Enabled>,
    #[serde(default)]
    public_access_prevention: Option<String>,
}

#[derive(Deserialize)]
struct Enabled {
    #[serde(default)]
    enabled: bool,
}

#[derive(Deserialize)]
struct ObjectResource {
    /// The JSON API encodes 64-bit integers as strings.
    size: String,
    #[serde(default)]
    generation: String,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

/// Object and bucket names go in one path segment: everything but RFC 3986 unreserved
/// characters is encoded, `/` included.
pub fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, cubeship_provider::http::PATH_SEGMENT).to_string()
}

impl JsonApi {
    pub fn new(base: &str, credentials: Credentials, retry: RetryPolicy) -> Result<Self> {
        let client = cubeship_provider::http::client(reqwest::header::HeaderMap::new(), true)?;
        let upload_client =
            cubeship_provider::http::client(reqwest::header::HeaderMap::new(), false)?;
        Ok(JsonApi {
            client,
            upload_client,
            base: base.trim_end_matches('/').to_string(),
            credentials,
            retry,
        })
    }

    /// The credentials' request headers (an `Authorization: Bearer …` for Google accounts,
    /// nothing for anonymous credentials). Refreshing a token is the auth crate's job.
    pub(crate) async fn auth_headers(&self) -> Result<reqwest::header::HeaderMap> {
        match self.credentials.headers(http::Extensions::new()).await {
            Ok(CacheableResource::New { data, .. }) => Ok(data),
            Ok(CacheableResource::NotModified) => Ok(reqwest::header::HeaderMap::new()),
            Err(e) => {
                let retryable = e.is_transient();
                Err(Error::new(
                    ErrorKind::Unauthenticated,
                    format!(
                        "cannot get Google credentials: {e} (run `gcloud auth application-default login`, \
                         or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file; see docs/providers/gcs.md)"
                    ),
                )
                .retryable(retryable))
            }
        }
    }

    /// GETs `url`; `Ok(None)` on 404. Retries transient failures with the shared policy.
    async fn get<T: for<'de> Deserialize<'de>>(&self, url: &str, what: &str) -> Result<Option<T>> {
        self.retry
            .run(what, |_| async {
                let headers = self.auth_headers().await?;
                let response = self
                    .client
                    .get(url)
                    .headers(headers)
                    .send()
                    .await
                    .map_err(|e| transport_error(e, what))?;
                if cubeship_provider::error::is_missing(response.status().as_u16()) {
                    return Ok(None);
                }
                if !response.status().is_success() {
                    return Err(error_from_response(response, what).await);
                }
                let value = response.json::<T>().await.map_err(|e| {
                    Error::new(
                        ErrorKind::Transport,
                        format!("{what}: unreadable answer: {e}"),
                    )
                })?;
                Ok(Some(value))
            })
            .await
    }

    /// `buckets.get`: `Ok(None)` when the bucket does not exist.
    pub async fn bucket_policy(&self, bucket: &str) -> Result<Option<BucketPolicy>> {
        let url = format!(
            "{}/storage/v1/b/{}?fields=name,iamConfiguration",
            self.base,
            encode_segment(bucket)
        );
        let resource: Option<BucketResource> =
            self.get(&url, &format!("reading bucket {bucket}")).await?;
        Ok(resource.map(|r| {
            let iam = r.iam_configuration;
            BucketPolicy {
                uniform_access: iam
                    .as_ref()
                    .and_then(|i| i.uniform_bucket_level_access.as_ref())
                    .is_some_and(|u| u.enabled),
                public_access_prevented: iam
                    .as_ref()
                    .and_then(|i| i.public_access_prevention.as_deref())
                    .is_some_and(|p| p.eq_ignore_ascii_case("enforced")),
            }
        }))
    }

    /// `objects.get` (metadata only): `Ok(None)` when no object has that name.
    pub async fn object(&self, bucket: &str, name: &str) -> Result<Option<ObjectInfo>> {
        let url = format!(
            "{}/storage/v1/b/{}/o/{}?fields=size,generation,metadata",
            self.base,
            encode_segment(bucket),
            encode_segment(name)
        );
        let resource: Option<ObjectResource> = self
            .get(&url, &format!("reading gs://{bucket}/{name}"))
            .await?;
        resource
            .map(|r| {
                let size = r.size.parse::<u64>().map_err(|_| {
                    Error::new(
                        ErrorKind::Transport,
                        format!(
                            "gs://{bucket}/{name}: the service reported size {:?}",
                            r.size
                        ),
                    )
                })?;
                Ok(ObjectInfo {
                    size,
                    generation: r.generation,
                    metadata: r.metadata,
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_encoded_segment() {
        assert_eq!(encode_segment("a/b c+d.tar.gz"), "a%2Fb%20c%2Bd.tar.gz");
    }

    #[test]
    fn bucket_resource_parses_iam_configuration() {
        let body = r#"{"name":"b","iamConfiguration":{"uniformBucketLevelAccess":{"enabled":true},"publicAccessPrevention":"enforced"}}"#;
        let resource: BucketResource = serde_json::from_str(body).unwrap();
        let iam = resource.iam_configuration.unwrap();
        assert!(iam.uniform_bucket_level_access.unwrap().enabled);
        assert_eq!(iam.public_access_prevention.as_deref(), Some("enforced"));
        let bare: BucketResource = serde_json::from_str(r#"{"name":"b"}"#).unwrap();
        assert!(bare.iam_configuration.is_none());
    }
}
