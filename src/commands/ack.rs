//! `recon ack <exchange>:<asset> [--note TEXT] [--by NAME]`: acknowledge from the shell.
//! Safe while a console runs on the same database: the write is one IMMEDIATE
//! transaction, and the engine re-reads acknowledgements inside each cycle's transaction.

use crate::config::TradingConfig;
use crate::domain::{escape_controls, format_amount, now_millis, DiscrepancyId};
use crate::store::{ReconciliationRepository, StoreError};

/// Why `recon ack` failed.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    /// The target is not `<exchange>:<asset>`.
    #[error("ack: {0}")]
    Target(String),
    /// `--by` or `--note` holds a control character (newline, ESC, …).
    #[error(
        "ack: {flag} must not contain control characters (found {found}); write it on one line"
    )]
    ControlCharacter {
        /// The flag.
        flag: &'static str,
        /// The first one, escaped.
        found: String,
    },
    /// The exchange is not configured.
    #[error("ack: no exchange named '{0}' in the configuration")]
    UnknownExchange(String),
    /// Store failure or no such open discrepancy.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records the acknowledgement; returns the line to print.
pub fn run(
    cfg: &TradingConfig,
    target: &str,
    note: &str,
    by: Option<&str>,
) -> Result<String, AckError> {
    reject_controls("--note", note)?;
    if let Some(by) = by {
        reject_controls("--by", by)?;
    }
    let (exchange, asset) = DiscrepancyId::parse(target).map_err(AckError::Target)?;
    if cfg.exchange(&exchange).is_none() {
        return Err(AckError::UnknownExchange(exchange.to_string()));
    }
    let by = by
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into());
    let mut repo = ReconciliationRepository::open_existing(&cfg.storage_path)?;
    let d = repo.acknowledge(&exchange, &asset, &by, note, now_millis())?;
    Ok(format!(
        "acknowledged {} ({} {}, difference {}) by {}\n",
        d.id,
        d.severity,
        d.kind.as_str(),
        format_amount(d.difference),
        by
    ))
}

/// Stored text is printed on terminals and in the audit trail: a newline or an escape
/// sequence in it could paint fake rows. Every control character is refused, tab
/// included (a note is one line).
fn reject_controls(flag: &'static str, text: &str) -> Result<(), AckError> {
    match text.chars().find(|c| c.is_control()) {
        Some(c) => Err(AckError::ControlCharacter {
            flag,
            found: escape_controls(&c.to_string()).into_owned(),
        }),
        None => Ok(()),
    }
}
