//! `ReconciliationActor`: one tokio task owns the service and runs the loop; front ends
//! talk to it through a cheap, cloneable [`ReconciliationHandle`].
//!
//! The cycle runs as its own future inside the actor's `select!`, so requests are answered
//! while exchanges are being fetched. Pressing "reconcile now" during a cycle queues
//! exactly one more. The latest state is published on a `watch` (a slow reader skips,
//! never lags); every completed report also goes out on a `broadcast` for consumers that
//! must see each cycle.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{PortfolioReconciliationService, ReconciliationReport, SeenGap};
use crate::config::TradingConfig;
use crate::domain::{Asset, BalanceDiscrepancy, ExchangeName, Expectation};
use crate::error::ReconciliationError;
use crate::store::expectations::NewExpectation;
use crate::store::thread::StoreHandle;
use crate::store::watch::ExternalState;
use crate::store::AuditEntry;

/// How long shutdown waits for the cycle in flight before cancelling it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How often the database is checked for writes by other processes (`recon ack` in a
/// shell): one `PRAGMA data_version` on the store thread, so the view follows within a
/// second at any cycle interval.
pub const WATCH_EVERY: Duration = Duration::from_millis(400);
/// Cycle latencies kept for the sparkline.
pub const LATENCY_HISTORY: usize = 120;

type Reply<T> = oneshot::Sender<Result<T, ReconciliationError>>;

enum Request {
    ReconcileNow {
        reply: Option<Reply<Arc<ReconciliationReport>>>,
    },
    Acknowledged(Box<BalanceDiscrepancy>),
    SetPaused(bool),
    Reconfigure {
        config: Arc<TradingConfig>,
        reply: oneshot::Sender<Vec<String>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// What the front ends render: the latest report and the loop's state. Immutable; a new
/// one is published on every change.
#[derive(Debug, Clone, Default)]
pub struct EngineView {
    /// The latest report, if a cycle has completed.
    pub report: Option<Arc<ReconciliationReport>>,
    /// A cycle is in flight.
    pub cycle_running: bool,
    /// The interval loop is paused (manual cycles still run).
    pub paused: bool,
    /// When the next scheduled cycle starts (None while paused or running).
    pub next_cycle_at: Option<DateTime<Utc>>,
    /// Time between cycles.
    pub interval: Duration,
    /// Durations of recent cycles, oldest first.
    pub latency_history: Vec<u64>,
    /// The last engine-level failure (the store), if the last cycle hit one.
    pub engine_error: Option<String>,
    /// Cycles completed since start.
    pub cycles_completed: u64,
}

/// The front ends' access to the engine.
#[derive(Clone)]
pub struct ReconciliationHandle {
    tx: mpsc::Sender<Request>,
    view: watch::Receiver<Arc<EngineView>>,
    reports: broadcast::Sender<Arc<ReconciliationReport>>,
    store: StoreHandle,
    /// The service's configuration, for the acknowledgement guard's tolerance.
    config: Arc<TradingConfig>,
}

impl ReconciliationHandle {
    /// Runs a cycle now (or after the one in flight) and returns its report.
    pub async fn reconcile_now(&self) -> Result<Arc<ReconciliationReport>, ReconciliationError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::ReconcileNow { reply: Some(reply) })
            .await
            .map_err(|_| ReconciliationError::EngineStopped)?;
        rx.await.map_err(|_| ReconciliationError::EngineStopped)?
    }

    /// Asks for a cycle without waiting for it.
    pub fn request_reconcile(&self) -> Result<(), ReconciliationError> {
        self.tx
            .try_send(Request::ReconcileNow { reply: None })
            .or_else(|e| match e {
                // A full queue already holds requests that will run a cycle.
                mpsc::error::TrySendError::Full(_) => Ok(()),
                mpsc::error::TrySendError::Closed(_) => Err(ReconciliationError::EngineStopped),
            })
    }

