//! The live console. The reconciliation actor runs in a background task; this loop
//! `select!`s over terminal events, the engine's `watch`, effect results and a clock tick
//! (1 Hz for the countdown, 10 Hz only while a cycle runs, for the spinner), feeds each to
//! [`App::update`], and redraws only when something visible changed, so an idle console
//! costs next to no CPU.
//!
//! The terminal is restored on every way out: quit, error, SIGTERM (the `shutdown`
//! future) and panic (`ratatui::try_init` installs a hook that restores first).

pub mod app;
pub mod audit_pane;
pub mod cursor;
pub mod detail;
pub mod effects;
pub mod keys;
pub mod names;
pub mod news;
pub mod rows;
pub mod theme;
pub mod triage;
pub mod ui;
pub mod widgets;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::EventStream;
use futures::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

pub use app::{Action, App, Panel};
pub use effects::{Effect, EffectRunner};
pub use theme::{Theme, ThemeError};

use crate::commands::{record_shutdown, start_engine, EngineParts};
use crate::config::TradingConfig;
use crate::engine::{ReconciliationActor, ReconciliationHandle};
use crate::error::ReconciliationError;

/// How long effects still running at quit (an ack typed just before `q`) may take.
const EFFECT_GRACE: Duration = Duration::from_secs(2);

/// Why the console stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] ReconciliationError),
    /// The terminal failed (could not enter raw mode, read or draw).
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// A task panicked; the panic hook restored the terminal, so the console cannot go on.
    #[error("the console stopped after a panic (the log has the details)")]
    Panicked,
}

/// Set by the panic hook: the terminal has been restored under the loop's feet, so it
/// must not draw again.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Mouse reporting is on: every way out turns it off, or the shell would receive escape
/// sequences for each mouse move after the console is gone.
static MOUSE: AtomicBool = AtomicBool::new(false);

/// Turns mouse reporting off if it was turned on (idempotent).
fn release_mouse() {
    if MOUSE.swap(false, Ordering::SeqCst) {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    }
}

/// Wraps the hook `ratatui::try_init` installed (which restores the terminal) so the
/// loop learns that a panic happened in any task.
fn note_panics() {
    let restore = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        release_mouse();
        restore(info);
    }));
}

/// Who acknowledges from this console: `$USER`, else the account name of the user id.
pub fn current_user() -> String {
    crate::commands::ack::default_user()
}

/// Starts the engine, runs the console until `q`, `Ctrl-C` or `shutdown` resolves, then
/// stops in order: terminal restored, effects in flight drained (up to 2 s), loop stopped
/// (the cycle in flight finishes or is cancelled), `shutdown` audited, handles dropped,
/// store thread joined. If the engine stops on its own, or any task panics (the panic
/// hook restores the terminal), the console ends with an error instead of drawing a
/// frozen screen or into a restored terminal.
pub async fn run(
    cfg: Arc<TradingConfig>,
    themes: Vec<Theme>,
    theme_index: usize,
    shutdown: impl Future<Output = ()>,
) -> Result<(), TuiError> {
    let EngineParts {
        service,
        store,
        store_thread,
        history,
    } = start_engine(cfg.clone(), "tui").await?;
    let interval = cfg.reconciliation.interval;
    let (handle, actor) =
        ReconciliationActor::spawn(service, store.clone(), interval, false, history);
    let mut app = App::new(themes, theme_index, current_user(), Utc::now());
    app.bell = cfg.ui.bell;
    app.require_ack_note = cfg.ui.require_ack_note;
    app.audit.zone = cfg.ui.timezone;
    app.audit.own_pid = Some(std::process::id());

    let outcome = match ratatui::try_init() {
        Ok(mut terminal) => {
            note_panics();
            if cfg.ui.mouse
                && crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)
                    .is_ok()
            {
                MOUSE.store(true, Ordering::SeqCst);
            }
            let (tx, results) = mpsc::unbounded_channel();
            let mut effects = EffectRunner::new(handle.clone(), tx);
            let r = event_loop(&mut terminal, app, &handle, &mut effects, results, shutdown).await;
            // Restore before anything winds down (effects in flight, the engine), so the
            // shell is back at once.
            let _ = terminal.show_cursor();
            release_mouse();
            ratatui::restore();
            effects.shutdown(EFFECT_GRACE).await;
            r
        }
        Err(e) => {
            ratatui::restore();
            Err(e.into())
        }
    };

    handle.shutdown().await;
    if let Err(e) = actor.await {
        tracing::error!(error = %e, "the reconciliation actor ended abnormally");
    }
    record_shutdown(&store, "tui").await;
    drop(handle);
    drop(store);
    if tokio::task::spawn_blocking(move || store_thread.join())
        .await
        .is_err()
    {
        tracing::error!("could not join the store thread");
    }
    outcome
}

