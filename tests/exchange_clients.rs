//! The three real exchange clients against a loopback mock serving the shared fixtures:
//! pagination, every fault of the matrix, signatures verified by the mock.

mod support;

use std::time::Duration;

use rust_decimal::Decimal;
use support::mock_exchange::{Auth, MockExchange, Scripted};
use support::{coinbase_account, coinbase_page, generated_coinbase_pages, p256_key, KEY_NAME};

use recon::domain::{format_amount, ExchangeName};
use recon::exchanges::coinbase::{CdpKey, CoinbaseReconciler, JwtSigner, ACCOUNTS_PATH};
use recon::exchanges::coinbase_exchange::{CoinbaseExchangeReconciler, HmacCredentials};
use recon::exchanges::dydx::DydxReconciler;
use recon::exchanges::resilience::RetryPolicy;
use recon::exchanges::{ExchangeClient, ExchangeError, FetchedBalances};

const FETCH_TIMEOUT: Duration = Duration::from_millis(200);
const CBX_SECRET: &str = "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTAxMjM0NTY3ODlhYmNkZWY=";
const DYDX_ADDRESS: &str = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art";
const DYDX_PATH: &str =
    "/v4/addresses/dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/subaccountNumber/0";

/// 3 attempts, 10 ms base backoff, up to 2 s (so a 1 s Retry-After is honoured).
fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::new(
        max_attempts,
        Duration::from_millis(10),
        Duration::from_secs(2),
    )
    .with_seed(42)
}

async fn coinbase_mock() -> (MockExchange, CoinbaseReconciler) {
    coinbase_mock_with(policy(3)).await
}

async fn coinbase_mock_with(policy: RetryPolicy) -> (MockExchange, CoinbaseReconciler) {
    let (sk, _) = p256_key();
    let mock = MockExchange::start(Auth::CoinbaseJwt {
        key: *sk.verifying_key(),
        key_name: KEY_NAME.into(),
    })
    .await;
    let signer = JwtSigner::new(KEY_NAME.into(), CdpKey::Es256(sk));
    let client = CoinbaseReconciler::new(
        ExchangeName::new("cb"),
        mock.base_url(),
        signer,
        policy,
        FETCH_TIMEOUT,
    )
    .unwrap();
    (mock, client)
}

async fn cbx_mock() -> (MockExchange, CoinbaseExchangeReconciler) {
    let mock = MockExchange::start(Auth::CoinbaseExchangeHmac {
        key: "cbx-key".into(),
        secret_base64: CBX_SECRET.into(),
        passphrase: "cbx pass".into(),
    })
    .await;
    let creds =
        HmacCredentials::new("cbx-key".into(), &CBX_SECRET.into(), "cbx pass".into(), "V").unwrap();
    let client = CoinbaseExchangeReconciler::new(
        ExchangeName::new("cbx"),
        mock.base_url(),
        creds,
        policy(3),
        FETCH_TIMEOUT,
    )
    .unwrap();
    (mock, client)
}

async fn dydx_mock() -> (MockExchange, DydxReconciler) {
    let mock = MockExchange::start(Auth::None).await;
    let client = DydxReconciler::new(
        ExchangeName::new("dydx"),
        mock.base_url(),
        DYDX_ADDRESS,
        0,
        policy(3),
        FETCH_TIMEOUT,
    )
    .unwrap();
    (mock, client)
}

