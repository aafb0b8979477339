//! The real `recon` binary on temp dirs: stdout JSON, exit codes, stderr messages, and the
//! audit trail on a real database file, tampered with by hand.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const SHIPPED_CONFIG: &str = include_str!("../config.toml");
const SHIPPED_LEDGER: &str = include_str!("../ledger.toml");

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(config: &str, ledger: &str) -> Self {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("config.toml"), config).unwrap();
        std::fs::write(d.path().join("ledger.toml"), ledger).unwrap();
        Self(d)
    }

    fn shipped() -> Self {
        Self::new(SHIPPED_CONFIG, SHIPPED_LEDGER)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("recon.db")
    }

    /// `recon --config <dir>/config.toml <args>` with a clean environment.
    fn recon(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("recon").unwrap();
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .arg("--config")
            .arg(self.path().join("config.toml"))
            .args(args);
        c
    }

    fn once_json(&self) -> (Value, i32) {
        let out = self.recon(&["once", "--format", "json"]).output().unwrap();
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (json, out.status.code().unwrap())
    }
}

fn config(exchanges: &str) -> String {
    format!("[reconciliation]\nfetch_timeout_ms = 50\n[retry]\nbase_delay_ms = 1\nmax_delay_ms = 5\n{exchanges}")
}

fn sim(name: &str, balances: &str) -> String {
    format!("[[exchanges]]\nname = \"{name}\"\nkind = \"simulated\"\nbalances = {{ {balances} }}\n")
}

