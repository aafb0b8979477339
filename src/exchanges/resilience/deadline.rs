//! The cycle deadline a fetch runs under. The engine gives every exchange the same
//! instant; the retry loop never starts an attempt, a rate-limiter wait or a backoff
//! sleep past it, and clamps each attempt's timeout to the time left. It also records
//! every failed attempt here, so that if the engine's backstop must still cut a fetch
//! off, the report names the last real failure and the true attempt count rather than
//! a bare "budget exhausted".

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::exchanges::ExchangeError;

/// A cycle deadline plus what the fetch running under it has seen so far. Cloning shares
/// the record (the engine keeps a clone while the client runs).
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    /// Requests started under this deadline, all pages and retries included.
    attempts: u32,
    /// The latest failed attempt, its attempt count left at zero (set on the way out).
    last: Option<ExchangeError>,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self::at(Instant::now() + budget, budget)
    }

    /// An explicit instant; `budget` is only quoted in messages.
    pub fn at(at: Instant, budget: Duration) -> Self {
        Self {
            at,
            budget,
            seen: Arc::default(),
        }
    }

    /// The instant.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The whole budget this deadline was made from.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Counts one request about to be sent.
    pub fn record_attempt(&self) {
        let mut seen = self.lock();
        seen.attempts = seen.attempts.saturating_add(1);
    }

    /// Keeps the latest failed attempt's error (its attempt count is replaced on use).
    pub fn record_failure(&self, err: &ExchangeError) {
        self.lock().last = Some(err.clone());
    }

    /// Forgets the recorded failure: the request it belonged to was retried successfully
    /// (a later page failing must not be blamed on an earlier page's recovered error).
    pub fn record_success(&self) {
        self.lock().last = None;
    }

    /// Requests started so far.
    pub fn attempts(&self) -> u32 {
        self.lock().attempts
    }

    /// What to report when the fetch did not finish by the deadline: the last real
    /// failure with every request counted, or — only when no request failed — that the
    /// cycle budget ran out.
    pub fn exhausted(&self) -> ExchangeError {
        let seen = self.lock();
        match &seen.last {
            Some(err) => err.clone().with_attempts(seen.attempts),
            None => ExchangeError::CycleBudget {
                budget_ms: u64::try_from(self.budget.as_millis()).unwrap_or(u64::MAX),
                attempts: seen.attempts,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        // Every update is a single assignment: a poisoned lock still holds a valid record.
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_to_zero_and_stays_there() {
        let d = Deadline::after(Duration::from_millis(100));
        assert_eq!(d.remaining(), Duration::from_millis(100));
        tokio::time::advance(Duration::from_millis(30)).await;
        assert_eq!(d.remaining(), Duration::from_millis(70));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(d.remaining(), Duration::ZERO);
    }

    #[test]
    fn exhausted_names_the_budget_only_when_no_request_failed() {
        let d = Deadline::at(Instant::now(), Duration::from_millis(2000));
        assert_eq!(
            d.exhausted().to_string(),
            "cycle budget of 2000 ms exhausted"
        );
        assert_eq!(d.exhausted().attempts(), 0);
    }

    #[test]
    fn exhausted_reports_the_last_failure_with_every_request_counted() {
        let d = Deadline::at(Instant::now(), Duration::from_millis(2000));
        for _ in 0..3 {
            d.record_attempt();
        }
        d.record_failure(&ExchangeError::Status {
            status: 503,
            message: "down".into(),
            attempts: 1,
        });
        let err = d.clone().exhausted();
        assert_eq!(err.to_string(), "HTTP 503: down (3 attempts)");
        assert_eq!(err.attempts(), 3);
    }
}
