//! Expectations (movements in flight, SPEC §2): the declarations and what became of them.
//!
//! A declaration is an append-only row of `expectations`; each later fact about it
//! (it met its gap, it settled, expired or was cancelled) is an append-only row of
//! `expectation_marks`. An expectation is *active* while it has no ending mark. Every mark
//! is written in the same transaction as its audit entry: by the cycle that decided it, or
//! by `add`/`cancel` here.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rust_decimal::Decimal;

use super::audit::{self, timestamp, AuditEvent, AuditKind};
use super::records::parse_time;
use super::{ReconciliationRepository, StoreError};
use crate::domain::{format_amount, Asset, BalanceDiscrepancy, ExchangeName, Expectation};

/// What happened to an expectation after it was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// It met a gap on its id for the first time (explained it or left a residual).
    Engaged,
    /// That gap resolved while it was active.
    Settled,
    /// Its deadline passed.
    Expired,
    /// Someone withdrew it.
    Cancelled,
}

impl Mark {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Engaged => "engaged",
            Self::Settled => "settled",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A declaration to record (`recon expect`, or `e` in the console).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExpectation {
    /// The exchange (must be configured; checked by the caller, which has the config).
    pub exchange: ExchangeName,
    /// The asset.
    pub asset: Asset,
    /// The expected `exchange − local`; never zero.
    pub difference: Decimal,
    /// Who declares it.
    pub by: String,
    /// Free text.
    pub note: String,
    /// Now.
    pub created_at: DateTime<Utc>,
    /// The deadline.
    pub expires_at: DateTime<Utc>,
}

/// An expectation that is no longer active, and how it ended (for `cancel`'s message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// `settled`, `expired` or `cancelled`.
    pub mark: &'static str,
    /// When.
    pub at: DateTime<Utc>,
}

const SELECT: &str = "SELECT e.id, e.exchange, e.asset, e.difference, e.by, e.note, e.created_at,
        e.expires_at,
        (SELECT m.at FROM expectation_marks m WHERE m.expectation_id = e.id AND m.mark = 'engaged')
    FROM expectations e";

const ACTIVE: &str = "NOT EXISTS (SELECT 1 FROM expectation_marks m WHERE m.expectation_id = e.id
        AND m.mark IN ('settled', 'expired', 'cancelled'))";

fn corrupt(path: &str, what: &'static str, value: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_string(),
        what,
        value: value.to_string(),
    }
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn parse_row(path: &str, row: Row) -> Result<Expectation, StoreError> {
    let (id, exchange, asset, difference, by, note, created, expires, engaged) = row;
    Ok(Expectation {
        id,
        exchange: ExchangeName::new(exchange),
        asset: Asset::parse(&asset).map_err(|_| corrupt(path, "expectation asset", &asset))?,
        difference: difference
            .parse()
            .map_err(|_| corrupt(path, "expectation difference", &difference))?,
        by,
        note,
        created_at: parse_time(path, &created)?,
        expires_at: parse_time(path, &expires)?,
        engaged_at: engaged.map(|e| parse_time(path, &e)).transpose()?,
    })
}

/// The active expectations, oldest first.
pub(super) fn load_active(conn: &Connection, path: &str) -> Result<Vec<Expectation>, StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_string(),
        source,
    };
    let mut stmt = conn
        .prepare_cached(&format!("{SELECT} WHERE {ACTIVE} ORDER BY e.id"))
        .map_err(sql)?;
    let rows = stmt
        .query_map([], read_row)
        .map_err(sql)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql)?;
    rows.into_iter().map(|r| parse_row(path, r)).collect()
}

/// Records `mark` for expectation `id` (part of a cycle's or a command's transaction).
pub(super) fn insert_mark(
    conn: &Connection,
    id: i64,
    mark: Mark,
    at: DateTime<Utc>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO expectation_marks (expectation_id, mark, at) VALUES (?1, ?2, ?3)",
        params![id, mark.as_str(), timestamp(at)],
    )?;
    Ok(())
}

