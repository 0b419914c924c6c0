//! `cubeship package-and-publish DIR1 DIR2 …`: many MLCubes in one run, for challenge
//! organisers. The destinations are opened and preflighted once (one connection pool each);
//! each cube is then loaded, packaged and published in turn, and a cube that fails (bad folder,
//! packaging, planning) is recorded and the next one goes on. One combined report
//! (`cubeship::batch::BatchReport`); the exit code is 0 only when every cube is published.

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use cubeship::batch::{BatchEntry, BatchReport, per_cube_path};
use cubeship::destinations::Target;
use cubeship::error::InputError;
use cubeship::publish::{self, PublishOptions};

use super::progress::{Bars, Output};
use super::{
    CubeArgs, GlobalArgs, PackageAndPublishArgs, exit, interruptible, load_cube, open_destinations,
    package_options, package_showing_progress, publish_options, render, scratch_dir,
};

/// Checks the per-cube flags: `--name` names one cube; `--deploy-dir` and `--output` must say
/// `{name}` so that each cube gets its own.
fn check_flags(cube: &CubeArgs) -> Result<(), InputError> {
    if let Some(name) = &cube.name {
        return Err(InputError::new(format!(
            "--name {name} names one MLCube; with several, each is named after its folder"
        )));
    }
    for (flag, path) in [
        ("--deploy-dir", &cube.deploy_dir),
        ("--output", &cube.output),
    ] {
        if let Some(path) = path
            && !path.to_string_lossy().contains("{name}")
        {
            return Err(InputError::new(format!(
                "{flag} {}: with several MLCubes it must contain {{name}}, so that each cube gets its own",
                path.display()
            ))
            .hint(format!("for example {flag} dist/{{name}}{}", if flag == "--output" { ".tar.gz" } else { "" })));
        }
    }
    Ok(())
}

/// Runs the batch of `args.cube.mlcube` and `args.more`.
pub async fn run(
    args: PackageAndPublishArgs,
    matches: &ArgMatches,
    global: &GlobalArgs,
    output: Output,
) -> anyhow::Result<u8> {
    check_flags(&args.cube)?;
    let cubes: Vec<PathBuf> = std::iter::once(args.cube.mlcube.clone())
        .chain(args.more.iter().cloned())
        .collect();
    publish::validate_key_template(args.publish.key_template.as_deref())?;
    let targets = open_destinations(&args.publish, matches).await?;
    let options = publish_options(&args.publish, global)?;
    if !global.dry_run {
        publish::preflight(&targets).await?;
    }
    let scratch = if global.dry_run {
        Some(scratch_dir(&args.cube.mlcube)?)
    } else {
        None
    };
    let bars = Bars::new(output);
    let work = async {
        let mut done = Vec::new();
        for (index, path) in cubes.iter().enumerate() {
            let scratch = scratch.as_ref().map(|s| s.join(index.to_string()));
            done.push(
                one(
                    path,
                    &args.cube,
                    &targets,
                    &options,
                    global,
                    &bars,
                    scratch.as_deref(),
                )
                .await,
            );
        }
        done
    };
    let result = interruptible(&targets, &bars, work).await;
    if let Some(scratch) = &scratch {
        let _ = std::fs::remove_dir_all(scratch);
    }
    let done = result?;
    bars.clear();
    let nothing_started = done.iter().all(|(e, _)| e.report.is_none());
    let report = BatchReport::new(done.iter().map(|(e, _)| e.clone()).collect());
    if output.json {
        render::print_json(&report)?;
    } else if output.quiet {
        for (entry, _) in &done {
            match (&entry.report, &entry.error) {
                (Some(report), _) => render::print_urls(report),
                (None, Some(error)) => eprintln!("error: {}: {error}", entry.path),
                (None, None) => {}
            }
        }
    } else {
        print_batch(&done);
    }
    Ok(if report.all_published {
        exit::OK
    } else if nothing_started {
        exit::USAGE
    } else {
        exit::FAILED
    })
}

/// Loads, packages and publishes one cube of the batch; never fails, the entry says how it went.
async fn one(
    path: &Path,
    shared: &CubeArgs,
    targets: &[Target],
    options: &PublishOptions,
    global: &GlobalArgs,
    bars: &Bars,
    scratch: Option<&Path>,
) -> (BatchEntry, PathBuf) {
    let mut entry = BatchEntry {
        path: path.display().to_string(),
        name: None,
        published: false,
        error: None,
        medperf_command: None,
        report: None,
    };
    let mut args = shared.clone();
    args.mlcube = path.to_path_buf();
    let cube = match load_cube(&args, global) {
        Ok(cube) => cube,
        Err(e) => {
            entry.error = Some(e.to_string());
            return (entry, PathBuf::new());
        }
    };
    entry.name = Some(cube.name.clone());
    let mut package = package_options(&args);
    package.deploy_dir = args
        .deploy_dir
        .as_deref()
        .and_then(|t| per_cube_path(t, &cube.name));
    package.output = args
        .output
        .as_deref()
        .and_then(|t| per_cube_path(t, &cube.name));
    if let Some(scratch) = scratch {
        package.deploy_dir = Some(scratch.join("deploy"));
        package.output = None;
    }
    let result = async {
        let packaged = package_showing_progress(&cube, &package, bars)?;
        let report = publish::publish(
            &packaged.deploy_dir,
            &packaged.manifest,
            targets,
            options,
            bars,
        )
        .await?;
        anyhow::Ok((report, packaged.deploy_dir))
    }
    .await;
    match result {
        Ok((report, deploy_dir)) => {
            entry.published = options.dry_run || report.all_published();
            entry.medperf_command = report.medperf_command.clone();
            entry.report = Some(report);
            (entry, deploy_dir)
        }
        Err(e) => {
            entry.error = Some(format!("{e:#}"));
            (entry, PathBuf::new())
        }
    }
}

/// Each cube's table, then one line per cube.
fn print_batch(done: &[(BatchEntry, PathBuf)]) {
    for (entry, deploy_dir) in done {
        println!("=== {}", entry.path);
        match (&entry.report, &entry.error) {
            (Some(report), _) => render::print_publish(report, deploy_dir),
            (None, Some(error)) => println!("error: {error}"),
            (None, None) => {}
        }
        println!();
    }
    let published = done.iter().filter(|(e, _)| e.published).count();
    println!(
        "{published} of {} MLCubes published{}",
        done.len(),
        if published == done.len() { "" } else { ":" }
    );
    for (entry, _) in done.iter().filter(|(e, _)| !e.published) {
        let why = entry
            .error
            .as_deref()
            .and_then(|e| e.lines().next())
            .unwrap_or("an upload or verification failed");
        println!("  FAILED  {}: {why}", entry.path);
    }
}
