//! Reliability: fuzzing of every parser that reads outside input — the three exchange
//! response parsers, the two price parsers (an http feed, Coinbase market data), the
//! ledger (TOML and JSON) and the config loader (file and environment). cargo-fuzz needs a nightly toolchain, which this machine cannot fetch, so
//! this is proptest driving a mutation fuzzer: real bodies from `tests/fixtures` and the
//! shipped config are the seed corpus; random byte flips, cuts, splices and tokens that
//! parsers trip on (huge exponents, 29-digit amounts, NUL, lone surrogates, deep nesting)
//! mutate them. Every input must give `Ok` or a typed, one-line error: never a panic,
//! never a message spanning lines.
//!
//! Ignored by default (it is long); CI runs it with `RECON_FUZZ_CASES` bounded:
//! `RECON_FUZZ_CASES=3000 cargo test --release --test reliability_fuzz -- --ignored`.
//! Without the variable each target gets 100 000 cases.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use recon::config::TradingConfig;
use recon::exchanges::coinbase::parse_accounts_page;
use recon::exchanges::coinbase_exchange::parse_accounts;
use recon::exchanges::dydx::parse_subaccount;
use recon::exchanges::ExchangeError;
use recon::ledger::{parse_json, parse_toml};
use recon::valuation::{parse_coinbase_products, parse_http_prices};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// What parsers trip on, spliced in at random places.
const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "=",
    "\n",
    "null",
    "true",
    "-",
    ".",
    "1e400",
    "-0",
    "0.0000000000000000000000000001",
    "99999999999999999999999999999",
    "79228162514264337593543950336",
    "\"1.5\"",
    "1.5",
    "\u{0}",
    "\\ud800",
    "\\u0000",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}",
    "\"value\":",
    "\"currency\":",
    "\"cursor\":\"\"",
    "\"has_next\":true",
    "[x]",
    "[[exchanges]]",
    "kind = \"coinbase\"",
    "interval_secs = ",
    "_env = \"",
    "é",
    "✖",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Cut(usize, usize),
    Token(usize, usize),
    Splice(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), 0usize..64).prop_map(|(p, n)| Mutation::Cut(p, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Token(p, t)),
        (any::<usize>(), vec(any::<u8>(), 0..16)).prop_map(|(p, b)| Mutation::Splice(p, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in mutations {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
        match m {
            Mutation::Flip(p, x) if !b.is_empty() => {
                let i = p % b.len();
                b[i] = *x;
            }
            Mutation::Flip(..) => {}
            Mutation::Cut(p, n) => {
                let i = at(*p, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Mutation::Token(p, t) => {
                let i = at(*p, b.len());
                b.splice(i..i, TOKENS[*t].bytes());
            }
            Mutation::Splice(p, bytes) => {
                let i = at(*p, b.len());
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::Truncate(p) => {
                let i = at(*p, b.len());
                b.truncate(i);
            }
        }
    }
    b
}

fn cases() -> u32 {
    std::env::var("RECON_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

fn corpus(dirs: &[&str]) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for d in dirs {
        let mut files: Vec<_> = std::fs::read_dir(format!("{FIXTURES}/{d}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            seeds.push(std::fs::read(f).unwrap());
        }
    }
    assert!(seeds.len() >= 5, "the seed corpus is missing");
    seeds
}

/// Runs `check` on `cases()` mutants of the seeds (and on the seeds themselves).
fn fuzz(seeds: Vec<Vec<u8>>, check: impl Fn(&[u8]) -> Result<(), String>) {
    for s in &seeds {
        check(s).unwrap_or_else(|e| panic!("seed: {e}"));
    }
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let n = seeds.len();
    runner
        .run(&(0..n, vec(mutation(), 1..8)), |(i, mutations)| {
            let input = apply(&seeds[i], &mutations);
            check(&input).map_err(TestCaseError::fail)
        })
        .unwrap();
}

fn one_line(what: &str, message: &str) -> Result<(), String> {
    if message.is_empty() || message.contains('\n') {
        return Err(format!("{what}: not one line: {message:?}"));
    }
    Ok(())
}

fn exchange_result<T>(what: &str, r: Result<T, ExchangeError>) -> Result<(), String> {
    match r {
        Ok(_) => Ok(()),
        Err(e @ (ExchangeError::Malformed(_) | ExchangeError::Amount { .. })) => {
            one_line(what, &e.to_string())
        }
        Err(e) => Err(format!("{what}: untyped parse error {e:?}")),
    }
}

#[test]
#[ignore = "long: CI runs it with RECON_FUZZ_CASES bounded"]
fn fuzz_the_exchange_parsers() {
    fuzz(
        corpus(&["coinbase_advanced", "coinbase_exchange", "dydx"]),
        |body| {
            exchange_result("coinbase", parse_accounts_page(body))?;
            exchange_result("coinbase_exchange", parse_accounts(body))?;
            exchange_result("dydx", parse_subaccount(body))
        },
    );
}

#[test]
#[ignore = "long: CI runs it with RECON_FUZZ_CASES bounded"]
fn fuzz_the_price_parsers() {
    let mut seeds: Vec<Vec<u8>> = corpus(&["coinbase_advanced"])
        .into_iter()
        .filter(|b| b.windows(8).any(|w| w == b"products"))
        .collect();
    seeds.push(br#"{"BTC": "97000.5", "ETH": "3500", "USDC": 1, "DOGE": "0.35"}"#.to_vec());
    let usd = recon::domain::Asset::parse("USD").unwrap();
    fuzz(seeds, |body| {
        exchange_result("http prices", parse_http_prices(body))?;
        exchange_result("coinbase prices", parse_coinbase_products(body, &usd))
    });
}

#[test]
#[ignore = "long: CI runs it with RECON_FUZZ_CASES bounded"]
fn fuzz_the_ledger_parsers() {
    let toml = include_bytes!("../ledger.toml").to_vec();
    let json =
        br#"{"coinbase-main": {"BTC": "1.5", "ETH": 10}, "dydx-perps": {"ETH-USD": "-3.5"}}"#;
    fuzz(vec![toml, json.to_vec()], |body| {
        let text = String::from_utf8_lossy(body);
        let check = |what: &str, r: Result<recon::ledger::Ledger, _>| match r {
            Ok(ledger) => {
                // A per-exchange error is an error of that exchange: one line too.
                for e in ledger.values().filter_map(|v| v.as_ref().err()) {
                    one_line(what, &e.to_string())?;
                }
                Ok(())
            }
            Err(e) => one_line(what, &format!("{e}")),
        };
        check("ledger toml", parse_toml(&text, "ledger.toml"))?;
        check("ledger json", parse_json(body, "http://ledger"))
    });
}

#[test]
#[ignore = "long: CI runs it with RECON_FUZZ_CASES bounded"]
fn fuzz_the_config_loader() {
    let shipped = include_bytes!("../config.toml").to_vec();
    let full = br#"
[reconciliation]
interval_secs = 0.5
[tolerance]
ignore_assets = ["DUST"]
[tolerance.assets.USDC]
absolute = "0.01"
[alerts]
webhook_url = "http://127.0.0.1:9/hook"
min_severity = "medium"
[[exchanges]]
name = "cb"
kind = "coinbase"
api_key_env = "CB_KEY"
api_secret_env = "CB_SECRET"
[[exchanges]]
name = "cbx"
kind = "coinbase_exchange"
api_key_env = "CBX_KEY"
api_secret_env = "CBX_SECRET"
passphrase_env = "CBX_PASS"
[[exchanges]]
name = "d"
kind = "dydx"
address = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
[[exchanges]]
name = "sim"
kind = "simulated"
failure_rate = 0.25
balances = { BTC = "1" }
"#
    .to_vec();
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("config.toml");
    fuzz(vec![shipped, full], |body| {
        let text = String::from_utf8_lossy(body);
        // Half of the inputs also carry an override from the environment, itself mutated.
        let vars = if body.len() % 2 == 0 {
            vec![(
                "RECON_RECONCILIATION_INTERVAL_SECS".to_string(),
                text.chars().rev().take(6).collect::<String>(),
            )]
        } else {
            Vec::new()
        };
        match TradingConfig::from_toml_str(&text, &origin, dir.path(), vars) {
            Ok(_) => Ok(()),
            Err(e) => one_line("config", &e.to_string()),
        }
    });
}
