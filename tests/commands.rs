//! The non-interactive commands in-process (the CLI tests run the same code through the
//! real binary): `once` in both formats, `audit` list and verify, `ack`, `config`.

use std::sync::Arc;

use recon::cli::Format;
use recon::commands::{ack, audit, once, show_config};
use recon::config::TradingConfig;

fn shipped() -> (tempfile::TempDir, Arc<TradingConfig>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        include_str!("../config.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ledger.toml"),
        include_str!("../ledger.toml"),
    )
    .unwrap();
    let cfg = TradingConfig::load_with_env(
        &dir.path().join("config.toml"),
        Vec::<(String, String)>::new(),
    )
    .unwrap();
    (dir, Arc::new(cfg))
}

#[tokio::test]
async fn once_then_audit_ack_and_verify_in_process() {
    let (_dir, cfg) = shipped();
    assert_eq!(once::run(cfg.clone(), Format::Json).await.unwrap(), 2);
    assert_eq!(once::run(cfg.clone(), Format::Table).await.unwrap(), 2);

    let table = audit::list(&cfg, 3, Format::Table).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("SEQ"), "{table}");
    assert!(lines[1].contains("shutdown"), "{table}");
    assert!(lines[2].contains("cycle_completed"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&audit::list(&cfg, 1, Format::Json).unwrap()).unwrap();
    assert_eq!(json[0]["event"], "shutdown");
    assert_eq!(json[0]["detail"]["mode"], "once");

    let line = ack::run(
        &cfg,
        "coinbase-main:btc",
        "cold storage move",
        Some("erin"),
        None,
    )
    .unwrap();
    assert_eq!(
        line,
        "acknowledged coinbase-main:BTC (critical mismatch, difference -0.1) by erin\n"
    );
    let err = ack::run(&cfg, "coinbase-main:xyz", "", Some("erin"), None).unwrap_err();
    assert_eq!(err.to_string(), "no open discrepancy 'coinbase-main:XYZ'");

    let (msg, intact) = audit::verify(&cfg).unwrap();
    assert!(intact, "{msg}");
    assert!(
        msg.starts_with("audit trail intact: 15 entries verified; head "),
        "{msg}"
    );
}

#[tokio::test]
async fn the_table_report_shows_failures_and_acknowledgements() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[reconciliation]\nfetch_timeout_ms = 50\n[retry]\nbase_delay_ms = 1\nmax_delay_ms = 2\n\
         [[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\" }\n\
         [[exchanges]]\nname = \"b\"\nkind = \"simulated\"\nfailure_rate = 1.0\nbalances = {}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("ledger.toml"), "[a]\nBTC = \"1\"\n").unwrap();
    let cfg = Arc::new(
        TradingConfig::load_with_env(
            &dir.path().join("config.toml"),
            Vec::<(String, String)>::new(),
        )
        .unwrap(),
    );
    once::run(cfg.clone(), Format::Json).await.unwrap();
    ack::run(&cfg, "a:BTC", "", Some("fay"), None).unwrap();
    let mut parts = recon::commands::start_engine(cfg.clone(), "test")
        .await
        .unwrap();
    use recon::PortfolioReconciliationService;
    let report = parts.service.reconcile().await.unwrap();
    let text = once::render(&report, Format::Table);
    assert!(text.contains(": PARTIAL"), "{text}");
    assert!(text.contains("b         simulated  error"), "{text}");
    assert!(
        text.contains("✖ CRITICAL  ✓ acknowledged  a:BTC  mismatch"),
        "{text}"
    );
    assert!(text.contains("acked by fay"), "{text}");
    recon::commands::record_shutdown(&parts.store, "test").await;
    drop(parts.service);
    drop(parts.store);
    parts.store_thread.join();
}

