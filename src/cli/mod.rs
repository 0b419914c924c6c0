//! The command line: argument parsing (clap, with provider flags and `NAME upload` subcommands
//! built from the registry), dispatch to the library, human or JSON output, and the mapping of
//! outcomes to exit codes (0 done, 1 failed, 2 bad input, 130 interrupted).

mod batch;
mod config;
mod help;
mod progress;
mod providers;
mod render;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use cubeship::destinations::{self, OpenOptions, Target};
use cubeship::error::{Failure, InputError, PackageError};
use cubeship::mlcube::{self, CubeType};
use cubeship::package::{self, PackageOptions};
use cubeship::publish::{self, HashKind, Item, PublishOptions};
use cubeship::report::PublishReport;
use cubeship::reporter::Step;
use cubeship::verify;
use cubeship_provider::{RetryPolicy, process_env};

use progress::{Bars, Output};

/// Exit codes, as documented in the README.
mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    /// Interrupted by Ctrl-C or a termination signal (128 + SIGINT, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Parser, Debug)]
#[command(
    name = "cubeship",
    version,
    about = "Package an MLCube and publish its parts to public storage for MedPerf, verified.",
    long_about = None,
    after_help = "Exit codes: 0 all done and verified; 1 an upload or verification failed; 2 bad input or configuration (nothing uploaded); 130 interrupted (unfinished uploads aborted)."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
struct GlobalArgs {
    /// Print one machine-readable JSON document on stdout and nothing else there.
    #[arg(long, global = true)]
    json: bool,
    /// Print less (errors only on stderr).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print more on stderr (-v: steps, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Never draw progress bars (they are drawn on stderr only when it is a terminal).
    #[arg(long, global = true)]
    no_progress: bool,
    /// Plan and print what would be uploaded where; upload nothing, change nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// How many uploads run at once.
    #[arg(long, global = true, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
}

/// The subcommands with fixed arguments; `cubeship NAME upload` comes from the registry.
#[derive(Subcommand, Debug)]
enum Command {
    /// Package an MLCube folder into its deploy folder (what MedPerf needs hosted).
    Package(PackageArgs),
    /// Publish an already packaged deploy folder.
    Publish(PublishArgs),
    /// Package an MLCube and publish it: the whole job in one command.
    PackageAndPublish(PackageAndPublishArgs),
    /// Download URLs as MedPerf will and check their hashes.
    Verify(VerifyArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args, Debug, Clone)]
