//! Coinbase Advanced: an account (`uuid`) listed on two pages — a cursor shifting under a
//! newly created account — is counted once; listed twice with different balances, the
//! exchange is an error ("inconsistent listing"), never an inflated total. Against the
//! loopback mock, with JWTs verified.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::mock_exchange::{Auth, MockExchange, Scripted};
use support::{coinbase_account, coinbase_page, p256_key, KEY_NAME};

use recon::domain::{format_amount, ExchangeName};
use recon::exchanges::coinbase::{CdpKey, CoinbaseReconciler, JwtSigner, ACCOUNTS_PATH};
use recon::exchanges::resilience::RetryPolicy;
use recon::exchanges::{Coverage, ExchangeClient, ExchangeError};

async fn client() -> (MockExchange, CoinbaseReconciler) {
    let (sk, _) = p256_key();
    let mock = MockExchange::start(Auth::CoinbaseJwt {
        key: *sk.verifying_key(),
        key_name: KEY_NAME.into(),
    })
    .await;
    let client = CoinbaseReconciler::new(
        ExchangeName::new("cb"),
        mock.base_url(),
        JwtSigner::new(KEY_NAME.into(), CdpKey::Es256(sk)),
        RetryPolicy::new(1, Duration::from_millis(1), Duration::from_millis(1)),
        Duration::from_millis(500),
    )
    .unwrap();
    (mock, client)
}

/// Three pages; page 2 starts with `repeat` (an account of page 1 shifted onto it).
fn three_pages(repeat: Value) -> [Vec<u8>; 3] {
    [
        coinbase_page(
            vec![
                coinbase_account(0, "BTC", "1.5", "0.1"),
                coinbase_account(1, "ETH", "10", "0"),
            ],
            true,
            "c1",
        ),
        coinbase_page(
            vec![repeat, coinbase_account(2, "USDC", "100.25", "0.75")],
            true,
            "c2",
        ),
        coinbase_page(vec![coinbase_account(3, "BTC", "0.25", "0")], false, ""),
    ]
}

fn serve(mock: &MockExchange, pages: [Vec<u8>; 3]) {
    mock.push(ACCOUNTS_PATH, pages.map(|b| Scripted::json(200, b)));
}

#[tokio::test]
async fn an_account_repeated_on_the_next_page_with_the_same_balance_counts_once() {
    let (mock, client) = client().await;
    serve(&mock, three_pages(coinbase_account(1, "ETH", "10", "0")));
    let got = client.fetch_balances().await.unwrap();
    let totals: Vec<(String, String)> = got
        .totals
        .iter()
        .map(|(a, d)| (a.to_string(), format_amount(*d)))
        .collect();
    assert_eq!(
        totals,
        vec![
            ("BTC".to_string(), "1.85".to_string()),
            ("ETH".to_string(), "10".to_string()),
            ("USDC".to_string(), "101".to_string()),
        ],
        "ETH summed twice would read 20"
    );
    assert_eq!(
        got.coverage,
        Coverage {
            pages: 3,
            rows: 4,
            complete: true
        }
    );
    assert_eq!(got.attempts, 3);
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn an_account_repeated_with_a_different_amount_is_an_inconsistent_listing() {
    let (mock, client) = client().await;
    serve(&mock, three_pages(coinbase_account(1, "ETH", "10", "2")));
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err,
        ExchangeError::Inconsistent(
            "account 00000000-0000-4000-8000-000000000001 is listed on page 1 as 10 ETH and on page 2 as 12 ETH"
                .into()
        )
    );
    assert_eq!(
        err.to_string(),
        "inconsistent listing: account 00000000-0000-4000-8000-000000000001 is listed on page 1 as 10 ETH and on page 2 as 12 ETH"
    );
    // Stopped at the contradiction: no total from page 3.
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn an_account_repeated_under_another_currency_is_an_inconsistent_listing() {
    let (mock, client) = client().await;
    serve(&mock, three_pages(coinbase_account(1, "SOL", "10", "0")));
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "inconsistent listing: account 00000000-0000-4000-8000-000000000001 is listed on page 1 as 10 ETH and on page 2 as 10 SOL"
    );
}

#[tokio::test]
async fn an_account_without_a_uuid_is_malformed_not_counted_blindly() {
    let (mock, client) = client().await;
    let mut account = coinbase_account(0, "BTC", "1", "0");
    account.as_object_mut().unwrap().remove("uuid");
    mock.push(
        ACCOUNTS_PATH,
        [Scripted::json(200, coinbase_page(vec![account], false, ""))],
    );
    let err = client.fetch_balances().await.unwrap_err();
    assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
    assert!(err.to_string().contains("uuid"), "{err}");
}
