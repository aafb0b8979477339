//! `CoinbaseReconciler`: Coinbase Advanced Trade, `GET /api/v3/brokerage/accounts`.
//!
//! Follows `cursor` while `has_next` (250 accounts a page) and sums
//! `available_balance + hold` over every account of every page: vaults and accounts on
//! other platforms sit beside the default wallet and must add up. An inconsistent chain
//! (a `has_next` without a cursor, a cursor seen before, more pages than the cap) fails
//! the fetch — a partial listing is never reported as a smaller balance.

pub mod auth;
pub mod parse;

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use auth::{jwt_uri, CdpKey, JwtSigner};
pub use parse::{parse_accounts_page, AccountsPage};

use super::http::{endpoint, env_secret, one_line, ReconcilerBase, RetryAfterUnit, VenueProfile};
use super::resilience::{RateLimit, RetryPolicy};
use super::{sum_by_asset, Coverage, ExchangeClient, ExchangeError, ExchangeKind, FetchedBalances};
use crate::config::ExchangeConfig;
use crate::domain::ExchangeName;

/// Production endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.coinbase.com";
/// The listing.
pub const ACCOUNTS_PATH: &str = "/api/v3/brokerage/accounts";
/// Page size asked for (the API's maximum; its default is 49).
pub const PAGE_LIMIT: u32 = 250;
/// Pages read at most before the listing is declared incomplete (250 000 accounts).
pub const MAX_PAGES: u32 = 1000;

/// Coinbase Advanced Trade's private limit is 30 requests/s per user. The burst is kept
/// at 10 rather than 30 so that, with the bucket full, a second's worth of requests never
/// exceeds the limit by more than a third — the key may be shared with a trading bot.
fn profile() -> VenueProfile {
    VenueProfile {
        retry_after: RetryAfterUnit::Seconds,
        rate: RateLimit::new(30, Duration::from_secs(1), 10),
        not_found: None,
        auth_messages_400: &[],
    }
}

/// The Coinbase Advanced Trade client.
#[derive(Debug)]
pub struct CoinbaseReconciler {
    name: ExchangeName,
    base_url: Url,
    base: ReconcilerBase,
    signer: JwtSigner,
    max_pages: u32,
}

impl CoinbaseReconciler {
    /// Builds the client from its config entry, reading the key name and the private key
    /// from the environment variables it names.
    pub fn from_config(
        cfg: &ExchangeConfig,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        let vars = &cfg.credentials;
        // A key name copied with a trailing newline would end up inside the JWT's kid.
        let key_name = env_secret(vars.api_key_env.as_deref(), "api_key_env")?;
        let key_name = SecretString::from(key_name.expose_secret().trim());
        let secret = env_secret(vars.api_secret_env.as_deref(), "api_secret_env")?;
        let var = vars.api_secret_env.as_deref().unwrap_or("api_secret_env");
        let key = CdpKey::parse(secret.expose_secret(), var)?;
        let base_url = match &cfg.base_url {
            Some(u) => u.clone(),
            None => default_base_url(DEFAULT_BASE_URL)?,
        };
        Self::new(
            cfg.name.clone(),
            base_url,
            JwtSigner::new(key_name, key),
            policy,
            timeout,
        )
    }

    /// Builds the client directly (tests, benchmarks).
    pub fn new(
        name: ExchangeName,
        base_url: Url,
        signer: JwtSigner,
        policy: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        Ok(Self {
            base: ReconcilerBase::new(&base_url, policy, timeout, profile())?,
            name,
            base_url,
            signer,
            max_pages: MAX_PAGES,
        })
    }

    /// Lowers the page cap (tests of the cap).
    pub fn with_max_pages(mut self, max_pages: u32) -> Self {
        self.max_pages = max_pages.max(1);
        self
    }

    fn page_url(&self, cursor: Option<&str>) -> Url {
        let mut url = endpoint(&self.base_url, ACCOUNTS_PATH);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &PAGE_LIMIT.to_string());
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        url
    }

    fn auth_headers(&self, uri: &str) -> Result<HeaderMap, ExchangeError> {
        let token = self.signer.fresh_token(uri)?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ExchangeError::Credentials("the JWT is not a valid header".into()))?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        Ok(headers)
    }
}

/// Parses a built-in default URL (a constant, but no panic path either way).
pub(crate) fn default_base_url(raw: &str) -> Result<Url, ExchangeError> {
    Url::parse(raw).map_err(|_| ExchangeError::Config(format!("invalid default URL {raw}")))
}

#[async_trait]
impl ExchangeClient for CoinbaseReconciler {
    fn name(&self) -> &ExchangeName {
        &self.name
    }

    fn kind(&self) -> ExchangeKind {
        ExchangeKind::Coinbase
    }

    async fn fetch_balances(&self) -> Result<FetchedBalances, ExchangeError> {
        // Signed without the query string, on every page.
        let uri = jwt_uri(&endpoint(&self.base_url, ACCOUNTS_PATH));
        let mut cursor: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
        let mut rows = Vec::new();
        let (mut pages, mut attempts) = (0u32, 0u32);
        loop {
            if pages >= self.max_pages {
                return Err(ExchangeError::Incomplete(format!(
                    "more than {} pages; stopped without a total",
                    self.max_pages
                ))
                .with_prior_attempts(attempts));
            }
            let url = self.page_url(cursor.as_deref());
            let (body, n) = self
                .base
                .get(&url, || self.auth_headers(&uri))
                .await
                .map_err(|e| e.with_prior_attempts(attempts))?;
            attempts += n;
            pages += 1;
            let page = parse_accounts_page(&body)?;
            rows.extend(page.rows);
            if !page.has_next {
                break;
            }
            let next = match page.cursor {
                Some(c) if !c.is_empty() => c,
                _ => {
                    return Err(ExchangeError::Incomplete(format!(
                        "page {pages} says has_next but gives no cursor"
                    )))
                }
            };
            if !seen.insert(next.clone()) {
                return Err(ExchangeError::Incomplete(format!(
                    "cursor '{}' repeated at page {pages} (loop)",
                    one_line(&next)
                )));
            }
            cursor = Some(next);
        }
        let row_count = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        Ok(FetchedBalances {
            totals: sum_by_asset(rows)?,
            coverage: Coverage {
                pages,
                rows: row_count,
                complete: true,
            },
            attempts,
        })
    }
}
