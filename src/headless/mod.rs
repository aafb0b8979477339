//! `recon headless`: the reconciliation loop with no terminal, for servers (SPEC §10).
//!
//! A front end beside `tui`, talking only to the actor through its
//! [`ReconciliationHandle`]: it subscribes to the broadcast of reports (every cycle, a
//! lagging reader counts what it missed and never slows the engine), logs one line per
//! cycle and per lifecycle change ([`logs`]), keeps the Prometheus series and serves
//! them with `/healthz` and `/readyz` ([`metrics`]), answers SIGTERM/SIGINT/SIGHUP
//! ([`signals`]) and tells systemd how it is doing ([`notify`]). It names no terminal
//! crate.
//!
//! What a SIGHUP reload applies (from the next cycle): `[reconciliation]` (interval,
//! budgets), `[tolerance]`, `[severity]`, `[retry]`, `[circuit_breaker]`, `[ledger]`,
//! `[alerts]` and the list of `[[exchanges]]` (clients are rebuilt for changed entries;
//! staleness and breakers of unchanged ones are kept). `[storage]` and `[logging]` need a
//! restart: a reload says so in its log line and in the `config_reloaded` audit entry.

pub mod alerts;
pub mod logs;
pub mod metrics;
pub mod notify;
pub mod signals;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::commands::{
    config_fingerprint, record_shutdown, show_config, start_engine, EngineParts,
};
use crate::config::TradingConfig;
use crate::engine::{ReconciliationActor, ReconciliationHandle, ReconciliationReport};
use crate::error::ReconciliationError;
use crate::store::thread::StoreHandle;
use crate::store::{AuditEvent, AuditKind};
use logs::Tracker;
use metrics::{Health, Metrics};
use signals::{Ask, Signals};

/// How long the logger may take to write the reports still queued at shutdown.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// The audit trail's name for this front end.
const MODE: &str = "headless";

/// Options of `recon headless`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where to serve `/metrics`, `/healthz`, `/readyz`; `None` = no server.
    pub metrics_addr: Option<SocketAddr>,
}

/// Why the daemon could not start or stopped with an error. One line each.
#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    /// The metrics address could not be bound (in use, not local, no permission).
    #[error("--metrics-addr {addr}: cannot listen: {source}")]
    MetricsBind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Signal handlers could not be installed.
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] ReconciliationError),
    /// The reconciliation loop ended without being asked to.
    #[error("the reconciliation loop stopped unexpectedly (see the log)")]
    LoopStopped,
}

/// What the shutdown returns: the exit status for `main`.
pub type Outcome = Result<(), HeadlessError>;

