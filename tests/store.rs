//! The SQLite store on real files: pragmas, migrations, change-only snapshots, and two
//! processes' worth of connections writing the same database without breaking the chain.

use std::sync::{Arc, Barrier};

use chrono::Utc;
use recon::domain::{
    Asset, BalanceDiscrepancy, DiscrepancyId, DiscrepancyKind, DiscrepancySeverity, ExchangeName,
    ReconciliationStatus,
};
use recon::store::{
    AuditEvent, AuditKind, ChainStatus, CycleInput, CyclePlan, DiscrepancyWrite,
    ReconciliationRepository, SnapshotPair, SnapshotSet, StoreError,
};
use rust_decimal::Decimal;

fn discrepancy(exchange: &str, asset: &str) -> BalanceDiscrepancy {
    let (e, a) = (ExchangeName::new(exchange), Asset::parse(asset).unwrap());
    BalanceDiscrepancy {
        id: DiscrepancyId::new(&e, &a),
        exchange: e,
        asset: a,
        kind: DiscrepancyKind::Mismatch,
        local: Decimal::new(15, 1),
        exchange_amount: Decimal::new(14, 1),
        difference: Decimal::new(-1, 1),
        relative: Decimal::new(666, 4),
        severity: DiscrepancySeverity::Critical,
        allowed: Decimal::new(15, 5),
        tolerance_source: "default".into(),
        opened_at: recon::domain::now_millis(),
        acknowledgement: None,
        expected: Vec::new(),
        valuation: None,
    }
}

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

fn plan(writes: Vec<DiscrepancyWrite>) -> CyclePlan {
    CyclePlan {
        status: ReconciliationStatus::Reconciled,
        worst: None,
        writes,
        events: vec![],
        discrepancies: vec![],
    }
}

fn snap(asset: &str, local: &str, exchange: &str) -> SnapshotPair {
    SnapshotPair {
        asset: Asset::parse(asset).unwrap(),
        local: local.parse().unwrap(),
        exchange_amount: exchange.parse().unwrap(),
    }
}

#[test]
fn opens_in_wal_mode_with_full_sync_and_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/recon.db");
    drop(ReconciliationRepository::open(&path).unwrap());
    // Reopening an up-to-date database runs no migration and keeps the data.
    drop(ReconciliationRepository::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), version), ("wal", 5));
}

#[test]
fn a_database_from_a_newer_build_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    drop(ReconciliationRepository::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = ReconciliationRepository::open(&path).err().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "database {}: schema version 99 is newer than this build understands (5)",
            path.display()
        )
    );
}

#[test]
fn snapshots_are_written_only_when_a_value_changes_even_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.db");
    let count = |p: &std::path::Path| -> i64 {
        rusqlite::Connection::open(p)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM balance_snapshots", [], |r| r.get(0))
            .unwrap()
    };
    let mut repo = ReconciliationRepository::open(&path).unwrap();
    let rows = || vec![snap("BTC", "1.5", "1.4"), snap("ETH", "10", "10")];
    repo.commit_cycle(&input(rows()), |_| plan(vec![])).unwrap();
    repo.commit_cycle(&input(rows()), |_| plan(vec![])).unwrap();
    assert_eq!(count(&path), 2);
    drop(repo);
    let mut repo = ReconciliationRepository::open(&path).unwrap();
    repo.commit_cycle(&input(rows()), |_| plan(vec![])).unwrap();
    assert_eq!(count(&path), 2, "the cache is rebuilt from the database");
    repo.commit_cycle(
        &input(vec![snap("BTC", "1.5", "1.3"), snap("ETH", "10", "10")]),
        |_| plan(vec![]),
    )
    .unwrap();
    assert_eq!(count(&path), 3);
}

