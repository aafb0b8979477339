//! `DydxReconciler`: the dYdX v4 indexer,
//! `GET /v4/addresses/{address}/subaccountNumber/{n}` (public, no signing).
//!
//! Sign rules, from the indexer's writer: an asset position's `size` is unsigned and its
//! `side` gives the sign (USDC can be SHORT: a debt); a perpetual position's `size` is
//! already signed, so its `side` is never applied again. Perpetuals are reported under
//! their market name (`ETH-USD`) so the ledger reconciles positions too. Only `size` and
//! `side` are read exactly: prices and PnL carry more digits than a decimal holds.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use rust_decimal::Decimal;
use serde::Deserialize;
use url::Url;

use super::coinbase::default_base_url;
use super::http::{
    decode, endpoint, one_line, JsonAmount, ReconcilerBase, RetryAfterUnit, VenueProfile,
};
use super::resilience::{RateLimit, RetryPolicy};
use super::{ExchangeClient, ExchangeError, ExchangeKind, FetchedBalances};
use crate::config::ExchangeConfig;
use crate::domain::ExchangeName;

/// Mainnet indexer.
pub const DEFAULT_BASE_URL: &str = "https://indexer.dydx.trade";

/// The indexer's default GET limiter allows 100 points per 10 s per IP. Paced at that
/// rate with a burst of 10, so a restart loop cannot spend the whole window at once.
fn profile(address: &str, subaccount: u32) -> VenueProfile {
    VenueProfile {
        retry_after: RetryAfterUnit::Milliseconds,
        rate: RateLimit::new(100, Duration::from_secs(10), 10),
        not_found: Some(format!(
            "no subaccount found for address {address} subaccount {subaccount}"
        )),
        auth_messages_400: &[],
    }
}

#[derive(Deserialize)]
struct Envelope {
    subaccount: RawSubaccount,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubaccount {
    // `null` is read as empty (one third-party client claims the indexer sent it), but a
    // missing key is malformed: a renamed field must never read as "holds nothing".
    #[serde(deserialize_with = "null_as_empty")]
    asset_positions: BTreeMap<String, RawAsset>,
    #[serde(deserialize_with = "null_as_empty")]
    open_perpetual_positions: BTreeMap<String, RawPerp>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<BTreeMap<String, T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<BTreeMap<String, T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct RawAsset {
    #[serde(default)]
    symbol: Option<String>,
    side: String,
    size: JsonAmount,
}

#[derive(Deserialize)]
struct RawPerp {
    #[serde(default)]
    market: Option<String>,
    #[serde(default)]
    side: Option<String>,
    size: JsonAmount,
}

/// A parsed subaccount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DydxSubaccount {
    /// Signed asset balances, then signed perpetual sizes by market.
    pub rows: Vec<(String, Decimal)>,
    /// Markets whose `side` contradicts the sign of their `size` (kept as signed).
    pub inconsistent: Vec<String>,
}

/// Parses the wrapped subaccount body.
pub fn parse_subaccount(body: &[u8]) -> Result<DydxSubaccount, ExchangeError> {
    let env: Envelope = decode(body)?;
    let sub = env.subaccount;
    let mut out = DydxSubaccount {
        rows: Vec::new(),
        inconsistent: Vec::new(),
    };
    for (key, a) in sub.asset_positions {
        let symbol = a.symbol.unwrap_or(key);
        let size = a.size.parse(&symbol)?;
        let bad = |detail: String| ExchangeError::Amount {
            asset: one_line(&symbol),
            detail,
        };
        if size.is_sign_negative() && !size.is_zero() {
            return Err(bad(
                "asset position size is negative; the side gives the sign".into(),
            ));
        }
        let signed = match a.side.as_str() {
            "LONG" => size,
            "SHORT" => -size,
            other => {
                return Err(bad(format!(
                    "side '{}' is neither LONG nor SHORT",
                    one_line(other)
                )))
            }
        };
        out.rows.push((symbol, signed));
    }
    for (key, p) in sub.open_perpetual_positions {
        let market = p.market.unwrap_or(key);
        let size = p.size.parse(&market)?;
        let contradicts = match p.side.as_deref() {
            Some("LONG") => size.is_sign_negative() && !size.is_zero(),
            Some("SHORT") => size.is_sign_positive() && !size.is_zero(),
            _ => false,
        };
        if contradicts {
            out.inconsistent.push(market.clone());
        }
        out.rows.push((market, size));
    }
    Ok(out)
}

/// The dYdX v4 client for one subaccount.
#[derive(Debug)]
pub struct DydxReconciler {
    name: ExchangeName,
    url: Url,
    base: ReconcilerBase,
}

impl DydxReconciler {
    /// Builds the client from its config entry (`address`, `subaccount`).
    pub fn from_config(
        cfg: &ExchangeConfig,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        let (address, subaccount) = cfg
            .dydx
            .clone()
            .ok_or_else(|| ExchangeError::Config("dydx exchange without an address".into()))?;
        let base_url = match &cfg.base_url {
            Some(u) => u.clone(),
            None => default_base_url(DEFAULT_BASE_URL)?,
        };
        Self::new(
            cfg.name.clone(),
            base_url,
            &address,
            subaccount,
            policy,
            timeout,
        )
    }

