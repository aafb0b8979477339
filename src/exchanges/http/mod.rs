//! The one base the three real reconcilers share ([`ReconcilerBase`]): a reqwest client,
//! the retry policy and per-request timeout, a client-side rate limiter, per-attempt
//! signing, and one mapping from HTTP outcomes to [`AttemptFailure`]s. Each venue only
//! adds its URL, its signer and its body parser.
//!
//! Error texts built here quote the response body only (truncated, one line), never a
//! request header and never the URL, so no credential can reach a report or a log.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use rust_decimal::Decimal;
use secrecy::SecretString;
use url::Url;

use super::resilience::{
    run_paced_with_retry, AttemptFailure, Deadline, RateLimit, RateLimiter, RetryPolicy,
};
use super::ExchangeError;
use crate::domain::parse_amount;

mod json;

pub use json::{decode, JsonAmount};

/// Longest error message quoted from a response body.
const MESSAGE_MAX_CHARS: usize = 120;
/// Largest successful body accepted (a 250-account Coinbase page is about 200 KiB).
const BODY_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Of an error body, only this much is read: enough for any message, not a whole page.
const ERROR_BODY_MAX_BYTES: usize = 16 * 1024;

/// Unit of a venue's `Retry-After` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfterUnit {
    /// HTTP's unit (Coinbase, Coinbase Exchange).
    Seconds,
    /// The dYdX indexer writes its limiter's `msBeforeNext` unconverted.
    Milliseconds,
}

impl RetryAfterUnit {
    /// Reads a `Retry-After` value as a delay; `None` when it is not a plain number
    /// (an HTTP date is treated as absent: the backoff applies instead).
    pub fn parse(self, raw: &str) -> Option<Duration> {
        let raw = raw.trim();
        let whole = raw.parse::<u64>().ok();
        match self {
            Self::Milliseconds => whole.map(Duration::from_millis),
            Self::Seconds => whole.map(Duration::from_secs).or_else(|| {
                // "1.5": exact decimal seconds, never through f64.
                let secs = parse_amount(raw).ok().filter(|d| !d.is_sign_negative())?;
                // An absurd value means "wait too long": the retry loop then gives up.
                let ms = secs
                    .checked_mul(Decimal::ONE_THOUSAND)
                    .and_then(|ms| u64::try_from(ms.trunc()).ok())
                    .unwrap_or(u64::MAX);
                Some(Duration::from_millis(ms))
            }),
        }
    }
}

/// What differs between venues in how their HTTP answers are read.
#[derive(Debug, Clone)]
pub struct VenueProfile {
    /// Unit of `Retry-After`.
    pub retry_after: RetryAfterUnit,
    /// Client-side limit.
    pub rate: RateLimit,
    /// When set, a 404 is this configuration error (dYdX: the subaccount does not exist).
    pub not_found: Option<String>,
    /// Messages that make a 400 an authentication failure (Coinbase Exchange answers a bad
    /// signature or an expired timestamp with 400).
    pub auth_messages_400: &'static [&'static str],
}

/// The shared base: everything a reconciler needs to GET one resource robustly.
#[derive(Debug)]
pub struct ReconcilerBase {
    client: reqwest::Client,
    policy: RetryPolicy,
    timeout: Duration,
    limiter: RateLimiter,
    profile: VenueProfile,
}

