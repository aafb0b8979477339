//! Circuit breaker per exchange: closed → open after `failure_threshold` consecutive
//! failed cycles → half-open after `open_for`, admitting a single trial → closed on
//! success, open again on failure. Time is passed in, so the machine is tested with
//! explicit instants.

use std::time::Duration;

use tokio::time::Instant;

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; counts consecutive failures.
    Closed {
        /// Consecutive failed cycles so far.
        failures: u32,
    },
    /// Requests are refused until `until`.
    Open {
        /// When the half-open trial may run.
        until: Instant,
    },
    /// One trial is in flight.
    HalfOpen,
}

/// A state change worth an audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerTransition {
    /// Closed or half-open → open.
    Opened {
        /// Consecutive failures at the time.
        failures: u32,
    },
    /// Half-open trial succeeded.
    Closed,
}

/// Whether a fetch may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Normal request.
    Allowed,
    /// The single half-open trial.
    Trial,
    /// Refused; retry in this long.
    Refused {
        /// Time until the trial.
        retry_in: Duration,
    },
}

/// The breaker of one exchange.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    state: BreakerState,
    threshold: u32,
    open_for: Duration,
    failures: u32,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            state: BreakerState::Closed { failures: 0 },
            threshold: threshold.max(1),
            open_for,
            failures: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Consecutive failed cycles.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    /// Asks to fetch at `now`; moves open → half-open once the open period has passed.
    pub fn permit(&mut self, now: Instant) -> Permit {
        match self.state {
            BreakerState::Closed { .. } => Permit::Allowed,
            BreakerState::HalfOpen => Permit::Refused {
                retry_in: Duration::ZERO,
            },
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                Permit::Trial
            }
            BreakerState::Open { until } => Permit::Refused {
                retry_in: until - now,
            },
        }
    }

    /// Records the outcome of a permitted fetch.
    pub fn record(&mut self, now: Instant, ok: bool) -> Option<BreakerTransition> {
        if ok {
            self.failures = 0;
            let was_half_open = self.state == BreakerState::HalfOpen;
            self.state = BreakerState::Closed { failures: 0 };
            return was_half_open.then_some(BreakerTransition::Closed);
        }
        self.failures = self.failures.saturating_add(1);
        match self.state {
            BreakerState::Closed { .. } if self.failures < self.threshold => {
                self.state = BreakerState::Closed {
                    failures: self.failures,
                };
                None
            }
            BreakerState::Closed { .. } | BreakerState::HalfOpen => {
                self.state = BreakerState::Open {
                    until: now + self.open_for,
                };
                Some(BreakerTransition::Opened {
                    failures: self.failures,
                })
            }
            // A failure reported while open (should not happen: nothing was permitted).
            BreakerState::Open { .. } => None,
        }
    }

    /// Whether the report should say `circuit_open`.
    pub fn is_open(&self) -> bool {
        matches!(self.state, BreakerState::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_half_opens_then_closes() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(3, Duration::from_secs(30));
        for i in 1..=2 {
            assert_eq!(b.permit(t0), Permit::Allowed);
            assert_eq!(b.record(t0, false), None, "failure {i}");
        }
        assert_eq!(b.permit(t0), Permit::Allowed);
        assert_eq!(
            b.record(t0, false),
            Some(BreakerTransition::Opened { failures: 3 })
        );
        assert_eq!(
            b.permit(t0 + Duration::from_secs(10)),
            Permit::Refused {
                retry_in: Duration::from_secs(20)
            }
        );
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(b.permit(t1), Permit::Trial);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.record(t1, true), Some(BreakerTransition::Closed));
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn failed_trial_reopens_for_another_period() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(1, Duration::from_secs(5));
        assert_eq!(
            b.record(t0, false),
            Some(BreakerTransition::Opened { failures: 1 })
        );
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(b.permit(t1), Permit::Trial);
        assert_eq!(
            b.record(t1, false),
            Some(BreakerTransition::Opened { failures: 2 })
        );
        assert_eq!(
            b.permit(t1 + Duration::from_secs(1)),
            Permit::Refused {
                retry_in: Duration::from_secs(4)
            }
        );
    }

    #[test]
    fn success_resets_the_failure_count() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(2, Duration::from_secs(5));
        assert_eq!(b.record(t0, false), None);
        assert_eq!(b.record(t0, true), None);
        assert_eq!(b.record(t0, false), None);
        assert_eq!(b.state(), BreakerState::Closed { failures: 1 });
    }
}