    /// Acknowledges an open discrepancy; the view reflects it at once. With `seen` (the
    /// row on screen), refused with the current figure unless the stored gap is still the
    /// one seen (SPEC §2).
    pub async fn acknowledge(
        &self,
        exchange: ExchangeName,
        asset: Asset,
        by: String,
        note: String,
        seen: Option<SeenGap>,
    ) -> Result<BalanceDiscrepancy, ReconciliationError> {
        let d =
            super::service::acknowledge(&self.store, &self.config, exchange, asset, by, note, seen)
                .await?;
        // The ack is durable already; a stopped actor only means no view to refresh.
        let _ = self
            .tx
            .send(Request::Acknowledged(Box::new(d.clone())))
            .await;
        Ok(d)
    }

    /// [`Self::acknowledge`] with a snooze: the acknowledgement lapses at `expires_at`.
    pub async fn acknowledge_until(
        &self,
        exchange: ExchangeName,
        asset: Asset,
        by: String,
        note: String,
        seen: Option<SeenGap>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<BalanceDiscrepancy, ReconciliationError> {
        let d = super::service::acknowledge_until(
            &self.store,
            &self.config,
            exchange,
            asset,
            by,
            note,
            seen,
            expires_at,
        )
        .await?;
        let _ = self
            .tx
            .send(Request::Acknowledged(Box::new(d.clone())))
            .await;
        Ok(d)
    }

    /// Withdraws the acknowledgement of an open discrepancy; the view shows it counted
    /// again at once.
    pub async fn withdraw_acknowledgement(
        &self,
        exchange: ExchangeName,
        asset: Asset,
        by: String,
        note: String,
    ) -> Result<BalanceDiscrepancy, ReconciliationError> {
        let d = super::service::withdraw_acknowledgement(&self.store, exchange, asset, by, note)
            .await?;
        let _ = self
            .tx
            .send(Request::Acknowledged(Box::new(d.clone())))
            .await;
        Ok(d)
    }

    /// Declares a movement in flight (SPEC §2) and asks for a cycle, which attaches it to
    /// its gap: the view shows the line explained as soon as that cycle completes. With
    /// `seen`, refused unless the gap on screen is still the one open.
    pub async fn declare_expectation(
        &self,
        new: NewExpectation,
        seen: Option<SeenGap>,
    ) -> Result<Expectation, ReconciliationError> {
        let e = super::service::declare_expectation(&self.store, &self.config, new, seen).await?;
        // The expectation is durable already; a stopped actor only means no view to refresh.
        let _ = self.request_reconcile();
        Ok(e)
    }

    /// Pauses or resumes the interval loop.
    pub async fn set_paused(&self, paused: bool) -> Result<(), ReconciliationError> {
        self.tx
            .send(Request::SetPaused(paused))
            .await
            .map_err(|_| ReconciliationError::EngineStopped)
    }

    /// Hands the loop a reloaded configuration. The cycle in flight (if any) finishes on
    /// the old one; the next cycle runs on the new one, at the new interval. Returns what
    /// the service could not apply without a restart (one line each, naming the key).
    pub async fn reconfigure(
        &self,
        config: Arc<TradingConfig>,
    ) -> Result<Vec<String>, ReconciliationError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Reconfigure { config, reply })
            .await
            .map_err(|_| ReconciliationError::EngineStopped)?;
        rx.await.map_err(|_| ReconciliationError::EngineStopped)
    }

    /// A page of the audit trail, newest first, strictly before `before`.
    pub async fn audit_page(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, ReconciliationError> {
        Ok(self
            .store
            .call(move |repo| repo.audit_page(before, limit))
            .await?)
    }

    /// Every completed report from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ReconciliationReport>> {
        self.reports.subscribe()
    }

    /// The latest state.
    pub fn view(&self) -> watch::Receiver<Arc<EngineView>> {
        self.view.clone()
    }

    /// The store (for front ends that append their own audit events).
    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// Stops the loop: lets the cycle in flight finish (up to [`SHUTDOWN_GRACE`]), then
    /// returns. Idempotent.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Request::Shutdown { reply }).await.is_ok() {
            let _ = rx.await;
        }
    }
}

