//! `recon unack <exchange>:<asset> [--note TEXT] [--by NAME]`: withdraw an
//! acknowledgement from the shell (SPEC §1, §6). Safe while a console runs on the same
//! database: the write is one IMMEDIATE transaction, and the engine re-reads
//! acknowledgements inside each cycle's transaction, so the next cycle counts the gap
//! again.

use crate::config::TradingConfig;
use crate::domain::{now_millis, DiscrepancyId};
use crate::store::{ReconciliationRepository, StoreError};

use super::ack::{default_user, first_control};

/// Why `recon unack` failed.
#[derive(Debug, thiserror::Error)]
pub enum UnackError {
    /// The target is not `<exchange>:<asset>`.
    #[error("unack: {0}")]
    Target(String),
    /// `--by` or `--note` holds a control character (newline, ESC, …).
    #[error(
        "unack: {flag} must not contain control characters (found {found}); write it on one line"
    )]
    ControlCharacter {
        /// The flag.
        flag: &'static str,
        /// The first one, escaped.
        found: String,
    },
    /// The exchange is not configured.
    #[error("unack: no exchange named '{0}' in the configuration")]
    UnknownExchange(String),
    /// Store failure, no such open discrepancy, or it is not acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Withdraws the acknowledgement of `target`; returns the line to print.
pub fn run(
    cfg: &TradingConfig,
    target: &str,
    note: &str,
    by: Option<&str>,
) -> Result<String, UnackError> {
    reject_controls("--note", note)?;
    if let Some(by) = by {
        reject_controls("--by", by)?;
    }
    let (exchange, asset) = DiscrepancyId::parse(target).map_err(UnackError::Target)?;
    if cfg.exchange(&exchange).is_none() {
        return Err(UnackError::UnknownExchange(exchange.to_string()));
    }
    let by = by
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(default_user);
    let mut repo = ReconciliationRepository::open_existing(&cfg.storage_path)?;
    let d = repo.withdraw_acknowledgement(&exchange, &asset, &by, note, now_millis())?;
    Ok(format!(
        "withdrew the acknowledgement of {} (by {by})\n",
        d.id
    ))
}

/// Same rule as `recon ack`: the text lands on terminals and in the audit trail.
fn reject_controls(flag: &'static str, text: &str) -> Result<(), UnackError> {
    match first_control(text) {
        Some(found) => Err(UnackError::ControlCharacter { flag, found }),
        None => Ok(()),
    }
}
