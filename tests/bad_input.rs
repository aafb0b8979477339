//! Bad input of every kind gets one clear line on stderr naming the file, key or
//! exchange at fault, and the documented exit code — never a panic or backtrace.

use assert_cmd::Command;

const EX: &str = "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = { BTC = \"1\" }\n";

/// Runs `recon --config <tmp>/c.toml <args>` on `config`; returns (code, stderr, stdout).
fn run(
    config: &str,
    ledger: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, config).unwrap();
    if let Some(l) = ledger {
        std::fs::write(dir.path().join("ledger.toml"), l).unwrap();
    }
    let mut c = Command::cargo_bin("recon").unwrap();
    c.current_dir(dir.path())
        .env_clear()
        .env("RUST_BACKTRACE", "1")
        .args(["--config", "c.toml"])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn each_bad_config_gets_its_own_one_line_error() {
    let cases: &[(&str, &str)] = &[
        (
            "[reconciliation]\nintervl_secs = 3\n",
            "recon: c.toml: reconciliation.intervl_secs: unknown field `intervl_secs`, expected one of `interval_secs`, `cycle_timeout_ms`, `fetch_timeout_ms`",
        ),
        (
            "[reconciliation]\nfetch_timeout_ms = \"fast\"\n",
            "recon: c.toml: reconciliation.fetch_timeout_ms: invalid type: string \"fast\", expected u64",
        ),
        (
            "[reconciliation]\ninterval_secs = 0\n",
            "recon: c.toml: reconciliation.interval_secs: 0 must be > 0 and at most 86400 seconds",
        ),
        (
            "[tolerance]\nrelative = 0.0001\n",
            "recon: c.toml: tolerance.relative: 0.0001 is a float, which loses precision; quote it (\"0.0001\")",
        ),
        (
            "[tolerance]\nabsolute = \"-1\"\n",
            "recon: c.toml: tolerance.absolute: -1 must not be negative",
        ),
        (
            "[severity]\nmedium = \"0.1\"\nhigh = \"0.01\"\n",
            "recon: c.toml: severity: thresholds must rise: medium (0.1) <= high (0.01) <= critical (0.05)",
        ),
        (
            "[ledger]\nkind = \"http\"\n",
            "recon: c.toml: ledger.url: required when kind = \"http\"",
        ),
        (
            "[logging]\nformat = \"xml\"\n",
            "recon: c.toml: logging.format: unknown variant `xml`, expected `json` or `text`",
        ),
        (
            "[mystery]\nkey = 1\n",
            "recon: c.toml: mystery: unknown field `mystery`, expected one of `reconciliation`, `tolerance`, `severity`, `ledger`, `storage`, `logging`, `retry`, `circuit_breaker`, `alerts`, `ui`, `valuation`, `exchanges`",
        ),
    ];
    for (section, expected) in cases {
        let (code, stderr, stdout) = run(&format!("{section}{EX}"), None, &["config"], &[]);
        assert_eq!(
            (code, stderr.as_str()),
            (1, format!("{expected}\n").as_str()),
            "{section}"
        );
        assert!(stdout.is_empty());
    }
}

