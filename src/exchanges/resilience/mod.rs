//! Resilience around every exchange: retry with capped full-jitter backoff, a client-side
//! rate limiter, and a per-exchange circuit breaker.
//!
//! Why by hand: the retry crates (backoff, backon, tokio-retry) do not let a single
//! policy honour a server's `Retry-After` (in seconds for Coinbase, milliseconds for
//! dYdX) per attempt while counting attempts for the report, and the breaker crates
//! (failsafe, recloser) count failed *calls*, whereas recon opens the circuit after
//! consecutive failed *cycles* and must report every state change to the audit trail.
//! Both mechanisms are small state machines, tested here as pure functions.

mod breaker;
mod deadline;
mod rate_limit;
mod retry;

pub use breaker::{BreakerState, BreakerTransition, CircuitBreaker, Permit};
pub use deadline::Deadline;
pub use rate_limit::{RateLimit, RateLimiter};
pub use retry::{
    backoff_cap, full_jitter_delay, run_paced_with_retry, run_with_retry, AttemptFailure,
    RetryPolicy,
};
