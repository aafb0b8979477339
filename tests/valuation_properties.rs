//! Oracle-style property tests of valuation (SPEC §2): value, value severity and the
//! combined severity checked against an independent model written here — integer
//! mantissa arithmetic for the value, a threshold table for the severity — over random
//! prices, thresholds, dust, pegged assets and perpetual markets. Plus the value at risk
//! of a report against a plain sum.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use recon::config::{PriceSourceConfig, ValuationConfig, ValueSeverityConfig};
use recon::domain::{Acknowledgement, Asset, DiscrepancySeverity, Valuation};
use recon::engine::report::ReportValuation;
use recon::valuation::PriceBook;
use rust_decimal::Decimal;

use DiscrepancySeverity::{Critical, High, Low, Medium};

fn a(s: &str) -> Asset {
    Asset::parse(s).unwrap()
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

const ASSETS: [&str; 6] = ["BTC", "ETH", "SOL", "USDC", "USDT", "DOGE"];

/// A book in USD pricing `prices` (fetched at t0), with `pegged` worth 1.
fn book(prices: &BTreeMap<Asset, Decimal>, pegged: &[Asset]) -> PriceBook {
    let cfg = ValuationConfig {
        quote: a("USD"),
        source: PriceSourceConfig::Static(prices.clone()),
        pegged: pegged.iter().cloned().collect(),
        max_age: Duration::from_secs(300),
    };
    let mut b = PriceBook::new(&cfg, "static");
    let asked = b.wanted(prices.keys());
    b.record(&asked, Ok(prices.clone()), t0());
    b
}

// ---- The model -------------------------------------------------------------------

/// The price the model expects for `asset`: the base of a market, 1 when pegged or the
/// quote itself, else the table's.
fn model_price(
    asset: &str,
    prices: &BTreeMap<Asset, Decimal>,
    pegged: &[Asset],
) -> Option<(i128, u32)> {
    let base = asset.split('-').next().unwrap();
    if base == "USD" || pegged.iter().any(|p| p.as_str() == base) {
        return Some((1, 0));
    }
    prices.get(&a(base)).map(|p| (p.mantissa(), p.scale()))
}

/// |m1 × 10^-s1| × (m2 × 10^-s2) with plain integers.
fn model_value(diff: (i64, u32), price: (i128, u32)) -> Decimal {
    let m = i128::from(diff.0).abs() * price.0;
    Decimal::from_i128_with_scale(m, diff.1 + price.1)
}

/// The highest severity whose threshold the value reaches (Low if none).
fn model_value_severity(value: Decimal, t: &ValueSeverityConfig) -> DiscrepancySeverity {
    let table = [(t.critical, Critical), (t.high, High), (t.medium, Medium)];
    table
        .iter()
        .find(|(th, _)| matches!(th, Some(th) if value >= *th))
        .map_or(Low, |(_, s)| *s)
}

fn model_severity(
    relative: DiscrepancySeverity,
    value: Option<Decimal>,
    t: &ValueSeverityConfig,
) -> DiscrepancySeverity {
    match value {
        None => relative,
        Some(v) if t.dust.is_some_and(|d| v < d) => Low,
        Some(v) => std::cmp::max(relative, model_value_severity(v, t)),
    }
}

// ---- Strategies ------------------------------------------------------------------

fn severity() -> impl Strategy<Value = DiscrepancySeverity> {
    prop::sample::select(vec![Low, Medium, High, Critical])
}

/// Prices up to ~10^6 with up to 8 decimals, positive.
fn price() -> impl Strategy<Value = Decimal> {
    (1i64..100_000_000_000_000, 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s))
}

/// Differences with up to 18 decimals, either sign, never zero.
fn difference() -> impl Strategy<Value = (i64, u32)> {
    (
        prop_oneof![-1_000_000_000_000i64..-1, 1i64..1_000_000_000_000],
        0u32..=18,
    )
}

/// Thresholds: each present or not, drawn then sorted so they rise.
fn thresholds() -> impl Strategy<Value = ValueSeverityConfig> {
    (
        prop::collection::vec((0i64..2_000_000, 0u32..=2), 4),
        prop::collection::vec(any::<bool>(), 4),
    )
        .prop_map(|(mut raw, present)| {
            raw.sort_by_key(|(m, s)| Decimal::new(*m, *s));
            let v: Vec<Option<Decimal>> = raw
                .iter()
                .zip(&present)
                .map(|((m, s), p)| p.then(|| Decimal::new(*m, *s)))
                .collect();
            ValueSeverityConfig {
                dust: v[0],
                medium: v[1],
                high: v[2],
                critical: v[3],
            }
        })
}

