//! The Prometheus side of the daemon (SPEC §10): every series, registered once in a
//! `prometheus-client` registry and encoded by it, and the small axum server that serves
//! `/metrics`, `/healthz` and `/readyz` on `--metrics-addr`.
//!
//! Values are floats for graphs; the exact decimals live in the JSON report and the
//! database. A discrepancy's series exist while it is open and are removed when it
//! resolves, so a dashboard never shows a gap that is gone.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use rust_decimal::prelude::ToPrimitive;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::logs::{counts, Change};
use crate::domain::{BalanceDiscrepancy, ReconciliationStatus};
use crate::engine::report::CircuitState;
use crate::engine::{ExchangeStatus, ReconciliationReport};

/// Content type of the OpenMetrics text that `prometheus-client` writes (Prometheus
/// scrapes it natively).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `{exchange}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExchangeLabel {
    /// Configured exchange name.
    pub exchange: String,
}

/// `{exchange,reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Configured exchange name.
    pub exchange: String,
    /// Kind of failure (see [`error_reason`]).
    pub reason: String,
}

/// `{exchange,asset}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiscrepancyLabels {
    /// Configured exchange name.
    pub exchange: String,
    /// Asset or market.
    pub asset: String,
}

/// `{quote}`: the currency of a value.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QuoteLabel {
    /// `[valuation] quote` (`USD`).
    pub quote: String,
}

/// `{state,severity}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// `open` (counted) or `acknowledged`.
    pub state: String,
    /// `low` … `critical`.
    pub severity: String,
}

/// `{status}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// Cycle status.
    pub status: String,
}

/// `{result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// Outcome.
    pub result: String,
}

/// `{version}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;
type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn cycle_buckets() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
    ])
}

