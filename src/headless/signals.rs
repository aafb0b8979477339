//! The signals a daemon answers: SIGTERM and SIGINT stop it (a second one exits at once),
//! SIGHUP re-reads the configuration.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// SIGTERM or SIGINT: stop; carries the signal's name and the exit code a second one
    /// uses (128 + its number, the shell's convention for "killed by").
    Stop(&'static str, u8),
    /// SIGHUP: reload the configuration.
    Reload,
}

/// The installed handlers. Installing them early means a SIGTERM during start-up is a
/// clean stop, not the default "die at once".
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    /// Installs the handlers (needs a tokio runtime).
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal.
    pub async fn next(&mut self) -> Ask {
        tokio::select! {
            Some(()) = self.term.recv() => Ask::Stop("SIGTERM", 128 + 15),
            Some(()) = self.int.recv() => Ask::Stop("SIGINT", 128 + 2),
            Some(()) = self.hup.recv() => Ask::Reload,
        }
    }
}
