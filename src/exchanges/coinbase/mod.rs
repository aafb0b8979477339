//! `CoinbaseReconciler`: Coinbase Advanced Trade, `GET /api/v3/brokerage/accounts`.
//!
//! Follows `cursor` while `has_next` (250 accounts a page) and sums
//! `available_balance + hold` over every account of every page: vaults and accounts on
//! other platforms sit beside the default wallet and must add up. An inconsistent chain
//! (a `has_next` without a cursor, a cursor seen before, more pages than the cap) fails
//! the fetch — a partial listing is never reported as a smaller balance. An account
//! (`uuid`) listed twice is counted once, or fails the fetch when its two listings
//! disagree — never an inflated total.

pub mod auth;
pub mod parse;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use auth::{jwt_uri, CdpKey, JwtSigner};
pub use parse::{parse_accounts_page, AccountsPage};

use super::http::{endpoint, env_secret, one_line, ReconcilerBase, RetryAfterUnit, VenueProfile};
use super::resilience::{Deadline, RateLimit, RetryPolicy};
use super::{sum_by_asset, Coverage, ExchangeClient, ExchangeError, ExchangeKind, FetchedBalances};
use crate::config::ExchangeConfig;
use crate::domain::{format_amount, ExchangeName};

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

/// The accounts of a listing, each counted once. A cursor that shifts under a newly
/// created account (offset-like paging) repeats an account of the previous page; summing
/// it twice would inflate the total while the listing looks complete.
#[derive(Default)]
struct Accounts {
    /// uuid → (page first seen, index into `rows`).
    by_uuid: HashMap<String, (u32, usize)>,
    rows: Vec<(String, Decimal)>,
    /// Rows skipped as exact repeats.
    repeated: u32,
}

impl Accounts {
    /// Adds one page's rows. The same uuid with the same currency and amount counts
    /// once; with anything different the listing contradicts itself and no total is
    /// given.
    fn add(
        &mut self,
        uuids: Vec<String>,
        rows: Vec<(String, Decimal)>,
        page: u32,
    ) -> Result<(), ExchangeError> {
        for (uuid, row) in uuids.into_iter().zip(rows) {
            match self.by_uuid.get(&uuid) {
                None => {
                    self.by_uuid.insert(uuid, (page, self.rows.len()));
                    self.rows.push(row);
                }
                Some(&(first_page, i)) => {
                    let (currency, amount) = &self.rows[i];
                    if *currency == row.0 && *amount == row.1 {
                        self.repeated += 1;
                        continue;
                    }
                    return Err(ExchangeError::Inconsistent(format!(
                        "account {} is listed on page {first_page} as {} {} and on page {page} as {} {}",
                        one_line(&uuid),
                        format_amount(*amount),
                        one_line(currency),
                        format_amount(row.1),
                        one_line(&row.0),
                    )));
                }
            }
        }
        Ok(())
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
        self.fetch(None).await
    }

    async fn fetch_balances_until(
        &self,
        deadline: &Deadline,
    ) -> Result<FetchedBalances, ExchangeError> {
        self.fetch(Some(deadline)).await
    }
}

impl CoinbaseReconciler {
    /// One fetch, under the cycle deadline when there is one.
    async fn fetch(&self, deadline: Option<&Deadline>) -> Result<FetchedBalances, ExchangeError> {
        // Signed without the query string, on every page.
        let uri = jwt_uri(&endpoint(&self.base_url, ACCOUNTS_PATH));
        let mut cursor: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
        let mut accounts = Accounts::default();
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
                .get(&url, deadline, || self.auth_headers(&uri))
                .await
                .map_err(|e| e.with_prior_attempts(attempts))?;
            attempts += n;
            pages += 1;
            let page = parse_accounts_page(&body)?;
            accounts.add(page.uuids, page.rows, pages)?;
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
        if accounts.repeated > 0 {
            tracing::info!(
                exchange = %self.name,
                repeated = accounts.repeated,
                "accounts listed on more than one page with the same balance; counted once"
            );
        }
        let rows = accounts.rows;
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    const CURRENCIES: [&str; 3] = ["BTC", "ETH", "USDC"];

    proptest! {
        /// However a shifting cursor repeats accounts at page boundaries, the totals are
        /// the sums over distinct accounts.
        #[test]
        fn repeated_accounts_never_inflate_the_totals(
            accounts in vec((0usize..3, 0i64..1_000_000_000, 0u32..9), 1..40),
            page_size in 1usize..8,
            repeat in vec(0usize..3, 40),
        ) {
            let listed: Vec<(String, String, Decimal)> = accounts
                .iter()
                .enumerate()
                .map(|(i, (c, m, s))| (format!("uuid-{i}"), CURRENCIES[*c].to_string(), Decimal::new(*m, *s)))
                .collect();
            let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
            for (_, c, d) in &listed {
                *expected.entry(c.clone()).or_default() += *d;
            }
            let mut acc = Accounts::default();
            let mut previous: Vec<(String, String, Decimal)> = Vec::new();
            for (p, chunk) in listed.chunks(page_size).enumerate() {
                // The page starts with up to `repeat[p]` accounts from the end of the last one.
                let shifted = repeat[p].min(previous.len());
                let page: Vec<_> = previous[previous.len() - shifted..]
                    .iter()
                    .chain(chunk)
                    .cloned()
                    .collect();
                let uuids = page.iter().map(|(u, _, _)| u.clone()).collect();
                let rows = page.iter().map(|(_, c, d)| (c.clone(), *d)).collect();
                acc.add(uuids, rows, p as u32 + 1).unwrap();
                previous = chunk.to_vec();
            }
            prop_assert_eq!(acc.rows.len(), listed.len());
            let got: BTreeMap<String, Decimal> = sum_by_asset(acc.rows)
                .unwrap()
                .into_iter()
                .map(|(a, d)| (a.to_string(), d))
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
