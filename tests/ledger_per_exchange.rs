//! One bad ledger entry blinds only its exchange (SPEC §2): the others are reconciled
//! normally, the quote-it hint quotes the literal as written, the breaker is not
//! tripped. An unreadable ledger still lists what each exchange reports, with the local
//! side unknown (`"local": null`, `"compared": false`), never as empty holdings.

mod common;

use std::sync::Arc;

use assert_cmd::Command;
use recon::domain::ReconciliationStatus;
use recon::engine::report::{CircuitState, ExchangeStatus};
use recon::engine::PortfolioReconciliationService;
use recon::exchanges::ExchangeClient;
use serde_json::{json, Value};

const TWO: &str = "[[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"1.5\", ETH = \"10.25\" }\n\
                   [[exchanges]]\nname = \"b\"\nkind = \"simulated\"\nbalances = { BTC = \"2\", USDC = \"100\" }\n";

/// Runs `recon once --format <format>` with `ledger` (none: no file); returns (exit
/// code, stdout, stderr).
fn once(ledger: Option<&str>, format: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), TWO).unwrap();
    if let Some(l) = ledger {
        std::fs::write(dir.path().join("ledger.toml"), l).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_recon"))
        .current_dir(dir.path())
        .env_clear()
        .args(["--config", "c.toml", "once", "--format", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn exchange<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap()
}

#[test]
fn a_float_under_one_exchange_makes_only_that_exchange_an_error() {
    let ledger =
        "[a]\nBTC = \"1.5\"\nETH = \"10.25\"\n[b]\nBTC = 123456789.123456789\nUSDC = \"100\"\n";
    let (code, stdout, stderr) = once(Some(ledger), "json");
    let r: Value = serde_json::from_str(&stdout).unwrap();
    // b could not be compared: unknown to monitoring, nothing high found elsewhere.
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(r["status"], "partial");
    assert_eq!(r["ledger_error"], Value::Null);
    assert_eq!(r["discrepancies"], json!([]));
    let a = exchange(&r, "a");
    assert_eq!(a["status"], "ok");
    assert_eq!(a["compared"], true);
    assert_eq!(a["error"], Value::Null);
    assert_eq!(
        a["balances"],
        json!([
            {"asset": "BTC", "local": "1.5", "exchange": "1.5"},
            {"asset": "ETH", "local": "10.25", "exchange": "10.25"},
        ])
    );
    let b = exchange(&r, "b");
    assert_eq!(b["status"], "error");
    assert_eq!(b["compared"], false);
    assert_eq!(
        b["error"],
        "ledger ledger.toml: [b] BTC is a float (123456789.123456789), which loses precision; quote it: BTC = \"123456789.123456789\""
    );
    // What b reports is still shown, its local side unknown.
    assert_eq!(
        b["balances"],
        json!([
            {"asset": "BTC", "local": null, "exchange": "2"},
            {"asset": "USDC", "local": null, "exchange": "100"},
        ])
    );
    assert_eq!(b["circuit"], "closed");
}

#[test]
fn a_29_digit_amount_under_one_exchange_leaves_the_other_compared() {
    // a is short 0.5 BTC (critical): found and reported although b's entry is bad,
    // quoted or not (unquoted, it is not even a valid TOML integer).
    for (entry, error) in [
        (
            "BTC = \"1234567890.123456789012345678901\"",
            "ledger ledger.toml: [b] BTC: '1234567890.123456789012345678901' cannot be represented exactly (more than 28 significant digits)",
        ),
        (
            "BTC = 12345678901234567890123456789",
            "ledger ledger.toml: [b] BTC: '12345678901234567890123456789' cannot be represented exactly (more than 28 significant digits)",
        ),
    ] {
        let ledger = format!("[a]\nBTC = \"2\"\nETH = \"10.25\"\n[b]\n{entry}\n");
        let (code, stdout, _) = once(Some(&ledger), "json");
        let r: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(code, 2, "{entry}");
        assert_eq!(r["status"], "partial");
        assert_eq!(r["worst_severity"], "critical");
        let ids: Vec<&str> = r["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a:BTC"]);
        assert_eq!(r["discrepancies"][0]["difference"], "-0.5");
        assert_eq!(exchange(&r, "b")["status"], "error");
        assert_eq!(exchange(&r, "b")["error"], error);
    }
}

#[test]
fn an_unreadable_ledger_lists_what_each_exchange_reports_with_local_unknown() {
    for ledger in [None, Some("[a]\nBTC = \"1.5\"\n[a]\n")] {
        let (code, stdout, _) = once(ledger, "json");
        let r: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(code, 3, "{ledger:?}");
        assert_eq!(r["status"], "failed");
        assert_eq!(r["discrepancies"], json!([]));
        for (name, balances) in [
            (
                "a",
                json!([
                    {"asset": "BTC", "local": null, "exchange": "1.5"},
                    {"asset": "ETH", "local": null, "exchange": "10.25"},
                ]),
            ),
            (
                "b",
                json!([
                    {"asset": "BTC", "local": null, "exchange": "2"},
                    {"asset": "USDC", "local": null, "exchange": "100"},
                ]),
            ),
        ] {
            let e = exchange(&r, name);
            assert_eq!(e["status"], "ok", "{name}");
            assert_eq!(e["compared"], false, "{name}");
            assert_eq!(e["complete"], true, "{name}");
            assert_eq!(e["balances"], balances, "{name}");
        }
    }
}

#[test]
fn the_once_table_says_which_exchanges_were_compared() {
    let ledger = "[a]\nBTC = \"1.5\"\nETH = \"10.25\"\n[b]\nBTC = 1.5\n";
    let (code, stdout, _) = once(Some(ledger), "table");
    assert_eq!(code, 3);
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.iter().find(|l| l.starts_with("EXCHANGE")).unwrap();
    assert!(header.contains("COMPARED"), "{stdout}");
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("a")[2..4], ["ok", "yes"]);
    assert_eq!(row("b")[2..4], ["error", "no"]);

    let (_, stdout, _) = once(None, "table");
    let lines: Vec<&str> = stdout.lines().collect();
    let a = lines.iter().find(|l| l.starts_with("a ")).unwrap();
    assert_eq!(a.split_whitespace().collect::<Vec<_>>()[2..4], ["ok", "no"]);
    assert_eq!(
        lines.last(),
        Some(&"no discrepancies known: nothing was compared")
    );
}

