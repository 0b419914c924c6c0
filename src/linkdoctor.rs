//! The link doctor: why MedPerf cannot download a link, and the URL that it can.
//!
//! Two halves, both pure (no network): [`diagnose_url`] reads a URL and recognises share links
//! of hosts people use for MLCube files (Dropbox previews, Google Drive viewer pages, GitHub
//! `blob/` pages and release pages, presigned S3/GCS URLs, cleartext `http://`), and
//! [`diagnose_body`] reads what a download returned (its Content-Type and first bytes) and
//! recognises an HTML page served with status 200 where a file was expected: Google Drive's
//! "can't scan this file for viruses" interstitial, a login page, or any other web page.
//! `verify` runs both around its download.

use serde::{Deserialize, Serialize};
use url::Url;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// MedPerf can download it, but something is risky (cleartext HTTP).
    Warning,
    /// MedPerf cannot use this link (now, or once it expires).
    Error,
}

/// One thing the link doctor noticed about a link or its download.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable machine-readable name, e.g. `dropbox_preview` (listed in docs/report.md).
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong and what to do, in one or two sentences.
    pub message: String,
    /// A URL MedPerf can download instead, when one can be derived from the link.
    pub fixed_url: Option<String>,
}

impl Finding {
    fn new(code: &str, severity: Severity, message: String, fixed_url: Option<String>) -> Self {
        Finding {
            code: code.to_string(),
            severity,
            message,
            fixed_url,
        }
    }
}

/// The URL a MedPerf resource names: `direct:<URL>` is MedPerf's explicit form of a plain URL.
pub fn strip_direct(resource: &str) -> &str {
    resource.strip_prefix("direct:").unwrap_or(resource)
}

/// Google Drive's current direct-download form for the file `id` (`confirm=t` skips the
/// "can't scan this file for viruses" page that files over ~100 MB get).
pub fn google_drive_direct(id: &str) -> String {
    let mut url = Url::parse("https://drive.usercontent.google.com/download").expect("valid");
    url.query_pairs_mut()
        .append_pair("id", id)
        .append_pair("export", "download")
        .append_pair("confirm", "t");
    url.to_string()
}

fn host(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_ascii_lowercase()
}

fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn has_query_key(url: &Url, names: &[&str]) -> bool {
    url.query_pairs()
        .any(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
}

/// Everything the link doctor can tell from the URL alone, most important first.
pub fn diagnose_url(url: &Url) -> Vec<Finding> {
    let mut findings = Vec::new();
    let host = host(url);
    if let Some(finding) = dropbox(url, &host) {
        findings.push(finding);
    }
    if let Some(finding) = google_drive(url, &host) {
        findings.push(finding);
    }
    if let Some(finding) = github(url, &host) {
        findings.push(finding);
    }
    if let Some(finding) = presigned(url) {
        findings.push(finding);
    }
    if url.scheme() == "http" && !cubeship_provider::http::is_loopback(url) {
        let mut fixed = url.clone();
        let fixed = fixed
            .set_scheme("https")
            .ok()
            .map(|()| fixed.to_string())
            .filter(|_| findings.is_empty());
        findings.push(Finding::new(
            "cleartext_http",
            Severity::Warning,
            "a plain http:// URL: the download can be altered or blocked on the way (MedPerf's \
             hash check catches altered bytes, not blocked ones); use https:// if the host \
             serves it"
                .to_string(),
            fixed,
        ));
    }
    findings
}

/// Dropbox share links open a preview page unless `dl=1` (or `raw=1`) is set.
fn dropbox(url: &Url, host: &str) -> Option<Finding> {
    if host != "dropbox.com" && host != "www.dropbox.com" {
        return None;
    }
    let path = url.path();
    let is_share = path.starts_with("/s/") || path.starts_with("/scl/fi/");
    if !is_share {
        return None;
    }
    let direct = query_value(url, "dl").as_deref() == Some("1")
        || query_value(url, "raw").as_deref() == Some("1");
    if direct {
        return None;
    }
    let mut fixed = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "dl")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut query = fixed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        query.append_pair("dl", "1");
    }
    Some(Finding::new(
        "dropbox_preview",
        Severity::Error,
        "a Dropbox share link without dl=1 serves Dropbox's preview web page, not the file; \
         set dl=1 (keep rlkey, it is the link's key)"
            .to_string(),
        Some(fixed.to_string()),
    ))
}

/// The file id of a Google Drive link, when the URL is one of Drive's page forms.
fn google_drive_id(url: &Url, host: &str) -> Option<String> {
    match host {
        "drive.google.com" | "docs.google.com" => {
            let segments: Vec<&str> = url.path_segments()?.collect();
            if let ["file", "d", id, ..] = segments.as_slice() {
                return Some(id.to_string());
            }
            if matches!(segments.as_slice(), ["open"] | ["uc"]) {
                return query_value(url, "id");
            }
            None
        }
        "drive.usercontent.google.com" => query_value(url, "id"),
        _ => None,
    }
}

