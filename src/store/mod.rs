//! Persistence: `ReconciliationRepository` over one SQLite file (WAL, `synchronous=FULL`).
//!
//! A cycle is written in one IMMEDIATE transaction — cycle row, per-exchange results,
//! changed balance snapshots, discrepancy lifecycle and audit entries — so a crash loses
//! at most the cycle in flight and never leaves a half-written chain. The repository is
//! synchronous; async code reaches it through [`thread::StoreHandle`], which owns it on a
//! dedicated thread.

pub mod alerts;
pub mod audit;
pub mod expectations;
pub mod history;
mod records;
pub mod retention;
mod schema;
pub mod thread;
pub mod watch;

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use rust_decimal::Decimal;

pub use audit::{AuditEntry, AuditEvent, AuditKind, ChainStatus};
pub use history::{DifferencePoint, DiscrepancyHistory};
pub use records::{
    CycleInput, CyclePlan, DiscrepancyWrite, ExchangeRecord, SnapshotPair, SnapshotSet,
    StoredDiscrepancy,
};

use crate::domain::{
    format_amount, Acknowledgement, Asset, BalanceDiscrepancy, DiscrepancyId, ExchangeName,
};

/// Why a store operation failed; names the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The schema is not one this build can use.
    #[error("database {path}: {message}")]
    Schema {
        /// The database file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A stored value could not be read back (hand-edited database).
    #[error("database {path}: unreadable {what}: '{value}'")]
    Corrupt {
        /// The database file.
        path: String,
        /// Which column.
        what: &'static str,
        /// The value found.
        value: String,
    },
    /// The database file does not exist (commands that only read never create one).
    #[error("database {0} does not exist (no cycle has run with this configuration; check [storage] path)")]
    Missing(String),
    /// `ack` named a discrepancy that is not open.
    #[error("no open discrepancy '{0}'")]
    NotOpen(String),
    /// `unack` named an open discrepancy that carries no acknowledgement.
    #[error("{0} is not acknowledged")]
    NotAcknowledged(String),
    /// `expect cancel` named a number no expectation has.
    #[error("no expectation {0}")]
    NoExpectation(i64),
    /// `expect cancel` named an expectation that is no longer active.
    #[error("expectation {id} is no longer active: {mark} at {at}")]
    ExpectationEnded {
        /// Its number.
        id: i64,
        /// How it ended.
        mark: String,
        /// When.
        at: String,
    },
    /// The acknowledgement guard refused: the stored gap is not the one that was seen
    /// (the message names the current figure).
    #[error("{0}")]
    Refused(String),
    /// The store thread has stopped.
    #[error("the store thread has stopped")]
    Stopped,
}

/// SQLite could not set up the WAL index (`-shm`) of a read-only open: the file and its
/// directory are not writable by this user.
fn cannot_open_shared_memory(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    )
}

/// Opens `path` with SQLite's `immutable=1` URI parameter, refusing when a non-empty `-wal`
/// file exists (its commits would be silently ignored).
fn open_immutable(path: &Path) -> Result<Connection, String> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(format!(
            "cannot be read without write access to it or its directory while {} holds recent commits",
            Path::new(&wal).display()
        ));
    }
    let absolute = std::path::absolute(path).map_err(|e| e.to_string())?;
    let mut uri = url::Url::from_file_path(&absolute)
        .map_err(|()| format!("cannot be named as a file URI: {}", absolute.display()))?;
    uri.set_query(Some("mode=ro&immutable=1"));
    Connection::open_with_flags(
        uri.as_str(),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())
}

/// How a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL` (SPEC §6), the default: each commit is fsynced before it returns.
    Synced,
    /// `synchronous=NORMAL`: the commit is atomic and survives the process being killed,
    /// but is on disk only at the next synced commit or checkpoint (the WAL is appended in
    /// order, so that one fsync covers every commit before it). For commits nothing
    /// outside the process acts on before a synced one follows.
    Deferred,
}

