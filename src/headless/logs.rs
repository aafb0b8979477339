//! What the daemon writes to its log for each cycle: one line with the cycle's figures,
//! and one line per lifecycle change (a discrepancy opened, escalated, reopened, resolved;
//! an exchange down or back up), found by comparing each report with what was known.
//!
//! Lines go through `tracing`, so they reach the rolling file and stderr in the
//! configured format. Error texts come from the exchange clients, which never put a
//! secret in them; no URL or header is logged here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::domain::{format_amount, BalanceDiscrepancy, DiscrepancyId, DiscrepancySeverity};
use crate::domain::{ExchangeName, ReconciliationStatus};
use crate::engine::{ExchangeStatus, ReconciliationReport};

/// A change between two consecutive cycles, as the log and the metrics see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A discrepancy appeared.
    Opened(BalanceDiscrepancy),
    /// Its severity rose.
    Escalated {
        /// The discrepancy now.
        now: BalanceDiscrepancy,
        /// Its severity before.
        from: DiscrepancySeverity,
    },
    /// Its severity fell (still outside tolerance).
    Eased {
        /// The discrepancy now.
        now: BalanceDiscrepancy,
        /// Its severity before.
        from: DiscrepancySeverity,
    },
    /// Someone acknowledged it.
    Acknowledged(BalanceDiscrepancy),
    /// Its acknowledgement lapsed: it counts again.
    Reopened(BalanceDiscrepancy),
    /// It disappeared in a successful comparison.
    Resolved {
        /// The discrepancy as last seen.
        last: BalanceDiscrepancy,
        /// When that was noticed (the report's end).
        at: DateTime<Utc>,
    },
    /// Its exchange is no longer configured (a reload removed it): no longer watched.
    Forgotten(BalanceDiscrepancy),
    /// An exchange could not be compared after being fine (or from the start).
    ExchangeDown {
        /// The exchange.
        exchange: ExchangeName,
        /// Its one-line error.
        error: String,
    },
    /// An exchange was compared again after being down.
    ExchangeUp {
        /// The exchange.
        exchange: ExchangeName,
    },
}

/// Remembers the discrepancies and exchange health seen so far, so each report can be
/// turned into [`Change`]s. Discrepancies of an exchange that was not compared this cycle
/// are kept as they were: a failed fetch never resolves anything.
#[derive(Debug, Default)]
pub struct Tracker {
    known: BTreeMap<DiscrepancyId, BalanceDiscrepancy>,
    up: BTreeMap<ExchangeName, bool>,
}

impl Tracker {
    /// Starts from the discrepancies open in the store, so a restart reports no change
    /// for what was already open.
    pub fn resume(open: Vec<BalanceDiscrepancy>) -> Self {
        Self {
            known: open.into_iter().map(|d| (d.id.clone(), d)).collect(),
            up: BTreeMap::new(),
        }
    }

    /// Every discrepancy believed open, acknowledged ones included.
    pub fn known(&self) -> impl Iterator<Item = &BalanceDiscrepancy> + Clone {
        self.known.values()
    }

