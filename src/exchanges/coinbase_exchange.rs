//! `CoinbaseExchangeReconciler`: Coinbase Exchange, `GET /accounts` (a bare JSON array,
//! no pagination), HMAC-signed with the `CB-ACCESS-*` headers.
//!
//! The total of an account is its `balance`; a body where `balance ≠ available + hold`
//! is logged as a warning (the documented identity failing means something upstream is
//! off), and the balance is still what is reconciled.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use url::Url;

use super::coinbase::default_base_url;
use super::http::{
    decode, endpoint, env_secret, JsonAmount, ReconcilerBase, RetryAfterUnit, VenueProfile,
};
use super::resilience::{Deadline, RateLimit, RetryPolicy};
use super::{ExchangeClient, ExchangeError, ExchangeKind, FetchedBalances};
use crate::config::ExchangeConfig;
use crate::domain::ExchangeName;

/// Production endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.exchange.coinbase.com";
/// The listing.
pub const ACCOUNTS_PATH: &str = "/accounts";

/// `/accounts` has its own limit of 25/s (bursts to 50), but the general private limit
/// of 15/s (bursts to 30) is what is used: it is the figure every private endpoint of
/// the profile honours, and the profile's key is usually shared with a trading system.
fn profile() -> VenueProfile {
    VenueProfile {
        retry_after: RetryAfterUnit::Seconds,
        rate: RateLimit::new(15, Duration::from_secs(1), 30),
        not_found: None,
        // Reported with 400 as well as 401 over the years: credentials, not the request.
        auth_messages_400: &[
            "invalid signature",
            "request timestamp expired",
            "invalid api key",
            "invalid passphrase",
        ],
    }
}

/// `CB-ACCESS-SIGN`: standard base64 of HMAC-SHA256, keyed with the base64-*decoded*
/// secret, over `timestamp + METHOD + requestPath + body`.
pub fn sign(
    secret: &[u8],
    timestamp: &str,
    method: &str,
    request_path: &str,
    body: &str,
) -> Result<String, ExchangeError> {
    // HMAC takes keys of any length, so this error is unreachable; it is still an error,
    // never an empty signature.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|_| ExchangeError::Credentials("the HMAC key was rejected".into()))?;
    for part in [timestamp, method, request_path, body] {
        mac.update(part.as_bytes());
    }
    Ok(STANDARD.encode(mac.finalize().into_bytes()))
}

/// The key, decoded secret and passphrase of one Exchange API key.
pub struct HmacCredentials {
    key: SecretString,
    secret: SecretSlice<u8>,
    passphrase: SecretString,
}

impl std::fmt::Debug for HmacCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacCredentials(***)")
    }
}

impl HmacCredentials {
    /// Decodes the base64 secret; `secret_var` names its variable in errors.
    pub fn new(
        key: SecretString,
        secret_base64: &SecretString,
        passphrase: SecretString,
        secret_var: &str,
    ) -> Result<Self, ExchangeError> {
        let decoded = STANDARD
            .decode(secret_base64.expose_secret().trim())
            .map_err(|_| ExchangeError::Credentials(format!("{secret_var} is not base64")))?;
        Ok(Self {
            key,
            secret: decoded.into(),
            passphrase,
        })
    }

    /// The four `CB-ACCESS-*` headers for a GET of `request_path` at `timestamp`, all
    /// marked sensitive so no HTTP layer logs them.
    pub fn headers(&self, timestamp: &str, request_path: &str) -> Result<HeaderMap, ExchangeError> {
        let signature = sign(
            self.secret.expose_secret(),
            timestamp,
            "GET",
            request_path,
            "",
        )?;
        let mut headers = HeaderMap::new();
        for (name, value, what) in [
            ("cb-access-key", self.key.expose_secret(), "the API key"),
            ("cb-access-sign", signature.as_str(), "the signature"),
            ("cb-access-timestamp", timestamp, "the timestamp"),
            (
                "cb-access-passphrase",
                self.passphrase.expose_secret(),
                "the passphrase",
            ),
        ] {
            let mut v = HeaderValue::from_str(value).map_err(|_| {
                ExchangeError::Credentials(format!("{what} has characters not allowed in a header"))
            })?;
            v.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), v);
        }
        Ok(headers)
    }
}

