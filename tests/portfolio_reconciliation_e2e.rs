//! The 24 required behaviours of SPEC §9 (plus the acknowledgement lifecycle), each on
//! real domain types: a real SQLite file, a real ledger file, simulated exchanges driven
//! through the real retry policy, circuit breaker, service and actor.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{a, d, rig, rig_in, sim, sim_with};
use recon::config::TradingConfig;
use recon::domain::{DiscrepancyKind, DiscrepancySeverity, ExchangeName, ReconciliationStatus};
use recon::engine::report::ExchangeStatus;
use recon::engine::{PortfolioReconciliationService, ReconciliationActor};
use recon::exchanges::resilience::{backoff_cap, RetryPolicy};
use recon::exchanges::simulated::{Fault, SimulatedExchange};
use recon::exchanges::ExchangeClient;
use recon::store::{ChainStatus, ReconciliationRepository};

const FAST: &str = "[reconciliation]\nfetch_timeout_ms = 100\ncycle_timeout_ms = 2000\n[retry]\nmax_attempts = 3\nbase_delay_ms = 1\nmax_delay_ms = 400\n";

fn clients(list: &[&Arc<SimulatedExchange>]) -> Vec<Arc<dyn ExchangeClient>> {
    list.iter()
        .map(|s| (*s).clone() as Arc<dyn ExchangeClient>)
        .collect()
}

/// A rig with one simulated exchange `name`, which the test keeps to script.
fn single(
    extra: &str,
    ledger: &str,
    name: &str,
    pairs: &[(&str, &str)],
) -> (common::Rig, Arc<SimulatedExchange>) {
    let mut keep = None;
    let r = rig(extra, ledger, &[name], |cfg| {
        let s = sim(name, pairs, cfg);
        keep = Some(s.clone());
        clients(&[&s])
    });
    (r, keep.expect("made"))
}

fn one(ledger: &str, pairs: &[(&str, &str)]) -> (common::Rig, Arc<SimulatedExchange>) {
    single(FAST, ledger, "main", pairs)
}

// ---------------------------------------------------------------- balance fetching (5)

#[tokio::test]
async fn balance_fetching_single_exchange_with_multiple_currencies() {
    let (mut r, _) = one(
        "[main]\nBTC = \"1.5\"\nETH = \"10\"\nUSDC = \"2500.123456\"\n",
        &[("BTC", "1.5"), ("eth", "10.000"), ("USDC", "2500.123456")],
    );
    let rep = r.service.reconcile().await.unwrap();
    let ex = &rep.exchanges[0];
    assert_eq!(ex.status, ExchangeStatus::Ok);
    assert_eq!(ex.attempts, 1);
    let got: Vec<(String, String, String)> = ex
        .balances
        .iter()
        .map(|b| {
            (
                b.asset.to_string(),
                b.local.to_string(),
                b.exchange.normalize().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("BTC".into(), "1.5".into(), "1.5".into()),
            ("ETH".into(), "10".into(), "10".into()),
            ("USDC".into(), "2500.123456".into(), "2500.123456".into()),
        ]
    );
    assert_eq!(rep.status, ReconciliationStatus::Reconciled);
    assert_eq!(rep.exit_code(), 0);
}

#[tokio::test]
async fn balance_fetching_fetch_timeout() {
    let (mut r, s) = one("[main]\nBTC = \"1\"\n", &[("BTC", "1")]);
    s.inject([Fault::Timeout, Fault::Timeout, Fault::Timeout]);
    let rep = r.service.reconcile().await.unwrap();
    let ex = &rep.exchanges[0];
    assert_eq!(ex.status, ExchangeStatus::Error);
    assert_eq!(ex.attempts, 3);
    assert_eq!(
        ex.error.as_deref(),
        Some("timed out after 100 ms (3 attempts)")
    );
    assert!(
        ex.balances.is_empty(),
        "a failed exchange shows no balances"
    );
    assert_eq!(rep.status, ReconciliationStatus::Failed);
    assert_eq!(rep.exit_code(), 3);
}

#[tokio::test]
async fn balance_fetching_retry_then_success() {
    let (mut r, s) = one("[main]\nBTC = \"1\"\n", &[("BTC", "1")]);
    s.inject([Fault::Server(500), Fault::Server(502)]);
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.exchanges[0].status, ExchangeStatus::Ok);
    assert_eq!(rep.exchanges[0].attempts, 3);
    assert_eq!(rep.status, ReconciliationStatus::Reconciled);
}

