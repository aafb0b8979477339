//! Exchange clients: one trait, one error type, one implementation per venue.
//!
//! A client answers one question — what does this account hold right now — as exact
//! totals per asset plus a coverage receipt (pages, rows, whether the cursor chain was
//! exhausted). It never answers with zeros when it does not know: every failure is an
//! [`ExchangeError`] naming its cause.

pub mod coinbase;
pub mod coinbase_exchange;
pub mod dydx;
pub mod http;
pub mod resilience;
pub mod simulated;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::config::{ExchangeConfig, TradingConfig};
use crate::domain::{exact_add, Asset, ExchangeName};

/// The venue behind an exchange entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeKind {
    /// Coinbase Advanced Trade (`/api/v3/brokerage/accounts`, CDP JWT).
    Coinbase,
    /// Coinbase Exchange (`/accounts`, HMAC).
    CoinbaseExchange,
    /// dYdX v4 indexer (subaccount; no auth).
    Dydx,
    /// Deterministic seeded generator for demos, tests and benchmarks.
    Simulated,
}

impl ExchangeKind {
    /// The word used in config and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coinbase => "coinbase",
            Self::CoinbaseExchange => "coinbase_exchange",
            Self::Dydx => "dydx",
            Self::Simulated => "simulated",
        }
    }
}

/// Which part of the account a fetch actually saw: a report states it so a reader can
/// tell "holds nothing" from "we read one page of three".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Coverage {
    /// Pages (HTTP responses) read.
    pub pages: u32,
    /// Account or position rows seen across all pages.
    pub rows: u32,
    /// Whether the cursor chain was exhausted.
    pub complete: bool,
}

/// A successful fetch: totals per asset (zeros may be present; the rules treat zero as
/// absent), coverage, and how many HTTP attempts it took.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchedBalances {
    /// Total (available + hold) per asset, summed over all accounts of that asset.
    pub totals: BTreeMap<Asset, Decimal>,
    /// Pages and rows read.
    pub coverage: Coverage,
    /// Requests sent in total, retries included.
    pub attempts: u32,
}

impl FetchedBalances {
    /// Totals from the rows of an unpaginated response (Coinbase Exchange, dYdX): summed
    /// per asset, coverage one complete page.
    pub fn single_page(rows: Vec<(String, Decimal)>, attempts: u32) -> Result<Self, ExchangeError> {
        let count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        Ok(Self {
            totals: sum_by_asset(rows)?,
            coverage: Coverage {
                pages: 1,
                rows: count,
                complete: true,
            },
            attempts,
        })
    }
}

/// Why a fetch failed. Messages are one-line fragments; the caller prefixes the exchange.
/// No variant ever carries a secret or a request header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// A request exceeded `fetch_timeout_ms` on every attempt.
    #[error("timed out after {after_ms} ms ({attempts} attempts)")]
    Timeout {
        /// Per-request timeout.
        after_ms: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// The whole cycle budget ran out while this exchange was still being fetched.
    /// Only reported when no request of this fetch failed before the budget ran out;
    /// otherwise the last real failure is.
    #[error("cycle budget of {budget_ms} ms exhausted{}", if *attempts > 0 { format!(" ({attempts} attempts)") } else { String::new() })]
    CycleBudget {
        /// `cycle_timeout_ms`.
        budget_ms: u64,
        /// Requests sent before it ran out (earlier pages that succeeded).
        attempts: u32,
    },
    /// Could not connect or the connection broke.
    #[error("connection failed: {message} ({attempts} attempts)")]
    Connect {
        /// Transport error, without URL credentials.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Throttled (HTTP 429) and retries were exhausted or the wait exceeded the budget.
    #[error("rate limited (HTTP 429{}) after {attempts} attempts", retry_after_ms.map(|ms| format!(", retry after {ms} ms")).unwrap_or_default())]
    RateLimited {
        /// The server's Retry-After, converted to ms, if it sent one.
        retry_after_ms: Option<u64>,
        /// Attempts made.
        attempts: u32,
    },
    /// Credentials rejected (401/403); never retried.
    #[error("authentication failed: HTTP {status}: {message}")]
    Auth {
        /// 401 or 403.
        status: u16,
        /// The server's message, truncated.
        message: String,
    },
    /// Any other unexpected HTTP status.
    #[error("HTTP {status}: {message} ({attempts} attempts)")]
    Status {
        /// The status code.
        status: u16,
        /// The server's message, truncated.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The body was not the documented shape (bad JSON, truncated, wrong types).
    #[error("malformed response: {0}")]
    Malformed(String),
    /// An amount that is not an exact decimal.
    #[error("bad amount for {asset}: {detail}")]
    Amount {
        /// The asset or market whose amount failed.
        asset: String,
        /// What was wrong.
        detail: String,
    },
    /// The pagination chain was inconsistent or a page cap was hit.
    #[error("incomplete listing: {0}")]
    Incomplete(String),
    /// The listing contradicts itself (one account listed twice with different
    /// balances): no total can be trusted.
    #[error("inconsistent listing: {0}")]
    Inconsistent(String),
    /// The exchange says the configured account does not exist or is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// Missing or unusable credentials (e.g. env var unset, key not PEM).
    #[error("credentials: {0}")]
    Credentials(String),
    /// The circuit breaker is open; no request was sent.
    #[error("circuit open after {failures} consecutive failures; next trial in {retry_in_secs} s")]
    CircuitOpen {
        /// Consecutive failed cycles that opened it.
        failures: u32,
        /// Seconds until the half-open trial.
        retry_in_secs: u64,
    },
}

impl ExchangeError {
    /// Requests sent before the error (0 when none was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Timeout { attempts, .. }
            | Self::Connect { attempts, .. }
            | Self::RateLimited { attempts, .. }
            | Self::Status { attempts, .. }
            | Self::CycleBudget { attempts, .. } => *attempts,
            Self::Auth { .. }
            | Self::Malformed(_)
            | Self::Amount { .. }
            | Self::Incomplete(_)
            | Self::Inconsistent(_)
            | Self::Config(_) => 1,
            Self::Credentials(_) | Self::CircuitOpen { .. } => 0,
        }
    }

    /// The same error with its attempt count set to `attempts`, for the variants that
    /// carry one (the cycle deadline knows the true count across pages and retries).
    pub fn with_attempts(mut self, total: u32) -> Self {
        match &mut self {
            Self::Timeout { attempts, .. }
            | Self::Connect { attempts, .. }
            | Self::RateLimited { attempts, .. }
            | Self::Status { attempts, .. }
            | Self::CycleBudget { attempts, .. } => *attempts = total,
            _ => {}
        }
        self
    }

    /// The same error with `prior` requests (earlier pages of the same fetch) added to
    /// its attempt count, for the variants that carry one.
    pub fn with_prior_attempts(mut self, prior: u32) -> Self {
        match &mut self {
            Self::Timeout { attempts, .. }
            | Self::Connect { attempts, .. }
            | Self::RateLimited { attempts, .. }
            | Self::Status { attempts, .. }
            | Self::CycleBudget { attempts, .. } => *attempts = attempts.saturating_add(prior),
            _ => {}
        }
        self
    }
}

