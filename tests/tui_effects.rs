//! The console's effects against a real engine: `start_engine` on a temp-dir config with
//! simulated exchanges and a ledger, the real actor and SQLite store. The app is driven
//! through `App::update`, and each effect it returns is run by `effects::run` (what the
//! UI loop spawns), its outcome fed back as an action.

#[path = "support/config.rs"]
mod config;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use recon::commands::{record_shutdown, start_engine, EngineParts};
use recon::config::TradingConfig;
use recon::engine::{EngineView, ReconciliationActor, ReconciliationHandle};
use recon::store::thread::{StoreHandle, StoreThread};
use recon::store::{AuditEvent, AuditKind, ChainStatus, ReconciliationRepository};
use recon::tui::keys::Command;
use recon::tui::{effects, theme, Action, App, Effect, EffectRunner, Panel};

struct Engine {
    _dir: tempfile::TempDir,
    cfg: Arc<TradingConfig>,
    store: StoreHandle,
    store_thread: StoreThread,
    handle: ReconciliationHandle,
    actor: tokio::task::JoinHandle<()>,
}

/// A paused engine (no scheduled cycles: the test decides when one runs).
async fn engine() -> Engine {
    let dir = tempfile::tempdir().unwrap();
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
        true,
        history,
    );
    Engine {
        _dir: dir,
        cfg,
        store,
        store_thread,
        handle,
        actor,
    }
}

impl Engine {
    /// The shutdown order of the console: stop the loop, audit `shutdown`, drop the
    /// handles, join the store thread.
    /// Returns the config and the directory, which lives as long as the caller keeps it.
    async fn stop(self) -> (Arc<TradingConfig>, tempfile::TempDir) {
        self.handle.shutdown().await;
        self.actor.await.unwrap();
        record_shutdown(&self.store, "tui").await;
        drop(self.handle);
        drop(self.store);
        let thread = self.store_thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .unwrap();
        (self.cfg, self._dir)
    }
}

async fn wait_for(
    view: &mut watch::Receiver<Arc<EngineView>>,
    what: impl Fn(&EngineView) -> bool,
) -> Arc<EngineView> {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let v = view.borrow_and_update().clone();
            if what(&v) {
                return v;
            }
            view.changed().await.expect("engine alive");
        }
    });
    waited
        .await
        .expect("the engine view reached the expected state")
}

/// Runs `effect` and every effect that its outcome leads to.
async fn drive(app: &mut App, handle: &ReconciliationHandle, effect: Option<Effect>) {
    let mut next = effect;
    while let Some(e) = next.take() {
        next = effects::run(e, handle).await.and_then(|a| app.update(a));
    }
}

