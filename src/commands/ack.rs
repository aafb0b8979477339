//! `recon ack <exchange>:<asset> [--note TEXT] [--by NAME] [--for DURATION] [--difference D]`:
//! acknowledge
//! from the shell. Safe while a console runs on the same database: the write is one
//! IMMEDIATE transaction, and the engine re-reads acknowledgements inside each cycle's
//! transaction.

use crate::config::TradingConfig;
use crate::domain::{
    escape_controls, format_amount, now_millis, parse_amount, parse_snooze, DiscrepancyId,
};
use crate::engine::guard::{self, SeenGap};
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
    /// `--difference` is not an exact decimal.
    #[error("ack: --difference {0}")]
    Difference(crate::domain::AmountError),
    /// `--for` is not a humane duration of at most 30 days.
    #[error("ack: --for {0}")]
    Snooze(crate::domain::DurationError),
    /// Store failure, no such open discrepancy, or the gap is not the one seen.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records the acknowledgement; returns the line to print. With `difference` (the gap the
/// person saw, e.g. in `recon once`), it is refused with the current figure unless the
/// stored gap is still that one (SPEC §2), and records `difference`.
pub fn run(
    cfg: &TradingConfig,
    target: &str,
    note: &str,
    by: Option<&str>,
    difference: Option<&str>,
) -> Result<String, AckError> {
    run_for(cfg, target, note, by, difference, None)
}

/// [`run`] with a snooze (`--for DURATION`): the acknowledgement lapses that long from
/// now, and the discrepancy counts again (SPEC §2).
pub fn run_for(
    cfg: &TradingConfig,
    target: &str,
    note: &str,
    by: Option<&str>,
    difference: Option<&str>,
    snooze: Option<&str>,
) -> Result<String, AckError> {
    // Checked before anything is opened: a bad duration writes nothing.
    let snooze = snooze
        .map(|s| parse_snooze(s).map_err(AckError::Snooze))
        .transpose()?;
    reject_controls("--note", note)?;
    if let Some(by) = by {
        reject_controls("--by", by)?;
    }
    let (exchange, asset) = DiscrepancyId::parse(target).map_err(AckError::Target)?;
    if cfg.exchange(&exchange).is_none() {
        return Err(AckError::UnknownExchange(exchange.to_string()));
    }
    let seen = difference
        .map(|d| parse_amount(d.trim()).map_err(AckError::Difference))
        .transpose()?
        .map(|difference| SeenGap {
            difference,
            // The shell has no episode to name; the size and sign are the guard.
            opened_at: None,
        });
    let by = by
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(default_user);
    let mut repo = ReconciliationRepository::open_existing(&cfg.storage_path)?;
    let at = now_millis();
    let expires_at = snooze.map(|s| at + s);
    let d =
        repo.acknowledge_until(
            &exchange,
            &asset,
            &by,
            note,
            at,
            expires_at,
            |current| match &seen {
                Some(seen) => guard::check(seen, current, &cfg.tolerance).map(|()| seen.difference),
                None => Ok(current.difference),
            },
        )?;
    let recorded = d
        .acknowledgement
        .as_ref()
        .map_or(d.difference, |a| a.difference);
    let until = expires_at
        .map(|e| format!(" until {}", crate::store::audit::timestamp(e)))
        .unwrap_or_default();
    Ok(format!(
        "acknowledged {} ({} {}, difference {}) by {}{}\n",
        d.id,
        d.severity,
        d.kind.as_str(),
        format_amount(recorded),
        by,
        until
    ))
}

/// Stored text is printed on terminals and in the audit trail: a newline or an escape
/// sequence in it could paint fake rows. Every control character is refused, tab
/// included (a note is one line).
fn reject_controls(flag: &'static str, text: &str) -> Result<(), AckError> {
    match first_control(text) {
        Some(found) => Err(AckError::ControlCharacter { flag, found }),
        None => Ok(()),
    }
}

/// The first control character of `text`, escaped for a one-line message (shared with
/// `recon unack`, whose `--by`/`--note` land in the same audit trail).
pub(crate) fn first_control(text: &str) -> Option<String> {
    text.chars()
        .find(|c| c.is_control())
        .map(|c| escape_controls(&c.to_string()).into_owned())
}

/// Who acknowledges when `--by` is not given (and in the console): `$USER`, else the
/// account name of the process's uid (cron, containers and `su -` may leave `$USER`
/// unset), else `uid N` — never "unknown" while a name exists.
pub fn default_user() -> String {
    if let Some(user) = std::env::var("USER").ok().filter(|u| !u.trim().is_empty()) {
        return user;
    }
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) if !user.name.is_empty() => user.name,
        _ => format!("uid {uid}"),
    }
}