#[test]
fn bad_exchange_entries_name_the_entry() {
    let cases: &[(&str, &str)] = &[
        ("", "recon: c.toml: exchanges: at least one [[exchanges]] entry is required"),
        (
            "[[exchanges]]\nname = \"x\"\nkind = \"binance\"\n",
            "recon: c.toml: exchanges[0].kind: unknown variant `binance`, expected one of `coinbase`, `coinbase_exchange`, `dydx`, `simulated`",
        ),
        (
            "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\npassphrase_env = \"P\"\nbalances = {}\n",
            "recon: c.toml: exchanges[0] (x).passphrase_env: is only valid for kind coinbase_exchange",
        ),
        (
            "[[exchanges]]\nname = \"cb\"\nkind = \"coinbase\"\napi_key_env = \"K\"\n",
            "recon: c.toml: exchanges[0] (cb).api_secret_env: is required for this kind",
        ),
        (
            "[[exchanges]]\nname = \"cb\"\nkind = \"coinbase\"\napi_key_env = \"K\"\napi_secret_env = \"-----BEGIN EC PRIVATE KEY-----\"\n",
            "recon: c.toml: exchanges[0].api_secret_env: must be the NAME of an environment variable (upper-case letters, digits, '_'), not the secret itself",
        ),
        (
            "[[exchanges]]\nname = \"d\"\nkind = \"dydx\"\naddress = \"dydx1abc\"\nsubaccount = 200000\n",
            "recon: c.toml: exchanges[0] (d).subaccount: must be between 0 and 128000",
        ),
        (
            "[[exchanges]]\nname = \"a:b\"\nkind = \"simulated\"\nbalances = {}\n",
            "recon: c.toml: exchanges[0].name: 'a:b' must be 1-64 letters, digits, '-', '_' or '.'",
        ),
        (
            &format!("{EX}{EX}"),
            "recon: c.toml: exchanges[1].name: 'x' is used by an earlier exchange",
        ),
        (
            "[[exchanges]]\nname = \"s\"\nkind = \"simulated\"\nbalances = { BTC = 1.5 }\n",
            "recon: c.toml: exchanges[0].balances.BTC: 1.5 is a float, which loses precision; quote it (\"1.5\")",
        ),
    ];
    for (entries, expected) in cases {
        let (code, stderr, _) = run(entries, None, &["config"], &[]);
        assert_eq!(
            (code, stderr.as_str()),
            (1, format!("{expected}\n").as_str()),
            "{entries}"
        );
    }
}

#[test]
fn syntax_errors_give_line_and_column() {
    let (code, stderr, _) = run("[reconciliation\nx = 1\n", None, &["config"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "recon: c.toml: line 1, column 16: invalid table header expected `.`, `]`\n"
    );
}

#[test]
fn bad_environment_values_name_the_variable() {
    let (code, stderr, _) = run(
        EX,
        None,
        &["config"],
        &[("RECON_RETRY_MAX_ATTEMPTS", "abc")],
    );
    assert_eq!((code, stderr.as_str()), (1, "recon: environment RECON_RETRY_MAX_ATTEMPTS: retry.max_attempts: 'abc' is not an integer\n"));
    let (code, stderr, _) = run(
        EX,
        None,
        &["config"],
        &[("RECON_TOLERANCE_RELATIVE", "0.5.1")],
    );
    assert_eq!((code, stderr.as_str()), (1, "recon: environment RECON_TOLERANCE_RELATIVE: tolerance.relative: '0.5.1' is not a decimal amount\n"));
    let (code, stderr, _) = run(EX, None, &["config"], &[("RECON_LEDGER_PATHS", "x")]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            1,
            "recon: environment RECON_LEDGER_PATHS: ledger.paths: unknown key\n"
        )
    );
}

