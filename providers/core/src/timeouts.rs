//! Timeouts about progress, never about size: how long to wait for a connection, how long a
//! request body may stall with no byte moving, and how long the server may take to answer
//! once everything was sent. A 10 GiB upload over a slow but working link never times out; a
//! link that stops moving fails within the idle timeout, and the retry policy takes over.
//!
//! The values come from `CUBESHIP_CONNECT_TIMEOUT`, `CUBESHIP_IDLE_TIMEOUT` and
//! `CUBESHIP_RESPONSE_TIMEOUT` (seconds, fractions allowed), else the defaults.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{EnvLookup, Error, ErrorKind, InputError, Result};

/// Seconds to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT_ENV: &str = "CUBESHIP_CONNECT_TIMEOUT";
/// Seconds a transfer may go without a byte moving (upload body or download body).
pub const IDLE_TIMEOUT_ENV: &str = "CUBESHIP_IDLE_TIMEOUT";
/// Seconds the server may take to start answering once the request was sent.
pub const RESPONSE_TIMEOUT_ENV: &str = "CUBESHIP_RESPONSE_TIMEOUT";

/// The three progress timeouts every network step uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Connection set-up (TCP and TLS).
    pub connect: Duration,
    /// No byte moved in either direction of a transfer for this long: the link is stalled.
    pub idle: Duration,
    /// Time to the response headers, counted from the end of the request body.
    pub response: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            idle: Duration::from_secs(120),
            response: Duration::from_secs(300),
        }
    }
}

impl Timeouts {
    /// Reads the three variables from `env`; a value that is not a positive number of seconds
    /// is an input error naming the variable.
    pub fn from_env(env: &EnvLookup) -> std::result::Result<Self, InputError> {
        let mut timeouts = Timeouts::default();
        for (var, slot) in [
            (CONNECT_TIMEOUT_ENV, &mut timeouts.connect),
            (IDLE_TIMEOUT_ENV, &mut timeouts.idle),
            (RESPONSE_TIMEOUT_ENV, &mut timeouts.response),
        ] {
            let Some(raw) = env(var).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            match raw.trim().parse::<f64>() {
                Ok(seconds) if seconds > 0.0 && seconds.is_finite() && seconds < 1e9 => {
                    *slot = Duration::from_secs_f64(seconds);
                }
                _ => {
                    return Err(InputError::new(format!(
                        "{var}={raw}: expected a positive number of seconds"
                    ))
                    .hint(format!("set {var} to e.g. 60, or unset it for the default")));
                }
            }
        }
        Ok(timeouts)
    }

    /// The process environment's timeouts, or the defaults where a value is bad (the CLI
    /// checks the variables with `from_env` before anything runs).
    pub fn from_process_env() -> Self {
        Self::from_env(&crate::process_env()).unwrap_or_default()
    }

    /// How often a watch looks at the clock: a fraction of the shortest timeout.
    fn tick(&self) -> Duration {
        (self.idle.min(self.response) / 8).clamp(Duration::from_millis(5), Duration::from_secs(1))
    }
}

#[derive(Debug)]
struct WatchState {
    last_progress: Instant,
    sent: u64,
    finished_at: Option<Instant>,
}

/// Watches one request body: told of every chunk handed to the connection, it lets
/// `within_timeouts` tell a slow transfer (bytes still moving) from a stalled one.
#[derive(Clone, Debug)]
pub struct BodyWatch {
    expected: u64,
    state: Arc<Mutex<WatchState>>,
}

impl BodyWatch {
    /// A watch for a body of `expected` bytes, starting now.
    pub fn new(expected: u64) -> Self {
        let now = Instant::now();
        BodyWatch {
            expected,
            state: Arc::new(Mutex::new(WatchState {
                last_progress: now,
                sent: 0,
                finished_at: (expected == 0).then_some(now),
            })),
        }
    }

    /// `bytes` more were handed to the connection.
    pub fn advance(&self, bytes: u64) {
        let now = Instant::now();
        let mut state = self.state.lock().expect("watch lock");
        state.last_progress = now;
        state.sent += bytes;
        if state.sent >= self.expected && state.finished_at.is_none() {
            state.finished_at = Some(now);
        }
    }

    /// The body ended (its stream returned its last chunk).
    pub fn finish(&self) {
        let mut state = self.state.lock().expect("watch lock");
        if state.finished_at.is_none() {
            state.finished_at = Some(Instant::now());
        }
    }

