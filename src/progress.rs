//! What the user sees while work runs: logging on stderr and indicatif progress bars, drawn
//! only when stderr is a terminal and neither `--json`'s consumers nor `--quiet` object.

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::GlobalArgs;

/// How to talk to the user; derived once from the global flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub progress: bool,
}

impl Output {
    pub fn from_global(global: &GlobalArgs) -> Self {
        Output {
            json: global.json,
            quiet: global.quiet,
            progress: !global.no_progress && !global.quiet && std::io::stderr().is_terminal(),
        }
    }
}

/// Routes `tracing` to stderr: warnings by default, more with -v, errors only with -q.
pub fn init_logging(global: &GlobalArgs) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUBESHIP_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},aws_config=error,aws_smithy_runtime=warn,hyper=warn,reqwest=warn"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Progress bars for a set of transfers.
pub struct Bars {
    multi: Option<MultiProgress>,
}

impl Bars {
    pub fn new(output: Output) -> Self {
        Bars {
            multi: output
                .progress
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A bar for one transfer of `total` bytes.
    pub fn transfer(&self, label: &str, total: u64) -> Arc<dyn cubeship_provider::Progress> {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg:40!} {bytes:>10}/{total_bytes:<10} {bar:30} {binary_bytes_per_sec:>12} {eta:>4}",
                    )
                    .expect("valid template"),
                );
                bar.set_message(label.to_string());
                Arc::new(Bar(bar))
            }
            None => Arc::new(cubeship_provider::NoProgress),
        }
    }
}

impl Bars {
    /// A spinner for a step with no byte count (packaging, verifying); gone when dropped.
    pub fn step(&self, message: &str) -> Step {
        Step(self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_message(message.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        }))
    }
}

/// A running spinner (or nothing when progress is off).
pub struct Step(Option<ProgressBar>);

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

struct Bar(ProgressBar);

impl cubeship_provider::Progress for Bar {
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }

    fn restart(&self) {
        self.0.set_position(0);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
