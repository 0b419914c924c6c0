//! `cubeship verify URL`'s link doctor through the binary, against a local server imitating each
//! case (tests/servers/link_doctor_server.py): the file itself, Google Drive's virus-scan page,
//! a login page behind a redirect, HTML labelled as a file, a presigned URL, a 404; and, with
//! the server as HTTP proxy, Dropbox preview and GitHub blob pages under their real host names
//! (nothing leaves the machine).

use std::process::Command;

use crate::support::*;

/// The server's "weights": bytes 0..=255 sixty-four times.
fn weights() -> Vec<u8> {
    (0..64).flat_map(|_| 0..=255u8).collect()
}

fn start() -> (Server, String) {
    start_fake("link doctor", "link_doctor_server.py", &[])
}

/// `cubeship --json verify ARGS…` with no proxy, or with `proxy` as the HTTP proxy.
fn verify(args: &[&str], proxy: Option<&str>) -> (Run, serde_json::Value) {
    let mut command: Command = cubeship();
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(var);
    }
    if let Some(proxy) = proxy {
        command.env("HTTP_PROXY", proxy).env("http_proxy", proxy);
    }
    command.args(["--json", "verify"]).args(args);
    let run = run(&mut command);
    let json = run.json();
    let results = json.as_array().expect("an array of checks");
    assert_eq!(results.len(), 1, "{json}");
    let result = results[0].clone();
    (run, result)
}