#[tokio::test]
async fn balance_fetching_retries_exhausted() {
    let (mut r, s) = one("[main]\nBTC = \"1\"\n", &[("BTC", "1")]);
    s.inject([
        Fault::Server(503),
        Fault::Server(503),
        Fault::Server(503),
        Fault::Server(503),
    ]);
    let rep = r.service.reconcile().await.unwrap();
    let ex = &rep.exchanges[0];
    assert_eq!(ex.status, ExchangeStatus::Error);
    assert_eq!(
        ex.error.as_deref(),
        Some("HTTP 503: simulated server error (3 attempts)")
    );
    assert_eq!(ex.attempts, 3);
}

#[tokio::test]
async fn balance_fetching_api_error_response_is_not_retried() {
    let (mut r, s) = one("[main]\nBTC = \"1\"\n", &[("BTC", "1")]);
    s.inject([Fault::Auth]);
    let rep = r.service.reconcile().await.unwrap();
    let ex = &rep.exchanges[0];
    assert_eq!(ex.status, ExchangeStatus::Error);
    assert_eq!(ex.attempts, 1, "4xx auth errors are never retried");
    assert_eq!(
        ex.error.as_deref(),
        Some("authentication failed: HTTP 401: Unauthorized")
    );
}

// ------------------------------------------------------------ discrepancy detection (5)

#[tokio::test]
async fn detection_missing_currency_on_either_side() {
    let (mut r, _) = one(
        "[main]\nBTC = \"1\"\nLTC = \"42.125\"\n",
        &[("BTC", "1"), ("DOGE", "1500")],
    );
    let rep = r.service.reconcile().await.unwrap();
    let got: Vec<_> = rep
        .discrepancies
        .iter()
        .map(|x| {
            (
                x.id.to_string(),
                x.kind,
                x.severity,
                x.difference.to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "main:DOGE".into(),
                DiscrepancyKind::MissingLocally,
                DiscrepancySeverity::Critical,
                "1500".into()
            ),
            (
                "main:LTC".into(),
                DiscrepancyKind::MissingOnExchange,
                DiscrepancySeverity::Critical,
                "-42.125".into()
            ),
        ]
    );
    assert!(rep.discrepancies.iter().all(|x| x.relative == d("1")));
}

#[tokio::test]
async fn detection_mismatch_above_threshold() {
    let (mut r, _) = one("[main]\nBTC = \"1.5\"\n", &[("BTC", "1.4")]);
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.discrepancies.len(), 1);
    let x = &rep.discrepancies[0];
    assert_eq!(x.kind, DiscrepancyKind::Mismatch);
    assert_eq!(x.difference, d("-0.1"));
    assert_eq!(x.allowed, d("0.00015"), "max(1e-8, 1e-4 × 1.5)");
    assert_eq!(x.tolerance_source, "default");
    let json = rep.to_json();
    assert_eq!(json["discrepancies"][0]["relative"], "0.0666666667");
    assert_eq!(json["discrepancies"][0]["local"], "1.5");
    assert_eq!(json["discrepancies"][0]["exchange_amount"], "1.4");
    assert_eq!(json["discrepancies"][0]["difference"], "-0.1");
}

#[tokio::test]
async fn detection_difference_below_threshold_is_ignored() {
    // relative tolerance 0.0001 × 25000 = 2.5 ≥ 0.004; USDC also has its own absolute bound.
    let (mut r, _) = one(
        "[main]\nUSDC = \"25000.00\"\nETH = \"10\"\n",
        &[("USDC", "25000.004"), ("ETH", "10.0009")],
    );
    let rep = r.service.reconcile().await.unwrap();
    assert!(rep.discrepancies.is_empty(), "{:?}", rep.discrepancies);
    assert_eq!(rep.status, ReconciliationStatus::Reconciled);
}

#[tokio::test]
async fn detection_precision_tolerance_with_18_decimal_amounts() {
    // 18-decimal amounts compare exactly: one wei apart is within the 1e-8 absolute
    // tolerance, 0.00000002 apart on a tiny balance is not.
    let (mut r, _) = one(
        "[main]\nETH = \"1.000000000000000001\"\nWEI = \"0.000000010000000000\"\n",
        &[
            ("ETH", "1.000000000000000002"),
            ("WEI", "0.000000030000000000"),
        ],
    );
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.discrepancies.len(), 1);
    let x = &rep.discrepancies[0];
    assert_eq!(x.asset, a("WEI"));
    assert_eq!(x.difference, d("0.00000002"));
    assert_eq!(x.relative.round_dp(10), d("0.6666666667"));
    let eth = rep.exchanges[0]
        .balances
        .iter()
        .find(|b| b.asset == a("ETH"))
        .unwrap();
    assert_eq!(eth.exchange.to_string(), "1.000000000000000002");
}

