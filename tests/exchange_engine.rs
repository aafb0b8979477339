//! A real client (dYdX) inside the engine: the circuit breaker opens after
//! `failure_threshold` failed cycles, refuses while open, and closes when the half-open
//! trial succeeds — all against a loopback mock.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::mock_exchange::{Auth, MockExchange, Scripted};

use recon::config::TradingConfig;
use recon::engine::PortfolioReconciliationService;
use recon::engine::ReconciliationReport;

const ADDRESS: &str = "dydx1kzsvkf2ghjqlysuffdkhcdctknl4rsvcx5hkm5";
const PATH: &str = "/v4/addresses/dydx1kzsvkf2ghjqlysuffdkhcdctknl4rsvcx5hkm5/subaccountNumber/0";

fn write_config(dir: &std::path::Path, mock: &MockExchange) -> std::path::PathBuf {
    let config = format!(
        r#"
[reconciliation]
interval_secs = 1
cycle_timeout_ms = 3000
fetch_timeout_ms = 500

[ledger]
kind = "file"
path = "ledger.toml"

[storage]
path = "recon.db"

[logging]
dir = "logs"

[retry]
max_attempts = 1
base_delay_ms = 10
max_delay_ms = 100

[circuit_breaker]
failure_threshold = 2
open_secs = 0.2

[[exchanges]]
name = "dydx-main"
kind = "dydx"
base_url = "{}"
address = "{ADDRESS}"
subaccount = 0
"#,
        mock.base_url()
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    std::fs::write(
        dir.join("ledger.toml"),
        "[dydx-main]\nUSDC = \"90.461932\"\n\"ETH-USD\" = \"0.003\"\n",
    )
    .unwrap();
    dir.join("config.toml")
}

fn exchange_status(report: &ReconciliationReport) -> (String, String) {
    let json = report.to_json();
    let e = &json["exchanges"][0];
    (
        e["status"].as_str().unwrap().to_string(),
        e["circuit"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_after_failed_cycles_and_closes_after_a_successful_trial() {
    let mock = MockExchange::start(Auth::None).await;
    mock.push(
        PATH,
        [
            Scripted::manifest("dydx_500"),
            Scripted::manifest("dydx_500"),
        ],
    );
    mock.always(PATH, Scripted::manifest("dydx_subaccount"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = Arc::new(TradingConfig::load(&write_config(dir.path(), &mock)).unwrap());
    let mut parts = recon::commands::start_engine(cfg, "test").await.unwrap();

    let r1 = parts.service.reconcile().await.unwrap();
    assert_eq!(exchange_status(&r1), ("error".into(), "closed".into()));
    assert_eq!(
        r1.exchanges[0].error.as_deref(),
        Some("HTTP 500: Internal Server Error (1 attempts)")
    );
    let r2 = parts.service.reconcile().await.unwrap();
    assert_eq!(exchange_status(&r2), ("error".into(), "open".into()));
    // Open: no request is sent, the report says so, nothing is shown as zero.
    let r3 = parts.service.reconcile().await.unwrap();
    assert_eq!(exchange_status(&r3).0, "circuit_open");
    assert!(r3.exchanges[0].balances.is_empty());
    assert_eq!(r3.exit_code(), 3);
    assert_eq!(mock.requests().len(), 2);

    tokio::time::sleep(Duration::from_millis(250)).await;
    let r4 = parts.service.reconcile().await.unwrap();
    assert_eq!(exchange_status(&r4), ("ok".into(), "closed".into()));
    assert_eq!(r4.status.as_str(), "reconciled");
    assert_eq!(r4.exit_code(), 0);
    assert_eq!(mock.requests().len(), 3);

    let kinds: Vec<String> = parts
        .store
        .call(|repo| repo.audit_page(None, 100))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(kinds.contains(&"circuit_opened".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"circuit_closed".to_string()), "{kinds:?}");
    drop(parts.service);
    drop(parts.store);
    parts.store_thread.join();
}