    /// Takes in one report and says what changed since the previous one.
    pub fn observe(&mut self, report: &ReconciliationReport) -> Vec<Change> {
        let mut changes = Vec::new();
        let configured: BTreeSet<&ExchangeName> =
            report.exchanges.iter().map(|e| &e.name).collect();
        let compared: BTreeSet<&ExchangeName> = report
            .exchanges
            .iter()
            .filter(|e| e.status == ExchangeStatus::Ok && report.ledger_error.is_none())
            .map(|e| &e.name)
            .collect();
        for e in &report.exchanges {
            let ok = e.status == ExchangeStatus::Ok;
            match (self.up.insert(e.name.clone(), ok), ok) {
                (Some(true) | None, false) => changes.push(Change::ExchangeDown {
                    exchange: e.name.clone(),
                    error: e.error.clone().unwrap_or_else(|| e.status.as_str().into()),
                }),
                (Some(false), true) => changes.push(Change::ExchangeUp {
                    exchange: e.name.clone(),
                }),
                _ => {}
            }
        }
        self.up.retain(|name, _| configured.contains(name));

        let mut seen = BTreeSet::new();
        for d in &report.discrepancies {
            seen.insert(d.id.clone());
            let change = match self.known.insert(d.id.clone(), d.clone()) {
                None => Some(Change::Opened(d.clone())),
                Some(p) if !p.is_counted() && d.is_counted() => Some(Change::Reopened(d.clone())),
                Some(p) if d.severity > p.severity => Some(Change::Escalated {
                    now: d.clone(),
                    from: p.severity,
                }),
                Some(p) if d.severity < p.severity => Some(Change::Eased {
                    now: d.clone(),
                    from: p.severity,
                }),
                Some(p) if !p.is_acknowledged() && d.is_acknowledged() => {
                    Some(Change::Acknowledged(d.clone()))
                }
                Some(_) => None,
            };
            changes.extend(change);
        }
        let gone: Vec<DiscrepancyId> = self
            .known
            .iter()
            .filter(|(id, d)| {
                !seen.contains(*id)
                    && (compared.contains(&d.exchange) || !configured.contains(&d.exchange))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some(last) = self.known.remove(&id) {
                changes.push(if configured.contains(&last.exchange) {
                    Change::Resolved {
                        last,
                        at: report.finished_at,
                    }
                } else {
                    Change::Forgotten(last)
                });
            }
        }
        changes
    }
}

/// Counts of the known discrepancies by state (`open` = counted, `acknowledged`, `explained`) and
/// severity, every combination present (zeros included), mildest first.
pub fn counts<'a>(
    known: impl Iterator<Item = &'a BalanceDiscrepancy>,
) -> Vec<(&'static str, DiscrepancySeverity, u64)> {
    let mut out: Vec<(&'static str, DiscrepancySeverity, u64)> =
        ["open", "acknowledged", "explained"]
            .into_iter()
            .flat_map(|state| DiscrepancySeverity::ALL.map(|s| (state, s, 0)))
            .collect();
    for d in known {
        let state = d.state().as_str();
        if let Some(slot) = out
            .iter_mut()
            .find(|(st, sev, _)| *st == state && *sev == d.severity)
        {
            slot.2 += 1;
        }
    }
    out
}

/// Writes the cycle's line: status, duration, per-exchange latency/attempts/error (as a
/// JSON array in `exchanges`) and the counts of discrepancies by state and severity.
pub fn log_cycle<'a>(
    report: &ReconciliationReport,
    known: impl Iterator<Item = &'a BalanceDiscrepancy>,
) {
    let exchanges = json!(report
        .exchanges
        .iter()
        .map(|e| json!({
            "name": e.name.as_str(),
            "status": e.status.as_str(),
            "latency_ms": e.latency_ms,
            "attempts": e.attempts,
            "error": e.error,
            "circuit": e.circuit.as_str(),
        }))
        .collect::<Vec<_>>())
    .to_string();
    let counts = counts(known);
    let get = |state: &str, sev: DiscrepancySeverity| {
        counts
            .iter()
            .find(|(st, s, _)| *st == state && *s == sev)
            .map_or(0, |c| c.2)
    };
    let acknowledged: u64 = counts
        .iter()
        .filter(|c| c.0 == "acknowledged")
        .map(|c| c.2)
        .sum();
    let explained: u64 = counts
        .iter()
        .filter(|c| c.0 == "explained")
        .map(|c| c.2)
        .sum();
    let ok = report
        .exchanges
        .iter()
        .filter(|e| e.status == ExchangeStatus::Ok)
        .count();
    // With [valuation]: the value at risk as an exact decimal string (absent when
    // unknown) and why prices are missing, if they are.
    let value_at_risk = report
        .value_at_risk()
        .and_then(|v| v.value)
        .map(format_amount);
    let prices_error = report.valuation.as_ref().and_then(|p| p.error.as_deref());
    macro_rules! cycle_line {
        ($level:ident) => {
            tracing::$level!(
                event = "cycle",
                cycle_id = report.id,
                status = report.status.as_str(),
                duration_ms = report.duration_ms,
                worst_severity = report.worst_severity.map(DiscrepancySeverity::as_str),
                ledger_error = report.ledger_error.as_deref(),
                exchanges_ok = ok,
                exchanges_total = report.exchanges.len(),
                open_low = get("open", DiscrepancySeverity::Low),
                open_medium = get("open", DiscrepancySeverity::Medium),
                open_high = get("open", DiscrepancySeverity::High),
                open_critical = get("open", DiscrepancySeverity::Critical),
                acknowledged,
                explained,
                value_at_risk = value_at_risk.as_deref(),
                prices_error,
                exchanges = %exchanges,
                "cycle completed"
            )
        };
    }
    match report.status {
        ReconciliationStatus::Failed => cycle_line!(warn),
        _ => cycle_line!(info),
    }
}

/// Writes one line for a lifecycle change.
pub fn log_change(change: &Change) {
    match change {
        Change::Opened(d) => tracing::warn!(
            event = "discrepancy_opened",
            discrepancy = d.id.as_str(),
            severity = d.severity.as_str(),
            difference = %format_amount(d.difference),
            "discrepancy opened"
        ),
        Change::Escalated { now, from } => tracing::warn!(
            event = "discrepancy_escalated",
            discrepancy = now.id.as_str(),
            severity = now.severity.as_str(),
            previous_severity = from.as_str(),
            difference = %format_amount(now.difference),
            "discrepancy escalated"
        ),
        Change::Eased { now, from } => tracing::info!(
            event = "discrepancy_eased",
            discrepancy = now.id.as_str(),
            severity = now.severity.as_str(),
            previous_severity = from.as_str(),
            difference = %format_amount(now.difference),
            "discrepancy severity fell"
        ),
        Change::Acknowledged(d) => tracing::info!(
            event = "discrepancy_acknowledged",
            discrepancy = d.id.as_str(),
            severity = d.severity.as_str(),
            by = d.acknowledgement.as_ref().map(|a| a.by.as_str()),
            "discrepancy acknowledged"
        ),
        Change::Reopened(d) => tracing::warn!(
            event = "discrepancy_reopened",
            discrepancy = d.id.as_str(),
            severity = d.severity.as_str(),
            difference = %format_amount(d.difference),
            "acknowledgement lapsed; discrepancy counts again"
        ),
        Change::Resolved { last, at } => tracing::info!(
            event = "discrepancy_resolved",
            discrepancy = last.id.as_str(),
            severity = last.severity.as_str(),
            open_secs = (*at - last.opened_at).num_seconds().max(0),
            "discrepancy resolved"
        ),
        Change::Forgotten(d) => tracing::info!(
            event = "discrepancy_unwatched",
            discrepancy = d.id.as_str(),
            "exchange no longer configured; its discrepancy is no longer watched"
        ),
        Change::ExchangeDown { exchange, error } => tracing::warn!(
            event = "exchange_down",
            exchange = exchange.as_str(),
            error = error.as_str(),
            "exchange down"
        ),
        Change::ExchangeUp { exchange } => tracing::info!(
            event = "exchange_up",
            exchange = exchange.as_str(),
            "exchange up"
        ),
    }
}
