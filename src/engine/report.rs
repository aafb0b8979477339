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
    /// The prices behind the values, with `[valuation]` (`None` without: no value field
    /// appears anywhere). Each discrepancy's own price, value and error are on its
    /// [`BalanceDiscrepancy::valuation`].
    pub valuation: Option<ReportValuation>,
}

/// The state of the price source in a report (SPEC §2, §3), for the header of a front end
/// ("prices stale, 7 min") and the JSON `prices` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportValuation {
    /// The quote currency of every price and value (`USD`).
    pub quote: Asset,
    /// `static`, `http` or `coinbase`.
    pub source: String,
    /// `[valuation] max_age_secs`: an older price is not used.
    pub max_age: std::time::Duration,
    /// When the source last answered (this cycle or an earlier one); `None` if never.
    pub fetched_at: Option<DateTime<Utc>>,
    /// Why the source failed, while no later fetch has succeeded; `None` when this
    /// cycle's fetch succeeded. Never an exchange error.
    pub error: Option<String>,
}

impl ReportValuation {
    /// Whole seconds between the last successful price fetch and `at` (the report's
    /// `finished_at`); `None` if prices were never fetched.
    pub fn age_secs(&self, at: DateTime<Utc>) -> Option<u64> {
        self.fetched_at
            .map(|t| (at - t).num_seconds().max(0) as u64)
    }

    /// Whether the prices are stale at `at`: never fetched, or last fetched longer ago
    /// than `max_age` (their lines then carry no value and say why).
    pub fn is_stale(&self, at: DateTime<Utc>) -> bool {
        match self.fetched_at {
            None => true,
            Some(t) => (at - t).to_std().unwrap_or_default() > self.max_age,
        }
    }
}

/// The value at risk: the sum of the values of the counted (open) discrepancies, in the
/// quote currency, or why it cannot be given (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueAtRisk {
    /// The exact sum; `None` when some counted discrepancy has no value.
    pub value: Option<Decimal>,
    /// Why `value` is `None` (which discrepancy is unpriced, and why).
    pub error: Option<String>,
}

