//! The non-interactive front end (`once`, `audit`, `ack`, `unack`, `config`) and the engine
//! start-up shared with the TUI.

pub mod ack;
pub mod audit;
pub mod expect;
pub mod once;
pub mod show_config;
pub mod table;
pub mod unack;

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::TradingConfig;
use crate::engine::ConcretePortfolioReconciliationService;
use crate::error::ReconciliationError;
use crate::exchanges::{self, ExchangeClient};
use crate::ledger::LedgerSource;
use crate::store::thread::{StoreHandle, StoreThread};
use crate::store::{AuditEvent, AuditKind, ReconciliationRepository, StoreError};

/// A started engine: the service (ready to hand to an actor or run once), the store.
pub struct EngineParts {
    /// The service.
    pub service: ConcretePortfolioReconciliationService,
    /// Store access.
    pub store: StoreHandle,
    /// Joined at exit, after every handle is dropped.
    pub store_thread: StoreThread,
    /// Recent cycle durations, for the sparkline.
    pub history: Vec<u64>,
}

/// Opens the store, builds every exchange client, and records `startup` and
/// `config_loaded`. An exchange whose client cannot be built (credentials unset) is kept
/// and reports its error every cycle, so it is never silently dropped.
pub async fn start_engine(
    cfg: Arc<TradingConfig>,
    mode: &'static str,
) -> Result<EngineParts, ReconciliationError> {
    let path = cfg.storage_path.clone();
    let retain_days = cfg.retain_days;
    let repo = tokio::task::spawn_blocking(move || {
        let mut repo = ReconciliationRepository::open(&path)?;
        // A one-shot run never lives long enough for a round; the loops prune.
        if mode != "once" {
            repo.set_retention(Some(crate::store::retention::Schedule::days(retain_days)));
        }
        Ok::<_, StoreError>(repo)
    })
    .await
    .map_err(|_| StoreError::Stopped)??;
    let (store, store_thread) = StoreHandle::spawn(repo).map_err(|e| StoreError::Schema {
        path: cfg.storage_path.display().to_string(),
        message: format!("cannot start the store thread: {e}"),
    })?;
    let clients: Vec<Arc<dyn ExchangeClient>> = cfg
        .exchanges
        .iter()
        .map(|e| {
            exchanges::build_client(e, &cfg).unwrap_or_else(|err| {
                tracing::error!(exchange = %e.name, error = %err, "exchange unavailable");
                Arc::new(exchanges::Unavailable::new(e.name.clone(), e.kind, err))
            })
        })
        .collect();
    let fingerprint = config_fingerprint(&cfg);
    let events = vec![
        AuditEvent::global(
            AuditKind::Startup,
            json!({ "mode": mode, "version": env!("CARGO_PKG_VERSION"), "pid": std::process::id() }),
        ),
        AuditEvent::global(
            AuditKind::ConfigLoaded,
            json!({
                "source": cfg.source.as_ref().map(|p| p.display().to_string()),
                "fingerprint": fingerprint,
                "exchanges": cfg.exchanges.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            }),
        ),
    ];
    let (last_ok, history) = store
        .call(move |repo| {
            repo.append_audit(Utc::now(), &events)?;
            Ok((repo.last_ok()?, repo.recent_durations(120)?))
        })
        .await?;
    let ledger = LedgerSource::from_config(&cfg.ledger, cfg.reconciliation.fetch_timeout);
    let service =
        ConcretePortfolioReconciliationService::new(cfg, clients, ledger, store.clone(), last_ok);
    Ok(EngineParts {
        service,
        store,
        store_thread,
        history,
    })
}

/// SHA-256 of the effective configuration as `recon config` renders it (secrets as
/// `***`), recorded in `config_loaded` and `config_reloaded`.
pub fn config_fingerprint(cfg: &TradingConfig) -> String {
    hex::encode(Sha256::digest(show_config::render(cfg).as_bytes()))
}

/// Appends `shutdown` (best effort: a failing store is already being reported).
pub async fn record_shutdown(store: &StoreHandle, mode: &'static str) {
    let event = AuditEvent::global(
        AuditKind::Shutdown,
        json!({ "mode": mode, "pid": std::process::id() }),
    );
    if let Err(e) = store
        .call(move |repo| repo.append_audit(Utc::now(), &[event]))
        .await
    {
        tracing::error!(error = %e, "could not record shutdown");
    }
}