type PollFuture =
    Pin<Box<dyn Future<Output = Result<Option<ExternalState>, crate::store::StoreError>> + Send>>;

type CycleFuture<S> =
    Pin<Box<dyn Future<Output = (S, Result<ReconciliationReport, ReconciliationError>)> + Send>>;

/// The task that owns the service.
pub struct ReconciliationActor<S> {
    service: Option<S>,
    rx: mpsc::Receiver<Request>,
    view_tx: watch::Sender<Arc<EngineView>>,
    reports: broadcast::Sender<Arc<ReconciliationReport>>,
    view: EngineView,
    history: VecDeque<u64>,
    waiting: Vec<Reply<Arc<ReconciliationReport>>>,
    queued: Vec<Reply<Arc<ReconciliationReport>>>,
    again: bool,
    /// Acknowledgements recorded recently. A cycle whose transaction committed just before
    /// an ack may finish after it; its report must not undo the ack on screen.
    recent_acks: Vec<BalanceDiscrepancy>,
    /// A reload that arrived while the service was out running a cycle; applied as soon
    /// as the cycle hands it back, before the next one starts.
    pending_config: Option<(Arc<TradingConfig>, oneshot::Sender<Vec<String>>)>,
    /// What another process last wrote, kept so a cycle that committed before it cannot
    /// hide it when its report lands afterwards.
    external: Option<ExternalState>,
    /// Rates residuals when stored expectations are applied to the view.
    severity: crate::config::SeverityConfig,
    /// Polled for writes by other processes. Owned by the actor (not a task of its own), so
    /// nothing outlives it holding the store open.
    store: StoreHandle,
}

