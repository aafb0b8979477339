//! The engine's cycle deadline on the real service and store: a client stops at it by
//! itself; the engine's timeout is only a backstop, and even then the report names the
//! last real failure the deadline saw, with its attempts, before "budget exhausted".

mod common;

use std::sync::Arc;

use async_trait::async_trait;

use recon::domain::ExchangeName;
use recon::engine::report::ExchangeStatus;
use recon::engine::PortfolioReconciliationService;
use recon::exchanges::resilience::Deadline;
use recon::exchanges::{ExchangeClient, ExchangeError, ExchangeKind, FetchedBalances};

/// Ignores the deadline (only the required method): the backstop has to cut it off.
struct Deaf(ExchangeName);

#[async_trait]
impl ExchangeClient for Deaf {
    fn name(&self) -> &ExchangeName {
        &self.0
    }
    fn kind(&self) -> ExchangeKind {
        ExchangeKind::Simulated
    }
    async fn fetch_balances(&self) -> Result<FetchedBalances, ExchangeError> {
        std::future::pending().await
    }
}

/// Sends one request that fails with a 503, records it, then is stuck past the deadline.
struct FailsThenSticks(ExchangeName);

#[async_trait]
impl ExchangeClient for FailsThenSticks {
    fn name(&self) -> &ExchangeName {
        &self.0
    }
    fn kind(&self) -> ExchangeKind {
        ExchangeKind::Simulated
    }
    async fn fetch_balances(&self) -> Result<FetchedBalances, ExchangeError> {
        std::future::pending().await
    }
    async fn fetch_balances_until(
        &self,
        deadline: &Deadline,
    ) -> Result<FetchedBalances, ExchangeError> {
        deadline.record_attempt();
        deadline.record_failure(&ExchangeError::Status {
            status: 503,
            message: "Service Unavailable".into(),
            attempts: 1,
        });
        std::future::pending().await
    }
}

#[tokio::test]
async fn the_backstop_names_the_last_real_failure_or_else_the_budget() {
    let mut r = common::rig(
        "[reconciliation]\ncycle_timeout_ms = 100\nfetch_timeout_ms = 50\n",
        "[deaf]\nBTC = \"1\"\n[sticks]\nBTC = \"1\"\n",
        &["deaf", "sticks"],
        |_| {
            vec![
                Arc::new(Deaf(ExchangeName::new("deaf"))) as Arc<dyn ExchangeClient>,
                Arc::new(FailsThenSticks(ExchangeName::new("sticks"))),
            ]
        },
    );
    let rep = r.service.reconcile().await.unwrap();
    let got: Vec<_> = rep
        .exchanges
        .iter()
        .map(|e| (e.status, e.error.clone().unwrap_or_default(), e.attempts))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                ExchangeStatus::Error,
                "cycle budget of 100 ms exhausted".to_string(),
                0
            ),
            (
                ExchangeStatus::Error,
                "HTTP 503: Service Unavailable (1 attempts)".to_string(),
                1
            ),
        ]
    );
    assert!(rep.duration_ms < 1000, "{}", rep.duration_ms);
    r.close();
}