#[derive(Deserialize)]
struct RawAccount {
    currency: String,
    balance: JsonAmount,
    #[serde(default)]
    available: Option<JsonAmount>,
    #[serde(default)]
    hold: Option<JsonAmount>,
}

/// A parsed `/accounts` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeAccounts {
    /// (currency, balance) per account, in body order.
    pub rows: Vec<(String, Decimal)>,
    /// Currencies whose `balance` is not `available + hold` (or whose parts are unreadable).
    pub inconsistent: Vec<String>,
}

/// Parses the bare array. `balance` must be an exact decimal string (else
/// [`ExchangeError::Amount`] naming the currency); `available`/`hold` only feed the
/// consistency check.
pub fn parse_accounts(body: &[u8]) -> Result<ExchangeAccounts, ExchangeError> {
    let raw: Vec<RawAccount> = decode(body)?;
    let mut out = ExchangeAccounts {
        rows: Vec::with_capacity(raw.len()),
        inconsistent: Vec::new(),
    };
    for a in &raw {
        let balance = a.balance.parse(&a.currency)?;
        let parts = match (&a.available, &a.hold) {
            (Some(av), Some(h)) => av
                .parse(&a.currency)
                .ok()
                .zip(h.parse(&a.currency).ok())
                .and_then(|(av, h)| crate::domain::exact_add(av, h)),
            _ => None,
        };
        if parts != Some(balance) {
            out.inconsistent.push(a.currency.clone());
        }
        out.rows.push((a.currency.clone(), balance));
    }
    Ok(out)
}

/// The Coinbase Exchange client.
#[derive(Debug)]
pub struct CoinbaseExchangeReconciler {
    name: ExchangeName,
    base_url: Url,
    base: ReconcilerBase,
    credentials: HmacCredentials,
}

impl CoinbaseExchangeReconciler {
    /// Builds the client from its config entry, reading key, secret and passphrase from
    /// the environment variables it names.
    pub fn from_config(
        cfg: &ExchangeConfig,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        let vars = &cfg.credentials;
        let key = env_secret(vars.api_key_env.as_deref(), "api_key_env")?;
        let key = SecretString::from(key.expose_secret().trim());
        let secret = env_secret(vars.api_secret_env.as_deref(), "api_secret_env")?;
        let passphrase = env_secret(vars.passphrase_env.as_deref(), "passphrase_env")?;
        let var = vars.api_secret_env.as_deref().unwrap_or("api_secret_env");
        let credentials = HmacCredentials::new(key, &secret, passphrase, var)?;
        let base_url = match &cfg.base_url {
            Some(u) => u.clone(),
            None => default_base_url(DEFAULT_BASE_URL)?,
        };
        Self::new(cfg.name.clone(), base_url, credentials, policy, timeout)
    }

    /// Builds the client directly (tests).
    pub fn new(
        name: ExchangeName,
        base_url: Url,
        credentials: HmacCredentials,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        Ok(Self {
            base: ReconcilerBase::new(&base_url, policy, timeout, profile())?,
            name,
            base_url,
            credentials,
        })
    }
}

#[async_trait]
impl ExchangeClient for CoinbaseExchangeReconciler {
    fn name(&self) -> &ExchangeName {
        &self.name
    }

    fn kind(&self) -> ExchangeKind {
        ExchangeKind::CoinbaseExchange
    }

    async fn fetch_balances(&self) -> Result<FetchedBalances, ExchangeError> {
        self.fetch(None).await
    }

    async fn fetch_balances_until(
        &self,
        deadline: &Deadline,
    ) -> Result<FetchedBalances, ExchangeError> {
        self.fetch(Some(deadline)).await
    }
}

