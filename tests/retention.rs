//! Retention on a real SQLite file with back-dated rows: what is pruned, what never is,
//! batches, incremental vacuum, the idle store thread, and `audit verify` afterwards.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use recon::domain::{
    Asset, BalanceDiscrepancy, DiscrepancyId, DiscrepancyKind, DiscrepancySeverity, ExchangeName,
    ReconciliationStatus,
};
use recon::store::retention::{PruneStats, Schedule};
use recon::store::thread::StoreHandle;
use recon::store::{
    ChainStatus, CycleInput, CyclePlan, DiscrepancyWrite, ExchangeRecord, ReconciliationRepository,
    SnapshotPair, SnapshotSet,
};
use rust_decimal::Decimal;

fn days_ago(d: i64) -> DateTime<Utc> {
    let t = Utc::now() - chrono::Duration::days(d);
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

fn snap(exchange: &str, asset: &str, amount: &str) -> (String, SnapshotPair) {
    (
        exchange.into(),
        SnapshotPair {
            asset: Asset::parse(asset).unwrap(),
            local: Decimal::ONE,
            exchange_amount: amount.parse().unwrap(),
        },
    )
}

/// One set per exchange: every pair it compared this cycle (one left out went to zero).
fn sets(pairs: Vec<(String, SnapshotPair)>) -> Vec<SnapshotSet> {
    let mut out: Vec<SnapshotSet> = Vec::new();
    for (exchange, pair) in pairs {
        match out.iter_mut().find(|s| s.exchange == exchange) {
            Some(set) => set.pairs.push(pair),
            None => out.push(SnapshotSet {
                exchange,
                pairs: vec![pair],
            }),
        }
    }
    out
}

fn ex(name: &str, ok: bool) -> ExchangeRecord {
    ExchangeRecord {
        exchange: name.into(),
        kind: "simulated".into(),
        status: if ok { "ok" } else { "error" }.into(),
        latency_ms: 3,
        attempts: 1,
        error: (!ok).then(|| "HTTP 503".into()),
        pages: 1,
        rows: 2,
        complete: ok,
    }
}

fn gap(at: DateTime<Utc>) -> BalanceDiscrepancy {
    let (e, a) = (ExchangeName::new("x"), Asset::parse("DOGE").unwrap());
    BalanceDiscrepancy {
        id: DiscrepancyId::new(&e, &a),
        exchange: e,
        asset: a,
        kind: DiscrepancyKind::MissingLocally,
        local: Decimal::ZERO,
        exchange_amount: Decimal::new(1500, 0),
        difference: Decimal::new(1500, 0),
        relative: Decimal::ONE,
        severity: DiscrepancySeverity::Critical,
        allowed: Decimal::new(1, 8),
        tolerance_source: "default".into(),
        opened_at: at,
        acknowledgement: None,
        expected: Vec::new(),
        valuation: None,
    }
}

fn commit(
    repo: &mut ReconciliationRepository,
    at: DateTime<Utc>,
    exchanges: Vec<ExchangeRecord>,
    snapshots: Vec<(String, SnapshotPair)>,
    writes: Vec<DiscrepancyWrite>,
) -> i64 {
    let input = CycleInput {
        started_at: at,
        finished_at: at,
        duration_ms: 5,
        ledger_error: None,
        exchanges,
        snapshots: sets(snapshots),
    };
    repo.commit_cycle(&input, |_| CyclePlan {
        status: ReconciliationStatus::Reconciled,
        worst: None,
        writes,
        events: vec![],
        discrepancies: vec![],
    })
    .unwrap()
    .0
}

fn count(path: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn ids(path: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// Cycles 1–3 are 100 days old, 4–5 ten days old. BTC changes every cycle, ETH never
/// (its only snapshot is in cycle 1), `y` last fetched successfully in cycle 2; a
/// discrepancy opened and was acknowledged in cycle 1.
fn history(path: &Path) {
    let mut repo = ReconciliationRepository::open(path).unwrap();
    let old = days_ago(100);
    commit(
        &mut repo,
        old,
        vec![ex("x", true), ex("y", false)],
        vec![snap("x", "BTC", "1.1"), snap("x", "ETH", "10")],
        vec![DiscrepancyWrite::Open(gap(old))],
    );
    repo.acknowledge(
        &ExchangeName::new("x"),
        &Asset::parse("DOGE").unwrap(),
        "ana",
        "airdrop",
        old,
        |current| Ok(current.difference),
    )
    .unwrap();
    commit(
        &mut repo,
        old + chrono::Duration::minutes(1),
        vec![ex("x", true), ex("y", true)],
        vec![snap("x", "BTC", "1.2"), snap("x", "ETH", "10")],
        vec![],
    );
    commit(
        &mut repo,
        old + chrono::Duration::minutes(2),
        vec![ex("x", true), ex("y", false)],
        vec![snap("x", "BTC", "1.3"), snap("x", "ETH", "10")],
        vec![],
    );
    for (i, amount) in ["1.4", "1.5"].iter().enumerate() {
        commit(
            &mut repo,
            days_ago(10) + chrono::Duration::minutes(i as i64),
            vec![ex("x", true), ex("y", false)],
            vec![snap("x", "BTC", amount), snap("x", "ETH", "10")],
            vec![],
        );
    }
}

#[test]
fn pruning_keeps_the_baseline_the_last_ok_the_audit_and_every_discrepancy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    history(&path);
    let audit_before = count(&path, "SELECT COUNT(*) FROM audit_log");
    let last_ok_before = ReconciliationRepository::open(&path)
        .unwrap()
        .last_ok()
        .unwrap();

    let mut repo = ReconciliationRepository::open(&path).unwrap();
    let stats = repo.prune_older_than(days_ago(90)).unwrap();
    assert_eq!(
        (stats.snapshots, stats.cycle_exchanges, stats.cycles),
        (3, 5, 1),
        "BTC in cycles 1-3; x in 1-3 and y in 1 and 3; cycle 3"
    );
    assert_eq!(
        ids(
            &path,
            "SELECT asset || '@' || cycle_id FROM balance_snapshots ORDER BY cycle_id, asset"
        ),
        vec!["ETH@1", "BTC@4", "BTC@5"],
        "ETH's only snapshot is its baseline, however old"
    );
    assert_eq!(
        ids(
            &path,
            "SELECT exchange || '@' || cycle_id FROM cycle_exchanges ORDER BY cycle_id, exchange"
        ),
        vec!["y@2", "x@4", "y@4", "x@5", "y@5"],
        "y's last success survives"
    );
    assert_eq!(
        ids(&path, "SELECT CAST(id AS TEXT) FROM cycles ORDER BY id"),
        vec!["1", "2", "4", "5"]
    );
    assert_eq!(repo.last_ok().unwrap(), last_ok_before);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM audit_log"), audit_before);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM discrepancies"), 1);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM acknowledgements"), 1);
    let open = repo.open_discrepancies().unwrap();
    assert_eq!(
        open[0].discrepancy.acknowledgement.as_ref().unwrap().by,
        "ana"
    );
    assert!(matches!(
        repo.verify_audit().unwrap(),
        ChainStatus::Intact { .. }
    ));
    // A second round finds nothing more, and the next cycle still writes only changes.
    assert_eq!(
        repo.prune_older_than(days_ago(90)).unwrap(),
        PruneStats::default()
    );
    drop(repo);
    let mut repo = ReconciliationRepository::open(&path).unwrap();
    commit(
        &mut repo,
        days_ago(0),
        vec![ex("x", true)],
        vec![snap("x", "BTC", "1.5"), snap("x", "ETH", "10")],
        vec![],
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM balance_snapshots"), 3);
    assert!(matches!(
        repo.verify_audit().unwrap(),
        ChainStatus::Intact { .. }
    ));
}

#[test]
fn thousands_of_rows_go_in_batches_and_the_file_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    let mut repo = ReconciliationRepository::open(&path).unwrap();
    let amount = |c: usize, a: usize| format!("{}.{:08}", a + 1, c * 7 + a);
    // 30 old cycles × 200 drifting assets, then one recent cycle.
    for c in 0..31 {
        let at = if c < 30 {
            days_ago(200) + chrono::Duration::seconds(c as i64)
        } else {
            days_ago(1)
        };
        let snaps = (0..200)
            .map(|a| snap("x", &format!("SIM{a:04}"), &amount(c, a)))
            .collect();
        commit(&mut repo, at, vec![ex("x", true)], snaps, vec![]);
    }
    let pages_before = count(&path, "PRAGMA page_count");
    assert_eq!(count(&path, "PRAGMA auto_vacuum"), 2, "incremental");
    let stats = repo.prune_older_than(days_ago(90)).unwrap();
    assert_eq!(stats.snapshots, 30 * 200);
    assert_eq!(stats.cycle_exchanges, 30);
    assert_eq!(stats.cycles, 30);
    assert!(stats.pages_freed > 0, "{stats:?}");
    drop(repo);
    let pages_after = count(&path, "PRAGMA page_count");
    assert!(
        pages_after * 3 < pages_before,
        "{pages_before} pages before, {pages_after} after"
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM balance_snapshots"), 200);
    let repo = ReconciliationRepository::open(&path).unwrap();
    assert!(matches!(
        repo.verify_audit().unwrap(),
        ChainStatus::Intact { .. }
    ));
}

#[test]
fn a_database_made_before_retention_is_switched_to_incremental_vacuum_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    history(&path);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;")
            .unwrap();
    }
    assert_eq!(count(&path, "PRAGMA auto_vacuum"), 0);
    let repo = ReconciliationRepository::open(&path).unwrap();
    assert_eq!(count(&path, "PRAGMA auto_vacuum"), 2);
    assert!(
        matches!(repo.verify_audit().unwrap(), ChainStatus::Intact { entries, .. } if entries > 5)
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM cycles"), 5);
}

