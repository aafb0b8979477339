//! The reconciliation engine: pure rules and lifecycle, the report, the service that runs
//! a cycle, and the actor that owns the service for the front ends.

pub mod actor;
pub mod guard;
pub mod lifecycle;
pub mod report;
pub mod rules;
pub mod service;

use std::sync::Arc;

use async_trait::async_trait;

pub use actor::{EngineView, ReconciliationActor, ReconciliationHandle};
pub use guard::SeenGap;
pub use report::{
    ExchangeReport, ExchangeStatus, ReconciliationReport, ReportValuation, ValueAtRisk,
};
pub use service::ConcretePortfolioReconciliationService;

use crate::config::TradingConfig;
use crate::domain::{Asset, BalanceDiscrepancy, ExchangeName};
use crate::error::ReconciliationError;

/// Reconciles the portfolio: one cycle on demand, acknowledgements.
#[async_trait]
pub trait PortfolioReconciliationService: Send {
    /// Runs one cycle and persists it. Exchange and ledger failures are part of the
    /// report (`partial` / `failed`); only a store failure is an `Err`.
    async fn reconcile(&mut self) -> Result<ReconciliationReport, ReconciliationError>;

    /// Acknowledges the open discrepancy `exchange:asset`. With `seen` (the gap the person
    /// looked at), refused unless the stored gap is still that one (SPEC §2).
    async fn acknowledge(
        &self,
        exchange: ExchangeName,
        asset: Asset,
        by: String,
        note: String,
        seen: Option<SeenGap>,
    ) -> Result<BalanceDiscrepancy, ReconciliationError>;

    /// Takes a reloaded configuration for the cycles to come (called between cycles).
    /// Returns what could not be applied without a restart, one line per key; a service
    /// that cannot reload at all says so.
    fn reconfigure(&mut self, config: Arc<TradingConfig>) -> Vec<String> {
        drop(config);
        vec!["this service cannot reload its configuration; restart to apply it".into()]
    }

    /// The configuration it runs with (the acknowledgement guard's tolerance).
    fn config(&self) -> Arc<TradingConfig>;
}
