//! `recon expect <exchange>:<asset> <DIFFERENCE> [--for DURATION] [--note TEXT] [--by NAME]`,
//! `recon expect list [--format table|json]` and `recon expect cancel <N>`: declare a
//! movement in flight (a withdrawal the ledger booked and the exchange has not settled),
//! list the active ones, withdraw one (SPEC §1, §2). Safe while a console runs on the same
//! database: every write is one IMMEDIATE transaction, and each cycle re-reads the active
//! expectations inside its own.

use crate::cli::Format;
use crate::config::TradingConfig;
use crate::domain::{
    format_amount, now_millis, parse_amount, parse_snooze, AmountError, DiscrepancyId,
    DurationError, Expectation,
};
use crate::store::audit::timestamp;
use crate::store::expectations::NewExpectation;
use crate::store::{ReconciliationRepository, StoreError};

use super::ack::{default_user, first_control};

pub use crate::domain::DEFAULT_EXPECTATION_FOR as DEFAULT_FOR;

/// Why a `recon expect` command failed.
#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    /// The target is not `<exchange>:<asset>`.
    #[error("expect: {0}")]
    Target(String),
    /// `--by` or `--note` holds a control character (newline, ESC, …).
    #[error(
        "expect: {flag} must not contain control characters (found {found}); write it on one line"
    )]
    ControlCharacter {
        /// The flag.
        flag: &'static str,
        /// The first one, escaped.
        found: String,
    },
    /// The exchange is not configured: the expectation could never meet a gap.
    #[error("expect: no exchange named '{0}' in the configuration")]
    UnknownExchange(String),
    /// DIFFERENCE is not an exact decimal.
    #[error("expect: DIFFERENCE {0}")]
    Difference(AmountError),
    /// DIFFERENCE is zero: nothing is in flight.
    #[error("expect: DIFFERENCE must not be zero (it is the expected exchange − ledger, e.g. 0.1 for a withdrawal the exchange has not settled)")]
    ZeroDifference,
    /// `--for` is not a humane duration of at most 30 days.
    #[error("expect: --for {0}")]
    Duration(DurationError),
    /// Store failure, or a refused/unknown expectation.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A declaration checked against the configuration, ready to store (the console's `e`
/// prompt applies the same parsers to what it shows).
pub fn validate(
    cfg: &TradingConfig,
    target: &str,
    difference: &str,
    duration: Option<&str>,
    note: &str,
    by: Option<&str>,
) -> Result<NewExpectation, ExpectError> {
    let (exchange, asset) = DiscrepancyId::parse(target).map_err(ExpectError::Target)?;
    if cfg.exchange(&exchange).is_none() {
        return Err(ExpectError::UnknownExchange(exchange.to_string()));
    }
    let difference = parse_amount(difference.trim()).map_err(ExpectError::Difference)?;
    if difference.is_zero() {
        return Err(ExpectError::ZeroDifference);
    }
    let lasts = match duration.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => parse_snooze(d).map_err(ExpectError::Duration)?,
        None => DEFAULT_FOR,
    };
    reject_controls("--note", note)?;
    if let Some(by) = by {
        reject_controls("--by", by)?;
    }
    let by = by
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(default_user);
    let created_at = now_millis();
    Ok(NewExpectation {
        exchange,
        asset,
        difference: difference.normalize(),
        by,
        note: note.to_string(),
        created_at,
        expires_at: created_at + lasts,
    })
}

/// Declares the expectation; returns the line to print. Everything is checked before the
/// database is opened: a bad input writes nothing.
pub fn add(
    cfg: &TradingConfig,
    target: &str,
    difference: &str,
    duration: Option<&str>,
    note: &str,
    by: Option<&str>,
) -> Result<String, ExpectError> {
    let new = validate(cfg, target, difference, duration, note, by)?;
    let mut repo = ReconciliationRepository::open(&cfg.storage_path)?;
    let e = repo.add_expectation(&new, |_| Ok(()))?;
    Ok(format!(
        "expectation {} on {}: difference {} expected until {} (by {})\n",
        e.id,
        e.discrepancy_id(),
        format_amount(e.difference),
        timestamp(e.expires_at),
        e.by
    ))
}

/// Withdraws expectation `id`; returns the line to print.
pub fn cancel(
    cfg: &TradingConfig,
    id: i64,
    note: &str,
    by: Option<&str>,
) -> Result<String, ExpectError> {
    reject_controls("--note", note)?;
    if let Some(by) = by {
        reject_controls("--by", by)?;
    }
    let by = by
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(default_user);
    let mut repo = ReconciliationRepository::open_existing(&cfg.storage_path)?;
    let e = repo.cancel_expectation(id, &by, note, now_millis())?;
    Ok(format!(
        "cancelled expectation {} on {} (difference {}) by {by}\n",
        e.id,
        e.discrepancy_id(),
        format_amount(e.difference)
    ))
}

/// The active expectations (read-only open, so it works on a copy the user cannot write).
pub fn list(cfg: &TradingConfig, format: Format) -> Result<String, ExpectError> {
    let repo = ReconciliationRepository::open_read_only(&cfg.storage_path)?;
    let active = repo.active_expectations()?;
    Ok(match format {
        Format::Json => {
            let v: Vec<serde_json::Value> = active.iter().map(json).collect();
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Table if active.is_empty() => "no active expectations\n".to_string(),
        Format::Table => table(&active),
    })
}

/// One expectation as JSON (decimals as strings).
pub fn json(e: &Expectation) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "discrepancy": e.discrepancy_id().as_str(),
        "exchange": e.exchange.as_str(),
        "asset": e.asset.as_str(),
        "difference": format_amount(e.difference),
        "by": e.by,
        "note": e.note,
        "created_at": timestamp(e.created_at),
        "expires_at": timestamp(e.expires_at),
        "engaged_at": e.engaged_at.map(timestamp),
        "state": if e.engaged_at.is_some() { "engaged" } else { "waiting" },
    })
}

fn table(active: &[Expectation]) -> String {
    let diffs = crate::domain::align_decimals(
        &active
            .iter()
            .map(|e| format_amount(e.difference))
            .collect::<Vec<_>>(),
    );
    let rows: Vec<Vec<String>> = active
        .iter()
        .zip(diffs)
        .map(|(e, diff)| {
            vec![
                e.id.to_string(),
                e.discrepancy_id().to_string(),
                diff,
                if e.engaged_at.is_some() {
                    "engaged"
                } else {
                    "waiting"
                }
                .to_string(),
                timestamp(e.expires_at),
                e.by.clone(),
                e.note.clone(),
            ]
        })
        .collect();
    super::table::layout(
        &["#", "ID", "EXPECTED", "STATE", "EXPIRES", "BY", "NOTE"],
        &rows,
        &[0, 2],
    )
}

/// Same rule as `recon ack`: the text lands on terminals and in the audit trail.
fn reject_controls(flag: &'static str, text: &str) -> Result<(), ExpectError> {
    match first_control(text) {
        Some(found) => Err(ExpectError::ControlCharacter { flag, found }),
        None => Ok(()),
    }
}