    /// Builds the client directly (tests). The address must be 1-90 letters and digits,
    /// as the indexer validates it, so it can never alter the request path.
    pub fn new(
        name: ExchangeName,
        base_url: Url,
        address: &str,
        subaccount: u32,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        let valid = !address.is_empty()
            && address.len() <= 90
            && address.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(ExchangeError::Config(
                "dydx address must be 1-90 letters and digits".into(),
            ));
        }
        let url = endpoint(
            &base_url,
            &format!("/v4/addresses/{address}/subaccountNumber/{subaccount}"),
        );
        Ok(Self {
            base: ReconcilerBase::new(&base_url, policy, timeout, profile(address, subaccount))?,
            name,
            url,
        })
    }
}

#[async_trait]
impl ExchangeClient for DydxReconciler {
    fn name(&self) -> &ExchangeName {
        &self.name
    }

    fn kind(&self) -> ExchangeKind {
        ExchangeKind::Dydx
    }

    async fn fetch_balances(&self) -> Result<FetchedBalances, ExchangeError> {
        let (body, attempts) = self.base.get(&self.url, || Ok(HeaderMap::new())).await?;
        let parsed = parse_subaccount(&body)?;
        for market in &parsed.inconsistent {
            tracing::warn!(
                exchange = %self.name,
                market = %market,
                "perpetual side contradicts the sign of its size; using the signed size"
            );
        }
        FetchedBalances::single_page(parsed.rows, attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::format_amount;
    use crate::exchanges::sum_by_asset;

    fn parse_fixture(name: &str) -> Result<DydxSubaccount, ExchangeError> {
        let path = format!("{}/tests/fixtures/dydx/{name}", env!("CARGO_MANIFEST_DIR"));
        parse_subaccount(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
    }

    fn totals(name: &str) -> String {
        let parsed = parse_fixture(name).unwrap();
        assert!(parsed.inconsistent.is_empty(), "{name}");
        sum_by_asset(parsed.rows)
            .unwrap()
            .into_iter()
            .map(|(a, d)| format!("{a} {}", format_amount(d)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn signs_follow_the_indexer_rules() {
        assert_eq!(totals("subaccount.json"), "ETH-USD 0.003, USDC 90.461932");
        assert_eq!(
            totals("subaccount_usdc_short.json"),
            "BTC-USD 0.1036, ETH-USD -0.002, USDC -5768.816478"
        );
        assert_eq!(
            totals("subaccount_mixed_sides_synthetic.json"),
            "BTC-USD 0.25, DYDX -10000, ETH-USD -3.5, USDC 14000.123456"
        );
        assert_eq!(totals("subaccount_empty.json"), "");
        assert_eq!(totals("subaccount_null_maps_synthetic.json"), "");
    }

    #[test]
    fn bad_sizes_and_bodies_are_typed_errors() {
        let err = parse_fixture("subaccount_non_numeric_size_synthetic.json").unwrap_err();
        assert_eq!(
            err,
            ExchangeError::Amount {
                asset: "USDC".into(),
                detail: "'ninety' is not a decimal amount".into()
            }
        );
        let err = parse_fixture("subaccount_excess_precision_synthetic.json").unwrap_err();
        assert!(
            matches!(&err, ExchangeError::Amount { asset, detail } if asset == "USDC" && detail.contains("28 significant")),
            "{err:?}"
        );
        let err = parse_fixture("subaccount_truncated_synthetic.json").unwrap_err();
        assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
        // The unwrapped shape some clients assume is not what the route sends.
        let err = parse_subaccount(br#"{"assetPositions":{}}"#).unwrap_err();
        assert!(err.to_string().contains("subaccount"), "{err}");
        let err = parse_subaccount(
            br#"{"subaccount":{"assetPositions":{"USDC":{"side":"FLAT","size":"1"}},"openPerpetualPositions":{}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("neither LONG nor SHORT"), "{err}");
        let err = parse_subaccount(
            br#"{"subaccount":{"assetPositions":{"USDC":{"side":"SHORT","size":"-1"}},"openPerpetualPositions":{}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }

    #[test]
    fn missing_position_maps_are_malformed_not_an_empty_account() {
        for body in [
            &br#"{"subaccount":{"address":"dydx1abc"}}"#[..],
            br#"{"subaccount":{"address":"dydx1abc","assetPositions":{}}}"#,
            br#"{"subaccount":{"address":"dydx1abc","openPerpetualPositions":null}}"#,
        ] {
            let err = parse_subaccount(body).expect_err("a missing map is an error");
            assert!(matches!(err, ExchangeError::Malformed(_)), "{err}");
        }
    }

    #[test]
    fn contradicting_perp_sides_are_flagged_but_never_reapplied() {
        let parsed = parse_subaccount(
            br#"{"subaccount":{"assetPositions":{},"openPerpetualPositions":{"ETH-USD":{"side":"LONG","size":"-2"}}}}"#,
        )
        .unwrap();
        assert_eq!(parsed.rows, vec![("ETH-USD".into(), Decimal::from(-2))]);
        assert_eq!(parsed.inconsistent, vec!["ETH-USD".to_string()]);
    }

    #[test]
    fn addresses_that_could_alter_the_path_are_rejected() {
        let base = Url::parse("http://127.0.0.1:1").unwrap();
        let policy = RetryPolicy::new(1, Duration::from_millis(1), Duration::from_millis(1));
        for bad in ["", "a/../b", "a?b", &"a".repeat(91)] {
            let r = DydxReconciler::new(
                ExchangeName::new("d"),
                base.clone(),
                bad,
                0,
                policy.clone(),
                Duration::from_secs(1),
            );
            assert!(matches!(r, Err(ExchangeError::Config(_))), "{bad}");
        }
    }
}
