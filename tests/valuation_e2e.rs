//! Valuation end to end (SPEC §2, §3, §4): the real binary (`recon once`) on a temp dir
//! with a real config, ledger and SQLite file, simulated exchanges, and price sources that
//! are the config's table or a loopback mock serving the captured Coinbase Advanced
//! public market-data bodies (`tests/fixtures/coinbase_advanced/market_products_*`) and
//! error bodies; the stale-price case runs two cycles of the real engine in process.

mod support;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command;
use recon::config::TradingConfig;
use recon::engine::PortfolioReconciliationService;
use serde_json::{json, Value};
use support::mock_exchange::{Auth, MockExchange, Scripted};

const PRODUCTS: &str = "/api/v3/brokerage/market/products";

const HEADER: &str = r#"
[reconciliation]
cycle_timeout_ms = 5000
fetch_timeout_ms = 1000

[ledger]
path = "ledger.toml"

[storage]
path = "recon.db"

[logging]
dir = "logs"

[retry]
max_attempts = 3
base_delay_ms = 10
max_delay_ms = 50
"#;

/// "Ignore under $1, page over $10,000", with high from $1,000.
const THRESHOLDS: &str = "[severity.value]\ndust = \"1\"\nhigh = \"1000\"\ncritical = \"10000\"\n";

fn spot(balances: &str) -> String {
    format!("[[exchanges]]\nname = \"spot\"\nkind = \"simulated\"\nlatency_ms = [0, 0]\ndrift = \"0\"\nbalances = {{ {balances} }}\n")
}

fn setup(config: &str, ledger: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!("{HEADER}\n{config}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("ledger.toml"), ledger).unwrap();
    dir
}

async fn run(dir: &Path, args: &'static [&'static str]) -> Output {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        Command::cargo_bin("recon")
            .unwrap()
            .current_dir(&dir)
            .args(["--config", "config.toml"])
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// `recon once --format json`: exit code and report.
async fn once(dir: &Path) -> (i32, Value) {
    let out = run(dir, &["once", "--format", "json"]).await;
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// Per discrepancy: id, severity, price, value, value_severity, price_error.
fn lines(report: &Value) -> Vec<Value> {
    report["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            json!([
                d["id"],
                d["severity"],
                d["price"],
                d["value"],
                d["value_severity"],
                d["price_error"]
            ])
        })
        .collect()
}

#[tokio::test]
async fn a_dust_gap_stays_low_whatever_its_ratio() {
    let dir = setup(
        &format!(
            "{THRESHOLDS}[valuation]\nprices = {{ BTC = \"97000\", AIRDROP = \"0.03\" }}\n{}",
            spot("BTC = \"1.5\", AIRDROP = \"20\"")
        ),
        "[spot]\nBTC = \"1.5\"\n",
    );
    let (code, r) = once(dir.path()).await;
    // A 100 % gap (relative critical) worth 60 cents.
    assert_eq!(
        lines(&r),
        vec![json!(["spot:AIRDROP", "low", "0.03", "0.6", "low", null])]
    );
    assert_eq!(r["discrepancies"][0]["relative"], "1");
    assert_eq!(
        (r["status"].as_str(), r["worst_severity"].as_str()),
        (Some("discrepancies"), Some("low"))
    );
    assert_eq!(r["quote"], "USD");
    assert_eq!(r["value_at_risk"], "0.6");
    assert_eq!(r["value_at_risk_error"], Value::Null);
    assert_eq!(r["exchanges"][0]["value_at_risk"], "0.6");
    assert_eq!(r["exchanges"][0]["value_at_risk_error"], Value::Null);
    assert_eq!(
        (
            &r["prices"]["source"],
            &r["prices"]["max_age_secs"],
            &r["prices"]["age_secs"],
            &r["prices"]["stale"]
        ),
        (&json!("static"), &json!(300), &json!(0), &json!(false))
    );
    assert_eq!(code, 1);
}

#[tokio::test]
async fn a_tiny_ratio_gap_on_a_large_balance_is_high_or_critical_by_value() {
    let dir = setup(
        &format!(
            "{THRESHOLDS}[valuation]\nprices = {{ BTC = \"97000\", ETH = \"3500\" }}\n{}",
            spot("BTC = \"149.7\", ETH = \"999.7\"")
        ),
        "[spot]\nBTC = \"150\"\nETH = \"1000\"\n",
    );
    let (code, r) = once(dir.path()).await;
    assert_eq!(
        lines(&r),
        vec![
            // 0.2 % (medium by ratio), $29,100.
            json!(["spot:BTC", "critical", "97000", "29100", "critical", null]),
            // 0.03 % (low by ratio), $1,050.
            json!(["spot:ETH", "high", "3500", "1050", "high", null]),
        ]
    );
    assert_eq!(r["discrepancies"][0]["relative"], "0.002");
    assert_eq!(r["discrepancies"][1]["relative"], "0.0003");
    assert_eq!(r["value_at_risk"], "30150");
    assert_eq!(r["worst_severity"], "critical");
    assert_eq!(code, 2);
}

