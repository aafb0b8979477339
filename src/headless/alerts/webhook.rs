//! One webhook POST with a bounded timeout and up to [`MAX_TRIES`] tries with backoff.
//!
//! The URL is a credential (Slack and Discord put the token in the path): reqwest errors
//! embed it, so every message goes through [`describe`], which strips it.

use std::time::Duration;

use url::Url;

/// Tries per POST, the first included.
pub const MAX_TRIES: u32 = 3;
/// Pause before the second try; doubled before the third.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The outcome of one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Requests sent.
    pub attempts: u32,
    /// The HTTP status on success, or a one-line error without the URL.
    pub result: Result<u16, String>,
}

/// POSTs `body` (JSON) to `url`: a 2xx is delivered; a 4xx other than 429 is final (the
/// receiver refuses this message and will again); anything else is tried again after a
/// backoff, up to [`MAX_TRIES`] tries in all.
pub async fn post(client: &reqwest::Client, url: &Url, body: &[u8], timeout: Duration) -> Delivery {
    let mut attempts = 0;
    let mut backoff = FIRST_BACKOFF;
    loop {
        attempts += 1;
        let sent = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body.to_vec())
            .send()
            .await;
        let (result, retry) = match sent {
            Ok(resp) if resp.status().is_success() => (Ok(resp.status().as_u16()), false),
            Ok(resp) => {
                let status = resp.status();
                let retry = status.is_server_error() || status.as_u16() == 429;
                (Err(format!("HTTP {status}")), retry)
            }
            Err(e) => (Err(describe(e, url)), true),
        };
        match result {
            Ok(status) => {
                return Delivery {
                    attempts,
                    result: Ok(status),
                }
            }
            Err(message) if !retry || attempts >= MAX_TRIES => {
                return Delivery {
                    attempts,
                    result: Err(format!(
                        "webhook: {message} after {attempts} attempt{}",
                        if attempts == 1 { "" } else { "s" }
                    )),
                }
            }
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
}

/// A reqwest error as one line, its causes included, never the URL.
pub fn describe(e: reqwest::Error, url: &Url) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut msg = format!("{kind}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    // Belt and braces: no cause may carry the URL or its path (the token) either.
    let mut msg = msg.replace(url.as_str(), "***");
    if url.path().len() > 1 {
        msg = msg.replace(url.path(), "/***");
    }
    super::payload::truncate_chars(&msg.replace(['\n', '\r'], " "), 300)
}
