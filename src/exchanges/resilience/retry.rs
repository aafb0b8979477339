//! Retry with exponential backoff and *full* jitter (AWS architecture blog, "Exponential
//! Backoff And Jitter"): the delay before retry `n` is uniform in `[0, min(max, base·2ⁿ⁻¹)]`,
//! which spreads a herd of clients better than equal or decorrelated jitter.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::RetryConfig;
use crate::exchanges::ExchangeError;

/// How one attempt failed, as far as the retry loop cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptFailure {
    /// The request did not complete within the per-request timeout.
    Timeout,
    /// Transport failure (connect refused, reset, TLS).
    Connect(String),
    /// HTTP 429, with the server's Retry-After already converted to a duration.
    RateLimited {
        /// Server-requested wait, if any.
        retry_after: Option<Duration>,
    },
    /// HTTP 5xx.
    Server {
        /// The status code.
        status: u16,
        /// Its message, truncated.
        message: String,
        /// Server-requested wait, if any (some 503s carry Retry-After).
        retry_after: Option<Duration>,
    },
    /// Anything else: not retried (auth, validation, malformed body).
    Fatal(ExchangeError),
}

impl AttemptFailure {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Retry settings for one exchange plus its jitter source.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in total, the first included (≥ 1).
    pub max_attempts: u32,
    /// Cap of the first backoff.
    pub base_delay: Duration,
    /// Upper bound of any backoff; a Retry-After longer than this gives up at once rather
    /// than sleeping past the cycle budget.
    pub max_delay: Duration,
    rng: Arc<Mutex<StdRng>>,
}

impl RetryPolicy {
    /// A policy with an entropy-seeded jitter source.
    pub fn new(max_attempts: u32, base_delay: Duration, max_delay: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base_delay,
            max_delay,
            rng: Arc::new(Mutex::new(StdRng::from_entropy())),
        }
    }

    /// Same policy with a seeded jitter source, so tests see a repeatable sequence.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        self
    }

    /// From `[retry]`.
    pub fn from_config(cfg: &RetryConfig) -> Self {
        Self::new(cfg.max_attempts, cfg.base_delay, cfg.max_delay)
    }

    /// The wait before retry number `retry` (1 = the first retry), drawing jitter.
    pub fn next_delay(&self, retry: u32) -> Duration {
        // A poisoned lock only means another thread panicked mid-draw; the RNG state is
        // still a valid RNG state, so keep using it.
        let unit: f64 = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            rng.gen_range(0.0..=1.0)
        };
        full_jitter_delay(self.base_delay, self.max_delay, retry, unit)
    }
}

/// `min(max, base·2^(retry−1))`, saturating.
pub fn backoff_cap(base: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

/// Full jitter: `unit ∈ [0, 1]` scales the cap. Pure, so the sequence is testable.
pub fn full_jitter_delay(base: Duration, max: Duration, retry: u32, unit: f64) -> Duration {
    backoff_cap(base, max, retry).mul_f64(unit.clamp(0.0, 1.0))
}

/// Runs `attempt` until it succeeds, fails fatally, or the policy gives up. Each attempt
/// gets `timeout`. Returns the value and the number of attempts made.
pub async fn run_with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    timeout: Duration,
    attempt: F,
) -> Result<(T, u32), ExchangeError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, AttemptFailure>>,
{
    run_paced_with_retry(policy, timeout, || std::future::ready(()), attempt).await
}

/// [`run_with_retry`] with `pace` awaited before every attempt, *outside* the per-request
/// timeout: a client-side rate limiter that makes a request wait must not turn that wait
/// into a timeout blamed on the server.
pub async fn run_paced_with_retry<T, P, PFut, F, Fut>(
    policy: &RetryPolicy,
    timeout: Duration,
    mut pace: P,
    mut attempt: F,
) -> Result<(T, u32), ExchangeError>
where
    P: FnMut() -> PFut,
    PFut: Future<Output = ()>,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, AttemptFailure>>,
{
    let mut n = 0;
    loop {
        n += 1;
        pace().await;
        let failure = match tokio::time::timeout(timeout, attempt(n)).await {
            Ok(Ok(value)) => return Ok((value, n)),
            Ok(Err(failure)) => failure,
            Err(_elapsed) => AttemptFailure::Timeout,
        };
        if let AttemptFailure::Fatal(err) = failure {
            return Err(err);
        }
        let retry_after = failure.retry_after();
        let server_wait_too_long = retry_after.is_some_and(|d| d > policy.max_delay);
        if n >= policy.max_attempts || server_wait_too_long {
            return Err(give_up(failure, n, timeout));
        }
        let delay = retry_after.unwrap_or_else(|| policy.next_delay(n));
        tracing::debug!(attempt = n, delay_ms = delay.as_millis() as u64, "retrying");
        tokio::time::sleep(delay).await;
    }
}

fn give_up(failure: AttemptFailure, attempts: u32, timeout: Duration) -> ExchangeError {
    match failure {
        AttemptFailure::Timeout => ExchangeError::Timeout {
            after_ms: timeout.as_millis() as u64,
            attempts,
        },
        AttemptFailure::Connect(message) => ExchangeError::Connect { message, attempts },
        AttemptFailure::RateLimited { retry_after } => ExchangeError::RateLimited {
            retry_after_ms: retry_after.map(|d| d.as_millis() as u64),
            attempts,
        },
        AttemptFailure::Server {
            status, message, ..
        } => ExchangeError::Status {
            status,
            message,
            attempts,
        },
        AttemptFailure::Fatal(err) => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn backoff_cap_doubles_then_saturates_at_max() {
        let caps: Vec<_> = (1..=7)
            .map(|r| backoff_cap(MS(100), MS(2000), r).as_millis())
            .collect();
        assert_eq!(caps, vec![100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff_cap(MS(100), MS(2000), 200), MS(2000));
    }

    #[test]
    fn full_jitter_spans_zero_to_cap() {
        assert_eq!(full_jitter_delay(MS(100), MS(2000), 3, 0.0), MS(0));
        assert_eq!(full_jitter_delay(MS(100), MS(2000), 3, 1.0), MS(400));
        assert_eq!(full_jitter_delay(MS(100), MS(2000), 3, 0.5), MS(200));
    }

    #[test]
    fn seeded_policy_repeats_its_delays_and_stays_under_the_cap() {
        let a = RetryPolicy::new(5, MS(100), MS(2000)).with_seed(7);
        let b = RetryPolicy::new(5, MS(100), MS(2000)).with_seed(7);
        for retry in 1..=6 {
            let (da, db) = (a.next_delay(retry), b.next_delay(retry));
            assert_eq!(da, db);
            assert!(da <= backoff_cap(MS(100), MS(2000), retry));
        }
    }
}