/// The ledger and exchange of the Coinbase cases: BTC short by 0.1, a perpetual ETH-USD
/// position off by 0.1, USDC (pegged) off by 25.
fn coinbase_dir(mock: &MockExchange) -> tempfile::TempDir {
    setup(
        &format!(
            "{THRESHOLDS}[valuation]\nsource = \"coinbase\"\nbase_url = \"{}\"\npegged = [\"USDC\"]\n{}",
            mock.base_url(),
            spot("BTC = \"0.9\", SOL = \"10\", USDC = \"1025\", \"ETH-USD\" = \"-3.4\"")
        ),
        "[spot]\nBTC = \"1\"\nSOL = \"10\"\nUSDC = \"1000\"\n\"ETH-USD\" = \"-3.5\"\n",
    )
}

#[tokio::test]
async fn coinbase_prices_from_the_loopback_mock_through_a_429_and_a_5xx() {
    let mock = MockExchange::start(Auth::None).await;
    mock.push(
        PRODUCTS,
        [
            Scripted::manifest("cb_adv_429_html"),
            Scripted::manifest("cb_adv_500"),
            Scripted::file("coinbase_advanced/market_products_btc_eth_sol.json"),
        ],
    );
    let dir = coinbase_dir(&mock);
    let (code, r) = once(dir.path()).await;
    assert_eq!(
        lines(&r),
        vec![
            json!(["spot:BTC", "critical", "97012.34", "9701.234", "high", null]),
            json!(["spot:ETH-USD", "high", "3521.07", "352.107", "low", null]),
            json!(["spot:USDC", "high", "1", "25", "low", null]),
        ]
    );
    assert_eq!(r["discrepancies"][2]["price_as_of"], Value::Null, "pegged");
    assert!(r["discrepancies"][0]["price_as_of"].is_string());
    assert_eq!(r["value_at_risk"], "10078.341");
    assert_eq!(r["prices"]["source"], "coinbase");
    assert_eq!(r["prices"]["error"], Value::Null);
    assert_eq!(r["prices"]["stale"], false);
    assert_eq!(r["exchanges"][0]["status"], "ok");
    assert_eq!(code, 2);
    // One batch for every priced asset of the ledger (pegged USDC not asked), retried
    // through the 429 and the 500; no key sent.
    let requests: Vec<_> = mock.requests();
    assert_eq!(requests.len(), 3);
    for q in &requests {
        let ids: Vec<String> = url::form_urlencoded::parse(q.query.as_deref().unwrap().as_bytes())
            .filter(|(k, _)| k == "product_ids")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(ids, ["BTC-USD", "ETH-USD", "SOL-USD"]);
        assert!(!q.headers.contains_key("authorization"));
    }
}

#[tokio::test]
async fn a_failing_price_source_leaves_relative_severity_and_the_exchange_alone() {
    let mock = MockExchange::start(Auth::None).await;
    mock.always(PRODUCTS, Scripted::manifest("cb_adv_500"));
    let dir = coinbase_dir(&mock);
    let (code, r) = once(dir.path()).await;
    let err = "coinbase prices: HTTP 500: internal error (3 attempts)";
    assert_eq!(
        lines(&r),
        vec![
            json!([
                "spot:BTC",
                "critical",
                null,
                null,
                null,
                format!("no price for BTC: {err}")
            ]),
            json!([
                "spot:ETH-USD",
                "high",
                null,
                null,
                null,
                format!("no price for ETH: {err}")
            ]),
            // Pegged: worth 1 by definition, whatever the source says.
            json!(["spot:USDC", "high", "1", "25", "low", null]),
        ]
    );
    assert_eq!(r["value_at_risk"], Value::Null);
    assert_eq!(
        r["value_at_risk_error"],
        format!(
            "spot:BTC (no price for BTC: {err}) and 1 more counted discrepancies have no value"
        )
    );
    assert_eq!(r["prices"]["error"], err);
    assert_eq!(r["prices"]["stale"], true);
    assert_eq!(r["prices"]["fetched_at"], Value::Null);
    assert_eq!(r["exchanges"][0]["status"], "ok");
    assert_eq!(r["exchanges"][0]["error"], Value::Null);
    assert_eq!(r["status"], "discrepancies");
    assert_eq!(code, 2);
}