#[tokio::test]
async fn detection_zero_value_balances_equal_absence() {
    let (mut r, _) = one(
        "[main]\nBTC = \"0.000\"\nETH = \"0\"\n",
        &[("BTC", "0"), ("SOL", "0.0000000000000000")],
    );
    let rep = r.service.reconcile().await.unwrap();
    assert!(rep.discrepancies.is_empty());
    assert!(
        rep.exchanges[0].balances.is_empty(),
        "zero pairs are not listed"
    );
    assert_eq!(rep.status, ReconciliationStatus::Reconciled);
}

// ------------------------------------------------------------ reconciliation logic (5)

#[tokio::test]
async fn report_generation_has_every_field_of_the_json_contract() {
    let (mut r, _) = one("[main]\nBTC = \"1.5\"\n", &[("BTC", "1.4")]);
    let rep = r.service.reconcile().await.unwrap();
    let j = rep.to_json();
    assert_eq!(j["id"], 1);
    assert_eq!(j["status"], "discrepancies");
    assert_eq!(j["worst_severity"], "critical");
    for key in ["started_at", "finished_at", "duration_ms"] {
        assert!(!j[key].is_null(), "{key}");
    }
    let ex = &j["exchanges"][0];
    assert_eq!(ex["name"], "main");
    assert_eq!(ex["kind"], "simulated");
    assert_eq!(ex["status"], "ok");
    assert_eq!(ex["attempts"], 1);
    assert_eq!(ex["error"], serde_json::Value::Null);
    assert_eq!(
        (
            ex["pages"].clone(),
            ex["rows"].clone(),
            ex["complete"].clone()
        ),
        (1.into(), 1.into(), true.into())
    );
    assert_eq!(ex["stale_secs"], 0);
    assert_eq!(
        ex["balances"],
        serde_json::json!([{"asset": "BTC", "local": "1.5", "exchange": "1.4"}])
    );
    let x = &j["discrepancies"][0];
    assert_eq!(x["id"], "main:BTC");
    assert_eq!(x["kind"], "mismatch");
    assert_eq!(x["severity"], "critical");
    assert_eq!(x["acknowledged"], false);
    assert_eq!(x["allowed"], "0.00015");
    assert_eq!(x["tolerance_source"], "default");
    assert!(x["opened_at"].as_str().unwrap().ends_with('Z'));
    assert!(x.get("acknowledged_by").is_none());
}

#[tokio::test]
async fn multi_exchange_reconciliation_keeps_exchanges_apart() {
    let r = rig(
        FAST,
        "[a]\nBTC = \"1\"\n[b]\nBTC = \"2\"\n",
        &["a", "b", "c"],
        |cfg| {
            clients(&[
                &sim("a", &[("BTC", "1")], cfg),
                &sim("b", &[("BTC", "1")], cfg),
                &sim("c", &[("ETH", "3")], cfg),
            ])
        },
    );
    let mut r = r;
    let rep = r.service.reconcile().await.unwrap();
    let names: Vec<_> = rep.exchanges.iter().map(|e| e.name.to_string()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let ids: Vec<_> = rep.discrepancies.iter().map(|x| x.id.to_string()).collect();
    // b is missing half its BTC; c holds ETH the ledger does not expect (no [c] table).
    assert_eq!(ids, ["b:BTC", "c:ETH"]);
    assert_eq!(rep.discrepancies[0].difference, d("-1"));
    assert_eq!(rep.discrepancies[0].relative, d("0.5"));
}

#[tokio::test]
async fn status_classification_reconciled_discrepancies_partial_failed() {
    let mut keep = None;
    let mut r = rig(
        FAST,
        "[a]\nBTC = \"1\"\n[b]\nETH = \"1\"\n",
        &["a", "b"],
        |cfg| {
            let a = sim("a", &[("BTC", "1")], cfg);
            let b = sim("b", &[("ETH", "1")], cfg);
            keep = Some((a.clone(), b.clone()));
            clients(&[&a, &b])
        },
    );
    let (sa, sb) = keep.unwrap();
    assert_eq!(
        r.service.reconcile().await.unwrap().status,
        ReconciliationStatus::Reconciled
    );
    sa.set_holdings(common::holdings(&[("BTC", "0.9")]));
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(
        (rep.status, rep.exit_code()),
        (ReconciliationStatus::Discrepancies, 2)
    );
    sb.inject([Fault::Auth]);
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.status, ReconciliationStatus::Partial);
    assert_eq!(
        rep.exit_code(),
        2,
        "critical on a is reported even though b failed"
    );
    sa.set_holdings(common::holdings(&[("BTC", "1")]));
    sb.inject([Fault::Auth]);
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(
        (rep.status, rep.exit_code()),
        (ReconciliationStatus::Partial, 3)
    );
    sa.inject([Fault::Auth]);
    sb.inject([Fault::Auth]);
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(
        (rep.status, rep.exit_code()),
        (ReconciliationStatus::Failed, 3)
    );
    // Unreadable (a TOML syntax error); a bad entry would only blind its exchange.
    r.write_ledger("[a]\nBTC = \"1\"\n[a]\n");
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.status, ReconciliationStatus::Failed);
    assert!(rep
        .ledger_error
        .as_deref()
        .unwrap()
        .contains("duplicate key"));
    assert!(
        rep.discrepancies.is_empty(),
        "nothing is compared against an unreadable ledger"
    );
}

