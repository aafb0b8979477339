//! The three price sources: the config's static table, an HTTP endpoint returning a JSON
//! map, and Coinbase Advanced's public market data. The network ones reuse the exchanges'
//! [`ReconcilerBase`]: timeout, retry with backoff on 429/5xx honouring `Retry-After`,
//! client-side rate limit, cycle deadline, and error texts that never quote the URL.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use url::Url;

use super::{FetchedPrices, PriceSource};
use crate::domain::{parse_amount, Asset};
use crate::exchanges::http::{
    decode, endpoint, one_line, JsonAmount, ReconcilerBase, RetryAfterUnit, VenueProfile,
};
use crate::exchanges::resilience::{Deadline, RateLimit, RetryPolicy};
use crate::exchanges::ExchangeError;

/// Coinbase Advanced's public product listing (no key): `?product_ids=BTC-USD&…`.
pub const COINBASE_PRODUCTS_PATH: &str = "/api/v3/brokerage/market/products";
/// Products asked for in one request. The API documents no maximum for `product_ids`;
/// 50 keeps the URL short (well under 2 KiB) while a desk's assets fit one request.
pub const PRODUCTS_PER_REQUEST: usize = 50;

/// `source = "static"`: the config's table, always current.
#[derive(Debug, Clone)]
pub struct StaticPrices {
    prices: BTreeMap<Asset, Decimal>,
}

impl StaticPrices {
    /// The table as configured.
    pub fn new(prices: BTreeMap<Asset, Decimal>) -> Self {
        Self { prices }
    }
}

#[async_trait]
impl PriceSource for StaticPrices {
    fn kind(&self) -> &'static str {
        "static"
    }

    fn lists_all(&self) -> bool {
        true
    }

    async fn fetch(
        &self,
        _assets: &BTreeSet<Asset>,
        _quote: &Asset,
        _deadline: &Deadline,
    ) -> Result<FetchedPrices, ExchangeError> {
        Ok(FetchedPrices {
            prices: self.prices.clone(),
            attempts: 0,
        })
    }
}

/// A public price endpoint: generous limit, `Retry-After` in seconds.
fn profile(rate: RateLimit) -> VenueProfile {
    VenueProfile {
        retry_after: RetryAfterUnit::Seconds,
        rate,
        not_found: None,
        auth_messages_400: &[],
    }
}

/// `source = "http"`: `GET url` answering `{"BTC": "97000.5", ...}`.
pub struct HttpPrices {
    url: Url,
    base: ReconcilerBase,
}

