//! Retention (`[storage] retain_days`): a daemon runs for months, and every cycle adds a
//! cycle row, one row per exchange and a snapshot per changed balance. Rows older than the
//! retention are pruned in small batches by the store thread while it is idle, so a cycle
//! commit never waits behind more than one batch; freed pages go back to the file system
//! with `PRAGMA incremental_vacuum`.
//!
//! Never pruned: the audit log, discrepancies (open or resolved) and acknowledgements
//! (both reference nothing here), alert state, the LATEST snapshot of every
//! (exchange, asset) pair however old (it is the baseline of change-only snapshots), the
//! latest successful row of every exchange (its "last ok" time) and the cycles those rows
//! belong to. `audit verify` checks that each *remaining* cycle has its entry, so pruning
//! a cycle row leaves the chain verifiable.
//!
//! Why by hand: SQLite has no TTL, and the rules above are ours.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::audit::timestamp;

/// Rows examined per transaction: a cycle commit waits behind at most this much work.
pub const BATCH: usize = 500;
/// Free pages returned to the file system per step.
const VACUUM_PAGES: i64 = 2000;
/// Time between pruning rounds.
pub const EVERY: Duration = Duration::from_secs(300);
/// Delay before the first round after start, so start-up is not slowed.
pub const FIRST_AFTER: Duration = Duration::from_secs(30);

/// Rows removed (and pages freed) by one round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneStats {
    /// Balance snapshots deleted.
    pub snapshots: u64,
    /// Per-cycle exchange rows deleted.
    pub cycle_exchanges: u64,
    /// Cycle rows deleted.
    pub cycles: u64,
    /// Pages handed back by incremental vacuum.
    pub pages_freed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Snapshots { after_rowid: i64 },
    CycleExchanges { after: (i64, String) },
    Cycles { after_id: i64 },
    Vacuum,
}

/// One pruning round in progress: everything in cycles up to `cut` is old.
#[derive(Debug, Clone)]
struct Round {
    cut: i64,
    phase: Phase,
    stats: PruneStats,
}

/// When and how much the store thread prunes.
#[derive(Debug, Clone)]
pub struct Schedule {
    keep: chrono::Duration,
    every: Duration,
    next_at: std::time::Instant,
    round: Option<Round>,
}

impl Schedule {
    /// Keeps `keep` of history; a round every `every`, the first after `first_after`.
    pub fn new(keep: chrono::Duration, every: Duration, first_after: Duration) -> Self {
        Self {
            keep,
            every,
            next_at: std::time::Instant::now() + first_after,
            round: None,
        }
    }

    /// Keeps `days` days, on the default timetable.
    pub fn days(days: u32) -> Self {
        Self::new(chrono::Duration::days(days.into()), EVERY, FIRST_AFTER)
    }

    /// How long the store thread may sleep before the next step is due (zero while a
    /// round is in progress).
    pub fn due_in(&self) -> Duration {
        if self.round.is_some() {
            Duration::ZERO
        } else {
            self.next_at
                .saturating_duration_since(std::time::Instant::now())
        }
    }

    /// Runs one bounded step (starting a round if one is due). Returns the round's
    /// totals when this step finished it.
    pub fn step(&mut self, conn: &mut Connection) -> rusqlite::Result<Option<PruneStats>> {
        if self.round.is_none() {
            if self.due_in() > Duration::ZERO {
                return Ok(None);
            }
            match start(conn, Utc::now() - self.keep)? {
                Some(round) => self.round = Some(round),
                None => {
                    self.next_at = std::time::Instant::now() + self.every;
                    return Ok(Some(PruneStats::default()));
                }
            }
        }
        let Some(round) = self.round.as_mut() else {
            return Ok(None);
        };
        let result = step(conn, round);
        match result {
            Ok(true) => {
                let stats = round.stats;
                self.round = None;
                self.next_at = std::time::Instant::now() + self.every;
                Ok(Some(stats))
            }
            Ok(false) => Ok(None),
            Err(e) => {
                // Try again next round rather than spin on a failing statement.
                self.round = None;
                self.next_at = std::time::Instant::now() + self.every;
                Err(e)
            }
        }
    }
}

/// Prunes everything older than `cutoff` now, batch by batch (tests, benchmarks).
pub fn prune_all(conn: &mut Connection, cutoff: DateTime<Utc>) -> rusqlite::Result<PruneStats> {
    let Some(mut round) = start(conn, cutoff)? else {
        return Ok(PruneStats::default());
    };
    while !step(conn, &mut round)? {}
    Ok(round.stats)
}

/// The newest cycle that finished before `cutoff`. Cycle ids grow with time (both are
/// assigned in the committing transaction), so a binary search over ids costs ~20 index
/// lookups instead of a scan of months of cycles.
fn cut_cycle(conn: &Connection, cutoff: DateTime<Utc>) -> rusqlite::Result<Option<i64>> {
    let cutoff = timestamp(cutoff);
    let bounds: (Option<i64>, Option<i64>) =
        conn.query_row("SELECT MIN(id), MAX(id) FROM cycles", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(mut lo), Some(mut hi)) = bounds else {
        return Ok(None);
    };
    let mut first_at = conn
        .prepare_cached("SELECT id, finished_at FROM cycles WHERE id >= ?1 ORDER BY id LIMIT 1")?;
    let mut best = None;
    // Invariant: every old cycle found so far is <= best; search [lo, hi].
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let row: Option<(i64, String)> = first_at
            .query_row([mid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            Some((id, at)) if id <= hi && at < cutoff => {
                best = Some(id);
                lo = id + 1;
            }
            _ => hi = mid - 1,
        }
    }
    Ok(best)
}

