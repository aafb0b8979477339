//! The tamper-evident audit trail: every entry stores
//! `hash = sha256(prev_hash ‖ canonical entry)`, so altering, deleting or re-ordering any
//! row breaks the chain from that row on, and `recon audit verify` says where.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A front end started.
    Startup,
    /// A front end stopped cleanly.
    Shutdown,
    /// The effective configuration (its fingerprint) was loaded.
    ConfigLoaded,
    /// A cycle finished (any status).
    CycleCompleted,
    /// An exchange fetch failed in a cycle.
    ExchangeError,
    /// A circuit breaker opened.
    CircuitOpened,
    /// A circuit breaker closed after a successful trial.
    CircuitClosed,
    /// A new discrepancy.
    DiscrepancyOpened,
    /// Kind or severity changed, or an acknowledgement lapsed because the gap grew.
    DiscrepancyChanged,
    /// Someone acknowledged a discrepancy.
    DiscrepancyAcknowledged,
    /// A discrepancy disappeared in a successful fetch.
    DiscrepancyResolved,
    /// A snoozed acknowledgement (`--for`) reached its deadline; the discrepancy counts
    /// again.
    AcknowledgementExpired,
    /// Someone withdrew an acknowledgement (`recon unack`); the discrepancy counts again.
    AcknowledgementWithdrawn,
    /// A running daemon re-read its configuration (SIGHUP) and applied it.
    ConfigReloaded,
    /// A webhook alert was delivered.
    AlertSent,
    /// A webhook alert could not be delivered (after its retries).
    AlertFailed,
    /// Someone declared a movement in flight (`recon expect`).
    ExpectationAdded,
    /// The gap an expectation explained (or left a residual on) resolved while it was
    /// active.
    ExpectationSettled,
    /// An expectation reached its deadline; the gap it explained counts again.
    ExpectationExpired,
    /// Someone withdrew an expectation (`recon expect cancel`).
    ExpectationCancelled,
}

impl AuditKind {
    /// The event name stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Startup => "startup",
            Self::Shutdown => "shutdown",
            Self::ConfigLoaded => "config_loaded",
            Self::CycleCompleted => "cycle_completed",
            Self::ExchangeError => "exchange_error",
            Self::CircuitOpened => "circuit_opened",
            Self::CircuitClosed => "circuit_closed",
            Self::DiscrepancyOpened => "discrepancy_opened",
            Self::DiscrepancyChanged => "discrepancy_changed",
            Self::DiscrepancyAcknowledged => "discrepancy_acknowledged",
            Self::DiscrepancyResolved => "discrepancy_resolved",
            Self::AcknowledgementExpired => "acknowledgement_expired",
            Self::AcknowledgementWithdrawn => "acknowledgement_withdrawn",
            Self::ConfigReloaded => "config_reloaded",
            Self::AlertSent => "alert_sent",
            Self::AlertFailed => "alert_failed",
            Self::ExpectationAdded => "expectation_added",
            Self::ExpectationSettled => "expectation_settled",
            Self::ExpectationExpired => "expectation_expired",
            Self::ExpectationCancelled => "expectation_cancelled",
        }
    }
}

/// An event to append; `seq`, time and hashes are assigned by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// What happened.
    pub kind: AuditKind,
    /// What it is about (exchange name, discrepancy id), if anything.
    pub subject: Option<String>,
    /// Details as a JSON object (keys sorted by serde_json's map, so canonical).
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// An event with a subject.
    pub fn new(kind: AuditKind, subject: impl Into<String>, detail: serde_json::Value) -> Self {
        Self {
            kind,
            subject: Some(subject.into()),
            detail,
        }
    }

    /// An event about recon itself.
    pub fn global(kind: AuditKind, detail: serde_json::Value) -> Self {
        Self {
            kind,
            subject: None,
            detail,
        }
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When it was appended (RFC 3339, ms, UTC).
    pub at: String,
    /// Event name.
    pub event: String,
    /// Subject, if any.
    pub subject: Option<String>,
    /// Details (JSON text as hashed).
    pub detail: String,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// Result of a chain check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// Every entry links and hashes correctly, and every cycle and acknowledgement has its
    /// entry.
    Intact {
        /// Entries checked.
        entries: u64,
        /// Hash of the newest entry (record it elsewhere to detect a rewrite of the whole
        /// chain), or `None` when the trail is empty.
        head: Option<String>,
    },
    /// The first entry that does not check out.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// What is wrong with it.
        reason: String,
    },
}

/// The canonical text of an entry, hashed after the previous hash.
fn canonical(seq: i64, at: &str, event: &str, subject: Option<&str>, detail: &str) -> String {
    serde_json::json!([seq, at, event, subject, detail]).to_string()
}

/// `sha256(prev_hash ‖ canonical)` as lowercase hex.
pub fn entry_hash(prev_hash: &str, canonical_entry: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical_entry.as_bytes());
    hex::encode(h.finalize())
}