fn price_table() -> impl Strategy<Value = BTreeMap<Asset, Decimal>> {
    prop::collection::btree_map(prop::sample::select(ASSETS.to_vec()), price(), 0..6)
        .prop_map(|m| m.into_iter().map(|(k, v)| (a(k), v)).collect())
}

fn pegged() -> impl Strategy<Value = Vec<Asset>> {
    prop::sample::subsequence(vec!["USDC", "USDT"], 0..=2)
        .prop_map(|v| v.into_iter().map(a).collect())
}

/// An asset or a perpetual market on one.
fn line_asset() -> impl Strategy<Value = String> {
    (prop::sample::select(ASSETS.to_vec()), any::<bool>()).prop_map(|(s, perp)| {
        if perp {
            format!("{s}-USD")
        } else {
            s.to_string()
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn value_and_severity_match_the_model(
        prices in price_table(),
        pegged in pegged(),
        asset in line_asset(),
        diff in difference(),
        relative in severity(),
        t in thresholds(),
        age in 0i64..=300,
    ) {
        let b = book(&prices, &pegged);
        let difference = Decimal::new(diff.0, diff.1);
        let (v, sev) = b.value(&a(&asset), difference, relative, &t, t0() + TimeDelta::seconds(age));
        match model_price(&asset, &prices, &pegged) {
            Some(p) => {
                let want = model_value(diff, p);
                prop_assert_eq!(v.price, Some(Decimal::from_i128_with_scale(p.0, p.1)));
                prop_assert_eq!(v.value, Some(want));
                prop_assert_eq!(v.price_error, None);
                prop_assert_eq!(v.value_severity, Some(model_value_severity(want, &t)));
                prop_assert_eq!(sev, model_severity(relative, Some(want), &t));
                // A pegged asset's price is a definition, not an observation.
                let base = asset.split('-').next().unwrap();
                let is_pegged = base == "USD" || pegged.iter().any(|p| p.as_str() == base);
                prop_assert_eq!(v.price_as_of, (!is_pegged).then(t0));
            }
            None => {
                prop_assert_eq!(v.value, None);
                prop_assert_eq!(v.price, None);
                prop_assert_eq!(v.value_severity, None);
                let base = asset.split('-').next().unwrap();
                prop_assert_eq!(v.price_error, Some(format!("no price for {base} from static")));
                prop_assert_eq!(sev, relative, "unpriced keeps its relative severity");
            }
        }
    }

    #[test]
    fn a_price_older_than_max_age_is_never_used(
        prices in price_table(),
        diff in difference(),
        relative in severity(),
        t in thresholds(),
        age in 0i64..=1000,
    ) {
        let b = book(&prices, &[]);
        for (asset, price) in &prices {
            let (v, sev) = b.value(asset, Decimal::new(diff.0, diff.1), relative, &t, t0() + TimeDelta::seconds(age));
            if age <= 300 {
                prop_assert_eq!(v.price, Some(*price));
                prop_assert_eq!(v.price_as_of, Some(t0()));
            } else {
                prop_assert_eq!(v.value, None);
                prop_assert_eq!(v.price_error, Some(format!("price for {asset} is {age} s old (max 300)")));
                prop_assert_eq!(sev, relative);
            }
        }
    }

    #[test]
    fn dust_never_rates_above_low_and_value_never_lowers_a_priced_gap_above_dust(
        value_m in 0i64..10_000_000,
        relative in severity(),
        t in thresholds(),
    ) {
        let prices = BTreeMap::from([(a("BTC"), Decimal::ONE)]);
        let b = book(&prices, &[]);
        let value = Decimal::new(value_m, 2);
        let (_, sev) = b.value(&a("BTC"), value, relative, &t, t0());
        if t.dust.is_some_and(|d| value < d) {
            prop_assert_eq!(sev, Low);
        } else {
            prop_assert!(sev >= relative);
        }
    }

    #[test]
    fn value_at_risk_is_the_exact_sum_of_counted_values_or_null_with_a_reason(
        lines in prop::collection::vec(
            (prop::option::of((0i64..1_000_000_000, 0u32..=8)), any::<bool>(), prop::sample::select(vec!["ex-a", "ex-b"])),
            0..12,
        ),
    ) {
        let mut report = fixtures::report();
        report.discrepancies.clear();
        for e in &mut report.exchanges {
            e.compared = true;
        }
        report.valuation = Some(ReportValuation {
            quote: a("USD"),
            source: "static".into(),
            max_age: Duration::from_secs(300),
            fetched_at: Some(fixtures::finished_at()),
            error: None,
        });
        let mut want: BTreeMap<&str, (Decimal, Vec<String>)> = BTreeMap::new();
        let mut total = (Decimal::ZERO, Vec::new());
        for (i, (value, acked, ex)) in lines.iter().enumerate() {
            let asset = format!("A{i}");
            let mut d = fixtures::discrepancy(ex, &asset, "1", "2", High, 0);
            d.valuation = Some(Valuation {
                value: value.map(|(m, s)| Decimal::new(m, s)),
                price_error: value.is_none().then(|| "no price".to_string()),
                ..Valuation::default()
            });
            if *acked {
                d.acknowledgement = Some(Acknowledgement {
                    by: "t".into(), note: String::new(), at: t0(), difference: d.difference, expires_at: None,
                });
            } else {
                let w = want.entry(ex).or_insert((Decimal::ZERO, Vec::new()));
                match value {
                    Some((m, s)) => { w.0 += Decimal::new(*m, *s); total.0 += Decimal::new(*m, *s); }
                    None => { w.1.push(d.id.to_string()); total.1.push(d.id.to_string()); }
                }
            }
            report.discrepancies.push(d);
        }
        let var = report.value_at_risk().unwrap();
        if total.1.is_empty() {
            prop_assert_eq!(var.value, Some(total.0));
            prop_assert_eq!(var.error, None);
        } else {
            prop_assert_eq!(var.value, None);
            let reason = var.error.unwrap();
            prop_assert!(reason.starts_with(&format!("{} (no price)", total.1[0])), "{}", reason);
        }
        let json = report.to_json();
        let shown = json["value_at_risk"].as_str().map(str::to_string);
        prop_assert_eq!(shown, total.1.is_empty().then(|| recon::domain::format_amount(total.0)));
    }
}

#[test]
fn no_valuation_no_value_fields() {
    let report = fixtures::report();
    assert_eq!(report.value_at_risk(), None);
    let json = report.to_json();
    for key in ["quote", "value_at_risk", "value_at_risk_error", "prices"] {
        assert!(json.get(key).is_none(), "{key}");
    }
    for d in json["discrepancies"].as_array().unwrap() {
        for key in [
            "price",
            "value",
            "value_severity",
            "price_error",
            "price_as_of",
        ] {
            assert!(d.get(key).is_none(), "{key}");
        }
    }
}

/// The Prometheus series of valuation (SPEC §10): a value per valued discrepancy, none for
/// an unpriced one, the value at risk only while it is known, and both gone with the gap.
#[test]
fn metrics_export_values_and_the_value_at_risk_only_when_known() {
    use recon::headless::logs::Tracker;
    use recon::headless::metrics::Metrics;

    let sample = |text: &str, key: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ').map(str::to_string))
    };
    let valued = |value: Option<&str>| {
        Some(Valuation {
            price: value.map(|_| Decimal::ONE),
            value: value.map(|v| v.parse().unwrap()),
            price_error: value.is_none().then(|| "no price for X from static".into()),
            ..Valuation::default()
        })
    };
    let mut report = fixtures::report();
    report.valuation = Some(ReportValuation {
        quote: a("USD"),
        source: "static".into(),
        max_age: Duration::from_secs(300),
        fetched_at: Some(fixtures::finished_at()),
        error: None,
    });
    // BTC $9,700, SOL $90, LINK unpriced, DOGE acknowledged $525, BTC-USD $291.
    for (d, v) in report.discrepancies.iter_mut().zip([
        Some("9700"),
        Some("90"),
        None,
        Some("525"),
        Some("291"),
    ]) {
        d.valuation = valued(v);
    }
    let metrics = Metrics::new();
    let mut tracker = Tracker::default();
    let changes = tracker.observe(&report);
    metrics.observe(&report, tracker.known(), &changes);
    let text = metrics.encode();
    let key = |ex: &str, asset: &str| {
        format!("recon_discrepancy_value{{exchange=\"{ex}\",asset=\"{asset}\"}}")
    };
    assert_eq!(
        sample(&text, &key("coinbase-main", "BTC")).as_deref(),
        Some("9700.0")
    );
    assert_eq!(
        sample(&text, &key("coinbase-main", "DOGE")).as_deref(),
        Some("525.0")
    );
    assert_eq!(
        sample(&text, &key("coinbase-main", "LINK")),
        None,
        "unpriced: no series"
    );
    assert_eq!(
        sample(&text, "recon_value_at_risk{quote=\"USD\"}"),
        None,
        "a counted line is unpriced: the sum is unknown, not exported"
    );

    // LINK priced now; BTC resolved (gone from the compared exchange).
    report.discrepancies[2].valuation = valued(Some("6"));
    report.discrepancies.remove(0);
    let changes = tracker.observe(&report);
    metrics.observe(&report, tracker.known(), &changes);
    let text = metrics.encode();
    assert_eq!(
        sample(&text, &key("coinbase-main", "BTC")),
        None,
        "resolved: removed"
    );
    assert_eq!(
        sample(&text, &key("coinbase-main", "LINK")).as_deref(),
        Some("6.0")
    );
    assert_eq!(
        sample(&text, "recon_value_at_risk{quote=\"USD\"}"),
        None,
        "exchange-prime failed: its gaps are unknown, so is the sum"
    );
    // Every exchange compared: 90 + 6 + 291 (the acknowledged DOGE does not count).
    report.exchanges.retain(|e| e.compared);
    let changes = tracker.observe(&report);
    metrics.observe(&report, tracker.known(), &changes);
    let text = metrics.encode();
    assert_eq!(
        sample(&text, "recon_value_at_risk{quote=\"USD\"}").as_deref(),
        Some("387.0")
    );
}

/// Another process declares an expectation (`recon expect`): the console re-rates the line
/// on the residual's value with the same rule, keeping the price it had.
#[test]
fn stored_state_re_rates_on_the_residual_value() {
    use recon::config::SeverityConfig;
    use recon::domain::{ExchangeName, Expectation};
    use recon::store::StoredDiscrepancy;

    let mut report = fixtures::report();
    // coinbase-main:BTC, 1.5 → 1.4 (relative critical), at $97,000: $9,700.
    report.discrepancies.truncate(1);
    let thresholds = ValueSeverityConfig {
        dust: Some(Decimal::ONE),
        medium: None,
        high: Some(Decimal::from(1000)),
        critical: Some(Decimal::from(10_000)),
    };
    let severity = SeverityConfig {
        medium: Decimal::new(1, 3),
        high: Decimal::new(1, 2),
        critical: Decimal::new(5, 2),
        value: thresholds,
    };
    report.discrepancies[0].valuation = Some(Valuation {
        price: Some(Decimal::from(97_000)),
        value: Some(Decimal::from(9_700)),
        value_severity: Some(High),
        ..Valuation::default()
    });
    report.valuation = Some(ReportValuation {
        quote: a("USD"),
        source: "static".into(),
        max_age: Duration::from_secs(300),
        fetched_at: Some(fixtures::finished_at()),
        error: None,
    });
    let stored = StoredDiscrepancy {
        row_id: 1,
        // The store keeps no valuation.
        discrepancy: recon::domain::BalanceDiscrepancy {
            valuation: None,
            ..report.discrepancies[0].clone()
        },
    };
    let expect = |difference: &str| Expectation {
        id: 7,
        exchange: ExchangeName::new("coinbase-main"),
        asset: a("BTC"),
        difference: difference.parse().unwrap(),
        by: "ops".into(),
        note: String::new(),
        created_at: fixtures::finished_at(),
        expires_at: fixtures::finished_at() + TimeDelta::hours(1),
        engaged_at: None,
    };
    let now = fixtures::finished_at();
    // 0.09 of the 0.1 declared: 0.01 BTC = $970 undeclared, 0.67 % of 1.5 (medium by
    // ratio, below high by value).
    let r = report.with_stored_state(
        std::slice::from_ref(&stored),
        &[expect("-0.09")],
        &severity,
        now,
    );
    let d = &r.discrepancies[0];
    assert_eq!(d.residual(), Decimal::new(-1, 2));
    assert_eq!(d.severity, Medium);
    let v = d.valuation.as_ref().unwrap();
    assert_eq!(
        (v.value, v.value_severity),
        (Some(Decimal::from(9_700)), Some(Low))
    );
    // With dust at $1,000, the same $970 residual is capped at low, and still counts.
    let mut dusty = severity.clone();
    dusty.value.dust = Some(Decimal::from(1000));
    dusty.value.high = None;
    let r = report.with_stored_state(&[stored], &[expect("-0.09")], &dusty, now);
    let d = &r.discrepancies[0];
    assert!(d.is_counted());
    assert_eq!(d.severity, Low);
}
