//! Placeholder until the real client lands (issue 4).

use std::time::Duration;

use super::resilience::RetryPolicy;
use super::{ExchangeClient, ExchangeError};
use crate::config::ExchangeConfig;

/// Client for this venue.
pub struct DydxReconciler;

impl DydxReconciler {
    /// Builds the client.
    pub fn from_config(
        _cfg: &ExchangeConfig,
        _policy: RetryPolicy,
        _timeout: Duration,
    ) -> Result<Box<dyn ExchangeClient>, ExchangeError> {
        Err(ExchangeError::Config(
            "this exchange kind is not supported yet".into(),
        ))
    }
}