#[tokio::test]
async fn a_malformed_price_body_is_an_error_for_prices_only() {
    let mock = MockExchange::start(Auth::None).await;
    mock.always(
        "/prices",
        Scripted::json(200, &br#"{"BTC": 97000.5, "SOL": "180"}"#[..]),
    );
    let dir = setup(
        &format!(
            "[valuation]\nsource = \"http\"\nurl = \"{}prices?token=SECRET-PRICE-TOKEN\"\npegged = [\"USDC\"]\n{}",
            mock.base_url(),
            spot("BTC = \"0.9\", SOL = \"9\", USDC = \"1025\"")
        ),
        "[spot]\nBTC = \"1\"\nSOL = \"10\"\nUSDC = \"1000\"\n",
    );
    let out = run(dir.path(), &["once", "--format", "json"]).await;
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = "http prices: malformed response: price of BTC: a JSON number with a fraction loses precision; send it as a string";
    assert_eq!(
        lines(&r),
        vec![
            json!([
                "spot:BTC",
                "critical",
                null,
                null,
                null,
                format!("no price for BTC: {err}")
            ]),
            json!([
                "spot:SOL",
                "critical",
                null,
                null,
                null,
                format!("no price for SOL: {err}")
            ]),
            json!(["spot:USDC", "high", "1", "25", "low", null]),
        ]
    );
    assert_eq!(r["exchanges"][0]["status"], "ok");
    assert_eq!(r["status"], "discrepancies");
    assert_eq!(out.status.code(), Some(2));
    // The URL carries a token: never printed, here or by `recon config`.
    let config = run(dir.path(), &["config"]).await;
    for o in [&out, &config] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!all.contains("SECRET-PRICE-TOKEN"), "{all}");
    }
    assert!(String::from_utf8_lossy(&config.stdout).contains("source = \"http\"\nurl = \"***\"\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_price_falls_back_to_relative_severity_and_says_why() {
    let mock = MockExchange::start(Auth::None).await;
    mock.push(
        "/prices",
        [Scripted::json(200, &br#"{"BTC": "97000"}"#[..])],
    );
    mock.always("/prices", Scripted::manifest("cb_adv_500"));
    let dir = setup(
        &format!(
            "{THRESHOLDS}[valuation]\nsource = \"http\"\nurl = \"{}prices\"\nmax_age_secs = 1\n{}",
            mock.base_url(),
            spot("BTC = \"149.7\"")
        ),
        "[spot]\nBTC = \"150\"\n",
    );
    let cfg = Arc::new(TradingConfig::load(&dir.path().join("config.toml")).unwrap());
    let mut parts = recon::commands::start_engine(cfg, "test").await.unwrap();

    // Fresh: critical by value.
    let r1 = parts.service.reconcile().await.unwrap().to_json();
    assert_eq!(
        lines(&r1),
        vec![json!([
            "spot:BTC", "critical", "97000", "29100", "critical", null
        ])]
    );
    // The source fails, the cached price is still within max_age: it is used.
    let r2 = parts.service.reconcile().await.unwrap().to_json();
    assert_eq!(lines(&r2)[0][3], "29100");
    assert_eq!(
        r2["prices"]["error"],
        "http prices: HTTP 500: internal error (3 attempts)"
    );
    assert_eq!(r2["prices"]["stale"], false);
    // Too old: no value, the reason, and the relative severity (0.2 % = medium).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r3 = parts.service.reconcile().await.unwrap().to_json();
    assert_eq!(
        lines(&r3),
        vec![json!([
            "spot:BTC",
            "medium",
            null,
            null,
            null,
            "price for BTC is 2 s old (max 1); the last fetch failed: http prices: HTTP 500: internal error (3 attempts)"
        ])]
    );
    assert_eq!(r3["prices"]["stale"], true);
    assert_eq!(r3["prices"]["age_secs"], 2);
    assert_eq!(r3["exchanges"][0]["status"], "ok");
    assert_eq!(r3["value_at_risk"], Value::Null);
    drop(parts.service);
    drop(parts.store);
    parts.store_thread.join();
}

#[tokio::test]
async fn table_output_has_a_value_column_aligned_on_the_point_and_the_value_at_risk() {
    let mock = MockExchange::start(Auth::None).await;
    mock.always(
        "/prices",
        Scripted::json(200, &br#"{"BTC": "97000", "ETH": "3500.5"}"#[..]),
    );
    let dir = setup(
        &format!(
            "{THRESHOLDS}[valuation]\nsource = \"http\"\nurl = \"{}prices\"\n{}",
            mock.base_url(),
            spot("BTC = \"149.7\", ETH = \"999.7\", XYZ = \"5\"")
        ),
        "[spot]\nBTC = \"150\"\nETH = \"1000\"\n",
    );
    let out = run(dir.path(), &["once", "--format", "table"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    let from_table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("SEVERITY"))
        .collect();
    assert_eq!(
        from_table,
        vec![
            "SEVERITY    STATE   ID        KIND             LOCAL  EXCHANGE  DIFFERENCE  EXPECTED  RESIDUAL  RELATIVE  VALUE (USD)  NOTE",
            "✖ CRITICAL  ● open  spot:BTC  mismatch           150     149.7        -0.3         0      -0.3  0.002        29100",
            "✖ CRITICAL  ● open  spot:XYZ  missing_locally      0       5           5           0       5    1                -     no value: no price for XYZ from http",
            "◆ HIGH      ● open  spot:ETH  mismatch          1000     999.7        -0.3         0      -0.3  0.0003        1050.15",
            "",
            "value at risk: unknown: spot:XYZ (no price for XYZ from http) has no value",
        ]
    );
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn an_expectation_residual_is_rated_by_its_own_value() {
    let dir = setup(
        &format!(
            "{THRESHOLDS}[valuation]\nprices = {{ BTC = \"97000\" }}\n{}",
            spot("BTC = \"149.7\"")
        ),
        "[spot]\nBTC = \"150\"\n",
    );
    let out = run(
        dir.path(),
        &["expect", "spot:BTC", "-0.28", "--for", "1h", "--by", "ops"],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, r) = once(dir.path()).await;
    let d = &r["discrepancies"][0];
    // The gap is $29,100; what nobody declared is 0.02 BTC = $1,940: high by value
    // (0.013 % of the balance: low by ratio), and counted.
    assert_eq!(
        (
            &d["residual"],
            &d["value"],
            &d["value_severity"],
            &d["severity"],
            &d["state"]
        ),
        (
            &json!("-0.02"),
            &json!("29100"),
            &json!("high"),
            &json!("high"),
            &json!("open")
        )
    );
    assert_eq!(r["value_at_risk"], "29100");
    assert_eq!(code, 2);
}

#[tokio::test]
async fn coinbase_is_asked_again_for_an_asset_only_the_exchange_holds() {
    let mock = MockExchange::start(Auth::None).await;
    mock.always(
        PRODUCTS,
        Scripted::file("coinbase_advanced/market_products_btc_eth_sol.json"),
    );
    let dir = setup(
        &format!(
            "[valuation]\nsource = \"coinbase\"\nbase_url = \"{}\"\n{}",
            mock.base_url(),
            spot("BTC = \"1\", SOL = \"2\"")
        ),
        "[spot]\nBTC = \"1\"\n",
    );
    let (_, r) = once(dir.path()).await;
    assert_eq!(
        lines(&r),
        vec![json!(["spot:SOL", "critical", "187.5", "375", "low", null])]
    );
    let asked: Vec<Option<String>> = mock.requests().iter().map(|q| q.query.clone()).collect();
    assert_eq!(
        asked,
        vec![
            Some("product_ids=BTC-USD".to_string()),
            Some("product_ids=SOL-USD".to_string())
        ]
    );
}

#[tokio::test]
async fn a_coinbase_price_sent_as_a_json_number_is_an_error_for_prices_only() {
    let mock = MockExchange::start(Auth::None).await;
    mock.always(
        PRODUCTS,
        Scripted::file("coinbase_advanced/market_products_price_as_number_synthetic.json"),
    );
    let dir = coinbase_dir(&mock);
    let (code, r) = once(dir.path()).await;
    let err = "coinbase prices: malformed response: price of BTC-USD: a JSON number instead of a decimal string";
    assert_eq!(
        lines(&r),
        vec![
            json!([
                "spot:BTC",
                "critical",
                null,
                null,
                null,
                format!("no price for BTC: {err}")
            ]),
            json!([
                "spot:ETH-USD",
                "high",
                null,
                null,
                null,
                format!("no price for ETH: {err}")
            ]),
            json!(["spot:USDC", "high", "1", "25", "low", null]),
        ]
    );
    assert_eq!(r["exchanges"][0]["status"], "ok");
    assert_eq!(r["prices"]["error"], err);
    assert_eq!(code, 2);
    // Audited with its money terms.
    let audit = run(dir.path(), &["audit", "--format", "json"]).await;
    let entries: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let opened = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "discrepancy_opened" && e["subject"] == "spot:USDC")
        .unwrap();
    let detail = &opened["detail"];
    assert_eq!(
        (
            &detail["price"],
            &detail["value"],
            &detail["value_severity"]
        ),
        (&json!("1"), &json!("25"), &json!("low"))
    );
}
