//! The local ledger: what the trading system believes it holds, per exchange and asset.
//!
//! Read fresh every cycle, from a TOML file (an external position manager may rewrite it
//! atomically at any time) or from an HTTP endpoint returning the same shape as JSON.
//! Amounts are strings or integers; a float is rejected with a message telling the user
//! to quote it, because `0.1` has no exact binary form. A bad entry is an error of its
//! exchange only (that exchange is not compared, the others are); only an unreadable
//! file, a syntax error or an unreachable endpoint fails the whole ledger.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use url::Url;

use crate::config::LedgerConfig;
use crate::domain::{format_amount, parse_amount, truncate_for_message, Asset, ExchangeName};

/// One exchange's expected holdings: asset → amount.
pub type Holdings = BTreeMap<Asset, Decimal>;

/// Expected holdings per exchange, or why that exchange's table could not be read (a
/// float, an inexact amount, a bad symbol): an error of that exchange only, which is then
/// not compared. An exchange absent here expects nothing.
pub type Ledger = BTreeMap<ExchangeName, Result<Holdings, LedgerError>>;

/// Why the ledger, or one exchange's part of it, could not be read. `Read`, `Syntax` and
/// `Http` fail the whole cycle (`failed`): nothing is compared against a half-read
/// ledger. `Float` and `Amount` are errors of one exchange (see [`Ledger`]).
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
    #[error("ledger {path}: [{exchange}] {asset} is a float{detail}")]
    Float {
        /// Where.
        path: String,
        /// Table.
        exchange: String,
        /// Key.
        asset: String,
        /// The literal and the fix: ` (1.5), which loses precision; quote it: …`.
        detail: String,
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

/// The last bytes read and what they parsed to. Parsing a 10 000-line TOML ledger costs
/// ~10 ms, reading and comparing its bytes ~0.1 ms; the ledger is still read every cycle,
/// but parsed only when its content changed.
type ParseCache = Arc<Mutex<Option<(Vec<u8>, Arc<Ledger>)>>>;

/// Where the ledger is read from, plus what reading needs (an HTTP client).
#[derive(Debug, Clone)]
pub enum LedgerSource {
    /// A TOML file.
    File {
        /// The file.
        path: PathBuf,
        /// Last content and its parse.
        cache: ParseCache,
    },
    /// An HTTP endpoint.
    Http {
        /// The endpoint.
        url: Url,
        /// Shared client.
        client: reqwest::Client,
        /// Request timeout.
        timeout: Duration,
        /// Last body and its parse.
        cache: ParseCache,
    },
}

/// Returns the cached parse when `bytes` equal the last content, else parses and caches.
fn parse_cached(
    cache: &ParseCache,
    bytes: Vec<u8>,
    parse: impl FnOnce(&[u8]) -> Result<Ledger, LedgerError>,
) -> Result<Arc<Ledger>, LedgerError> {
    // The cache holds plain data; a panic elsewhere cannot leave it half-written.
    let mut slot = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((last, ledger)) = slot.as_ref() {
        if *last == bytes {
            return Ok(ledger.clone());
        }
    }
    let ledger = Arc::new(parse(&bytes)?);
    *slot = Some((bytes, ledger.clone()));
    Ok(ledger)
}

impl LedgerSource {
    /// From `[ledger]`.
    pub fn from_config(cfg: &LedgerConfig, timeout: Duration) -> Self {
        match cfg {
            LedgerConfig::File { path } => Self::File {
                path: path.clone(),
                cache: ParseCache::default(),
            },
            LedgerConfig::Http { url } => Self::Http {
                url: url.clone(),
                client: reqwest::Client::new(),
                timeout,
                cache: ParseCache::default(),
            },
        }
    }

    /// Reads the whole ledger now. The file read and any parse run on tokio's blocking
    /// pool, never on the async runtime.
    pub async fn read(&self) -> Result<Arc<Ledger>, LedgerError> {
        match self {
            Self::File { path, cache } => {
                let (path, cache) = (path.clone(), cache.clone());
                let shown = path.display().to_string();
                let read_err = |message: String| LedgerError::Read {
                    path: shown.clone(),
                    message,
                };
                tokio::task::spawn_blocking(move || {
                    let shown = path.display().to_string();
                    let bytes = std::fs::read(&path).map_err(|e| LedgerError::Read {
                        path: shown.clone(),
                        message: e.to_string(),
                    })?;
                    parse_cached(&cache, bytes, |b| {
                        let text = std::str::from_utf8(b).map_err(|_| LedgerError::Syntax {
                            path: shown.clone(),
                            message: "not UTF-8 text".into(),
                        })?;
                        parse_toml(text, &shown)
                    })
                })
                .await
                .map_err(|e| read_err(format!("reader task failed: {e}")))?
            }
            Self::Http {
                url,
                client,
                timeout,
                cache,
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
                let cache = cache.clone();
                let url_shown = shown.clone();
                tokio::task::spawn_blocking(move || {
                    parse_cached(&cache, body.to_vec(), |b| parse_json(b, &url_shown))
                })
                .await
                .map_err(|e| http_err(format!("parser task failed: {e}")))?
            }
        }
    }

    /// Where it reads from, for messages (credentials stripped).
    pub fn describe(&self) -> String {
        match self {
            Self::File { path, .. } => path.display().to_string(),
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

pub use crate::config::redact_url;

/// One amount as written: text or integer; floats kept aside to be rejected by name.
enum RawAmount {
    Exact(String),
    /// Only that it was a float: its text comes from the source (TOML) or is unknown (JSON).
    Float,
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
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawAmount, E> {
                Ok(RawAmount::Float)
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

/// A map that refuses duplicate keys. serde's `BTreeMap` keeps the last of two equal
/// keys, so `{"x": {"BTC": "1", "BTC": "5"}}` would silently become 5 (TOML rejects
/// duplicates itself; JSON does not).
struct UniqueMap<V>(BTreeMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Vis<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = m.next_entry::<String, V>()? {
                    if out.contains_key(&k) {
                        return Err(de::Error::custom(format!("duplicate key '{k}'")));
                    }
                    out.insert(k, v);
                }
                Ok(UniqueMap(out))
            }
        }
        d.deserialize_map(Vis(std::marker::PhantomData))
    }
}

/// The TOML form keeps each amount's span, so a float is quoted back as written.
type RawTomlLedger = UniqueMap<UniqueMap<toml::Spanned<RawAmount>>>;
type RawJsonLedger = UniqueMap<UniqueMap<RawAmount>>;

/// Parses the TOML form (`[coinbase-main]` / `BTC = "1.5"`).
pub fn parse_toml(text: &str, path: &str) -> Result<Ledger, LedgerError> {
    let syntax = |e: &toml::de::Error| LedgerError::Syntax {
        path: path.to_string(),
        message: e.message().trim().replace('\n', " "),
    };
    let mut text = std::borrow::Cow::Borrowed(text);
    let mut first_error = None;
    let mut rounds = 0;
    let raw: RawTomlLedger = loop {
        match toml::from_str(&text) {
            Ok(raw) => break raw,
            // Bounded: each round rewrites one literal, and a file of thousands of them
            // is not worth thousands of parses.
            Err(e) => match mark_oversized_integer(&text, &e).filter(|_| rounds < 100) {
                Some(marked) => {
                    rounds += 1;
                    first_error.get_or_insert_with(|| syntax(&e));
                    text = std::borrow::Cow::Owned(marked);
                }
                // The first error is the one the user's file has at that place (a later
                // one may quote a marked value).
                None => return Err(first_error.unwrap_or_else(|| syntax(&e))),
            },
        }
    };
    Ok(raw
        .0
        .into_iter()
        .map(|(exchange, UniqueMap(assets))| {
            let holdings = holdings(
                path,
                &exchange,
                assets.into_iter().map(|(symbol, a)| {
                    let literal = text.get(a.span()).unwrap_or_default().to_string();
                    (symbol, a.into_inner(), Written::Toml(literal))
                }),
            );
            (ExchangeName::new(exchange), holdings)
        })
        .collect())
}

/// Marks a TOML string holding an integer literal too large for TOML's 64 bits.
const OVERSIZED: char = '\u{1}';

/// TOML integers are 64-bit, so an unquoted `BTC = 12345678901234567890123456789` is a
/// syntax error of the whole document. So that it blinds only its exchange, the literal
/// is rewritten as a marked string (`"\u0001<digits>"`) and the text parsed again;
/// [`holdings`] reports it as that exchange's error. `None` for any other error.
fn mark_oversized_integer(text: &str, e: &toml::de::Error) -> Option<String> {
    if e.message().trim() != "number too large to fit in target type" {
        return None;
    }
    let start = e.span()?.start;
    let token: &str = text.get(start..)?;
    let len = token
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '_' | '+' | '-')))
        .unwrap_or(token.len());
    let literal = &token[..len];
    if !literal.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{}\"\\u0001{literal}\"{}",
        &text[..start],
        &token[len..]
    ))
}

