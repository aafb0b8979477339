//! `recon audit [--limit N] [--format table|json]` and `recon audit verify`. Both only
//! read: the database is opened read-only, so they work on a copy the user cannot write.

use crate::cli::Format;
use crate::config::TradingConfig;
use crate::store::{ChainStatus, ReconciliationRepository, StoreError};

/// Prints the newest `limit` entries.
pub fn list(cfg: &TradingConfig, limit: u32, format: Format) -> Result<String, StoreError> {
    let repo = ReconciliationRepository::open_read_only(&cfg.storage_path)?;
    let entries = repo.audit_page(None, limit)?;
    Ok(match format {
        Format::Table => super::table::audit(&entries),
        Format::Json => {
            let v: Vec<serde_json::Value> = entries
                .iter()
                .map(|e| {
                    serde_json::json!({
                        "seq": e.seq,
                        "at": e.at,
                        "event": e.event,
                        "subject": e.subject,
                        // Stored as the exact JSON text that was hashed.
                        "detail": serde_json::from_str::<serde_json::Value>(&e.detail)
                            .unwrap_or(serde_json::Value::String(e.detail.clone())),
                        "hash": e.hash,
                    })
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
            s.push('\n');
            s
        }
    })
}

/// Verifies the chain: the message to print and whether it is intact. An `Err` means the
/// chain could not be verified (missing or unreadable file, not a recon database, a schema
/// this build does not know): exit 3, never "broken".
pub fn verify(cfg: &TradingConfig) -> Result<(String, bool), StoreError> {
    let repo = ReconciliationRepository::open_read_only(&cfg.storage_path)?;
    Ok(match repo.verify_audit()? {
        ChainStatus::Intact { entries, head } => (
            match head {
                Some(h) => format!("audit trail intact: {entries} entries verified; head {h}\n"),
                None => "audit trail intact: 0 entries verified (empty)\n".to_string(),
            },
            true,
        ),
        ChainStatus::Broken { seq, reason } => (
            format!("audit trail broken at entry {seq}: {reason}\n"),
            false,
        ),
    })
}
