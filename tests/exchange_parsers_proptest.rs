//! Property tests of the three response parsers: arbitrary bytes and arbitrary JSON never
//! panic and only ever produce typed errors; generated accounts/positions serialised in
//! the exchange's shape parse back to exact sums.

mod support;

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use recon::domain::exact_add;
use recon::exchanges::coinbase::parse_accounts_page;
use recon::exchanges::coinbase_exchange::parse_accounts;
use recon::exchanges::dydx::parse_subaccount;
use recon::exchanges::{sum_by_asset, ExchangeError};

fn typed(err: &ExchangeError) -> bool {
    matches!(
        err,
        ExchangeError::Malformed(_) | ExchangeError::Amount { .. }
    )
}

fn run_all(body: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = parse_accounts_page(body) {
        prop_assert!(typed(&e), "coinbase: {e:?}");
    }
    if let Err(e) = parse_accounts(body) {
        prop_assert!(typed(&e), "coinbase_exchange: {e:?}");
    }
    if let Err(e) = parse_subaccount(body) {
        prop_assert!(typed(&e), "dydx: {e:?}");
    }
    Ok(())
}

/// Keys the parsers look for, mixed with noise, so arbitrary documents reach deep code.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "accounts",
            "has_next",
            "cursor",
            "currency",
            "available_balance",
            "hold",
            "value",
            "balance",
            "available",
            "subaccount",
            "assetPositions",
            "openPerpetualPositions",
            "side",
            "size",
            "symbol",
            "market",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_]{1,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop::sample::select(vec!["LONG", "SHORT", "", "N/A", "1e5", "-0", "BTC"])
            .prop_map(|s| json!(s)),
        "-?[0-9]{0,32}(\\.[0-9]{0,32})?".prop_map(Value::String),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (-1_000_000_000_000_000i64..1_000_000_000_000_000, 0u32..=18)
        .prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

fn unsigned_decimal() -> impl Strategy<Value = Decimal> {
    (0i64..1_000_000_000_000_000, 0u32..=18).prop_map(|(m, s)| Decimal::new(m, s))
}

/// Available and hold at one scale, so their sum (sent as `balance`) stays within the
/// 28 significant digits an exact amount may have.
fn available_and_hold() -> impl Strategy<Value = (Decimal, Decimal)> {
    (
        0i64..1_000_000_000_000_000,
        0i64..1_000_000_000_000_000,
        0u32..=18,
    )
        .prop_map(|(a, h, s)| (Decimal::new(a, s), Decimal::new(h, s)))
}

const CURRENCIES: [&str; 5] = ["BTC", "ETH", "USDC", "sol", " Doge "];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..1024)) {
        run_all(&body)?;
    }

    #[test]
    fn arbitrary_json_never_panics(doc in json_value()) {
        run_all(&serde_json::to_vec(&doc).unwrap())?;
    }

    #[test]
    fn arbitrary_leaves_in_the_right_shape_are_typed_errors_or_exact(
        available in leaf(), hold in leaf(), size in leaf(), side in leaf(),
    ) {
        let cb = json!({"accounts": [{"uuid": "u-1", "currency": "BTC", "available_balance": {"value": available},
            "hold": {"value": hold}}], "has_next": false, "cursor": ""});
        let dydx = json!({"subaccount": {"assetPositions": {"USDC": {"side": side, "size": size}},
            "openPerpetualPositions": null}});
        run_all(&serde_json::to_vec(&cb).unwrap())?;
        run_all(&serde_json::to_vec(&dydx).unwrap())?;
    }

    #[test]
    fn coinbase_accounts_round_trip_to_exact_sums(
        accounts in vec((0usize..CURRENCIES.len(), decimal(), decimal()), 0..60),
        has_next in any::<bool>(),
    ) {
        // The exact sums, or None where one cannot be held exactly (then a typed error).
        let mut expected: Option<BTreeMap<String, Decimal>> = Some(BTreeMap::new());
        let mut account_exact = true;
        let body: Vec<Value> = accounts.iter().enumerate().map(|(i, (c, av, h))| {
            let currency = CURRENCIES[*c];
            let total = exact_add(*av, *h);
            account_exact &= total.is_some();
            if let (Some(map), Some(t)) = (expected.as_mut(), total) {
                let slot = map.entry(currency.trim().to_uppercase()).or_default();
                match exact_add(*slot, t) { Some(v) => *slot = v, None => expected = None }
            }
            support::coinbase_account(i, currency, &av.to_string(), &h.to_string())
        }).collect();
        let page = parse_accounts_page(&support::coinbase_page(body, has_next, "next"));
        if !account_exact {
            let is_amount_error = matches!(page, Err(ExchangeError::Amount { .. }));
            prop_assert!(is_amount_error, "{:?}", page.map(|p| p.rows));
            return Ok(());
        }
        let page = page.unwrap();
        prop_assert_eq!(page.has_next, has_next);
        prop_assert_eq!(page.rows.len(), accounts.len());
        // Each row keeps its account's uuid, in body order (the client de-duplicates on it).
        let uuids: Vec<String> = (0..accounts.len()).map(|i| format!("00000000-0000-4000-8000-{i:012}")).collect();
        prop_assert_eq!(&page.uuids, &uuids);
        match (sum_by_asset(page.rows), expected) {
            (Ok(got), Some(expected)) => {
                let got: BTreeMap<String, Decimal> = got.into_iter().map(|(a, d)| (a.to_string(), d)).collect();
                prop_assert_eq!(got, expected);
            }
            (Err(ExchangeError::Amount { .. }), None) => {}
            (got, expected) => prop_assert!(false, "sum {:?} vs exact {:?}", got, expected),
        }
    }

    #[test]
    fn coinbase_exchange_balances_round_trip(
        accounts in vec((0usize..CURRENCIES.len(), available_and_hold()), 0..30),
    ) {
        let mut expected: Option<BTreeMap<String, Decimal>> = Some(BTreeMap::new());
        let body: Vec<Value> = accounts.iter().map(|(c, (av, h))| {
            let currency = CURRENCIES[*c];
            let balance = *av + *h; // same scale, < 10^19: always exact
            if let Some(map) = expected.as_mut() {
                let slot = map.entry(currency.trim().to_uppercase()).or_default();
                match exact_add(*slot, balance) { Some(v) => *slot = v, None => expected = None }
            }
            json!({"id": "x", "currency": currency, "balance": balance.to_string(),
                   "available": av.to_string(), "hold": h.to_string(), "profile_id": "p"})
        }).collect();
        let parsed = parse_accounts(&serde_json::to_vec(&body).unwrap()).unwrap();
        prop_assert!(parsed.inconsistent.is_empty());
        match (sum_by_asset(parsed.rows), expected) {
            (Ok(got), Some(expected)) => {
                let got: BTreeMap<String, Decimal> = got.into_iter().map(|(a, d)| (a.to_string(), d)).collect();
                prop_assert_eq!(got, expected);
            }
            (Err(ExchangeError::Amount { .. }), None) => {}
            (got, expected) => prop_assert!(false, "sum {:?} vs exact {:?}", got, expected),
        }
    }

    #[test]
    fn dydx_positions_round_trip_with_the_sign_rules(
        assets in btree_map("[A-Z]{2,5}", (unsigned_decimal(), any::<bool>()), 0..6),
        perps in btree_map("[A-Z]{2,5}-USD", decimal(), 0..6),
    ) {
        let asset_json: serde_json::Map<String, Value> = assets.iter().map(|(sym, (size, long))| {
            (sym.clone(), json!({"symbol": sym, "side": if *long { "LONG" } else { "SHORT" },
                                 "size": size.to_string(), "assetId": "0", "subaccountNumber": 0}))
        }).collect();
        let perp_json: serde_json::Map<String, Value> = perps.iter().map(|(m, size)| {
            let side = if size.is_sign_negative() { "SHORT" } else { "LONG" };
            (m.clone(), json!({"market": m, "side": side, "size": size.to_string(),
                               "entryPrice": "3177.76666666666666666666666666667"}))
        }).collect();
        let body = json!({"subaccount": {"assetPositions": asset_json,
                                         "openPerpetualPositions": perp_json}});
        let parsed = parse_subaccount(&serde_json::to_vec(&body).unwrap()).unwrap();
        let got: BTreeMap<String, Decimal> = parsed.rows.into_iter().collect();
        for (sym, (size, long)) in &assets {
            let want = if *long { *size } else { -*size };
            prop_assert_eq!(got.get(sym), Some(&want));
        }
        for (m, size) in &perps {
            prop_assert_eq!(got.get(m), Some(size));
        }
    }
}