fn start(conn: &Connection, cutoff: DateTime<Utc>) -> rusqlite::Result<Option<Round>> {
    Ok(cut_cycle(conn, cutoff)?.map(|cut| Round {
        cut,
        phase: Phase::Snapshots { after_rowid: 0 },
        stats: PruneStats::default(),
    }))
}

/// One transaction's worth of work; `true` when the round is complete.
fn step(conn: &mut Connection, round: &mut Round) -> rusqlite::Result<bool> {
    let cut = round.cut;
    match round.phase.clone() {
        Phase::Snapshots { after_rowid } => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (deleted, last) = prune_snapshots(&tx, cut, after_rowid)?;
            tx.commit()?;
            round.stats.snapshots += deleted;
            round.phase = match last {
                Some(after_rowid) => Phase::Snapshots { after_rowid },
                None => Phase::CycleExchanges {
                    after: (0, String::new()),
                },
            };
        }
        Phase::CycleExchanges { after } => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (deleted, last) = prune_cycle_exchanges(&tx, cut, &after)?;
            tx.commit()?;
            round.stats.cycle_exchanges += deleted;
            round.phase = match last {
                Some(after) => Phase::CycleExchanges { after },
                None => Phase::Cycles { after_id: 0 },
            };
        }
        Phase::Cycles { after_id } => {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (deleted, last) = prune_cycles(&tx, cut, after_id)?;
            tx.commit()?;
            round.stats.cycles += deleted;
            round.phase = match last {
                Some(after_id) => Phase::Cycles { after_id },
                None => Phase::Vacuum,
            };
        }
        Phase::Vacuum => {
            let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            if free == 0 {
                // Copy the shrunken database back so the file itself gets smaller; PASSIVE
                // never waits on readers.
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
                return Ok(true);
            }
            conn.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
            let after: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            round.stats.pages_freed += (free - after).max(0) as u64;
            if after >= free {
                // auto_vacuum is off (a database this build could not convert): nothing
                // more to hand back.
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Snapshots of old cycles that a newer snapshot of the same pair supersedes. Walks the
/// table in rowid (= insertion) order from `after`; returns the deleted count and where to
/// continue, or `None` once past the old cycles.
fn prune_snapshots(
    conn: &Connection,
    cut: i64,
    after: i64,
) -> rusqlite::Result<(u64, Option<i64>)> {
    let rows: Vec<(i64, i64, String, String)> = conn
        .prepare_cached(
            "SELECT rowid, cycle_id, exchange, asset FROM balance_snapshots
             WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        )?
        .query_map(params![after, BATCH as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut newer = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM balance_snapshots
                        WHERE exchange = ?1 AND asset = ?2 AND cycle_id > ?3)",
    )?;
    let mut delete = conn.prepare_cached("DELETE FROM balance_snapshots WHERE rowid = ?1")?;
    let mut deleted = 0;
    let full = rows.len() == BATCH;
    let mut last = None;
    for (rowid, cycle_id, exchange, asset) in rows {
        if cycle_id > cut {
            return Ok((deleted, None));
        }
        last = Some(rowid);
        if newer.query_row(params![exchange, asset, cycle_id], |r| r.get::<_, bool>(0))? {
            deleted += delete.execute([rowid])? as u64;
        }
    }
    Ok((deleted, if full { last } else { None }))
}

/// Per-exchange rows of old cycles, except each exchange's latest successful one (its
/// "last ok" time survives a restart however long it has been failing).
fn prune_cycle_exchanges(
    conn: &Connection,
    cut: i64,
    after: &(i64, String),
) -> rusqlite::Result<(u64, Option<(i64, String)>)> {
    let rows: Vec<(i64, i64, String)> = conn
        .prepare_cached(
            "SELECT rowid, cycle_id, exchange FROM cycle_exchanges
             WHERE (cycle_id, exchange) > (?1, ?2) AND cycle_id <= ?3
             ORDER BY cycle_id, exchange LIMIT ?4",
        )?
        .query_map(params![after.0, after.1, cut, BATCH as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut latest_ok = conn.prepare_cached(
        "SELECT MAX(cycle_id) FROM cycle_exchanges WHERE exchange = ?1 AND status = 'ok'",
    )?;
    let mut delete = conn.prepare_cached("DELETE FROM cycle_exchanges WHERE rowid = ?1")?;
    let mut keep: HashMap<String, Option<i64>> = HashMap::new();
    let full = rows.len() == BATCH;
    let mut deleted = 0;
    let mut last = None;
    for (rowid, cycle_id, exchange) in rows {
        let kept = match keep.get(&exchange) {
            Some(k) => *k,
            None => {
                let k: Option<i64> = latest_ok.query_row([&exchange], |r| r.get(0))?;
                keep.insert(exchange.clone(), k);
                k
            }
        };
        if kept != Some(cycle_id) {
            deleted += delete.execute([rowid])? as u64;
        }
        last = Some((cycle_id, exchange));
    }
    Ok((deleted, if full { last } else { None }))
}

/// Old cycle rows that no remaining snapshot or exchange row refers to.
fn prune_cycles(conn: &Connection, cut: i64, after: i64) -> rusqlite::Result<(u64, Option<i64>)> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM cycles WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3")?
        .query_map(params![after, cut, BATCH as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut referenced = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM balance_snapshots WHERE cycle_id = ?1)
             OR EXISTS (SELECT 1 FROM cycle_exchanges WHERE cycle_id = ?1)",
    )?;
    let mut delete = conn.prepare_cached("DELETE FROM cycles WHERE id = ?1")?;
    let full = ids.len() == BATCH;
    let mut deleted = 0;
    for &id in &ids {
        if !referenced.query_row([id], |r| r.get::<_, bool>(0))? {
            deleted += delete.execute([id])? as u64;
        }
    }
    Ok((deleted, if full { ids.last().copied() } else { None }))
}