#[test]
fn config_renders_every_section() {
    let (_dir, cfg) = shipped();
    let text = show_config::render(&cfg);
    let parsed: toml::Table = text.parse().unwrap();
    for section in [
        "reconciliation",
        "tolerance",
        "severity",
        "ledger",
        "storage",
        "logging",
        "retry",
        "circuit_breaker",
        "alerts",
        "ui",
        "exchanges",
    ] {
        assert!(parsed.contains_key(section), "{section} missing:\n{text}");
    }
    assert_eq!(
        parsed["reconciliation"]["interval_secs"].as_integer(),
        Some(5)
    );
    assert_eq!(
        parsed["tolerance"]["assets"]["USDC"]["absolute"].as_str(),
        Some("0.01")
    );
    assert_eq!(parsed["exchanges"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn expect_add_list_explain_and_cancel_in_process() {
    use recon::commands::expect;
    let (_dir, cfg) = shipped();
    // Declared before any cycle: the database is created for it.
    let line = expect::add(
        &cfg,
        "exchange-prime:doge",
        "1500",
        Some("2h"),
        "deposit 0xab",
        Some("erin"),
    )
    .unwrap();
    assert!(
        line.starts_with("expectation 1 on exchange-prime:DOGE: difference 1500 expected until "),
        "{line}"
    );
    assert!(line.ends_with(" (by erin)\n"), "{line}");
    let err = expect::add(&cfg, "nowhere:BTC", "1", None, "", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expect: no exchange named 'nowhere' in the configuration"
    );
    let err = expect::add(&cfg, "exchange-prime:DOGE", "0.000", None, "", None).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("expect: DIFFERENCE must not be zero"));
    assert_eq!(once::run(cfg.clone(), Format::Json).await.unwrap(), 2);
    let listed: serde_json::Value =
        serde_json::from_str(&expect::list(&cfg, Format::Json).unwrap()).unwrap();
    assert_eq!(listed[0]["id"], 1);
    assert_eq!(listed[0]["discrepancy"], "exchange-prime:DOGE");
    assert_eq!(listed[0]["difference"], "1500");
    assert_eq!(listed[0]["state"], "engaged");
    let table = expect::list(&cfg, Format::Table).unwrap();
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row[..4],
        ["1", "exchange-prime:DOGE", "1500", "engaged"],
        "{table}"
    );
    assert_eq!(
        expect::cancel(&cfg, 1, "sent back", Some("erin")).unwrap(),
        "cancelled expectation 1 on exchange-prime:DOGE (difference 1500) by erin\n"
    );
    assert_eq!(
        expect::list(&cfg, Format::Table).unwrap(),
        "no active expectations\n"
    );
    assert_eq!(
        expect::cancel(&cfg, 1, "", None)
            .unwrap_err()
            .to_string()
            .split(':')
            .next(),
        Some("expectation 1 is no longer active")
    );
    let (msg, intact) = audit::verify(&cfg).unwrap();
    assert!(intact, "{msg}");
}

/// `once` commits its start-up entries and its cycle without an fsync of their own and
/// its shutdown entry with one, which makes all of them durable before it reports
/// anything; the console and the daemon sync every commit.
#[tokio::test]
async fn once_defers_sync_until_its_shutdown_entry_and_loops_sync_every_commit() {
    use recon::store::Durability;
    let (_dir, cfg) = shipped();
    let parts = recon::commands::start_engine(cfg.clone(), "once")
        .await
        .unwrap();
    let durability = |store: recon::store::thread::StoreHandle| async move {
        store.call(|repo| repo.durability()).await.unwrap()
    };
    assert_eq!(durability(parts.store.clone()).await, Durability::Deferred);
    recon::commands::record_shutdown(&parts.store, "once").await;
    assert_eq!(durability(parts.store.clone()).await, Durability::Synced);
    drop(parts.service);
    drop(parts.store);
    parts.store_thread.join();

    let parts = recon::commands::start_engine(cfg, "headless")
        .await
        .unwrap();
    assert_eq!(durability(parts.store.clone()).await, Durability::Synced);
}
