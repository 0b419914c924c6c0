//! The command line: argument parsing (clap), dispatch to the library, human or JSON output,
//! and the mapping of outcomes to exit codes (0 done, 1 failed, 2 bad input).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::destinations::{self, DestinationArgs};
use crate::error::{InputError, exit};
use crate::mlcube::{self, CubeType};
use crate::package::{self, PackageOptions};
use crate::publish::{self, HashKind, PublishOptions};
use crate::report;
use crate::verify;

#[derive(Parser, Debug)]
#[command(
    name = "cubeship",
    version,
    about = "Package an MLCube and publish its parts to public storage for MedPerf, verified.",
    long_about = None,
    after_help = "Exit codes: 0 all done and verified; 1 an upload or verification failed; 2 bad input or configuration (nothing uploaded); 130 interrupted (unfinished uploads aborted)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Print one machine-readable JSON document on stdout and nothing else there.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print less (errors only on stderr).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more on stderr (-v: steps, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never draw progress bars (they are drawn on stderr only when it is a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Plan and print what would be uploaded where; upload nothing, change nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// How many uploads run at once.
    #[arg(long, global = true, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Package an MLCube folder into its deploy folder (what MedPerf needs hosted).
    Package(PackageArgs),
    /// Publish an already packaged deploy folder.
    Publish(PublishArgs),
    /// Package an MLCube and publish it: the whole job in one command.
    PackageAndPublish(PackageAndPublishArgs),
    /// Download URLs anonymously and check their hashes, as MedPerf will.
    Verify(VerifyArgs),
    /// Amazon S3 and S3-compatible stores, one step by hand.
    #[command(subcommand)]
    S3(destinations::s3::S3Command),
    /// Google Cloud Storage, one step by hand.
    #[command(subcommand)]
    Gcs(destinations::gcs::GcsCommand),
    /// GitHub release assets, one step by hand.
    #[command(subcommand)]
    Github(destinations::github::GithubCommand),
    /// Any server that accepts HTTP PUT (WebDAV, Artifactory, Nexus, presigned URLs).
    #[command(subcommand)]
    Http(destinations::http::HttpCommand),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug, Clone)]
pub struct CubeArgs {
    /// The MLCube folder (holds mlcube.yaml or container_config.yaml, and workspace/).
    pub mlcube: PathBuf,
    /// Where the deploy folder goes [default: <MLCUBE>/deploy].
    #[arg(long, value_name = "DIR")]
    pub deploy_dir: Option<PathBuf>,
    /// Also write one tarball of the deploy folder (for challenges that take a single file).
    #[arg(long, value_name = "FILE.tar.gz")]
    pub output: Option<PathBuf>,
    /// Check the tasks MedPerf requires for this cube type (without it: inferred, warnings only).
    #[arg(long = "type", value_enum)]
    pub cube_type: Option<CubeType>,
    /// The cube's name in object keys and in `medperf … --name` [default: the folder name].
    #[arg(long)]
    pub name: Option<String>,
    /// gzip level of the archives, 0 (store) to 9.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub compression_level: u32,
}

