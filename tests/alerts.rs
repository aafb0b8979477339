//! The alert dispatcher in process: a real store (temp SQLite), the real actor and
//! service on simulated exchanges, and a webhook receiver (axum on 127.0.0.1) recording
//! every POST body.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use common::{rig, rig_in, sim, Rig};
use recon::engine::ReconciliationActor;
use recon::exchanges::simulated::{Fault, SimulatedExchange};
use recon::exchanges::ExchangeClient;
use recon::store::{ChainStatus, ReconciliationRepository};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(15);
const TOKEN: &str = "T000/B000/SECRET-TOKEN";

/// The webhook receiver: records bodies; answers `fail_first` requests with 500.
#[derive(Clone, Default)]
struct Receiver {
    bodies: Arc<Mutex<Vec<Value>>>,
    requests: Arc<AtomicUsize>,
    fail_first: usize,
}

impl Receiver {
    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<(String, String)> {
        self.bodies()
            .iter()
            .flat_map(|b| {
                b["alerts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| {
                        (
                            a["event"].as_str().unwrap().to_string(),
                            a["subject"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

async fn hook(State(r): State<Receiver>, Json(body): Json<Value>) -> StatusCode {
    let n = r.requests.fetch_add(1, Ordering::SeqCst);
    if n < r.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    r.bodies.lock().unwrap().push(body);
    StatusCode::OK
}

/// Serves the receiver on a free loopback port; returns the webhook URL.
async fn serve(receiver: Receiver) -> String {
    let app = axum::Router::new()
        .route("/services/:a/:b/:c", axum::routing::post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/services/{TOKEN}")
}

#[derive(Clone, Default)]
struct Counts {
    sent: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

impl Counts {
    fn callback(&self) -> Arc<dyn Fn(&'static str) + Send + Sync> {
        let c = self.clone();
        Arc::new(move |result: &'static str| {
            let counter = if result == "sent" { &c.sent } else { &c.failed };
            counter.fetch_add(1, Ordering::SeqCst);
        })
    }
    fn get(&self) -> (usize, usize) {
        (
            self.sent.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
}

const LEDGER: &str = "[a]\nBTC = \"1.5\"\nSOL = \"250\"\n[b]\nBTC = \"1\"\n";

fn extra(url: &str) -> String {
    format!("[alerts]\nwebhook_url = \"{url}\"\n[retry]\nbase_delay_ms = 1\nmax_delay_ms = 2\n")
}

/// Exchange `a`: BTC short by 0.1 (critical), SOL by 0.5 (medium, below min_severity);
/// exchange `b` refuses every request.
fn clients(cfg: &recon::TradingConfig) -> (Arc<SimulatedExchange>, Vec<Arc<dyn ExchangeClient>>) {
    let a = sim("a", &[("BTC", "1.4"), ("SOL", "249.5")], cfg);
    let b = sim("b", &[("BTC", "1")], cfg);
    b.inject(vec![Fault::Auth; 10_000]);
    (a.clone(), vec![a as Arc<dyn ExchangeClient>, b])
}

/// Runs actor + dispatcher until `cycles` reports have been dispatched; `during` runs
/// after the first completed cycle. Returns the dir for a restart.
async fn run(r: Rig, cycles: u64, counts: &Counts) -> tempfile::TempDir {
    let (config_tx, config_rx) = tokio::sync::watch::channel(r.cfg.clone());
    let (handle, actor) = ReconciliationActor::spawn(
        r.service,
        r.store.clone(),
        Duration::from_millis(50),
        false,
        vec![],
    );
    let token = CancellationToken::new();
    let dispatcher = recon::headless::alerts::spawn(
        config_rx,
        r.store.clone(),
        handle.subscribe(),
        counts.callback(),
        token.clone(),
    );
    let mut view = handle.view();
    tokio::time::timeout(WAIT, view.wait_for(|v| v.cycles_completed >= cycles))
        .await
        .expect("cycles within the wait")
        .unwrap();
    handle.shutdown().await;
    actor.await.unwrap();
    // With every sender gone the dispatcher drains what was broadcast, then ends.
    drop(handle);
    tokio::time::timeout(WAIT, dispatcher)
        .await
        .expect("dispatcher ends")
        .unwrap();
    drop(config_tx);
    drop(r.store);
    r.thread.join();
    r.dir
}

fn audit_events(dir: &std::path::Path, event: &str) -> Vec<recon::store::AuditEntry> {
    let repo = ReconciliationRepository::open(&dir.join("recon.db")).unwrap();
    assert!(matches!(
        repo.verify_audit().unwrap(),
        ChainStatus::Intact { .. }
    ));
    repo.audit_page(None, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.event == event)
        .collect()
}

#[tokio::test]
async fn the_webhook_gets_each_event_once_over_many_unchanged_cycles() {
    let receiver = Receiver::default();
    let url = serve(receiver.clone()).await;
    let r = rig(&extra(&url), LEDGER, &["a", "b"], |cfg| clients(cfg).1);
    let counts = Counts::default();
    let dir = run(r, 12, &counts).await;

    let mut events = receiver.events();
    events.sort();
    assert_eq!(
        events,
        vec![
            ("exchange_down".to_string(), "exchange/b".to_string()),
            ("opened".to_string(), "a:BTC".to_string()),
        ],
        "no repeats over 12 unchanged cycles; SOL is medium, below min_severity"
    );
    assert_eq!(counts.get(), (2, 0));
    for b in receiver.bodies() {
        assert!(!b["text"].as_str().unwrap().is_empty());
        assert!(!b["content"].as_str().unwrap().is_empty());
        assert!(b["content"].as_str().unwrap().chars().count() <= 2000);
        assert!(b["exchanges"].is_array(), "the §3 report is the body");
        let alert = &b["alerts"][0];
        assert_eq!(b["event"], alert["event"]);
        if alert["event"] == "opened" {
            assert_eq!(alert["difference"], "-0.1");
            assert_eq!(alert["local"], "1.5");
            assert_eq!(alert["exchange_amount"], "1.4");
            assert_eq!(alert["severity"], "critical");
            assert_eq!(
                b["text"],
                format!(
                    "recon: OPENED critical discrepancy a:BTC: exchange 1.4 vs ledger 1.5 (difference -0.1, relative 0.0666666667), open since {}.",
                    alert["opened_at"].as_str().unwrap()
                )
            );
        } else {
            assert_eq!(alert["status"], "error");
        }
    }
    let sent = audit_events(dir.path(), "alert_sent");
    assert_eq!(sent.len(), 2);
    let all = format!("{sent:?}");
    assert!(
        !all.contains("SECRET-TOKEN") && !all.contains("127.0.0.1"),
        "{all}"
    );
}

#[tokio::test]
async fn a_receiver_answering_500_is_tried_three_times_counted_audited_and_the_loop_goes_on() {
    let receiver = Receiver {
        fail_first: 3,
        ..Receiver::default()
    };
    let url = serve(receiver.clone()).await;
    let mut client = None;
    let r = rig(&extra(&url), "[a]\nBTC = \"1.5\"\n", &["a"], |cfg| {
        let a = sim("a", &[("BTC", "1.4")], cfg);
        client = Some(a.clone());
        vec![a as Arc<dyn ExchangeClient>]
    });
    let a = client.unwrap();
    let counts = Counts::default();
    let (config_tx, config_rx) = tokio::sync::watch::channel(r.cfg.clone());
    let (handle, actor) = ReconciliationActor::spawn(
        r.service,
        r.store.clone(),
        Duration::from_millis(50),
        false,
        vec![],
    );
    let token = CancellationToken::new();
    let dispatcher = recon::headless::alerts::spawn(
        config_rx,
        r.store.clone(),
        handle.subscribe(),
        counts.callback(),
        token.clone(),
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while counts.get().1 == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no failure counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        receiver.requests.load(Ordering::SeqCst),
        3,
        "3 tries, then given up"
    );
    // The loop goes on: the exchange fails once later, and that news gets through.
    a.inject(vec![Fault::Auth]);
    let deadline = tokio::time::Instant::now() + WAIT;
    while receiver.events().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            receiver.events()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        receiver.events(),
        vec![
            ("exchange_down".to_string(), "exchange/a".to_string()),
            ("exchange_up".to_string(), "exchange/a".to_string()),
        ]
    );
    token.cancel();
    tokio::time::timeout(WAIT, dispatcher)
        .await
        .unwrap()
        .unwrap();
    handle.shutdown().await;
    actor.await.unwrap();
    drop(handle);
    drop(r.store);
    r.thread.join();
    // Down and up go out as two deliveries, or as one when the dispatcher was still busy
    // (a slow machine, a coverage run) and sends what has accumulated in one POST.
    let (sent, failed) = counts.get();
    assert_eq!(failed, 1);
    assert!((1..=2).contains(&sent), "{sent} deliveries");
    assert_eq!(
        receiver.requests.load(Ordering::SeqCst),
        3 + sent,
        "the failed event is not retried every cycle"
    );
    drop(config_tx);
    let failed = audit_events(r.dir.path(), "alert_failed");
    assert_eq!(failed.len(), 1);
    let detail: Value = serde_json::from_str(&failed[0].detail).unwrap();
    assert_eq!(detail["attempts"], 3);
    assert_eq!(detail["event"], "opened");
    assert_eq!(
        detail["error"],
        "webhook: HTTP 500 Internal Server Error after 3 attempts"
    );
    assert_eq!(failed[0].subject.as_deref(), Some("a:BTC"));
}

#[tokio::test]
async fn a_restart_resends_nothing_and_a_later_resolution_carries_its_duration() {
    let receiver = Receiver::default();
    let url = serve(receiver.clone()).await;
    let r = rig(&extra(&url), LEDGER, &["a", "b"], |cfg| clients(cfg).1);
    let counts = Counts::default();
    let dir = run(r, 4, &counts).await;
    assert_eq!(receiver.events().len(), 2);

    // Same database, new process: the same gaps, nothing new to say.
    let r = rig_in(dir, &extra(&url), LEDGER, &["a", "b"], |cfg| clients(cfg).1);
    let dir = run(r, 6, &counts).await;
    assert_eq!(receiver.events().len(), 2, "{:?}", receiver.events());

    // The desk fixes the ledger: BTC resolves; b comes back.
    let fixed = "[a]\nBTC = \"1.4\"\nSOL = \"250\"\n[b]\nBTC = \"1\"\n";
    let r = rig_in(dir, &extra(&url), fixed, &["a", "b"], |cfg| {
        let a = sim("a", &[("BTC", "1.4"), ("SOL", "249.5")], cfg);
        let b = sim("b", &[("BTC", "1")], cfg);
        vec![a as Arc<dyn ExchangeClient>, b]
    });
    let dir = run(r, 4, &counts).await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 4, "{:?}", receiver.events());
    let mut new: Vec<_> = bodies[2..].iter().map(|b| b["alerts"][0].clone()).collect();
    new.sort_by_key(|a| a["event"].as_str().unwrap().to_string());
    assert_eq!(new[0]["event"], "exchange_up");
    assert_eq!(new[0]["subject"], "exchange/b");
    assert_eq!(new[1]["event"], "resolved");
    assert_eq!(new[1]["id"], "a:BTC");
    assert_eq!(new[1]["severity"], "critical");
    assert!(new[1]["duration_secs"].as_i64().unwrap() >= 0);
    assert!(bodies[2..].iter().any(|b| b["text"]
        .as_str()
        .unwrap()
        .starts_with("recon: RESOLVED critical discrepancy a:BTC after ")));
    assert_eq!(counts.get(), (4, 0));
    assert_eq!(audit_events(dir.path(), "alert_sent").len(), 4);
}

#[tokio::test]
async fn an_unreachable_webhook_fails_in_three_tries_without_showing_its_url() {
    // Bind then drop: a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = url::Url::parse(&format!(
        "http://127.0.0.1:{port}/services/{TOKEN}?key=QUERYKEY"
    ))
    .unwrap();
    let d = recon::headless::alerts::webhook::post(
        &reqwest::Client::new(),
        &url,
        b"{}",
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(d.attempts, 3);
    let err = d.result.unwrap_err();
    assert!(err.starts_with("webhook: cannot connect: "), "{err}");
    assert!(err.ends_with(" after 3 attempts"), "{err}");
    for secret in ["SECRET-TOKEN", "QUERYKEY", "services"] {
        assert!(!err.contains(secret), "{err}");
    }
}

/// A report of exchange `a` with one critical gap, as the actor would broadcast it.
fn report_with_gap(id: i64) -> Arc<recon::ReconciliationReport> {
    use recon::domain::{
        Asset, BalanceDiscrepancy, DiscrepancyId, DiscrepancyKind, DiscrepancySeverity,
        ExchangeName, ReconciliationStatus,
    };
    use recon::engine::report::{CircuitState, ExchangeReport, ExchangeStatus};
    use rust_decimal::Decimal;
    let at = chrono::DateTime::from_timestamp_millis(1_790_000_000_000 + id * 1000).unwrap();
    let (e, asset) = (ExchangeName::new("a"), Asset::parse("BTC").unwrap());
    Arc::new(recon::ReconciliationReport {
        id,
        started_at: at,
        finished_at: at,
        duration_ms: 1,
        status: ReconciliationStatus::Discrepancies,
        worst_severity: Some(DiscrepancySeverity::Critical),
        ledger_error: None,
        unconfigured: Vec::new(),
        exchanges: vec![ExchangeReport {
            name: e.clone(),
            kind: recon::exchanges::ExchangeKind::Simulated,
            status: ExchangeStatus::Ok,
            latency_ms: 1,
            attempts: 1,
            error: None,
            balances: vec![],
            compared: true,
            uncompared: vec![],
            exposed: Vec::new(),
            coverage: recon::exchanges::Coverage::default(),
            last_ok_at: Some(at),
            circuit: CircuitState::Closed,
        }],
        discrepancies: vec![BalanceDiscrepancy {
            id: DiscrepancyId::new(&e, &asset),
            exchange: e,
            asset,
            kind: DiscrepancyKind::Mismatch,
            local: Decimal::new(15, 1),
            exchange_amount: Decimal::new(14, 1),
            difference: Decimal::new(-1, 1),
            relative: Decimal::new(666_666_666_667, 13),
            severity: DiscrepancySeverity::Critical,
            allowed: Decimal::new(15, 5),
            tolerance_source: "default".into(),
            opened_at: chrono::DateTime::from_timestamp_millis(1_790_000_000_000).unwrap(),
            acknowledgement: None,
            expected: Vec::new(),
            valuation: None,
        }],
        valuation: None,
    })
}

#[tokio::test]
async fn a_lagging_dispatcher_skips_the_reports_it_missed_and_carries_on() {
    let receiver = Receiver::default();
    let url = serve(receiver.clone()).await;
    let r = rig(&extra(&url), "", &["a"], |_| vec![]);
    let (_config_tx, config_rx) = tokio::sync::watch::channel(r.cfg.clone());
    let (tx, rx) = tokio::sync::broadcast::channel(2);
    let counts = Counts::default();
    let dispatcher = recon::headless::alerts::spawn(
        config_rx,
        r.store.clone(),
        rx,
        counts.callback(),
        CancellationToken::new(),
    );
    // On this single-threaded runtime the dispatcher has not run yet: 5 reports into a
    // channel of 2 make it lag by 3.
    for id in 1..=5 {
        tx.send(report_with_gap(id)).unwrap();
    }
    drop(tx);
    tokio::time::timeout(WAIT, dispatcher)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        receiver.events(),
        vec![("opened".to_string(), "a:BTC".to_string())]
    );
    assert_eq!(
        receiver.bodies()[0]["id"],
        4,
        "the first report after the gap"
    );
    assert_eq!(counts.get(), (1, 0));
    drop(r.service);
    drop(r.store);
    r.thread.join();
}
