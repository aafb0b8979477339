//! Change-only balance snapshots with two processes on one database (a console and a cron
//! `recon once`): de-duplication compares against the database inside the write
//! transaction, so the latest snapshot of every pair is always the last value committed,
//! whoever committed it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config_text, load_config, rig, sim};
use recon::domain::ReconciliationStatus;
use recon::engine::{ConcretePortfolioReconciliationService, PortfolioReconciliationService};
use recon::exchanges::ExchangeClient;
use recon::ledger::LedgerSource;
use recon::store::thread::StoreHandle;
use recon::store::{CycleInput, CyclePlan, ReconciliationRepository, SnapshotPair, SnapshotSet};

/// A cycle that compared exchange x with these pairs.
fn input(pairs: Vec<SnapshotPair>) -> CycleInput {
    let now = recon::domain::now_millis();
    CycleInput {
        started_at: now,
        finished_at: now,
        duration_ms: 5,
        ledger_error: None,
        exchanges: vec![],
        snapshots: vec![SnapshotSet {
            exchange: "x".into(),
            pairs,
        }],
    }
}

fn plan() -> CyclePlan {
    CyclePlan {
        status: ReconciliationStatus::Reconciled,
        worst: None,
        writes: vec![],
        events: vec![],
        discrepancies: vec![],
    }
}

fn btc(local: &str, exchange: &str) -> SnapshotPair {
    SnapshotPair {
        asset: recon::domain::Asset::parse("BTC").unwrap(),
        local: local.parse().unwrap(),
        exchange_amount: exchange.parse().unwrap(),
    }
}

/// The newest stored (local, exchange) of x:BTC, read by a third connection.
fn latest(path: &std::path::Path) -> (String, String) {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT local, exchange_amount FROM balance_snapshots
             WHERE exchange = 'x' AND asset = 'BTC' ORDER BY cycle_id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[test]
fn the_latest_snapshot_is_the_last_committed_value_with_two_processes_on_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    let mut console = ReconciliationRepository::open(&path).unwrap();
    let mut cron = ReconciliationRepository::open(&path).unwrap();
    // The exchange balance flips between two values; each process commits what it saw.
    let sequence = [
        ("console", "1"),
        ("cron", "2"),
        ("console", "1"),
        ("console", "1"),
        ("cron", "1"),
        ("cron", "2"),
        ("console", "2"),
        ("console", "1"),
        ("cron", "1"),
        ("console", "2"),
    ];
    for (i, (who, value)) in sequence.into_iter().enumerate() {
        let repo = if who == "console" {
            &mut console
        } else {
            &mut cron
        };
        repo.commit_cycle(&input(vec![btc("1", value)]), |_| plan())
            .unwrap();
        assert_eq!(
            latest(&path),
            ("1".to_string(), value.to_string()),
            "step {i}: {who} committed {value}"
        );
    }
}

#[test]
fn an_unchanged_value_still_costs_no_row_when_only_one_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    let mut repo = ReconciliationRepository::open(&path).unwrap();
    let reader = ReconciliationRepository::open(&path).unwrap();
    for _ in 0..3 {
        repo.commit_cycle(&input(vec![btc("1", "1")]), |_| plan())
            .unwrap();
        // Another process only reading (audit, TUI start) does not defeat the cache.
        reader.audit_count().unwrap();
    }
    let rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM balance_snapshots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_database_never_leave_the_latest_snapshot_stale() {
    // The console's engine and a cron `once` engine, each with its own store connection,
    // on one database and one ledger that the position manager rewrites.
    let console = rig("", "[x]\nBTC = \"1\"\n", &["x"], |cfg| {
        vec![sim("x", &[("BTC", "1")], cfg) as Arc<dyn ExchangeClient>]
    });
    let cfg = Arc::new(load_config(console.dir.path(), &config_text("", &["x"])));
    let repo = ReconciliationRepository::open(&cfg.storage_path).unwrap();
    let (store, cron_thread) = StoreHandle::spawn(repo).unwrap();
    let mut cron = ConcretePortfolioReconciliationService::new(
        cfg.clone(),
        vec![sim("x", &[("BTC", "1")], &cfg) as Arc<dyn ExchangeClient>],
        LedgerSource::from_config(&cfg.ledger, Duration::from_secs(1)),
        store.clone(),
        Default::default(),
    );
    let db = console.db();
    let mut console_service = console.service;
    for (who, ledger) in [
        ("console", "1"),
        ("cron", "2"),
        ("console", "1"),
        ("cron", "1"),
    ] {
        std::fs::write(
            console.dir.path().join("ledger.toml"),
            format!("[x]\nBTC = \"{ledger}\"\n"),
        )
        .unwrap();
        let service: &mut ConcretePortfolioReconciliationService = if who == "console" {
            &mut console_service
        } else {
            &mut cron
        };
        service.reconcile().await.unwrap();
        assert_eq!(
            latest(&db),
            (ledger.to_string(), "1".to_string()),
            "{who} reconciled a ledger of {ledger}"
        );
    }
    drop((cron, store, console_service, console.store));
    cron_thread.join();
    console.thread.join();
}

#[test]
fn an_asset_gone_in_one_process_and_back_in_the_other_is_recorded_both_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    let mut console = ReconciliationRepository::open(&path).unwrap();
    let mut cron = ReconciliationRepository::open(&path).unwrap();
    let eth = || SnapshotPair {
        asset: recon::domain::Asset::parse("ETH").unwrap(),
        local: "2".parse().unwrap(),
        exchange_amount: "2".parse().unwrap(),
    };
    let history = |path: &std::path::Path| -> Vec<(String, String)> {
        rusqlite::Connection::open(path)
            .unwrap()
            .prepare(
                "SELECT local, exchange_amount FROM balance_snapshots
                 WHERE asset = 'ETH' ORDER BY cycle_id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    console
        .commit_cycle(&input(vec![btc("1", "1"), eth()]), |_| plan())
        .unwrap();
    cron.commit_cycle(&input(vec![btc("1", "1")]), |_| plan())
        .unwrap();
    console
        .commit_cycle(&input(vec![btc("1.0", "1.00"), eth()]), |_| plan())
        .unwrap();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(history(&path), pairs(&[("2", "2"), ("0", "0"), ("2", "2")]));
    // 1.0 and 1 are the same balance: still one BTC row.
    assert_eq!(latest(&path), ("1".to_string(), "1".to_string()));
    let btc_rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM balance_snapshots WHERE asset = 'BTC'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(btc_rows, 1);
}
