//! Shared test support: the loopback mock exchange and generators of exchange bodies.
#![allow(dead_code)]

pub mod mock_exchange;

use rust_decimal::Decimal;
use serde_json::{json, Value};

/// Key name used for the CDP key in tests.
pub const KEY_NAME: &str =
    "organizations/00000000-0000-4000-8000-000000000000/apiKeys/00000000-0000-4000-8000-0000000000aa";

/// One Coinbase Advanced account in the documented shape.
pub fn coinbase_account(i: usize, currency: &str, available: &str, hold: &str) -> Value {
    json!({
        "uuid": format!("00000000-0000-4000-8000-{i:012}"),
        "name": format!("{currency} Wallet"),
        "currency": currency,
        "available_balance": {"value": available, "currency": currency},
        "default": i % 2 == 0,
        "active": true,
        "created_at": "2023-01-04T06:20:06.456Z",
        "updated_at": "2024-11-12T08:41:52.690Z",
        "deleted_at": null,
        "type": "ACCOUNT_TYPE_CRYPTO",
        "ready": true,
        "hold": {"value": hold, "currency": currency},
        "retail_portfolio_id": "11111111-2222-4333-8444-555555555555",
        "platform": "ACCOUNT_PLATFORM_CONSUMER"
    })
}

/// A Coinbase Advanced page body.
pub fn coinbase_page(accounts: Vec<Value>, has_next: bool, cursor: &str) -> Vec<u8> {
    let size = accounts.len();
    serde_json::to_vec(&json!({
        "accounts": accounts, "has_next": has_next, "cursor": cursor, "size": size
    }))
    .unwrap()
}

/// Currencies of the generated 600-account portfolio.
pub const GENERATED_CURRENCIES: [&str; 7] = ["BTC", "ETH", "USDC", "SOL", "DOGE", "USD", "LINK"];

/// `n` deterministic accounts spread over [`GENERATED_CURRENCIES`], with holds, split into
/// pages of 250; returns the page bodies (cursors `c1`, `c2`, …) and the exact totals.
pub fn generated_coinbase_pages(n: usize) -> (Vec<Vec<u8>>, Vec<(String, Decimal)>) {
    let mut totals: std::collections::BTreeMap<String, Decimal> = Default::default();
    let accounts: Vec<Value> = (0..n)
        .map(|i| {
            let currency = GENERATED_CURRENCIES[i % GENERATED_CURRENCIES.len()];
            // Up to 16 decimals, like real bodies.
            let available = Decimal::new((i as i64 + 1) * 123_456_789_012_345, 16);
            let hold = Decimal::new((i as i64 % 5) * 1_000_001, 6);
            *totals.entry(currency.to_string()).or_default() += available + hold;
            coinbase_account(i, currency, &available.to_string(), &hold.to_string())
        })
        .collect();
    let chunks: Vec<Vec<Value>> = accounts.chunks(250).map(<[Value]>::to_vec).collect();
    let last = chunks.len().saturating_sub(1);
    let pages = chunks
        .into_iter()
        .enumerate()
        .map(|(p, accts)| {
            let more = p < last;
            let cursor = if more {
                format!("c{}", p + 1)
            } else {
                String::new()
            };
            coinbase_page(accts, more, &cursor)
        })
        .collect();
    (pages, totals.into_iter().collect())
}

/// A fresh P-256 key and its SEC1 PEM.
pub fn p256_key() -> (p256::ecdsa::SigningKey, String) {
    use p256::pkcs8::LineEnding;
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let pem = secret.to_sec1_pem(LineEnding::LF).unwrap().to_string();
    (secret.into(), pem)
}