/// Drive's `file/d/ID/view`, `open?id=ID` and legacy `uc?id=ID` forms → the direct form.
fn google_drive(url: &Url, host: &str) -> Option<Finding> {
    let id = google_drive_id(url, host)?;
    if id.is_empty() {
        return None;
    }
    let fixed = google_drive_direct(&id);
    if host == "drive.usercontent.google.com" {
        if query_value(url, "confirm").is_some() {
            return None;
        }
        return Some(Finding::new(
            "google_drive_unconfirmed",
            Severity::Warning,
            "a Google Drive download link without confirm=t: files Drive cannot scan for \
             viruses (over ~100 MB) get a warning web page instead of the file"
                .to_string(),
            Some(fixed),
        ));
    }
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let (code, severity, what) = if segments.first() == Some(&"uc") {
        (
            "google_drive_legacy",
            Severity::Warning,
            "Google Drive's old uc?export=download form redirects, and large files get a virus-scan \
             warning page instead of the file",
        )
    } else {
        (
            "google_drive_viewer",
            Severity::Error,
            "a Google Drive viewer link opens a web page, not the file",
        )
    };
    Some(Finding::new(
        code,
        severity,
        format!(
            "{what}; use the direct download form (the file must be shared with \"Anyone with \
             the link\")"
        ),
        Some(fixed),
    ))
}

/// GitHub `blob/` pages → raw URLs; release pages → the asset's download URL.
fn github(url: &Url, host: &str) -> Option<Finding> {
    if host != "github.com" && host != "www.github.com" {
        return None;
    }
    let segments: Vec<&str> = url.path_segments()?.collect();
    match segments.as_slice() {
        [owner, repo, "blob", rest @ ..] if !rest.is_empty() => {
            let fixed = format!(
                "https://raw.githubusercontent.com/{owner}/{repo}/{}",
                rest.join("/")
            );
            Some(Finding::new(
                "github_blob",
                Severity::Error,
                "a GitHub blob/ link serves the web page that shows the file; use the raw URL \
                 (files over 100 MB belong in a release asset: \
                 https://github.com/OWNER/REPO/releases/download/TAG/FILE)"
                    .to_string(),
                Some(fixed),
            ))
        }
        [owner, repo, "releases", "tag", tag, ..] => Some(Finding::new(
            "github_release_page",
            Severity::Error,
            format!(
                "a GitHub release page, not a file; use one asset's URL: \
                 https://github.com/{owner}/{repo}/releases/download/{tag}/FILE"
            ),
            None,
        )),
        [_, _, "releases"] => Some(Finding::new(
            "github_release_page",
            Severity::Error,
            "a GitHub releases page, not a file; use one asset's URL: \
             https://github.com/OWNER/REPO/releases/download/TAG/FILE"
                .to_string(),
            None,
        )),
        _ => None,
    }
}

/// Presigned S3 (SigV4 and SigV2) and GCS signed URLs expire.
fn presigned(url: &Url) -> Option<Finding> {
    let sigv4 = has_query_key(
        url,
        &["X-Amz-Signature", "X-Amz-Expires", "X-Amz-Credential"],
    );
    let sigv2 = has_query_key(url, &["Signature"]) && has_query_key(url, &["Expires"]);
    let gcs = has_query_key(url, &["X-Goog-Signature", "X-Goog-Expires"]);
    if !(sigv4 || sigv2 || gcs) {
        return None;
    }
    let lifetime = query_value(url, "X-Amz-Expires")
        .or_else(|| query_value(url, "X-Goog-Expires"))
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| format!(" (this one was valid for {})", human_duration(s)))
        .unwrap_or_default();
    let mut fixed = url.clone();
    fixed.set_query(None);
    Some(Finding::new(
        "presigned_url",
        Severity::Error,
        format!(
            "a presigned URL: it stops working when its signature expires{lifetime}, and MedPerf \
             downloads the registered URL again later; make the object publicly readable and \
             register its permanent URL (shown, without the signature)"
        ),
        Some(fixed.to_string()),
    ))
}

fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// Whether a body's first bytes look like an HTML document.
pub fn looks_like_html(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(1024)]);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let lower = text.to_ascii_lowercase();
    lower.starts_with("<!doctype html") || lower.starts_with("<html")
}

