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

fn send(state: NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state.clone()]) {
        tracing::warn!(error = %e, state = %state, "could not notify the service manager");
    }
}

/// Start-up is complete: the first cycle is in.
pub fn ready() {
    send(NotifyState::Ready);
}

/// Shutdown has begun.
pub fn stopping() {
    send(NotifyState::Stopping);
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
                        send(NotifyState::Watchdog);
                    } else {
                        tracing::warn!("the loop looks stalled; not pinging the watchdog");
                    }
                }
            }
        }
    });
}