/// Parses the JSON form (`{"coinbase-main": {"BTC": "1.5"}}`).
pub fn parse_json(body: &[u8], path: &str) -> Result<Ledger, LedgerError> {
    let raw: RawJsonLedger = serde_json::from_slice(body).map_err(|e| LedgerError::Syntax {
        path: path.to_string(),
        message: format!("not a JSON ledger object: {e}"),
    })?;
    Ok(raw
        .0
        .into_iter()
        .map(|(exchange, UniqueMap(assets))| {
            let holdings = holdings(
                path,
                &exchange,
                assets.into_iter().map(|(s, a)| (s, a, Written::Json)),
            );
            (ExchangeName::new(exchange), holdings)
        })
        .collect())
}

/// How a float was written, for the fix in its message.
enum Written {
    /// The TOML literal's source text (`123456789.123456789`).
    Toml(String),
    /// A JSON number: serde_json keeps only the `f64`, whose rendering may already differ
    /// from what was sent, so no value is quoted.
    Json,
}

/// One exchange's table: every amount exact, every symbol valid and listed once, or the
/// first entry that is not.
fn holdings(
    path: &str,
    exchange: &str,
    entries: impl Iterator<Item = (String, RawAmount, Written)>,
) -> Result<Holdings, LedgerError> {
    let mut out = BTreeMap::new();
    for (symbol, amount, written) in entries {
        let amount_err = |message: String| LedgerError::Amount {
            path: path.to_string(),
            exchange: truncate_for_message(exchange),
            asset: truncate_for_message(&symbol),
            message,
        };
        let value = match amount {
            RawAmount::Exact(s) if s.starts_with(OVERSIZED) => {
                let literal = &s[OVERSIZED.len_utf8()..];
                let plain = literal.replace('_', "");
                return Err(amount_err(
                    match parse_amount(plain.strip_prefix('+').unwrap_or(&plain)) {
                        Ok(v) => format!(
                            "{} is an integer too large for TOML; quote it: {} = \"{}\"",
                            truncate_for_message(literal),
                            toml_key(&symbol),
                            format_amount(v)
                        ),
                        Err(e) => e.to_string(),
                    },
                ));
            }
            RawAmount::Exact(s) => parse_amount(s.trim()).map_err(|e| amount_err(e.to_string()))?,
            RawAmount::Float => {
                return Err(LedgerError::Float {
                    path: path.to_string(),
                    exchange: truncate_for_message(exchange),
                    asset: truncate_for_message(&symbol),
                    detail: float_fix(&symbol, &written),
                })
            }
            RawAmount::Other(what) => return Err(amount_err(format!("{what} is not an amount"))),
        };
        let asset = Asset::parse(&symbol).map_err(|e| amount_err(e.to_string()))?;
        if out.insert(asset, value).is_some() {
            return Err(amount_err(
                "listed twice (symbols are case-insensitive)".into(),
            ));
        }
    }
    Ok(out)
}