#[tokio::test]
async fn multiple_concurrent_discrepancies_are_all_reported_worst_first() {
    let (mut r, _) = one(
        "[main]\nBTC = \"1.5\"\nSOL = \"250\"\nLINK = \"1200\"\nETH = \"1\"\nLTC = \"3\"\n",
        &[
            ("BTC", "1.4"),
            ("SOL", "249.5"),
            ("LINK", "1200.3"),
            ("ETH", "0.985"),
            ("ADA", "5"),
        ],
    );
    let rep = r.service.reconcile().await.unwrap();
    let got: Vec<_> = rep
        .discrepancies
        .iter()
        .map(|x| (x.id.to_string(), x.severity))
        .collect();
    use DiscrepancySeverity::*;
    assert_eq!(
        got,
        vec![
            ("main:ADA".into(), Critical),
            ("main:BTC".into(), Critical),
            ("main:LTC".into(), Critical),
            ("main:ETH".into(), High),
            ("main:SOL".into(), Medium),
            ("main:LINK".into(), Low),
        ]
    );
    assert_eq!(rep.worst_severity, Some(Critical));
}

#[tokio::test]
async fn severity_classification_follows_the_configured_bands() {
    // relative = |diff| / 100: exactly on each threshold, and just below.
    let (mut r, _) = one(
        "[main]\nA = \"100\"\nB = \"100\"\nC = \"100\"\nD = \"100\"\nE = \"100\"\nF = \"100\"\n",
        &[
            ("A", "95"),
            ("B", "95.01"),
            ("C", "99"),
            ("D", "99.01"),
            ("E", "99.9"),
            ("F", "99.91"),
        ],
    );
    let rep = r.service.reconcile().await.unwrap();
    let mut got: Vec<_> = rep
        .discrepancies
        .iter()
        .map(|x| (x.asset.to_string(), x.severity))
        .collect();
    got.sort();
    use DiscrepancySeverity::*;
    assert_eq!(
        got,
        vec![
            ("A".into(), Critical),
            ("B".into(), High),
            ("C".into(), High),
            ("D".into(), Medium),
            ("E".into(), Medium),
            ("F".into(), Low),
        ]
    );
}

// ------------------------------------------------------------------ error handling (5)