#[tokio::test]
async fn a_bad_ledger_entry_never_trips_the_circuit_breaker() {
    let mut r = common::rig(
        "[circuit_breaker]\nfailure_threshold = 1\n",
        "[a]\nBTC = \"1\"\n[b]\nBTC = 0.5\n",
        &["a", "b"],
        |cfg| {
            vec![
                common::sim("a", &[("BTC", "1")], cfg) as Arc<dyn ExchangeClient>,
                common::sim("b", &[("BTC", "0.5")], cfg),
            ]
        },
    );
    for _ in 0..3 {
        let rep = r.service.reconcile().await.unwrap();
        assert_eq!(rep.status, ReconciliationStatus::Partial);
        let b = &rep.exchanges[1];
        assert_eq!(b.status, ExchangeStatus::Error);
        assert_eq!(b.circuit, CircuitState::Closed);
        assert!(!b.compared);
        assert_eq!(b.attempts, 1);
        let error = b.error.as_deref().unwrap();
        assert!(
            error.ends_with("ledger.toml: [b] BTC is a float (0.5), which loses precision; quote it: BTC = \"0.5\""),
            "{error}"
        );
        assert!(rep.exchanges[0].compared);
    }
    // Once fixed, b is compared at once: no open circuit to wait out.
    r.write_ledger("[a]\nBTC = \"1\"\n[b]\nBTC = \"0.5\"\n");
    let rep = r.service.reconcile().await.unwrap();
    assert_eq!(rep.status, ReconciliationStatus::Reconciled);
    assert!(rep.exchanges.iter().all(|e| e.compared));
    r.close();
}

#[tokio::test]
async fn a_failed_exchange_carries_what_the_ledger_holds_there_as_exposed() {
    let mut r = common::rig(
        "",
        "[a]\nBTC = \"1\"\n[b]\nBTC = \"2.50\"\nUSDC = \"100\"\nETH = \"0\"\n",
        &["a", "b"],
        |cfg| {
            let b = common::sim("b", &[("BTC", "2.5")], cfg);
            b.inject([recon::exchanges::simulated::Fault::Auth]);
            vec![
                common::sim("a", &[("BTC", "1")], cfg) as Arc<dyn ExchangeClient>,
                b,
            ]
        },
    );
    let rep = r.service.reconcile().await.unwrap();
    let b = &rep.exchanges[1];
    assert_eq!(b.status, ExchangeStatus::Error);
    assert!(b.balances.is_empty() && b.uncompared.is_empty());
    // Zero holdings expose nothing; amounts exact (the ledger's value, not its spelling).
    let exposed: Vec<(String, String)> = b
        .exposed
        .iter()
        .map(|(a, v)| (a.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        exposed,
        [("BTC".into(), "2.5".into()), ("USDC".into(), "100".into())]
    );
    // A fetched exchange exposes nothing: its balances say it all.
    assert!(rep.exchanges[0].exposed.is_empty());
    // Nor does the JSON report change: a failed exchange lists no balances there.
    assert_eq!(rep.to_json()["exchanges"][1]["balances"], json!([]));
    r.close();
}

#[tokio::test]
async fn ledger_tables_for_exchanges_that_are_not_configured_are_named_in_the_report() {
    let mut r = common::rig(
        "",
        "[a]\nBTC = \"1\"\n[kraken-old]\nBTC = \"3\"\n[ftx]\nUSD = \"10\"\n",
        &["a"],
        |cfg| vec![common::sim("a", &[("BTC", "1")], cfg) as Arc<dyn ExchangeClient>],
    );
    let rep = r.service.reconcile().await.unwrap();
    let names: Vec<&str> = rep.unconfigured.iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["ftx", "kraken-old"]);
    // Not a failure of the cycle: the configured exchange is reconciled as usual.
    assert_eq!(rep.status, ReconciliationStatus::Reconciled);
    // An unreadable ledger names nothing: there is no table to speak of.
    r.write_ledger("[a]\nBTC = \"1\"\n[a]\n");
    let rep = r.service.reconcile().await.unwrap();
    assert!(rep.unconfigured.is_empty());
    r.close();
}