fn totals(f: &FetchedBalances) -> Vec<(String, String)> {
    f.totals
        .iter()
        .map(|(a, d)| (a.to_string(), format_amount(*d)))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

fn spacing(mock: &MockExchange) -> Duration {
    let r = mock.requests();
    r[1].at - r[0].at
}

// ---------------------------------------------------------------- Coinbase Advanced

#[tokio::test]
async fn coinbase_follows_the_cursor_over_three_fixture_pages_and_sums_exactly() {
    let (mock, client) = coinbase_mock().await;
    mock.push(
        ACCOUNTS_PATH,
        [
            "accounts_page1.json",
            "accounts_page2.json",
            "accounts_page3_last.json",
        ]
        .map(|f| Scripted::file(&format!("coinbase_advanced/{f}"))),
    );
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(
        totals(&got),
        pairs(&[
            ("BTC", "0.2509158622761103"),
            ("USDC", "2110.25"),
            ("USD", "10432.17"),
            ("SOL", "12.845678901"),
            ("DOGE", "123456789.12345678"),
            ("ETH", "0"),
        ])
    );
    assert_eq!(
        (got.coverage.pages, got.coverage.rows, got.coverage.complete),
        (3, 9, true)
    );
    assert_eq!(got.attempts, 3);
    let reqs = mock.requests();
    let cursors: Vec<_> = reqs.iter().map(|r| r.param("cursor")).collect();
    assert_eq!(
        cursors,
        vec![None, Some("789100".into()), Some("789350".into())]
    );
    assert!(reqs
        .iter()
        .all(|r| r.param("limit").as_deref() == Some("250")));
    assert!(
        mock.auth_failures().is_empty(),
        "{:?}",
        mock.auth_failures()
    );
}

#[tokio::test]
async fn coinbase_sums_600_generated_accounts_over_three_pages() {
    let (mock, client) = coinbase_mock().await;
    let (pages, expected) = generated_coinbase_pages(600);
    mock.push(
        ACCOUNTS_PATH,
        pages.into_iter().map(|b| Scripted::json(200, b)),
    );
    let got = client.fetch_balances().await.unwrap();
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(a, d)| (a, format_amount(d)))
        .collect();
    let mut got_totals = totals(&got);
    got_totals.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(got_totals, expected);
    assert_eq!((got.coverage.pages, got.coverage.rows), (3, 600));
    assert!(
        mock.auth_failures().is_empty(),
        "{:?}",
        mock.auth_failures()
    );
}

#[tokio::test]
async fn coinbase_honours_retry_after_in_seconds() {
    let (mock, client) = coinbase_mock().await;
    mock.push(
        ACCOUNTS_PATH,
        [
            Scripted::manifest("cb_adv_429_html").header("Retry-After", "1"),
            Scripted::file("coinbase_advanced/accounts_split_currency_with_hold.json"),
        ],
    );
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(got.attempts, 2);
    assert_eq!(totals(&got), pairs(&[("USDC", "1600"), ("BTC", "0.6")]));
    let gap = spacing(&mock);
    assert!(gap >= Duration::from_secs(1), "waited only {gap:?}");
    assert!(gap < Duration::from_millis(1800), "waited {gap:?}");
}

#[tokio::test]
async fn coinbase_html_429_without_retry_after_backs_off_and_gives_up_quietly() {
    let (mock, client) = coinbase_mock_with(policy(2)).await;
    mock.always(ACCOUNTS_PATH, Scripted::manifest("cb_adv_429_html"));
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err,
        ExchangeError::RateLimited {
            retry_after_ms: None,
            attempts: 2
        }
    );
    assert!(!err.to_string().contains('<'), "{err}");
}

#[tokio::test]
async fn coinbase_500_then_empty_502_then_success_takes_three_attempts() {
    let (mock, client) = coinbase_mock().await;
    mock.push(
        ACCOUNTS_PATH,
        [
            Scripted::manifest("cb_adv_500"),
            Scripted::manifest("cb_adv_502_empty"),
            Scripted::file("coinbase_advanced/accounts_last_page_ccxt_capture.json"),
        ],
    );
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(got.attempts, 3);
    assert_eq!(totals(&got), pairs(&[("USDC", "0")]));
}

#[tokio::test]
async fn coinbase_server_errors_exhaust_the_retries_with_the_message() {
    let (mock, client) = coinbase_mock().await;
    mock.always(ACCOUNTS_PATH, Scripted::manifest("cb_adv_500"));
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(err.to_string(), "HTTP 500: internal error (3 attempts)");
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn coinbase_hung_server_times_out_on_every_attempt() {
    let (mock, client) = coinbase_mock().await;
    mock.always(
        ACCOUNTS_PATH,
        Scripted::file("coinbase_advanced/accounts_page3_last.json")
            .delayed(Duration::from_secs(2)),
    );
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err,
        ExchangeError::Timeout {
            after_ms: 200,
            attempts: 3
        }
    );
    assert_eq!(err.to_string(), "timed out after 200 ms (3 attempts)");
}

