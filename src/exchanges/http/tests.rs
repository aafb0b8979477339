use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use rust_decimal::Decimal;
use url::Url;

use super::*;

fn profile(unit: RetryAfterUnit) -> VenueProfile {
    VenueProfile {
        retry_after: unit,
        rate: RateLimit::new(10, Duration::from_secs(1), 10),
        not_found: None,
        auth_messages_400: &["invalid signature"],
    }
}

fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn an_absurd_retry_after_means_wait_too_long_not_a_panic() {
    assert_eq!(
        RetryAfterUnit::Seconds.parse("100000000000000000000000000.5"),
        Some(Duration::from_millis(u64::MAX))
    );
    assert_eq!(
        RetryAfterUnit::Seconds.parse("99999999999999999999999999999999"),
        None,
        "more digits than an exact decimal holds is not a number: the backoff applies"
    );
}

#[test]
fn retry_after_is_read_in_the_venue_unit() {
    assert_eq!(
        RetryAfterUnit::Seconds.parse("1"),
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        RetryAfterUnit::Seconds.parse("1.5"),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        RetryAfterUnit::Milliseconds.parse("300"),
        Some(Duration::from_millis(300))
    );
    assert_eq!(
        RetryAfterUnit::Milliseconds.parse(" 1500 "),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        RetryAfterUnit::Seconds.parse("Wed, 21 Oct 2015 07:28:00 GMT"),
        None
    );
    assert_eq!(RetryAfterUnit::Seconds.parse("-1"), None);
    assert_eq!(RetryAfterUnit::Milliseconds.parse("1e3"), None);
}

#[test]
fn statuses_map_to_attempt_failures() {
    let p = profile(RetryAfterUnit::Milliseconds);
    let none = HeaderMap::new();
    assert_eq!(classify(200, &none, b"{}", &p, 1), Ok(()));
    assert_eq!(
        classify(429, &headers(&[(RETRY_AFTER, "300")]), b"", &p, 1),
        Err(AttemptFailure::RateLimited {
            retry_after: Some(Duration::from_millis(300))
        })
    );
    assert_eq!(
        classify(
            503,
            &none,
            br#"{"errors":[{"msg":"Internal Server Error"}]}"#,
            &p,
            1
        ),
        Err(AttemptFailure::Server {
            status: 503,
            message: "Internal Server Error".into(),
            retry_after: None
        })
    );
    assert_eq!(
        classify(401, &none, b"Unauthorized\n", &p, 1),
        Err(AttemptFailure::Fatal(ExchangeError::Auth {
            status: 401,
            message: "Unauthorized".into()
        }))
    );
    assert_eq!(
        classify(400, &none, br#"{"message":"invalid signature"}"#, &p, 1),
        Err(AttemptFailure::Fatal(ExchangeError::Auth {
            status: 400,
            message: "invalid signature".into()
        }))
    );
    assert_eq!(
        classify(404, &none, b"", &p, 2),
        Err(AttemptFailure::Fatal(ExchangeError::Status {
            status: 404,
            message: "empty body".into(),
            attempts: 2
        }))
    );
    let dydx = VenueProfile {
        not_found: Some("no subaccount found for address a subaccount 0".into()),
        ..p.clone()
    };
    assert_eq!(
        classify(404, &none, b"{}", &dydx, 1),
        Err(AttemptFailure::Fatal(ExchangeError::Config(
            "no subaccount found for address a subaccount 0".into()
        )))
    );
}

#[test]
fn error_messages_are_short_single_lines_and_never_html() {
    let html = "<html>\n<head><title>Coinbase</title></head><body>".to_string() + &"x".repeat(5000);
    assert_eq!(
        error_message(html.as_bytes(), "text/html"),
        "HTML error page 'Coinbase'"
    );
    assert_eq!(
        error_message(b"<html><body>busy</body></html>", ""),
        "HTML error page"
    );
    assert_eq!(
        error_message(br#"{"error":"unknown","error_details":"Missing required scopes","message":"Missing required scopes"}"#, "application/json"),
        "Missing required scopes"
    );
    assert_eq!(
        error_message(br#"{"foo":1}"#, ""),
        "unrecognised error body"
    );
    assert_eq!(error_message(b"", "text/plain"), "empty body");
    let long = "word ".repeat(100);
    let m = error_message(long.as_bytes(), "text/plain");
    assert!(m.chars().count() <= 121 && m.ends_with('…'), "{m}");
    assert_eq!(one_line("a\r\n\tb\u{7}c"), "a b c");
}

#[test]
fn json_amounts_are_exact_or_typed_errors_naming_the_asset() {
    let ok: JsonAmount = serde_json::from_str(r#""123456789.12345678""#).unwrap();
    assert_eq!(
        ok.parse("DOGE").unwrap(),
        Decimal::from_str_exact("123456789.12345678").unwrap()
    );
    for (json, fragment) in [
        (r#""N/A""#, "'N/A' is not a decimal amount"),
        (r#""""#, "empty string"),
        ("0.1", "a JSON number"),
        ("null", "null"),
        ("[1]", "an array"),
        (r#"{"a":1}"#, "an object"),
        (
            r#""1234567890.123456789012345678901""#,
            "more than 28 significant digits",
        ),
    ] {
        let a: JsonAmount = serde_json::from_str(json).unwrap();
        match a.parse("ETH") {
            Err(ExchangeError::Amount { asset, detail }) => {
                assert_eq!(asset, "ETH");
                assert!(detail.contains(fragment), "{json}: {detail}");
            }
            other => panic!("{json}: {other:?}"),
        }
    }
}

#[test]
fn endpoints_append_to_the_base_path() {
    let base = Url::parse("http://127.0.0.1:8080").unwrap();
    assert_eq!(
        endpoint(&base, "/accounts").as_str(),
        "http://127.0.0.1:8080/accounts"
    );
    let prefixed = Url::parse("https://proxy.example/cb/?x=1").unwrap();
    assert_eq!(
        endpoint(&prefixed, "/api/v3/brokerage/accounts").as_str(),
        "https://proxy.example/cb/api/v3/brokerage/accounts"
    );
}

#[test]
fn env_secrets_name_the_variable_never_a_value() {
    let var = "RECON_HTTP_TEST_UNSET_VARIABLE_X";
    assert_eq!(
        env_secret(Some(var), "api_secret_env").unwrap_err(),
        ExchangeError::Credentials(format!("{var} is not set"))
    );
    assert_eq!(
        env_secret(None, "api_secret_env").unwrap_err(),
        ExchangeError::Credentials("api_secret_env is not configured".into())
    );
}