impl<S: PortfolioReconciliationService + 'static> ReconciliationActor<S> {
    /// Starts the actor. The first cycle runs at once unless `paused`.
    pub fn spawn(
        service: S,
        store: StoreHandle,
        interval: Duration,
        paused: bool,
        history: Vec<u64>,
    ) -> (ReconciliationHandle, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(64);
        let mut history: VecDeque<u64> = history.into_iter().collect();
        while history.len() > LATENCY_HISTORY {
            history.pop_front();
        }
        let view = EngineView {
            paused,
            interval,
            latency_history: history.iter().copied().collect(),
            ..EngineView::default()
        };
        let (view_tx, view_rx) = watch::channel(Arc::new(view.clone()));
        let (reports, _) = broadcast::channel(64);
        let config = service.config();
        let actor = Self {
            service: Some(service),
            rx,
            view_tx,
            reports: reports.clone(),
            view,
            history,
            waiting: Vec::new(),
            queued: Vec::new(),
            again: false,
            recent_acks: Vec::new(),
            pending_config: None,
            external: None,
            severity: config.severity.clone(),
            store: store.clone(),
        };
        let join = tokio::spawn(actor.run());
        let handle = ReconciliationHandle {
            tx,
            view: view_rx,
            reports,
            store,
            config,
        };
        (handle, join)
    }

    fn publish(&self) {
        self.view_tx.send_replace(Arc::new(self.view.clone()));
    }

    fn start_cycle(&mut self) -> Option<CycleFuture<S>> {
        let mut service = self.service.take()?;
        self.waiting.append(&mut self.queued);
        self.again = false;
        self.view.cycle_running = true;
        self.view.next_cycle_at = None;
        self.publish();
        Some(Box::pin(async move {
            let r = service.reconcile().await;
            (service, r)
        }))
    }

    /// Takes the service back and updates the view; returns the reply for the waiters,
    /// which the caller sends after publishing (so a waiter never sees a stale view).
    fn finish_cycle(
        &mut self,
        service: S,
        result: Result<ReconciliationReport, ReconciliationError>,
    ) -> Result<Arc<ReconciliationReport>, Arc<ReconciliationError>> {
        self.service = Some(service);
        self.view.cycle_running = false;
        if let Some((config, reply)) = self.pending_config.take() {
            // Published before the reply, so the caller sees the new interval at once.
            let not_applied = self.apply_config(config);
            self.publish();
            let _ = reply.send(not_applied);
        }
        let reply: Result<Arc<ReconciliationReport>, Arc<ReconciliationError>> = match result {
            Ok(report) => {
                let report = self.reapply_recent_acks(report);
                let report = Arc::new(self.apply_external(report));
                self.history.push_back(report.duration_ms);
                if self.history.len() > LATENCY_HISTORY {
                    self.history.pop_front();
                }
                self.view.latency_history = self.history.iter().copied().collect();
                self.view.report = Some(report.clone());
                self.view.engine_error = None;
                self.view.cycles_completed += 1;
                // No subscriber is fine: the TUI uses the watch only.
                let _ = self.reports.send(report.clone());
                Ok(report)
            }
            Err(e) => {
                tracing::error!(error = %e, "cycle could not be completed");
                self.view.engine_error = Some(e.to_string());
                Err(Arc::new(e))
            }
        };
        reply
    }

    /// Re-applies acks recorded at or after the report's end (its transaction may have
    /// committed just before them), where the report still shows that very gap
    /// unacknowledged; older acks are forgotten.
    fn reapply_recent_acks(&mut self, mut report: ReconciliationReport) -> ReconciliationReport {
        let since = report.finished_at;
        self.recent_acks
            .retain(|d| d.acknowledgement.as_ref().is_some_and(|a| a.at >= since));
        for d in &self.recent_acks {
            let stale = report
                .discrepancies
                .iter()
                .any(|x| x.id == d.id && !x.is_acknowledged() && x.difference == d.difference);
            if stale {
                report = report.with_discrepancy(d);
            }
        }
        report
    }

    /// Shows what another process wrote on the report on screen, and keeps it for the
    /// report of a cycle that committed before it.
    fn note_external(&mut self, state: ExternalState) {
        self.external = Some(state);
        if let Some(report) = self.view.report.clone() {
            let patched = self.apply_external((*report).clone());
            if patched.discrepancies != report.discrepancies {
                self.view.report = Some(Arc::new(patched));
                self.publish();
            }
        }
    }

    /// `report` with the last external state, when that state was read after the report's
    /// cycle committed (an older one is already in the report, or superseded by it).
    fn apply_external(&mut self, report: ReconciliationReport) -> ReconciliationReport {
        match &self.external {
            Some(state) if state.after_cycle >= report.id => report.with_stored_state(
                &state.open,
                &state.expected,
                &self.severity,
                crate::domain::now_millis(),
            ),
            Some(_) => {
                self.external = None;
                report
            }
            None => report,
        }
    }

    /// Applies a reloaded configuration to the idle service; the interval takes effect
    /// when the next cycle is scheduled.
    fn apply_config(&mut self, config: Arc<TradingConfig>) -> Vec<String> {
        self.view.interval = config.reconciliation.interval;
        self.severity = config.severity.clone();
        match self.service.as_mut() {
            Some(service) => service.reconfigure(config),
            None => vec!["the engine's service is gone; nothing applied".into()],
        }
    }

    fn answer_waiters(
        &mut self,
        reply: Result<Arc<ReconciliationReport>, Arc<ReconciliationError>>,
    ) {
        for w in self.waiting.drain(..) {
            let _ = w.send(reply.clone().map_err(ReconciliationError::Shared));
        }
    }

    async fn run(mut self) {
        let mut next_at = Instant::now();
        // When the last cycle ended, so a reload re-schedules from it at the new interval.
        let mut last_done = Instant::now();
        let mut cycle: Option<CycleFuture<S>> = None;
        if !self.view.paused {
            cycle = self.start_cycle();
        }
        let mut watch = tokio::time::interval(WATCH_EVERY);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut polling: Option<PollFuture> = None;
        loop {
            let idle = cycle.is_none();
            let scheduled = idle && !self.view.paused;
            tokio::select! {
                req = self.rx.recv() => match req {
                    None => break,
                    Some(Request::Shutdown { reply }) => {
                        if let Some(c) = cycle.take() {
                            if let Ok((s, r)) = tokio::time::timeout(SHUTDOWN_GRACE, c).await {
                                let reply = self.finish_cycle(s, r);
                                self.publish();
                                self.answer_waiters(reply);
                            }
                        }
                        let _ = reply.send(());
                        break;
                    }
                    Some(Request::ReconcileNow { reply }) => {
                        if let Some(reply) = reply {
                            self.queued.push(reply);
                        }
                        if idle {
                            cycle = self.start_cycle();
                        } else {
                            self.again = true;
                        }
                    }
                    Some(Request::SetPaused(p)) => {
                        self.view.paused = p;
                        if p {
                            self.view.next_cycle_at = None;
                        } else if idle {
                            next_at = next_at.max(Instant::now());
                            self.view.next_cycle_at = Some(wall_clock(next_at));
                        }
                        self.publish();
                    }
                    Some(Request::Reconfigure { config, reply }) => {
                        if idle {
                            let not_applied = self.apply_config(config);
                            next_at = last_done + self.view.interval;
                            if !self.view.paused {
                                self.view.next_cycle_at = Some(wall_clock(next_at));
                            }
                            self.publish();
                            let _ = reply.send(not_applied);
                        } else if let Some((_, superseded)) =
                            self.pending_config.replace((config, reply))
                        {
                            // Two reloads during one cycle: only the newer one is applied.
                            let _ = superseded.send(vec![
                                "superseded by a newer reload before it was applied".into(),
                            ]);
                        }
                    }
                    Some(Request::Acknowledged(d)) => {
                        if let Some(report) = &self.view.report {
                            self.view.report = Some(Arc::new(report.with_discrepancy(&d)));
                            self.publish();
                        }
                        self.recent_acks.push(*d);
                    }
                },
                (service, result) = async { cycle.as_mut().expect("guarded by is_some").await }, if cycle.is_some() => {
                    cycle = None;
                    let reply = self.finish_cycle(service, result);
                    last_done = Instant::now();
                    next_at = last_done + self.view.interval;
                    if !self.view.paused {
                        self.view.next_cycle_at = Some(wall_clock(next_at));
                    }
                    self.publish();
                    self.answer_waiters(reply);
                    if self.again {
                        cycle = self.start_cycle();
                    }
                },
                _ = tokio::time::sleep_until(next_at), if scheduled => {
                    cycle = self.start_cycle();
                }
                _ = watch.tick(), if polling.is_none() => {
                    let store = self.store.clone();
                    polling = Some(Box::pin(async move {
                        store.call(|repo| repo.changed_elsewhere()).await
                    }));
                }
                polled = async { polling.as_mut().expect("guarded by is_some").await }, if polling.is_some() => {
                    polling = None;
                    match polled {
                        Ok(Some(state)) => self.note_external(state),
                        Ok(None) => {}
                        // A busy moment: the next poll (or the next cycle) catches up.
                        Err(e) => tracing::debug!(error = %e, "checking for writes by other processes failed"),
                    }
                }
            }
        }
        self.view.cycle_running = false;
        self.view.next_cycle_at = None;
        self.publish();
    }
}

fn wall_clock(at: Instant) -> DateTime<Utc> {
    let ahead = at.saturating_duration_since(Instant::now());
    Utc::now() + chrono::Duration::from_std(ahead).unwrap_or_default()
}