/// What a download that answered 200 tells about the link: an HTML page where a file was
/// expected. `content_type` is the response's header, `head` the body's first bytes (a few KiB
/// are enough), `url` the link as given (to derive a fixed URL).
pub fn diagnose_body(url: &Url, content_type: Option<&str>, head: &[u8]) -> Option<Finding> {
    let html_type = content_type
        .map(|t| {
            let t = t.to_ascii_lowercase();
            t.starts_with("text/html") || t.starts_with("application/xhtml")
        })
        .unwrap_or(false);
    if !html_type && !looks_like_html(head) {
        return None;
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    if text.contains("can't scan this file for viruses")
        || text.contains("can&#39;t scan this file for viruses")
        || text.contains("virus scan warning")
    {
        let id = google_drive_id(url, &host(url)).or_else(|| html_input_value(head, "id"));
        return Some(Finding::new(
            "google_drive_virus_scan_page",
            Severity::Error,
            "Google Drive answered with its \"can't scan this file for viruses\" page, not the \
             file; use the direct form with confirm=t"
                .to_string(),
            id.map(|id| google_drive_direct(&id)),
        ));
    }
    let login = text.contains("type=\"password\"")
        || text.contains("type='password'")
        || text.contains("type=password")
        || text.contains("<title>sign in")
        || text.contains("<title>log in")
        || text.contains("<title>login");
    if login {
        return Some(Finding::new(
            "login_page",
            Severity::Error,
            "the server answered 200 with a login page, not the file: the file is not public; \
             share it with anyone (no sign-in) or publish it with cubeship"
                .to_string(),
            None,
        ));
    }
    Some(Finding::new(
        "html_page",
        Severity::Error,
        format!(
            "the server answered 200 with an HTML page{}, not the file MedPerf expects (a \
             preview, a share page or an error page); link the file itself",
            if html_type {
                " (Content-Type text/html)"
            } else {
                ""
            }
        ),
        None,
    ))
}

/// The `value` of the first `<input name="NAME" value="…">` in an HTML page (Drive's
/// interstitial carries the file id in a hidden form field).
fn html_input_value(html: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(html);
    let needle = format!("name=\"{name}\"");
    let at = text.find(&needle)?;
    let tag_start = text[..at].rfind('<')?;
    let tag_end = at + text[at..].find('>')?;
    let tag = &text[tag_start..tag_end];
    let value_at = tag.find("value=\"")? + "value=\"".len();
    let value = &tag[value_at..];
    let value = &value[..value.find('"')?];
    (!value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(url: &str) -> Vec<Finding> {
        diagnose_url(&Url::parse(url).unwrap())
    }

    fn only(url: &str) -> Finding {
        let found = findings(url);
        assert_eq!(found.len(), 1, "{url}: {found:?}");
        found.into_iter().next().unwrap()
    }

    #[test]
    fn direct_prefix_is_stripped() {
        assert_eq!(strip_direct("direct:https://a/b"), "https://a/b");
        assert_eq!(strip_direct("https://a/b"), "https://a/b");
    }

    #[test]
    fn a_plain_https_file_url_has_no_findings() {
        assert!(findings("https://files.example.org/cube/mlcube.yaml").is_empty());
        assert!(findings("https://raw.githubusercontent.com/o/r/main/mlcube.yaml").is_empty());
        assert!(findings("https://github.com/o/r/releases/download/v1/weights.tar.gz").is_empty());
        assert!(findings("http://127.0.0.1:8080/cube/mlcube.yaml").is_empty());
    }

    #[test]
    fn dropbox_dl0_becomes_dl1_keeping_rlkey() {
        let f = only("https://www.dropbox.com/scl/fi/abc123/weights.tar.gz?rlkey=xyz789&dl=0");
        assert_eq!(f.code, "dropbox_preview");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(
            f.fixed_url.as_deref(),
            Some("https://www.dropbox.com/scl/fi/abc123/weights.tar.gz?rlkey=xyz789&dl=1")
        );
        let f = only("https://www.dropbox.com/s/abc123/mlcube.yaml");
        assert_eq!(
            f.fixed_url.as_deref(),
            Some("https://www.dropbox.com/s/abc123/mlcube.yaml?dl=1")
        );
        let f = only("https://dropbox.com/scl/fi/a/b.yaml?dl=0&rlkey=k&st=s1");
        assert_eq!(
            f.fixed_url.as_deref(),
            Some("https://dropbox.com/scl/fi/a/b.yaml?rlkey=k&st=s1&dl=1")
        );
        assert!(findings("https://www.dropbox.com/scl/fi/a/b.yaml?rlkey=k&dl=1").is_empty());
        assert!(findings("https://www.dropbox.com/s/a/b.yaml?raw=1").is_empty());
        assert!(findings("https://www.dropbox.com/home").is_empty());
    }

    #[test]
    fn google_drive_pages_become_the_direct_form() {
        let direct =
            "https://drive.usercontent.google.com/download?id=1AbC-d_E&export=download&confirm=t";
        for page in [
            "https://drive.google.com/file/d/1AbC-d_E/view?usp=sharing",
            "https://drive.google.com/file/d/1AbC-d_E/view",
            "https://drive.google.com/file/d/1AbC-d_E",
            "https://drive.google.com/open?id=1AbC-d_E",
            "https://docs.google.com/uc?export=download&id=1AbC-d_E",
            "https://drive.google.com/uc?id=1AbC-d_E&export=download",
        ] {
            let f = only(page);
            let legacy = page.contains("/uc?");
            assert_eq!(f.severity == Severity::Warning, legacy, "{page}");
            assert!(f.code.starts_with("google_drive_"), "{page}: {}", f.code);
            assert_eq!(f.fixed_url.as_deref(), Some(direct), "{page}");
        }
        let f = only("https://drive.usercontent.google.com/download?id=1AbC-d_E&export=download");
        assert_eq!(f.code, "google_drive_unconfirmed");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.fixed_url.as_deref(), Some(direct));
        assert!(findings(direct).is_empty());
        assert!(findings("https://drive.google.com/drive/folders/xyz").is_empty());
    }

    #[test]
    fn github_blob_becomes_raw_and_release_pages_point_at_assets() {
        let f = only("https://github.com/mlcommons/medperf/blob/main/examples/mlcube.yaml");
        assert_eq!(f.code, "github_blob");
        assert_eq!(
            f.fixed_url.as_deref(),
            Some("https://raw.githubusercontent.com/mlcommons/medperf/main/examples/mlcube.yaml")
        );
        let f = only("https://github.com/o/r/releases/tag/v1.0");
        assert_eq!(f.code, "github_release_page");
        assert!(
            f.message
                .contains("https://github.com/o/r/releases/download/v1.0/FILE")
        );
        assert!(f.fixed_url.is_none());
        assert!(findings("https://github.com/o/r/raw/main/a.yaml").is_empty());
    }

    #[test]
    fn presigned_urls_are_refused_with_the_permanent_url() {
        let f = only(
            "https://b.s3.eu-west-1.amazonaws.com/k/w.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIA%2F20261203&X-Amz-Date=20261203T000000Z&X-Amz-Expires=604800\
             &X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeef",
        );
        assert_eq!(f.code, "presigned_url");
        assert_eq!(f.severity, Severity::Error);
        assert!(f.message.contains("7 days"), "{}", f.message);
        assert_eq!(
            f.fixed_url.as_deref(),
            Some("https://b.s3.eu-west-1.amazonaws.com/k/w.tar.gz")
        );
        assert!(!f.message.contains("deadbeef"));
        let f = only("https://b.s3.amazonaws.com/k?AWSAccessKeyId=A&Expires=1&Signature=x");
        assert_eq!(f.code, "presigned_url");
        let f = only("https://storage.googleapis.com/b/k?X-Goog-Signature=x&X-Goog-Expires=3600");
        assert!(f.message.contains("1 hours"), "{}", f.message);
    }

    #[test]
    fn cleartext_http_is_a_warning_with_the_https_form() {
        let f = only("http://files.example.org/mlcube.yaml");
        assert_eq!(f.code, "cleartext_http");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.fixed_url.as_deref(),
            Some("https://files.example.org/mlcube.yaml")
        );
        // With another finding, the https form is not offered as the fix (the other one is).
        let found = findings("http://www.dropbox.com/s/a/b.yaml?dl=0");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].code, "dropbox_preview");
        assert!(found[1].fixed_url.is_none());
    }

    #[test]
    fn html_bodies_are_recognised() {
        let url = Url::parse("https://files.example.org/a.tar.gz").unwrap();
        assert!(diagnose_body(&url, Some("application/gzip"), b"\x1f\x8b\x08").is_none());
        assert!(diagnose_body(&url, Some("text/plain"), b"name: cube\n").is_none());
        let f = diagnose_body(&url, Some("text/html; charset=utf-8"), b"hello").unwrap();
        assert_eq!(f.code, "html_page");
        let f = diagnose_body(&url, None, b"\xef\xbb\xbf  <!DOCTYPE HTML><html>").unwrap();
        assert_eq!(f.code, "html_page");
        let f = diagnose_body(
            &url,
            Some("text/html"),
            b"<html><title>Sign in</title><input type=\"password\"></html>",
        )
        .unwrap();
        assert_eq!(f.code, "login_page");
        let drive = b"<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>\
            </head><body>Google Drive can't scan this file for viruses.<form>\
            <input type=\"hidden\" name=\"id\" value=\"1XyZ_9\"></form></body></html>";
        let f = diagnose_body(&url, Some("text/html"), drive).unwrap();
        assert_eq!(f.code, "google_drive_virus_scan_page");
        assert_eq!(
            f.fixed_url.as_deref(),
            Some(
                "https://drive.usercontent.google.com/download?id=1XyZ_9&export=download&confirm=t"
            )
        );
    }
}