struct CubeArgs {
    /// The MLCube folder (holds mlcube.yaml or container_config.yaml, and workspace/).
    mlcube: PathBuf,
    /// Where the deploy folder goes [default: <MLCUBE>/deploy].
    #[arg(long, value_name = "DIR")]
    deploy_dir: Option<PathBuf>,
    /// Also write one tarball of the deploy folder (for challenges that take a single file).
    #[arg(long, value_name = "FILE.tar.gz")]
    output: Option<PathBuf>,
    /// Check the tasks MedPerf requires for this cube type (without it: inferred, warnings only).
    #[arg(long = "type", value_parser = ["model", "metrics", "data-preparator"])]
    cube_type: Option<String>,
    /// The cube's name in object keys and in `medperf … --name` [default: the folder name].
    #[arg(long)]
    name: Option<String>,
    /// gzip level of the archives, 0 (store) to 9.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=9))]
    compression_level: u32,
    /// Container cubes of a file type: the image file to host [default: the one file in
    /// workspace/.image/].
    #[arg(long, value_name = "FILE", help_heading = "Container images")]
    image: Option<PathBuf>,
    /// Encrypt the image (DockerArchive/SingularityFile become Encrypted…) with a fresh key
    /// written next to the deploy folder; MedPerf decrypts it with gpg.
    #[arg(long, help_heading = "Container images")]
    encrypt: bool,
    /// The key file of an image you encrypted yourself, for the medperf command (it stays local).
    #[arg(long, value_name = "KEYFILE", help_heading = "Container images")]
    decryption_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct PackageArgs {
    #[command(flatten)]
    cube: CubeArgs,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Publishing")]
struct PublishSettings {
    /// Destination, repeatable (the forms are listed by `providers::with_destination_options`);
    /// without one, `to = [...]` of cubeship.toml.
    #[arg(long = "to", value_name = "DEST")]
    to: Vec<String>,
    /// Object key under the destination. Variables: {name} {sha256} {sha256_16} {sha1} {file} {role}.
    /// [default: {name}/{sha256_16}/{file}; {name}-{file} where names are flat]
    #[arg(long)]
    key_template: Option<String>,
    /// Replace an existing object that has other content (default: refuse, it may be registered).
    #[arg(long)]
    overwrite: bool,
    /// Skip the download check (the report then says "not verified").
    #[arg(long)]
    no_verify: bool,
    /// Hash printed in the medperf command: sha256 (MedPerf since late 2023) or sha1 (older).
    #[arg(long, value_parser = ["sha256", "sha1"], default_value = "sha256")]
    hash: String,
    /// DockerImage containers: do not look up the image's registry digest for --image-hash.
    #[arg(long)]
    no_image_digest: bool,
    /// Container cubes: the medperf command registers the container as OPERATIONAL.
    #[arg(long)]
    operational: bool,
}

#[derive(Args, Debug)]
struct PublishArgs {
    /// A deploy folder written by `cubeship package` (holds manifest.json).
    deploy_dir: PathBuf,
    #[command(flatten)]
    publish: PublishSettings,
}

#[derive(Args, Debug)]
struct PackageAndPublishArgs {
    #[command(flatten)]
    cube: CubeArgs,
    /// More MLCube folders, published in the same run with one combined report
    /// (`--deploy-dir`/`--output` then need `{name}`).
    #[arg(value_name = "MORE_MLCUBES")]
    more: Vec<PathBuf>,
    #[command(flatten)]
    publish: PublishSettings,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// A publish.json report, or one URL (`https://…` or MedPerf's `direct:https://…`).
    /// A URL is also read by the link doctor: share links, presigned URLs and HTML pages are
    /// explained and the URL MedPerf can download is shown.
    target: String,
    /// Expected sha256 (hex) of the URL's content (without a hash: only checks that MedPerf
    /// can download it).
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Expected sha1 (hex) of the URL's content (MedPerf before late 2023).
    #[arg(long, value_name = "HEX")]
    sha1: Option<String>,
    /// When a link fails and the link doctor derives a fixed URL, check that URL too.
    #[arg(long)]
    try_fixed: bool,
}

/// Options of every `<provider> upload FILE…` command.
#[derive(Args, Debug, Clone)]
struct UploadSettings {
    /// Files to upload, as they are (not packaged).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Replace an existing object that has other content.
    #[arg(long)]
    overwrite: bool,
    /// Skip the download check.
    #[arg(long)]
    no_verify: bool,
}

/// The whole command line: the fixed subcommands plus what the registry declares.
fn command() -> clap::Command {
    let command = Cli::command()
        .mut_subcommand("publish", providers::with_destination_options)
        .mut_subcommand("package-and-publish", providers::with_destination_options)
        .subcommands(providers::upload_subcommands(&config_options()))
        .subcommand(help::man_subcommand())
        .subcommand(config::subcommand());
    help::with_examples(command)
}

/// cubeship.toml's provider options, for the flags they make optional; a broken file is
/// reported where it is used, not while building the command line.
fn config_options() -> destinations::GivenOptions {
    config::load().map(|c| c.options).unwrap_or_default()
}

/// Parses arguments, runs, prints errors once with their cause chain, returns the exit code.
pub fn run() -> u8 {
    let matches = match command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    let global = match GlobalArgs::from_arg_matches(&matches) {
        Ok(global) => global,
        Err(e) => {
            let _ = e.print();
            return exit::USAGE;
        }
    };
    progress::init_logging(&global);
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
    let result = runtime.block_on(dispatch(&matches, global));
    // Dropping the runtime would wait for blocking work still running: after Ctrl-C during
    // `package-and-publish`, packaging (on a blocking thread) would go on to the end. Its
    // staging folder is removed by the next run instead.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            exit_code(&error)
        }
    }
}

/// The exit code for an error that reached `run` (the rule is docs/errors.md's).
fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<Interrupted>().is_some() {
        exit::INTERRUPTED
    } else if error.downcast_ref::<Failure>().is_some()
        || matches!(
            error.downcast_ref::<PackageError>(),
            Some(PackageError::Io(_))
        )
    {
        exit::FAILED
    } else {
        exit::USAGE
    }
}

