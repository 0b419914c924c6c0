//! The one retry policy: bounded attempts, exponential backoff with full jitter, only for
//! retryable errors, honouring a server's `Retry-After`. `CUBESHIP_RETRY_MAX_ATTEMPTS` and
//! `CUBESHIP_RETRY_BASE_DELAY` change its bounds (tests shorten the backoff with them).

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::{EnvLookup, Error, InputError};

/// Total attempts of one operation, the first included (a whole number, at least 1).
pub const MAX_ATTEMPTS_ENV: &str = "CUBESHIP_RETRY_MAX_ATTEMPTS";
/// Seconds: the first backoff's upper bound (fractions allowed; later ones double).
pub const BASE_DELAY_ENV: &str = "CUBESHIP_RETRY_BASE_DELAY";

/// Bounded attempts with exponential backoff and full jitter, for retryable errors only.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    /// The first backoff's upper bound.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// Longest `Retry-After` we agree to wait; a longer one fails the operation.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `CUBESHIP_RETRY_MAX_ATTEMPTS` and `CUBESHIP_RETRY_BASE_DELAY`
    /// from `env` where set; a bad value is an input error naming the variable.
    pub fn from_env(env: &EnvLookup) -> std::result::Result<Self, InputError> {
        let mut policy = RetryPolicy::default();
        let set = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        if let Some(raw) = set(MAX_ATTEMPTS_ENV) {
            policy.max_attempts = match raw.trim().parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(InputError::new(format!(
                        "{MAX_ATTEMPTS_ENV}={raw}: expected a whole number of attempts from 1 to 100"
                    ))
                    .hint(format!(
                        "set {MAX_ATTEMPTS_ENV} to e.g. 5, or unset it for the default"
                    )));
                }
            };
        }
        if let Some(raw) = set(BASE_DELAY_ENV) {
            policy.base_delay = match raw.trim().parse::<f64>() {
                Ok(seconds) if (0.0..=600.0).contains(&seconds) => Duration::from_secs_f64(seconds),
                _ => {
                    return Err(InputError::new(format!(
                        "{BASE_DELAY_ENV}={raw}: expected a number of seconds from 0 to 600"
                    ))
                    .hint(format!(
                        "set {BASE_DELAY_ENV} to e.g. 0.25, or unset it for the default"
                    )));
                }
            };
            policy.max_delay = policy.max_delay.max(policy.base_delay);
        }
        Ok(policy)
    }

    /// The process environment's policy, or the default where a value is bad (the CLI checks
    /// the variables with `from_env` before anything runs).
    pub fn from_process_env() -> Self {
        Self::from_env(&crate::process_env()).unwrap_or_default()
    }

    /// No retries: for tests and for callers that retry at a higher level.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1) after `error`.
    pub fn delay(&self, attempt: u32, error: &Error) -> Option<Duration> {
        if !error.retryable || attempt >= self.max_attempts {
            return None;
        }
        if let Some(after) = error.retry_after {
            return (after <= self.max_retry_after).then_some(after);
        }
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.max_delay);
        let jittered = rand::rng().random_range(0..=exponential.as_millis() as u64);
        Some(Duration::from_millis(
            jittered.max(self.base_delay.as_millis() as u64 / 4),
        ))
    }

    /// Runs `operation` until it succeeds, fails with a non-retryable error, or the attempts
    /// are spent. `what` names the operation in logs.
    pub async fn run<T, F, Fut>(&self, what: &str, mut operation: F) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut attempt = 1;
        loop {
            match operation(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) => match self.delay(attempt, &error) {
                    Some(wait) => {
                        tracing::warn!(
                            "{what}: attempt {attempt} failed ({error}); retrying in {:.1}s",
                            wait.as_secs_f64()
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => {
                        return Err(if attempt > 1 {
                            error.context(format!("after {attempt} attempts"))
                        } else {
                            error
                        });
                    }
                },
            }
        }
    }
}

impl RetryPolicy {
    /// `run` for a transfer that starts again from byte 0 on every attempt: `progress` goes
    /// back to zero before each retry, so bars and byte counts never exceed the file.
    pub async fn run_transfer<T, F, Fut>(
        &self,
        what: &str,
        progress: &dyn crate::Progress,
        mut operation: F,
    ) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.run(what, |attempt| {
            if attempt > 1 {
                progress.restart();
            }
            operation(attempt)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            max_retry_after: Duration::from_millis(50),
        }
    }

    #[tokio::test]
    async fn retries_retryable_errors_up_to_the_bound() {
        let calls = AtomicU32::new(0);
        let result: Result<(), Error> = fast()
            .run("op", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::from_status(503, "busy"))
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(result.unwrap_err().message.contains("after 3 attempts"));
    }

    #[tokio::test]
    async fn does_not_retry_permanent_errors() {
        let calls = AtomicU32::new(0);
        let result: Result<(), Error> = fast()
            .run("op", |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::from_status(403, "denied"))
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(result.unwrap_err().kind, ErrorKind::PermissionDenied);
    }

    #[tokio::test]
    async fn succeeds_after_a_transient_failure() {
        let value = fast()
            .run("op", |attempt| async move {
                if attempt < 2 {
                    Err(Error::from_status(500, "oops"))
                } else {
                    Ok(attempt)
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 2);
    }

    #[test]
    fn variables_set_the_bounds_and_bad_values_are_refused() {
        let policy = RetryPolicy::from_env(&crate::env_from(&[
            (MAX_ATTEMPTS_ENV, "3"),
            (BASE_DELAY_ENV, "0.01"),
        ]))
        .unwrap();
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(policy.base_delay, Duration::from_millis(10));
        for (var, bad) in [
            (MAX_ATTEMPTS_ENV, "0"),
            (MAX_ATTEMPTS_ENV, "many"),
            (BASE_DELAY_ENV, "-1"),
            (BASE_DELAY_ENV, "soon"),
        ] {
            let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(var, bad)]));
            let err = RetryPolicy::from_env(&crate::env_from(pairs)).unwrap_err();
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn a_retry_after_longer_than_the_cap_is_not_waited_for() {
        let policy = fast();
        let short =
            Error::from_status(429, "slow").with_retry_after(Some(Duration::from_millis(10)));
        assert_eq!(policy.delay(1, &short), Some(Duration::from_millis(10)));
        let long =
            Error::from_status(429, "slow").with_retry_after(Some(Duration::from_secs(3600)));
        assert_eq!(policy.delay(1, &long), None);
    }
}