#[test]
fn once_json_on_the_shipped_config_reports_every_planted_discrepancy() {
    let dir = Dir::shipped();
    let (j, code) = dir.once_json();
    assert_eq!(code, 2, "critical discrepancies exit 2");
    assert_eq!(j["status"], "discrepancies");
    assert_eq!(j["worst_severity"], "critical");
    let names: Vec<_> = j["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["coinbase-main", "exchange-prime", "dydx-perps"]);
    let got: Vec<(String, String, String)> = j["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["id"].as_str().unwrap().to_string(),
                x["severity"].as_str().unwrap().to_string(),
                x["difference"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect =
        |id: &str, sev: &str, diff: &str| (id.to_string(), sev.to_string(), diff.to_string());
    assert_eq!(
        got,
        vec![
            expect("coinbase-main:BTC", "critical", "-0.1"),
            expect("exchange-prime:DOGE", "critical", "1500"),
            expect("exchange-prime:LTC", "critical", "-42.125"),
            expect("dydx-perps:BTC-USD", "high", "0.003"),
            expect("coinbase-main:SOL", "medium", "-0.5"),
            expect("coinbase-main:LINK", "low", "0.3"),
        ]
    );
    assert_eq!(j["discrepancies"][0]["relative"], "0.0666666667");
}

#[test]
fn once_on_the_shipped_config_values_every_discrepancy_and_the_value_at_risk() {
    let dir = Dir::shipped();
    let (j, _) = dir.once_json();
    let got: Vec<(String, String, String, String)> = j["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap_or("null").to_string();
            (s("id"), s("price"), s("value"), s("value_severity"))
        })
        .collect();
    let expect = |id: &str, price: &str, value: &str, sev: &str| {
        (
            id.to_string(),
            price.to_string(),
            value.to_string(),
            sev.to_string(),
        )
    };
    assert_eq!(
        got,
        vec![
            expect("coinbase-main:BTC", "97000", "9700", "high"),
            expect("exchange-prime:DOGE", "0.35", "525", "medium"),
            expect("exchange-prime:LTC", "95", "4001.875", "high"),
            // A perpetual market is valued at its base asset.
            expect("dydx-perps:BTC-USD", "97000", "291", "medium"),
            expect("coinbase-main:SOL", "180", "90", "low"),
            expect("coinbase-main:LINK", "20", "6", "low"),
        ]
    );
    assert_eq!(j["quote"], "USD");
    assert_eq!(j["value_at_risk"], "14613.875");
    assert_eq!(j["value_at_risk_error"], serde_json::Value::Null);
    assert_eq!(j["prices"]["source"], "static");
    assert_eq!(j["prices"]["stale"], false);
    let table = dir.recon(&["once"]).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("VALUE (USD)"), "{text}");
    assert!(text.contains("\nvalue at risk: 14613.875 USD\n"), "{text}");
}

#[test]
fn once_table_is_readable_without_colour() {
    let dir = Dir::shipped();
    let out = dir.recon(&["once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("recon cycle 1 at "), "{text}");
    assert!(text.contains("DISCREPANCIES (worst: critical)"));
    assert!(
        text.contains("✖ CRITICAL  ● open  coinbase-main:BTC"),
        "{text}"
    );
    assert!(
        text.contains("· LOW       ● open  coinbase-main:LINK"),
        "{text}"
    );
}

#[test]
fn once_exit_codes_follow_the_monitoring_convention() {
    let ok = Dir::new(&config(&sim("a", "BTC = \"1\"")), "[a]\nBTC = \"1\"\n");
    assert_eq!(ok.once_json().1, 0);
    // 1.0005 vs 1: relative 0.0005 → low.
    let low = Dir::new(&config(&sim("a", "BTC = \"1.0005\"")), "[a]\nBTC = \"1\"\n");
    let (j, code) = low.once_json();
    assert_eq!((code, j["worst_severity"].as_str()), (1, Some("low")));
    // One exchange always failing and nothing worse found → 3 (unknown).
    let failing = format!(
        "{}[[exchanges]]\nname = \"b\"\nkind = \"simulated\"\nfailure_rate = 1.0\nbalances = {{}}\n",
        config(&sim("a", "BTC = \"1\""))
    );
    let partial = Dir::new(&failing, "[a]\nBTC = \"1\"\n");
    let (j, code) = partial.once_json();
    assert_eq!((code, j["status"].as_str()), (3, Some("partial")));
    assert_eq!(j["exchanges"][1]["status"], "error");
    assert_eq!(j["exchanges"][1]["attempts"], 3);
    assert_eq!(j["exchanges"][1]["balances"], serde_json::json!([]));
    // The ledger unreadable → failed, 3.
    let bad_ledger = Dir::new(&config(&sim("a", "BTC = \"1\"")), "[a]\nBTC = 1.5.1\n");
    let (j, code) = bad_ledger.once_json();
    assert_eq!((code, j["status"].as_str()), (3, Some("failed")));
    let ledger_path = bad_ledger.path().join("ledger.toml");
    assert_eq!(
        j["ledger_error"],
        format!("ledger {}: expected newline, `#`", ledger_path.display())
    );
    // The only exchange's entry bad → that exchange is an error, nothing compared: 3.
    let bad_entry = Dir::new(&config(&sim("a", "BTC = \"1\"")), "[a]\nBTC = 1.5\n");
    let (j, code) = bad_entry.once_json();
    assert_eq!((code, j["status"].as_str()), (3, Some("failed")));
    assert_eq!(j["ledger_error"], serde_json::Value::Null);
    assert_eq!(
        j["exchanges"][0]["error"],
        format!(
            "ledger {}: [a] BTC is a float (1.5), which loses precision; quote it: BTC = \"1.5\"",
            bad_entry.path().join("ledger.toml").display()
        )
    );
}

#[test]
fn audit_lists_newest_first_and_verify_passes_on_an_untouched_chain() {
    let dir = Dir::shipped();
    dir.recon(&["once"]).assert().code(2);
    let out = dir
        .recon(&["audit", "--format", "json", "--limit", "3"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let entries: Value = serde_json::from_slice(&out.stdout).unwrap();
    let events: Vec<_> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["shutdown", "cycle_completed", "discrepancy_opened"]
    );
    assert_eq!(entries[1]["detail"]["status"], "discrepancies");
    let out = dir.recon(&["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // startup, config_loaded, 6 opened, cycle_completed, shutdown; then the head's hash.
    let head = entries[0]["hash"].as_str().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("audit trail intact: 10 entries verified; head {head}\n")
    );
}

#[test]
fn audit_verify_detects_a_row_altered_by_hand() {
    let dir = Dir::shipped();
    dir.recon(&["once"]).assert().code(2);
    {
        // What a tamperer with the sqlite3 shell would do: drop the guard, edit a row.
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_update;
             UPDATE audit_log SET detail = replace(detail, '-0.1', '-0.0') WHERE seq = 3;",
        )
        .unwrap();
    }
    let out = dir.recon(&["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "audit trail broken at entry 3: content does not match its hash (entry altered)\n"
    );
}

#[test]
fn audit_verify_detects_a_deleted_row_and_a_rehashed_row() {
    let dir = Dir::shipped();
    dir.recon(&["once"]).assert().code(2);
    {
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 5;",
        )
        .unwrap();
    }
    let out = dir.recon(&["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "audit trail broken at entry 5: entry missing (next entry present is 6)\n"
    );
    let dir = Dir::shipped();
    dir.recon(&["once"]).assert().code(2);
    {
        // A smarter tamperer recomputes the edited row's own hash: the next row's link breaks.
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        let (at, event, subject, detail, prev): (String, String, Option<String>, String, String) =
            conn.query_row(
                "SELECT at, event, subject, detail, prev_hash FROM audit_log WHERE seq = 4",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        let forged = detail.replace("1200.3", "1200");
        assert_ne!(forged, detail);
        let canonical = serde_json::json!([4, at, event, subject, forged]).to_string();
        let hash = recon::store::audit::entry_hash(&prev, &canonical);
        conn.execute_batch("DROP TRIGGER audit_log_no_update;")
            .unwrap();
        conn.execute(
            "UPDATE audit_log SET detail = ?1, hash = ?2 WHERE seq = 4",
            rusqlite::params![forged, hash],
        )
        .unwrap();
    }
    let out = dir.recon(&["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "audit trail broken at entry 5: prev_hash does not match the previous entry's hash\n"
    );
}

#[test]
fn audit_verify_detects_entries_cut_from_the_end_and_a_missing_database() {
    let dir = Dir::shipped();
    dir.recon(&["once"]).assert().code(2);
    {
        // Cutting the tail leaves every remaining link valid; the cycle row remains.
        let conn = rusqlite::Connection::open(dir.db()).unwrap();
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= 9;",
        )
        .unwrap();
    }
    let out = dir.recon(&["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "audit trail broken at entry 9: entry missing: cycle 1 has no cycle_completed entry (entries removed from the end?)\n"
    );
    // A mistyped or deleted database is an error, not an empty "intact" trail.
    let empty = Dir::shipped();
    let out = empty.recon(&["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "could not verify");
    // The shipped config prints no warning: the error is the only line.
    let errors = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        errors,
        format!(
            "recon: could not verify: database {} does not exist (no cycle has run with this configuration; check [storage] path)\n",
            empty.db().display()
        )
    );
    assert!(!empty.db().exists(), "verify never creates a database");
}

#[test]
fn ack_from_the_shell_lowers_the_exit_code_and_is_audited() {
    let dir = Dir::new(&config(&sim("a", "BTC = \"0.9\"")), "[a]\nBTC = \"1\"\n");
    assert_eq!(dir.once_json().1, 2);
    let out = dir
        .recon(&[
            "ack",
            "a:btc",
            "--note",
            "withdrawal in flight",
            "--by",
            "alice",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "acknowledged a:BTC (critical mismatch, difference -0.1) by alice\n"
    );
    let (j, code) = dir.once_json();
    assert_eq!(
        code, 0,
        "acknowledged discrepancies do not raise the exit code"
    );
    assert_eq!(j["status"], "reconciled");
    let x = &j["discrepancies"][0];
    assert_eq!(
        (x["acknowledged"].clone(), x["acknowledged_by"].clone()),
        (true.into(), "alice".into())
    );
    assert_eq!(x["ack_note"], "withdrawal in flight");
    assert_eq!(x["acknowledged_difference"], "-0.1");
    let out = dir.recon(&["audit", "--format", "json"]).output().unwrap();
    let entries: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ack = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "discrepancy_acknowledged")
        .unwrap();
    assert_eq!(ack["subject"], "a:BTC");
    assert_eq!(ack["detail"]["by"], "alice");
    assert_eq!(ack["detail"]["note"], "withdrawal in flight");
}

#[test]
fn ack_errors_name_what_is_wrong() {
    let dir = Dir::new(&config(&sim("a", "BTC = \"1\"")), "[a]\nBTC = \"1\"\n");
    dir.once_json();
    for (target, msg) in [
        ("a:ETH", "recon: no open discrepancy 'a:ETH'\n"),
        (
            "zz:BTC",
            "recon: ack: no exchange named 'zz' in the configuration\n",
        ),
        (
            "nocolon",
            "recon: ack: 'nocolon' is not of the form <exchange>:<asset>\n",
        ),
    ] {
        let out = dir.recon(&["ack", target]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{target}");
        assert_eq!(String::from_utf8(out.stderr).unwrap(), msg);
    }
}

#[test]
fn config_prints_the_effective_configuration_without_secrets() {
    let text = format!(
        "[alerts]\nwebhook_url = \"https://hooks.example/T000/SECRET-TOKEN\"\n{}",
        "[[exchanges]]\nname = \"cb\"\nkind = \"coinbase\"\napi_key_env = \"CB_KEY\"\napi_secret_env = \"CB_SECRET\"\n"
    );
    let dir = Dir::new(&text, "");
    let out = dir
        .recon(&["config"])
        .env("CB_KEY", "organizations/o/apiKeys/k-DISTINCTIVE")
        .env(
            "CB_SECRET",
            "-----BEGIN EC PRIVATE KEY-----\\nSUPERSECRETKEYMATERIAL\\n",
        )
        .env("RECON_RETRY_MAX_ATTEMPTS", "7")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    for secret in ["SUPERSECRETKEYMATERIAL", "DISTINCTIVE", "SECRET-TOKEN"] {
        assert!(!stdout.contains(secret), "{secret} leaked:\n{stdout}");
    }
    let parsed: toml::Table = stdout.parse().expect("recon config prints valid TOML");
    assert_eq!(
        parsed["retry"]["max_attempts"].as_integer(),
        Some(7),
        "env overlay shown"
    );
    assert_eq!(parsed["alerts"]["webhook_url"].as_str(), Some("***"));
    let ex = &parsed["exchanges"].as_array().unwrap()[0];
    assert_eq!(ex["api_secret_env"].as_str(), Some("CB_SECRET"));
    assert_eq!(ex["api_secret"].as_str(), Some("***"));
    assert_eq!(
        parsed["reconciliation"]["interval_secs"].as_integer(),
        Some(30),
        "default"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::shipped();
    // Except for `once`, whose usage errors are UNKNOWN to monitoring (tests/cli_output.rs).
    dir.recon(&["once", "--format", "xml"]).assert().code(3);
    dir.recon(&["audit", "--format", "xml"]).assert().code(2);
    dir.recon(&["frobnicate"]).assert().code(2);
    Command::cargo_bin("recon")
        .unwrap()
        .arg("--version")
        .assert()
        .code(0);
}

/// The store opens while the exchanges are fetched; one that cannot be opened ends `once`
/// at once, UNKNOWN, with its own one-line error: not after the slow exchange answers,
/// not as a report, and not with a second line about the shutdown it could not record.
#[test]
fn once_with_an_unopenable_database_fails_fast_with_the_store_error() {
    let cfg = "[storage]\npath = \"not-a-dir/recon.db\"\n[reconciliation]\ncycle_timeout_ms = 20000\nfetch_timeout_ms = 15000\n[retry]\nmax_attempts = 1\n\
               [[exchanges]]\nname = \"slow\"\nkind = \"simulated\"\nlatency_ms = [8000, 8000]\nbalances = { BTC = \"1\" }\n";
    let dir = Dir::new(cfg, "[slow]\nBTC = \"1\"\n");
    std::fs::write(
        dir.path().join("not-a-dir"),
        "a file where a directory should be",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = dir.recon(&["once"]).output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "recon: database {}: cannot create directory: File exists (os error 17)\n",
            dir.path().join("not-a-dir/recon.db").display()
        ),
        "{stderr}"
    );
    // The exchange takes 8 s to answer; the store's error does not wait for it.
    assert!(took < std::time::Duration::from_secs(6), "took {took:?}");
}

/// A fresh `once` knows when an exchange was last read: the store opens while the
/// exchanges are fetched, and the last good read it holds still reaches the report of an
/// exchange that fails now (its staleness, not "never read").
#[test]
fn once_reports_the_last_good_read_of_a_failing_exchange_from_an_earlier_run() {
    let exchange = |failure_rate: &str| {
        config(&format!(
            "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nfailure_rate = {failure_rate}\nbalances = {{ BTC = \"1\" }}\n"
        ))
    };
    let dir = Dir::new(&exchange("0.0"), "[x]\nBTC = \"1\"\n");
    let (first, code) = dir.once_json();
    assert_eq!(code, 0, "{first}");
    let read_at = first["exchanges"][0]["last_ok_at"].clone();
    assert!(read_at.is_string(), "{first}");

    std::fs::write(dir.path().join("config.toml"), exchange("1.0")).unwrap();
    let (second, code) = dir.once_json();
    assert_eq!(code, 3, "{second}");
    let x = &second["exchanges"][0];
    assert_eq!(x["status"], "error", "{second}");
    assert_eq!(x["last_ok_at"], read_at, "{second}");
    assert!(x["stale_secs"].is_u64(), "{second}");
}