#[tokio::test]
async fn coinbase_401_is_final_after_one_attempt() {
    let (mock, client) = coinbase_mock().await;
    mock.always(ACCOUNTS_PATH, Scripted::manifest("cb_adv_401"));
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "authentication failed: HTTP 401: Unauthorized"
    );
    assert_eq!(err.attempts(), 1);
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn coinbase_403_quotes_the_json_message() {
    let (mock, client) = coinbase_mock().await;
    mock.always(ACCOUNTS_PATH, Scripted::manifest("cb_adv_403_scopes"));
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err,
        ExchangeError::Auth {
            status: 403,
            message: "Missing required scopes".into()
        }
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn coinbase_key_the_exchange_does_not_know_is_an_auth_failure() {
    let (mock, _) = coinbase_mock().await;
    let (other, _) = p256_key();
    let client = CoinbaseReconciler::new(
        ExchangeName::new("cb"),
        mock.base_url(),
        JwtSigner::new(KEY_NAME.into(), CdpKey::Es256(other)),
        policy(3),
        FETCH_TIMEOUT,
    )
    .unwrap();
    let err = client.fetch_balances().await.unwrap_err();
    assert!(
        matches!(err, ExchangeError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(
        mock.auth_failures(),
        vec!["bad ES256 signature".to_string()]
    );
}

#[tokio::test]
async fn coinbase_bad_amounts_are_typed_errors_naming_the_asset() {
    let excess = coinbase_page(
        vec![coinbase_account(
            1,
            "BTC",
            "1234567890.123456789012345678901",
            "0",
        )],
        false,
        "",
    );
    let cases: Vec<(Scripted, &str, &str)> = vec![
        (
            Scripted::manifest("cb_adv_non_numeric"),
            "USDC",
            "'N/A' is not a decimal amount",
        ),
        (
            Scripted::manifest("cb_adv_empty_string_amount"),
            "ETH",
            "empty string",
        ),
        (
            Scripted::manifest("cb_adv_amount_json_number"),
            "ETH",
            "a JSON number",
        ),
        (
            Scripted::json(200, excess),
            "BTC",
            "more than 28 significant digits",
        ),
    ];
    for (response, asset, fragment) in cases {
        let (mock, client) = coinbase_mock().await;
        mock.push(ACCOUNTS_PATH, [response]);
        let err = client.fetch_balances().await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, ExchangeError::Amount { asset: a, .. } if a == asset),
            "{text}"
        );
        assert!(text.contains(fragment), "{text}");
        assert_eq!(mock.requests().len(), 1, "a bad body is not retried");
    }
}

#[tokio::test]
async fn coinbase_truncated_body_is_malformed() {
    let (mock, client) = coinbase_mock().await;
    mock.push(ACCOUNTS_PATH, [Scripted::manifest("cb_adv_truncated")]);
    let err = client.fetch_balances().await.unwrap_err();
    assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
    assert!(err.to_string().starts_with("malformed response: "), "{err}");
}

#[tokio::test]
async fn coinbase_cursor_loop_is_incomplete_not_a_smaller_balance() {
    let (mock, client) = coinbase_mock().await;
    let looping = coinbase_page(vec![coinbase_account(9, "BTC", "1", "0")], true, "789100");
    mock.push(
        ACCOUNTS_PATH,
        [
            Scripted::file("coinbase_advanced/accounts_page1.json"),
            Scripted::json(200, looping),
        ],
    );
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "incomplete listing: cursor '789100' repeated at page 2 (loop)"
    );
}

#[tokio::test]
async fn coinbase_has_next_with_an_empty_cursor_is_incomplete() {
    let (mock, client) = coinbase_mock().await;
    let broken = coinbase_page(vec![coinbase_account(1, "BTC", "1", "0")], true, "");
    mock.push(ACCOUNTS_PATH, [Scripted::json(200, broken)]);
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "incomplete listing: page 1 says has_next but gives no cursor"
    );
}

#[tokio::test]
async fn coinbase_page_cap_is_incomplete() {
    let (mock, client) = coinbase_mock().await;
    let client = client.with_max_pages(3);
    mock.push(
        ACCOUNTS_PATH,
        (1..=4).map(|i| {
            let body = coinbase_page(
                vec![coinbase_account(i, "BTC", "1", "0")],
                true,
                &format!("p{i}"),
            );
            Scripted::json(200, body)
        }),
    );
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "incomplete listing: more than 3 pages; stopped without a total"
    );
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn coinbase_failure_on_a_later_page_reports_all_attempts_and_no_total() {
    let (mock, client) = coinbase_mock().await;
    mock.push(
        ACCOUNTS_PATH,
        [Scripted::file("coinbase_advanced/accounts_page1.json")],
    );
    mock.always(ACCOUNTS_PATH, Scripted::manifest("cb_adv_500"));
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(err.attempts(), 4, "{err}");
    assert_eq!(mock.requests().len(), 4);
}

