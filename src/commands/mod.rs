//! The non-interactive front end (`once`, `audit`, `ack`, `unack`, `config`) and the engine
//! start-up shared with the TUI.

pub mod ack;
pub mod audit;
pub mod expect;
pub mod once;
pub mod show_config;
pub mod table;
pub mod unack;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::TradingConfig;
use crate::domain::ExchangeName;
use crate::engine::ConcretePortfolioReconciliationService;
use crate::error::ReconciliationError;
use crate::exchanges::{self, ExchangeClient};
use crate::ledger::LedgerSource;
use crate::store::thread::{StoreHandle, StoreThread};
use crate::store::{AuditEvent, AuditKind, Durability, ReconciliationRepository, StoreError};

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
    let (mut parts, startup) = begin_engine(cfg, mode)?;
    let startup = startup.await?;
    parts.service.seed_last_ok(&startup.last_ok);
    parts.history = startup.history;
    Ok(parts)
}

/// What the store knows at start-up.
pub struct Startup {
    /// When each exchange was last read successfully.
    pub last_ok: HashMap<ExchangeName, DateTime<Utc>>,
    /// Recent cycle durations, for the sparkline.
    pub history: Vec<u64>,
}

/// [`start_engine`] without waiting for the store: the store thread opens the database
/// and records `startup` and `config_loaded` while the caller goes on, and the future
/// ends with what the store knows (or why it could not be opened). Work queued on the
/// store after this call runs after those entries. `once` starts fetching at once and
/// hands the future to its cycle: opening SQLite and committing the start-up entries
/// (a new WAL's header and directory fsyncs) overlap the exchanges' round trips.
pub fn begin_engine(
    cfg: Arc<TradingConfig>,
    mode: &'static str,
) -> Result<
    (
        EngineParts,
        impl std::future::Future<Output = Result<Startup, StoreError>> + Send + 'static,
    ),
    ReconciliationError,
> {
    let path = cfg.storage_path.clone();
    let retain_days = cfg.retain_days;
    let (store, store_thread, opened) = StoreHandle::open(move || {
        let mut repo = ReconciliationRepository::open(&path)?;
        // A one-shot run never lives long enough for a round; the loops prune.
        if mode != "once" {
            repo.set_retention(Some(crate::store::retention::Schedule::days(retain_days)));
        } else {
            // `once` tells the world nothing (report, exit code) before its shutdown entry
            // is committed, synced, and that fsync makes the start-up entries and the
            // cycle before it durable too: two fsyncs of seven saved, none of them needed.
            // The loops act on each cycle (alerts, metrics) and sync every commit.
            repo.set_durability(Durability::Deferred)?;
        }
        Ok(repo)
    })
    .map_err(|e| StoreError::Schema {
        path: cfg.storage_path.display().to_string(),
        message: format!("cannot start the store thread: {e}"),
    })?;
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
    let recorded = store.submit(move |repo| {
        repo.append_audit(Utc::now(), &events)?;
        Ok(Startup {
            last_ok: repo.last_ok()?,
            history: repo.recent_durations(120)?,
        })
    });
    // The open's own error, not the `Stopped` its dropped jobs see.
    let startup = async move {
        opened.wait().await?;
        recorded.await
    };
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
    let ledger = LedgerSource::from_config(&cfg.ledger, cfg.reconciliation.fetch_timeout);
    let service = ConcretePortfolioReconciliationService::new(
        cfg,
        clients,
        ledger,
        store.clone(),
        HashMap::new(),
    );
    Ok((
        EngineParts {
            service,
            store,
            store_thread,
            history: Vec::new(),
        },
        startup,
    ))
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
        .call(move |repo| {
            // The last commit before the process reports: synced, whatever came before.
            repo.set_durability(Durability::Synced)?;
            repo.append_audit(Utc::now(), &[event])
        })
        .await
    {
        // A store that never opened (or died) has already said why, once.
        if !matches!(e, StoreError::Stopped) {
            tracing::error!(error = %e, "could not record shutdown");
        }
    }
}
