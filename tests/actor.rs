//! The actor's loop on real time with short intervals: scheduling, pausing, coalescing of
//! "reconcile now", and shutdown while a cycle is in flight.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{rig, sim, sim_with};
use recon::engine::ReconciliationActor;
use recon::exchanges::ExchangeClient;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_interval_loop_runs_cycles_and_pause_stops_it() {
    let r = rig("", "[x]\nBTC = \"1\"\n", &["x"], |cfg| {
        vec![sim("x", &[("BTC", "1")], cfg) as Arc<dyn ExchangeClient>]
    });
    let (handle, join) = ReconciliationActor::spawn(
        r.service,
        r.store.clone(),
        Duration::from_millis(50),
        false,
        vec![],
    );
    let mut view = handle.view();
    tokio::time::timeout(WAIT, view.wait_for(|v| v.cycles_completed >= 3))
        .await
        .expect("three cycles within the wait")
        .unwrap();
    assert_eq!(
        view.borrow().latency_history.len() as u64,
        view.borrow().cycles_completed
    );
    handle.set_paused(true).await.unwrap();
    let paused = tokio::time::timeout(WAIT, view.wait_for(|v| v.paused && !v.cycle_running))
        .await
        .unwrap()
        .unwrap()
        .clone();
    assert_eq!(paused.next_cycle_at, None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        view.borrow().cycles_completed,
        paused.cycles_completed,
        "no cycle while paused"
    );
    handle.shutdown().await;
    join.await.unwrap();
}

#[tokio::test]
async fn reconcile_now_pressed_five_times_during_a_cycle_queues_exactly_one_more() {
    let r = rig("", "[x]\nBTC = \"1\"\n", &["x"], |cfg| {
        vec![sim_with("x", &[("BTC", "1")], cfg, (150, 150)) as Arc<dyn ExchangeClient>]
    });
    let (handle, join) = ReconciliationActor::spawn(
        r.service,
        r.store.clone(),
        Duration::from_secs(3600),
        true,
        vec![],
    );
    let mut view = handle.view();
    handle.request_reconcile().unwrap();
    tokio::time::timeout(WAIT, view.wait_for(|v| v.cycle_running))
        .await
        .unwrap()
        .unwrap();
    for _ in 0..4 {
        handle.request_reconcile().unwrap();
    }
    tokio::time::timeout(
        WAIT,
        view.wait_for(|v| v.cycles_completed == 2 && !v.cycle_running),
    )
    .await
    .unwrap()
    .unwrap();
    // Had more been queued, this would be cycle 4 or later.
    let next = handle.reconcile_now().await.unwrap();
    assert_eq!(next.id, 3);
    handle.shutdown().await;
    join.await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_the_cycle_in_flight_finish() {
    let r = rig("", "[x]\nBTC = \"1\"\n", &["x"], |cfg| {
        vec![sim_with("x", &[("BTC", "1")], cfg, (300, 300)) as Arc<dyn ExchangeClient>]
    });
    let db = r.db();
    let (handle, join) = ReconciliationActor::spawn(
        r.service,
        r.store.clone(),
        Duration::from_secs(3600),
        false,
        vec![],
    );
    let mut view = handle.view();
    tokio::time::timeout(WAIT, view.wait_for(|v| v.cycle_running))
        .await
        .unwrap()
        .unwrap();
    handle.shutdown().await;
    join.await.unwrap();
    assert_eq!(view.borrow().cycles_completed, 1);
    drop(handle);
    drop(r.store);
    r.thread.join();
    let repo = recon::store::ReconciliationRepository::open(&db).unwrap();
    assert_eq!(
        repo.last_cycle_id().unwrap(),
        Some(1),
        "the cycle in flight was persisted"
    );
}

#[tokio::test]
async fn a_reload_applies_from_the_next_cycle_with_exchanges_added_removed_and_kept() {
    let r = rig("", "[x]\nBTC = \"1\"\n[y]\nETH = \"2\"\n", &["x"], |cfg| {
        vec![sim_with("x", &[("BTC", "1")], cfg, (100, 100)) as Arc<dyn ExchangeClient>]
    });
    let dir = r.dir.path().to_path_buf();
    let (handle, join) = ReconciliationActor::spawn(
        r.service,
        r.store.clone(),
        Duration::from_secs(3600),
        true,
        vec![],
    );
    let mut view = handle.view();
    handle.request_reconcile().unwrap();
    tokio::time::timeout(WAIT, view.wait_for(|v| v.cycle_running))
        .await
        .unwrap()
        .unwrap();
    // Sent while a cycle is in flight: held until it ends, then applied.
    let text = common::config_text("[reconciliation]\ninterval_secs = 0.5\n", &["x"]).replace(
        "name = \"x\"\nkind = \"simulated\"\nbalances = {}\n",
        "name = \"x\"\nkind = \"simulated\"\nbalances = {}\n\n[[exchanges]]\nname = \"y\"\n\
         kind = \"simulated\"\nbalances = { ETH = \"2.5\" }\n",
    );
    let added = Arc::new(common::load_config(&dir, &text));
    let not_applied = handle.reconfigure(added).await.unwrap();
    assert!(not_applied.is_empty(), "{not_applied:?}");
    assert_eq!(view.borrow().interval, Duration::from_millis(500));
    let report = handle.reconcile_now().await.unwrap();
    let names: Vec<&str> = report.exchanges.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["x", "y"]);
    let x = &report.exchanges[0];
    assert_eq!(
        x.balances.len(),
        1,
        "x kept its client (BTC = 1), not the config's empty one"
    );
    let gaps: Vec<String> = report
        .discrepancies
        .iter()
        .map(|d| format!("{} {}", d.id, d.difference))
        .collect();
    assert_eq!(gaps, ["y:ETH 0.5"]);

    // Removing x, and a storage path that would need a restart.
    let text = common::config_text("", &["y"])
        .replace("balances = {}", "balances = { ETH = \"2\" }")
        .replace("path = \"recon.db\"", "path = \"other.db\"");
    let removed = Arc::new(common::load_config(&dir, &text));
    let not_applied = handle.reconfigure(removed).await.unwrap();
    assert_eq!(
        not_applied,
        ["storage.path: changing the database needs a restart"]
    );
    let report = handle.reconcile_now().await.unwrap();
    let names: Vec<&str> = report.exchanges.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["y"]);
    assert!(report.discrepancies.is_empty(), "y now matches the ledger");
    assert!(!dir.join("other.db").exists());
    handle.shutdown().await;
    join.await.unwrap();
}