impl ReconcilerBase {
    /// Builds the HTTP client for `base_url`. Redirects are not followed (a redirected
    /// balance request is an error to look at, and must not carry credentials elsewhere);
    /// a loopback base URL bypasses any configured proxy.
    pub fn new(
        base_url: &Url,
        policy: RetryPolicy,
        timeout: Duration,
        profile: VenueProfile,
    ) -> Result<Self, ExchangeError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("recon/", env!("CARGO_PKG_VERSION")));
        if is_loopback(base_url) {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|_| ExchangeError::Config("cannot initialise the HTTP client".into()))?;
        Ok(Self {
            client,
            policy,
            timeout,
            limiter: RateLimiter::new(profile.rate),
            profile,
        })
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GETs `url` under the retry policy, asking `sign` for fresh headers on every
    /// attempt (a JWT or HMAC must not be replayed). Returns the 2xx body and the number
    /// of attempts. Under a cycle `deadline`, no attempt or wait starts past it and each
    /// attempt's timeout is clamped to the time left.
    pub async fn get<S>(
        &self,
        url: &Url,
        deadline: Option<&Deadline>,
        sign: S,
    ) -> Result<(Vec<u8>, u32), ExchangeError>
    where
        S: Fn() -> Result<HeaderMap, ExchangeError>,
    {
        let sign = &sign;
        run_paced_with_retry(
            &self.policy,
            self.timeout,
            deadline,
            || self.limiter.acquire(),
            |attempt| async move {
                let headers = sign().map_err(AttemptFailure::Fatal)?;
                let resp = self
                    .client
                    .get(url.clone())
                    .headers(headers)
                    .send()
                    .await
                    .map_err(|e| transport_failure(&e))?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let success = (200..300).contains(&status);
                let body = read_body(resp, success).await?;
                classify(status, &headers, &body, &self.profile, attempt)?;
                Ok(body)
            },
        )
        .await
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Reads the body. A success body larger than the cap is an error (never a silently
/// shortened listing); an error body is only read far enough to quote it.
async fn read_body(mut resp: reqwest::Response, success: bool) -> Result<Vec<u8>, AttemptFailure> {
    let cap = if success {
        BODY_MAX_BYTES
    } else {
        ERROR_BODY_MAX_BYTES
    };
    // Sized from Content-Length (within the cap) when the server sends one: a 150 KB
    // page read into a growing Vec was copied five times and its last doubling (256 KiB)
    // went to mmap and back.
    let announced = resp.content_length().unwrap_or(0).min(cap as u64);
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_failure(&e))? {
        if body.len() + chunk.len() > cap {
            if success {
                return Err(AttemptFailure::Fatal(ExchangeError::Malformed(format!(
                    "response body larger than {} MiB",
                    BODY_MAX_BYTES / (1024 * 1024)
                ))));
            }
            body.extend_from_slice(&chunk[..cap - body.len()]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Maps a transport error to a retryable failure whose text has no URL in it: reqwest's
/// own Display embeds the URL, so only the innermost cause is quoted.
fn transport_failure(e: &reqwest::Error) -> AttemptFailure {
    if e.is_builder() {
        return AttemptFailure::Fatal(ExchangeError::Config("invalid request URL".into()));
    }
    let mut innermost: Option<String> = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    let fallback = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body could not be read"
    } else {
        "request failed"
    };
    AttemptFailure::Connect(one_line(innermost.as_deref().unwrap_or(fallback)))
}

/// Maps a complete response to success or a failure the retry loop understands. Pure, so
/// every status is unit-tested without a socket.
pub fn classify(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    profile: &VenueProfile,
    attempt: u32,
) -> Result<(), AttemptFailure> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let message = error_message(body, content_type);
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| profile.retry_after.parse(v));
    Err(match status {
        429 => AttemptFailure::RateLimited { retry_after },
        500..=599 => AttemptFailure::Server {
            status,
            message,
            retry_after,
        },
        401 | 403 => AttemptFailure::Fatal(ExchangeError::Auth { status, message }),
        400 if profile
            .auth_messages_400
            .iter()
            .any(|m| message.eq_ignore_ascii_case(m)) =>
        {
            AttemptFailure::Fatal(ExchangeError::Auth { status, message })
        }
        404 if profile.not_found.is_some() => AttemptFailure::Fatal(ExchangeError::Config(
            profile.not_found.clone().unwrap_or_default(),
        )),
        _ => AttemptFailure::Fatal(ExchangeError::Status {
            status,
            message,
            attempts: attempt,
        }),
    })
}

/// The human message of an error body, one line, at most ~120 characters: Coinbase's and
/// Coinbase Exchange's `{"message"}`, dYdX's `{"errors":[{"msg"}]}`, plain text as is,
/// and for an HTML page only its title (the page itself is kilobytes of markup).
pub fn error_message(body: &[u8], content_type: &str) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let found = v
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| v.pointer("/errors/0/msg").and_then(|m| m.as_str()))
            .or_else(|| v.get("error_details").and_then(|m| m.as_str()))
            .or_else(|| v.get("error").and_then(|m| m.as_str()));
        return match found {
            Some(m) if !m.trim().is_empty() => one_line(m),
            _ => "unrecognised error body".into(),
        };
    }
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "empty body".into();
    }
    if content_type.contains("html") || trimmed.starts_with('<') {
        return match html_title(trimmed) {
            Some(title) => one_line(&format!("HTML error page '{title}'")),
            None => "HTML error page".into(),
        };
    }
    one_line(trimmed)
}

fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let len = lower.get(start..)?.find("</title>")?;
    let title = html.get(start..start + len)?.trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// Collapses whitespace and control characters and truncates, so hostile or bulky text
/// cannot break a one-line message.
pub fn one_line(raw: &str) -> String {
    let collapsed = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if collapsed.chars().count() <= MESSAGE_MAX_CHARS {
        collapsed
    } else {
        let head: String = collapsed.chars().take(MESSAGE_MAX_CHARS).collect();
        format!("{head}…")
    }
}

/// `base` with `path` appended to whatever path the base already has (a sandbox or
/// proxy may mount the API under a prefix). Query and fragment are dropped.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Reads the secret held by the environment variable `var` (named by `field` of the
/// config). Unset or empty is a credentials error naming the variable, never a value.
pub fn env_secret(var: Option<&str>, field: &str) -> Result<SecretString, ExchangeError> {
    let var =
        var.ok_or_else(|| ExchangeError::Credentials(format!("{field} is not configured")))?;
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v)),
        Ok(_) | Err(std::env::VarError::NotPresent) => {
            Err(ExchangeError::Credentials(format!("{var} is not set")))
        }
        Err(std::env::VarError::NotUnicode(_)) => Err(ExchangeError::Credentials(format!(
            "{var} is not valid UTF-8"
        ))),
    }
}

#[cfg(test)]
mod tests;