/// One exchange account the engine can ask for balances.
#[async_trait]
pub trait ExchangeClient: Send + Sync {
    /// The configured name.
    fn name(&self) -> &ExchangeName;
    /// The venue.
    fn kind(&self) -> ExchangeKind;
    /// Fetches all balances (all pages), retrying transient failures per the retry policy.
    async fn fetch_balances(&self) -> Result<FetchedBalances, ExchangeError>;

    /// [`ExchangeClient::fetch_balances`] under the cycle deadline: no attempt, wait or
    /// backoff starts past it, each attempt's timeout is clamped to the time left, and a
    /// fetch that gives up reports its last real failure with the true attempt count
    /// (recording each failure in `deadline` too, for the engine's backstop). The default
    /// ignores the deadline and leaves the cut-off to the engine.
    async fn fetch_balances_until(
        &self,
        deadline: &resilience::Deadline,
    ) -> Result<FetchedBalances, ExchangeError> {
        let _ = deadline;
        self.fetch_balances().await
    }
}

/// Builds the client for one configured exchange. Credentials are read from the
/// environment here, so a missing variable is reported once, at start.
pub fn build_client(
    cfg: &ExchangeConfig,
    trading: &TradingConfig,
) -> Result<Arc<dyn ExchangeClient>, ExchangeError> {
    let policy = resilience::RetryPolicy::from_config(&trading.retry);
    let timeout = trading.reconciliation.fetch_timeout;
    Ok(match cfg.kind {
        ExchangeKind::Simulated => Arc::new(simulated::SimulatedExchange::from_config(
            cfg, policy, timeout,
        )?),
        ExchangeKind::Coinbase => Arc::new(coinbase::CoinbaseReconciler::from_config(
            cfg, policy, timeout,
        )?),
        ExchangeKind::CoinbaseExchange => Arc::new(
            coinbase_exchange::CoinbaseExchangeReconciler::from_config(cfg, policy, timeout)?,
        ),
        ExchangeKind::Dydx => Arc::new(dydx::DydxReconciler::from_config(cfg, policy, timeout)?),
    })
}

/// Sums `(asset, amount)` rows into per-asset totals, normalising symbols. Several accounts
/// of one currency (vaults, other platforms) must add up, never overwrite each other.
pub fn sum_by_asset<I>(rows: I) -> Result<BTreeMap<Asset, Decimal>, ExchangeError>
where
    I: IntoIterator<Item = (String, Decimal)>,
{
    let mut totals: BTreeMap<Asset, Decimal> = BTreeMap::new();
    for (symbol, amount) in rows {
        let asset = Asset::parse(&symbol).map_err(|e| ExchangeError::Malformed(e.to_string()))?;
        let slot = totals.entry(asset.clone()).or_default();
        *slot = exact_add(*slot, amount).ok_or_else(|| ExchangeError::Amount {
            asset: asset.to_string(),
            detail: "the sum over accounts cannot be held exactly in a 96-bit decimal".into(),
        })?;
    }
    Ok(totals)
}

/// Timeout used by clients when none is configured (tests).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_millis(1000);

/// An exchange whose client could not be built (e.g. its credential variable is unset).
/// It stays in every report with that error, so a misconfigured exchange is never
/// silently dropped or shown as empty.
pub struct Unavailable {
    name: ExchangeName,
    kind: ExchangeKind,
    error: ExchangeError,
}

impl Unavailable {
    /// Wraps the build error.
    pub fn new(name: ExchangeName, kind: ExchangeKind, error: ExchangeError) -> Self {
        Self { name, kind, error }
    }
}

#[async_trait]
impl ExchangeClient for Unavailable {
    fn name(&self) -> &ExchangeName {
        &self.name
    }
    fn kind(&self) -> ExchangeKind {
        self.kind
    }
    async fn fetch_balances(&self) -> Result<FetchedBalances, ExchangeError> {
        Err(self.error.clone())
    }
}
