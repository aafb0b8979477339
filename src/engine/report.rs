//! The report of one cycle, its JSON form (SPEC §3) and its monitoring exit code.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::rules::round_relative;
use crate::domain::{
    format_amount, Asset, BalanceDiscrepancy, DiscrepancySeverity, ExchangeName,
    ReconciliationStatus,
};
use crate::exchanges::{Coverage, ExchangeKind};
use crate::store::audit::timestamp;

/// Health of one exchange in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeStatus {
    /// Fetched and compared.
    Ok,
    /// The fetch (or the comparison) failed.
    Error,
    /// Not asked: the circuit breaker is open.
    CircuitOpen,
}

impl ExchangeStatus {
    /// The word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::CircuitOpen => "circuit_open",
        }
    }
}

/// Breaker state as shown (`closed`, `open`, `half_open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Requests flow.
    Closed,
    /// Requests refused.
    Open,
    /// A trial is due.
    HalfOpen,
}

impl CircuitState {
    /// The word used in JSON and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Both sides of one compared pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    /// The asset.
    pub asset: Asset,
    /// Ledger amount.
    pub local: Decimal,
    /// Exchange amount.
    pub exchange: Decimal,
}

/// One exchange's part of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeReport {
    /// Configured name.
    pub name: ExchangeName,
    /// Venue.
    pub kind: ExchangeKind,
    /// Health this cycle.
    pub status: ExchangeStatus,
    /// Time spent fetching.
    pub latency_ms: u64,
    /// Requests sent.
    pub attempts: u32,
    /// One-line error when not ok.
    pub error: Option<String>,
    /// Compared pairs (empty when not compared: a failed exchange never shows zeros).
    pub balances: Vec<BalanceRow>,
    /// Whether the balances were compared with the ledger this cycle: false when the
    /// exchange failed, the ledger was unreadable or this exchange's ledger entry invalid.
    pub compared: bool,
    /// What the exchange reported when it was fetched but not compared (asset → total, in
    /// asset order), so an unreadable ledger never reads as empty holdings. Empty when
    /// compared or not fetched.
    pub uncompared: Vec<(Asset, Decimal)>,
    /// What the ledger holds on this exchange when the exchange could not be fetched
    /// (asset → ledger amount, in asset order): what is exposed while it is down. Empty
    /// when fetched or when the ledger could not be read. Not part of the JSON report,
    /// whose `balances` stay empty for a failed exchange.
    pub exposed: Vec<(Asset, Decimal)>,
    /// Coverage receipt.
    pub coverage: Coverage,
    /// Last successful fetch, this one included.
    pub last_ok_at: Option<DateTime<Utc>>,
    /// Breaker state after this cycle.
    pub circuit: CircuitState,
}

impl ExchangeReport {
    /// Seconds since the last successful fetch: 0 when this cycle succeeded, `None` if
    /// it never has.
    pub fn stale_secs(&self, finished_at: DateTime<Utc>) -> Option<u64> {
        if self.status == ExchangeStatus::Ok {
            return Some(0);
        }
        self.last_ok_at
            .map(|t| (finished_at - t).num_seconds().max(0) as u64)
    }
}

/// Everything one cycle found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationReport {
    /// Cycle id in the store.
    pub id: i64,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// Wall time.
    pub duration_ms: u64,
    /// Overall status.
    pub status: ReconciliationStatus,
    /// Worst unacknowledged severity.
    pub worst_severity: Option<DiscrepancySeverity>,
    /// Why the ledger could not be read, if it could not.
    pub ledger_error: Option<String>,
    /// Exchanges the ledger has tables for that are not configured: their holdings are
    /// not reconciled by anyone, which the console shows as a banner.
    pub unconfigured: Vec<ExchangeName>,
    /// Per exchange, in config order.
    pub exchanges: Vec<ExchangeReport>,
    /// Discrepancies of the exchanges compared this cycle, acknowledged ones included.
    pub discrepancies: Vec<BalanceDiscrepancy>,
}

