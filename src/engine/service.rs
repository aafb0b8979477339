//! `ConcretePortfolioReconciliationService`: one cycle = read the ledger and fetch every
//! exchange concurrently under the cycle budget, apply the rules, hand the result to the
//! store (which runs the lifecycle inside its transaction), return the report.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::time::Instant;

use super::guard::{self, SeenGap};
use super::lifecycle;
use super::report::{
    classify_status, BalanceRow, CircuitState, ExchangeReport, ExchangeStatus, ReconciliationReport,
};
use super::rules::{self, Finding};
use super::PortfolioReconciliationService;
use crate::config::TradingConfig;
use crate::domain::{now_millis, Asset, BalanceDiscrepancy, ExchangeName};
use crate::error::ReconciliationError;
use crate::exchanges::resilience::{BreakerState, BreakerTransition, CircuitBreaker, Permit};
use crate::exchanges::{Coverage, ExchangeClient, ExchangeError, FetchedBalances};
use crate::ledger::{Ledger, LedgerSource};
use crate::store::thread::StoreHandle;
use crate::store::{
    AuditEvent, AuditKind, CycleInput, CyclePlan, ExchangeRecord, SnapshotPair, SnapshotSet,
};

/// One exchange as the service tracks it across cycles.
struct Slot {
    client: Arc<dyn ExchangeClient>,
    breaker: CircuitBreaker,
    last_ok_at: Option<DateTime<Utc>>,
}

/// What fetching one exchange produced this cycle.
struct Fetched {
    latency_ms: u64,
    result: Result<FetchedBalances, ExchangeError>,
    refused: bool,
    transition: Option<BreakerTransition>,
}

/// The reconciliation service over configured clients, a ledger source and the store.
pub struct ConcretePortfolioReconciliationService {
    config: Arc<TradingConfig>,
    ledger: LedgerSource,
    slots: Vec<Slot>,
    store: StoreHandle,
}

impl ConcretePortfolioReconciliationService {
    /// Builds the service. `last_ok` (from the store) seeds each exchange's staleness.
    pub fn new(
        config: Arc<TradingConfig>,
        clients: Vec<Arc<dyn ExchangeClient>>,
        ledger: LedgerSource,
        store: StoreHandle,
        last_ok: HashMap<ExchangeName, DateTime<Utc>>,
    ) -> Self {
        let cb = &config.circuit_breaker;
        let slots = clients
            .into_iter()
            .map(|client| Slot {
                last_ok_at: last_ok.get(client.name()).copied(),
                breaker: CircuitBreaker::new(cb.failure_threshold, cb.open_for),
                client,
            })
            .collect();
        Self {
            config,
            ledger,
            slots,
            store,
        }
    }

    /// The configuration it runs on.
    pub fn config(&self) -> &Arc<TradingConfig> {
        &self.config
    }

    /// The store it writes to.
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }
}

async fn fetch_one(slot: &mut Slot, budget: Duration) -> Fetched {
    let start = Instant::now();
    let permit = slot.breaker.permit(start);
    if let Permit::Refused { retry_in } = permit {
        return Fetched {
            latency_ms: 0,
            result: Err(ExchangeError::CircuitOpen {
                failures: slot.breaker.consecutive_failures(),
                retry_in_secs: retry_in.as_secs_f64().ceil() as u64,
            }),
            refused: true,
            transition: None,
        };
    }
    let result = match tokio::time::timeout(budget, slot.client.fetch_balances()).await {
        Ok(r) => r,
        Err(_) => Err(ExchangeError::CycleBudget {
            budget_ms: budget.as_millis() as u64,
        }),
    };
    let end = Instant::now();
    // Missing credentials are not a fault of the exchange: the breaker would only replace
    // "COINBASE_API_SECRET is not set" with "circuit open" and hide the fix.
    let transition = match &result {
        Err(ExchangeError::Credentials(_)) => None,
        r => slot.breaker.record(end, r.is_ok()),
    };
    Fetched {
        latency_ms: (end - start).as_millis() as u64,
        result,
        refused: false,
        transition,
    }
}

fn circuit_state(b: &CircuitBreaker) -> CircuitState {
    match b.state() {
        BreakerState::Closed { .. } => CircuitState::Closed,
        BreakerState::Open { .. } => CircuitState::Open,
        BreakerState::HalfOpen => CircuitState::HalfOpen,
    }
}