#[tokio::test]
async fn network_timeout_of_one_exchange_leaves_the_others_reconciled() {
    let mut r = rig(
        "[reconciliation]\ncycle_timeout_ms = 150\nfetch_timeout_ms = 1000\n",
        "[slow]\nBTC = \"1\"\n[fast]\nBTC = \"1\"\n",
        &["slow", "fast"],
        |cfg| {
            clients(&[
                &sim_with("slow", &[("BTC", "1")], cfg, (600, 600)),
                &sim("fast", &[("BTC", "2")], cfg),
            ])
        },
    );
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.exchanges[0].status, ExchangeStatus::Error);
    // The real failure, not the budget: the one attempt timed out, its timeout clamped to
    // what was left of the 150 ms cycle.
    let err = rep.exchanges[0].error.clone().unwrap();
    let ms: u64 = err
        .strip_prefix("timed out after ")
        .and_then(|r| r.strip_suffix(" ms (1 attempts)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!((1..=150).contains(&ms), "{err}");
    assert_eq!(rep.exchanges[0].attempts, 1);
    assert!(
        rep.duration_ms < 600,
        "the cycle does not wait for the slow exchange"
    );
    assert_eq!(rep.status, ReconciliationStatus::Partial);
    assert_eq!(rep.discrepancies.len(), 1);
    assert_eq!(rep.discrepancies[0].id.to_string(), "fast:BTC");
}

#[tokio::test(start_paused = true)]
async fn rate_limit_429_honours_retry_after() {
    let cfg = common::load_config(
        tempfile::tempdir().unwrap().path(),
        &common::config_text(FAST, &["x"]),
    );
    let s = sim("x", &[("BTC", "1")], &cfg);
    s.inject([Fault::RateLimited(Some(Duration::from_millis(300)))]);
    let t0 = tokio::time::Instant::now();
    let got = s.fetch_balances().await.unwrap();
    assert_eq!(got.attempts, 2);
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(300),
        "waits exactly Retry-After"
    );
    // A Retry-After beyond the policy's max delay gives up at once instead of sleeping.
    s.inject([Fault::RateLimited(Some(Duration::from_secs(60)))]);
    let err = s.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "rate limited (HTTP 429, retry after 60000 ms) after 1 attempts"
    );
}

#[tokio::test]
async fn malformed_data_degrades_gracefully_other_exchanges_still_reconciled() {
    let mut keep = None;
    let mut r = rig(
        FAST,
        "[bad]\nBTC = \"1\"\n[good]\nBTC = \"1\"\n",
        &["bad", "good"],
        |cfg| {
            let bad = sim("bad", &[("BTC", "1")], cfg);
            keep = Some(bad.clone());
            clients(&[&bad, &sim("good", &[("BTC", "0.5")], cfg)])
        },
    );
    keep.unwrap().inject([Fault::Malformed(
        "expected a JSON object at line 1 column 1".into(),
    )]);
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.exchanges[0].status, ExchangeStatus::Error);
    assert_eq!(
        rep.exchanges[0].error.as_deref(),
        Some("malformed response: expected a JSON object at line 1 column 1")
    );
    assert!(rep.exchanges[0].balances.is_empty());
    assert_eq!(rep.exchanges[1].status, ExchangeStatus::Ok);
    assert_eq!(rep.discrepancies.len(), 1);
    assert_eq!(rep.discrepancies[0].id.to_string(), "good:BTC");
    assert!(!rep
        .discrepancies
        .iter()
        .any(|x| x.exchange.as_str() == "bad"));
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_with_full_jitter_stays_under_the_doubling_cap() {
    let ms = Duration::from_millis;
    let caps: Vec<_> = (1..=6).map(|n| backoff_cap(ms(100), ms(2000), n)).collect();
    assert_eq!(
        caps,
        [ms(100), ms(200), ms(400), ms(800), ms(1600), ms(2000)]
    );
    let policy = RetryPolicy::new(5, ms(100), ms(2000)).with_seed(9);
    let delays: Vec<_> = (1..=4).map(|n| policy.next_delay(n)).collect();
    for (n, d) in delays.iter().enumerate() {
        assert!(
            *d <= caps[n],
            "retry {} waited {:?} > cap {:?}",
            n + 1,
            d,
            caps[n]
        );
    }
    // Through the simulated exchange: four failures then success waits the same four
    // seeded delays in total (paused clock: exact).
    let cfg = common::load_config(
        tempfile::tempdir().unwrap().path(),
        &common::config_text(
            "[retry]\nmax_attempts = 5\nbase_delay_ms = 100\nmax_delay_ms = 2000\n",
            &["x"],
        ),
    );
    let s = sim("x", &[("BTC", "1")], &cfg);
    s.inject([
        Fault::Server(500),
        Fault::Server(500),
        Fault::Connect,
        Fault::Server(500),
    ]);
    let expected = {
        // The exchange seeds its policy from its own seed; recompute its sequence. Tokio's
        // timer wheel fires on whole milliseconds, rounding each sleep up.
        let p = RetryPolicy::new(5, ms(100), ms(2000)).with_seed(1 ^ 0x5eed);
        (1..=4)
            .map(|n| ms(p.next_delay(n).as_nanos().div_ceil(1_000_000) as u64))
            .sum::<Duration>()
    };
    let t0 = tokio::time::Instant::now();
    let got = s.fetch_balances().await.unwrap();
    assert_eq!(got.attempts, 5);
    assert_eq!(t0.elapsed(), expected);
    assert!(expected <= ms(100 + 200 + 400 + 800));
}

