//! Property tests of the reconciliation rules (SPEC §2) and of every parser of outside
//! input: they hold for any amounts, and bad input yields typed errors, never a panic.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use recon::config::{SeverityConfig, ToleranceConfig, TradingConfig};
use recon::domain::{exact_sub, format_amount, parse_amount, Asset, DiscrepancyKind};
use recon::engine::rules::{allowed, classify, reconcile, round_relative};
use recon::ledger::{parse_json, parse_toml};
use rust_decimal::Decimal;

fn tolerance(absolute: Decimal, relative: Decimal) -> ToleranceConfig {
    ToleranceConfig {
        absolute,
        relative,
        ignore_assets: Default::default(),
        assets: Default::default(),
    }
}

fn severity() -> SeverityConfig {
    SeverityConfig {
        medium: Decimal::new(1, 3),
        high: Decimal::new(1, 2),
        critical: Decimal::new(5, 2),
        value: Default::default(),
    }
}

/// Amounts as a desk sees them: up to 18 decimals, either sign, zero included.
fn amount() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        1 => Just(Decimal::ZERO),
        8 => (any::<i64>(), 0u32..=18).prop_map(|(m, s)| Decimal::new(m, s)),
        2 => (0i64..1_000_000, 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

fn tol() -> impl Strategy<Value = ToleranceConfig> {
    (0i64..1000, 0u32..=10, 0i64..=10_000, 2u32..=8).prop_map(|(a, sa, r, sr)| {
        tolerance(Decimal::new(a, sa), Decimal::new(r, sr).min(Decimal::ONE))
    })
}

fn side(asset: &Asset, v: Decimal) -> BTreeMap<Asset, Decimal> {
    if v.is_zero() && v.scale() % 2 == 0 {
        // Half the zeros are absent entries, half explicit zeros: they must not differ.
        BTreeMap::new()
    } else {
        BTreeMap::from([(asset.clone(), v)])
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_report_never_contains_a_within_tolerance_pair(l in amount(), e in amount(), t in tol()) {
        let asset = Asset::parse("BTC").unwrap();
        let Some(exact) = exact_sub(e, l) else {
            // A difference that cannot be held exactly is an error, never a rounded finding.
            prop_assert!(reconcile(&side(&asset, l), &side(&asset, e), &t, &severity()).is_err());
            return Ok(());
        };
        let found = reconcile(&side(&asset, l), &side(&asset, e), &t, &severity()).unwrap();
        let (bound, _) = allowed(&t, &asset, l.abs().max(e.abs()));
        let within = exact.abs() <= bound;
        prop_assert_eq!(found.is_empty(), within);
        if let Some(f) = found.first() {
            prop_assert_eq!(f.difference, exact);
            prop_assert!(f.difference.abs() > f.allowed);
            prop_assert!(f.relative > Decimal::ZERO && f.relative <= Decimal::TWO);
        }
    }

    #[test]
    fn swapping_local_and_exchange_flips_the_sign_only(l in amount(), e in amount(), t in tol()) {
        let asset = Asset::parse("ETH").unwrap();
        let ab = reconcile(&side(&asset, l), &side(&asset, e), &t, &severity());
        let ba = reconcile(&side(&asset, e), &side(&asset, l), &t, &severity());
        prop_assert_eq!(ab.is_err(), ba.is_err());
        let (Ok(ab), Ok(ba)) = (ab, ba) else { return Ok(()) };
        prop_assert_eq!(ab.len(), ba.len());
        if let (Some(x), Some(y)) = (ab.first(), ba.first()) {
            prop_assert_eq!(x.difference, -y.difference);
            prop_assert_eq!(x.relative, y.relative);
            prop_assert_eq!(x.severity, y.severity);
            prop_assert_eq!(x.allowed, y.allowed);
            let swapped = match x.kind {
                DiscrepancyKind::MissingLocally => DiscrepancyKind::MissingOnExchange,
                DiscrepancyKind::MissingOnExchange => DiscrepancyKind::MissingLocally,
                DiscrepancyKind::Mismatch => DiscrepancyKind::Mismatch,
            };
            prop_assert_eq!(swapped, y.kind);
        }
    }

    #[test]
    fn zero_is_the_same_as_absent(v in amount(), t in tol(), scale in 0u32..20) {
        let btc = Asset::parse("BTC").unwrap();
        let eth = Asset::parse("ETH").unwrap();
        let mut with_zero = BTreeMap::from([(btc.clone(), v)]);
        with_zero.insert(eth.clone(), Decimal::new(0, scale));
        let without = BTreeMap::from([(btc.clone(), v)]);
        let other = BTreeMap::from([(btc, Decimal::ONE)]);
        prop_assert_eq!(
            reconcile(&with_zero, &other, &t, &severity()).unwrap(),
            reconcile(&without, &other, &t, &severity()).unwrap()
        );
        prop_assert_eq!(
            reconcile(&other, &with_zero, &t, &severity()).unwrap(),
            reconcile(&other, &without, &t, &severity()).unwrap()
        );
    }

    #[test]
    fn severity_never_falls_as_relative_grows(a in 0i64..3_000_000, b in 0i64..3_000_000) {
        let (lo, hi) = (Decimal::new(a.min(b), 6), Decimal::new(a.max(b), 6));
        prop_assert!(classify(lo, &severity()) <= classify(hi, &severity()));
    }

    #[test]
    fn severity_is_a_function_of_the_printed_relative(l in amount(), e in amount(), t in tol()) {
        let asset = Asset::parse("BTC").unwrap();
        let Ok(found) = reconcile(&side(&asset, l), &side(&asset, e), &t, &severity()) else {
            return Ok(());
        };
        if let Some(f) = found.first() {
            prop_assert_eq!(f.severity, classify(round_relative(f.relative), &severity()));
        }
    }

    #[test]
    fn a_relative_printed_as_a_threshold_has_that_threshold_severity(
        which in 0usize..3,
        below in 1i64..50,
        scale in 0u32..6,
    ) {
        // relative = threshold − below·10⁻¹², which prints (10 places) as the threshold.
        let s = severity();
        let threshold = [s.medium, s.high, s.critical][which];
        let local = Decimal::new(10i64.pow(scale), scale);
        let exchange = local - local * (threshold - Decimal::new(below, 12));
        let asset = Asset::parse("ETH").unwrap();
        let found = reconcile(&side(&asset, local), &side(&asset, exchange), &tolerance(Decimal::ZERO, Decimal::ZERO), &s).unwrap();
        let f = &found[0];
        prop_assert_eq!(round_relative(f.relative), threshold.round_dp(10));
        prop_assert_eq!(f.severity, classify(threshold, &s));
    }

    #[test]
    fn amounts_round_trip_exactly_through_text(v in amount()) {
        prop_assert_eq!(parse_amount(&format_amount(v)).unwrap(), v);
        prop_assert_eq!(parse_amount(&v.to_string()).unwrap(), v);
    }

    #[test]
    fn parse_amount_never_panics(s in "\\PC{0,40}") {
        let _ = parse_amount(&s);
    }

    #[test]
    fn parse_amount_rejects_what_it_cannot_hold(int in "[1-9][0-9]{0,20}", frac in "[0-9]{0,20}[1-9]") {
        let text = format!("{int}.{frac}");
        let digits = int.len() + frac.len();
        match parse_amount(&text) {
            Ok(v) => {
                prop_assert!(digits <= 28);
                prop_assert_eq!(v.to_string(), text);
            }
            Err(_) => prop_assert!(digits > 28),
        }
    }

    #[test]
    fn ledger_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_json(&bytes, "l");
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = parse_toml(text, "l");
        }
    }

    #[test]
    fn ledger_toml_of_any_table_shape_never_panics(
        exchange in "[a-z-]{1,8}",
        asset in "\\PC{0,6}",
        value in prop_oneof![
            "\"\\PC{0,20}\"",
            "-?[0-9]{1,30}",
            "-?[0-9]{1,5}\\.[0-9]{1,5}",
            Just("true".to_string()),
            Just("[1, 2]".to_string()),
            Just("{ a = 1 }".to_string()),
        ],
    ) {
        let text = format!("[{exchange}]\n\"{}\" = {value}\n", asset.replace(['"', '\\'], ""));
        match parse_toml(&text, "l") {
            Ok(l) => {
                for entry in l.values() {
                    match entry {
                        Ok(m) => prop_assert!(m.len() <= 1),
                        Err(e) => prop_assert!(!e.to_string().contains('\n')),
                    }
                }
            }
            Err(e) => prop_assert!(!e.to_string().contains('\n')),
        }
    }

    #[test]
    fn config_loader_never_panics_and_errors_are_one_line(
        section in prop_oneof![Just("reconciliation"), Just("tolerance"), Just("severity"), Just("retry"), Just("circuit_breaker"), Just("ledger"), Just("bogus")],
        key in "[a-z_]{1,20}",
        value in prop_oneof!["-?[0-9]{1,12}", "-?[0-9]{1,4}\\.[0-9]{1,4}", "\"\\PC{0,12}\"", Just("true".to_string())],
    ) {
        let text = format!(
            "[{section}]\n{key} = {value}\n[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {{}}\n"
        );
        let r = TradingConfig::from_toml_str(&text, Path::new("c.toml"), Path::new("."), Vec::<(String, String)>::new());
        if let Err(e) = r {
            let msg = e.to_string();
            prop_assert!(!msg.contains('\n'), "{}", msg);
            prop_assert!(msg.starts_with("c.toml: "), "{}", msg);
        }
    }
}
