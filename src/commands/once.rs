//! `recon once`: one cycle, the report on stdout, a monitoring exit code.

use std::sync::Arc;

use crate::cli::Format;
use crate::config::TradingConfig;
use crate::engine::{PortfolioReconciliationService, ReconciliationReport};
use crate::error::ReconciliationError;

/// Runs one cycle and prints it; returns the exit code of SPEC §1.
pub async fn run(cfg: Arc<TradingConfig>, format: Format) -> Result<u8, ReconciliationError> {
    let mut parts = super::start_engine(cfg, "once").await?;
    let result = parts.service.reconcile().await;
    super::record_shutdown(&parts.store, "once").await;
    drop(parts.service);
    drop(parts.store);
    parts.store_thread.join();
    let report = result?;
    print!("{}", render(&report, format));
    Ok(report.exit_code())
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
