//! Schema and migrations, versioned by `PRAGMA user_version`.
//!
//! Why by hand: the migration crates (refinery, rusqlite_migration) add a table or a
//! build step for what is here a list of SQL batches applied in one transaction each;
//! `user_version` is SQLite's own slot for exactly this.

use rusqlite::{Connection, TransactionBehavior};

/// Migrations in order; index + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    // 1: cycles, per-exchange results, change-only balance snapshots, discrepancies with
    // their lifecycle, append-only acknowledgements and audit log.
    r#"
CREATE TABLE cycles (
    id             INTEGER PRIMARY KEY,
    started_at     TEXT    NOT NULL,
    finished_at    TEXT    NOT NULL,
    duration_ms    INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    worst_severity TEXT,
    ledger_error   TEXT
);
CREATE TABLE cycle_exchanges (
    cycle_id   INTEGER NOT NULL REFERENCES cycles(id),
    exchange   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    latency_ms INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    error      TEXT,
    pages      INTEGER NOT NULL,
    rows       INTEGER NOT NULL,
    complete   INTEGER NOT NULL,
    PRIMARY KEY (cycle_id, exchange)
);
CREATE INDEX cycle_exchanges_ok ON cycle_exchanges(exchange, status, cycle_id);
CREATE TABLE balance_snapshots (
    cycle_id        INTEGER NOT NULL REFERENCES cycles(id),
    exchange        TEXT    NOT NULL,
    asset           TEXT    NOT NULL,
    local           TEXT    NOT NULL,
    exchange_amount TEXT    NOT NULL,
    PRIMARY KEY (exchange, asset, cycle_id)
);
CREATE TABLE discrepancies (
    row_id                  INTEGER PRIMARY KEY,
    key                     TEXT NOT NULL,
    exchange                TEXT NOT NULL,
    asset                   TEXT NOT NULL,
    kind                    TEXT NOT NULL,
    local                   TEXT NOT NULL,
    exchange_amount         TEXT NOT NULL,
    difference              TEXT NOT NULL,
    relative                TEXT NOT NULL,
    severity                TEXT NOT NULL,
    allowed                 TEXT NOT NULL,
    tolerance_source        TEXT NOT NULL,
    opened_at               TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    resolved_at             TEXT,
    acknowledged_by         TEXT,
    ack_note                TEXT,
    acknowledged_at         TEXT,
    acknowledged_difference TEXT
);
CREATE UNIQUE INDEX discrepancies_open ON discrepancies(key) WHERE resolved_at IS NULL;
CREATE TABLE acknowledgements (
    id              INTEGER PRIMARY KEY,
    discrepancy_row INTEGER NOT NULL REFERENCES discrepancies(row_id),
    key             TEXT NOT NULL,
    by              TEXT NOT NULL,
    note            TEXT NOT NULL,
    at              TEXT NOT NULL,
    difference      TEXT NOT NULL
);
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    event     TEXT NOT NULL,
    subject   TEXT,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE
);
-- Append-only. REPLACE deletes the old row without firing DELETE triggers (unless
-- recursive_triggers is on), so a BEFORE INSERT trigger refuses any insert that would
-- collide with an existing entry.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq OR hash = NEW.hash)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: REPLACE refused'); END;
CREATE TRIGGER acknowledgements_no_update BEFORE UPDATE ON acknowledgements
BEGIN SELECT RAISE(ABORT, 'acknowledgements are append-only: UPDATE refused'); END;
CREATE TRIGGER acknowledgements_no_delete BEFORE DELETE ON acknowledgements
BEGIN SELECT RAISE(ABORT, 'acknowledgements are append-only: DELETE refused'); END;
CREATE TRIGGER acknowledgements_no_replace BEFORE INSERT ON acknowledgements
WHEN EXISTS (SELECT 1 FROM acknowledgements WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'acknowledgements are append-only: REPLACE refused'); END;
"#,
    // 2: lets `audit verify` check, one index lookup per row, that every cycle and every
    // acknowledgement still has its audit entry (so entries cut from the end of the chain,
    // which leave the remaining links intact, are still caught).
    r#"
CREATE INDEX audit_log_event_subject ON audit_log(event, subject);
"#,
    // 3: what the headless dispatcher has alerted, per subject (a discrepancy id or
    // `exchange:<name>`), so a restart re-sends nothing and forgets no pending timer; and
    // an index that lets retention delete old cycles without a full scan of the
    // snapshots per deleted row (the foreign-key check looks children up by cycle_id).
    r#"
