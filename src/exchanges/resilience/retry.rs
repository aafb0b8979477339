//! Retry with exponential backoff and *full* jitter (AWS architecture blog, "Exponential
//! Backoff And Jitter"): the delay before retry `n` is uniform in `[0, min(max, base·2ⁿ⁻¹)]`,
//! which spreads a herd of clients better than equal or decorrelated jitter.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Deadline;
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

/// A retry is only started with at least this much of the cycle left (or the whole
/// per-request timeout, when that is shorter): an attempt given a few milliseconds would
/// only turn the real failure before it into a meaningless timeout.
pub const MIN_RETRY_WINDOW: Duration = Duration::from_millis(50);

/// Runs `attempt` until it succeeds, fails fatally, or the policy gives up. Each attempt
/// gets `timeout`, clamped to what is left before `deadline` (the cycle's, when there is
/// one). Returns the value and the number of attempts made.
pub async fn run_with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    timeout: Duration,
    deadline: Option<&Deadline>,
    attempt: F,
) -> Result<(T, u32), ExchangeError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, AttemptFailure>>,
{
    run_paced_with_retry(
        policy,
        timeout,
        deadline,
        || std::future::ready(()),
        attempt,
    )
    .await
}

/// [`run_with_retry`] with `pace` awaited before every attempt, *outside* the per-request
/// timeout: a client-side rate limiter that makes a request wait must not turn that wait
/// into a timeout blamed on the server.
///
/// Under a `deadline` nothing is started that would pass it — no attempt, no limiter
/// wait, no backoff sleep, no wait for a `Retry-After` — and on giving up the error is
/// the last real failure (timeout, 5xx, 429, transport) with the true attempt count.
/// Only when not a single request could be sent is it [`ExchangeError::CycleBudget`].
pub async fn run_paced_with_retry<T, P, PFut, F, Fut>(
    policy: &RetryPolicy,
    timeout: Duration,
    deadline: Option<&Deadline>,
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
    // The last failed attempt, already in its reported form.
    let mut last: Option<ExchangeError> = None;
    let gave_up = |last: Option<ExchangeError>, d: &Deadline| {
        tracing::debug!(
            budget_ms = d.budget().as_millis() as u64,
            "retry stopped at the cycle deadline"
        );
        // No failure yet means no request of this call was sent; the caller adds any
        // requests of earlier pages.
        last.unwrap_or(ExchangeError::CycleBudget {
            budget_ms: u64::try_from(d.budget().as_millis()).unwrap_or(u64::MAX),
            attempts: 0,
        })
    };
    loop {
        n += 1;
        if let Some(d) = deadline {
            // The pace wait is bounded too: a full limiter must not hold the fetch past
            // the cycle.
            if d.remaining().is_zero()
                || tokio::time::timeout_at(d.instant(), pace()).await.is_err()
            {
                return Err(gave_up(last, d));
            }
        } else {
            pace().await;
        }
        let this_timeout = match deadline {
            Some(d) => {
                let left = d.remaining();
                if left.is_zero() {
                    return Err(gave_up(last, d));
                }
                d.record_attempt();
                timeout.min(left)
            }
            None => timeout,
        };
        let failure = match tokio::time::timeout(this_timeout, attempt(n)).await {
            Ok(Ok(value)) => {
                if let Some(d) = deadline {
                    d.record_success();
                }
                return Ok((value, n));
            }
            Ok(Err(failure)) => failure,
            Err(_elapsed) => AttemptFailure::Timeout,
        };
        if let AttemptFailure::Fatal(err) = failure {
            return Err(err);
        }
        let retry_after = failure.retry_after();
        let err = give_up(failure, n, this_timeout);
        if let Some(d) = deadline {
            d.record_failure(&err);
        }
        let server_wait_too_long = retry_after.is_some_and(|d| d > policy.max_delay);
        if n >= policy.max_attempts || server_wait_too_long {
            return Err(err);
        }
        let delay = retry_after.unwrap_or_else(|| policy.next_delay(n));
        if let Some(d) = deadline {
            // The retry must still get a useful window after the wait; a Retry-After
            // that reaches past the cycle is not waited for at all.
            let needed = delay.saturating_add(timeout.min(MIN_RETRY_WINDOW));
            if needed > d.remaining() {
                tracing::debug!(
                    attempt = n,
                    delay_ms = delay.as_millis() as u64,
                    left_ms = d.remaining().as_millis() as u64,
                    "no retry: it would not fit the cycle"
                );
                return Err(err);
            }
        }
        last = Some(err);
        tracing::debug!(attempt = n, delay_ms = delay.as_millis() as u64, "retrying");
        tokio::time::sleep(delay).await;
    }
}