/// RFC 3339 with milliseconds and `Z`, the one timestamp format recon writes.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Appends events inside the caller's transaction (which must be IMMEDIATE, so two
/// processes never read the same chain head).
pub fn append(
    tx: &Transaction<'_>,
    at: DateTime<Utc>,
    events: &[AuditEvent],
) -> rusqlite::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev): (i64, String) = tx
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS_HASH.to_string()));
    let at = timestamp(at);
    let mut stmt = tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, event, subject, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for e in events {
        seq += 1;
        let detail = e.detail.to_string();
        let hash = entry_hash(
            &prev,
            &canonical(seq, &at, e.kind.as_str(), e.subject.as_deref(), &detail),
        );
        stmt.execute(params![
            seq,
            at,
            e.kind.as_str(),
            e.subject,
            detail,
            prev,
            hash
        ])?;
        prev = hash;
    }
    Ok(())
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        event: r.get(2)?,
        subject: r.get(3)?,
        detail: r.get(4)?,
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
    })
}

/// Newest first, strictly before `before` (a seq) when given. Uses the primary key, so a
/// page costs the same with 100 000 entries as with 100.
pub fn page(
    conn: &Connection,
    before: Option<i64>,
    limit: u32,
) -> rusqlite::Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, event, subject, detail, prev_hash, hash FROM audit_log
         WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], row_to_entry)?;
    rows.collect()
}

/// Number of entries.
pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
}

/// Walks the whole chain in order and reports the first entry that does not check out.
pub fn verify(conn: &Connection) -> rusqlite::Result<ChainStatus> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, event, subject, detail, prev_hash, hash FROM audit_log ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1i64;
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let e = row_to_entry(row)?;
        let broken = |reason: String| ChainStatus::Broken { seq: e.seq, reason };
        if e.seq != expected_seq {
            return Ok(ChainStatus::Broken {
                seq: expected_seq,
                reason: format!("entry missing (next entry present is {})", e.seq),
            });
        }
        if e.prev_hash != expected_prev {
            return Ok(broken(
                "prev_hash does not match the previous entry's hash".into(),
            ));
        }
        let recomputed = entry_hash(
            &e.prev_hash,
            &canonical(e.seq, &e.at, &e.event, e.subject.as_deref(), &e.detail),
        );
        if recomputed != e.hash {
            return Ok(broken(
                "content does not match its hash (entry altered)".into(),
            ));
        }
        expected_prev = e.hash;
        expected_seq += 1;
        n += 1;
    }
    drop(rows);
    if let Some(reason) = missing_entries(conn)? {
        return Ok(ChainStatus::Broken {
            seq: expected_seq,
            reason,
        });
    }
    Ok(ChainStatus::Intact {
        entries: n,
        head: (n > 0).then_some(expected_prev),
    })
}

/// Entries cut from the end of the chain leave every remaining link valid; the rows they
/// recorded do not go away with them. Every cycle must have its `cycle_completed` entry
/// every acknowledgement its `discrepancy_acknowledged` entry and every expectation its
/// `expectation_added` entry.
fn missing_entries(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let cycle: Option<i64> = conn
        .query_row(
            "SELECT c.id FROM cycles c WHERE NOT EXISTS (
                 SELECT 1 FROM audit_log a
                 WHERE a.event = 'cycle_completed' AND a.subject = 'cycle ' || c.id)
             ORDER BY c.id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = cycle {
        return Ok(Some(format!(
            "entry missing: cycle {id} has no cycle_completed entry (entries removed from the end?)"
        )));
    }
    let ack: Option<(String, String)> = conn
        .query_row(
            "SELECT k.key, k.at FROM acknowledgements k WHERE NOT EXISTS (
                 SELECT 1 FROM audit_log a
                 WHERE a.event = 'discrepancy_acknowledged' AND a.subject = k.key AND a.at = k.at)
             ORDER BY k.id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((key, at)) = ack {
        return Ok(Some(format!(
            "entry missing: the acknowledgement of {key} at {at} has no discrepancy_acknowledged entry (entries removed from the end?)"
        )));
    }
    // A database of an older schema, verified read-only (never migrated), has no
    // expectations to check.
    let has_expectations: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'expectations')",
        [],
        |r| r.get(0),
    )?;
    if !has_expectations {
        return Ok(None);
    }
    let expectation: Option<i64> = conn
        .query_row(
            "SELECT e.id FROM expectations e WHERE NOT EXISTS (
                 SELECT 1 FROM audit_log a
                 WHERE a.event = 'expectation_added'
                   AND a.subject = e.exchange || ':' || e.asset AND a.at = e.created_at)
             ORDER BY e.id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(expectation.map(|id| {
        format!(
            "entry missing: expectation {id} has no expectation_added entry (entries removed from the end?)"
        )
    }))
}
