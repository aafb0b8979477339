//! The error type at the engine boundary. Modules own their enums (config, ledger,
//! exchanges, store) and convert upward; every message is one line naming its culprit.

use crate::config::ConfigError;
use crate::domain::ExchangeName;
use crate::exchanges::ExchangeError;
use crate::ledger::LedgerError;
use crate::store::StoreError;

/// Anything that can go wrong in reconciliation, by culprit.
#[derive(Debug, thiserror::Error)]
pub enum ReconciliationError {
    /// An exchange could not be fetched or compared.
    #[error("exchange '{exchange}': {source}")]
    Exchange {
        /// Which exchange.
        exchange: ExchangeName,
        /// Why.
        source: ExchangeError,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// One failure reported to several waiters (every "reconcile now" of that cycle).
    #[error(transparent)]
    Shared(std::sync::Arc<ReconciliationError>),
    /// The actor is gone (shut down or crashed); its request could not be answered.
    #[error("the reconciliation engine has stopped")]
    EngineStopped,
}