impl ValueAtRisk {
    /// Sums the values of the counted discrepancies among `ds`.
    fn of<'a>(ds: impl Iterator<Item = &'a BalanceDiscrepancy>) -> Self {
        let mut sum = Decimal::ZERO;
        let mut unpriced: Vec<String> = Vec::new();
        let mut overflow = false;
        for d in ds.filter(|d| d.is_counted()) {
            match d.valuation.as_ref().and_then(|v| v.value) {
                Some(v) => match crate::domain::exact_add(sum, v) {
                    Some(s) => sum = s,
                    None => overflow = true,
                },
                None => unpriced.push(
                    match d.valuation.as_ref().and_then(|v| v.price_error.as_deref()) {
                        Some(e) => format!("{} ({e})", d.id),
                        None => d.id.to_string(),
                    },
                ),
            }
        }
        let error = match (unpriced.as_slice(), overflow) {
            ([], false) => None,
            ([], true) => Some("the sum cannot be held exactly in a 96-bit decimal".to_string()),
            ([one], _) => Some(format!("{one} has no value")),
            ([first, rest @ ..], _) => Some(format!(
                "{first} and {} more counted discrepancies have no value",
                rest.len()
            )),
        };
        Self {
            value: error.is_none().then_some(sum),
            error,
        }
    }
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
    /// The value at risk over every exchange; `None` without `[valuation]`. Unknown
    /// (`value: None`, with the reason) when the ledger could not be read or an exchange
    /// was not compared: their open gaps are not in this report, and a total that left
    /// them out would read as less at risk than there is.
    pub fn value_at_risk(&self) -> Option<ValueAtRisk> {
        self.valuation.as_ref()?;
        if self.ledger_error.is_some() {
            return Some(ValueAtRisk {
                value: None,
                error: Some("the ledger could not be read: nothing was compared".into()),
            });
        }
        let blind: Vec<&str> = self
            .exchanges
            .iter()
            .filter(|e| !e.compared)
            .map(|e| e.name.as_str())
            .collect();
        if !blind.is_empty() {
            return Some(ValueAtRisk {
                value: None,
                error: Some(format!(
                    "{} not compared this cycle: {} gaps are unknown",
                    blind.join(", "),
                    if blind.len() == 1 { "its" } else { "their" }
                )),
            });
        }
        Some(ValueAtRisk::of(self.discrepancies.iter()))
    }

    /// The value at risk of one exchange; `None` without `[valuation]`. An exchange not
    /// compared this cycle has none (its gaps are unknown, never zero).
    pub fn exchange_value_at_risk(&self, exchange: &ExchangeName) -> Option<ValueAtRisk> {
        self.valuation.as_ref()?;
        let compared = self
            .exchanges
            .iter()
            .any(|e| &e.name == exchange && e.compared);
        if !compared {
            return Some(ValueAtRisk {
                value: None,
                error: Some(format!("{exchange} was not compared this cycle")),
            });
        }
        Some(ValueAtRisk::of(
            self.discrepancies
                .iter()
                .filter(|d| &d.exchange == exchange),
        ))
    }

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
                let valuation = d.valuation.take();
                *d = updated.clone();
                if d.expected.is_empty() {
                    d.expected = expected;
                }
                // Nor the valuation, which is the price book's, not the store's.
                if d.valuation.is_none() {
                    d.valuation = valuation;
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
            let (relative, gap) = match rules::residual(
                d.difference,
                d.expected_total(),
                d.allowed,
                magnitude,
                severity,
            ) {
                Some(r) if !d.expected.is_empty() => (r.severity, r.residual),
                _ => (
                    rules::classify(round_relative(d.relative), severity),
                    d.difference,
                ),
            };
            // The value's say is re-applied on the same gap (SPEC §2).
            d.severity = match d.valuation.as_mut() {
                Some(v) => v.rate(relative, gap, &severity.value),
                None => relative,
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
        let mut v = json!({
            "id": self.id,
            "started_at": timestamp(self.started_at),
            "finished_at": timestamp(self.finished_at),
            "duration_ms": self.duration_ms,
            "status": self.status.as_str(),
            "worst_severity": self.worst_severity.map(|s| s.as_str()),
            "ledger_error": self.ledger_error,
            "exchanges": self.exchanges.iter().map(|e| self.exchange_json(e)).collect::<Vec<_>>(),
            "discrepancies": self.discrepancies.iter().map(discrepancy_json).collect::<Vec<_>>(),
        });
        if let (Some(p), Some(map)) = (&self.valuation, v.as_object_mut()) {
            let var = self.value_at_risk();
            map.insert("quote".into(), json!(p.quote.as_str()));
            map.insert(
                "value_at_risk".into(),
                json!(var.as_ref().and_then(|r| r.value).map(format_amount)),
            );
            map.insert(
                "value_at_risk_error".into(),
                json!(var.and_then(|r| r.error)),
            );
            map.insert(
                "prices".into(),
                json!({
                    "source": p.source,
                    "fetched_at": p.fetched_at.map(timestamp),
                    "age_secs": p.age_secs(self.finished_at),
                    "max_age_secs": if p.max_age.subsec_nanos() == 0 {
                        json!(p.max_age.as_secs())
                    } else {
                        json!(p.max_age.as_secs_f64())
                    },
                    "stale": p.is_stale(self.finished_at),
                    "error": p.error,
                }),
            );
        }
        v
    }

    fn exchange_json(&self, e: &ExchangeReport) -> Value {
        let mut v = json!({
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
        });
        if let (Some(var), Some(map)) = (self.exchange_value_at_risk(&e.name), v.as_object_mut()) {
            map.insert("value_at_risk".into(), json!(var.value.map(format_amount)));
            map.insert("value_at_risk_error".into(), json!(var.error));
        }
        v
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
    if let (Some(val), Some(map)) = (&d.valuation, v.as_object_mut()) {
        map.insert("price".into(), json!(val.price.map(format_amount)));
        map.insert("price_as_of".into(), json!(val.price_as_of.map(timestamp)));
        map.insert("value".into(), json!(val.value.map(format_amount)));
        map.insert(
            "value_severity".into(),
            json!(val.value_severity.map(|s| s.as_str())),
        );
        map.insert("price_error".into(), json!(val.price_error));
    }
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