#[tokio::test]
async fn circuit_breaker_opens_refuses_then_half_opens_and_closes() {
    let (mut r, s) = single(
        "[circuit_breaker]\nfailure_threshold = 2\nopen_secs = 0.2\n[retry]\nmax_attempts = 1\n",
        "[x]\nBTC = \"1\"\n",
        "x",
        &[("BTC", "1")],
    );
    s.inject([Fault::Server(500), Fault::Server(500)]);
    let first = r.service.reconcile().await.unwrap();
    assert_eq!(first.exchanges[0].circuit.as_str(), "closed");
    let second = r.service.reconcile().await.unwrap();
    assert_eq!(second.exchanges[0].circuit.as_str(), "open");
    let refused = r.service.reconcile().await.unwrap();
    assert_eq!(refused.exchanges[0].status, ExchangeStatus::CircuitOpen);
    assert_eq!(refused.exchanges[0].attempts, 0, "no request while open");
    assert!(refused.exchanges[0]
        .error
        .as_deref()
        .unwrap()
        .starts_with("circuit open after 2 consecutive failures"));
    assert_eq!(refused.to_json()["exchanges"][0]["status"], "circuit_open");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let trial = r.service.reconcile().await.unwrap();
    assert_eq!(trial.exchanges[0].status, ExchangeStatus::Ok);
    assert_eq!(trial.exchanges[0].circuit.as_str(), "closed");
    let db = r.db();
    let _dir = r.close();
    let repo = ReconciliationRepository::open(&db).unwrap();
    let events: Vec<_> = repo
        .audit_page(None, 100)
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| e.event)
        .collect();
    let opened = events
        .iter()
        .position(|e| e == "circuit_opened")
        .expect("circuit_opened audited");
    let closed = events
        .iter()
        .position(|e| e == "circuit_closed")
        .expect("circuit_closed audited");
    assert!(opened < closed);
}

// ---------------------------------------------------------- actor & integration (4)

#[tokio::test]
async fn actor_message_handling_reconcile_ack_pause_shutdown() {
    let r = rig(FAST, "[x]\nBTC = \"1.5\"\n", &["x"], |cfg| {
        clients(&[&sim("x", &[("BTC", "1.4")], cfg)])
    });
    let (service, store) = (r.service, r.store.clone());
    let (handle, join) =
        ReconciliationActor::spawn(service, store, Duration::from_secs(3600), true, vec![]);
    let mut view = handle.view();
    assert!(
        view.borrow().report.is_none(),
        "paused: no cycle until asked"
    );
    let rep = handle.reconcile_now().await.unwrap();
    assert_eq!(rep.status, ReconciliationStatus::Discrepancies);
    assert_eq!(
        view.borrow_and_update().cycles_completed,
        1,
        "published before the reply"
    );
    let acked = handle
        .acknowledge(
            ExchangeName::new("x"),
            a("btc"),
            "alice".into(),
            "known transfer".into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(acked.acknowledgement.as_ref().unwrap().by, "alice");
    // The view reflects the ack at once: nothing unacknowledged is left.
    let v = view
        .wait_for(|v| {
            v.report
                .as_ref()
                .is_some_and(|r| r.status == ReconciliationStatus::Reconciled)
        })
        .await
        .unwrap()
        .clone();
    assert_eq!(v.report.as_ref().unwrap().exit_code(), 0);
    handle.set_paused(false).await.unwrap();
    view.wait_for(|v| !v.paused).await.unwrap();
    let page = handle.audit_page(None, 5).await.unwrap();
    assert_eq!(page[0].event, "discrepancy_acknowledged");
    assert_eq!(page[0].subject.as_deref(), Some("x:BTC"));
    handle.shutdown().await;
    join.await.unwrap();
    assert!(
        handle.reconcile_now().await.is_err(),
        "stopped actor answers EngineStopped"
    );
    drop(handle);
    drop(r.store);
    r.thread.join();
}

#[tokio::test]
async fn persistence_survives_a_restart_with_acks_and_resolves_later() {
    let ledger = "[x]\nBTC = \"1.5\"\n";
    let mut r = rig(FAST, ledger, &["x"], |cfg| {
        clients(&[&sim("x", &[("BTC", "1.4")], cfg)])
    });
    let first = r.service.reconcile().await.unwrap();
    r.service
        .acknowledge(
            ExchangeName::new("x"),
            a("BTC"),
            "bob".into(),
            "in transit".into(),
            None,
        )
        .await
        .unwrap();
    let opened_at = first.discrepancies[0].opened_at;
    let dir = r.close();
    // Restart on the same files: the discrepancy is still open and still acknowledged.
    let mut r = rig_in(dir, FAST, ledger, &["x"], |cfg| {
        clients(&[&sim("x", &[("BTC", "1.4")], cfg)])
    });
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.id, 2);
    let x = &rep.discrepancies[0];
    assert_eq!(x.opened_at, opened_at);
    let ack = x
        .acknowledgement
        .as_ref()
        .expect("ack survived the restart");
    assert_eq!(
        (ack.by.as_str(), ack.note.as_str(), ack.difference),
        ("bob", "in transit", d("-0.1"))
    );
    assert_eq!(rep.status, ReconciliationStatus::Reconciled);
    assert!(rep.exchanges[0].last_ok_at.is_some());
    let dir = r.close();
    // The exchange catches up: resolved.
    let mut r = rig_in(dir, FAST, ledger, &["x"], |cfg| {
        clients(&[&sim("x", &[("BTC", "1.5")], cfg)])
    });
    let rep = r.service.reconcile().await.unwrap();
    assert!(rep.discrepancies.is_empty());
    let db = r.db();
    let _dir = r.close();
    let repo = ReconciliationRepository::open(&db).unwrap();
    assert!(repo.open_discrepancies().unwrap().is_empty());
    assert_eq!(repo.last_cycle_id().unwrap(), Some(3));
}

