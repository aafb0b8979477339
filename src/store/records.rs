//! Row types and the SQL that reads and writes them. All SQL uses bound parameters.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use rust_decimal::Decimal;

use super::audit::{timestamp, AuditEvent};
use super::StoreError;
use crate::domain::{
    format_amount, Acknowledgement, Asset, BalanceDiscrepancy, DiscrepancyId, DiscrepancySeverity,
    ExchangeName, ReconciliationStatus,
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

/// An asset's amounts in a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPair {
    /// Asset symbol.
    pub asset: Asset,
    /// Ledger amount.
    pub local: Decimal,
    /// Exchange amount.
    pub exchange_amount: Decimal,
}

/// Every non-zero pair of one exchange compared in a cycle (an exchange that failed, or
/// any exchange when the ledger could not be read, has no set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSet {
    /// Exchange name.
    pub exchange: String,
    /// Its pairs; an asset stored before and absent now went to zero on both sides.
    pub pairs: Vec<SnapshotPair>,
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
    /// The amounts of every compared exchange. Only pairs that differ from the latest
    /// stored ones are written, and a pair stored before and absent now as `0`/`0`.
    pub snapshots: Vec<SnapshotSet>,
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
    /// Something happened to an expectation (it met its gap, settled, expired).
    MarkExpectation {
        /// The expectation's number.
        id: i64,
        /// What happened.
        mark: super::expectations::Mark,
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

type RawOpen = (i64, [String; 13], [Option<String>; 5]);

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
                    acknowledged_by, ack_note, acknowledged_at, acknowledged_difference,
                    ack_expires_at
             FROM discrepancies WHERE resolved_at IS NULL ORDER BY key",
        )
        .map_err(sql)?;
    let raw: Vec<RawOpen> = stmt
        .query_map([], |r| {
            let mut text: [String; 13] = Default::default();
            for (i, slot) in text.iter_mut().enumerate() {
                *slot = r.get(i + 1)?;
            }
            let mut ack: [Option<String>; 5] = Default::default();
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
                [Some(by), Some(note), Some(at), Some(d), expires] => Some(Acknowledgement {
                    by,
                    note,
                    at: parse_time(path, &at)?,
                    difference: parse_dec(path, "acknowledged_difference", &d)?,
                    expires_at: expires.map(|e| parse_time(path, &e)).transpose()?,
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
                    expected: Vec::new(),
                    valuation: None,
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
/// lookup borrows the names instead of allocating a key, and in decimals so a cycle's
/// unchanged pairs cost neither formatting nor a row. Assets are kept in order so a
/// cycle's pairs, which come in asset order, are matched in one sequential walk rather
/// than a hash probe each (at 10 x 1000 the probes' cache misses were a sixth of the
/// engine's time).
#[derive(Debug, Default)]
pub(super) struct SnapshotCache(HashMap<String, BTreeMap<Asset, (Decimal, Decimal)>>);

/// A snapshot row to write: (exchange, asset, local, exchange amount).
pub(super) type ChangedPair = (String, Asset, Decimal, Decimal);

impl SnapshotCache {
    pub(super) fn insert(&mut self, (exchange, asset, local, on_exchange): ChangedPair) {
        self.0
            .entry(exchange)
            .or_default()
            .insert(asset, (local, on_exchange));
    }
}

/// Reads the latest snapshot of every (exchange, asset) pair. A row that does not parse
/// (hand-edited) is left out, so the next value is simply written again.
pub(super) fn load_latest_snapshots(conn: &Connection) -> rusqlite::Result<SnapshotCache> {
    // One pass in primary-key order; SQLite takes the bare columns of a MAX() aggregate
    // from the row holding the maximum.
    let mut stmt = conn.prepare_cached(
        "SELECT exchange, asset, local, exchange_amount, MAX(cycle_id) FROM balance_snapshots
         GROUP BY exchange, asset",
    )?;
    let mut cache = SnapshotCache::default();
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (exchange, asset, local, on_exchange) = row?;
        if let (Ok(asset), Ok(local), Ok(on_exchange)) = (
            Asset::parse(&asset),
            Decimal::from_str(&local),
            Decimal::from_str(&on_exchange),
        ) {
            cache.insert((exchange, asset, local, on_exchange));
        }
    }
    Ok(cache)
}

/// The snapshots to store: the pairs whose amounts differ from the latest stored ones,
/// and `0`/`0` for pairs of a compared exchange that are stored non-zero but absent now.
fn changed_snapshots(sets: &[SnapshotSet], last: &SnapshotCache) -> Vec<ChangedPair> {
    let is_zero = |(l, x): &(Decimal, Decimal)| l.is_zero() && x.is_zero();
    let mut changed = Vec::new();
    for set in sets {
        let stored = last.0.get(&set.exchange);
        let mut still_there = 0;
        let in_order = set.pairs.windows(2).all(|w| w[0].asset < w[1].asset);
        let mut walk = stored.filter(|_| in_order).map(|m| m.iter().peekable());
        for p in &set.pairs {
            let before = match walk.as_mut() {
                Some(walk) => {
                    while walk.next_if(|(asset, _)| **asset < p.asset).is_some() {}
                    walk.next_if(|(asset, _)| **asset == p.asset)
                        .map(|(_, v)| v)
                }
                None => stored.and_then(|m| m.get(&p.asset)),
            };
            if before.is_some_and(|b| !is_zero(b)) {
                still_there += 1;
            }
            // Decimal equality is numeric: 1.50 and 1.5 are the same balance.
            if before != Some(&(p.local, p.exchange_amount)) {
                changed.push((
                    set.exchange.clone(),
                    p.asset.clone(),
                    p.local,
                    p.exchange_amount,
                ));
            }
        }
        let Some(stored) = stored else { continue };
        // Most cycles lose no asset: only then look for which.
        if stored.values().filter(|v| !is_zero(v)).count() == still_there {
            continue;
        }
        let present: HashSet<&Asset> = set.pairs.iter().map(|p| &p.asset).collect();
        let mut gone: Vec<ChangedPair> = stored
            .iter()
            .filter(|(asset, v)| !is_zero(v) && !present.contains(asset))
            .map(|(asset, _)| {
                let zero = Decimal::ZERO;
                (set.exchange.clone(), asset.clone(), zero, zero)
            })
            .collect();
        gone.sort_by(|a, b| a.1.cmp(&b.1));
        changed.extend(gone);
    }
    changed
}

/// Inserts the snapshots that changed (see [`changed_snapshots`]); returns them.
pub(super) fn insert_snapshots(
    conn: &Connection,
    cycle_id: i64,
    sets: &[SnapshotSet],
    last: &SnapshotCache,
) -> rusqlite::Result<Vec<ChangedPair>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO balance_snapshots (cycle_id, exchange, asset, local, exchange_amount)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let changed = changed_snapshots(sets, last);
    for (exchange, asset, local, on_exchange) in &changed {
        stmt.execute(params![
            cycle_id,
            exchange,
            asset.as_str(),
            format_amount(*local),
            format_amount(*on_exchange)
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
                         ack_note = ?12, acknowledged_at = ?13, acknowledged_difference = ?14,
                         ack_expires_at = ?15
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
                        ack.and_then(|a| a.expires_at.map(timestamp)),
                    ],
                )?;
            }
            DiscrepancyWrite::MarkExpectation { id, mark, at } => {
                super::expectations::insert_mark(conn, *id, *mark, *at)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(asset: &str, local: &str, on_exchange: &str) -> SnapshotPair {
        SnapshotPair {
            asset: Asset::parse(asset).unwrap(),
            local: local.parse().unwrap(),
            exchange_amount: on_exchange.parse().unwrap(),
        }
    }

    fn cache(rows: &[(&str, &str, &str)]) -> SnapshotCache {
        let mut c = SnapshotCache::default();
        for (asset, local, on_exchange) in rows {
            c.insert((
                "ex".into(),
                Asset::parse(asset).unwrap(),
                local.parse().unwrap(),
                on_exchange.parse().unwrap(),
            ));
        }
        c
    }

    fn changed(pairs: Vec<SnapshotPair>, last: &SnapshotCache) -> Vec<String> {
        let sets = [SnapshotSet {
            exchange: "ex".into(),
            pairs,
        }];
        changed_snapshots(&sets, last)
            .into_iter()
            .map(|(_, a, l, x)| format!("{a} {l} {x}"))
            .collect()
    }

    #[test]
    fn pairs_in_asset_order_are_matched_in_one_walk_with_gaps_on_both_sides() {
        let last = cache(&[("ADA", "1", "1"), ("BTC", "2", "2"), ("ETH", "3", "3")]);
        let now = vec![
            pair("AAVE", "5", "5"),
            pair("BTC", "2.0", "2"),
            pair("DOT", "7", "7"),
            pair("ETH", "3", "4"),
        ];
        assert_eq!(
            changed(now, &last),
            ["AAVE 5 5", "DOT 7 7", "ETH 3 4", "ADA 0 0"]
        );
    }

    #[test]
    fn pairs_out_of_order_are_looked_up_one_by_one_with_the_same_result() {
        let last = cache(&[("ADA", "1", "1"), ("BTC", "2", "2"), ("ETH", "3", "3")]);
        let now = vec![
            pair("ETH", "3", "4"),
            pair("DOT", "7", "7"),
            pair("BTC", "2.0", "2"),
            pair("AAVE", "5", "5"),
        ];
        assert_eq!(
            changed(now, &last),
            ["ETH 3 4", "DOT 7 7", "AAVE 5 5", "ADA 0 0"]
        );
    }
}