/// The repository: one connection, owned by one thread at a time.
pub struct ReconciliationRepository {
    conn: Connection,
    path: String,
    /// The latest stored snapshot per exchange and asset, so unchanged balances cost no
    /// row. A hint only: trusted inside a write transaction when `snapshot_version` says
    /// no other connection has committed since it was read, else reloaded there.
    last_snapshot: records::SnapshotCache,
    /// `PRAGMA data_version` when `last_snapshot` last matched the database (`None`: not
    /// loaded). SQLite changes it on every commit by another connection, and only then.
    snapshot_version: Option<i64>,
    /// `PRAGMA data_version` at the last [`Self::changed_elsewhere`] (`None`: not yet read).
    watch_version: Option<i64>,
    /// The id of the last cycle this connection committed (0: none yet).
    last_committed: i64,
    /// Pruning of old rows, run by the store thread when idle (`None`: never).
    retention: Option<retention::Schedule>,
}

impl ReconciliationRepository {
    /// Opens (creating if needed, owner-only: 0600 in a new directory 0700) and migrates
    /// the database at `path`. An existing file keeps its mode, with a warning when others
    /// may read it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let io = |what: &str, e: std::io::Error| StoreError::Schema {
            path: shown.clone(),
            message: format!("{what}: {e}"),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| io("cannot create directory", e))?;
        }
        // Balances and notes are private: create the file owner-only before SQLite opens
        // it, whatever the umask; SQLite gives the -wal and -shm files the same mode.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(file) => file
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io("cannot restrict to 0600", e))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                crate::logging::warn_if_readable_by_others(path, "database", 0o600);
            }
            Err(e) => return Err(io("cannot create", e)),
        }
        let sql = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        // Another recon process (TUI + `recon ack`) may hold the write lock briefly.
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        conn.pragma_update(None, "recursive_triggers", "ON")
            .map_err(sql)?;
        // Before the first table exists, so a new database never needs the VACUUM.
        let fresh: bool = conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table')",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if fresh {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(sql)?;
        }
        schema::migrate(&mut conn)
            .map_err(sql)?
            .map_err(|message| StoreError::Schema {
                path: shown.clone(),
                message,
            })?;
        // Best effort: the one-off conversion needs the database to itself (an older
        // console may hold it open). Without it pruned pages are reused, not returned.
        if let Err(e) = schema::ensure_incremental_vacuum(&conn) {
            tracing::warn!(database = %shown, error = %e, "cannot switch to incremental vacuum yet; will retry at the next start");
        }
        Ok(Self {
            conn,
            path: shown,
            last_snapshot: records::SnapshotCache::default(),
            snapshot_version: None,
            watch_version: None,
            last_committed: 0,
            retention: None,
        })
    }

    /// Opens an existing database for writing; a missing file is an error rather than a
    /// new, empty database. For `ack`.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        Self::open(path)
    }

    /// Opens an existing database for reading only (`audit`, `audit verify`, and any
    /// other command that only reads): no pragma that writes, no migration, and the
    /// schema must be the version this build writes. Works on a copy the current user may
    /// not write: when neither the file nor its directory is writable, SQLite cannot
    /// create the `-shm` file a WAL database needs, so the file is then opened
    /// `immutable` (no locks, no shared memory) — unless a non-empty `-wal` beside it
    /// holds commits that such an open would not see.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(StoreError::Missing(shown));
        }
        let sql = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
        // A writer (the console) may hold the lock briefly.
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        let (conn, version) = match schema::version(&conn) {
            Ok(v) => (conn, v),
            Err(e) if cannot_open_shared_memory(&e) => {
                drop(conn);
                let conn = open_immutable(path).map_err(|message| StoreError::Schema {
                    path: shown.clone(),
                    message,
                })?;
                let v = schema::version(&conn).map_err(sql)?;
                (conn, v)
            }
            Err(e) => return Err(sql(e)),
        };
        schema::check_readable(version).map_err(|message| StoreError::Schema {
            path: shown.clone(),
            message,
        })?;
        Ok(Self {
            conn,
            path: shown,
            last_snapshot: records::SnapshotCache::default(),
            snapshot_version: None,
            watch_version: None,
            last_committed: 0,
            retention: None,
        })
    }

    /// The database file, for messages.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.path)
    }

    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Sets how this connection's next commits reach the disk.
    pub fn set_durability(&mut self, durability: Durability) -> Result<(), StoreError> {
        let level = match durability {
            Durability::Synced => "FULL",
            Durability::Deferred => "NORMAL",
        };
        self.conn
            .pragma_update(None, "synchronous", level)
            .map_err(|e| self.sql(e))
    }

    /// How this connection's commits reach the disk.
    pub fn durability(&self) -> Result<Durability, StoreError> {
        let level: i64 = self
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        // 2 is FULL and 3 EXTRA; below that, commits are not fsynced.
        Ok(if level >= 2 {
            Durability::Synced
        } else {
            Durability::Deferred
        })
    }

    /// Appends audit events in their own transaction.
    pub fn append_audit(
        &mut self,
        at: DateTime<Utc>,
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
        audit::append(&tx, at, events)
            .and_then(|()| tx.commit())
            .map_err(|e| self.sql(e))
    }

    /// A page of the audit trail, newest first, before `before` (a seq).
    pub fn audit_page(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit::page(&self.conn, before, limit).map_err(|e| self.sql(e))
    }

    /// Number of audit entries.
    pub fn audit_count(&self) -> Result<i64, StoreError> {
        audit::count(&self.conn).map_err(|e| self.sql(e))
    }

    /// Recomputes the whole hash chain.
    pub fn verify_audit(&self) -> Result<ChainStatus, StoreError> {
        audit::verify(&self.conn).map_err(|e| self.sql(e))
    }

    /// Discrepancies not yet resolved, acknowledged or not.
    pub fn open_discrepancies(&self) -> Result<Vec<StoredDiscrepancy>, StoreError> {
        records::load_open(&self.conn, &self.path)
    }

    /// Writes one cycle. `plan` receives the currently open discrepancies (read inside the
    /// transaction, so an ack from another process is never overwritten) and returns what
    /// to write. Returns the new cycle id and the plan.
    pub fn commit_cycle(
        &mut self,
        input: &CycleInput,
        plan: impl FnOnce((Vec<StoredDiscrepancy>, Vec<crate::domain::Expectation>)) -> CyclePlan,
    ) -> Result<(i64, CyclePlan), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let open = records::load_open(&tx, &path)?;
        let expectations = expectations::load_active(&tx, &path)?;
        let plan = plan((open, expectations));
        let cycle_id = records::insert_cycle(&tx, input, &plan).map_err(sql)?;
        // Another process (a cron `once` beside the console) may have stored snapshots
        // since this cache was filled; compare against the database then, never against
        // what this process last wrote.
        let version: i64 = tx
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(sql)?;
        if self.snapshot_version != Some(version) {
            self.snapshot_version = None;
            self.last_snapshot = records::load_latest_snapshots(&tx).map_err(sql)?;
        }
        let changed =
            records::insert_snapshots(&tx, cycle_id, &input.snapshots, &self.last_snapshot)
                .map_err(sql)?;
        records::apply_writes(&tx, &plan.writes).map_err(sql)?;
        let mut events = plan.events.clone();
        events.push(AuditEvent::new(
            AuditKind::CycleCompleted,
            format!("cycle {cycle_id}"),
            serde_json::json!({
                "cycle_id": cycle_id,
                "status": plan.status.as_str(),
                "worst_severity": plan.worst.map(|s| s.as_str()),
                "duration_ms": input.duration_ms,
                "exchanges_ok": input.exchanges.iter().filter(|e| e.status == "ok").count(),
                "exchanges_failed": input.exchanges.iter().filter(|e| e.status != "ok").count(),
                "open_discrepancies": plan.discrepancies.len(),
            }),
        ));
        audit::append(&tx, input.finished_at, &events).map_err(sql)?;
        tx.commit().map_err(sql)?;
        // A commit on this connection leaves data_version as it was.
        for row in changed {
            self.last_snapshot.insert(row);
        }
        self.snapshot_version = Some(version);
        self.last_committed = cycle_id;
        Ok((cycle_id, plan))
    }

    /// Acknowledges the open discrepancy `exchange:asset`: appends to `acknowledgements`,
    /// marks the discrepancy, audits it — one transaction. `guard` sees the open
    /// discrepancy as stored, read inside that transaction (so no cycle can commit between
    /// the check and the write), and returns the difference to record, or the refusal.
    pub fn acknowledge(
        &mut self,
        exchange: &ExchangeName,
        asset: &Asset,
        by: &str,
        note: &str,
        at: DateTime<Utc>,
        guard: impl FnOnce(&BalanceDiscrepancy) -> Result<Decimal, String>,
    ) -> Result<BalanceDiscrepancy, StoreError> {
        self.acknowledge_until(exchange, asset, by, note, at, None, guard)
    }

    /// [`Self::acknowledge`] with a snooze: with `expires_at`, the first cycle finishing at
    /// or after it lapses the acknowledgement (`acknowledgement_expired`).
    #[allow(clippy::too_many_arguments)]
    pub fn acknowledge_until(
        &mut self,
        exchange: &ExchangeName,
        asset: &Asset,
        by: &str,
        note: &str,
        at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
        guard: impl FnOnce(&BalanceDiscrepancy) -> Result<Decimal, String>,
    ) -> Result<BalanceDiscrepancy, StoreError> {
        let key = DiscrepancyId::new(exchange, asset);
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let open = records::load_open(&tx, &path)?;
        let Some(mut current) = open.into_iter().find(|d| d.discrepancy.id == key) else {
            return Err(StoreError::NotOpen(key.to_string()));
        };
        // Dropping the transaction unrecorded rolls it back: nothing is written.
        let difference = guard(&current.discrepancy).map_err(StoreError::Refused)?;
        let ack = Acknowledgement {
            by: by.to_string(),
            note: note.to_string(),
            at,
            difference,
            expires_at,
        };
        let ts = audit::timestamp(at);
        let expires = expires_at.map(audit::timestamp);
        tx.execute(
            "INSERT INTO acknowledgements (discrepancy_row, key, by, note, at, difference,
                 expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                current.row_id,
                key.as_str(),
                by,
                note,
                ts,
                ack.difference.to_string(),
                expires
            ],
        )
        .map_err(sql)?;
        tx.execute(
            "UPDATE discrepancies SET acknowledged_by = ?2, ack_note = ?3, acknowledged_at = ?4,
                 acknowledged_difference = ?5, ack_expires_at = ?6, updated_at = ?4
             WHERE row_id = ?1",
            params![
                current.row_id,
                by,
                note,
                ts,
                ack.difference.to_string(),
                expires
            ],
        )
        .map_err(sql)?;
        audit::append(
            &tx,
            at,
            &[AuditEvent::new(
                AuditKind::DiscrepancyAcknowledged,
                key.as_str(),
                serde_json::json!({
                    "by": by,
                    "note": note,
                    "difference": format_amount(ack.difference),
                    "severity": current.discrepancy.severity.as_str(),
                    "expires_at": expires,
                }),
            )],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        current.discrepancy.acknowledgement = Some(ack);
        Ok(current.discrepancy)
    }

    /// Withdraws the acknowledgement of the open discrepancy `exchange:asset`: clears the
    /// discrepancy's acknowledgement and audits `acknowledgement_withdrawn` — one IMMEDIATE
    /// transaction, so no cycle commits between the check and the write. The append-only
    /// `acknowledgements` history keeps the original; the audit entry records the
    /// withdrawal. Returns the discrepancy as it now stands (unacknowledged).
    pub fn withdraw_acknowledgement(
        &mut self,
        exchange: &ExchangeName,
        asset: &Asset,
        by: &str,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<BalanceDiscrepancy, StoreError> {
        let key = DiscrepancyId::new(exchange, asset);
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let open = records::load_open(&tx, &path)?;
        let Some(mut current) = open.into_iter().find(|d| d.discrepancy.id == key) else {
            return Err(StoreError::NotOpen(key.to_string()));
        };
        // Dropping the transaction unrecorded rolls it back: nothing is written.
        let Some(ack) = current.discrepancy.acknowledgement.take() else {
            return Err(StoreError::NotAcknowledged(key.to_string()));
        };
        let ts = audit::timestamp(at);
        tx.execute(
            "UPDATE discrepancies SET acknowledged_by = NULL, ack_note = NULL,
                 acknowledged_at = NULL, acknowledged_difference = NULL, ack_expires_at = NULL,
                 updated_at = ?2
             WHERE row_id = ?1",
            params![current.row_id, ts],
        )
        .map_err(sql)?;
        audit::append(
            &tx,
            at,
            &[AuditEvent::new(
                AuditKind::AcknowledgementWithdrawn,
                key.as_str(),
                serde_json::json!({
                    "by": by,
                    "note": note,
                    "acknowledged_by": ack.by,
                    "acknowledged_at": audit::timestamp(ack.at),
                    "acknowledged_difference": format_amount(ack.difference),
                }),
            )],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(current.discrepancy)
    }

    /// When each exchange last fetched successfully.
    pub fn last_ok(&self) -> Result<HashMap<ExchangeName, DateTime<Utc>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ce.exchange, MAX(c.finished_at) FROM cycle_exchanges ce
                 JOIN cycles c ON c.id = ce.cycle_id WHERE ce.status = 'ok' GROUP BY ce.exchange",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.sql(e))?;
        let mut out = HashMap::new();
        for row in rows {
            let (exchange, at) = row.map_err(|e| self.sql(e))?;
            let at = records::parse_time(&self.path, &at)?;
            out.insert(ExchangeName::new(exchange), at);
        }
        Ok(out)
    }

    /// Durations of the last `n` cycles, oldest first (the TUI's sparkline on start).
    pub fn recent_durations(&self, n: u32) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT duration_ms FROM cycles ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([n], |r| r.get::<_, i64>(0))
            .map_err(|e| self.sql(e))?;
        let mut v: Vec<u64> = rows
            .map(|r| r.map(|d| d.max(0) as u64))
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.sql(e))?;
        v.reverse();
        Ok(v)
    }

    /// The latest cycle id, if any.
    pub fn last_cycle_id(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT MAX(id) FROM cycles", [], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.sql(e))
    }

    /// Prunes rows older than `retain` whenever the store thread is idle (see
    /// [`retention`]); `None` never prunes.
    pub fn set_retention(&mut self, schedule: Option<retention::Schedule>) {
        self.retention = schedule;
    }

    /// How long the store thread may wait for a job before maintenance is due (`None`:
    /// no maintenance configured).
    pub fn maintenance_due_in(&self) -> Option<Duration> {
        self.retention.as_ref().map(retention::Schedule::due_in)
    }

    /// One bounded maintenance step (a batch of pruning or vacuum). Failures are logged:
    /// retention must never stop the engine.
    pub fn run_maintenance_step(&mut self) {
        let Some(schedule) = self.retention.as_mut() else {
            return;
        };
        match schedule.step(&mut self.conn) {
            Ok(Some(stats)) if stats != retention::PruneStats::default() => tracing::info!(
                snapshots = stats.snapshots,
                cycle_exchanges = stats.cycle_exchanges,
                cycles = stats.cycles,
                pages_freed = stats.pages_freed,
                "retention: pruned old rows"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(database = %self.path, error = %e, "retention: pruning failed; retrying next round")
            }
        }
    }

    /// Prunes everything older than `cutoff` at once, batch by batch.
    pub fn prune_older_than(
        &mut self,
        cutoff: DateTime<Utc>,
    ) -> Result<retention::PruneStats, StoreError> {
        retention::prune_all(&mut self.conn, cutoff).map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })
    }
}