#[tokio::test]
async fn audit_trail_records_every_event_and_the_chain_verifies() {
    let (mut r, s) = single(FAST, "[x]\nBTC = \"1.5\"\n", "x", &[("BTC", "1.4")]);
    r.service.reconcile().await.unwrap();
    s.set_holdings(common::holdings(&[("BTC", "1.2")]));
    r.service.reconcile().await.unwrap();
    r.service
        .acknowledge(
            ExchangeName::new("x"),
            a("BTC"),
            "carol".into(),
            "ok".into(),
            None,
        )
        .await
        .unwrap();
    s.inject([Fault::Auth]);
    r.service.reconcile().await.unwrap();
    s.set_holdings(common::holdings(&[("BTC", "1.5")]));
    r.service.reconcile().await.unwrap();
    let db = r.db();
    let _dir = r.close();
    let repo = ReconciliationRepository::open(&db).unwrap();
    let events: Vec<_> = repo
        .audit_page(None, 100)
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| format!("{} {}", e.event, e.subject.unwrap_or_default()))
        .collect();
    assert_eq!(
        events,
        [
            "discrepancy_opened x:BTC",
            "cycle_completed cycle 1",
            "cycle_completed cycle 2",
            "discrepancy_acknowledged x:BTC",
            "exchange_error x",
            "cycle_completed cycle 3",
            "discrepancy_resolved x:BTC",
            "cycle_completed cycle 4",
        ]
    );
    assert_eq!(
        repo.verify_audit().unwrap(),
        ChainStatus::Intact {
            entries: 8,
            head: Some(repo.audit_page(None, 1).unwrap()[0].hash.clone())
        }
    );
    // Append-only: the triggers refuse UPDATE, DELETE and INSERT OR REPLACE.
    let conn = rusqlite::Connection::open(&db).unwrap();
    for sql in [
        "UPDATE audit_log SET event = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 8",
        "INSERT OR REPLACE INTO audit_log (seq, at, event, subject, detail, prev_hash, hash) VALUES (1, 'a', 'b', NULL, '{}', 'p', 'h')",
    ] {
        let err = conn.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
}

#[test]
fn configuration_loading_merges_file_env_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[reconciliation]\ninterval_secs = 10\n[tolerance.assets.usdc]\nabsolute = \"0.01\"\n\
         [[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = { BTC = \"1\" }\n",
    )
    .unwrap();
    let env = vec![
        (
            "RECON_RECONCILIATION_INTERVAL_SECS".to_string(),
            "0.5".to_string(),
        ),
        (
            "RECON_CIRCUIT_BREAKER_OPEN_SECS".to_string(),
            "12".to_string(),
        ),
        ("RECON_TOLERANCE_RELATIVE".to_string(), "0.0002".to_string()),
    ];
    let cfg = TradingConfig::load_with_env(&path, env).unwrap();
    assert_eq!(
        cfg.reconciliation.interval,
        Duration::from_millis(500),
        "env beats file"
    );
    assert_eq!(cfg.circuit_breaker.open_for, Duration::from_secs(12));
    assert_eq!(cfg.tolerance.relative, d("0.0002"));
    assert_eq!(
        cfg.reconciliation.fetch_timeout,
        Duration::from_millis(1000),
        "default"
    );
    assert_eq!(cfg.retry.max_attempts, 3, "default");
    assert_eq!(cfg.severity.critical, d("0.05"), "default");
    assert_eq!(cfg.tolerance.assets[&a("USDC")].absolute, Some(d("0.01")));
    assert_eq!(
        cfg.storage_path,
        dir.path().join("recon.db"),
        "relative to the config file"
    );
    let bad = TradingConfig::load_with_env(
        &path,
        vec![("RECON_RETRY_MAX_ATTEMPTS".to_string(), "0".to_string())],
    )
    .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "environment RECON_RETRY_MAX_ATTEMPTS: retry.max_attempts: must be between 1 and 20"
    );
}

