//! Engine overhead per cycle (SPEC §8): one full cycle — ledger file read, concurrent
//! fetches from zero-latency simulated exchanges, rules, lifecycle and the SQLite commit
//! (WAL, synchronous=FULL) — on a real temp dir. With fetches that take no time the whole
//! cycle is the engine's overhead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use recon::config::{SimulatedConfig, SimulatedHoldings, TradingConfig};
use recon::domain::ExchangeName;
use recon::engine::{ConcretePortfolioReconciliationService, PortfolioReconciliationService};
use recon::exchanges::resilience::RetryPolicy;
use recon::exchanges::simulated::SimulatedExchange;
use recon::exchanges::ExchangeClient;
use recon::ledger::LedgerSource;
use recon::store::thread::StoreHandle;
use recon::store::ReconciliationRepository;
use rust_decimal::Decimal;

fn setup(
    dir: &std::path::Path,
    exchanges: usize,
    assets: u32,
) -> (
    ConcretePortfolioReconciliationService,
    tokio::runtime::Runtime,
) {
    let names: Vec<String> = (0..exchanges).map(|i| format!("ex{i}")).collect();
    let mut cfg_text = String::from("[storage]\npath = \"recon.db\"\n");
    for n in &names {
        cfg_text.push_str(&format!(
            "[[exchanges]]\nname = \"{n}\"\nkind = \"simulated\"\nassets = {assets}\n"
        ));
    }
    std::fs::write(dir.join("config.toml"), &cfg_text).expect("write config");
    let cfg = Arc::new(
        TradingConfig::load_with_env(&dir.join("config.toml"), Vec::<(String, String)>::new())
            .expect("config loads"),
    );
    let clients: Vec<Arc<dyn ExchangeClient>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Arc::new(SimulatedExchange::new(
                ExchangeName::new(n),
                SimulatedConfig {
                    seed: i as u64,
                    latency_ms: (0, 0),
                    failure_rate: 0.0,
                    drift: Decimal::ZERO,
                    holdings: SimulatedHoldings::Generated(assets),
                },
                RetryPolicy::from_config(&cfg.retry),
                Duration::from_secs(1),
            )) as Arc<dyn ExchangeClient>
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // A ledger matching all but every 50th asset, so each cycle carries discrepancies.
    let mut ledger = String::new();
    for (c, n) in clients.iter().zip(&names) {
        let fetched = rt.block_on(c.fetch_balances()).expect("simulated fetch");
        ledger.push_str(&format!("[{n}]\n"));
        for (i, (a, v)) in fetched.totals.iter().enumerate() {
            let v = if i % 50 == 0 { *v + Decimal::ONE } else { *v };
            ledger.push_str(&format!("\"{a}\" = \"{v}\"\n"));
        }
    }
    std::fs::write(dir.join("ledger.toml"), ledger).expect("write ledger");
    let repo = ReconciliationRepository::open(&cfg.storage_path).expect("open store");
    let (store, _thread) = StoreHandle::spawn(repo).expect("store thread");
    let source = LedgerSource::from_config(&cfg.ledger, Duration::from_secs(1));
    let service = ConcretePortfolioReconciliationService::new(
        cfg,
        clients,
        source,
        store,
        Default::default(),
    );
    (service, rt)
}

/// Durations of `cycles` cycles of `exchanges` × `assets` after two warm-up cycles (the
/// first stores every balance; later ones store only changes, as a running desk does).
pub fn cycles(exchanges: usize, assets: u32, cycles: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut service, rt) = setup(dir.path(), exchanges, assets);
    for _ in 0..2 {
        rt.block_on(service.reconcile()).expect("cycle");
    }
    (0..cycles)
        .map(|_| {
            let t = Instant::now();
            let report = rt.block_on(service.reconcile()).expect("cycle");
            let took = t.elapsed();
            assert_eq!(report.exchanges.len(), exchanges);
            took
        })
        .collect()
}
