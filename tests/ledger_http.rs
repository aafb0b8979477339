//! The `http` ledger against a real server on 127.0.0.1: same shape as the file, as JSON.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use recon::config::LedgerConfig;
use recon::ledger::{LedgerError, LedgerSource};

async fn serve(status: StatusCode, body: &'static str) -> SocketAddr {
    let app = Router::new().route("/balances", get(move || async move { (status, body) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn source(addr: SocketAddr) -> LedgerSource {
    let url = format!("http://{addr}/balances").parse().unwrap();
    LedgerSource::from_config(
        &LedgerConfig::Http { url },
        std::time::Duration::from_secs(2),
    )
}

#[tokio::test]
async fn reads_the_json_ledger_exactly() {
    let addr = serve(
        StatusCode::OK,
        r#"{"coinbase-main": {"btc": "1.50000000", "USD": 1000}, "dydx": {}}"#,
    )
    .await;
    let ledger = source(addr).read().await.unwrap();
    let cb = ledger[&recon::domain::ExchangeName::new("coinbase-main")]
        .as_ref()
        .unwrap();
    let got: Vec<_> = cb.iter().map(|(a, v)| format!("{a}={v}")).collect();
    assert_eq!(got, ["BTC=1.5", "USD=1000"]);
}

#[tokio::test]
async fn errors_name_the_endpoint_and_the_cause() {
    let addr = serve(StatusCode::INTERNAL_SERVER_ERROR, "boom").await;
    let err = source(addr).read().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("ledger http://{addr}/balances: HTTP 500")
    );
    // A float is an error of that exchange only.
    let addr = serve(StatusCode::OK, r#"{"x": {"BTC": 1.5}}"#).await;
    let ledger = source(addr).read().await.unwrap();
    let err = ledger[&recon::domain::ExchangeName::new("x")]
        .as_ref()
        .unwrap_err();
    assert!(matches!(err, LedgerError::Float { .. }), "{err}");
    let addr = serve(StatusCode::OK, r#"{"x": {"BTC": "1.5"}"#).await;
    let err = source(addr).read().await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "ledger http://{addr}/balances: not a JSON ledger object: EOF"
        )),
        "{err}"
    );
    // Nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = source(closed).read().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("ledger http://{closed}/balances: connection failed")
    );
}
