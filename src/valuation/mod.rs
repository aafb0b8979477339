//! Money valuation (SPEC §2, §4 `[valuation]`, `[severity.value]`): price sources behind
//! one trait, a price book that remembers each price with the time it was fetched, and
//! the rules that turn a gap and a price into a value and a severity.
//!
//! Prices inform severity; they never decide whether a discrepancy exists (tolerance
//! does), and a missing price never hides a gap: the line keeps its relative severity and
//! says why it has no value. A price source failing is never an exchange error.

mod sources;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

pub use sources::{
    parse_coinbase_products, parse_http_prices, CoinbasePrices, HttpPrices, StaticPrices,
    COINBASE_PRODUCTS_PATH, PRODUCTS_PER_REQUEST,
};

use crate::config::{PriceSourceConfig, TradingConfig, ValuationConfig, ValueSeverityConfig};
use crate::domain::{exact_mul, Asset, DiscrepancySeverity, Valuation};
use crate::exchanges::resilience::Deadline;
use crate::exchanges::ExchangeError;

/// Prices returned by one fetch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchedPrices {
    /// Asset → price of one unit in the quote currency.
    pub prices: BTreeMap<Asset, Decimal>,
    /// HTTP requests sent, retries included (0 for the static table).
    pub attempts: u32,
}

/// Where prices come from. One fetch per cycle, under the cycle deadline, with the same
/// retry, timeout and rate-limit machinery as the exchanges (the engine adds the breaker).
#[async_trait]
pub trait PriceSource: Send + Sync {
    /// `static`, `http` or `coinbase`.
    fn kind(&self) -> &'static str;

    /// Whether one fetch answers every price the source knows (a table, a JSON map), so
    /// an asset missing from it is unknown rather than not yet asked for. A per-product
    /// source (Coinbase) answers only what it is asked.
    fn lists_all(&self) -> bool;

    /// The prices of `assets` (already mapped to base assets, pegged ones left out) in
    /// `quote`. Errors are whole-fetch failures; an asset the source does not know is
    /// simply absent from the answer.
    async fn fetch(
        &self,
        assets: &BTreeSet<Asset>,
        quote: &Asset,
        deadline: &Deadline,
    ) -> Result<FetchedPrices, ExchangeError>;
}

/// Builds the configured source. The HTTP client of a network source is built here, so
/// an unusable setting is reported once, at start.
pub fn build_source(
    cfg: &ValuationConfig,
    trading: &TradingConfig,
) -> Result<Arc<dyn PriceSource>, ExchangeError> {
    let policy = crate::exchanges::resilience::RetryPolicy::from_config(&trading.retry);
    let timeout = trading.reconciliation.fetch_timeout;
    Ok(match &cfg.source {
        PriceSourceConfig::Static(prices) => Arc::new(StaticPrices::new(prices.clone())),
        PriceSourceConfig::Http(url) => {
            Arc::new(HttpPrices::new(url.expose().clone(), policy, timeout)?)
        }
        PriceSourceConfig::Coinbase { base_url } => {
            Arc::new(CoinbasePrices::new(base_url.clone(), policy, timeout)?)
        }
    })
}

/// The asset whose price values `asset`: the base of a perpetual market (`ETH-USD` →
/// `ETH`, a position of 3.5 ETH-USD being an exposure of 3.5 ETH), else the asset itself.
pub fn priced_asset(asset: &Asset) -> Asset {
    match asset.as_str().split_once('-') {
        Some((base, _)) if !base.is_empty() => Asset::parse(base).unwrap_or_else(|_| asset.clone()),
        _ => asset.clone(),
    }
}

/// A price as looked up: the price and when it was fetched (`None`: pegged).
pub type Quote = (Decimal, Option<DateTime<Utc>>);

/// Every price seen, with its fetch time, and what the last fetch said. Lives across
/// cycles, so a failed fetch still values lines with a price fresh enough
/// (age ≤ `max_age`), and a price older than that is refused by name.
#[derive(Debug, Clone)]
pub struct PriceBook {
    quote: Asset,
    pegged: BTreeSet<Asset>,
    max_age: Duration,
    source: &'static str,
    prices: BTreeMap<Asset, (Decimal, DateTime<Utc>)>,
    /// Assets a per-product source has been asked about (a top-up fetch asks only the
    /// others).
    asked: BTreeSet<Asset>,
    /// The last fetch's failure, until a fetch succeeds.
    error: Option<String>,
    /// The last successful fetch.
    fetched_at: Option<DateTime<Utc>>,
}

impl PriceBook {
    /// An empty book for `cfg`, whose source is called `source`.
    pub fn new(cfg: &ValuationConfig, source: &'static str) -> Self {
        Self {
            quote: cfg.quote.clone(),
            pegged: cfg.pegged.clone(),
            max_age: cfg.max_age,
            source,
            prices: BTreeMap::new(),
            asked: BTreeSet::new(),
            error: None,
            fetched_at: None,
        }
    }