/// Status from the parts (SPEC §2).
pub fn classify_status(
    ledger_ok: bool,
    exchanges_ok: usize,
    exchanges_total: usize,
    discrepancies: &[BalanceDiscrepancy],
) -> (ReconciliationStatus, Option<DiscrepancySeverity>) {
    let worst = discrepancies
        .iter()
        .filter(|d| d.is_counted())
        .map(|d| d.severity)
        .max();
    let status = if !ledger_ok || (exchanges_total > 0 && exchanges_ok == 0) {
        ReconciliationStatus::Failed
    } else if exchanges_ok < exchanges_total {
        ReconciliationStatus::Partial
    } else if worst.is_some() {
        ReconciliationStatus::Discrepancies
    } else {
        ReconciliationStatus::Reconciled
    };
    (status, worst)
}

impl ReconciliationReport {
    /// Counted discrepancies: neither acknowledged nor explained.
    pub fn open(&self) -> impl Iterator<Item = &BalanceDiscrepancy> {
        self.discrepancies.iter().filter(|d| d.is_counted())
    }

    /// The Nagios/Icinga exit code of `recon once`: 2 for an unacknowledged high or
    /// critical discrepancy (even if another exchange failed), else 3 when the cycle could
    /// not complete somewhere, else 1 for low/medium, else 0.
    pub fn exit_code(&self) -> u8 {
        match (self.worst_severity, self.status) {
            (Some(DiscrepancySeverity::High | DiscrepancySeverity::Critical), _) => 2,
            (_, ReconciliationStatus::Failed | ReconciliationStatus::Partial) => 3,
            (Some(_), _) => 1,
            (None, _) => 0,
        }
    }

    /// The same report after `updated` was acknowledged (or changed) elsewhere, with status
    /// and worst severity recomputed.
    pub fn with_discrepancy(&self, updated: &BalanceDiscrepancy) -> Self {
        let mut next = self.clone();
        for d in &mut next.discrepancies {
            if d.id == updated.id {
                // The store hands back the discrepancy row, which does not carry the
                // expectations attached this cycle.
                let expected = std::mem::take(&mut d.expected);
                *d = updated.clone();
                if d.expected.is_empty() {
                    d.expected = expected;
                }
            }
        }
        next.reclassified()
    }

    /// The same report with the acknowledgements and expectations as stored now (another
    /// process wrote them: `recon ack`, `recon unack`, `recon expect` in a shell). Only the
    /// episodes on screen are touched — one the store no longer holds open keeps what this
    /// report says until the next cycle — and severity is re-rated on the residual the
    /// stored expectations leave (those past `now` no longer count).
    pub fn with_stored_state(
        &self,
        open: &[crate::store::StoredDiscrepancy],
        expected: &[crate::domain::Expectation],
        severity: &crate::config::SeverityConfig,
        now: DateTime<Utc>,
    ) -> Self {
        use super::rules;
        let mut next = self.clone();
        for d in &mut next.discrepancies {
            let Some(stored) = open.iter().find(|s| {
                s.discrepancy.id == d.id
                    && s.discrepancy.opened_at.timestamp_millis() == d.opened_at.timestamp_millis()
            }) else {
                continue;
            };
            d.acknowledgement = stored.discrepancy.acknowledgement.clone();
            d.expected = expected
                .iter()
                .filter(|e| e.expires_at > now && e.discrepancy_id() == d.id)
                .cloned()
                .collect();
            let magnitude = d.local.abs().max(d.exchange_amount.abs());
            d.severity = match rules::residual(
                d.difference,
                d.expected_total(),
                d.allowed,
                magnitude,
                severity,
            ) {
                Some(r) if !d.expected.is_empty() => r.severity,
                _ => rules::classify(round_relative(d.relative), severity),
            };
        }
        next.reclassified()
    }

