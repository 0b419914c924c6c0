//! The one retry policy: bounded attempts, exponential backoff with full jitter, only for
//! retryable errors, honouring a server's `Retry-After`.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::Error;

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
