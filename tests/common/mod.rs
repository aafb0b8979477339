//! Shared test rig: a real SQLite file in a temp dir, a real ledger file, simulated
//! exchanges driven through the real retry/breaker code, and the real service.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use recon::config::{SimulatedConfig, SimulatedHoldings, TradingConfig};
use recon::domain::{parse_amount, Asset, ExchangeName};
use recon::engine::ConcretePortfolioReconciliationService;
use recon::exchanges::resilience::RetryPolicy;
use recon::exchanges::simulated::SimulatedExchange;
use recon::exchanges::ExchangeClient;
use recon::ledger::LedgerSource;
use recon::store::thread::{StoreHandle, StoreThread};
use recon::store::ReconciliationRepository;
use rust_decimal::Decimal;

/// `d("1.5")`: an exact decimal.
pub fn d(s: &str) -> Decimal {
    parse_amount(s).expect("test amount")
}

/// `a("btc")`: a normalised asset.
pub fn a(s: &str) -> Asset {
    Asset::parse(s).expect("test asset")
}

/// Holdings from pairs.
pub fn holdings(pairs: &[(&str, &str)]) -> BTreeMap<Asset, Decimal> {
    pairs.iter().map(|(k, v)| (a(k), d(v))).collect()
}

/// A simulated exchange holding exactly `pairs`, zero latency, no random failures.
pub fn sim(name: &str, pairs: &[(&str, &str)], cfg: &TradingConfig) -> Arc<SimulatedExchange> {
    sim_with(name, pairs, cfg, (0, 0))
}

/// Same with a latency range.
pub fn sim_with(
    name: &str,
    pairs: &[(&str, &str)],
    cfg: &TradingConfig,
    latency_ms: (u64, u64),
) -> Arc<SimulatedExchange> {
    Arc::new(SimulatedExchange::new(
        ExchangeName::new(name),
        SimulatedConfig {
            seed: 1,
            latency_ms,
            failure_rate: 0.0,
            drift: Decimal::ZERO,
            holdings: SimulatedHoldings::Exact(holdings(pairs)),
        },
        RetryPolicy::from_config(&cfg.retry).with_seed(42),
        cfg.reconciliation.fetch_timeout,
    ))
}

/// A config text with the given extra sections and one simulated entry per name.
pub fn config_text(extra: &str, names: &[&str]) -> String {
    let mut s = String::from(extra);
    s.push_str("\n[storage]\npath = \"recon.db\"\n[ledger]\npath = \"ledger.toml\"\n");
    for n in names {
        s.push_str(&format!(
            "\n[[exchanges]]\nname = \"{n}\"\nkind = \"simulated\"\nbalances = {{}}\n"
        ));
    }
    s
}

/// Everything a test needs, in one temp dir.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub cfg: Arc<TradingConfig>,
    pub service: ConcretePortfolioReconciliationService,
    pub store: StoreHandle,
    pub thread: StoreThread,
}

impl Rig {
    /// The database path.
    pub fn db(&self) -> PathBuf {
        self.cfg.storage_path.clone()
    }

    /// Rewrites the ledger (as an external position manager would).
    pub fn write_ledger(&self, text: &str) {
        std::fs::write(self.dir.path().join("ledger.toml"), text).expect("write ledger");
    }

    /// Stops the store thread.
    pub fn close(self) -> tempfile::TempDir {
        drop(self.service);
        drop(self.store);
        self.thread.join();
        self.dir
    }
}

/// Loads a config written into `dir` (no env overrides).
pub fn load_config(dir: &Path, text: &str) -> TradingConfig {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write config");
    TradingConfig::load_with_env(&path, Vec::<(String, String)>::new()).expect("valid config")
}

/// Builds a rig: config (`extra` sections + exchange names), ledger text, and clients
/// made by `make` from the loaded config.
pub fn rig(
    extra: &str,
    ledger: &str,
    names: &[&str],
    make: impl FnOnce(&TradingConfig) -> Vec<Arc<dyn ExchangeClient>>,
) -> Rig {
    let dir = tempfile::tempdir().expect("temp dir");
    rig_in(dir, extra, ledger, names, make)
}

/// Same, in an existing directory (restart tests).
pub fn rig_in(
    dir: tempfile::TempDir,
    extra: &str,
    ledger: &str,
    names: &[&str],
    make: impl FnOnce(&TradingConfig) -> Vec<Arc<dyn ExchangeClient>>,
) -> Rig {
    let cfg = Arc::new(load_config(dir.path(), &config_text(extra, names)));
    std::fs::write(dir.path().join("ledger.toml"), ledger).expect("write ledger");
    let clients = make(&cfg);
    let repo = ReconciliationRepository::open(&cfg.storage_path).expect("open db");
    let last_ok = repo.last_ok().expect("last ok");
    let (store, thread) = StoreHandle::spawn(repo).expect("store thread");
    let ledger = LedgerSource::from_config(&cfg.ledger, Duration::from_secs(1));
    let service = ConcretePortfolioReconciliationService::new(
        cfg.clone(),
        clients,
        ledger,
        store.clone(),
        last_ok,
    );
    Rig {
        dir,
        cfg,
        service,
        store,
        thread,
    }
}