/// Builds an exchange's report entry, its findings (when compared) and its audit events.
struct Compared {
    report: ExchangeReport,
    findings: Option<Vec<Finding>>,
    events: Vec<AuditEvent>,
    /// Every compared pair (the store writes only the changed ones).
    changed: Vec<SnapshotSet>,
}

/// The snapshot of every compared pair of an exchange. The store writes only those that
/// differ from the latest stored value (and records pairs that went to zero), comparing
/// against the database inside its transaction: a per-process memory of the last cycle
/// would go stale when a cron `once` and the console write the same database.
fn snapshot_rows(exchange: &ExchangeName, rows: &[BalanceRow]) -> Vec<SnapshotSet> {
    vec![SnapshotSet {
        exchange: exchange.to_string(),
        pairs: rows
            .iter()
            .map(|r| SnapshotPair {
                asset: r.asset.clone(),
                local: r.local,
                exchange_amount: r.exchange,
            })
            .collect(),
    }]
}

fn compare(
    cfg: &TradingConfig,
    slot: &mut Slot,
    fetched: Fetched,
    ledger: Option<&Ledger>,
    finished_at: DateTime<Utc>,
) -> Compared {
    let name = slot.client.name().clone();
    let mut events = Vec::new();
    match fetched.transition {
        Some(BreakerTransition::Opened { failures }) => events.push(AuditEvent::new(
            AuditKind::CircuitOpened,
            name.as_str(),
            json!({ "consecutive_failures": failures, "open_secs": cfg.circuit_breaker.open_for.as_secs_f64() }),
        )),
        Some(BreakerTransition::Closed) => events.push(AuditEvent::new(
            AuditKind::CircuitClosed,
            name.as_str(),
            json!({}),
        )),
        None => {}
    }
    let empty = BTreeMap::new();
    let outcome = fetched.result.and_then(|f| match ledger {
        None => Ok((f, None)),
        Some(ledger) => {
            let local = ledger.get(&name).unwrap_or(&empty);
            let pairs = rules::pairs(local, &f.totals, &cfg.tolerance);
            rules::reconcile_pairs(&pairs, &cfg.tolerance, &cfg.severity)
                .map(|findings| {
                    let rows = pairs
                        .into_iter()
                        .filter(|(_, l, e)| !(l.is_zero() && e.is_zero()))
                        .map(|(asset, local, exchange)| BalanceRow {
                            asset,
                            local,
                            exchange,
                        })
                        .collect::<Vec<_>>();
                    (f, Some((findings, rows)))
                })
                .map_err(|e| ExchangeError::Amount {
                    asset: e.asset.to_string(),
                    detail:
                        "the difference from the ledger cannot be held exactly in a 96-bit decimal"
                            .into(),
                })
        }
    });
    let mut report = ExchangeReport {
        name: name.clone(),
        kind: slot.client.kind(),
        status: ExchangeStatus::Ok,
        latency_ms: fetched.latency_ms,
        attempts: 0,
        error: None,
        balances: Vec::new(),
        coverage: Coverage::default(),
        last_ok_at: slot.last_ok_at,
        circuit: circuit_state(&slot.breaker),
    };
    let mut changed = Vec::new();
    let findings = match outcome {
        Ok((f, compared)) => {
            slot.last_ok_at = Some(finished_at);
            report.last_ok_at = Some(finished_at);
            report.attempts = f.attempts;
            report.coverage = f.coverage;
            compared.map(|(findings, rows)| {
                changed = snapshot_rows(&name, &rows);
                report.balances = rows;
                findings
            })
        }
        Err(err) => {
            report.status = if fetched.refused {
                ExchangeStatus::CircuitOpen
            } else {
                ExchangeStatus::Error
            };
            report.attempts = err.attempts();
            report.error = Some(err.to_string());
            if !fetched.refused {
                events.push(AuditEvent::new(
                    AuditKind::ExchangeError,
                    name.as_str(),
                    json!({ "error": err.to_string(), "attempts": err.attempts(), "latency_ms": fetched.latency_ms }),
                ));
            }
            None
        }
    };
    Compared {
        report,
        findings,
        events,
        changed,
    }
}

fn record(e: &ExchangeReport) -> ExchangeRecord {
    ExchangeRecord {
        exchange: e.name.to_string(),
        kind: e.kind.as_str().to_string(),
        status: e.status.as_str().to_string(),
        latency_ms: e.latency_ms,
        attempts: e.attempts,
        error: e.error.clone(),
        pages: e.coverage.pages,
        rows: e.coverage.rows,
        complete: e.coverage.complete,
    }
}

