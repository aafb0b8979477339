//! Writes by another process show in a running engine's view within a second, at any
//! cycle interval (issue: the console at desk scale): a `recon ack` / `recon expect` /
//! `recon unack` in a shell commits on another SQLite connection, which the engine
//! notices through `PRAGMA data_version` and applies to the report on screen.

#[path = "support/config.rs"]
mod config;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use recon::commands::{ack, expect, record_shutdown, start_engine, unack, EngineParts};
use recon::config::TradingConfig;
use recon::domain::{DiscrepancySeverity, DiscrepancyState};
use recon::engine::{EngineView, ReconciliationActor};

/// Waits (up to 2 s, the bound) for the view to satisfy `what`.
async fn within_2s(
    view: &mut watch::Receiver<Arc<EngineView>>,
    what: impl Fn(&EngineView) -> bool,
) -> Arc<EngineView> {
    tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let v = view.borrow_and_update().clone();
            if what(&v) {
                return v;
            }
            view.changed().await.expect("engine alive");
        }
    })
    .await
    .expect("the view did not follow the other process within 2 s")
}

fn state_of(v: &EngineView, id: &str) -> Option<(DiscrepancyState, DiscrepancySeverity)> {
    v.report
        .as_ref()?
        .discrepancies
        .iter()
        .find(|d| d.id.as_str() == id)
        .map(|d| (d.state(), d.severity))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_expectations_and_withdrawals_from_a_shell_show_within_two_seconds() {
    let dir = tempfile::tempdir().unwrap();
    // An hour between cycles: only the watch can bring the news.
    let path = config::write(dir.path(), "3600", "default");
    let cfg = Arc::new(TradingConfig::load(&path).unwrap());
    let EngineParts {
        service,
        store,
        store_thread,
        history,
    } = start_engine(cfg.clone(), "tui").await.unwrap();
    let (handle, actor) = ReconciliationActor::spawn(
        service,
        store.clone(),
        cfg.reconciliation.interval,
        false,
        history,
    );
    let mut view = handle.view();
    let v = within_2s(&mut view, |v| v.cycles_completed == 1).await;
    assert_eq!(
        state_of(&v, "coinbase-main:BTC"),
        Some((DiscrepancyState::Open, DiscrepancySeverity::Critical))
    );
    let id = v.report.as_ref().unwrap().id;

    // The shell commands open their own connection, as another process does.
    ack::run(&cfg, "coinbase-main:BTC", "desk", Some("bob"), None).unwrap();
    let v = within_2s(&mut view, |v| {
        state_of(v, "coinbase-main:BTC").map(|s| s.0) == Some(DiscrepancyState::Acknowledged)
    })
    .await;
    let report = v.report.as_ref().unwrap();
    assert_eq!(report.id, id, "no cycle ran: the view was patched");
    let d = report
        .discrepancies
        .iter()
        .find(|d| d.id.as_str() == "coinbase-main:BTC")
        .unwrap();
    assert_eq!(d.acknowledgement.as_ref().unwrap().by, "bob");

    unack::run(&cfg, "coinbase-main:BTC", "", Some("bob")).unwrap();
    within_2s(&mut view, |v| {
        state_of(v, "coinbase-main:BTC").map(|s| s.0) == Some(DiscrepancyState::Open)
    })
    .await;

    // A withdrawal declared in a shell explains the gap; the worst counted one is now
    // dydx-perps's 1 % (high).
    expect::add(
        &cfg,
        "coinbase-main:BTC",
        "-0.1",
        Some("1h"),
        "withdrawal",
        Some("bob"),
    )
    .unwrap();
    let v = within_2s(&mut view, |v| {
        state_of(v, "coinbase-main:BTC").map(|s| s.0) == Some(DiscrepancyState::Explained)
    })
    .await;
    let report = v.report.as_ref().unwrap();
    assert_eq!(report.id, id);
    assert_eq!(report.worst_severity, Some(DiscrepancySeverity::High));

    handle.shutdown().await;
    actor.await.unwrap();
    record_shutdown(&store, "tui").await;
    drop(handle);
    drop(store);
    tokio::task::spawn_blocking(move || store_thread.join())
        .await
        .unwrap();
}