async fn dispatch(matches: &clap::ArgMatches, global: GlobalArgs) -> anyhow::Result<u8> {
    // A bad CUBESHIP_*_TIMEOUT, CUBESHIP_RETRY_* or CUBESHIP_DOWNLOAD_CONNECTIONS is refused
    // before anything runs (the download and the providers would fall back to the defaults).
    cubeship_provider::Timeouts::from_env(&process_env())?;
    RetryPolicy::from_env(&process_env())?;
    cubeship_provider::ranged::connections_from_env(&process_env())?;
    if let Some((name, provider_matches)) = matches.subcommand()
        && let Some(factory) = destinations::factory_named(name)
    {
        let Some(("upload", upload_matches)) = provider_matches.subcommand() else {
            unreachable!("clap requires the upload subcommand");
        };
        return upload(factory, upload_matches, &global).await;
    }
    if let Some(("config", config_matches)) = matches.subcommand() {
        config::run(config_matches, global.json)?;
        return Ok(exit::OK);
    }
    if let Some(("man", man_matches)) = matches.subcommand() {
        help::man(command(), man_matches)?;
        return Ok(exit::OK);
    }
    let cli = Cli::from_arg_matches(matches)?;
    let output = Output::from_global(&global);
    match cli.command {
        Command::Package(args) => {
            let cube = load_cube(&args.cube, &global)?;
            let bars = Bars::new(output);
            let packaged = package_showing_progress(&cube, &package_options(&args.cube), &bars)?;
            if global.json {
                render::print_json(&packaged.manifest)?;
            } else if !global.quiet {
                render::print_manifest(&packaged.deploy_dir, &packaged.manifest);
                if let Some(output) = &args.cube.output {
                    println!("single tarball: {}", output.display());
                }
            }
            Ok(exit::OK)
        }
        Command::Publish(args) => {
            let sub = matches
                .subcommand_matches("publish")
                .expect("publish matches");
            publish::validate_key_template(args.publish.key_template.as_deref())?;
            let targets = open_destinations(&args.publish, sub).await?;
            let manifest = package::Manifest::load(&args.deploy_dir)?;
            if !global.dry_run {
                publish::preflight(&targets).await?;
            }
            let options = publish_options(&args.publish, &global)?;
            let bars = Bars::new(output);
            let report = interruptible(
                &targets,
                &bars,
                publish::publish(&args.deploy_dir, &manifest, &targets, &options, &bars),
            )
            .await??;
            finish(&report, &args.deploy_dir, &options, output, &bars)
        }
        Command::PackageAndPublish(args) => {
            let sub = matches
                .subcommand_matches("package-and-publish")
                .expect("package-and-publish matches");
            if !args.more.is_empty() {
                return batch::run(args, sub, &global, output).await;
            }
            let cube = load_cube(&args.cube, &global)?;
            package::check(&cube, &package_options(&args.cube))?;
            publish::validate_key_template(args.publish.key_template.as_deref())?;
            let targets = open_destinations(&args.publish, sub).await?;
            let options = publish_options(&args.publish, &global)?;
            let bars = Bars::new(output);
            if global.dry_run {
                // Keys need the hashes: package into a throw-away folder, touch nothing else.
                let scratch = scratch_dir(&cube.root)?;
                let mut package_options = package_options(&args.cube);
                package_options.deploy_dir = Some(scratch.join("deploy"));
                package_options.output = None;
                let result = async {
                    let packaged = package_showing_progress(&cube, &package_options, &bars)?;
                    let report = publish::publish(
                        &packaged.deploy_dir,
                        &packaged.manifest,
                        &targets,
                        &options,
                        &bars,
                    )
                    .await?;
                    finish(&report, &packaged.deploy_dir, &options, output, &bars)
                }
                .await;
                let _ = std::fs::remove_dir_all(&scratch);
                return result;
            }
            publish::preflight(&targets).await?;
            // Packaging, upload and verification overlap (src/overlap.rs); an interrupt
            // during any of them aborts what the destinations hold half-done.
            let bars = Arc::new(bars);
            let package_options = package_options(&args.cube);
            let (packaged, report) = interruptible(
                &targets,
                &bars,
                cubeship::overlap::package_and_publish(
                    cube,
                    package_options,
                    &targets,
                    &options,
                    bars.clone(),
                ),
            )
            .await??;
            finish(&report, &packaged.deploy_dir, &options, output, &bars)
        }
        Command::Verify(args) => {
            let checks =
                verify::checks_for(&args.target, args.sha256.as_deref(), args.sha1.as_deref())?;
            let bars = Bars::new(output);
            let results =
                verify::run_checks_reporting(&checks, &process_env(), &bars, args.try_fixed).await;
            bars.clear();
            if global.json {
                render::print_json(&results)?;
            } else if global.quiet {
                render::print_failed_checks(&results);
            } else {
                render::print_checks(&results);
            }
            Ok(if results.iter().all(|r| r.ok) {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "cubeship", &mut std::io::stdout());
            Ok(exit::OK)
        }
    }
}

/// `cubeship NAME upload FILE…`: each file under its own name, then verified.
async fn upload(
    factory: &'static cubeship_provider::ProviderFactory,
    matches: &clap::ArgMatches,
    global: &GlobalArgs,
) -> anyhow::Result<u8> {
    let settings = UploadSettings::from_arg_matches(matches)?;
    let items = settings
        .files
        .iter()
        .map(|f| Item::from_file(f))
        .collect::<Result<Vec<_>, _>>()?;
    let open = OpenOptions {
        given: providers::given(
            matches,
            factory.options.iter().chain(factory.upload_options),
        ),
        env: process_env(),
        file: config::load()?.options,
        retry: RetryPolicy::from_process_env(),
    };
    let target = destinations::open_upload(factory, items.len(), &open).await?;
    let options = PublishOptions {
        env: process_env(),
        key_template: Some("{file}".into()),
        overwrite: settings.overwrite,
        verify: !settings.no_verify,
        hash: HashKind::Sha256,
        image_digest: false,
        operational: false,
        dry_run: global.dry_run,
        jobs: global.jobs as usize,
        journal: None,
        staged: None,
    };
    let output = Output::from_global(global);
    let bars = Bars::new(output);
    let targets = [target];
    let report = interruptible(
        &targets,
        &bars,
        publish::upload_files(&items, &targets, &options, &bars),
    )
    .await??;
    finish(&report, Path::new("."), &options, output, &bars)
}

/// Runs `work` until it ends or the user interrupts (Ctrl-C, SIGTERM, SIGHUP): then every
/// destination aborts what it left half-done and the command exits with 130.
async fn interruptible<T>(
    targets: &[Target],
    bars: &Bars,
    work: impl Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::select! {
        result = work => Ok(result),
        _ = interrupted() => {
            bars.clear();
            eprintln!("interrupted: aborting unfinished uploads…");
            publish::abort_in_flight(targets).await;
            Err(Interrupted.into())
        }
    }
}

/// The user stopped the run during uploads; unfinished uploads were aborted.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "interrupted; unfinished uploads were aborted and nothing was reported as published",
        )
    }
}

