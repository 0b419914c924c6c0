//! Content digests in HTTP headers: the ones sent with a PUT so that servers which check them
//! (Artifactory, Nexus, RFC 9530 servers) reject a corrupted upload, and the sha256 read back
//! from a HEAD answer when the server reports one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use cubeship_provider::Asset;

/// Headers carrying the digests computed at packaging time: free to send, no extra read.
/// (No `Content-MD5`: MD5 is not among the digests packaging computes, and a second pass
/// over a multi-GiB file to get it is not cheap.)
pub fn upload_headers(asset: &Asset) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    if let Ok(sha256) = hex::decode(&asset.sha256) {
        let b64 = STANDARD.encode(sha256);
        put("repr-digest", format!("sha-256=:{b64}:"));
        put("digest", format!("SHA-256={b64}"));
    }
    put("x-checksum-sha256", asset.sha256.to_ascii_lowercase());
    put("x-checksum-sha1", asset.sha1.to_ascii_lowercase());
    headers
}

/// The sha256 (lower-case hex) a server reports for the object in `headers`, if any.
pub fn sha256_from_headers(headers: &HeaderMap) -> Option<String> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    for name in [
        "x-checksum-sha256",
        "x-amz-meta-sha256",
        "x-goog-meta-sha256",
    ] {
        if let Some(hex) = text(name).map(str::trim).filter(|v| is_sha256_hex(v)) {
            return Some(hex.to_ascii_lowercase());
        }
    }
    // RFC 9530: `sha-256=:BASE64:`, RFC 3230: `SHA-256=BASE64`; several may be listed.
    for name in ["repr-digest", "digest"] {
        let Some(value) = text(name) else { continue };
        for item in value.split(',') {
            let Some((algorithm, encoded)) = item.trim().split_once('=') else {
                continue;
            };
            if !algorithm.trim().eq_ignore_ascii_case("sha-256") {
                continue;
            }
            let encoded = encoded.trim().trim_matches(':');
            if let Ok(bytes) = STANDARD.decode(encoded)
                && bytes.len() == 32
            {
                return Some(hex::encode(bytes));
            }
        }
    }
    None
}

fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn asset() -> Asset {
        Asset {
            path: "x".into(),
            size: 0,
            sha256: SHA.into(),
            sha1: "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
            crc32c: 0,
            content_type: "application/octet-stream",
        }
    }

    #[test]
    fn the_digests_sent_are_the_digests_read_back() {
        let sent = upload_headers(&asset());
        assert_eq!(
            sent["repr-digest"],
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
        for name in ["repr-digest", "digest", "x-checksum-sha256"] {
            let mut only = HeaderMap::new();
            only.insert(HeaderName::from_static(name), sent[name].clone());
            assert_eq!(sha256_from_headers(&only).as_deref(), Some(SHA), "{name}");
        }
        let mut other = HeaderMap::new();
        other.insert(
            "digest",
            HeaderValue::from_static(
                "md5=abc, SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            ),
        );
        assert_eq!(sha256_from_headers(&other).as_deref(), Some(SHA));
        assert_eq!(sha256_from_headers(&HeaderMap::new()), None);
    }
}
