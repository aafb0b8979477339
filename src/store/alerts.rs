//! Alert state: what the headless dispatcher has told the webhook about each subject (a
//! discrepancy id, or `exchange:<name>`), per episode. Stored with the audit entries of
//! the deliveries in one transaction, so after a restart nothing is sent twice and no
//! pending `for_secs` timer starts over.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, TransactionBehavior};

use super::audit::{self, timestamp, AuditEvent};
use super::records::parse_time;
use super::{ReconciliationRepository, StoreError};
use crate::domain::DiscrepancySeverity;

/// One subject's alert state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// `coinbase-main:BTC`, or `exchange:coinbase-main`.
    pub subject: String,
    /// Start of the episode this state belongs to (a discrepancy's `opened_at`; for an
    /// exchange, when it first failed).
    pub episode_at: DateTime<Utc>,
    /// Since when the condition has held (counted, or failing); `None` while it does not.
    pub since: Option<DateTime<Utc>>,
    /// An alert is out and not yet cleared (acknowledged, resolved, back up).
    pub firing: bool,
    /// The webhook has heard of this episode (so its resolution is news too).
    pub notified: bool,
    /// Highest severity notified in this episode.
    pub severity: Option<DiscrepancySeverity>,
    /// The last event delivered.
    pub last_event: Option<String>,
    /// When the last event was delivered.
    pub sent_at: Option<DateTime<Utc>>,
    /// When the last delivery failed (a failed event is retried after a pause).
    pub failed_at: Option<DateTime<Utc>>,
}

fn load(conn: &Connection, path: &str) -> Result<Vec<AlertRecord>, StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_string(),
        source,
    };
    type Raw = (
        String,
        String,
        Option<String>,
        bool,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let raw: Vec<Raw> = conn
        .prepare_cached(
            "SELECT subject, episode_at, since, firing, notified, severity, last_event,
                    sent_at, failed_at FROM alert_state ORDER BY subject",
        )
        .map_err(sql)?
        .query_map([], |r| {
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
        })
        .map_err(sql)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql)?;
    let time = |t: Option<String>| t.map(|t| parse_time(path, &t)).transpose();
    raw.into_iter()
        .map(
            |(subject, episode, since, firing, notified, severity, last_event, sent, failed)| {
                Ok(AlertRecord {
                    episode_at: parse_time(path, &episode)?,
                    since: time(since)?,
                    firing,
                    notified,
                    severity: severity
                        .map(|s| {
                            s.parse().map_err(|_| StoreError::Corrupt {
                                path: path.to_string(),
                                what: "alert severity",
                                value: s,
                            })
                        })
                        .transpose()?,
                    last_event,
                    sent_at: time(sent)?,
                    failed_at: time(failed)?,
                    subject,
                })
            },
        )
        .collect()
}

impl ReconciliationRepository {
    /// Every stored alert state.
    pub fn alert_states(&self) -> Result<Vec<AlertRecord>, StoreError> {
        load(&self.conn, &self.path)
    }

    /// Writes changed alert states, forgets `removed` subjects and appends the delivery
    /// audit entries (`alert_sent` / `alert_failed`), all in one transaction.
    pub fn save_alerts(
        &mut self,
        at: DateTime<Utc>,
        changed: &[AlertRecord],
        removed: &[String],
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO alert_state (subject, episode_at, since, firing, notified,
                         severity, last_event, sent_at, failed_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (subject) DO UPDATE SET episode_at = ?2, since = ?3,
                         firing = ?4, notified = ?5, severity = ?6, last_event = ?7,
                         sent_at = ?8, failed_at = ?9, updated_at = ?10",
                )
                .map_err(sql)?;
            for r in changed {
                upsert
                    .execute(params![
                        r.subject,
                        timestamp(r.episode_at),
                        r.since.map(timestamp),
                        r.firing,
                        r.notified,
                        r.severity.map(|s| s.as_str()),
                        r.last_event,
                        r.sent_at.map(timestamp),
                        r.failed_at.map(timestamp),
                        timestamp(at),
                    ])
                    .map_err(sql)?;
            }
            let mut delete = tx
                .prepare_cached("DELETE FROM alert_state WHERE subject = ?1")
                .map_err(sql)?;
            for s in removed {
                delete.execute([s]).map_err(sql)?;
            }
        }
        audit::append(&tx, at, events).map_err(sql)?;
        tx.commit().map_err(sql)
    }
}