impl std::error::Error for Interrupted {}

/// Resolves when the process is asked to stop.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hangup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hangup.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Prints the report and chooses the exit code.
fn finish(
    report: &PublishReport,
    deploy_dir: &Path,
    options: &PublishOptions,
    output: Output,
    bars: &Bars,
) -> anyhow::Result<u8> {
    bars.clear();
    if output.json {
        render::print_json(report)?;
    } else if output.quiet {
        render::print_urls(report);
    } else {
        render::print_publish(report, deploy_dir);
    }
    // The human table names each failure on stdout; with --json or -q stdout is for
    // programs, so each failed component is also named on stderr with its cause.
    if (output.json || output.quiet) && !options.dry_run {
        render::print_failures(report);
    }
    Ok(if options.dry_run || report.all_published() {
        exit::OK
    } else {
        exit::FAILED
    })
}

async fn open_destinations(
    settings: &PublishSettings,
    matches: &clap::ArgMatches,
) -> Result<Vec<Target>, InputError> {
    let file = config::load()?;
    let to = if settings.to.is_empty() {
        file.to.clone()
    } else {
        settings.to.clone()
    };
    if to.is_empty() {
        return Err(InputError::new("no destination: give --to DEST").hint(
            "or set default destinations with `to = [...]` in cubeship.toml (docs/configuration.md)",
        ));
    }
    let open = OpenOptions {
        given: providers::given_destination_options(matches),
        env: process_env(),
        file: file.options,
        retry: RetryPolicy::from_process_env(),
    };
    destinations::open_all(&to, &open).await
}

fn load_cube(args: &CubeArgs, global: &GlobalArgs) -> Result<mlcube::MlCube, InputError> {
    let cube_type = args
        .cube_type
        .as_deref()
        .map(str::parse::<CubeType>)
        .transpose()?;
    let cube = mlcube::load(&args.mlcube, cube_type, args.name.as_deref())?;
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
    bars: &Bars,
) -> Result<package::Packaged, PackageError> {
    let _step = Step::start(bars, &format!("packaging {}", cube.name));
    package::package_reporting(cube, options, bars)
}

fn package_options(args: &CubeArgs) -> PackageOptions {
    PackageOptions {
        deploy_dir: args.deploy_dir.clone(),
        output: args.output.clone(),
        archive: Some(cubeship::archive::ArchiveOptions {
            level: args.compression_level,
            ..Default::default()
        }),
        image: args.image.clone(),
        encrypt: args.encrypt,
        decryption_key: args.decryption_key.clone(),
    }
}

fn publish_options(
    settings: &PublishSettings,
    global: &GlobalArgs,
) -> Result<PublishOptions, InputError> {
    Ok(PublishOptions {
        env: process_env(),
        key_template: settings.key_template.clone(),
        overwrite: settings.overwrite,
        verify: !settings.no_verify,
        hash: settings.hash.parse()?,
        image_digest: !settings.no_image_digest,
        operational: settings.operational,
        dry_run: global.dry_run,
        jobs: global.jobs as usize,
        journal: None,
        staged: None,
    })
}

fn scratch_dir(root: &Path) -> Result<PathBuf, InputError> {
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