// ------------------------------------------------------- acknowledgement lifecycle

#[tokio::test]
async fn acknowledgement_lapses_when_the_gap_grows_beyond_tolerance() {
    let (mut r, s) = single(FAST, "[x]\nBTC = \"1.5\"\n", "x", &[("BTC", "1.4")]);
    r.service.reconcile().await.unwrap();
    r.service
        .acknowledge(
            ExchangeName::new("x"),
            a("BTC"),
            "dan".into(),
            "".into(),
            None,
        )
        .await
        .unwrap();
    // Grows by 0.0001 ≤ allowed (0.00015): still acknowledged.
    s.set_holdings(common::holdings(&[("BTC", "1.3999")]));
    let rep = r.service.reconcile().await.unwrap();
    assert!(rep.discrepancies[0].is_acknowledged());
    assert_eq!(rep.status, ReconciliationStatus::Reconciled);
    // Grows by 0.05 > allowed: re-opened, raising status and exit code again.
    s.set_holdings(common::holdings(&[("BTC", "1.35")]));
    let rep = r.service.reconcile().await.unwrap();
    assert!(!rep.discrepancies[0].is_acknowledged());
    assert_eq!(
        (rep.status, rep.exit_code()),
        (ReconciliationStatus::Discrepancies, 2)
    );
    let err = r
        .service
        .acknowledge(
            ExchangeName::new("x"),
            a("ETH"),
            "dan".into(),
            "".into(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "no open discrepancy 'x:ETH'");
}

#[tokio::test]
async fn acknowledgement_lapses_when_the_gap_changes_direction() {
    let (mut r, s) = single(FAST, "[x]\nBTC = \"1\"\n", "x", &[]);
    assert_eq!(r.service.reconcile().await.unwrap().exit_code(), 2);
    r.service
        .acknowledge(
            ExchangeName::new("x"),
            a("BTC"),
            "ops".into(),
            "in transit".into(),
            None,
        )
        .await
        .unwrap();
    // −1 BTC becomes +1 BTC: the same size, but a 2 BTC swing.
    s.set_holdings(common::holdings(&[("BTC", "2")]));
    let rep = r.service.reconcile().await.unwrap();
    assert!(!rep.discrepancies[0].is_acknowledged());
    assert_eq!(
        (rep.status, rep.exit_code()),
        (ReconciliationStatus::Discrepancies, 2)
    );
}

#[tokio::test]
async fn snapshot_history_records_a_balance_going_to_zero() {
    let (mut r, s) = single(FAST, "[x]\nBTC = \"1\"\n", "x", &[("BTC", "1")]);
    r.service.reconcile().await.unwrap();
    r.write_ledger("[x]\n");
    s.set_holdings(common::holdings(&[]));
    r.service.reconcile().await.unwrap();
    let db = r.db();
    let _dir = r.close();
    let rows: Vec<(i64, String, String)> = rusqlite::Connection::open(db)
        .unwrap()
        .prepare("SELECT cycle_id, local, exchange_amount FROM balance_snapshots WHERE asset = 'BTC' ORDER BY cycle_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![(1, "1".into(), "1".into()), (2, "0".into(), "0".into())]
    );
}

#[tokio::test]
async fn a_difference_that_cannot_be_held_exactly_is_an_error_not_a_rounded_number() {
    let (mut r, _) = one(
        "[main]\nBTC = \"1.123456789012345678901234567\"\n",
        &[("BTC", "100")],
    );
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.exchanges[0].status, ExchangeStatus::Error);
    assert_eq!(
        rep.exchanges[0].error.as_deref(),
        Some("bad amount for BTC: the difference from the ledger cannot be held exactly in a 96-bit decimal")
    );
    assert!(rep.discrepancies.is_empty());
}
