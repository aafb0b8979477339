//! `recon once`: one cycle, the report on stdout, a monitoring exit code.

use std::io::Write;
use std::sync::Arc;

use crate::cli::Format;
use crate::config::TradingConfig;
use crate::engine::{PortfolioReconciliationService, ReconciliationReport};
use crate::error::ReconciliationError;

/// Runs one cycle and prints it; returns the exit code of SPEC §1. A failed write to
/// stdout is ignored here; the binary uses [`report`] to tell a closed pipe from a full
/// disk.
pub async fn run(cfg: Arc<TradingConfig>, format: Format) -> Result<u8, ReconciliationError> {
    let (text, code) = report(cfg, format).await?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Ok(code)
}

/// Runs one cycle; returns the report as printed and the exit code of SPEC §1, leaving
/// the writing (and what a write error means) to the caller.
pub async fn report(
    cfg: Arc<TradingConfig>,
    format: Format,
) -> Result<(String, u8), ReconciliationError> {
    let (mut parts, startup) = super::begin_engine(cfg, "once")?;
    // Fetching starts now; the store opens and records the start-up entries meanwhile.
    let last_ok = tokio::spawn(async move { startup.await.map(|s| s.last_ok) });
    parts.service.seed_last_ok_later(last_ok);
    let result = parts.service.reconcile().await;
    super::record_shutdown(&parts.store, "once").await;
    drop(parts.service);
    drop(parts.store);
    parts.store_thread.join();
    let report = result?;
    Ok((render(&report, format), report.exit_code()))
}

/// The report as printed.
pub fn render(report: &ReconciliationReport, format: Format) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&report.to_json())
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            s.push('\n');
            s
        }
        Format::Table => super::table::report(report),
    }
}
