//! recon — reconciles a trading desk's ledger against what its exchanges report.
//!
//! Layers, arrows pointing one way:
//! `domain ← ledger, exchanges, store ← engine ← commands, tui, headless ← main`.
//! Nothing below `commands`/`tui` names a terminal crate; only `tui` (and `main`) do.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod engine;
pub mod error;
pub mod exchanges;
pub mod headless;
pub mod ledger;
pub mod logging;
pub mod store;
pub mod tui;
pub mod valuation;

pub use config::TradingConfig;
pub use domain::{Balance, BalanceDiscrepancy, DiscrepancySeverity, ReconciliationStatus};
pub use engine::{
    ConcretePortfolioReconciliationService, PortfolioReconciliationService, ReconciliationActor,
    ReconciliationReport,
};
pub use error::ReconciliationError;
pub use store::ReconciliationRepository;