fn console(e: &Engine) -> App {
    let (themes, index) = theme::load(e._dir.path(), &e.cfg.theme).unwrap();
    let mut app = App::new(themes, index, "alice".into(), Utc::now());
    app.update(Action::Resize(120, 40));
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_typed_in_the_console_is_recorded_and_audited() {
    let e = engine().await;
    e.handle.reconcile_now().await.unwrap();
    let mut view = e.handle.view();
    let v = wait_for(&mut view, |v| v.report.is_some()).await;
    let mut app = console(&e);
    let first = app.update(Action::Engine(v, Utc::now()));
    drive(&mut app, &e.handle, first).await;
    assert!(!app.audit.lines.is_empty(), "the first audit page loaded");

    // Select the critical BTC gap, `a`, a note (with a q in it), Enter.
    assert_eq!(app.focus, Panel::Discrepancies);
    while app.selected_discrepancy().unwrap().id.as_str() != "coinbase-main:BTC" {
        let before = app.discrepancy_cursor.selected;
        app.update(Action::Command(Command::Down));
        assert_ne!(
            app.discrepancy_cursor.selected, before,
            "BTC discrepancy not listed"
        );
    }
    app.update(Action::Command(Command::Acknowledge));
    let note = "booked late, q4 ticket 42";
    for c in note.chars() {
        assert!(app.update(Action::Input(c)).is_none());
    }
    let effect = app.update(Action::Command(Command::Confirm));
    assert!(
        matches!(effect, Some(Effect::Acknowledge { .. })),
        "{effect:?}"
    );
    drive(&mut app, &e.handle, effect).await;

    let notice = app.notice.clone().unwrap();
    assert!(!notice.error, "{}", notice.text);
    assert!(
        notice
            .text
            .starts_with("acknowledged coinbase-main:BTC by alice"),
        "{}",
        notice.text
    );
    let top = &app.audit.lines[0];
    assert_eq!(top.event, "discrepancy_acknowledged");
    assert_eq!(top.subject, "coinbase-main:BTC");
    assert!(top.detail.contains("by=alice"), "{}", top.detail);
    assert!(
        top.detail.contains(&format!("note={note}")),
        "{}",
        top.detail
    );

    // The engine's view shows it acknowledged; the console follows.
    let v = wait_for(&mut view, |v| {
        v.report.as_ref().is_some_and(|r| {
            r.discrepancies
                .iter()
                .any(|d| d.id.as_str() == "coinbase-main:BTC" && d.is_acknowledged())
        })
    })
    .await;
    app.update(Action::Engine(v, Utc::now()));
    let d = app
        .discrepancies
        .iter()
        .find(|l| l.discrepancy.id.as_str() == "coinbase-main:BTC")
        .unwrap();
    assert_eq!(d.discrepancy.acknowledgement.as_ref().unwrap().note, note);

    let (cfg, _dir) = e.stop().await;
    let repo = ReconciliationRepository::open(&cfg.storage_path).unwrap();
    let newest = repo.audit_page(None, 10).unwrap();
    assert_eq!(newest[0].event, "shutdown");
    assert!(newest.iter().any(|x| x.event == "discrepancy_acknowledged"));
    assert!(matches!(
        repo.verify_audit().unwrap(),
        ChainStatus::Intact { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_effect_runner_reconciles_and_pauses_through_the_actor() {
    let e = engine().await;
    let mut view = e.handle.view();
    let (tx, mut results) = mpsc::unbounded_channel();
    let mut runner = EffectRunner::new(e.handle.clone(), tx);
    runner.spawn(Effect::Reconcile);
    let v = wait_for(&mut view, |v| v.cycles_completed >= 1).await;
    assert!(v.report.is_some());
    runner.spawn(Effect::SetPaused(false));
    wait_for(&mut view, |v| !v.paused).await;
    runner.spawn(Effect::SetPaused(true));
    wait_for(&mut view, |v| v.paused).await;
    runner.spawn(Effect::LoadAuditPage {
        before: None,
        limit: 3,
        generation: 7,
    });
    let Some(Action::AuditLoaded { generation, result }) = results.recv().await else {
        panic!("the audit page comes back as an action");
    };
    assert_eq!((generation, result.unwrap().len()), (7, 3));
    // Acknowledging something that is not open reports the store's error.
    runner.spawn(Effect::Acknowledge {
        exchange: recon::domain::ExchangeName::new("coinbase-main"),
        asset: recon::domain::Asset::parse("ETH").unwrap(),
        by: "alice".into(),
        note: String::new(),
        seen: recon::engine::SeenGap {
            difference: rust_decimal::Decimal::ONE,
            opened_at: None,
        },
        snooze: None,
    });
    let Some(Action::Acknowledged { id, result }) = results.recv().await else {
        panic!("the ack outcome comes back as an action");
    };
    assert_eq!(id.as_str(), "coinbase-main:ETH");
    assert_eq!(
        result.unwrap_err().to_string(),
        "no open discrepancy 'coinbase-main:ETH'"
    );
    // An expectation on a gap that was never on screen is refused: nothing was seen.
    let expect = |seen: rust_decimal::Decimal| Effect::Expect {
        exchange: recon::domain::ExchangeName::new("coinbase-main"),
        asset: recon::domain::Asset::parse("ETH").unwrap(),
        difference: rust_decimal::Decimal::ONE,
        lasts: chrono::TimeDelta::hours(1),
        by: "alice".into(),
        note: "in flight".into(),
        seen: recon::engine::SeenGap {
            difference: seen,
            opened_at: None,
        },
    };
    runner.spawn(expect(rust_decimal::Decimal::ONE));
    let Some(Action::Expected { id, result }) = results.recv().await else {
        panic!("the expectation outcome comes back as an action");
    };
    assert_eq!(id.as_str(), "coinbase-main:ETH");
    assert_eq!(
        result.unwrap_err().to_string(),
        "coinbase-main:ETH resolved since you saw it (1); nothing declared"
    );
    // On the gap on screen (short 0.1 BTC), it is recorded and a cycle shows it explained.
    runner.spawn(Effect::Expect {
        exchange: recon::domain::ExchangeName::new("coinbase-main"),
        asset: recon::domain::Asset::parse("BTC").unwrap(),
        difference: "-0.1".parse().unwrap(),
        lasts: chrono::TimeDelta::hours(1),
        by: "alice".into(),
        note: "in flight".into(),
        seen: recon::engine::SeenGap {
            difference: "-0.1".parse().unwrap(),
            opened_at: None,
        },
    });
    let Some(Action::Expected { id, result }) = results.recv().await else {
        panic!("the expectation outcome comes back as an action");
    };
    assert_eq!(id.as_str(), "coinbase-main:BTC");
    assert_eq!(result.unwrap().difference.to_string(), "-0.1");
    let v = wait_for(&mut view, |v| {
        v.report.as_ref().is_some_and(|r| {
            r.discrepancies.iter().any(|d| {
                d.id.as_str() == "coinbase-main:BTC"
                    && d.state() == recon::domain::DiscrepancyState::Explained
            })
        })
    })
    .await;
    assert!(v.report.is_some());
    runner.shutdown(Duration::from_secs(2)).await;
    e.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_pane_pages_through_100k_entries() {
    let e = engine().await;
    let store = e.store.clone();
    for batch in 0..10 {
        let events: Vec<AuditEvent> = (0..10_000)
            .map(|i| {
                AuditEvent::new(
                    AuditKind::CycleCompleted,
                    format!("cycle {}", batch * 10_000 + i),
                    json!({ "status": "reconciled", "duration_ms": 100 }),
                )
            })
            .collect();
        store
            .call(move |repo| repo.append_audit(Utc::now(), &events))
            .await
            .unwrap();
    }
    drop(store);
    let total = e.handle.audit_page(None, 1).await.unwrap()[0].seq;
    assert!(total > 100_000);

    let mut app = console(&e);
    let first = app.update(Action::Engine(e.handle.view().borrow().clone(), Utc::now()));
    drive(&mut app, &e.handle, first).await;
    app.update(Action::Command(Command::FocusNext));
    assert_eq!(app.focus, Panel::Audit);
    let mut expected = total;
    let started = Instant::now();
    for page in 1..=20 {
        assert_eq!(app.audit.page_number(), page);
        assert_eq!(
            app.audit.lines[0].seq, expected,
            "page {page} starts where the last ended"
        );
        expected -= app.audit.lines.len() as i64;
        app.update(Action::Command(Command::Bottom));
        let effect = app.update(Action::Command(Command::Down));
        drive(&mut app, &e.handle, effect).await;
    }
    let per_page = started.elapsed() / 20;
    // A deep page is found by primary key, not by scanning.
    let deep = Instant::now();
    let oldest = e.handle.audit_page(Some(201), 200).await.unwrap();
    let deep = deep.elapsed();
    assert_eq!((oldest[0].seq, oldest.last().unwrap().seq), (200, 1));
    eprintln!("audit paging over {total} entries: {per_page:?} per page, deepest page {deep:?}");
    e.stop().await;
}
