//! A deterministic, seeded exchange for the demo config, tests and benchmarks.
//!
//! It goes through the same retry policy and per-request timeout as the real clients, so
//! scripted faults ([`Fault`]) exercise the resilience code exactly as HTTP faults do.
//! With `drift = 0` it returns `balances` exactly as configured; with drift, each fetch
//! after the first moves every amount by a relative random step in `[-drift, +drift]`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use super::resilience::{run_with_retry, AttemptFailure, Deadline, RetryPolicy};
use super::{Coverage, ExchangeClient, ExchangeError, ExchangeKind, FetchedBalances};
use crate::config::{ExchangeConfig, SimulatedConfig, SimulatedHoldings};
use crate::domain::{Asset, ExchangeName};

/// A scripted outcome for one request attempt, consumed in order before random ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The request never answers (the per-request timeout fires).
    Timeout,
    /// HTTP 5xx.
    Server(u16),
    /// HTTP 429 with an optional Retry-After.
    RateLimited(Option<Duration>),
    /// Credentials rejected (never retried).
    Auth,
    /// The body is not what the API documents.
    Malformed(String),
    /// Connection refused.
    Connect,
}

/// Symbols used first when generating `assets = N`; later ones are `SIM0021`, ….
const SYMBOLS: [&str; 20] = [
    "BTC", "ETH", "SOL", "USDC", "USDT", "DOGE", "ADA", "AVAX", "DOT", "LINK", "MATIC", "LTC",
    "XRP", "ATOM", "UNI", "AAVE", "ARB", "OP", "NEAR", "FIL",
];

struct State {
    rng: StdRng,
    fetches: u64,
    holdings: BTreeMap<Asset, Decimal>,
    faults: VecDeque<Fault>,
}

/// The simulated exchange.
pub struct SimulatedExchange {
    name: ExchangeName,
    cfg: SimulatedConfig,
    policy: RetryPolicy,
    timeout: Duration,
    state: Mutex<State>,
}

impl SimulatedExchange {
    /// Builds one from its config entry.
    pub fn from_config(
        cfg: &ExchangeConfig,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        let sim = cfg.simulated.clone().ok_or_else(|| {
            ExchangeError::Config("simulated exchange without simulated settings".into())
        })?;
        Ok(Self::new(cfg.name.clone(), sim, policy, timeout))
    }

    /// Builds one directly (tests, benchmarks).
    pub fn new(
        name: ExchangeName,
        cfg: SimulatedConfig,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let holdings = match &cfg.holdings {
            SimulatedHoldings::Exact(map) => map.clone(),
            SimulatedHoldings::Generated(n) => generate(&mut rng, *n),
        };
        Self {
            name,
            policy: policy.with_seed(cfg.seed ^ 0x5eed),
            cfg,
            timeout,
            state: Mutex::new(State {
                rng,
                fetches: 0,
                holdings,
                faults: VecDeque::new(),
            }),
        }
    }

    /// Queues scripted faults for the next attempts (tests).
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// Replaces the holdings (tests: "the exchange now reports …").
    pub fn set_holdings(&self, holdings: BTreeMap<Asset, Decimal>) {
        self.lock().holdings = holdings;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent across a panic elsewhere (every update is a
        // single assignment), so a poisoned lock is safe to reuse.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides one attempt's latency and outcome; the await happens outside the lock.
    fn plan_attempt(&self) -> (Duration, Result<BTreeMap<Asset, Decimal>, Fault>) {
        let mut st = self.lock();
        let (lo, hi) = self.cfg.latency_ms;
        let latency = Duration::from_millis(if hi > lo {
            st.rng.gen_range(lo..=hi)
        } else {
            lo
        });
        if let Some(f) = st.faults.pop_front() {
            return (latency, Err(f));
        }
        if self.cfg.failure_rate > 0.0 && st.rng.gen_bool(self.cfg.failure_rate) {
            let fault = if st.rng.gen_bool(0.5) {
                Fault::Server(503)
            } else {
                Fault::Timeout
            };
            return (latency, Err(fault));
        }
        (latency, Ok(st.holdings.clone()))
    }

    fn apply_drift(&self) {
        let mut st = self.lock();
        st.fetches += 1;
        if st.fetches == 1 || self.cfg.drift.is_zero() {
            return;
        }
        let drift = self.cfg.drift;
        let State { rng, holdings, .. } = &mut *st;
        for amount in holdings.values_mut() {
            let step = Decimal::new(rng.gen_range(-1_000_000i64..=1_000_000), 6);
            let factor = Decimal::ONE + drift * step;
            let scale = amount.scale().max(8);
            if let Some(v) = amount.checked_mul(factor) {
                *amount = v.round_dp(scale);
            }
        }
    }
}

fn generate(rng: &mut StdRng, n: u32) -> BTreeMap<Asset, Decimal> {
    (0..n as usize)
        .map(|i| {
            let symbol = SYMBOLS
                .get(i)
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("SIM{i:04}"));
            let amount = Decimal::new(rng.gen_range(1..10_000_000_000_000i64), 8);
            (
                Asset::parse(&symbol).expect("generated symbols are valid"),
                amount,
            )
        })
        .collect()
}

fn to_failure(f: Fault) -> AttemptFailure {
    match f {
        Fault::Timeout => AttemptFailure::Timeout,
        Fault::Server(status) => AttemptFailure::Server {
            status,
            message: "simulated server error".into(),
            retry_after: None,
        },
        Fault::RateLimited(retry_after) => AttemptFailure::RateLimited { retry_after },
        Fault::Auth => AttemptFailure::Fatal(ExchangeError::Auth {
            status: 401,
            message: "Unauthorized".into(),
        }),
        Fault::Malformed(m) => AttemptFailure::Fatal(ExchangeError::Malformed(m)),
        Fault::Connect => AttemptFailure::Connect("connection refused".into()),
    }
}

#[async_trait]
impl ExchangeClient for SimulatedExchange {
    fn name(&self) -> &ExchangeName {
        &self.name
    }

    fn kind(&self) -> ExchangeKind {
        ExchangeKind::Simulated
    }

    async fn fetch_balances(&self) -> Result<FetchedBalances, ExchangeError> {
        self.fetch(None).await
    }

    async fn fetch_balances_until(
        &self,
        deadline: &Deadline,
    ) -> Result<FetchedBalances, ExchangeError> {
        self.fetch(Some(deadline)).await
    }
}

impl SimulatedExchange {
    /// One fetch, under the cycle deadline when there is one.
    async fn fetch(&self, deadline: Option<&Deadline>) -> Result<FetchedBalances, ExchangeError> {
        self.apply_drift();
        let (totals, attempts) = run_with_retry(&self.policy, self.timeout, deadline, |_| async {
            let (latency, outcome) = self.plan_attempt();
            if outcome == Err(Fault::Timeout) {
                // Never answers: the per-request timeout in run_with_retry fires.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(latency).await;
            outcome.map_err(to_failure)
        })
        .await?;
        let rows = totals.len() as u32;
        Ok(FetchedBalances {
            totals,
            coverage: Coverage {
                pages: 1,
                rows,
                complete: true,
            },
            attempts,
        })
    }
}