#[tokio::test]
async fn the_idle_store_thread_prunes_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    history(&path);
    let mut repo = ReconciliationRepository::open(&path).unwrap();
    repo.set_retention(Some(Schedule::new(
        chrono::Duration::days(90),
        Duration::from_secs(3600),
        Duration::ZERO,
    )));
    let (store, thread) = StoreHandle::spawn(repo).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = store
            .call(|repo| repo.last_cycle_id().map(|_| ()))
            .await
            .map(|()| count(&path, "SELECT COUNT(*) FROM cycles"))
            .unwrap();
        if n == 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{n} cycles left");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Jobs still run, and the thread ends when the last handle goes.
    assert_eq!(
        store.call(|repo| repo.last_cycle_id()).await.unwrap(),
        Some(5)
    );
    drop(store);
    thread.join();
    assert_eq!(count(&path, "SELECT COUNT(*) FROM balance_snapshots"), 3);
}

/// Growth of the database on a config: bytes per cycle before retention, and what stays
/// once everything prunable is pruned (audit entries, discrepancy rows, baselines), plus
/// audit entries per cycle. Printed, not asserted (run with
/// `cargo test --test retention -- --ignored --nocapture`). The ledger is set to what
/// the exchanges report after the first cycle, so only drift makes discrepancies.
async fn growth(config: &str, cycles: u64) -> (f64, f64, f64, f64) {
    use recon::engine::PortfolioReconciliationService;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    std::fs::write(dir.path().join("ledger.toml"), "").unwrap();
    let cfg = std::sync::Arc::new(
        recon::TradingConfig::load_with_env(&dir.path().join("config.toml"), Vec::new()).unwrap(),
    );
    let interval = cfg.reconciliation.interval.as_secs_f64();
    let mut parts = recon::commands::start_engine(cfg.clone(), "tui")
        .await
        .unwrap();
    let first = parts.service.reconcile().await.unwrap();
    let mut ledger = String::new();
    for e in &first.exchanges {
        ledger.push_str(&format!("[{}]\n", e.name));
        for b in &e.balances {
            ledger.push_str(&format!("\"{}\" = \"{}\"\n", b.asset, b.exchange));
        }
    }
    std::fs::write(dir.path().join("ledger.toml"), ledger).unwrap();
    // Warm up (the ledger change re-snapshots every pair once).
    for _ in 0..3 {
        parts.service.reconcile().await.unwrap();
    }
    let size = |p: &Path| {
        let c = rusqlite::Connection::open(p).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        let free: i64 = c
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap();
        let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        ((pages - free) * page) as f64
    };
    let prune_all = |store: recon::store::thread::StoreHandle| async move {
        let cutoff = Utc::now() + chrono::Duration::seconds(1);
        let start = std::time::Instant::now();
        let stats = store
            .call(move |repo| repo.prune_older_than(cutoff))
            .await
            .unwrap();
        let rows = stats.snapshots + stats.cycle_exchanges + stats.cycles;
        let batches = [stats.snapshots, stats.cycle_exchanges, stats.cycles]
            .iter()
            .map(|n| n.div_ceil(500))
            .sum::<u64>()
            .max(1);
        println!(
            "  pruned {rows} rows, {} pages in {:?} (~{:?} per batch of <= 500)",
            stats.pages_freed,
            start.elapsed(),
            start.elapsed() / batches as u32
        );
    };
    prune_all(parts.store.clone()).await;
    let before = size(&cfg.storage_path);
    let audit_before = count(&cfg.storage_path, "SELECT COUNT(*) FROM audit_log");
    for _ in 0..cycles {
        parts.service.reconcile().await.unwrap();
    }
    let after = size(&cfg.storage_path);
    prune_all(parts.store.clone()).await;
    let kept = size(&cfg.storage_path);
    let audit = count(&cfg.storage_path, "SELECT COUNT(*) FROM audit_log") - audit_before;
    drop(parts.service);
    drop(parts.store);
    parts.store_thread.join();
    let per_cycle = (after - before) / cycles as f64;
    let kept_per_cycle = (kept - before) / cycles as f64;
    (
        per_cycle,
        kept_per_cycle,
        86_400.0 / interval,
        audit as f64 / cycles as f64,
    )
}

#[tokio::test]
#[ignore = "a measurement, not a test: prints bytes per cycle and per day"]
async fn measure_storage_growth() {
    let shipped = include_str!("../config.toml");
    let mut soak =
        String::from("[reconciliation]\ninterval_secs = 0.05\n[storage]\npath = \"recon.db\"\n");
    for i in 0..5 {
        soak.push_str(&format!(
            "[[exchanges]]\nname = \"sim{i}\"\nkind = \"simulated\"\nseed = {i}\nassets = 200\ndrift = \"{}\"\n",
            if i == 0 { "0.0001" } else { "0" }
        ));
    }
    for (name, config) in [("shipped", shipped), ("soak", soak.as_str())] {
        let (per_cycle, kept, cycles_per_day, audit) = growth(config, 200).await;
        println!(
            "{name:8}: {per_cycle:6.0} B/cycle ({:7.1} MB/day, {:8.1} GB after 90 days without pruning); \
             not prunable: {kept:6.0} B/cycle ({:7.1} MB/day); {audit:.2} audit entries/cycle",
            per_cycle * cycles_per_day / 1e6,
            per_cycle * cycles_per_day * 90.0 / 1e9,
            kept * cycles_per_day / 1e6,
        );
    }
}