CREATE TABLE alert_state (
    subject      TEXT PRIMARY KEY,
    episode_at   TEXT NOT NULL,
    since        TEXT,
    firing       INTEGER NOT NULL,
    notified     INTEGER NOT NULL,
    severity     TEXT,
    last_event   TEXT,
    sent_at      TEXT,
    failed_at    TEXT,
    updated_at   TEXT NOT NULL
);
CREATE INDEX balance_snapshots_cycle ON balance_snapshots(cycle_id);
"#,
    // 4: snoozed acknowledgements (`recon ack --for`): the deadline, kept with the
    // append-only acknowledgement row and on the discrepancy it covers (NULL: no deadline).
    // ADD COLUMN rewrites no row, so the append-only triggers are not involved.
    r#"
ALTER TABLE acknowledgements ADD COLUMN expires_at TEXT;
ALTER TABLE discrepancies ADD COLUMN ack_expires_at TEXT;
"#,
    // 5: expectations (`recon expect`, movements in flight). The declaration is an
    // append-only row; what happens to it later (engaged with a gap, settled, expired,
    // cancelled) is an append-only mark, at most one of each per expectation, so the whole
    // story of a declaration is kept and nothing is ever rewritten.
    r#"
CREATE TABLE expectations (
    id         INTEGER PRIMARY KEY,
    exchange   TEXT NOT NULL,
    asset      TEXT NOT NULL,
    difference TEXT NOT NULL,
    by         TEXT NOT NULL,
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE expectation_marks (
    expectation_id INTEGER NOT NULL REFERENCES expectations(id),
    mark           TEXT NOT NULL CHECK (mark IN ('engaged', 'settled', 'expired', 'cancelled')),
    at             TEXT NOT NULL,
    PRIMARY KEY (expectation_id, mark)
);
CREATE TRIGGER expectations_no_update BEFORE UPDATE ON expectations
BEGIN SELECT RAISE(ABORT, 'expectations are append-only: UPDATE refused'); END;
CREATE TRIGGER expectations_no_delete BEFORE DELETE ON expectations
BEGIN SELECT RAISE(ABORT, 'expectations are append-only: DELETE refused'); END;
CREATE TRIGGER expectations_no_replace BEFORE INSERT ON expectations
WHEN EXISTS (SELECT 1 FROM expectations WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'expectations are append-only: REPLACE refused'); END;
CREATE TRIGGER expectation_marks_no_update BEFORE UPDATE ON expectation_marks
BEGIN SELECT RAISE(ABORT, 'expectation marks are append-only: UPDATE refused'); END;
CREATE TRIGGER expectation_marks_no_delete BEFORE DELETE ON expectation_marks
BEGIN SELECT RAISE(ABORT, 'expectation marks are append-only: DELETE refused'); END;
CREATE TRIGGER expectation_marks_no_replace BEFORE INSERT ON expectation_marks
WHEN EXISTS (SELECT 1 FROM expectation_marks
             WHERE expectation_id = NEW.expectation_id AND mark = NEW.mark)
BEGIN SELECT RAISE(ABORT, 'expectation marks are append-only: REPLACE refused'); END;
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Makes free pages returnable with `PRAGMA incremental_vacuum` (retention). A new
/// database takes the setting when its first table is created; an existing one made
/// before needs a one-off `VACUUM` to switch, which cannot run inside a transaction, so it
/// is done here, after the migrations, once.
pub fn ensure_incremental_vacuum(conn: &Connection) -> rusqlite::Result<()> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode != 2 {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        let has_tables: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table')",
            [],
            |r| r.get(0),
        )?;
        if has_tables {
            conn.execute_batch("VACUUM")?;
        }
    }
    Ok(())
}

/// The database's schema version (`PRAGMA user_version`; 0 for a database recon never
/// migrated). The first read of a connection: it fails on a file that is not a database.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Whether a read-only command can use a database of schema `version`: only the version
/// this build writes (it cannot migrate, and older or newer tables may differ).
pub fn check_readable(version: i64) -> Result<(), String> {
    match version {
        0 => Err("not a recon database (schema version 0)".into()),
        v if v > SCHEMA_VERSION => Err(format!(
            "schema version {v} is newer than this build understands ({SCHEMA_VERSION})"
        )),
        v if v < SCHEMA_VERSION => Err(format!(
            "schema version {v} is older than this build's ({SCHEMA_VERSION}); a writing command (recon once) migrates it"
        )),
        _ => Ok(()),
    }
}

/// Brings the database up to [`SCHEMA_VERSION`]; refuses a database from a newer build.
/// Each step reads the version inside an IMMEDIATE transaction, so two processes starting
/// on a fresh database at once (cron `once` and the console) never both run a migration.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<Result<(), String>> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current > SCHEMA_VERSION {
            return Ok(Err(format!(
                "schema version {current} is newer than this build understands ({SCHEMA_VERSION})"
            )));
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(Ok(()));
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}
