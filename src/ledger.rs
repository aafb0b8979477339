//! The local ledger: what the trading system believes it holds, per exchange and asset.
//!
//! Read fresh every cycle, from a TOML file (an external position manager may rewrite it
//! atomically at any time) or from an HTTP endpoint returning the same shape as JSON.
//! Amounts are strings or integers; a float is rejected with a message telling the user
//! to quote it, because `0.1` has no exact binary form.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use url::Url;

use crate::config::LedgerConfig;
use crate::domain::{parse_amount, Asset, ExchangeName};

/// Expected holdings: exchange → asset → amount. An exchange absent here expects nothing.
pub type Ledger = BTreeMap<ExchangeName, BTreeMap<Asset, Decimal>>;

/// Why the ledger could not be read. The cycle then reports `failed`; nothing is compared
/// against a half-read ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The file could not be read.
    #[error("ledger {path}: cannot read: {message}")]
    Read {
        /// Where.
        path: String,
        /// OS error text.
        message: String,
    },
    /// Not valid TOML / JSON, or not the expected shape.
    #[error("ledger {path}: {message}")]
    Syntax {
        /// Where.
        path: String,
        /// Parser message (one line).
        message: String,
    },
    /// A float amount.
    #[error("ledger {path}: [{exchange}] {asset} is a float ({value}), which loses precision; quote it: {asset} = \"{value}\"")]
    Float {
        /// Where.
        path: String,
        /// Table.
        exchange: String,
        /// Key.
        asset: String,
        /// The float as written.
        value: String,
    },
    /// An amount that is not an exact decimal, or a bad symbol.
    #[error("ledger {path}: [{exchange}] {asset}: {message}")]
    Amount {
        /// Where.
        path: String,
        /// Table.
        exchange: String,
        /// Key.
        asset: String,
        /// What is wrong.
        message: String,
    },
    /// HTTP failure.
    #[error("ledger {url}: {message}")]
    Http {
        /// The endpoint (credentials stripped).
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Where the ledger is read from, plus what reading needs (an HTTP client).
#[derive(Debug, Clone)]
pub enum LedgerSource {
    /// A TOML file.
    File(PathBuf),
    /// An HTTP endpoint.
    Http {
        /// The endpoint.
        url: Url,
        /// Shared client.
        client: reqwest::Client,
        /// Request timeout.
        timeout: Duration,
    },
}

impl LedgerSource {
    /// From `[ledger]`.
    pub fn from_config(cfg: &LedgerConfig, timeout: Duration) -> Self {
        match cfg {
            LedgerConfig::File { path } => Self::File(path.clone()),
            LedgerConfig::Http { url } => Self::Http {
                url: url.clone(),
                client: reqwest::Client::new(),
                timeout,
            },
        }
    }

    /// Reads the whole ledger now. File reads run on tokio's blocking pool.
    pub async fn read(&self) -> Result<Ledger, LedgerError> {
        match self {
            Self::File(path) => {
                let shown = path.display().to_string();
                let text =
                    tokio::fs::read_to_string(path)
                        .await
                        .map_err(|e| LedgerError::Read {
                            path: shown.clone(),
                            message: e.to_string(),
                        })?;
                parse_toml(&text, &shown)
            }
            Self::Http {
                url,
                client,
                timeout,
            } => {
                let shown = redact_url(url);
                let http_err = |message: String| LedgerError::Http {
                    url: shown.clone(),
                    message,
                };
                let resp = client
                    .get(url.clone())
                    .timeout(*timeout)
                    .send()
                    .await
                    .map_err(|e| http_err(transport_message(&e)))?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(http_err(format!("HTTP {}", status.as_u16())));
                }
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| http_err(transport_message(&e)))?;
                parse_json(&body, &shown)
            }
        }
    }

    /// Where it reads from, for messages (credentials stripped).
    pub fn describe(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Http { url, .. } => redact_url(url),
        }
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        // The innermost cause: reqwest's own Display embeds the URL, which may carry
        // credentials.
        let mut e_text = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(e);
        while let Some(s) = source {
            e_text = s.to_string();
            source = s.source();
        }
        e_text
    }
}

/// A URL for display: user info and query removed (either may carry a token).
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        u.set_query(Some("***"));
    }
    u.to_string()
}

