//! The alert dispatcher: its own task consumes the actor's broadcast of reports, asks the
//! [`policy`] what is news, POSTs it to `[alerts] webhook_url` ([`webhook`], [`payload`])
//! and stores what was sent (with `alert_sent` / `alert_failed` audit entries) through the
//! store thread. It never blocks the engine: a slow webhook only makes this task lag,
//! which it logs and skips (the policy works from whole reports, so a skipped report
//! delays news, never loses it). A failure is logged, counted and audited, never fatal.
//!
//! Delivery is at least once: state is stored after the POST, so a crash between the
//! two re-sends that one event after the restart; nothing is ever silently dropped.

pub mod payload;
pub mod policy;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::TradingConfig;
use crate::engine::ReconciliationReport;
use crate::store::alerts::AlertRecord;
use crate::store::thread::StoreHandle;
use crate::store::{AuditEvent, AuditKind};

/// Starts the dispatcher. `on_result("sent")` / `on_result("failed")` is called once per
/// POST (for `recon_alerts_total{result}`). Ends on `shutdown` or when the actor stops.
pub fn spawn(
    config: watch::Receiver<Arc<TradingConfig>>,
    store: StoreHandle,
    reports: broadcast::Receiver<Arc<ReconciliationReport>>,
    on_result: Arc<dyn Fn(&'static str) + Send + Sync>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(
        Dispatcher {
            config,
            store,
            on_result,
            client: reqwest::Client::new(),
            state: None,
        }
        .run(reports, shutdown),
    )
}

struct Dispatcher {
    config: watch::Receiver<Arc<TradingConfig>>,
    store: StoreHandle,
    on_result: Arc<dyn Fn(&'static str) + Send + Sync>,
    client: reqwest::Client,
    /// Loaded from the store on first use; `None` until then.
    state: Option<BTreeMap<String, AlertRecord>>,
}

impl Dispatcher {
    async fn run(
        mut self,
        mut reports: broadcast::Receiver<Arc<ReconciliationReport>>,
        shutdown: CancellationToken,
    ) {
        loop {
            let report = tokio::select! {
                () = shutdown.cancelled() => break,
                r = reports.recv() => match r {
                    Ok(r) => r,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "alerts: fell behind the engine; skipped reports (the next one carries their state)");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.handle(&report) => {}
            }
        }
    }

    async fn handle(&mut self, report: &ReconciliationReport) {
        let cfg = self.config.borrow().clone();
        // Without a URL nothing is sent, and nothing is recorded as sent: once one is
        // configured, whatever is firing then goes out.
        let Some(url) = cfg.webhook_url.as_ref().map(|u| u.expose().clone()) else {
            return;
        };
        let prev = match &self.state {
            Some(s) => s.clone(),
            None => match self.store.call(|repo| repo.alert_states()).await {
                Ok(rows) => rows.into_iter().map(|r| (r.subject.clone(), r)).collect(),
                Err(e) => {
                    tracing::error!(error = %e, "alerts: cannot read alert state; will retry with the next report");
                    return;
                }
            },
        };
        let now = report.finished_at;
        let decision = policy::decide(&prev, report, &cfg.alerts, now);
        let posts = payload::posts(report, &decision.events, cfg.alerts.max_per_cycle);
        let mut outcomes = vec![false; decision.events.len()];
        let mut audit = Vec::with_capacity(posts.len());
        for post in &posts {
            let body = serde_json::to_vec(&post.body).unwrap_or_default();
            let delivery = webhook::post(&self.client, &url, &body, cfg.alerts.timeout).await;
            let subject = match post.events.as_slice() {
                [one] => decision.events[*one].subject.clone(),
                _ => "digest".to_string(),
            };
            let alerts: Vec<_> = post
                .events
                .iter()
                .map(|i| {
                    let e = &decision.events[*i];
                    json!({ "event": e.kind.as_str(), "subject": e.subject })
                })
                .collect();
            match &delivery.result {
                Ok(status) => {
                    (self.on_result)("sent");
                    tracing::info!(event = post.event, subject = %subject, attempts = delivery.attempts, "alert sent");
                    for i in &post.events {
                        outcomes[*i] = true;
                    }
                    audit.push(AuditEvent::new(
                        AuditKind::AlertSent,
                        subject,
                        json!({ "event": post.event, "alerts": alerts, "attempts": delivery.attempts, "status": status }),
                    ));
                }
                Err(error) => {
                    (self.on_result)("failed");
                    tracing::warn!(event = post.event, subject = %subject, error = %error, "alert could not be delivered");
                    audit.push(AuditEvent::new(
                        AuditKind::AlertFailed,
                        subject,
                        json!({ "event": post.event, "alerts": alerts, "attempts": delivery.attempts, "error": error }),
                    ));
                }
            }
        }
        let next = policy::settle(decision, &outcomes, now);
        let (changed, removed) = diff(&prev, &next);
        if !changed.is_empty() || !removed.is_empty() || !audit.is_empty() {
            let at = audit_time(now);
            if let Err(e) = self
                .store
                .call(move |repo| repo.save_alerts(at, &changed, &removed, &audit))
                .await
            {
                // Kept in memory, so this process still sends nothing twice.
                tracing::error!(error = %e, "alerts: cannot store alert state");
            }
        }
        self.state = Some(next);
    }
}

/// The audit entries' time: now, never before the report they are about.
fn audit_time(report_at: DateTime<Utc>) -> DateTime<Utc> {
    crate::domain::now_millis().max(report_at)
}

fn diff(
    prev: &BTreeMap<String, AlertRecord>,
    next: &BTreeMap<String, AlertRecord>,
) -> (Vec<AlertRecord>, Vec<String>) {
    let changed = next
        .iter()
        .filter(|(k, v)| prev.get(*k) != Some(*v))
        .map(|(_, v)| v.clone())
        .collect();
    let removed = prev
        .keys()
        .filter(|k| !next.contains_key(*k))
        .cloned()
        .collect();
    (changed, removed)
}

#[cfg(test)]
mod tests;
