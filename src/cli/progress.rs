//! What the user sees on stderr while work runs: logging, and the library's `Reporter` drawn
//! with indicatif, only when stderr is a terminal and neither `--json`'s consumers nor
//! `--quiet` object.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use cubeship::reporter::Reporter;
use cubeship_provider::{NoProgress, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::GlobalArgs;

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
        let mut directives = vec![
            level.to_string(),
            "hyper=warn".into(),
            "reqwest=warn".into(),
        ];
        for factory in cubeship::registry::FACTORIES {
            directives.extend(factory.log_directives.iter().map(|d| d.to_string()));
        }
        tracing_subscriber::EnvFilter::new(directives.join(","))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The `Reporter` of the command line: spinners and byte bars on a terminal, warnings on
/// stderr unless `--quiet`.
pub struct Bars {
    multi: Option<MultiProgress>,
    quiet: bool,
    steps: Mutex<HashMap<u64, ProgressBar>>,
    next_step: std::sync::atomic::AtomicU64,
}

impl Bars {
    pub fn new(output: Output) -> Self {
        Bars {
            multi: output
                .progress
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            quiet: output.quiet,
            steps: Mutex::new(HashMap::new()),
            next_step: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Removes every bar (before printing the interrupt message or the report).
    pub fn clear(&self) {
        for (_, bar) in self.steps.lock().expect("steps lock").drain() {
            bar.finish_and_clear();
        }
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}

impl Reporter for Bars {
    fn step_started(&self, message: &str) -> u64 {
        let Some(multi) = &self.multi else {
            return 0;
        };
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_message(message.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        let id = self
            .next_step
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.steps.lock().expect("steps lock").insert(id, bar);
        id
    }

    fn step_done(&self, id: u64) {
        if let Some(bar) = self.steps.lock().expect("steps lock").remove(&id) {
            bar.finish_and_clear();
        }
    }

    fn transfer_started(&self, label: &str, total: u64) -> Arc<dyn Progress> {
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
            None => Arc::new(NoProgress),
        }
    }

    fn warning(&self, message: &str) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(format!("warning: {message}"));
            }
            None => eprintln!("warning: {message}"),
        }
    }
}

struct Bar(ProgressBar);

impl Progress for Bar {
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