/// The audit detail of an expectation.
pub fn detail(e: &Expectation) -> serde_json::Value {
    serde_json::json!({
        "expectation": e.id,
        "difference": format_amount(e.difference),
        "by": e.by,
        "note": e.note,
        "created_at": timestamp(e.created_at),
        "expires_at": timestamp(e.expires_at),
    })
}

impl ReconciliationRepository {
    /// Records a declaration and audits it (`expectation_added`), in one IMMEDIATE
    /// transaction. `guard` sees the open discrepancy on that id as stored (or `None`: an
    /// expectation may precede its gap) inside that transaction and may refuse.
    pub fn add_expectation(
        &mut self,
        new: &NewExpectation,
        guard: impl FnOnce(Option<&BalanceDiscrepancy>) -> Result<(), String>,
    ) -> Result<Expectation, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let key = crate::domain::DiscrepancyId::new(&new.exchange, &new.asset);
        let open = super::records::load_open(&tx, &path)?;
        let current = open.iter().find(|d| d.discrepancy.id == key);
        // Dropping the transaction unrecorded rolls it back: nothing is written.
        guard(current.map(|d| &d.discrepancy)).map_err(StoreError::Refused)?;
        tx.execute(
            "INSERT INTO expectations (exchange, asset, difference, by, note, created_at,
                 expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                new.exchange.as_str(),
                new.asset.as_str(),
                new.difference.to_string(),
                new.by,
                new.note,
                timestamp(new.created_at),
                timestamp(new.expires_at),
            ],
        )
        .map_err(sql)?;
        let e = Expectation {
            id: tx.last_insert_rowid(),
            exchange: new.exchange.clone(),
            asset: new.asset.clone(),
            difference: new.difference,
            by: new.by.clone(),
            note: new.note.clone(),
            created_at: new.created_at,
            expires_at: new.expires_at,
            engaged_at: None,
        };
        audit::append(
            &tx,
            new.created_at,
            &[AuditEvent::new(
                AuditKind::ExpectationAdded,
                key.as_str(),
                detail(&e),
            )],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(e)
    }

    /// Withdraws active expectation `id` (`expectation_cancelled`, with who and why), in one
    /// IMMEDIATE transaction. An unknown number, or one that already ended, is refused
    /// with what became of it; nothing is written then.
    pub fn cancel_expectation(
        &mut self,
        id: i64,
        by: &str,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<Expectation, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let row = tx
            .query_row(&format!("{SELECT} WHERE e.id = ?1"), [id], read_row)
            .optional()
            .map_err(sql)?
            .ok_or(StoreError::NoExpectation(id))?;
        let e = parse_row(&path, row)?;
        let ended: Option<(String, String)> = tx
            .query_row(
                "SELECT mark, at FROM expectation_marks WHERE expectation_id = ?1
                     AND mark IN ('settled', 'expired', 'cancelled')",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql)?;
        if let Some((mark, at)) = ended {
            return Err(StoreError::ExpectationEnded { id, mark, at });
        }
        insert_mark(&tx, id, Mark::Cancelled, at).map_err(sql)?;
        let mut d = detail(&e);
        if let Some(map) = d.as_object_mut() {
            map.insert("cancelled_by".into(), serde_json::json!(by));
            map.insert("cancel_note".into(), serde_json::json!(note));
        }
        audit::append(
            &tx,
            at,
            &[AuditEvent::new(
                AuditKind::ExpectationCancelled,
                e.discrepancy_id().as_str(),
                d,
            )],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(e)
    }

    /// The active expectations, oldest first (`recon expect list`). Expectations past
    /// their deadline stay listed until a cycle records their expiry.
    pub fn active_expectations(&self) -> Result<Vec<Expectation>, StoreError> {
        // A database written by an older build, opened read-only (so not migrated), has
        // no expectations table: it holds no expectation.
        let exists: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table'
                     AND name = 'expectations')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        if !exists {
            return Ok(Vec::new());
        }
        load_active(&self.conn, &self.path)
    }
}
