//! A discrepancy's history, for the console's detail view: its difference over the
//! stored balance snapshots, and the audit entries about it. Both read by index only
//! (the snapshots' primary key, the audit log's `(event, subject)` index), so opening a
//! detail costs the same with a year of cycles as with a day.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::params;
use rust_decimal::Decimal;

use super::audit::AuditEntry;
use super::{records, ReconciliationRepository, StoreError};
use crate::domain::{exact_sub, Asset, DiscrepancyId, ExchangeName};

/// The audit events that belong to a discrepancy's story: its lifecycle, its
/// acknowledgements and their end, and the expectations declared on it.
pub const HISTORY_EVENTS: [&str; 10] = [
    "discrepancy_opened",
    "discrepancy_changed",
    "discrepancy_acknowledged",
    "acknowledgement_expired",
    "acknowledgement_withdrawn",
    "discrepancy_resolved",
    "expectation_added",
    "expectation_settled",
    "expectation_expired",
    "expectation_cancelled",
];

/// One stored balance snapshot of a pair: the amounts from that cycle on (only changes
/// are stored, so the difference holds until the next point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DifferencePoint {
    /// The cycle that stored it.
    pub cycle_id: i64,
    /// When that cycle finished.
    pub at: DateTime<Utc>,
    /// The ledger amount.
    pub local: Decimal,
    /// The exchange amount.
    pub exchange_amount: Decimal,
    /// `exchange_amount − local`.
    pub difference: Decimal,
}

/// What the detail view of a discrepancy loads: the latest snapshot points and one page
/// of its audit entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiscrepancyHistory {
    /// The latest points, oldest first.
    pub points: Vec<DifferencePoint>,
    /// Audit entries about it, newest first.
    pub events: Vec<AuditEntry>,
}

fn parse_dec(path: &str, what: &'static str, s: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(s).map_err(|_| StoreError::Corrupt {
        path: path.to_string(),
        what,
        value: s.to_string(),
    })
}

impl ReconciliationRepository {
    /// The latest `limit` stored snapshots of `exchange:asset`, oldest first.
    pub fn difference_history(
        &self,
        exchange: &ExchangeName,
        asset: &Asset,
        limit: u32,
    ) -> Result<Vec<DifferencePoint>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.cycle_id, c.finished_at, s.local, s.exchange_amount
                 FROM balance_snapshots s JOIN cycles c ON c.id = s.cycle_id
                 WHERE s.exchange = ?1 AND s.asset = ?2
                 ORDER BY s.cycle_id DESC LIMIT ?3",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![exchange.as_str(), asset.as_str(), limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut points = Vec::new();
        for row in rows {
            let (cycle_id, at, local, on_exchange) = row.map_err(|e| self.sql(e))?;
            let local = parse_dec(&self.path, "snapshot local", &local)?;
            let exchange_amount = parse_dec(&self.path, "snapshot exchange_amount", &on_exchange)?;
            // Never a rounded figure: a difference that cannot be held exactly is an error.
            let difference =
                exact_sub(exchange_amount, local).ok_or_else(|| StoreError::Corrupt {
                    path: self.path.clone(),
                    what: "snapshot difference",
                    value: format!("{on_exchange} - {local}"),
                })?;
            points.push(DifferencePoint {
                cycle_id,
                at: records::parse_time(&self.path, &at)?,
                local,
                exchange_amount,
                difference,
            });
        }
        points.reverse();
        Ok(points)
    }

    /// Audit entries about discrepancy `id` (one of [`HISTORY_EVENTS`] whose subject is
    /// the id, or whose detail names it), newest first, strictly before `before` (a seq).
    pub fn discrepancy_events(
        &self,
        id: &DiscrepancyId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        // The id as JSON writes it (quoted, escaped), so "a:B" never matches "a:BC".
        let named = serde_json::Value::from(id.as_str()).to_string();
        let events = HISTORY_EVENTS
            .iter()
            .map(|e| format!("'{e}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT seq, at, event, subject, detail, prev_hash, hash FROM audit_log
                 WHERE event IN ({events}) AND (subject = ?1 OR instr(detail, ?2) > 0)
                   AND seq < ?3
                 ORDER BY seq DESC LIMIT ?4"
            ))
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(
                params![id.as_str(), named, before.unwrap_or(i64::MAX), limit],
                |r| {
                    Ok(AuditEntry {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        event: r.get(2)?,
                        subject: r.get(3)?,
                        detail: r.get(4)?,
                        prev_hash: r.get(5)?,
                        hash: r.get(6)?,
                    })
                },
            )
            .map_err(|e| self.sql(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.sql(e))
    }

    /// Both halves of a discrepancy's history (see [`DiscrepancyHistory`]).
    pub fn discrepancy_history(
        &self,
        exchange: &ExchangeName,
        asset: &Asset,
        points: u32,
        before: Option<i64>,
        limit: u32,
    ) -> Result<DiscrepancyHistory, StoreError> {
        let id = DiscrepancyId::new(exchange, asset);
        Ok(DiscrepancyHistory {
            points: self.difference_history(exchange, asset, points)?,
            events: self.discrepancy_events(&id, before, limit)?,
        })
    }
}
