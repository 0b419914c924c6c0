//! The conformance suite every provider's end-to-end tests run against its real local server
//! (object_store's `integration.rs` idea): one statement of what the contract means, instead
//! of a copy of the same scenario per provider. Each check panics with a message naming the
//! scenario, the key and what differed, so it is called from tests only.
//!
//! Scenarios: preflight; head of a missing key; upload; head after upload with the stored
//! sha256; an odd name and an empty file (unless the store declares it refuses empty files); the public URL serving the exact bytes to a client
//! with no credentials; a re-run seeing the same content (so it uploads nothing); other content
//! of the same size under a taken key told apart (so it is refused unless asked), and replaced
//! when asked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::digest::hash_file;
use crate::http::Download;
use crate::{Asset, NoProgress, ObjectKey, Provider, RemoteObject, UploadRequest};

/// Writes `content` to `dir/name` and describes it as an upload would.
pub fn asset(dir: &Path, name: &str, content: &[u8]) -> Asset {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, content).expect("write a conformance file");
    let digests = hash_file(&path).expect("hash a conformance file");
    Asset {
        path,
        size: digests.size,
        sha256: digests.sha256,
        sha1: digests.sha1,
        crc32c: digests.crc32c,
        content_type: "application/octet-stream",
    }
}

/// Bytes that differ per `seed` and compress badly.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Runs every scenario against `provider`. `scratch` is a writable local folder for the test
/// files; `namespace` keeps this run's keys apart from other runs on the same server.
pub async fn check_provider(provider: Arc<dyn Provider>, scratch: &Path, namespace: &str) {
    let capabilities = provider.capabilities();
    let flat = capabilities.flat_names;
    let key = |name: &str| {
        let key = ObjectKey::from_parts([namespace, name]);
        if flat {
            ObjectKey::from_parts([key.flattened("-").as_str()])
        } else {
            key
        }
    };
    let what = provider.describe();

    provider
        .preflight()
        .await
        .unwrap_or_else(|e| panic!("{what}: preflight failed: {e}"));

    let first = asset(scratch, "first.bin", &pseudo_random(70_000, 1));
    let main_key = key("first.bin");
    let missing = provider
        .head(&main_key, &first)
        .await
        .unwrap_or_else(|e| panic!("{what}: head of the missing {main_key} failed: {e}"));
    assert_eq!(missing, None, "{what}: head of a missing key must be None");

    upload_and_check(provider.as_ref(), &first, &main_key, None).await;

    // A re-run: the same bytes are recognised, so the publisher uploads nothing.
    let again = head_some(provider.as_ref(), &main_key, &first).await;
    assert!(
        holds(&again, &first),
        "{what}: a re-run must see the same content under {main_key}: {again:?}"
    );

    // Other bytes of the same size: told apart, so the publisher refuses to overwrite them.
    let other = asset(scratch, "other.bin", &pseudo_random(70_000, 2));
    let seen = head_some(provider.as_ref(), &main_key, &other).await;
    assert!(
        !holds(&seen, &other),
        "{what}: other content of the same size under {main_key} must not look the same: {seen:?}"
    );
    // ... and replaced when the user asks for it.
    upload_and_check(provider.as_ref(), &other, &main_key, Some(&seen)).await;

    // An empty file (where the store takes them) and a name that needs encoding in URLs.
    if !capabilities.refuses_empty {
        let empty = asset(scratch, "empty.bin", b"");
        upload_and_check(provider.as_ref(), &empty, &key("empty.bin"), None).await;
    }
    let odd_name = if flat {
        "odd_name-v1.0+ü.bin"
    } else {
        "odd dir/weights (v2) 100% + ü.bin"
    };
    let odd = asset(scratch, "odd.bin", &pseudo_random(1_000, 3));
    upload_and_check(provider.as_ref(), &odd, &key(odd_name), None).await;
}

fn holds(remote: &RemoteObject, asset: &Asset) -> bool {
    remote.size == asset.size
        && remote
            .sha256
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(&asset.sha256))
}

async fn head_some(provider: &dyn Provider, key: &ObjectKey, expected: &Asset) -> RemoteObject {
    let what = provider.describe();
    provider
        .head(key, expected)
        .await
        .unwrap_or_else(|e| panic!("{what}: head of {key} failed: {e}"))
        .unwrap_or_else(|| panic!("{what}: head of {key} found nothing after an upload"))
}

/// Uploads `asset` to `key`, then checks head (size and stored sha256) and that the public URL
/// serves exactly its bytes to an anonymous client.
async fn upload_and_check(
    provider: &dyn Provider,
    asset: &Asset,
    key: &ObjectKey,
    existing: Option<&RemoteObject>,
) {
    let what = provider.describe();
    let uploaded = provider
        .upload(&UploadRequest {
            asset,
            key,
            existing,
            progress: Arc::new(NoProgress),
            journal: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{what}: upload to {key} failed: {e}"));
    let remote = head_some(provider, key, asset).await;
    assert!(
        holds(&remote, asset),
        "{what}: head of {key} after upload must give size {} and sha256 {}: {remote:?}",
        asset.size,
        asset.sha256
    );
    let url = remote.url.clone().unwrap_or(uploaded.url);
    let download = provider
        .download(&url)
        .await
        .unwrap_or_else(|e| panic!("{what}: download of {url} failed: {e}"));
    assert_eq!(
        download,
        Download::Ok {
            size: asset.size,
            sha256: asset.sha256.clone(),
            sha1: asset.sha1.clone()
        },
        "{what}: {url} must serve exactly the uploaded bytes of {key} to an anonymous client"
    );
}