impl CoinbaseExchangeReconciler {
    /// One fetch, under the cycle deadline when there is one.
    async fn fetch(&self, deadline: Option<&Deadline>) -> Result<FetchedBalances, ExchangeError> {
        let url = endpoint(&self.base_url, ACCOUNTS_PATH);
        let path = url.path().to_string();
        let (body, attempts) = self
            .base
            .get(&url, deadline, || {
                let timestamp = chrono::Utc::now().timestamp().to_string();
                self.credentials.headers(&timestamp, &path)
            })
            .await?;
        let parsed = parse_accounts(&body)?;
        for currency in &parsed.inconsistent {
            tracing::warn!(
                exchange = %self.name,
                currency = %currency,
                "balance is not available + hold; reconciling balance"
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

    fn fixture(path: &str) -> Vec<u8> {
        let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    #[test]
    fn hmac_matches_every_vector() {
        let all: serde_json::Value =
            serde_json::from_slice(&fixture("auth_vectors_synthetic.json")).unwrap();
        let v = &all["coinbase_exchange_hmac"];
        let secret = STANDARD
            .decode(v["secret_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            hex::encode(&secret),
            v["secret_bytes_hex"].as_str().unwrap()
        );
        let vectors = v["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 3);
        for t in vectors {
            let s = |k: &str| t[k].as_str().unwrap();
            assert_eq!(
                sign(
                    &secret,
                    s("timestamp"),
                    s("method"),
                    s("request_path"),
                    s("body")
                )
                .unwrap(),
                s("expected_cb_access_sign"),
                "{}",
                s("prehash")
            );
        }
    }

    #[test]
    fn headers_carry_the_signature_and_are_sensitive() {
        let creds = HmacCredentials::new(
            "key-1".into(),
            &"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==".into(),
            "pass phrase".into(),
            "V",
        )
        .unwrap();
        let h = creds.headers("1732492800", "/accounts").unwrap();
        assert_eq!(
            h["cb-access-sign"],
            "qNFqliiicQIL9yRHLF1cA2xIMrSCAhcCrbj27uRr9p4="
        );
        assert!(h.values().all(|v| v.is_sensitive()));
        assert_eq!(format!("{creds:?}"), "HmacCredentials(***)");
        let err = HmacCredentials::new("k".into(), &"not base64!".into(), "p".into(), "CBX_SECRET")
            .unwrap_err();
        assert_eq!(err.to_string(), "credentials: CBX_SECRET is not base64");
    }

    #[test]
    fn balances_are_summed_per_currency_and_inconsistencies_flagged() {
        let expect = [
            (
                "accounts.json",
                "BTC 1.25, DOGE 0, ETH 10, LTC 0, USD 80.230137306693, USDC 2500.123456",
            ),
            ("accounts_docs_example.json", "BTC 0, USD 80.230137306693"),
            ("accounts_ccxt_capture.json", "BTC 0, USDC 0"),
            (
                "accounts_with_optional_fields.json",
                "BTC 1.25, DOGE 0, ETH 10, LTC 0, USD 80.230137306693, USDC 2500.123456",
            ),
        ];
        for (file, want) in expect {
            let parsed = parse_accounts(&fixture(&format!("coinbase_exchange/{file}"))).unwrap();
            assert!(
                parsed.inconsistent.is_empty(),
                "{file}: {:?}",
                parsed.inconsistent
            );
            let got = sum_by_asset(parsed.rows)
                .unwrap()
                .into_iter()
                .map(|(a, d)| format!("{a} {}", format_amount(d)))
                .collect::<Vec<_>>()
                .join(", ");
            assert_eq!(got, want, "{file}");
        }
        let odd = br#"[{"currency":"BTC","balance":"2","available":"1","hold":"0.5"}]"#;
        assert_eq!(
            parse_accounts(odd).unwrap().inconsistent,
            vec!["BTC".to_string()]
        );
    }

    #[test]
    fn bad_bodies_are_typed_errors() {
        let err = parse_accounts(&fixture(
            "coinbase_exchange/accounts_non_numeric_amount_synthetic.json",
        ))
        .unwrap_err();
        assert_eq!(
            err,
            ExchangeError::Amount {
                asset: "USDC".into(),
                detail: "'2,500.12' is not a decimal amount".into()
            }
        );
        let err = parse_accounts(&fixture(
            "coinbase_exchange/accounts_truncated_synthetic.json",
        ))
        .unwrap_err();
        assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
        let err = parse_accounts(br#"{"message":"nope"}"#).unwrap_err();
        assert!(matches!(err, ExchangeError::Malformed(_)), "{err:?}");
    }
}