/// Runs the daemon until SIGTERM or SIGINT: binds the metrics address (a failure is an
/// error before anything starts), starts the engine, then runs the loop. Shutdown: tells
/// systemd `STOPPING=1`, stops the loop (the cycle in flight finishes or is cancelled
/// within 2 s), audits `shutdown`, lets the logger write what is queued, stops the
/// server and joins the store thread. A second SIGTERM/SIGINT during shutdown exits at
/// once with 128 + the signal's number.
///
/// The alert dispatcher ([`alerts`]) runs beside the logger: it gets the configuration
/// [`watch`] (updated on every applied reload, so a webhook added by SIGHUP takes
/// effect), the store, its own report subscription, [`Metrics::count_alert`] as its
/// `on_result`, and the shutdown [`CancellationToken`]; it is given the same grace as the
/// logger to deliver what the last reports carried, and ended before the store thread is
/// joined.
pub async fn run(cfg: Arc<TradingConfig>, options: Options) -> Outcome {
    let mut signals = Signals::install().map_err(HeadlessError::Signals)?;
    let listener = match options.metrics_addr {
        Some(addr) => Some(
            metrics::bind(addr)
                .await
                .map_err(|source| HeadlessError::MetricsBind { addr, source })?,
        ),
        None => None,
    };
    let EngineParts {
        service,
        store,
        store_thread,
        history,
    } = start_engine(cfg.clone(), MODE).await?;
    let open = match store.call(|repo| repo.open_discrepancies()).await {
        Ok(v) => v.into_iter().map(|s| s.discrepancy).collect(),
        Err(e) => {
            tracing::error!(error = %e, "could not read the open discrepancies; they reappear with the next cycles");
            Vec::new()
        }
    };
    let r = &cfg.reconciliation;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new(metrics::stale_after(
        r.interval,
        r.cycle_timeout,
    )));
    let shutdown = CancellationToken::new();
    let (config_tx, _config_rx) = watch::channel(cfg.clone());

    // Spawned paused and resumed once subscribed, so not even the first report is missed.
    let (handle, mut actor) =
        ReconciliationActor::spawn(service, store.clone(), r.interval, true, history);
    let reports = handle.subscribe();
    let alerts = alerts::spawn(
        config_tx.subscribe(),
        store.clone(),
        handle.subscribe(),
        {
            let m = metrics.clone();
            Arc::new(move |result| m.count_alert(result))
        },
        shutdown.clone(),
    );
    handle.set_paused(false).await?;
    health.set_running(true);
    let logger = tokio::spawn(observe(
        reports,
        Tracker::resume(open),
        metrics.clone(),
        health.clone(),
    ));
    let server = listener.map(|l| {
        if let Ok(addr) = l.local_addr() {
            tracing::info!(addr = %addr, "serving /metrics, /healthz, /readyz");
        }
        tokio::spawn(metrics::serve(
            l,
            metrics.clone(),
            health.clone(),
            shutdown.clone(),
        ))
    });
    notify::spawn_watchdog(health.clone(), shutdown.clone());
    tracing::info!(
        interval_secs = r.interval.as_secs_f64(),
        exchanges = cfg.exchanges.len(),
        "headless loop started"
    );

    let mut actor_done = false;
    let outcome = loop {
        tokio::select! {
            ask = signals.next() => match ask {
                Ask::Stop(name, _) => {
                    tracing::info!(signal = name, "shutting down");
                    break Ok(());
                }
                Ask::Reload => reload(&handle, &store, &config_tx, &metrics, &health).await,
            },
            joined = &mut actor => {
                actor_done = true;
                if let Err(e) = joined {
                    tracing::error!(error = %e, "the reconciliation actor ended abnormally");
                }
                break Err(HeadlessError::LoopStopped);
            }
        }
    };
    tokio::spawn(second_signal(signals));

    notify::stopping().await;
    handle.shutdown().await;
    if !actor_done {
        if let Err(e) = actor.await {
            tracing::error!(error = %e, "the reconciliation actor ended abnormally");
        }
    }
    health.set_running(false);
    record_shutdown(&store, MODE).await;
    // The last sender of reports goes with the handle: the logger drains and ends.
    drop(handle);
    drop(config_tx);
    if tokio::time::timeout(DRAIN_GRACE, logger).await.is_err() {
        tracing::warn!("the logger did not finish writing queued cycles in time");
    }
    let mut alerts = alerts;
    let alerts_ended = match tokio::time::timeout(DRAIN_GRACE, &mut alerts).await {
        Ok(joined) => Some(joined),
        Err(_) => {
            // Not recorded as sent, so they go out after the restart.
            tracing::warn!("alerts still being delivered at shutdown were cut short");
            None
        }
    };
    shutdown.cancel();
    // It holds a store handle: it must be gone before the store thread is joined.
    let joined = match alerts_ended {
        Some(joined) => joined,
        None => alerts.await,
    };
    if let Err(e) = joined {
        tracing::error!(error = %e, "the alert dispatcher ended abnormally");
    }
    if let Some(server) = server {
        match server.await {
            Ok(Err(e)) => tracing::error!(error = %e, "the metrics server failed"),
            Err(e) => tracing::error!(error = %e, "the metrics server ended abnormally"),
            Ok(Ok(())) => {}
        }
    }
    drop(store);
    if tokio::task::spawn_blocking(move || store_thread.join())
        .await
        .is_err()
    {
        tracing::error!("could not join the store thread");
    }
    tracing::info!("stopped");
    outcome
}

/// During shutdown, a second SIGTERM/SIGINT exits at once (logs may be cut short).
async fn second_signal(mut signals: Signals) {
    loop {
        if let Ask::Stop(name, code) = signals.next().await {
            // Not `eprintln!`: a closed stderr must not turn this exit into a panic.
            let _ = writeln!(std::io::stderr(), "recon: second {name}: exiting at once");
            std::process::exit(i32::from(code));
        }
    }
}

/// Logs and measures every report, in order. Never blocks the engine: a reader that
/// falls behind the broadcast's buffer loses the oldest reports, counts them
/// (`recon_reports_missed_total`) and says so in a warning.
async fn observe(
    mut reports: broadcast::Receiver<Arc<ReconciliationReport>>,
    mut tracker: Tracker,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) {
    let mut ready = false;
    loop {
        match reports.recv().await {
            Ok(report) => {
                let changes = tracker.observe(&report);
                logs::log_cycle(&report, tracker.known());
                for change in &changes {
                    logs::log_change(change);
                }
                metrics.observe(&report, tracker.known(), &changes);
                health.cycle_done(report.finished_at);
                if !ready {
                    ready = true;
                    notify::ready().await;
                    tracing::info!("first cycle completed: ready");
                }
            }
            Err(RecvError::Lagged(missed)) => {
                metrics.count_missed(missed);
                tracing::warn!(
                    missed,
                    "the log fell behind the engine: {missed} cycle reports were not logged"
                );
            }
            Err(RecvError::Closed) => break,
        }
    }
}