    /// Status and worst severity recomputed from the discrepancies.
    fn reclassified(mut self) -> Self {
        let ok = self
            .exchanges
            .iter()
            .filter(|e| e.status == ExchangeStatus::Ok)
            .count();
        let (status, worst) = classify_status(
            self.ledger_error.is_none(),
            ok,
            self.exchanges.len(),
            &self.discrepancies,
        );
        self.status = status;
        self.worst_severity = worst;
        self
    }

    /// The JSON report of SPEC §3 (decimals as strings, exact; `relative` to 10 places).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "started_at": timestamp(self.started_at),
            "finished_at": timestamp(self.finished_at),
            "duration_ms": self.duration_ms,
            "status": self.status.as_str(),
            "worst_severity": self.worst_severity.map(|s| s.as_str()),
            "ledger_error": self.ledger_error,
            "exchanges": self.exchanges.iter().map(|e| self.exchange_json(e)).collect::<Vec<_>>(),
            "discrepancies": self.discrepancies.iter().map(discrepancy_json).collect::<Vec<_>>(),
        })
    }

    fn exchange_json(&self, e: &ExchangeReport) -> Value {
        json!({
            "name": e.name.as_str(),
            "kind": e.kind.as_str(),
            "status": e.status.as_str(),
            "latency_ms": e.latency_ms,
            "attempts": e.attempts,
            "error": e.error,
            "circuit": e.circuit.as_str(),
            "pages": e.coverage.pages,
            "rows": e.coverage.rows,
            "complete": e.coverage.complete,
            "last_ok_at": e.last_ok_at.map(timestamp),
            "stale_secs": e.stale_secs(self.finished_at),
            "compared": e.compared,
            "balances": if e.compared {
                e.balances.iter().map(|b| json!({
                    "asset": b.asset.as_str(),
                    "local": format_amount(b.local),
                    "exchange": format_amount(b.exchange),
                })).collect::<Vec<_>>()
            } else {
                // The local side is unknown, never zero.
                e.uncompared.iter().map(|(asset, exchange)| json!({
                    "asset": asset.as_str(),
                    "local": null,
                    "exchange": format_amount(*exchange),
                })).collect::<Vec<_>>()
            },
        })
    }
}

fn discrepancy_json(d: &BalanceDiscrepancy) -> Value {
    let mut v = json!({
        "id": d.id.as_str(),
        "exchange": d.exchange.as_str(),
        "asset": d.asset.as_str(),
        "kind": d.kind.as_str(),
        "local": format_amount(d.local),
        "exchange_amount": format_amount(d.exchange_amount),
        "difference": format_amount(d.difference),
        "relative": format_amount(round_relative(d.relative)),
        "severity": d.severity.as_str(),
        "acknowledged": d.is_acknowledged(),
        "state": d.state().as_str(),
        "expected": format_amount(d.expected_total()),
        "residual": format_amount(d.residual()),
        "expectations": d.expected.iter().map(|e| json!({
            "id": e.id,
            "difference": format_amount(e.difference),
            "by": e.by,
            "note": e.note,
            "created_at": timestamp(e.created_at),
            "expires_at": timestamp(e.expires_at),
        })).collect::<Vec<_>>(),
        "allowed": format_amount(d.allowed),
        "tolerance_source": d.tolerance_source,
        "opened_at": timestamp(d.opened_at),
    });
    if let (Some(ack), Some(map)) = (&d.acknowledgement, v.as_object_mut()) {
        map.insert("acknowledged_by".into(), json!(ack.by));
        map.insert("ack_note".into(), json!(ack.note));
        map.insert("acknowledged_at".into(), json!(timestamp(ack.at)));
        map.insert(
            "acknowledged_difference".into(),
            json!(format_amount(ack.difference)),
        );
        map.insert(
            "ack_expires_at".into(),
            json!(ack.expires_at.map(timestamp)),
        );
    }
    v
}
