//! `recon once --format json` end to end on the real binary, for each real exchange kind:
//! a temp dir with config and ledger, `base_url` pointing at the loopback mock, credentials
//! in environment variables (the P-256 key as SEC1 PEM with literal `\n`, as users paste
//! it). Exact balances, exit codes, and no secret in any output even on auth failure.

mod support;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use support::mock_exchange::{Auth, MockExchange, Scripted};
use support::{generated_coinbase_pages, p256_key, KEY_NAME};

const CB_PATH: &str = "/api/v3/brokerage/accounts";
const CBX_SECRET: &str = "RElTVElOQ1RJVkUtaG1hYy1zZWNyZXQtZm9yLWxlYWstY2hlY2tz";
const CBX_PASSPHRASE: &str = "passphrase-zq7-DISTINCTIVE";
const DYDX_ADDRESS: &str = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art";
const DYDX_PATH: &str =
    "/v4/addresses/dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/subaccountNumber/0";

const HEADER: &str = r#"
[reconciliation]
cycle_timeout_ms = 5000
fetch_timeout_ms = 1000

[ledger]
kind = "file"
path = "ledger.toml"

[storage]
path = "recon.db"

[logging]
dir = "logs"

[retry]
max_attempts = 2
base_delay_ms = 10
max_delay_ms = 100
"#;

fn coinbase_entry(mock: &MockExchange) -> String {
    format!(
        "[[exchanges]]\nname = \"cb\"\nkind = \"coinbase\"\nbase_url = \"{}\"\n\
         api_key_env = \"RECON_T_CB_KEY\"\napi_secret_env = \"RECON_T_CB_SECRET\"\n",
        mock.base_url()
    )
}

fn cbx_entry(mock: &MockExchange) -> String {
    format!(
        "[[exchanges]]\nname = \"cbx\"\nkind = \"coinbase_exchange\"\nbase_url = \"{}\"\n\
         api_key_env = \"RECON_T_CBX_KEY\"\napi_secret_env = \"RECON_T_CBX_SECRET\"\n\
         passphrase_env = \"RECON_T_CBX_PASSPHRASE\"\n",
        mock.base_url()
    )
}

fn dydx_entry(mock: &MockExchange) -> String {
    format!(
        "[[exchanges]]\nname = \"dydx\"\nkind = \"dydx\"\nbase_url = \"{}\"\n\
         address = \"{DYDX_ADDRESS}\"\nsubaccount = 0\n",
        mock.base_url()
    )
}

async fn coinbase_mock() -> (MockExchange, String) {
    let (sk, pem) = p256_key();
    let mock = MockExchange::start(Auth::CoinbaseJwt {
        key: *sk.verifying_key(),
        key_name: KEY_NAME.into(),
    })
    .await;
    // As pasted into an environment variable: one line, literal "\n".
    (mock, pem.replace('\n', "\\n"))
}

async fn cbx_mock() -> MockExchange {
    MockExchange::start(Auth::CoinbaseExchangeHmac {
        key: "cbx-key".into(),
        secret_base64: CBX_SECRET.into(),
        passphrase: CBX_PASSPHRASE.into(),
    })
    .await
}

/// Runs `recon once --format json` in `dir` with `env`; returns (exit code, JSON, output).
async fn run_once(dir: &Path, env: Vec<(&'static str, String)>) -> (i32, Value, Output) {
    let dir = dir.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::cargo_bin("recon").unwrap();
        cmd.current_dir(&dir)
            .args(["--config", "config.toml", "once", "--format", "json"])
            .env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json, out)
}

fn setup(config_entries: &[String], ledger: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{HEADER}\n{}", config_entries.join("\n"));
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    std::fs::write(dir.path().join("ledger.toml"), ledger).unwrap();
    dir
}

fn exchange<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no exchange {name} in {report}"))
}