#[async_trait]
impl PortfolioReconciliationService for ConcretePortfolioReconciliationService {
    async fn reconcile(&mut self) -> Result<ReconciliationReport, ReconciliationError> {
        let started_at = now_millis();
        let t0 = Instant::now();
        let budget = self.config.reconciliation.cycle_timeout;
        let (ledger, fetched) = tokio::join!(
            self.ledger.read(),
            futures::future::join_all(self.slots.iter_mut().map(|s| fetch_one(s, budget)))
        );
        let finished_at = now_millis();
        let duration_ms = (Instant::now() - t0).as_millis() as u64;
        let ledger_error = ledger.as_ref().err().map(ToString::to_string);
        let mut exchanges = Vec::with_capacity(self.slots.len());
        let mut findings: BTreeMap<ExchangeName, Vec<Finding>> = BTreeMap::new();
        let mut events = Vec::new();
        let mut snapshots = Vec::new();
        for (slot, f) in self.slots.iter_mut().zip(fetched) {
            let c = compare(&self.config, slot, f, ledger.as_deref().ok(), finished_at);
            if let Some(list) = c.findings {
                findings.insert(c.report.name.clone(), list);
            }
            events.extend(c.events);
            snapshots.extend(c.changed);
            exchanges.push(c.report);
        }
        match &ledger {
            Err(err) => tracing::warn!(error = %err, "ledger unreadable; cycle failed"),
            Ok(l) => {
                // Expectations for an exchange nobody fetches are never reconciled: say so.
                for name in l
                    .keys()
                    .filter(|n| !self.slots.iter().any(|s| s.client.name() == *n))
                {
                    tracing::warn!(exchange = %name, "ledger lists an exchange that is not configured; its balances are not reconciled");
                }
            }
        }
        let ok = exchanges
            .iter()
            .filter(|e| e.status == ExchangeStatus::Ok)
            .count();
        let total = exchanges.len();
        let input = CycleInput {
            started_at,
            finished_at,
            duration_ms,
            ledger_error: ledger_error.clone(),
            exchanges: exchanges.iter().map(record).collect(),
            snapshots,
        };
        let ledger_ok = ledger_error.is_none();
        let (id, plan) = self
            .store
            .call(move |repo| {
                repo.commit_cycle(&input, |open| {
                    let outcome = lifecycle::apply(open, &findings, finished_at);
                    let (status, worst) = classify_status(ledger_ok, ok, total, &outcome.current);
                    let mut all_events = events;
                    all_events.extend(outcome.events);
                    CyclePlan {
                        status,
                        worst,
                        writes: outcome.writes,
                        events: all_events,
                        discrepancies: outcome.current,
                    }
                })
            })
            .await?;
        Ok(ReconciliationReport {
            id,
            started_at,
            finished_at,
            duration_ms,
            status: plan.status,
            worst_severity: plan.worst,
            ledger_error,
            exchanges,
            discrepancies: plan.discrepancies,
        })
    }

    async fn acknowledge(
        &self,
        exchange: ExchangeName,
        asset: Asset,
        by: String,
        note: String,
        seen: Option<SeenGap>,
    ) -> Result<BalanceDiscrepancy, ReconciliationError> {
        acknowledge(&self.store, &self.config, exchange, asset, by, note, seen).await
    }

    fn config(&self) -> Arc<TradingConfig> {
        self.config.clone()
    }
}

/// Records an acknowledgement through the store thread (usable while a cycle runs). With
/// `seen`, the store refuses it unless the open discrepancy is still the gap that was seen
/// (SPEC §2, [`guard::check`] with `config`'s tolerance) and records the difference seen;
/// without, it records the stored difference.
pub async fn acknowledge(
    store: &StoreHandle,
    config: &TradingConfig,
    exchange: ExchangeName,
    asset: Asset,
    by: String,
    note: String,
    seen: Option<SeenGap>,
) -> Result<BalanceDiscrepancy, ReconciliationError> {
    // Only the tolerance crosses to the store thread, not the whole configuration.
    let tolerance = seen.map(|_| config.tolerance.clone());
    let d = store
        .call(move |repo| {
            repo.acknowledge(
                &exchange,
                &asset,
                &by,
                &note,
                now_millis(),
                |current| match (seen, tolerance) {
                    (Some(seen), Some(t)) => {
                        guard::check(&seen, current, &t).map(|()| seen.difference)
                    }
                    _ => Ok(current.difference),
                },
            )
        })
        .await?;
    Ok(d)
}
