//! What the CLI prints on stdout: the packaging and publishing tables, the verification
//! lines, and one JSON document for `--json`.

use std::io::Write;
use std::path::Path;

use cubeship::linkdoctor::Severity;
use cubeship::package::Manifest;
use cubeship::report::{PublishReport, UploadStatus, human_size};
use cubeship::verify::CheckResult;

/// Prints one JSON document on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

/// The lines `cubeship verify` prints: the verdict, the download's size, time and rate, and
/// the link doctor's findings with the URL to use instead.
pub fn print_checks(results: &[CheckResult]) {
    for line in results {
        let state = match (line.ok, line.verified) {
            (true, true) => "verified  ",
            (true, false) => "ok        ",
            (false, _) => "FAILED    ",
        };
        println!("{state}{}", line.url);
        if !line.ok || !line.verified {
            println!("          {}", line.detail);
        }
        if line.expected.is_none()
            && let (Some(sha256), Some(sha1)) = (&line.sha256, &line.sha1)
        {
            println!("          sha256 {sha256}\n          sha1   {sha1}");
        }
        if let Some(final_url) = &line.final_url {
            println!("          redirected to {final_url}");
        }
        if let (Some(size), Some(seconds)) = (line.size, line.seconds) {
            let rate = line
                .bytes_per_second
                .map(|r| format!(" ({}/s)", human_size(r as u64)))
                .unwrap_or_default();
            println!("          {} in {seconds:.2} s{rate}", human_size(size));
        }
        for finding in &line.findings {
            let label = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            println!("          {label}: {}", finding.message);
        }
        if let Some(fixed) = &line.fixed_url {
            println!("          use instead: {fixed}");
        }
        if let Some(again) = &line.fixed_check {
            let verdict = match (again.ok, again.verified) {
                (true, true) => "verified".to_string(),
                (true, false) => "downloadable".to_string(),
                (false, _) => format!("also fails: {}", again.detail),
            };
            println!("          checked it: {verdict}");
        }
    }
}

/// The short table `cubeship package` prints.
pub fn print_manifest(deploy_dir: &Path, manifest: &Manifest) {
    println!(
        "Packaged {} ({} layout) into {}",
        manifest.mlcube.name,
        layout_name(manifest),
        deploy_dir.display()
    );
    for c in &manifest.components {
        println!(
            "  {:<26} {:>10}  sha256 {}",
            c.file,
            human_size(c.size),
            c.sha256
        );
    }
}

fn layout_name(manifest: &Manifest) -> &'static str {
    match manifest.mlcube.layout {
        cubeship::mlcube::Layout::Mlcube => "mlcube.yaml",
        cubeship::mlcube::Layout::Container => "container_config.yaml",
    }
}

/// Breaks a medperf command before each `--…-file` option, with shell line continuations, so
/// it stays readable and still pastes as one command.
fn wrap_command(command: &str) -> String {
    if command.contains('\'') {
        // A quoted word may hold " --": leave such a command on one line.
        return command.to_string();
    }
    command
        .replace(" --", "\u{0}--")
        .split('\u{0}')
        .fold(String::new(), |mut out, part| {
            if out.is_empty() {
                out.push_str(part);
            } else if part.contains("-file ") {
                out.push_str(" \\\n    ");
                out.push_str(part);
            } else {
                out.push(' ');
                out.push_str(part);
            }
            out
        })
}

/// The table `publish` prints on stdout.
pub fn print_publish(report: &PublishReport, deploy_dir: &Path) {
    if let Some(cube) = &report.mlcube {
        println!("{} from {}", cube.name, deploy_dir.display());
    }
    for c in &report.components {
        println!();
        println!(
            "  {:<26} {:>10}  sha256 {}",
            c.file,
            human_size(c.size),
            c.sha256
        );
        println!("  {:<26} {:>10}  sha1   {}", "", "", c.sha1);
        for u in &c.uploads {
            let state = match (u.status, u.verified, &u.error) {
                (UploadStatus::Planned, _, _) => "planned   ",
                (_, _, Some(_)) | (UploadStatus::Failed, _, _) => "FAILED    ",
                (_, true, None) => "verified  ",
                (_, false, None) => "unverified",
            };
            let how = match u.status {
                UploadStatus::Uploaded => "uploaded",
                UploadStatus::Unchanged => "unchanged",
                UploadStatus::Failed => "failed",
                UploadStatus::Planned => "planned",
            };
            // A URL is shown as published only when it is in place and checked.
            let url = u.url.as_deref().unwrap_or("-");
            match &u.error {
                Some(error) => {
                    println!("    {state} {how:<9} {}  {}", u.destination, url);
                    for line in error.lines() {
                        println!("        {line}");
                    }
                }
                None => println!("    {state} {how:<9} {url}"),
            }
        }
    }
    println!();
    match &report.medperf_command {
        Some(command) => {
            if !report.verification {
                println!(
                    "Not verified (--no-verify): check the URLs with `cubeship verify` before registering."
                );
            }
            println!("Register with MedPerf:\n  {}", wrap_command(command));
        }
        None if report
            .components
            .iter()
            .any(|c| c.uploads.iter().any(|u| u.status == UploadStatus::Planned)) =>
        {
            println!("Dry run: nothing was uploaded.");
        }
        None => println!("Not every component is published and verified: no medperf command."),
    }
}

/// One `error:` line on stderr per upload that is not published (failed, or not verified),
/// naming the component, the destination and the cause.
pub fn print_failures(report: &PublishReport) {
    for component in &report.components {
        for upload in &component.uploads {
            if !upload.is_published(report.verification) {
                let why = upload.error.as_deref().unwrap_or("not verified");
                eprintln!("error: {} on {}: {why}", component.file, upload.destination);
            }
        }
    }
}

/// What `-q` prints of a publish report: the URL of every upload that is published, one per
/// line (errors went to stderr), so that scripts can read them.
pub fn print_urls(report: &PublishReport) {
    for component in &report.components {
        for upload in &component.uploads {
            if upload.is_published(report.verification)
                && let Some(url) = &upload.url
            {
                println!("{url}");
            }
        }
    }
}

/// What `-q` prints of `verify`: only the checks that failed, one line each.
pub fn print_failed_checks(results: &[CheckResult]) {
    for line in results.iter().filter(|r| !r.ok) {
        let fix = line
            .fixed_url
            .as_deref()
            .map(|f| format!(" (use instead: {f})"))
            .unwrap_or_default();
        println!("FAILED {}: {}{fix}", line.url, line.detail);
    }
}
