//! Row types and the SQL that reads and writes them. All SQL uses bound parameters.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use rust_decimal::Decimal;

use super::audit::{timestamp, AuditEvent};
use super::StoreError;
use crate::domain::{
    Acknowledgement, Asset, BalanceDiscrepancy, DiscrepancyId, DiscrepancySeverity, ExchangeName,
    ReconciliationStatus,
};

/// One exchange's result within a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRecord {
    /// Exchange name.
    pub exchange: String,
    /// Its kind (`coinbase`, …).
    pub kind: String,
    /// `ok`, `error` or `circuit_open`.
    pub status: String,
    /// Time spent fetching.
    pub latency_ms: u64,
    /// Requests sent.
    pub attempts: u32,
    /// One-line error.
    pub error: Option<String>,
    /// Pages read.
    pub pages: u32,
    /// Rows seen.
    pub rows: u32,
    /// Cursor chain exhausted.
    pub complete: bool,
}

/// A (exchange, asset) pair's amounts in a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    /// Exchange name.
    pub exchange: String,
    /// Asset symbol.
    pub asset: String,
    /// Ledger amount (exact text).
    pub local: String,
    /// Exchange amount (exact text).
    pub exchange_amount: String,
}

/// What the engine hands over to be written for one cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleInput {
    /// Cycle start.
    pub started_at: DateTime<Utc>,
    /// Cycle end.
    pub finished_at: DateTime<Utc>,
    /// Wall time.
    pub duration_ms: u64,
    /// Set when the ledger could not be read.
    pub ledger_error: Option<String>,
    /// Per-exchange results.
    pub exchanges: Vec<ExchangeRecord>,
    /// Amounts of every compared pair: all non-zero pairs of each exchange whose status
    /// is `ok` when the ledger was read. Only changed ones are stored; a pair stored
    /// before and absent now is stored as `0`/`0` (it went to zero on both sides).
    pub snapshots: Vec<SnapshotRow>,
}

/// A discrepancy as stored, with its row (one row per open episode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDiscrepancy {
    /// Row id of this episode.
    pub row_id: i64,
    /// Its current state.
    pub discrepancy: BalanceDiscrepancy,
}

/// A change to the discrepancies table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscrepancyWrite {
    /// A new episode.
    Open(BalanceDiscrepancy),
    /// New amounts/severity for an open episode (ack cleared if `acknowledgement` is None).
    Update {
        /// Episode row.
        row_id: i64,
        /// New state.
        discrepancy: BalanceDiscrepancy,
    },
    /// The gap disappeared.
    Resolve {
        /// Episode row.
        row_id: i64,
        /// When.
        at: DateTime<Utc>,
    },
}

/// What the engine decided for a cycle, given the open discrepancies.
#[derive(Debug, Clone, PartialEq)]
pub struct CyclePlan {
    /// Overall status.
    pub status: ReconciliationStatus,
    /// Worst unacknowledged severity.
    pub worst: Option<DiscrepancySeverity>,
    /// Discrepancy table changes.
    pub writes: Vec<DiscrepancyWrite>,
    /// Audit events (exchange errors, circuit changes, lifecycle), before `cycle_completed`.
    pub events: Vec<AuditEvent>,
    /// The discrepancies to report (current state; not written from here).
    pub discrepancies: Vec<BalanceDiscrepancy>,
}

pub(super) fn parse_time(path: &str, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt {
            path: path.to_string(),
            what: "timestamp",
            value: s.to_string(),
        })
}

fn parse_dec(path: &str, what: &'static str, s: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(s).map_err(|_| StoreError::Corrupt {
        path: path.to_string(),
        what,
        value: s.to_string(),
    })
}

fn corrupt(path: &str, what: &'static str, value: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_string(),
        what,
        value: value.to_string(),
    }
}

type RawOpen = (i64, [String; 13], [Option<String>; 4]);