    /// Bytes handed to the connection so far.
    pub fn sent(&self) -> u64 {
        self.state.lock().expect("watch lock").sent
    }

    /// Why the transfer should be given up now, if it should.
    fn expired(&self, timeouts: &Timeouts) -> Option<String> {
        let state = self.state.lock().expect("watch lock");
        match state.finished_at {
            None if state.last_progress.elapsed() >= timeouts.idle => Some(format!(
                "the upload stalled: no byte moved for {:.1}s after {} of {} bytes (idle timeout, {IDLE_TIMEOUT_ENV})",
                timeouts.idle.as_secs_f64(),
                state.sent,
                self.expected
            )),
            Some(at) if at.elapsed() >= timeouts.response => Some(format!(
                "no answer {:.1}s after the whole body was sent (response timeout, {RESPONSE_TIMEOUT_ENV})",
                timeouts.response.as_secs_f64()
            )),
            _ => None,
        }
    }
}

/// Runs `request` (one HTTP exchange) under the progress timeouts: with a `watch`, it fails
/// when the body stalls for `idle` or the answer takes `response` after the body's end;
/// without one (no body), when the answer takes `response`. Such a failure is a retryable
/// transport error naming `what`.
pub async fn within_timeouts<T>(
    request: impl Future<Output = Result<T>>,
    watch: Option<&BodyWatch>,
    timeouts: &Timeouts,
    what: &str,
) -> Result<T> {
    let stalled = |why: String| {
        Err(Error::new(ErrorKind::Transport, format!("{what}: {why}")).retryable(true))
    };
    let Some(watch) = watch else {
        return match tokio::time::timeout(timeouts.response, request).await {
            Ok(result) => result,
            Err(_) => stalled(format!(
                "no answer within {:.1}s (response timeout, {RESPONSE_TIMEOUT_ENV})",
                timeouts.response.as_secs_f64()
            )),
        };
    };
    tokio::pin!(request);
    let mut ticker = tokio::time::interval(timeouts.tick());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            result = &mut request => return result,
            _ = ticker.tick() => {
                if let Some(why) = watch.expired(timeouts) {
                    return stalled(why);
                }
            }
        }
    }
}

/// Waits for the next item of a download under the idle timeout.
pub async fn next_within_idle<T>(
    next: impl Future<Output = T>,
    timeouts: &Timeouts,
    what: &str,
) -> Result<T> {
    tokio::time::timeout(timeouts.idle, next)
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Transport,
                format!(
                    "{what}: the download stalled: no byte for {:.1}s (idle timeout, {IDLE_TIMEOUT_ENV})",
                    timeouts.idle.as_secs_f64()
                ),
            )
            .retryable(true)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::env_from as env;

    #[test]
    fn variables_set_the_timeouts_and_bad_values_are_refused() {
        let t = Timeouts::from_env(&env(&[(IDLE_TIMEOUT_ENV, "0.5")])).unwrap();
        assert_eq!(t.idle, Duration::from_millis(500));
        assert_eq!(t.connect, Timeouts::default().connect);
        for bad in ["0", "-1", "soon", "inf"] {
            let pairs: &'static [(&'static str, &'static str)] =
                Box::leak(Box::new([(RESPONSE_TIMEOUT_ENV, bad)]));
            let err = Timeouts::from_env(&env(pairs)).unwrap_err();
            assert!(err.to_string().contains(RESPONSE_TIMEOUT_ENV), "{err}");
        }
    }

    #[test]
    fn a_watch_tells_a_stall_from_a_slow_answer() {
        let timeouts = Timeouts {
            connect: Duration::from_secs(1),
            idle: Duration::from_secs(3600),
            response: Duration::from_secs(3600),
        };
        let watch = BodyWatch::new(10);
        assert!(watch.expired(&timeouts).is_none());
        let zero = Timeouts {
            idle: Duration::ZERO,
            ..timeouts
        };
        assert!(watch.expired(&zero).unwrap().contains("stalled"));
        watch.advance(10);
        assert!(watch.expired(&zero).is_none(), "the body is complete");
        let no_answer = Timeouts {
            response: Duration::ZERO,
            ..timeouts
        };
        assert!(watch.expired(&no_answer).unwrap().contains("no answer"));
    }
}
