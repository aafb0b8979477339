//! The service manager's protocol (`sd_notify`): `READY=1` after the first cycle,
//! `STOPPING=1` on shutdown, `WATCHDOG=1` at half of `WATCHDOG_USEC` while the loop is
//! alive. Without `NOTIFY_SOCKET` every call is a no-op, so the daemon runs the same
//! under systemd, in a container or in a shell.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use super::metrics::Health;

/// How long a notification may take; the socket is a blocking one, and a service manager
/// that stopped reading must not stall start-up or shutdown.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Sends `state` off the async runtime (the crate's socket blocks when the manager's
/// queue is full), waiting at most [`SEND_TIMEOUT`].
async fn send(state: NotifyState<'static>) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    let shown = state.to_string();
    let sent = tokio::task::spawn_blocking(move || sd_notify::notify(&[state]));
    match tokio::time::timeout(SEND_TIMEOUT, sent).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, state = %shown, "could not notify the service manager");
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, state = %shown, "could not notify the service manager");
        }
        Err(_) => {
            tracing::warn!(state = %shown, "the service manager did not take a notification in time")
        }
    }
}

/// Start-up is complete: the first cycle is in.
pub async fn ready() {
    send(NotifyState::Ready).await;
}

/// Shutdown has begun.
pub async fn stopping() {
    send(NotifyState::Stopping).await;
}

/// When `WATCHDOG_USEC` is set for this process, pings the watchdog at half its period
/// while the loop is alive (a stalled loop stops the pings, and systemd restarts it),
/// until `shutdown` is cancelled.
pub fn spawn_watchdog(health: Arc<Health>, shutdown: CancellationToken) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (period / 2).max(Duration::from_millis(10));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if health.alive(Utc::now()) {
                        send(NotifyState::Watchdog).await;
                    } else {
                        tracing::warn!("the loop looks stalled; not pinging the watchdog");
                    }
                }
            }
        }
    });
}