/// SIGHUP: re-reads the file the configuration came from (and the environment). A valid
/// one goes to the loop for the next cycle, is audited as `config_reloaded` and published
/// on `config`; an invalid one is logged with the key at fault and the running one kept.
async fn reload(
    handle: &ReconciliationHandle,
    store: &StoreHandle,
    config: &watch::Sender<Arc<TradingConfig>>,
    metrics: &Metrics,
    health: &Health,
) {
    let old = config.borrow().clone();
    let Some(path) = old.source.clone() else {
        tracing::warn!("SIGHUP: the configuration came from no file; nothing to re-read");
        return;
    };
    let loaded = tokio::task::spawn_blocking(move || TradingConfig::load(&path)).await;
    let new = match loaded {
        Ok(Ok(c)) => Arc::new(c),
        Ok(Err(e)) => {
            metrics.count_reload("rejected");
            tracing::error!(
                event = "config_reload_rejected",
                error = %e,
                "configuration not reloaded; the running one is kept"
            );
            return;
        }
        Err(e) => {
            metrics.count_reload("rejected");
            tracing::error!(error = %e, "configuration not reloaded; the running one is kept");
            return;
        }
    };
    let changed = changed_keys(&old, &new);
    let not_applied = match handle.reconfigure(new.clone()).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "configuration not reloaded");
            return;
        }
    };
    let r = &new.reconciliation;
    health.set_stale_after(metrics::stale_after(r.interval, r.cycle_timeout));
    let event = AuditEvent::global(
        AuditKind::ConfigReloaded,
        json!({
            "source": new.source.as_ref().map(|p| p.display().to_string()),
            "fingerprint": config_fingerprint(&new),
            "changed": changed,
            "not_applied": not_applied,
            "interval_secs": r.interval.as_secs_f64(),
            "exchanges": new.exchanges.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        }),
    );
    if let Err(e) = store
        .call(move |repo| repo.append_audit(Utc::now(), &[event]))
        .await
    {
        tracing::error!(error = %e, "could not audit the reload");
    }
    metrics.count_reload("applied");
    tracing::info!(
        event = "config_reloaded",
        changed = ?changed,
        not_applied = ?not_applied,
        interval_secs = r.interval.as_secs_f64(),
        "configuration reloaded; applied from the next cycle"
    );
    config.send_replace(new);
}

/// The keys (`section.key`, or the section for arrays like `exchanges`) whose effective
/// value differs, compared on `recon config`'s rendering (so secrets stay `***`).
pub fn changed_keys(old: &TradingConfig, new: &TradingConfig) -> Vec<String> {
    let parse = |c: &TradingConfig| {
        show_config::render(c)
            .parse::<toml::Table>()
            .unwrap_or_default()
    };
    let (a, b) = (parse(old), parse(new));
    let mut sections: Vec<&String> = a.keys().chain(b.keys()).collect();
    sections.sort();
    sections.dedup();
    let mut out = Vec::new();
    for section in sections {
        match (a.get(section), b.get(section)) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                out.extend(
                    keys.into_iter()
                        .filter(|k| x.get(*k) != y.get(*k))
                        .map(|k| format!("{section}.{k}")),
                );
            }
            (x, y) if x != y => out.push(section.clone()),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(text: &str) -> TradingConfig {
        TradingConfig::from_toml_str(text, Path::new("c.toml"), Path::new("."), Vec::new()).unwrap()
    }

    fn report(id: i64) -> Arc<ReconciliationReport> {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Arc::new(ReconciliationReport {
            id,
            started_at: at,
            finished_at: at,
            duration_ms: 5,
            status: crate::domain::ReconciliationStatus::Reconciled,
            worst_severity: None,
            ledger_error: None,
            unconfigured: Vec::new(),
            exchanges: Vec::new(),
            discrepancies: Vec::new(),
            valuation: None,
        })
    }

    #[tokio::test]
    async fn a_logger_that_falls_behind_counts_the_reports_it_missed() {
        let (tx, rx) = broadcast::channel(2);
        for id in 1..=5 {
            tx.send(report(id)).unwrap();
        }
        drop(tx);
        let metrics = Arc::new(Metrics::new());
        let health = Arc::new(Health::new(Duration::from_secs(1)));
        observe(rx, Tracker::default(), metrics.clone(), health.clone()).await;
        let text = metrics.encode();
        assert!(text.contains("\nrecon_reports_missed_total 3\n"), "{text}");
        assert!(
            text.contains("\nrecon_cycles_total{status=\"reconciled\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn a_reload_names_the_keys_that_changed_and_never_a_secret() {
        let ex = "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n";
        let old = cfg(&format!(
            "[reconciliation]\ninterval_secs = 30\n[alerts]\nwebhook_url = \"https://h.example/T/SECRET-A\"\n{ex}"
        ));
        let new = cfg(&format!(
            "[reconciliation]\ninterval_secs = 0.5\n[severity]\nhigh = \"0.02\"\n\
             [alerts]\nwebhook_url = \"https://h.example/T/SECRET-B\"\n{ex}\
             [[exchanges]]\nname = \"y\"\nkind = \"simulated\"\nbalances = {{}}\n"
        ));
        let changed = changed_keys(&old, &new);
        assert_eq!(
            changed,
            ["exchanges", "reconciliation.interval_secs", "severity.high"]
        );
        assert!(changed_keys(&old, &old).is_empty());
    }
}