#[derive(Args, Debug)]
pub struct PackageArgs {
    #[command(flatten)]
    pub cube: CubeArgs,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Publishing")]
pub struct PublishSettings {
    /// Destination, repeatable: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, github://OWNER/REPO/TAG,
    /// https://HOST/PATH/ (HTTP PUT), dir:PATH (a local folder).
    #[arg(long = "to", value_name = "DEST", required = true)]
    pub to: Vec<String>,
    /// Object key under the destination. Variables: {name} {sha256} {sha256_16} {sha1} {file} {role}.
    /// [default: {name}/{sha256_16}/{file}; {name}-{file} where names are flat (GitHub)]
    #[arg(long)]
    pub key_template: Option<String>,
    /// Replace an existing object that has other content (default: refuse, it may be registered).
    #[arg(long)]
    pub overwrite: bool,
    /// Skip the anonymous download check (the report then says "not verified").
    #[arg(long)]
    pub no_verify: bool,
    /// Hash printed in the medperf command: sha256 (MedPerf since late 2023) or sha1 (older).
    #[arg(long, value_enum, default_value_t = HashKind::Sha256)]
    pub hash: HashKind,
    #[command(flatten)]
    pub destinations: DestinationArgs,
}

#[derive(Args, Debug)]
pub struct PublishArgs {
    /// A deploy folder written by `cubeship package` (holds manifest.json).
    pub deploy_dir: PathBuf,
    #[command(flatten)]
    pub publish: PublishSettings,
}

#[derive(Args, Debug)]
pub struct PackageAndPublishArgs {
    #[command(flatten)]
    pub cube: CubeArgs,
    #[command(flatten)]
    pub publish: PublishSettings,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A publish.json report, or one URL (then give --sha256 or --sha1).
    pub target: String,
    /// Expected sha256 (hex) of the URL's content.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Expected sha1 (hex) of the URL's content (MedPerf before late 2023).
    #[arg(long, value_name = "HEX")]
    pub sha1: Option<String>,
}

/// Parses arguments, runs, prints errors once with their cause chain, returns the exit code.
pub fn run() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    crate::progress::init_logging(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::FAILED;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            crate::error::exit_code(&error)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let global = cli.global;
    match cli.command {
        Command::Package(args) => {
            let cube = load_cube(&args.cube, &global)?;
            let packaged = package_showing_progress(&cube, &package_options(&args.cube), &global)?;
            if global.json {
                print_json(&packaged.manifest)?;
            } else if !global.quiet {
                report::print_manifest(&packaged.deploy_dir, &packaged.manifest);
                if let Some(output) = &args.cube.output {
                    println!("single tarball: {}", output.display());
                }
            }
            Ok(exit::OK)
        }
        Command::Publish(args) => {
            publish::validate_key_template(args.publish.key_template.as_deref())?;
            let targets =
                destinations::build_all(&args.publish.to, &args.publish.destinations).await?;
            let manifest = package::Manifest::load(&args.deploy_dir)?;
            if !global.dry_run {
                publish::preflight(&targets).await?;
            }
            publish::publish(
                &args.deploy_dir,
                &manifest,
                &targets,
                &publish_options(&args.publish, &global),
            )
            .await
        }
        Command::PackageAndPublish(args) => {
            let cube = load_cube(&args.cube, &global)?;
            publish::validate_key_template(args.publish.key_template.as_deref())?;
            let targets =
                destinations::build_all(&args.publish.to, &args.publish.destinations).await?;
            let options = publish_options(&args.publish, &global);
            if global.dry_run {
                // Keys need the hashes: package into a throw-away folder, touch nothing else.
                let scratch = tempdir_near(&cube.root)?;
                let mut package_options = package_options(&args.cube);
                package_options.deploy_dir = Some(scratch.join("deploy"));
                package_options.output = None;
                let packaged = package_showing_progress(&cube, &package_options, &global)?;
                let code =
                    publish::publish(&packaged.deploy_dir, &packaged.manifest, &targets, &options)
                        .await;
                let _ = std::fs::remove_dir_all(&scratch);
                return code;
            }
            publish::preflight(&targets).await?;
            let packaged = package_showing_progress(&cube, &package_options(&args.cube), &global)?;
            publish::publish(&packaged.deploy_dir, &packaged.manifest, &targets, &options).await
        }
        Command::Verify(args) => {
            verify::run_command(
                &args.target,
                args.sha256.as_deref(),
                args.sha1.as_deref(),
                &global,
            )
            .await
        }
        Command::S3(command) => destinations::s3::run(command, &global).await,
        Command::Gcs(command) => destinations::gcs::run(command, &global).await,
        Command::Github(command) => destinations::github::run(command, &global).await,
        Command::Http(command) => destinations::http::run(command, &global).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "cubeship",
                &mut std::io::stdout(),
            );
            Ok(exit::OK)
        }
    }
}

fn load_cube(args: &CubeArgs, global: &GlobalArgs) -> Result<mlcube::MlCube, InputError> {
    let cube = mlcube::load(&args.mlcube, args.cube_type, args.name.as_deref())?;
    if !global.quiet {
        for warning in &cube.warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok(cube)
}

fn package_showing_progress(
    cube: &mlcube::MlCube,
    options: &PackageOptions,
    global: &GlobalArgs,
) -> Result<package::Packaged, InputError> {
    let bars = crate::progress::Bars::new(crate::progress::Output::from_global(global));
    let _step = bars.step(&format!("packaging {}", cube.name));
    package::package(cube, options)
}

fn package_options(args: &CubeArgs) -> PackageOptions {
    PackageOptions {
        deploy_dir: args.deploy_dir.clone(),
        output: args.output.clone(),
        archive: Some(crate::archive::ArchiveOptions {
            level: args.compression_level,
            ..Default::default()
        }),
    }
}

fn publish_options(settings: &PublishSettings, global: &GlobalArgs) -> PublishOptions {
    PublishOptions {
        key_template: settings.key_template.clone(),
        overwrite: settings.overwrite,
        verify: !settings.no_verify,
        hash: settings.hash,
        dry_run: global.dry_run,
        jobs: global.jobs as usize,
        output: crate::progress::Output::from_global(global),
    }
}

fn tempdir_near(root: &std::path::Path) -> Result<PathBuf, InputError> {
    let base = std::env::temp_dir().join(format!("cubeship-dry-run-{}", std::process::id()));
    std::fs::create_dir_all(&base).map_err(|e| {
        InputError::new(format!(
            "cannot create a scratch folder {} for the dry run of {}: {e}",
            base.display(),
            root.display()
        ))
    })?;
    Ok(base)
}

/// Prints one JSON document on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}
