//! A temp-dir configuration with simulated exchanges and a ledger, for the tests that run
//! the real engine (in process or as the binary).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Writes `config.toml` (interval `interval_secs`, theme `theme`) and `ledger.toml` into
/// `dir`; returns the config path. coinbase-main is short 0.1 BTC (critical) and 0.5 SOL
/// (medium); dydx-perps is 1 % off on BTC-USD (high).
pub fn write(dir: &Path, interval_secs: &str, theme: &str) -> PathBuf {
    let config = format!(
        r#"
[reconciliation]
interval_secs = {interval_secs}
cycle_timeout_ms = 2000
fetch_timeout_ms = 1000

[ledger]
kind = "file"
path = "ledger.toml"

[storage]
path = "recon.db"

[logging]
dir = "logs"
level = "info"
format = "json"

[ui]
theme = "{theme}"

[[exchanges]]
name = "coinbase-main"
kind = "simulated"
seed = 7
latency_ms = [5, 20]
failure_rate = 0.0
drift = "0"
balances = {{ BTC = "1.4", ETH = "10", SOL = "249.5" }}

[[exchanges]]
name = "dydx-perps"
kind = "simulated"
seed = 23
latency_ms = [5, 20]
failure_rate = 0.0
drift = "0"
balances = {{ "BTC-USD" = "0.253", USDC = "14000.123456" }}
"#
    );
    let ledger = r#"
[coinbase-main]
BTC = "1.50000000"
ETH = "10"
SOL = "250"

[dydx-perps]
"BTC-USD" = "0.25"
USDC = "14000.123456"
"#;
    std::fs::write(dir.join("ledger.toml"), ledger).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, config).unwrap();
    path
}