#[tokio::test]
async fn coinbase_connection_refused_is_a_connect_error_without_the_url() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (sk, _) = p256_key();
    let client = CoinbaseReconciler::new(
        ExchangeName::new("cb"),
        url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        JwtSigner::new(KEY_NAME.into(), CdpKey::Es256(sk)),
        policy(2),
        FETCH_TIMEOUT,
    )
    .unwrap();
    let err = client.fetch_balances().await.unwrap_err();
    assert!(
        matches!(err, ExchangeError::Connect { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("127.0.0.1"), "{err}");
}

// ---------------------------------------------------------------- Coinbase Exchange

#[tokio::test]
async fn coinbase_exchange_signs_with_hmac_and_reports_balances() {
    let (mock, client) = cbx_mock().await;
    mock.push("/accounts", [Scripted::manifest("cb_ex_accounts")]);
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(
        totals(&got),
        pairs(&[
            ("BTC", "1.25"),
            ("ETH", "10"),
            ("USD", "80.230137306693"),
            ("USDC", "2500.123456"),
            ("LTC", "0"),
            ("DOGE", "0"),
        ])
    );
    assert_eq!(
        (got.attempts, got.coverage.pages, got.coverage.rows),
        (1, 1, 6)
    );
    assert!(
        mock.auth_failures().is_empty(),
        "{:?}",
        mock.auth_failures()
    );
}

#[tokio::test]
async fn coinbase_exchange_auth_errors_are_final() {
    for (id, status, message) in [
        ("cb_ex_401_key", 401, "Invalid API Key"),
        ("cb_ex_401_passphrase", 401, "Invalid Passphrase"),
        ("cb_ex_400_signature", 400, "invalid signature"),
        ("cb_ex_400_timestamp", 400, "request timestamp expired"),
    ] {
        let (mock, client) = cbx_mock().await;
        mock.always("/accounts", Scripted::manifest(id));
        let err = client.fetch_balances().await.unwrap_err();
        assert_eq!(
            err,
            ExchangeError::Auth {
                status,
                message: message.into()
            },
            "{id}"
        );
        assert_eq!(mock.requests().len(), 1, "{id}");
    }
}

#[tokio::test]
async fn coinbase_exchange_retries_429_and_500_then_succeeds() {
    let (mock, client) = cbx_mock().await;
    mock.push(
        "/accounts",
        [
            Scripted::manifest("cb_ex_429"),
            Scripted::manifest("cb_ex_500"),
            Scripted::manifest("cb_ex_docs_example"),
        ],
    );
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(got.attempts, 3);
    assert_eq!(
        totals(&got),
        pairs(&[("BTC", "0"), ("USD", "80.230137306693")])
    );
}

#[tokio::test]
async fn coinbase_exchange_500_twice_then_success_takes_three_attempts() {
    let (mock, client) = cbx_mock().await;
    mock.push(
        "/accounts",
        [
            Scripted::manifest("cb_ex_500"),
            Scripted::manifest("cb_ex_500"),
            Scripted::manifest("cb_ex_accounts"),
        ],
    );
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(got.attempts, 3);
    assert_eq!(mock.requests().len(), 3);
    // Every attempt was signed (and verified by the mock), not only the first.
    assert!(
        mock.auth_failures().is_empty(),
        "{:?}",
        mock.auth_failures()
    );
}

#[tokio::test]
async fn coinbase_exchange_bad_bodies_are_typed_errors() {
    let (mock, client) = cbx_mock().await;
    mock.push("/accounts", [Scripted::manifest("cb_ex_non_numeric")]);
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad amount for USDC: '2,500.12' is not a decimal amount"
    );
    mock.push("/accounts", [Scripted::manifest("cb_ex_truncated")]);
    let err = client.fetch_balances().await.unwrap_err();
    assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
}

// ---------------------------------------------------------------- dYdX

#[tokio::test]
async fn dydx_reports_signed_assets_and_perpetuals() {
    let (mock, client) = dydx_mock().await;
    mock.push(
        DYDX_PATH,
        [Scripted::manifest("dydx_subaccount_usdc_short")],
    );
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(
        totals(&got),
        pairs(&[
            ("USDC", "-5768.816478"),
            ("BTC-USD", "0.1036"),
            ("ETH-USD", "-0.002")
        ])
    );
    assert_eq!((got.coverage.rows, got.attempts), (3, 1));
    mock.push(DYDX_PATH, [Scripted::manifest("dydx_subaccount_mixed")]);
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(
        totals(&got),
        pairs(&[
            ("USDC", "14000.123456"),
            ("DYDX", "-10000"),
            ("BTC-USD", "0.25"),
            ("ETH-USD", "-3.5"),
        ])
    );
    mock.push(DYDX_PATH, [Scripted::manifest("dydx_null_maps")]);
    let got = client.fetch_balances().await.unwrap();
    assert!(got.totals.is_empty());
}

