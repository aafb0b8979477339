//! Engine overhead per cycle (SPEC §8: < 5 ms for 10 exchanges × 1000 assets): one full
//! cycle — ledger file read, concurrent fetches from zero-latency simulated exchanges,
//! rules, lifecycle and the SQLite commit (WAL, synchronous=FULL) — on a real temp dir.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
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
    std::fs::write(dir.join("config.toml"), &cfg_text).unwrap();
    let cfg = Arc::new(
        TradingConfig::load_with_env(&dir.join("config.toml"), Vec::<(String, String)>::new())
            .unwrap(),
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
    // A ledger matching all but every 50th asset, so each cycle carries discrepancies.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut ledger = String::new();
    for (c, n) in clients.iter().zip(&names) {
        let fetched = rt.block_on(c.fetch_balances()).unwrap();
        ledger.push_str(&format!("[{n}]\n"));
        for (i, (a, v)) in fetched.totals.iter().enumerate() {
            let v = if i % 50 == 0 { *v + Decimal::ONE } else { *v };
            ledger.push_str(&format!("\"{a}\" = \"{v}\"\n"));
        }
    }
    std::fs::write(dir.join("ledger.toml"), ledger).unwrap();
    let repo = ReconciliationRepository::open(&cfg.storage_path).unwrap();
    let (store, _thread) = StoreHandle::spawn(repo).unwrap();
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

fn cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("cycle");
    group.sample_size(30);
    for (exchanges, assets) in [(10usize, 1000u32), (1, 1000)] {
        let dir = tempfile::tempdir().unwrap();
        let (mut service, rt) = setup(dir.path(), exchanges, assets);
        rt.block_on(service.reconcile()).unwrap();
        group.bench_function(format!("{exchanges}x{assets}"), |b| {
            b.iter(|| rt.block_on(service.reconcile()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, cycle);
criterion_main!(benches);