#[test]
fn commit_cycle_hands_the_plan_the_open_discrepancies_and_round_trips_them_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut repo = ReconciliationRepository::open(&dir.path().join("recon.db")).unwrap();
    let d = discrepancy("x", "btc");
    let (id, _) = repo
        .commit_cycle(&input(vec![]), |(open, expected)| {
            assert!(open.is_empty());
            assert!(expected.is_empty());
            plan(vec![DiscrepancyWrite::Open(d.clone())])
        })
        .unwrap();
    assert_eq!(id, 1);
    let mut seen = vec![];
    repo.commit_cycle(&input(vec![]), |(open, _)| {
        seen = open.clone();
        plan(vec![DiscrepancyWrite::Resolve {
            row_id: open[0].row_id,
            at: Utc::now(),
        }])
    })
    .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].discrepancy, d,
        "every field survives the database exactly"
    );
    assert!(repo.open_discrepancies().unwrap().is_empty());
    // The same id may open again later as a new episode.
    repo.commit_cycle(&input(vec![]), |_| {
        plan(vec![DiscrepancyWrite::Open(d.clone())])
    })
    .unwrap();
    assert_eq!(repo.open_discrepancies().unwrap().len(), 1);
    let err = repo
        .acknowledge(
            &ExchangeName::new("x"),
            &Asset::parse("ETH").unwrap(),
            "a",
            "",
            Utc::now(),
            |d| Ok(d.difference),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::NotOpen(ref k) if k == "x:ETH"));
}

#[test]
fn two_connections_appending_concurrently_keep_one_unbroken_chain() {
    // As with the console and `recon ack` on one database: IMMEDIATE transactions and the
    // busy timeout serialise writers, so no two entries ever claim the same chain head.
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("recon.db"));
    drop(ReconciliationRepository::open(&path).unwrap());
    let barrier = Arc::new(Barrier::new(2));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut repo = ReconciliationRepository::open(&path).unwrap();
                barrier.wait();
                for i in 0..100 {
                    let e = AuditEvent::global(
                        AuditKind::Startup,
                        serde_json::json!({ "writer": w, "i": i }),
                    );
                    repo.append_audit(Utc::now(), &[e]).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let repo = ReconciliationRepository::open(&path).unwrap();
    assert_eq!(repo.audit_count().unwrap(), 200);
    assert_eq!(
        repo.verify_audit().unwrap(),
        ChainStatus::Intact {
            entries: 200,
            head: Some(repo.audit_page(None, 1).unwrap()[0].hash.clone())
        }
    );
}

#[test]
fn audit_pages_walk_backwards_from_any_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let mut repo = ReconciliationRepository::open(&dir.path().join("recon.db")).unwrap();
    let events: Vec<_> = (0..25)
        .map(|i| AuditEvent::new(AuditKind::ExchangeError, "x", serde_json::json!({ "i": i })))
        .collect();
    repo.append_audit(Utc::now(), &events).unwrap();
    let first = repo.audit_page(None, 10).unwrap();
    assert_eq!(
        first.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (16..=25).rev().collect::<Vec<_>>()
    );
    let next = repo.audit_page(Some(16), 10).unwrap();
    assert_eq!(next[0].seq, 15);
    let last = repo.audit_page(Some(6), 10).unwrap();
    assert_eq!(
        last.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5, 4, 3, 2, 1]
    );
    assert_eq!(first[9].prev_hash, next[0].hash);
}

/// `synchronous=FULL` unless a caller defers: an fsync per commit by default, none for a
/// deferred commit (the next synced commit or checkpoint makes it durable: the WAL is
/// appended in order), and back to one per commit when asked.
#[test]
fn commits_are_synced_unless_deferred_and_sync_comes_back() {
    use recon::store::Durability;
    let dir = tempfile::tempdir().unwrap();
    let mut repo = ReconciliationRepository::open(&dir.path().join("recon.db")).unwrap();
    let synchronous = |repo: &ReconciliationRepository| repo.durability().unwrap();
    assert_eq!(synchronous(&repo), Durability::Synced);
    repo.set_durability(Durability::Deferred).unwrap();
    assert_eq!(synchronous(&repo), Durability::Deferred);
    let event = AuditEvent::global(AuditKind::Startup, serde_json::json!({}));
    repo.append_audit(Utc::now(), std::slice::from_ref(&event))
        .unwrap();
    repo.set_durability(Durability::Synced).unwrap();
    assert_eq!(synchronous(&repo), Durability::Synced);
    repo.append_audit(Utc::now(), &[event]).unwrap();
    assert_eq!(repo.audit_count().unwrap(), 2);
}