/// ` (<literal>), which loses precision; quote it: BTC = "<literal>"`, quoting the text
/// as written (underscores dropped, exponent spelled out), never the `f64`'s rendering.
fn float_fix(symbol: &str, written: &Written) -> String {
    let literal = match written {
        Written::Json => {
            return ", which loses precision; send it as a JSON string".to_string();
        }
        Written::Toml(literal) => literal,
    };
    let shown = truncate_for_message(literal);
    match crate::config::plain_decimal(literal) {
        Some(plain) => format!(
            " ({shown}), which loses precision; quote it: {} = \"{plain}\"",
            toml_key(symbol)
        ),
        None => format!(" ({shown}), not a decimal amount"),
    }
}

/// `symbol` as a TOML key in a hint: bare when it may be, quoted otherwise.
fn toml_key(symbol: &str) -> String {
    let bare = !symbol.is_empty()
        && symbol
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    truncate_for_message(&if bare {
        symbol.to_string()
    } else {
        format!("{symbol:?}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holdings_of<'a>(l: &'a Ledger, exchange: &str) -> &'a Holdings {
        l[&ExchangeName::new(exchange)].as_ref().unwrap()
    }

    fn error_of(l: &Ledger, exchange: &str) -> String {
        l[&ExchangeName::new(exchange)]
            .as_ref()
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn toml_ledger_reads_strings_and_integers_exactly() {
        let l = parse_toml(
            "[coinbase-main]\nBTC = \"1.50000000\"\nusd = 1000\n[dydx]\n",
            "ledger.toml",
        )
        .unwrap();
        let cb = holdings_of(&l, "coinbase-main");
        assert_eq!(cb[&Asset::parse("BTC").unwrap()].to_string(), "1.5");
        assert_eq!(cb[&Asset::parse("USD").unwrap()].to_string(), "1000");
        assert!(holdings_of(&l, "dydx").is_empty());
    }

    #[test]
    fn float_is_rejected_with_a_quote_it_hint() {
        let l = parse_toml("[coinbase-main]\nBTC = 1.5\n", "ledger.toml").unwrap();
        assert_eq!(
            error_of(&l, "coinbase-main"),
            "ledger ledger.toml: [coinbase-main] BTC is a float (1.5), which loses precision; quote it: BTC = \"1.5\""
        );
        let l = parse_json(br#"{"x": {"ETH": 2.25}}"#, "http://h/l").unwrap();
        let err = l[&ExchangeName::new("x")].as_ref().unwrap_err();
        assert!(matches!(err, LedgerError::Float { .. }), "{err}");
    }

    #[test]
    fn the_quote_hint_quotes_the_literal_as_written_not_the_f64() {
        let l = parse_toml(
            "[b]\nBTC = 123456789.123456789\nETH = 1_000.000_000_000_000_001\n\"BTC/USD\" = 2.5e-3\nSOL = nan\n",
            "ledger.toml",
        )
        .unwrap();
        assert_eq!(
            error_of(&l, "b"),
            // The first bad entry in symbol order.
            "ledger ledger.toml: [b] BTC is a float (123456789.123456789), which loses precision; quote it: BTC = \"123456789.123456789\""
        );
        let one = |entry: &str| {
            let l = parse_toml(&format!("[b]\n{entry}\n"), "l.toml").unwrap();
            error_of(&l, "b")
        };
        assert_eq!(
            one("ETH = 1_000.000_000_000_000_001"),
            "ledger l.toml: [b] ETH is a float (1_000.000_000_000_000_001), which loses precision; quote it: ETH = \"1000.000000000000001\""
        );
        assert_eq!(
            one("\"BTC/USD\" = 2.5e-3"),
            "ledger l.toml: [b] BTC/USD is a float (2.5e-3), which loses precision; quote it: \"BTC/USD\" = \"0.0025\""
        );
        assert_eq!(
            one("SOL = nan"),
            "ledger l.toml: [b] SOL is a float (nan), not a decimal amount"
        );
        // JSON keeps only the f64, so no value is quoted at all.
        let l = parse_json(br#"{"b": {"BTC": 123456789.123456789}}"#, "http://h/l").unwrap();
        let err = error_of(&l, "b");
        assert_eq!(
            err,
            "ledger http://h/l: [b] BTC is a float, which loses precision; send it as a JSON string"
        );
    }

    #[test]
    fn a_bad_entry_is_an_error_of_its_exchange_only() {
        let l = parse_toml(
            "[a]\nBTC = \"1.5\"\n[b]\nBTC = 0.1\nETH = \"2\"\n[c]\nX = \"12345678901234567890.123456789\"\n[d]\nUSD = \"10\"\n",
            "l.toml",
        )
        .unwrap();
        assert_eq!(
            holdings_of(&l, "a")[&Asset::parse("BTC").unwrap()].to_string(),
            "1.5"
        );
        assert!(matches!(
            l[&ExchangeName::new("b")],
            Err(LedgerError::Float { .. })
        ));
        assert_eq!(
            error_of(&l, "c"),
            "ledger l.toml: [c] X: '12345678901234567890.123456789' cannot be represented exactly (more than 28 significant digits)"
        );
        assert_eq!(holdings_of(&l, "d").len(), 1);
        let l = parse_json(br#"{"a": {"BTC": "1"}, "b": {"BTC": true}}"#, "http://h/l").unwrap();
        assert_eq!(holdings_of(&l, "a").len(), 1);
        assert_eq!(
            error_of(&l, "b"),
            "ledger http://h/l: [b] BTC: a boolean is not an amount"
        );
    }

    #[test]
    fn an_integer_too_large_for_toml_is_an_error_of_its_exchange_only() {
        let l = parse_toml(
            "[a]\nBTC = \"1\"\n[b]\nSHIB = 100_000_000_000_000_000_000_000\n[c]\nX = 12345678901234567890123456789 # 29 digits\nY = 99999999999999999999\n",
            "l.toml",
        )
        .unwrap();
        assert_eq!(holdings_of(&l, "a").len(), 1);
        assert_eq!(
            error_of(&l, "b"),
            "ledger l.toml: [b] SHIB: 100_000_000_000_000_000_000_000 is an integer too large for TOML; quote it: SHIB = \"100000000000000000000000\""
        );
        assert_eq!(
            error_of(&l, "c"),
            "ledger l.toml: [c] X: '12345678901234567890123456789' cannot be represented exactly (more than 28 significant digits)"
        );
        // Another syntax error still fails the whole ledger, with the file's own message.
        let err = parse_toml("[b]\nX = 99999999999999999999\nY = 1.2.3\n", "l.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ledger l.toml: number too large to fit in target type"
        );
        let err = parse_toml("X = 99999999999999999999\n", "l.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ledger l.toml: number too large to fit in target type"
        );
    }

    #[test]
    fn duplicate_symbols_differing_in_case_are_rejected() {
        let l = parse_toml("[a]\nBTC = \"1\"\nbtc = \"2\"\n", "l.toml").unwrap();
        assert_eq!(
            error_of(&l, "a"),
            "ledger l.toml: [a] btc: listed twice (symbols are case-insensitive)"
        );
    }

    #[test]
    fn non_amounts_are_named() {
        let l = parse_toml("[a]\nBTC = true\n", "l.toml").unwrap();
        assert_eq!(
            error_of(&l, "a"),
            "ledger l.toml: [a] BTC: a boolean is not an amount"
        );
        let l = parse_toml("[a]\nBTC = \"1e5\"\n", "l.toml").unwrap();
        assert_eq!(
            error_of(&l, "a"),
            "ledger l.toml: [a] BTC: '1e5' is not a decimal amount"
        );
        // Not the shape of a ledger at all: the whole ledger fails.
        let err = parse_toml("BTC = \"1\"\n", "l.toml").unwrap_err();
        assert!(matches!(err, LedgerError::Syntax { .. }), "{err}");
        let err = parse_toml("[a]\nBTC = \"1\"\nETH = 1.5.5\n", "l.toml").unwrap_err();
        assert!(matches!(err, LedgerError::Syntax { .. }), "{err}");
    }

    #[test]
    fn json_duplicate_keys_are_rejected_not_last_one_wins() {
        for body in [
            &br#"{"x":{"BTC":"1","BTC":"5"}}"#[..],
            br#"{"x":{"BTC":"1"},"x":{"ETH":"2"}}"#,
        ] {
            let err = parse_json(body, "http://l").unwrap_err().to_string();
            assert!(err.contains("duplicate key"), "{err}");
        }
    }

    #[test]
    fn redact_url_strips_credentials_and_query() {
        let u = Url::parse("https://user:pw@h.example/l?token=abc").unwrap();
        assert_eq!(redact_url(&u), "https://h.example/l?***");
    }
}
