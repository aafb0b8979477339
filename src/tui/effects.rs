//! Effects: what the app asks of the engine. `App::update` returns one instead of
//! awaiting it; the loop hands it to [`EffectRunner::spawn`], which runs it in a task and
//! feeds the reply back as an [`Action`]. Nothing in the UI loop awaits the network or
//! the disk.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::app::Action;
use chrono::TimeDelta;
use rust_decimal::Decimal;

use crate::domain::{now_millis, Asset, DiscrepancyId, ExchangeName};
use crate::engine::{ReconciliationHandle, SeenGap};
use crate::store::expectations::NewExpectation;

/// A request to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run a cycle now (or right after the one in flight).
    Reconcile,
    /// Acknowledge `exchange:asset`.
    Acknowledge {
        /// The exchange.
        exchange: ExchangeName,
        /// The asset.
        asset: Asset,
        /// Who ($USER).
        by: String,
        /// Why.
        note: String,
        /// The gap the prompt showed; the store refuses if it is no longer the one open.
        seen: SeenGap,
        /// Snooze: the acknowledgement lapses this long after it is recorded.
        snooze: Option<TimeDelta>,
    },
    /// Withdraw the acknowledgement of `exchange:asset`.
    Withdraw {
        /// The exchange.
        exchange: ExchangeName,
        /// The asset.
        asset: Asset,
        /// Who ($USER).
        by: String,
    },
    /// Declare a movement in flight on `exchange:asset`.
    Expect {
        /// The exchange.
        exchange: ExchangeName,
        /// The asset.
        asset: Asset,
        /// The expected difference (exchange − local).
        difference: Decimal,
        /// How long it holds.
        lasts: TimeDelta,
        /// Who ($USER).
        by: String,
        /// Why.
        note: String,
        /// The gap the prompt showed; the store refuses if it is no longer the one open.
        seen: SeenGap,
    },
    /// Pause or resume the interval loop.
    SetPaused(bool),
    /// Load audit entries strictly before `before` (newest first).
    LoadAuditPage {
        /// Cursor (`None`: the newest entries).
        before: Option<i64>,
        /// Page size.
        limit: u32,
        /// Echoed back so a superseded answer is ignored.
        generation: u64,
    },
    /// Load a discrepancy's history for the detail view: its latest balance snapshots and
    /// a page of its audit entries strictly before `before` (newest first).
    LoadDiscrepancyHistory {
        /// The exchange.
        exchange: ExchangeName,
        /// The asset.
        asset: Asset,
        /// Snapshot points (the latest ones).
        points: u32,
        /// Audit cursor (`None`: the newest entries).
        before: Option<i64>,
        /// Audit entries per page.
        limit: u32,
        /// Echoed back so a superseded answer is ignored.
        generation: u64,
    },
}

/// Runs an effect to completion and returns the action that reports its outcome.
pub async fn run(effect: Effect, handle: &ReconciliationHandle) -> Option<Action> {
    match effect {
        Effect::Reconcile => handle
            .request_reconcile()
            .err()
            .map(|e| Action::EffectFailed {
                what: "reconcile",
                error: Arc::new(e),
            }),
        Effect::SetPaused(paused) => {
            handle
                .set_paused(paused)
                .await
                .err()
                .map(|e| Action::EffectFailed {
                    what: if paused { "pause" } else { "resume" },
                    error: Arc::new(e),
                })
        }
        Effect::Acknowledge {
            exchange,
            asset,
            by,
            note,
            seen,
            snooze,
        } => {
            let id = DiscrepancyId::new(&exchange, &asset);
            let expires_at = snooze.map(|s| now_millis() + s);
            let result = handle
                .acknowledge_until(exchange, asset, by, note, Some(seen), expires_at)
                .await;
            Some(Action::Acknowledged {
                id,
                result: result.map(Box::new).map_err(Arc::new),
            })
        }
        Effect::Withdraw {
            exchange,
            asset,
            by,
        } => {
            let id = DiscrepancyId::new(&exchange, &asset);
            let result = handle
                .withdraw_acknowledgement(exchange, asset, by, String::new())
                .await;
            Some(Action::Withdrawn {
                id,
                result: result.map(Box::new).map_err(Arc::new),
            })
        }
        Effect::Expect {
            exchange,
            asset,
            difference,
            lasts,
            by,
            note,
            seen,
        } => {
            let id = DiscrepancyId::new(&exchange, &asset);
            let created_at = now_millis();
            let new = NewExpectation {
                exchange,
                asset,
                difference,
                by,
                note,
                created_at,
                expires_at: created_at + lasts,
            };
            let result = handle.declare_expectation(new, Some(seen)).await;
            Some(Action::Expected {
                id,
                result: result.map(Box::new).map_err(Arc::new),
            })
        }
        Effect::LoadAuditPage {
            before,
            limit,
            generation,
        } => {
            let result = handle.audit_page(before, limit).await;
            Some(Action::AuditLoaded {
                generation,
                result: result.map_err(Arc::new),
            })
        }
        Effect::LoadDiscrepancyHistory {
            exchange,
            asset,
            points,
            before,
            limit,
            generation,
        } => {
            let result = handle
                .store()
                .call(move |repo| {
                    repo.discrepancy_history(&exchange, &asset, points, before, limit)
                })
                .await;
            Some(Action::HistoryLoaded {
                generation,
                result: result.map_err(|e| Arc::new(e.into())),
            })
        }
    }
}

/// Spawns effects and collects their tasks so shutdown can stop the stragglers (and
/// drop their engine handles) before the store thread is joined.
pub struct EffectRunner {
    handle: ReconciliationHandle,
    results: mpsc::UnboundedSender<Action>,
    tasks: JoinSet<()>,
}

impl EffectRunner {
    /// Results go to `results`.
    pub fn new(handle: ReconciliationHandle, results: mpsc::UnboundedSender<Action>) -> Self {
        Self {
            handle,
            results,
            tasks: JoinSet::new(),
        }
    }

    /// Runs `effect` in its own task.
    pub fn spawn(&mut self, effect: Effect) {
        // Reap finished tasks so the set does not grow over a day of use.
        while self.tasks.try_join_next().is_some() {}
        let handle = self.handle.clone();
        let results = self.results.clone();
        self.tasks.spawn(async move {
            if let Some(action) = run(effect, &handle).await {
                // The loop has ended if nobody listens; the outcome no longer matters.
                let _ = results.send(action);
            }
        });
    }

    /// Lets running effects finish (an acknowledgement typed just before `q` must still
    /// be recorded), then aborts whatever is left after `grace`.
    pub async fn shutdown(mut self, grace: Duration) {
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!("effects still running at shutdown were cancelled");
        }
        self.tasks.shutdown().await;
    }
}