/// One amount as written: text or integer; floats kept aside to be rejected by name.
enum RawAmount {
    Exact(String),
    Float(String),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for RawAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAmount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawAmount, E> {
                Ok(RawAmount::Exact(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawAmount, E> {
                Ok(RawAmount::Exact(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawAmount, E> {
                Ok(RawAmount::Exact(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawAmount, E> {
                Ok(RawAmount::Float(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawAmount, E> {
                Ok(RawAmount::Other("a boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawAmount, E> {
                Ok(RawAmount::Other("null"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawAmount, A::Error> {
                while m.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(RawAmount::Other("a table"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<RawAmount, A::Error> {
                while s.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(RawAmount::Other("an array"))
            }
        }
        d.deserialize_any(V)
    }
}

type RawLedger = BTreeMap<String, BTreeMap<String, RawAmount>>;

/// Parses the TOML form (`[coinbase-main]` / `BTC = "1.5"`).
pub fn parse_toml(text: &str, path: &str) -> Result<Ledger, LedgerError> {
    let raw: RawLedger = toml::from_str(text).map_err(|e| LedgerError::Syntax {
        path: path.to_string(),
        message: e.message().trim().replace('\n', " "),
    })?;
    validate(raw, path)
}

/// Parses the JSON form (`{"coinbase-main": {"BTC": "1.5"}}`).
pub fn parse_json(body: &[u8], path: &str) -> Result<Ledger, LedgerError> {
    let raw: RawLedger = serde_json::from_slice(body).map_err(|e| LedgerError::Syntax {
        path: path.to_string(),
        message: format!("not a JSON ledger object: {e}"),
    })?;
    validate(raw, path)
}

fn validate(raw: RawLedger, path: &str) -> Result<Ledger, LedgerError> {
    let mut ledger = Ledger::new();
    for (exchange, assets) in raw {
        let mut out = BTreeMap::new();
        for (symbol, amount) in assets {
            let amount_err = |message: String| LedgerError::Amount {
                path: path.to_string(),
                exchange: exchange.clone(),
                asset: symbol.clone(),
                message,
            };
            let value = match amount {
                RawAmount::Exact(s) => {
                    parse_amount(s.trim()).map_err(|e| amount_err(e.to_string()))?
                }
                RawAmount::Float(value) => {
                    return Err(LedgerError::Float {
                        path: path.to_string(),
                        exchange,
                        asset: symbol,
                        value,
                    })
                }
                RawAmount::Other(what) => {
                    return Err(amount_err(format!("{what} is not an amount")))
                }
            };
            let asset = Asset::parse(&symbol).map_err(|e| amount_err(e.to_string()))?;
            if out.insert(asset, value).is_some() {
                return Err(amount_err(
                    "listed twice (symbols are case-insensitive)".into(),
                ));
            }
        }
        ledger.insert(ExchangeName::new(exchange), out);
    }
    Ok(ledger)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_ledger_reads_strings_and_integers_exactly() {
        let l = parse_toml(
            "[coinbase-main]\nBTC = \"1.50000000\"\nusd = 1000\n[dydx]\n",
            "ledger.toml",
        )
        .unwrap();
        let cb = &l[&ExchangeName::new("coinbase-main")];
        assert_eq!(cb[&Asset::parse("BTC").unwrap()].to_string(), "1.5");
        assert_eq!(cb[&Asset::parse("USD").unwrap()].to_string(), "1000");
        assert!(l[&ExchangeName::new("dydx")].is_empty());
    }

    #[test]
    fn float_is_rejected_with_a_quote_it_hint() {
        let err = parse_toml("[coinbase-main]\nBTC = 1.5\n", "ledger.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ledger ledger.toml: [coinbase-main] BTC is a float (1.5), which loses precision; quote it: BTC = \"1.5\""
        );
        let err = parse_json(br#"{"x": {"ETH": 2.25}}"#, "http://h/l").unwrap_err();
        assert!(matches!(err, LedgerError::Float { .. }), "{err}");
    }

    #[test]
    fn duplicate_symbols_differing_in_case_are_rejected() {
        let err = parse_toml("[a]\nBTC = \"1\"\nbtc = \"2\"\n", "l.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ledger l.toml: [a] btc: listed twice (symbols are case-insensitive)"
        );
    }

    #[test]
    fn non_amounts_are_named() {
        let err = parse_toml("[a]\nBTC = true\n", "l.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ledger l.toml: [a] BTC: a boolean is not an amount"
        );
        let err = parse_toml("[a]\nBTC = \"1e5\"\n", "l.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ledger l.toml: [a] BTC: '1e5' is not a decimal amount"
        );
        let err = parse_toml("BTC = \"1\"\n", "l.toml").unwrap_err();
        assert!(matches!(err, LedgerError::Syntax { .. }), "{err}");
    }

    #[test]
    fn redact_url_strips_credentials_and_query() {
        let u = Url::parse("https://user:pw@h.example/l?token=abc").unwrap();
        assert_eq!(redact_url(&u), "https://h.example/l?***");
    }
}