#[test]
fn missing_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("recon")
        .unwrap()
        .current_dir(dir.path())
        .args(["--config", "nope.toml", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "recon: nope.toml: cannot read: No such file or directory (os error 2)\n"
    );
    // For `once`, an unusable configuration is "unknown" to the monitoring system.
    let out = Command::cargo_bin("recon")
        .unwrap()
        .current_dir(dir.path())
        .args(["--config", "nope.toml", "once"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn bad_ledgers_fail_the_cycle_with_the_reason_in_the_report() {
    let cases: &[(Option<&str>, &str)] = &[
        (
            None,
            "ledger ledger.toml: cannot read: No such file or directory (os error 2)",
        ),
        (
            Some("BTC = \"1\"\n"),
            "ledger ledger.toml: invalid type: string \"1\", expected a map",
        ),
        (
            Some("[x]\nBTC = \"1\"\n[x]\n"),
            "ledger ledger.toml: invalid table header duplicate key `x` in document root",
        ),
    ];
    for (ledger, expected) in cases {
        let (code, stderr, stdout) = run(EX, *ledger, &["once", "--format", "json"], &[]);
        assert_eq!(code, 3, "{ledger:?}: {stderr}");
        let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(j["status"], "failed");
        assert_eq!(j["ledger_error"], *expected, "{ledger:?}");
        assert_eq!(j["discrepancies"], serde_json::json!([]));
        // The exchange itself was still fetched and is shown healthy, not compared.
        assert_eq!(j["exchanges"][0]["status"], "ok");
        assert_eq!(j["exchanges"][0]["compared"], false);
    }
}

#[test]
fn a_bad_ledger_entry_is_an_error_of_its_exchange_naming_the_key() {
    let cases: &[(&str, &str)] = &[
        ("[x]\nBTC = 1.5\n", "ledger ledger.toml: [x] BTC is a float (1.5), which loses precision; quote it: BTC = \"1.5\""),
        ("[x]\nBTC = \"1,5\"\n", "ledger ledger.toml: [x] BTC: '1,5' is not a decimal amount"),
        ("[x]\nBTC = \"1234567890.123456789012345678901\"\n", "ledger ledger.toml: [x] BTC: '1234567890.123456789012345678901' cannot be represented exactly (more than 28 significant digits)"),
        ("[x]\nBTC = \"1\"\nbtc = \"2\"\n", "ledger ledger.toml: [x] btc: listed twice (symbols are case-insensitive)"),
    ];
    for (ledger, expected) in cases {
        let (code, stderr, stdout) = run(EX, Some(ledger), &["once", "--format", "json"], &[]);
        assert_eq!(code, 3, "{ledger:?}: {stderr}");
        let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        // The only exchange could not be compared: nothing was.
        assert_eq!(j["status"], "failed");
        assert_eq!(j["ledger_error"], serde_json::Value::Null);
        assert_eq!(j["exchanges"][0]["status"], "error");
        assert_eq!(j["exchanges"][0]["compared"], false);
        assert_eq!(j["exchanges"][0]["error"], *expected, "{ledger:?}");
        assert_eq!(
            j["exchanges"][0]["balances"],
            serde_json::json!([{"asset": "BTC", "local": null, "exchange": "1"}])
        );
    }
}

#[test]
fn an_exchange_without_credentials_is_shown_failed_not_dropped() {
    let config = format!(
        "{EX}[[exchanges]]\nname = \"cb\"\nkind = \"coinbase_exchange\"\napi_key_env = \"CBX_KEY\"\napi_secret_env = \"CBX_SECRET\"\npassphrase_env = \"CBX_PASS\"\n"
    );
    let (code, _stderr, stdout) = run(
        &config,
        Some("[x]\nBTC = \"1\"\n"),
        &["once", "--format", "json"],
        &[],
    );
    assert_eq!(code, 3);
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["status"], "partial");
    assert_eq!(j["exchanges"][1]["name"], "cb");
    assert_eq!(j["exchanges"][1]["status"], "error");
    assert_eq!(j["exchanges"][1]["balances"], serde_json::json!([]));
    assert!(
        j["exchanges"][1]["error"]
            .as_str()
            .unwrap()
            .contains("CBX_"),
        "{}",
        j["exchanges"][1]["error"]
    );
}

#[test]
fn a_non_utf8_environment_variable_is_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), EX).unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let out = Command::cargo_bin("recon")
        .unwrap()
        .current_dir(dir.path())
        .env("SOME_UNRELATED_VAR", bad)
        .args(["--config", "c.toml", "config"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::cargo_bin("recon")
        .unwrap()
        .current_dir(dir.path())
        .env("RECON_UI_THEME", bad)
        .args(["--config", "c.toml", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "recon: environment RECON_UI_THEME: ui_theme: value is not valid UTF-8\n"
    );
}