/// Every series of SPEC §10. The valuation ones have series only with `[valuation]`, and
/// only for what has a value: a line without a price has no `recon_discrepancy_value`
/// series and a null value at risk removes `recon_value_at_risk` — never a NaN or a 0
/// that a graph or an alert would read as "nothing at risk".
pub struct Metrics {
    registry: Registry,
    cycle_duration: Histogram,
    cycles: Family<StatusLabel, Counter>,
    last_cycle: FloatGauge,
    last_success: FloatGauge,
    exchange_up: Family<ExchangeLabel, Gauge>,
    fetch_duration: HistogramFamily<ExchangeLabel>,
    errors: Family<ErrorLabels, Counter>,
    attempts: Family<ExchangeLabel, Counter>,
    circuit: Family<ExchangeLabel, Gauge>,
    stale: Family<ExchangeLabel, FloatGauge>,
    discrepancies: Family<StateLabels, Gauge>,
    difference: Family<DiscrepancyLabels, FloatGauge>,
    value: Family<DiscrepancyLabels, FloatGauge>,
    value_at_risk: Family<QuoteLabel, FloatGauge>,
    alerts: Family<ResultLabel, Counter>,
    reports_missed: Counter,
    reloads: Family<ResultLabel, Counter>,
    /// Exchanges of the last report, to drop the gauges of one a reload removed.
    exchanges: Mutex<BTreeSet<String>>,
    /// Held for writing while a report is applied and for reading while encoding, so a
    /// scrape never sees half a cycle (a cycle counted, its errors not yet).
    consistent: RwLock<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every series under the `recon_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("recon");
        let cycle_duration = cycle_buckets();
        let cycles = Family::<StatusLabel, Counter>::default();
        let last_cycle = FloatGauge::default();
        let last_success = FloatGauge::default();
        let exchange_up = Family::<ExchangeLabel, Gauge>::default();
        let fetch_duration: HistogramFamily<ExchangeLabel> =
            Family::new_with_constructor(cycle_buckets);
        let errors = Family::<ErrorLabels, Counter>::default();
        let attempts = Family::<ExchangeLabel, Counter>::default();
        let circuit = Family::<ExchangeLabel, Gauge>::default();
        let stale = Family::<ExchangeLabel, FloatGauge>::default();
        let discrepancies = Family::<StateLabels, Gauge>::default();
        let difference = Family::<DiscrepancyLabels, FloatGauge>::default();
        let value = Family::<DiscrepancyLabels, FloatGauge>::default();
        let value_at_risk = Family::<QuoteLabel, FloatGauge>::default();
        let alerts = Family::<ResultLabel, Counter>::default();
        let reports_missed = Counter::default();
        let reloads = Family::<ResultLabel, Counter>::default();
        // Known label values start at 0, so a rate() or an alert has a series from the
        // first scrape instead of "no data".
        for status in [
            ReconciliationStatus::Reconciled,
            ReconciliationStatus::Discrepancies,
            ReconciliationStatus::Partial,
            ReconciliationStatus::Failed,
        ] {
            drop(cycles.get_or_create(&StatusLabel {
                status: status.as_str().into(),
            }));
        }
        for result in ["sent", "failed"] {
            drop(alerts.get_or_create(&ResultLabel {
                result: result.into(),
            }));
        }
        for result in ["applied", "rejected"] {
            drop(reloads.get_or_create(&ResultLabel {
                result: result.into(),
            }));
        }
        for (state, severity, _) in counts(std::iter::empty()) {
            drop(discrepancies.get_or_create(&StateLabels {
                state: state.into(),
                severity: severity.as_str().into(),
            }));
        }
        registry.register(
            "cycle_duration_seconds",
            "Wall time of a reconciliation cycle",
            cycle_duration.clone(),
        );
        registry.register("cycles", "Completed cycles by status", cycles.clone());
        registry.register(
            "last_cycle_timestamp_seconds",
            "Unix time when the last cycle finished",
            last_cycle.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time when the last cycle that compared every exchange finished",
            last_success.clone(),
        );
        registry.register(
            "exchange_up",
            "1 when the exchange was fetched and compared in the last cycle, else 0",
            exchange_up.clone(),
        );
        registry.register(
            "exchange_fetch_duration_seconds",
            "Time spent fetching an exchange's balances (retries included)",
            fetch_duration.clone(),
        );
        registry.register(
            "exchange_errors",
            "Failed fetches by kind of failure",
            errors.clone(),
        );
        registry.register(
            "exchange_attempts",
            "Requests sent to an exchange",
            attempts.clone(),
        );
        registry.register(
            "exchange_circuit_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open",
            circuit.clone(),
        );
        registry.register(
            "exchange_stale_seconds",
            "Seconds since the exchange was last compared (+Inf: never)",
            stale.clone(),
        );
        registry.register(
            "discrepancies",
            "Open discrepancies by state (open = counted, acknowledged) and severity",
            discrepancies.clone(),
        );
        registry.register(
            "discrepancy_difference",
            "Exchange minus ledger of an open discrepancy, in the asset's units",
            difference.clone(),
        );
        registry.register(
            "discrepancy_value",
            "Money value of an open discrepancy, |difference| x price, in the quote currency (absent when unpriced)",
            value.clone(),
        );
        registry.register(
            "value_at_risk",
            "Sum of the values of the counted discrepancies, in the quote currency (absent when one is unpriced)",
            value_at_risk.clone(),
        );
        registry.register(
            "alerts",
            "Alert deliveries by result (sent, failed)",
            alerts.clone(),
        );
        registry.register(
            "reports_missed",
            "Cycle reports the daemon's logger missed because it fell behind",
            reports_missed.clone(),
        );
        registry.register(
            "config_reloads",
            "Configuration reloads (SIGHUP) by result",
            reloads.clone(),
        );
        registry.register(
            "build",
            "Version of recon",
            Info::new(VersionLabel {
                version: env!("CARGO_PKG_VERSION").into(),
            }),
        );
        Self {
            registry,
            cycle_duration,
            cycles,
            last_cycle,
            last_success,
            exchange_up,
            fetch_duration,
            errors,
            attempts,
            circuit,
            stale,
            discrepancies,
            difference,
            value,
            value_at_risk,
            alerts,
            reports_missed,
            reloads,
            exchanges: Mutex::new(BTreeSet::new()),
            consistent: RwLock::new(()),
        }
    }

    /// The exposition text, as `/metrics` serves it.
    pub fn encode(&self) -> String {
        let _cycle = self
            .consistent
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts an alert delivery: `"sent"` or `"failed"` (the alert dispatcher's
    /// `on_result`).
    pub fn count_alert(&self, result: &'static str) {
        self.alerts
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// Counts cycle reports the logger missed.
    pub fn count_missed(&self, n: u64) {
        self.reports_missed.inc_by(n);
    }

    /// Counts a reload: `"applied"` or `"rejected"`.
    pub fn count_reload(&self, result: &'static str) {
        self.reloads
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
    }

    /// Takes in a report, the discrepancies now known open, and the changes it brought.
    pub fn observe<'a>(
        &self,
        report: &ReconciliationReport,
        known: impl Iterator<Item = &'a BalanceDiscrepancy> + Clone,
        changes: &[Change],
    ) {
        let _cycle = self
            .consistent
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.cycle_duration
            .observe(Duration::from_millis(report.duration_ms).as_secs_f64());
        self.cycles
            .get_or_create(&StatusLabel {
                status: report.status.as_str().into(),
            })
            .inc();
        self.last_cycle.set(unix_secs(report.finished_at));
        if matches!(
            report.status,
            ReconciliationStatus::Reconciled | ReconciliationStatus::Discrepancies
        ) {
            self.last_success.set(unix_secs(report.finished_at));
        }
        for e in &report.exchanges {
            let label = ExchangeLabel {
                exchange: e.name.to_string(),
            };
            self.exchange_up
                .get_or_create(&label)
                .set(i64::from(e.status == ExchangeStatus::Ok));
            if e.status != ExchangeStatus::CircuitOpen {
                self.fetch_duration
                    .get_or_create(&label)
                    .observe(Duration::from_millis(e.latency_ms).as_secs_f64());
            }
            if let Some(error) = &e.error {
                self.errors
                    .get_or_create(&ErrorLabels {
                        exchange: label.exchange.clone(),
                        reason: error_reason(e.status, error).into(),
                    })
                    .inc();
            }
            self.attempts
                .get_or_create(&label)
                .inc_by(u64::from(e.attempts));
            self.circuit.get_or_create(&label).set(match e.circuit {
                CircuitState::Closed => 0,
                CircuitState::HalfOpen => 1,
                CircuitState::Open => 2,
            });
            self.stale.get_or_create(&label).set(
                e.stale_secs(report.finished_at)
                    .map_or(f64::INFINITY, |s| s as f64),
            );
        }
        for (state, severity, n) in counts(known.clone()) {
            self.discrepancies
                .get_or_create(&StateLabels {
                    state: state.into(),
                    severity: severity.as_str().into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for d in known {
            self.difference
                .get_or_create(&discrepancy_labels(d))
                .set(d.difference.to_f64().unwrap_or(f64::NAN));
            match d
                .valuation
                .as_ref()
                .and_then(|v| v.value)
                .and_then(|v| v.to_f64())
            {
                Some(v) => {
                    self.value.get_or_create(&discrepancy_labels(d)).set(v);
                }
                None => {
                    self.value.remove(&discrepancy_labels(d));
                }
            }
        }
        for change in changes {
            if let Change::Resolved { last: d, .. } | Change::Forgotten(d) = change {
                self.difference.remove(&discrepancy_labels(d));
                self.value.remove(&discrepancy_labels(d));
            }
        }
        // One series, labelled with the quote; none while the sum is unknown.
        self.value_at_risk.clear();
        if let (Some(p), Some(v)) = (
            &report.valuation,
            report
                .value_at_risk()
                .and_then(|v| v.value)
                .and_then(|v| v.to_f64()),
        ) {
            self.value_at_risk
                .get_or_create(&QuoteLabel {
                    quote: p.quote.to_string(),
                })
                .set(v);
        }
        // Exchanges a reload removed: their gauges would otherwise freeze at a stale value.
        let now: BTreeSet<String> = report
            .exchanges
            .iter()
            .map(|e| e.name.to_string())
            .collect();
        let mut seen = self
            .exchanges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for exchange in seen.difference(&now) {
            let label = ExchangeLabel {
                exchange: exchange.clone(),
            };
            self.exchange_up.remove(&label);
            self.circuit.remove(&label);
            self.stale.remove(&label);
        }
        *seen = now;
    }
}

fn discrepancy_labels(d: &BalanceDiscrepancy) -> DiscrepancyLabels {
    DiscrepancyLabels {
        exchange: d.exchange.to_string(),
        asset: d.asset.to_string(),
    }
}

fn unix_secs(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The `reason` label of a failed fetch, from its one-line error (whose wording
/// `ExchangeError`'s Display fixes; a unit test pins each one).
pub fn error_reason(status: ExchangeStatus, error: &str) -> &'static str {
    if status == ExchangeStatus::CircuitOpen {
        return "circuit_open";
    }
    const PREFIXES: [(&str, &str); 14] = [
        ("timed out after", "timeout"),
        ("cycle budget of", "cycle_budget"),
        ("connection failed", "connect"),
        ("rate limited", "rate_limited"),
        ("authentication failed", "auth"),
        ("HTTP ", "http_status"),
        ("malformed response", "malformed"),
        ("bad amount", "amount"),
        ("incomplete listing", "incomplete"),
        ("inconsistent listing", "inconsistent"),
        // A bad ledger entry of this exchange (not a fetch fault, but it was not compared).
        ("ledger ", "ledger"),
        ("configuration:", "config"),
        ("credentials:", "credentials"),
        ("circuit open", "circuit_open"),
    ];
    // Some callers prefix the exchange (`exchange 'x': …`); the kind follows it.
    let error = match error.strip_prefix("exchange '") {
        Some(rest) => rest.split_once("': ").map_or(error, |(_, e)| e),
        None => error,
    };
    PREFIXES
        .iter()
        .find(|(prefix, _)| error.starts_with(prefix))
        .map_or("other", |(_, reason)| reason)
}

/// Liveness and readiness, shared by the daemon's loop and the HTTP handlers.
#[derive(Debug, Default)]
pub struct Health {
    running: AtomicBool,
    /// Unix ms of the last completed cycle; 0 = none yet.
    last_cycle_ms: AtomicI64,
    /// How old the last cycle may be before the daemon is not ready, ms.
    stale_after_ms: AtomicU64,
}

impl Health {
    /// Fresh state: not running, no cycle yet.
    pub fn new(stale_after: Duration) -> Self {
        let h = Self::default();
        h.set_stale_after(stale_after);
        h
    }

    /// The loop started or stopped.
    pub fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::SeqCst);
    }

    /// The loop is running.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// A cycle finished at `at`.
    pub fn cycle_done(&self, at: DateTime<Utc>) {
        self.last_cycle_ms
            .store(at.timestamp_millis().max(1), Ordering::SeqCst);
    }

    /// New staleness bound (after a reload changed the interval).
    pub fn set_stale_after(&self, d: Duration) {
        self.stale_after_ms.store(
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// `Ok` when ready, else why not.
    pub fn ready(&self, now: DateTime<Utc>) -> Result<(), String> {
        let last = self.last_cycle_ms.load(Ordering::SeqCst);
        if last == 0 {
            return Err("no cycle completed yet".into());
        }
        let age = u64::try_from(now.timestamp_millis() - last).unwrap_or(0);
        let bound = self.stale_after_ms.load(Ordering::SeqCst);
        if age > bound {
            return Err(format!(
                "last cycle finished {:.1} s ago (limit {:.1} s)",
                age as f64 / 1000.0,
                bound as f64 / 1000.0
            ));
        }
        Ok(())
    }

    /// The loop runs and has not stalled (no cycle yet counts as fine): what the systemd
    /// watchdog is told.
    pub fn alive(&self, now: DateTime<Utc>) -> bool {
        self.running()
            && (self.last_cycle_ms.load(Ordering::SeqCst) == 0 || self.ready(now).is_ok())
    }
}

/// How old the last cycle may be before `/readyz` says 503: 3 × the interval, plus the
/// cycle budget, so a short interval with a cycle still in flight is not taken for a
/// stalled loop.
pub fn stale_after(interval: Duration, cycle_timeout: Duration) -> Duration {
    interval * 3 + cycle_timeout
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

/// Binds `addr` now, so a port in use is reported before the engine starts.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `/metrics`, `/healthz`, `/readyz` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, health });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn metrics_handler(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], s.metrics.encode()).into_response()
}

async fn healthz(State(s): State<AppState>) -> Response {
    if s.health.running() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "the loop is not running\n").into_response()
    }
}

async fn readyz(State(s): State<AppState>) -> Response {
    match s.health.ready(Utc::now()) {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchanges::ExchangeError;

    /// The reason label depends on the wording of `ExchangeError`'s messages: every
    /// variant is pinned here, so a reworded message fails this test, not a dashboard.
    #[test]
    fn every_exchange_error_has_its_reason() {
        let cases = [
            (
                ExchangeError::Timeout {
                    after_ms: 1,
                    attempts: 3,
                },
                "timeout",
            ),
            (
                ExchangeError::CycleBudget {
                    budget_ms: 2000,
                    attempts: 0,
                },
                "cycle_budget",
            ),
            (
                ExchangeError::Connect {
                    message: "refused".into(),
                    attempts: 1,
                },
                "connect",
            ),
            (
                ExchangeError::RateLimited {
                    retry_after_ms: Some(5),
                    attempts: 3,
                },
                "rate_limited",
            ),
            (
                ExchangeError::Auth {
                    status: 401,
                    message: "no".into(),
                },
                "auth",
            ),
            (
                ExchangeError::Status {
                    status: 503,
                    message: "busy".into(),
                    attempts: 3,
                },
                "http_status",
            ),
            (ExchangeError::Malformed("x".into()), "malformed"),
            (
                ExchangeError::Amount {
                    asset: "BTC".into(),
                    detail: "x".into(),
                },
                "amount",
            ),
            (ExchangeError::Incomplete("x".into()), "incomplete"),
            (ExchangeError::Inconsistent("x".into()), "inconsistent"),
            (ExchangeError::Config("x".into()), "config"),
            (ExchangeError::Credentials("x".into()), "credentials"),
            (
                ExchangeError::CircuitOpen {
                    failures: 5,
                    retry_in_secs: 3,
                },
                "circuit_open",
            ),
        ];
        for (err, reason) in cases {
            assert_eq!(
                error_reason(ExchangeStatus::Error, &err.to_string()),
                reason,
                "{err}"
            );
        }
        assert_eq!(
            error_reason(ExchangeStatus::CircuitOpen, "anything"),
            "circuit_open"
        );
        assert_eq!(
            error_reason(
                ExchangeStatus::Error,
                "exchange 'x': timed out after 1000 ms"
            ),
            "timeout"
        );
        assert_eq!(
            error_reason(
                ExchangeStatus::Error,
                "ledger ledger.toml: [b] BTC is a float (1.5): quote it"
            ),
            "ledger"
        );
        assert_eq!(
            error_reason(ExchangeStatus::Error, "something new"),
            "other"
        );
    }
}