/// (asset, exchange amount) pairs as reported.
fn balances(e: &Value) -> Vec<(String, String)> {
    let mut v: Vec<_> = e["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["asset"].as_str().unwrap().to_string(),
                b["exchange"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_json_coinbase_reconciles_three_fixture_pages_exactly() {
    let (mock, pem) = coinbase_mock().await;
    mock.push(
        CB_PATH,
        [
            "accounts_page1.json",
            "accounts_page2.json",
            "accounts_page3_last.json",
        ]
        .map(|f| Scripted::file(&format!("coinbase_advanced/{f}"))),
    );
    let dir = setup(
        &[coinbase_entry(&mock)],
        "[cb]\nBTC = \"0.2509158622761103\"\nUSDC = \"2110.25\"\nUSD = \"10432.17\"\n\
         SOL = \"12.845678901\"\nDOGE = \"123456789.12345678\"\n",
    );
    let env = vec![
        ("RECON_T_CB_KEY", KEY_NAME.to_string()),
        ("RECON_T_CB_SECRET", pem),
    ];
    let (code, report, _) = run_once(dir.path(), env).await;
    let cb = exchange(&report, "cb");
    assert_eq!(cb["status"], "ok", "{report}");
    assert_eq!(
        balances(cb),
        pairs(&[
            ("BTC", "0.2509158622761103"),
            ("USDC", "2110.25"),
            ("USD", "10432.17"),
            ("SOL", "12.845678901"),
            ("DOGE", "123456789.12345678"),
        ])
    );
    assert_eq!(
        (&cb["pages"], &cb["rows"], &cb["complete"]),
        (&Value::from(3), &Value::from(9), &Value::from(true))
    );
    assert_eq!(report["status"], "reconciled");
    assert_eq!(code, 0);
    assert!(
        mock.auth_failures().is_empty(),
        "{:?}",
        mock.auth_failures()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_json_coinbase_exchange_reconciles_exactly() {
    let mock = cbx_mock().await;
    mock.push("/accounts", [Scripted::manifest("cb_ex_accounts")]);
    let dir = setup(
        &[cbx_entry(&mock)],
        "[cbx]\nBTC = \"1.25\"\nETH = \"10\"\nUSD = \"80.230137306693\"\nUSDC = \"2500.123456\"\n",
    );
    let env = vec![
        ("RECON_T_CBX_KEY", "cbx-key".to_string()),
        ("RECON_T_CBX_SECRET", CBX_SECRET.to_string()),
        ("RECON_T_CBX_PASSPHRASE", CBX_PASSPHRASE.to_string()),
    ];
    let (code, report, _) = run_once(dir.path(), env).await;
    let cbx = exchange(&report, "cbx");
    assert_eq!(cbx["status"], "ok", "{report}");
    assert_eq!(
        balances(cbx),
        pairs(&[
            ("BTC", "1.25"),
            ("ETH", "10"),
            ("USD", "80.230137306693"),
            ("USDC", "2500.123456"),
        ])
    );
    assert_eq!(code, 0, "{report}");
    assert!(
        mock.auth_failures().is_empty(),
        "{:?}",
        mock.auth_failures()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_json_dydx_reconciles_signed_positions_and_flags_a_gap() {
    let mock = MockExchange::start(Auth::None).await;
    mock.always(DYDX_PATH, Scripted::manifest("dydx_subaccount_usdc_short"));
    let ledger = "[dydx]\nUSDC = \"-5768.816478\"\nBTC-USD = \"0.1036\"\nETH-USD = \"-0.002\"\n";
    let dir = setup(&[dydx_entry(&mock)], ledger);
    let (code, report, _) = run_once(dir.path(), vec![]).await;
    let d = exchange(&report, "dydx");
    assert_eq!(d["status"], "ok", "{report}");
    assert_eq!(
        balances(d),
        pairs(&[
            ("USDC", "-5768.816478"),
            ("BTC-USD", "0.1036"),
            ("ETH-USD", "-0.002"),
        ])
    );
    assert_eq!(code, 0, "{report}");

    // The ledger forgets the short: the exchange's −5768 USDC is a critical gap (exit 2).
    std::fs::write(
        dir.path().join("ledger.toml"),
        "[dydx]\nBTC-USD = \"0.1036\"\nETH-USD = \"-0.002\"\n",
    )
    .unwrap();
    let (code, report, _) = run_once(dir.path(), vec![]).await;
    assert_eq!(report["discrepancies"][0]["id"], "dydx:USDC", "{report}");
    assert_eq!(report["discrepancies"][0]["kind"], "missing_locally");
    assert_eq!(code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_json_three_real_exchanges_in_one_config_reconcile_exactly() {
    let (cb_mock, pem) = coinbase_mock().await;
    let (pages, totals) = generated_coinbase_pages(600);
    cb_mock.push(CB_PATH, pages.into_iter().map(|b| Scripted::json(200, b)));
    let cbx = cbx_mock().await;
    cbx.push("/accounts", [Scripted::manifest("cb_ex_docs_example")]);
    let dydx = MockExchange::start(Auth::None).await;
    dydx.push(DYDX_PATH, [Scripted::manifest("dydx_subaccount_mixed")]);

    let mut ledger = String::from("[cb]\n");
    for (asset, amount) in &totals {
        ledger.push_str(&format!("{asset} = \"{amount}\"\n"));
    }
    ledger.push_str("\n[cbx]\nUSD = \"80.230137306693\"\n");
    ledger.push_str(
        "\n[dydx]\nUSDC = \"14000.123456\"\nDYDX = \"-10000\"\nBTC-USD = \"0.25\"\nETH-USD = \"-3.5\"\n",
    );
    let dir = setup(
        &[coinbase_entry(&cb_mock), cbx_entry(&cbx), dydx_entry(&dydx)],
        &ledger,
    );
    let env = vec![
        ("RECON_T_CB_KEY", KEY_NAME.to_string()),
        ("RECON_T_CB_SECRET", pem),
        ("RECON_T_CBX_KEY", "cbx-key".to_string()),
        ("RECON_T_CBX_SECRET", CBX_SECRET.to_string()),
        ("RECON_T_CBX_PASSPHRASE", CBX_PASSPHRASE.to_string()),
    ];
    let (code, report, _) = run_once(dir.path(), env).await;
    let cb = exchange(&report, "cb");
    assert_eq!(cb["status"], "ok", "{report}");
    assert_eq!(
        (&cb["pages"], &cb["rows"]),
        (&Value::from(3), &Value::from(600))
    );
    let want: Vec<(String, String)> = totals
        .iter()
        .map(|(a, d)| (a.clone(), recon::domain::format_amount(*d)))
        .collect();
    assert_eq!(balances(cb), {
        let mut w = want;
        w.sort();
        w
    });
    assert_eq!(exchange(&report, "cbx")["status"], "ok");
    assert_eq!(exchange(&report, "dydx")["status"], "ok");
    assert_eq!(report["status"], "reconciled", "{report}");
    assert_eq!(report["discrepancies"], Value::Array(vec![]));
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_output_even_on_auth_failure() {
    // The mocks know other credentials than the ones in the environment.
    let (cb_mock, _) = coinbase_mock().await;
    cb_mock.always(
        CB_PATH,
        Scripted::file("coinbase_advanced/accounts_page3_last.json"),
    );
    let (_, wrong_pem) = p256_key();
    let cbx = MockExchange::start(Auth::CoinbaseExchangeHmac {
        key: "cbx-key".into(),
        secret_base64: CBX_SECRET.into(),
        passphrase: "the-right-one".into(),
    })
    .await;
    cbx.always("/accounts", Scripted::manifest("cb_ex_accounts"));
    let dir = setup(&[coinbase_entry(&cb_mock), cbx_entry(&cbx)], "");
    let env = vec![
        ("RECON_T_CB_KEY", KEY_NAME.to_string()),
        ("RECON_T_CB_SECRET", wrong_pem.clone()),
        ("RECON_T_CBX_KEY", "cbx-key".to_string()),
        ("RECON_T_CBX_SECRET", CBX_SECRET.to_string()),
        ("RECON_T_CBX_PASSPHRASE", CBX_PASSPHRASE.to_string()),
        // Every log line the binary and its HTTP stack can emit.
        ("RUST_LOG", "trace".to_string()),
    ];
    let (code, report, out) = run_once(dir.path(), env).await;
    assert_eq!(
        exchange(&report, "cb")["error"],
        "authentication failed: HTTP 401: Unauthorized"
    );
    assert_eq!(
        exchange(&report, "cbx")["error"],
        "authentication failed: HTTP 401: Unauthorized"
    );
    assert_eq!(report["status"], "failed");
    assert_eq!(code, 3);
    assert_eq!(cb_mock.requests().len(), 1, "401 is not retried");

    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The key's base64 body, in pieces, and every other secret.
    let pem_body: String = wrong_pem
        .split("\\n")
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    let mut needles: Vec<String> = pem_body
        .as_bytes()
        .chunks(16)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .filter(|c| c.len() == 16)
        .collect();
    needles.extend([
        CBX_SECRET.to_string(),
        CBX_PASSPHRASE.to_string(),
        "Bearer ".to_string(),
        "eyJhbGciOiJFUzI1NiI".to_string(), // any JWT header of ours
    ]);
    for needle in &needles {
        assert!(
            !everything.contains(needle.as_str()),
            "secret fragment {needle:?} leaked"
        );
    }
    assert!(
        everything.contains("TRACE"),
        "trace logging was not on, so the check would prove little"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unset_credential_variable_is_named_and_the_exchange_reported() {
    let (mock, _) = coinbase_mock().await;
    let dir = setup(&[coinbase_entry(&mock)], "[cb]\nBTC = \"1\"\n");
    let env = vec![("RECON_T_CB_KEY", KEY_NAME.to_string())];
    let (code, report, _) = run_once(dir.path(), env).await;
    let cb = exchange(&report, "cb");
    assert_eq!(cb["status"], "error");
    assert_eq!(cb["error"], "credentials: RECON_T_CB_SECRET is not set");
    assert_eq!(cb["balances"], Value::Array(vec![]));
    assert_eq!(code, 3);
    assert!(mock.requests().is_empty());
}