fn give_up(failure: AttemptFailure, attempts: u32, timeout: Duration) -> ExchangeError {
    match failure {
        // Rounded up: an attempt clamped to the 149.97 ms left of a cycle waited 150 ms.
        AttemptFailure::Timeout => ExchangeError::Timeout {
            after_ms: u64::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
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

    /// A policy like the defaults scaled by one: 3 attempts, backoff 100 ms doubling.
    fn policy() -> RetryPolicy {
        RetryPolicy::new(3, MS(100), MS(2000)).with_seed(7)
    }

    fn hang() -> impl FnMut(u32) -> std::future::Pending<Result<(), AttemptFailure>> {
        |_| std::future::pending()
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_exchange_under_the_default_budget_reports_its_timeouts_and_true_attempts() {
        let t0 = tokio::time::Instant::now();
        let d = Deadline::after(MS(2000));
        let err = run_with_retry(&policy(), MS(1000), Some(&d), hang())
            .await
            .unwrap_err();
        let delay = policy().next_delay(1);
        // Attempt 1 waits the full 1000 ms; attempt 2 starts after the backoff (tokio's
        // timers round it up to a whole millisecond) with only what is left, and nothing
        // is started after the deadline.
        let slept = delay.as_micros().div_ceil(1000) as u64;
        assert_eq!(
            err,
            ExchangeError::Timeout {
                after_ms: 1000 - slept,
                attempts: 2
            }
        );
        assert_eq!(t0.elapsed(), MS(2000), "stops exactly at the deadline");
        assert_eq!(d.attempts(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_every_attempt_gets_the_full_timeout() {
        let err = run_with_retry(&policy(), MS(1000), None, hang())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ExchangeError::Timeout {
                after_ms: 1000,
                attempts: 3
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_reaching_past_the_deadline_is_not_waited_for() {
        let t0 = tokio::time::Instant::now();
        let d = Deadline::after(MS(2000));
        let mut calls = 0;
        let err = run_with_retry(&policy(), MS(1000), Some(&d), |_| {
            calls += 1;
            async {
                Err::<(), _>(AttemptFailure::RateLimited {
                    retry_after: Some(MS(1990)),
                })
            }
        })
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "rate limited (HTTP 429, retry after 1990 ms) after 1 attempts"
        );
        assert_eq!(calls, 1);
        assert_eq!(t0.elapsed(), MS(0), "gave up at once instead of sleeping");
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_that_fit_the_budget_are_all_retried_and_the_last_is_reported() {
        let d = Deadline::after(MS(2000));
        let err = run_with_retry(&policy(), MS(1000), Some(&d), |n| async move {
            Err::<(), _>(AttemptFailure::Server {
                status: 502 + n as u16 - 1,
                message: format!("bad gateway {n}"),
                retry_after: None,
            })
        })
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "HTTP 504: bad gateway 3 (3 attempts)");
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_error_then_the_deadline_reports_the_server_error_not_the_budget() {
        // 503 answered after 1960 ms: a useful retry window (50 ms) no longer
        // fits the 40 ms left, so the 503 is what the report says.
        let d = Deadline::after(MS(2000));
        let err = run_with_retry(&policy(), MS(1990), Some(&d), |_| async {
            tokio::time::sleep(MS(1960)).await;
            Err::<(), _>(AttemptFailure::Server {
                status: 503,
                message: "Service Unavailable".into(),
                retry_after: None,
            })
        })
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "HTTP 503: Service Unavailable (1 attempts)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_passed_sends_nothing_and_says_so() {
        let d = Deadline::after(MS(0));
        let mut calls = 0;
        let err = run_with_retry(&policy(), MS(1000), Some(&d), |_| {
            calls += 1;
            async { Ok::<_, AttemptFailure>(()) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 0);
        assert_eq!(err.to_string(), "cycle budget of 0 ms exhausted");
        assert_eq!(err.attempts(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pacing_wait_past_the_deadline_ends_with_the_last_real_failure() {
        let d = Deadline::after(MS(500));
        let mut paced = 0;
        let err = run_paced_with_retry(
            &RetryPolicy::new(3, MS(1), MS(1)).with_seed(1),
            MS(1000),
            Some(&d),
            || {
                paced += 1;
                // The first request goes at once; the limiter then holds the next for 10 s.
                let wait = if paced == 1 { MS(0) } else { MS(10_000) };
                tokio::time::sleep(wait)
            },
            |_| async { Err::<(), _>(AttemptFailure::Connect("connection reset".into())) },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "connection failed: connection reset (1 attempts)"
        );
    }
}