pub(super) fn load_open(
    conn: &Connection,
    path: &str,
) -> Result<Vec<StoredDiscrepancy>, StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_string(),
        source,
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT row_id, key, exchange, asset, kind, local, exchange_amount, difference,
                    relative, severity, allowed, tolerance_source, opened_at, updated_at,
                    acknowledged_by, ack_note, acknowledged_at, acknowledged_difference
             FROM discrepancies WHERE resolved_at IS NULL ORDER BY key",
        )
        .map_err(sql)?;
    let raw: Vec<RawOpen> = stmt
        .query_map([], |r| {
            let mut text: [String; 13] = Default::default();
            for (i, slot) in text.iter_mut().enumerate() {
                *slot = r.get(i + 1)?;
            }
            let mut ack: [Option<String>; 4] = Default::default();
            for (i, slot) in ack.iter_mut().enumerate() {
                *slot = r.get(i + 14)?;
            }
            Ok((r.get(0)?, text, ack))
        })
        .map_err(sql)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql)?;
    raw.into_iter()
        .map(|(row_id, t, ack)| {
            let [_key, exchange, asset, kind, local, exch, diff, rel, sev, allowed, source, opened, _updated] =
                t;
            let exchange = ExchangeName::new(exchange);
            let asset = Asset::parse(&asset).map_err(|_| corrupt(path, "asset", &asset))?;
            let acknowledgement = match ack {
                [Some(by), Some(note), Some(at), Some(d)] => Some(Acknowledgement {
                    by,
                    note,
                    at: parse_time(path, &at)?,
                    difference: parse_dec(path, "acknowledged_difference", &d)?,
                }),
                _ => None,
            };
            Ok(StoredDiscrepancy {
                row_id,
                discrepancy: BalanceDiscrepancy {
                    id: DiscrepancyId::new(&exchange, &asset),
                    kind: kind.parse().map_err(|_| corrupt(path, "kind", &kind))?,
                    local: parse_dec(path, "local", &local)?,
                    exchange_amount: parse_dec(path, "exchange_amount", &exch)?,
                    difference: parse_dec(path, "difference", &diff)?,
                    relative: parse_dec(path, "relative", &rel)?,
                    severity: sev.parse().map_err(|_| corrupt(path, "severity", &sev))?,
                    allowed: parse_dec(path, "allowed", &allowed)?,
                    tolerance_source: source,
                    opened_at: parse_time(path, &opened)?,
                    acknowledgement,
                    exchange,
                    asset,
                },
            })
        })
        .collect()
}

pub(super) fn insert_cycle(
    conn: &Connection,
    input: &CycleInput,
    plan: &CyclePlan,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO cycles (started_at, finished_at, duration_ms, status, worst_severity, ledger_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            timestamp(input.started_at),
            timestamp(input.finished_at),
            input.duration_ms as i64,
            plan.status.as_str(),
            plan.worst.map(|s| s.as_str()),
            input.ledger_error,
        ],
    )?;
    let id = conn.last_insert_rowid();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO cycle_exchanges (cycle_id, exchange, kind, status, latency_ms, attempts,
             error, pages, rows, complete) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for e in &input.exchanges {
        stmt.execute(params![
            id,
            e.exchange,
            e.kind,
            e.status,
            e.latency_ms as i64,
            e.attempts,
            e.error,
            e.pages,
            e.rows,
            e.complete,
        ])?;
    }
    Ok(id)
}

/// The latest stored (local, exchange amount) per exchange, then asset: nested so a
/// lookup borrows the row's names instead of allocating a key.
#[derive(Debug, Default)]
pub(super) struct SnapshotCache(HashMap<String, HashMap<String, (String, String)>>);

impl SnapshotCache {
    fn unchanged(&self, r: &SnapshotRow) -> bool {
        self.0
            .get(&r.exchange)
            .and_then(|m| m.get(&r.asset))
            .is_some_and(|(l, e)| *l == r.local && *e == r.exchange_amount)
    }

    pub(super) fn insert(&mut self, r: SnapshotRow) {
        self.0
            .entry(r.exchange)
            .or_default()
            .insert(r.asset, (r.local, r.exchange_amount));
    }
}

/// Reads the latest snapshot of every (exchange, asset) pair.
pub(super) fn load_latest_snapshots(conn: &Connection) -> rusqlite::Result<SnapshotCache> {
    let mut stmt = conn.prepare_cached(
        "SELECT exchange, asset, local, exchange_amount FROM balance_snapshots s
         WHERE cycle_id = (SELECT MAX(cycle_id) FROM balance_snapshots
                           WHERE exchange = s.exchange AND asset = s.asset)",
    )?;
    let mut cache = SnapshotCache::default();
    let rows = stmt.query_map([], |r| {
        Ok(SnapshotRow {
            exchange: r.get(0)?,
            asset: r.get(1)?,
            local: r.get(2)?,
            exchange_amount: r.get(3)?,
        })
    })?;
    for row in rows {
        cache.insert(row?);
    }
    Ok(cache)
}