fn codes(result: &serde_json::Value) -> Vec<String> {
    result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_good_link_reports_size_time_and_throughput() {
    let (_server, base) = start();
    let sha = sha256_hex(&weights());
    let url = format!("{base}/files/weights.tar.gz");
    for target in [url.clone(), format!("direct:{url}")] {
        let (run, result) = verify(&[&target, "--sha256", &sha], None);
        run.assert_code(0);
        assert_eq!(result["verified"], true, "{result}");
        assert_eq!(result["ok"], true);
        assert_eq!(result["status"], 200);
        assert_eq!(result["size"], 16384);
        assert_eq!(result["sha256"], sha.as_str());
        assert_eq!(result["content_type"], "application/gzip");
        assert!(result["seconds"].as_f64().unwrap() >= 0.0);
        assert!(result["bytes_per_second"].as_f64().unwrap() > 0.0);
        assert!(result["findings"].as_array().unwrap().is_empty());
        assert!(result["fixed_url"].is_null());
    }
    // Without a hash: downloadable is enough, and the hashes are reported for registering.
    let (run, result) = verify(&[&url], None);
    run.assert_code(0);
    assert_eq!(result["verified"], false);
    assert_eq!(result["ok"], true);
    assert!(result["expected"].is_null());
    assert_eq!(result["sha256"], sha.as_str());

    let human = run_plain(&["verify", &url]);
    human.assert_code(0);
    assert!(
        human.stdout.contains(&format!("sha256 {sha}")),
        "the hash to register is shown: {}",
        human.stdout
    );

    // The human form says the same.
    let human = run_plain(&["verify", &url, "--sha256", &sha]);
    human.assert_code(0);
    assert!(human.stdout.starts_with("verified  "), "{}", human.stdout);
    assert!(human.stdout.contains("16.0 KiB in "), "{}", human.stdout);
    assert!(human.stdout.contains("/s)"), "{}", human.stdout);
}

fn run_plain(args: &[&str]) -> Run {
    let mut command = cubeship();
    for var in ["HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"] {
        command.env_remove(var);
    }
    run(command.args(args))
}

#[test]
fn google_drive_virus_scan_page_is_recognised_with_the_direct_url() {
    let (_server, base) = start();
    let sha = sha256_hex(&weights());
    let (run, result) = verify(&[&format!("{base}/drive/uc?id=x"), "--sha256", &sha], None);
    run.assert_code(1);
    assert_eq!(result["ok"], false);
    assert_eq!(codes(&result), ["google_drive_virus_scan_page"]);
    assert_eq!(
        result["fixed_url"],
        "https://drive.usercontent.google.com/download?id=1FakeDriveId_42&export=download&confirm=t"
    );
    // The query string may be a signature: never shown.
    assert_eq!(result["url"], format!("{base}/drive/uc?…"));

    let human = run_plain(&["verify", &format!("{base}/drive/uc"), "--sha256", &sha]);
    human.assert_code(1);
    assert!(
        human.stdout.contains("can't scan this file for viruses"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains(
            "use instead: https://drive.usercontent.google.com/download?id=1FakeDriveId_42"
        ),
        "{}",
        human.stdout
    );
}

#[test]
fn a_login_page_behind_a_redirect_means_the_file_is_not_public() {
    let (_server, base) = start();
    let (run, result) = verify(&[&format!("{base}/private/weights.tar.gz")], None);
    run.assert_code(1);
    assert_eq!(codes(&result), ["login_page"]);
    assert_eq!(result["status"], 200);
    assert!(
        result["final_url"]
            .as_str()
            .unwrap()
            .contains("/accounts/login"),
        "{result}"
    );
}

#[test]
fn html_labelled_as_a_file_is_caught_by_its_first_bytes() {
    let (_server, base) = start();
    let (run, result) = verify(&[&format!("{base}/octet-html")], None);
    run.assert_code(1);
    assert_eq!(codes(&result), ["html_page"]);
    assert_eq!(result["content_type"], "application/octet-stream");
}

#[test]
fn a_presigned_url_works_today_but_is_refused_with_its_permanent_url() {
    let (_server, base) = start();
    let sha = sha256_hex(&weights());
    let url = format!(
        "{base}/presigned/weights.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600\
         &X-Amz-Signature=0123abcd"
    );
    let (run, result) = verify(&[&url, "--sha256", &sha], None);
    run.assert_code(1);
    assert_eq!(result["verified"], true, "the bytes are right today");
    assert_eq!(result["ok"], false);
    assert_eq!(codes(&result), ["presigned_url"]);
    assert_eq!(
        result["fixed_url"],
        format!("{base}/presigned/weights.tar.gz").as_str()
    );
    assert!(!run.stdout.contains("0123abcd"), "signature printed");
}

#[test]
fn a_missing_file_fails_with_its_status() {
    let (_server, base) = start();
    let (run, result) = verify(&[&format!("{base}/missing")], None);
    run.assert_code(1);
    assert_eq!(result["status"], 404);
    assert!(result["detail"].as_str().unwrap().contains("404"));
}

#[test]
fn dropbox_and_github_share_pages_under_their_own_host_names() {
    let (_server, base) = start();
    let sha = sha256_hex(&weights());
    let preview = "http://www.dropbox.com/scl/fi/abc123/weights.tar.gz?rlkey=k3y&dl=0";
    let (run, result) = verify(&[preview, "--sha256", &sha], Some(&base));
    run.assert_code(1);
    assert_eq!(
        codes(&result),
        ["html_page", "dropbox_preview", "cleartext_http"],
        "{result}"
    );
    let fixed = result["fixed_url"].as_str().unwrap().to_string();
    assert_eq!(
        fixed,
        "http://www.dropbox.com/scl/fi/abc123/weights.tar.gz?rlkey=k3y&dl=1"
    );
    // --try-fixed checks the fixed URL in the same run.
    let (run, result) = verify(&[preview, "--sha256", &sha, "--try-fixed"], Some(&base));
    run.assert_code(1);
    assert_eq!(result["fixed_check"]["verified"], true, "{result}");
    assert_eq!(
        result["fixed_check"]["url"],
        "http://www.dropbox.com/scl/fi/abc123/weights.tar.gz?…"
    );
    crate::schema::assert_valid("verify.schema.json", &run.json());
    // The fixed link serves the file (on this imitation): only the http warning remains.
    let (run, result) = verify(&[&fixed, "--sha256", &sha], Some(&base));
    run.assert_code(0);
    assert_eq!(result["verified"], true);
    assert_eq!(codes(&result), ["cleartext_http"]);

    let blob = "http://github.com/mlcommons/medperf/blob/main/mlcube.yaml";
    let (run, result) = verify(&[blob], Some(&base));
    run.assert_code(1);
    assert_eq!(
        codes(&result),
        ["html_page", "github_blob", "cleartext_http"],
        "{result}"
    );
    assert_eq!(
        result["fixed_url"],
        "https://raw.githubusercontent.com/mlcommons/medperf/main/mlcube.yaml"
    );
    // Both went through the imitation, none elsewhere.
    let log = get_json(&format!("{base}/_log"));
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("www.dropbox.com")),
        "{log}"
    );
}