#[tokio::test]
async fn dydx_retry_after_is_milliseconds_not_seconds() {
    let (mock, client) = dydx_mock().await;
    mock.push(
        DYDX_PATH,
        [
            Scripted::manifest("dydx_429").header("Retry-After", "300"),
            Scripted::manifest("dydx_subaccount"),
        ],
    );
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(got.attempts, 2);
    assert_eq!(
        totals(&got),
        pairs(&[("USDC", "90.461932"), ("ETH-USD", "0.003")])
    );
    let gap = spacing(&mock);
    assert!(gap >= Duration::from_millis(300), "waited only {gap:?}");
    assert!(
        gap < Duration::from_secs(1),
        "Retry-After read as seconds? waited {gap:?}"
    );
}

#[tokio::test]
async fn dydx_edge_429_and_500s_are_retried() {
    let (mock, client) = dydx_mock().await;
    mock.push(
        DYDX_PATH,
        [
            Scripted::manifest("dydx_500"),
            Scripted::manifest("dydx_429_edge"),
            Scripted::manifest("dydx_subaccount_empty"),
        ],
    );
    let got = client.fetch_balances().await.unwrap();
    assert_eq!(got.attempts, 3);
    assert!(got.totals.is_empty());
}

#[tokio::test]
async fn dydx_404_is_a_configuration_error_naming_address_and_subaccount() {
    let (mock, client) = dydx_mock().await;
    mock.always(DYDX_PATH, Scripted::manifest("dydx_404"));
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("configuration: no subaccount found for address {DYDX_ADDRESS} subaccount 0")
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn dydx_403_and_400_are_final_with_short_messages() {
    let (mock, client) = dydx_mock().await;
    mock.push(DYDX_PATH, [Scripted::manifest("dydx_403_geo")]);
    let err = client.fetch_balances().await.unwrap_err();
    match &err {
        ExchangeError::Auth {
            status: 403,
            message,
        } => {
            assert!(message.starts_with("Because you appear"), "{message}");
            assert!(message.chars().count() <= 121, "{message}");
        }
        other => panic!("{other:?}"),
    }
    mock.push(DYDX_PATH, [Scripted::manifest("dydx_400_address")]);
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "HTTP 400: address must be a valid dydx address (1 attempts)"
    );
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn dydx_bad_sizes_are_typed_errors() {
    let (mock, client) = dydx_mock().await;
    for (id, want) in [
        ("dydx_non_numeric", "bad amount for USDC: 'ninety' is not a decimal amount"),
        (
            "dydx_excess_precision",
            "bad amount for USDC: '90.46193212345678901234567890123' cannot be represented exactly (more than 28 significant digits)",
        ),
    ] {
        mock.push(DYDX_PATH, [Scripted::manifest(id)]);
        let err = client.fetch_balances().await.unwrap_err();
        assert_eq!(err.to_string(), want, "{id}");
    }
    mock.push(DYDX_PATH, [Scripted::manifest("dydx_truncated")]);
    let err = client.fetch_balances().await.unwrap_err();
    assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn dydx_timeout_counts_every_attempt() {
    let (mock, client) = dydx_mock().await;
    mock.always(
        DYDX_PATH,
        Scripted::manifest("dydx_subaccount").delayed(Duration::from_secs(2)),
    );
    let err = client.fetch_balances().await.unwrap_err();
    assert_eq!(
        err,
        ExchangeError::Timeout {
            after_ms: 200,
            attempts: 3
        }
    );
    assert_eq!(mock.requests().len(), 3);
}

#[test]
fn decimal_sanity_of_the_generated_portfolio() {
    // The generator's totals are exact sums, so the 600-account test checks exactness.
    let (_, totals) = generated_coinbase_pages(600);
    let sum: Decimal = totals.iter().map(|(_, d)| *d).sum();
    assert!(sum > Decimal::ZERO);
    assert_eq!(totals.len(), support::GENERATED_CURRENCIES.len());
}