// Not derived: the URL may embed a token, and debug output must never show it.
impl std::fmt::Debug for HttpPrices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPrices")
            .field("url", &crate::config::redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl HttpPrices {
    /// The client for `url` (which may embed a token: it never appears in an error).
    pub fn new(url: Url, policy: RetryPolicy, timeout: Duration) -> Result<Self, ExchangeError> {
        Ok(Self {
            base: ReconcilerBase::new(
                &url,
                policy,
                timeout,
                profile(RateLimit::new(10, Duration::from_secs(1), 10)),
            )?,
            url,
        })
    }
}

#[async_trait]
impl PriceSource for HttpPrices {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn lists_all(&self) -> bool {
        true
    }

    async fn fetch(
        &self,
        _assets: &BTreeSet<Asset>,
        _quote: &Asset,
        deadline: &Deadline,
    ) -> Result<FetchedPrices, ExchangeError> {
        let (body, attempts) = self
            .base
            .get(&self.url, Some(deadline), || Ok(HeaderMap::new()))
            .await?;
        Ok(FetchedPrices {
            prices: parse_http_prices(&body)?,
            attempts,
        })
    }
}

/// One price as written in JSON: a decimal string or an integer. A number with a
/// fraction went through `f64` in the sender's serializer or ours: refused, as in the
/// ledger.
enum RawPrice {
    Text(String),
    Fraction,
    Other(&'static str),
}

impl<'de> Deserialize<'de> for RawPrice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawPrice;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a price as a decimal string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPrice, E> {
                Ok(RawPrice::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawPrice, E> {
                Ok(RawPrice::Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawPrice, E> {
                Ok(RawPrice::Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawPrice, E> {
                Ok(RawPrice::Fraction)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawPrice, E> {
                Ok(RawPrice::Other("a boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawPrice, E> {
                Ok(RawPrice::Other("null"))
            }
            fn visit_none<E: de::Error>(self) -> Result<RawPrice, E> {
                Ok(RawPrice::Other("null"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<RawPrice, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawPrice::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawPrice, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawPrice::Other("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The JSON object in document order, duplicates kept (serde_json's map would keep only
/// the last of two `"BTC"` keys).
struct Entries(Vec<(String, RawPrice)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of asset → price")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, RawPrice>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn price_error(asset: &str, detail: impl fmt::Display) -> ExchangeError {
    ExchangeError::Malformed(format!("price of {}: {detail}", one_line(asset)))
}

/// Reads one price: an exact, positive decimal.
fn price_of(asset: &str, text: &str) -> Result<Decimal, ExchangeError> {
    let p = parse_amount(text).map_err(|e| price_error(asset, e))?;
    if p <= Decimal::ZERO {
        return Err(price_error(
            asset,
            format!("{} is not a positive price", one_line(text)),
        ));
    }
    Ok(p)
}

/// Parses `{"BTC": "97000.5", "ETH": 3500}`. Any bad entry fails the whole body (the
/// caller reports it on every line it leaves unpriced): a feed that sends one float is
/// not trusted for the others either.
pub fn parse_http_prices(body: &[u8]) -> Result<BTreeMap<Asset, Decimal>, ExchangeError> {
    let Entries(entries) = decode(body)?;
    let mut out = BTreeMap::new();
    for (name, raw) in entries {
        let asset = Asset::parse(&name).map_err(|e| price_error(&name, e))?;
        let price = match raw {
            RawPrice::Text(t) => price_of(&name, &t)?,
            RawPrice::Fraction => {
                return Err(price_error(
                    &name,
                    "a JSON number with a fraction loses precision; send it as a string",
                ))
            }
            RawPrice::Other(kind) => {
                return Err(price_error(
                    &name,
                    format!("{kind} instead of a decimal string"),
                ))
            }
        };
        if out.insert(asset, price).is_some() {
            return Err(price_error(
                &name,
                "listed twice (symbols are case-insensitive)",
            ));
        }
    }
    Ok(out)
}

/// `source = "coinbase"`: Coinbase Advanced's public `market/products`, the last trade
/// `price` of each `<ASSET>-<QUOTE>` product, in batches of [`PRODUCTS_PER_REQUEST`].
pub struct CoinbasePrices {
    base_url: Url,
    base: ReconcilerBase,
}

// Not derived, for the same reason as [`HttpPrices`]: an overridden base URL may carry
// credentials.
impl std::fmt::Debug for CoinbasePrices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoinbasePrices")
            .field("base_url", &crate::config::redact_url(&self.base_url))
            .finish_non_exhaustive()
    }
}

impl CoinbasePrices {
    /// The client; `base_url` overrides `https://api.coinbase.com`.
    pub fn new(
        base_url: Option<Url>,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        let base_url = match base_url {
            Some(u) => u,
            None => Url::parse(crate::exchanges::coinbase::DEFAULT_BASE_URL)
                .map_err(|_| ExchangeError::Config("invalid default URL".into()))?,
        };
        // Coinbase's public market data allows 10 requests/s per IP.
        Ok(Self {
            base: ReconcilerBase::new(
                &base_url,
                policy,
                timeout,
                profile(RateLimit::new(10, Duration::from_secs(1), 10)),
            )?,
            base_url,
        })
    }

    /// The request URL for one batch of products.
    pub fn url(&self, products: &[String]) -> Url {
        let mut url = endpoint(&self.base_url, COINBASE_PRODUCTS_PATH);
        {
            let mut q = url.query_pairs_mut();
            for p in products {
                q.append_pair("product_ids", p);
            }
        }
        url
    }
}

#[async_trait]
impl PriceSource for CoinbasePrices {
    fn kind(&self) -> &'static str {
        "coinbase"
    }

    fn lists_all(&self) -> bool {
        false
    }

    async fn fetch(
        &self,
        assets: &BTreeSet<Asset>,
        quote: &Asset,
        deadline: &Deadline,
    ) -> Result<FetchedPrices, ExchangeError> {
        let products: Vec<String> = assets.iter().map(|a| format!("{a}-{quote}")).collect();
        let mut out = FetchedPrices::default();
        for batch in products.chunks(PRODUCTS_PER_REQUEST) {
            let (body, attempts) = self
                .base
                .get(&self.url(batch), Some(deadline), || Ok(HeaderMap::new()))
                .await
                .map_err(|e| e.with_prior_attempts(out.attempts))?;
            out.attempts += attempts;
            out.prices.extend(parse_coinbase_products(&body, quote)?);
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
struct Products {
    products: Vec<Product>,
}

#[derive(Deserialize)]
struct Product {
    product_id: String,
    #[serde(default)]
    price: Option<JsonAmount>,
}

/// Parses a `market/products` body: the `price` of every `<ASSET>-<quote>` product.
/// Products in another quote are ignored; an empty or absent price (a product that has
/// not traded) leaves that asset unpriced; a price that is not an exact decimal string
/// fails the body.
pub fn parse_coinbase_products(
    body: &[u8],
    quote: &Asset,
) -> Result<BTreeMap<Asset, Decimal>, ExchangeError> {
    let parsed: Products = decode(body)?;
    let suffix = format!("-{quote}");
    let mut out = BTreeMap::new();
    for p in parsed.products {
        let id = p.product_id.trim().to_uppercase();
        let Some(base) = id.strip_suffix(&suffix) else {
            continue;
        };
        let text = match p.price {
            None => continue,
            Some(JsonAmount::Text(t)) if t.trim().is_empty() => continue,
            Some(JsonAmount::Text(t)) => t,
            Some(JsonAmount::NotText(kind)) => {
                return Err(price_error(
                    &id,
                    format!("{kind} instead of a decimal string"),
                ))
            }
        };
        let asset = Asset::parse(base).map_err(|e| price_error(&id, e))?;
        out.insert(asset, price_of(&id, &text)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_url_token() {
        let policy = RetryPolicy::new(1, Duration::from_millis(1), Duration::from_millis(1));
        let url = Url::parse("http://user:pw@127.0.0.1:9/prices?token=s3cr3t").unwrap();
        let http = HttpPrices::new(url.clone(), policy.clone(), Duration::from_secs(1)).unwrap();
        let cb = CoinbasePrices::new(Some(url), policy, Duration::from_secs(1)).unwrap();
        for shown in [format!("{http:?}"), format!("{cb:?}")] {
            assert!(
                !shown.contains("s3cr3t") && !shown.contains("pw"),
                "{shown}"
            );
            assert!(shown.contains("127.0.0.1:9"), "{shown}");
        }
    }

    fn fixture(path: &str) -> Vec<u8> {
        let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    fn shown(m: &BTreeMap<Asset, Decimal>) -> String {
        m.iter()
            .map(|(a, p)| format!("{a}={p}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn http_prices_are_exact_strings_or_integers() {
        let m =
            parse_http_prices(br#"{"btc": "97000.5", "ETH": 3500, "SOL": "0.000000000000000001"}"#)
                .unwrap();
        assert_eq!(shown(&m), "BTC=97000.5 ETH=3500 SOL=0.000000000000000001");
        for (body, err) in [
            (&br#"{"BTC": 97000.5}"#[..], "malformed response: price of BTC: a JSON number with a fraction loses precision; send it as a string"),
            (br#"{"BTC": "1e5"}"#, "malformed response: price of BTC: '1e5' is not a decimal amount"),
            (br#"{"BTC": "0"}"#, "malformed response: price of BTC: 0 is not a positive price"),
            (br#"{"BTC": null}"#, "malformed response: price of BTC: null instead of a decimal string"),
            (br#"{"BTC": "1", "btc": "2"}"#, "malformed response: price of btc: listed twice (symbols are case-insensitive)"),
            (br#"["BTC"]"#, "malformed response: invalid type: sequence, expected a JSON object of asset → price at line 1 column 0"),
        ] {
            assert_eq!(parse_http_prices(body).unwrap_err().to_string(), err);
        }
    }

    #[test]
    fn coinbase_products_docs_example_and_batch() {
        let usd = Asset::parse("USD").unwrap();
        let m = parse_coinbase_products(
            &fixture("coinbase_advanced/market_products_docs_example.json"),
            &usd,
        )
        .unwrap();
        assert_eq!(shown(&m), "BTC=140.21");
        let m = parse_coinbase_products(
            &fixture("coinbase_advanced/market_products_btc_eth_sol.json"),
            &usd,
        )
        .unwrap();
        assert_eq!(shown(&m), "BTC=97012.34 ETH=3521.07 SOL=187.5");
        let err = parse_coinbase_products(
            &fixture("coinbase_advanced/market_products_price_as_number_synthetic.json"),
            &usd,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed response: price of BTC-USD: a JSON number instead of a decimal string"
        );
    }
}