/// The snapshots to store: the pairs whose amounts differ from the latest stored ones,
/// and `0`/`0` for pairs of a compared exchange that are stored non-zero but absent now.
fn changed_snapshots(input: &CycleInput, last: &SnapshotCache) -> Vec<SnapshotRow> {
    let mut changed: Vec<SnapshotRow> = input
        .snapshots
        .iter()
        .filter(|r| !last.unchanged(r))
        .cloned()
        .collect();
    if input.ledger_error.is_some() {
        return changed;
    }
    for e in input.exchanges.iter().filter(|e| e.status == "ok") {
        let Some(stored) = last.0.get(&e.exchange) else {
            continue;
        };
        let present: HashSet<&str> = input
            .snapshots
            .iter()
            .filter(|r| r.exchange == e.exchange)
            .map(|r| r.asset.as_str())
            .collect();
        let mut gone: Vec<SnapshotRow> = stored
            .iter()
            .filter(|(asset, (l, x))| {
                let zero = l == "0" && x == "0";
                !zero && !present.contains(asset.as_str())
            })
            .map(|(asset, _)| SnapshotRow {
                exchange: e.exchange.clone(),
                asset: asset.clone(),
                local: "0".into(),
                exchange_amount: "0".into(),
            })
            .collect();
        gone.sort_by(|a, b| a.asset.cmp(&b.asset));
        changed.extend(gone);
    }
    changed
}

/// Inserts the snapshots that changed (see [`changed_snapshots`]); returns them.
pub(super) fn insert_snapshots(
    conn: &Connection,
    cycle_id: i64,
    input: &CycleInput,
    last: &SnapshotCache,
) -> rusqlite::Result<Vec<SnapshotRow>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO balance_snapshots (cycle_id, exchange, asset, local, exchange_amount)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let changed = changed_snapshots(input, last);
    for r in &changed {
        stmt.execute(params![
            cycle_id,
            r.exchange,
            r.asset,
            r.local,
            r.exchange_amount
        ])?;
    }
    Ok(changed)
}

pub(super) fn apply_writes(conn: &Connection, writes: &[DiscrepancyWrite]) -> rusqlite::Result<()> {
    for w in writes {
        match w {
            DiscrepancyWrite::Open(d) => {
                let ts = timestamp(d.opened_at);
                conn.execute(
                    "INSERT INTO discrepancies (key, exchange, asset, kind, local, exchange_amount,
                         difference, relative, severity, allowed, tolerance_source, opened_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                    params![
                        d.id.as_str(),
                        d.exchange.as_str(),
                        d.asset.as_str(),
                        d.kind.as_str(),
                        d.local.to_string(),
                        d.exchange_amount.to_string(),
                        d.difference.to_string(),
                        d.relative.to_string(),
                        d.severity.as_str(),
                        d.allowed.to_string(),
                        d.tolerance_source,
                        ts,
                    ],
                )?;
            }
            DiscrepancyWrite::Update {
                row_id,
                discrepancy: d,
            } => {
                let ack = d.acknowledgement.as_ref();
                conn.execute(
                    "UPDATE discrepancies SET kind = ?2, local = ?3, exchange_amount = ?4,
                         difference = ?5, relative = ?6, severity = ?7, allowed = ?8,
                         tolerance_source = ?9, updated_at = ?10, acknowledged_by = ?11,
                         ack_note = ?12, acknowledged_at = ?13, acknowledged_difference = ?14
                     WHERE row_id = ?1",
                    params![
                        row_id,
                        d.kind.as_str(),
                        d.local.to_string(),
                        d.exchange_amount.to_string(),
                        d.difference.to_string(),
                        d.relative.to_string(),
                        d.severity.as_str(),
                        d.allowed.to_string(),
                        d.tolerance_source,
                        timestamp(Utc::now()),
                        ack.map(|a| a.by.clone()),
                        ack.map(|a| a.note.clone()),
                        ack.map(|a| timestamp(a.at)),
                        ack.map(|a| a.difference.to_string()),
                    ],
                )?;
            }
            DiscrepancyWrite::Resolve { row_id, at } => {
                conn.execute(
                    "UPDATE discrepancies SET resolved_at = ?2, updated_at = ?2 WHERE row_id = ?1",
                    params![row_id, timestamp(*at)],
                )?;
            }
        }
    }
    Ok(())
}