/// The loop proper: draw if dirty, wait for the next thing to happen, update.
async fn event_loop(
    terminal: &mut DefaultTerminal,
    mut app: App,
    handle: &ReconciliationHandle,
    effects: &mut EffectRunner,
    mut results: mpsc::UnboundedReceiver<Action>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), TuiError> {
    let size = terminal.size()?;
    app.update(Action::Resize(size.width, size.height));
    let mut view = handle.view();
    let first = view.borrow_and_update().clone();
    if let Some(e) = app.update(Action::Engine(first, Utc::now())) {
        effects.spawn(e);
    }
    let mut events = EventStream::new();
    let mut engine_alive = true;
    let mut period = app.tick_period();
    let mut tick = ticker(period);
    tokio::pin!(shutdown);

    loop {
        // A panic anywhere restored the terminal: drawing now would scribble on the
        // shell. End, so the error is printed once, on a sane terminal.
        if PANICKED.load(Ordering::SeqCst) {
            break Err(TuiError::Panicked);
        }
        if app.engine_stopped {
            // Nothing on screen would ever change again; a frozen console that looks alive
            // is worse than none.
            break Err(ReconciliationError::EngineStopped.into());
        }
        if app.take_dirty() {
            if let Err(e) = terminal.draw(|f| ui::render(&app, f)) {
                break Err(e.into());
            }
        }
        if let Err(e) = announce(&mut app) {
            break Err(e.into());
        }
        if app.should_quit() {
            break Ok(());
        }
        if app.tick_period() != period {
            period = app.tick_period();
            tick = ticker(period);
        }
        let action = tokio::select! {
            () = &mut shutdown => break Ok(()),
            event = events.next() => match event {
                Some(Ok(event)) => keys::to_action(&app, &event),
                Some(Err(e)) => break Err(e.into()),
                // The terminal is gone: nobody left to show anything to.
                None => break Ok(()),
            },
            changed = view.changed(), if engine_alive => match changed {
                Ok(()) => Some(Action::Engine(view.borrow_and_update().clone(), Utc::now())),
                Err(_) => {
                    engine_alive = false;
                    Some(Action::EffectFailed {
                        what: "engine",
                        error: Arc::new(ReconciliationError::EngineStopped),
                    })
                }
            },
            Some(done) = results.recv() => Some(done),
            _ = tick.tick() => Some(Action::Tick(Utc::now())),
        };
        if let Some(effect) = action.and_then(|a| app.update(a)) {
            effects.spawn(effect);
        }
    }
}

/// Rings the bell (once per report with news), keeps the terminal title on the state, so
/// a trader in another window or tab notices a new critical, and sends a copied id to the
/// clipboard.
fn announce(app: &mut App) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout();
    if let Some(title) = app.take_title() {
        crossterm::execute!(out, crossterm::terminal::SetTitle(title))?;
    }
    if app.take_bell() {
        out.write_all(b"\x07")?;
        out.flush()?;
    }
    if let Some(text) = app.clipboard.take() {
        // OSC 52: the terminal (also over ssh, and tmux with set-clipboard) puts it on the
        // system clipboard; no clipboard daemon or X display needed.
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        write!(out, "\x1b]52;c;{encoded}\x07")?;
        out.flush()?;
    }
    Ok(())
}

fn ticker(period: Duration) -> tokio::time::Interval {
    let mut t = interval_at(Instant::now() + period, period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}
