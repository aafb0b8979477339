//! Client-side rate limit: a GCRA ("generic cell rate algorithm", the token bucket
//! expressed as one timestamp). A request that would exceed the limit *waits* for its
//! slot; the limiter never fails a request.
//!
//! Why by hand rather than the `governor` crate: recon sends a handful of requests per
//! cycle per exchange, so all it needs is "reserve the next slot and sleep until it",
//! which is one `Instant` behind a mutex. governor brings its own clock abstraction,
//! `nonzero` quotas and a dependency tree for the same arithmetic, and its async wait
//! (`until_ready`) needs the `jitter`/`std` feature set on top. Keeping the arithmetic
//! here also lets the tests feed explicit instants, like the circuit breaker's.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A documented limit: `count` requests per `window`, bursts up to `burst` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Time per request at the sustained rate (window / count).
    pub interval: Duration,
    /// Requests that may go back to back before pacing starts (≥ 1).
    pub burst: u32,
}

impl RateLimit {
    /// `count` requests per `window`, with bursts of up to `burst`.
    pub fn new(count: u32, window: Duration, burst: u32) -> Self {
        Self {
            interval: window / count.max(1),
            burst: burst.max(1),
        }
    }
}

/// The limiter of one client. Cheap to share behind `&`.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    /// Theoretical arrival time of the next request at the sustained rate.
    tat: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter whose bucket starts full.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            tat: Mutex::new(None),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Reserves the next slot for a request made at `now` and returns how long it must
    /// wait for it. A reservation is never given back (a cancelled request only makes the
    /// limiter more conservative).
    pub fn reserve(&self, now: Instant) -> Duration {
        // The state is one Instant, assigned in one statement: a poisoned lock still
        // holds a valid value.
        let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let tolerance = self.limit.interval * (self.limit.burst - 1);
        let next = tat.map_or(now, |t| t.max(now));
        let wait = next
            .saturating_duration_since(now)
            .saturating_sub(tolerance);
        *tat = Some(next + self.limit.interval);
        wait
    }

    /// Waits until a request may be sent.
    pub async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tracing::debug!(wait_ms = wait.as_millis() as u64, "client-side rate limit");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_burst_passes_then_requests_are_spaced_by_the_interval() {
        let limiter = RateLimiter::new(RateLimit::new(10, Duration::from_secs(1), 3));
        let t0 = Instant::now();
        let waits: Vec<_> = (0..6).map(|_| limiter.reserve(t0)).collect();
        assert_eq!(waits, vec![MS(0), MS(0), MS(0), MS(100), MS(200), MS(300)]);
    }

    #[test]
    fn an_idle_limiter_refills_to_its_burst_and_no_further() {
        let limiter = RateLimiter::new(RateLimit::new(100, Duration::from_secs(10), 2));
        let t0 = Instant::now();
        assert_eq!(limiter.reserve(t0), MS(0));
        assert_eq!(limiter.reserve(t0), MS(0));
        assert_eq!(limiter.reserve(t0), MS(100));
        // Long idle: back to a full bucket of 2, not more.
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(limiter.reserve(t1), MS(0));
        assert_eq!(limiter.reserve(t1), MS(0));
        assert_eq!(limiter.reserve(t1), MS(100));
    }

    #[test]
    fn burst_of_one_spaces_every_request() {
        let limiter = RateLimiter::new(RateLimit::new(30, Duration::from_secs(1), 1));
        let t0 = Instant::now();
        assert_eq!(limiter.reserve(t0), MS(0));
        let second = limiter.reserve(t0);
        assert_eq!(second, Duration::from_secs(1) / 30);
        // Arriving exactly at its slot, the next request does not wait again.
        assert_eq!(limiter.reserve(t0 + second * 2), MS(0));
    }
}