    /// The quote currency.
    pub fn quote(&self) -> &Asset {
        &self.quote
    }

    /// `static`, `http` or `coinbase`.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The longest a price is used after it was fetched.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The last fetch's failure, while no later fetch has succeeded.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// When the source last answered.
    pub fn fetched_at(&self) -> Option<DateTime<Utc>> {
        self.fetched_at
    }

    /// Whether `asset` (already a priced asset) is worth exactly 1 quote unit.
    pub fn is_pegged(&self, asset: &Asset) -> bool {
        *asset == self.quote || self.pegged.contains(asset)
    }

    /// The priced assets among `assets` that need a price from the source: perpetuals
    /// mapped to their base, pegged ones left out.
    pub fn wanted<'a>(&self, assets: impl IntoIterator<Item = &'a Asset>) -> BTreeSet<Asset> {
        assets
            .into_iter()
            .map(priced_asset)
            .filter(|a| !self.is_pegged(a))
            .collect()
    }

    /// Of `wanted`, those a per-product source should be asked about at `now`: never
    /// asked, or holding only a price older than `max_age` (an asset nobody wanted for a
    /// while — its exchange was down — is fetched again, not left stale). An asset asked
    /// about and answered without a price is not asked again every cycle.
    pub fn to_ask(&self, wanted: &BTreeSet<Asset>, now: DateTime<Utc>) -> BTreeSet<Asset> {
        let max = chrono::TimeDelta::from_std(self.max_age).unwrap_or(chrono::TimeDelta::MAX);
        wanted
            .iter()
            .filter(|a| {
                !self.asked.contains(*a)
                    || self.prices.get(*a).is_some_and(|(_, at)| now - *at > max)
            })
            .cloned()
            .collect()
    }

    /// Records a fetch of `asked` that ended at `at`: its prices replace older ones (each
    /// stamped `at`), or its failure is kept for the lines it leaves unpriced.
    pub fn record(
        &mut self,
        asked: &BTreeSet<Asset>,
        result: Result<BTreeMap<Asset, Decimal>, String>,
        at: DateTime<Utc>,
    ) {
        match result {
            Ok(prices) => {
                self.asked.extend(asked.iter().cloned());
                for (asset, price) in prices {
                    self.prices.insert(asset, (price, at));
                }
                self.error = None;
                self.fetched_at = Some(at);
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The price of one unit of `asset` at `now`, or why there is none.
    pub fn lookup(&self, asset: &Asset, now: DateTime<Utc>) -> Result<Quote, String> {
        let priced = priced_asset(asset);
        if self.is_pegged(&priced) {
            return Ok((Decimal::ONE, None));
        }
        if let Some((price, at)) = self.prices.get(&priced) {
            let age = now.signed_duration_since(*at);
            let max = chrono::TimeDelta::from_std(self.max_age).unwrap_or(chrono::TimeDelta::MAX);
            if age <= max {
                return Ok((*price, Some(*at)));
            }
            let why = self
                .error
                .as_deref()
                .map(|e| format!("; the last fetch failed: {e}"))
                .unwrap_or_default();
            return Err(format!(
                "price for {priced} is {} s old (max {}){why}",
                age.num_seconds(),
                secs_text(self.max_age)
            ));
        }
        Err(match &self.error {
            Some(e) => format!("no price for {priced}: {e}"),
            None => format!("no price for {priced} from {}", self.source),
        })
    }

    /// Values a gap of `difference` in `asset` at `now` and rates it: `relative` is the
    /// severity from the relative difference; the result is the valuation and the
    /// severity the line takes (SPEC §2).
    pub fn value(
        &self,
        asset: &Asset,
        difference: Decimal,
        relative: DiscrepancySeverity,
        thresholds: &ValueSeverityConfig,
        now: DateTime<Utc>,
    ) -> (Valuation, DiscrepancySeverity) {
        let mut v = match self.lookup(asset, now) {
            Ok((price, as_of)) => Valuation {
                price: Some(price),
                price_as_of: as_of,
                ..Valuation::default()
            },
            Err(e) => Valuation {
                price_error: Some(e),
                ..Valuation::default()
            },
        };
        if let Some(price) = v.price {
            match exact_mul(difference.abs(), price) {
                Some(value) => v.value = Some(value),
                None => v.price_error = Some(overflow_message(asset)),
            }
        }
        let severity = v.rate(relative, difference, thresholds);
        (v, severity)
    }
}

fn overflow_message(asset: &Asset) -> String {
    format!("the value of the {asset} gap cannot be held exactly in a 96-bit decimal")
}

/// Seconds as written in config (`300`, `0.5`).
fn secs_text(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{}", d.as_secs_f64())
    }
}

/// The severity of a money value against `[severity.value]` (dust plays no part here).
pub fn value_severity(value: Decimal, t: &ValueSeverityConfig) -> DiscrepancySeverity {
    let at_least = |threshold: Option<Decimal>| threshold.is_some_and(|th| value >= th);
    if at_least(t.critical) {
        DiscrepancySeverity::Critical
    } else if at_least(t.high) {
        DiscrepancySeverity::High
    } else if at_least(t.medium) {
        DiscrepancySeverity::Medium
    } else {
        DiscrepancySeverity::Low
    }
}

/// The severity of a gap with a known value: the higher of the relative and the value
/// severity, except that a value below `dust` caps it at `low` (SPEC §2).
pub fn combine(
    relative: DiscrepancySeverity,
    value: Decimal,
    t: &ValueSeverityConfig,
) -> DiscrepancySeverity {
    if t.dust.is_some_and(|dust| value < dust) {
        return DiscrepancySeverity::Low;
    }
    relative.max(value_severity(value, t))
}

impl Valuation {
    /// Rates the counted `gap` (the difference, or the residual left by expectations) at
    /// this valuation's price: sets `value_severity` and returns the line's severity —
    /// `relative` unchanged when there is no price or the gap's value does not fit.
    pub fn rate(
        &mut self,
        relative: DiscrepancySeverity,
        gap: Decimal,
        t: &ValueSeverityConfig,
    ) -> DiscrepancySeverity {
        self.value_severity = None;
        let Some(price) = self.price else {
            return relative;
        };
        match exact_mul(gap.abs(), price) {
            Some(value) => {
                self.value_severity = Some(value_severity(value, t));
                combine(relative, value, t)
            }
            None => relative,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::parse(s).unwrap()
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn book() -> PriceBook {
        PriceBook::new(
            &ValuationConfig {
                quote: a("USD"),
                source: PriceSourceConfig::Coinbase { base_url: None },
                pegged: [a("USDC")].into(),
                max_age: Duration::from_secs(300),
            },
            "coinbase",
        )
    }

    #[test]
    fn pegged_and_perpetuals_and_staleness() {
        let mut b = book();
        let asked = b.wanted(&[a("BTC-USD"), a("ETH"), a("USDC"), a("USD")]);
        assert_eq!(asked, [a("BTC"), a("ETH")].into());
        b.record(&asked, Ok([(a("BTC"), dec!(97000))].into()), t(0));
        assert_eq!(b.lookup(&a("USDC"), t(0)), Ok((Decimal::ONE, None)));
        assert_eq!(b.lookup(&a("USD"), t(0)), Ok((Decimal::ONE, None)));
        assert_eq!(
            b.lookup(&a("BTC-USD"), t(300)),
            Ok((dec!(97000), Some(t(0))))
        );
        assert_eq!(
            b.lookup(&a("ETH"), t(1)),
            Err("no price for ETH from coinbase".into())
        );
        b.record(
            &asked,
            Err("prices: HTTP 503: down (3 attempts)".into()),
            t(412),
        );
        assert_eq!(
            b.lookup(&a("BTC"), t(412)),
            Err("price for BTC is 412 s old (max 300); the last fetch failed: prices: HTTP 503: down (3 attempts)".into())
        );
        assert_eq!(
            b.lookup(&a("ETH"), t(412)),
            Err("no price for ETH: prices: HTTP 503: down (3 attempts)".into())
        );
        // BTC was asked about and its price is 412 s old: asked again; SOL never was; ETH
        // was asked and has no price: not asked every cycle.
        let wanted = [a("SOL"), a("BTC"), a("ETH")].into();
        assert_eq!(b.to_ask(&wanted, t(412)), [a("SOL"), a("BTC")].into());
        assert_eq!(b.to_ask(&wanted, t(300)), [a("SOL")].into());
    }

    #[test]
    fn value_is_exact_and_overflow_is_an_error_of_the_line() {
        let mut b = book();
        let asked = [a("BTC")].into();
        b.record(&asked, Ok([(a("BTC"), dec!(97000.5))].into()), t(0));
        let th = ValueSeverityConfig {
            dust: Some(dec!(1)),
            medium: None,
            high: Some(dec!(1000)),
            critical: Some(dec!(10000)),
        };
        let (v, s) = b.value(&a("BTC"), dec!(-0.3), DiscrepancySeverity::Low, &th, t(1));
        assert_eq!(v.value, Some(dec!(29100.15)));
        assert_eq!(v.value_severity, Some(DiscrepancySeverity::Critical));
        assert_eq!(s, DiscrepancySeverity::Critical);
        let (v, s) = b.value(
            &a("BTC"),
            dec!(0.00000001),
            DiscrepancySeverity::Critical,
            &th,
            t(1),
        );
        assert_eq!(v.value, Some(dec!(0.000970005)));
        assert_eq!(s, DiscrepancySeverity::Low, "dust caps at low");
        let (v, s) = b.value(
            &a("BTC"),
            Decimal::MAX,
            DiscrepancySeverity::High,
            &th,
            t(1),
        );
        assert_eq!(v.value, None);
        assert_eq!(
            v.price_error.as_deref(),
            Some("the value of the BTC gap cannot be held exactly in a 96-bit decimal")
        );
        assert_eq!(s, DiscrepancySeverity::High);
    }
}
