//! `recon`: parse the command line, load the configuration, pick a front end, and turn
//! every error into one line on stderr and a documented exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use recon::cli::{AuditAction, Cli, Command, Format};
use recon::commands;
use recon::config::TradingConfig;
use recon::tui;

/// Exit code for "unknown" in the monitoring convention of `once`.
const UNKNOWN: u8 = 3;

fn main() -> ExitCode {
    // Balances, notes and logs are private: everything recon creates from here on (the
    // database and its -wal/-shm, log files rotated in at midnight) is owner-only,
    // whatever the umask of the shell or cron that started it.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let cli = Cli::parse();
    let once = matches!(cli.command, Some(Command::Once { .. }));
    let cfg = match TradingConfig::load(&cli.config) {
        Ok(cfg) => Arc::new(cfg),
        // For `once`, an invalid configuration is "unknown" to the monitoring system.
        Err(e) => return fail(&e, if once { UNKNOWN } else { 1 }),
    };
    match cli.command.unwrap_or(Command::Tui) {
        Command::Tui => run_tui(cfg),
        Command::Once { format } => run_once(cfg, format),
        Command::Audit {
            action: Some(AuditAction::Verify),
            ..
        } => match commands::audit::verify(&cfg) {
            Ok((msg, intact)) => {
                print_out(&msg);
                ExitCode::from(if intact { 0 } else { 1 })
            }
            // 1 means "broken"; not being able to look is something else.
            Err(e) => fail(&format!("could not verify: {e}"), UNKNOWN),
        },
        Command::Audit {
            action: None,
            limit,
            format,
        } => match commands::audit::list(&cfg, limit, format) {
            Ok(text) => {
                print_out(&text);
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, 1),
        },
        Command::Ack {
            target,
            note,
            by,
            difference,
        } => match commands::ack::run(&cfg, &target, &note, by.as_deref(), difference.as_deref()) {
            Ok(line) => {
                print_out(&line);
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, 1),
        },
        Command::Config => {
            print_out(&commands::show_config::render(&cfg));
            ExitCode::SUCCESS
        }
    }
}

fn run_once(cfg: Arc<TradingConfig>, format: Format) -> ExitCode {
    init_stderr_logging("warn");
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, UNKNOWN),
    };
    match rt.block_on(commands::once::run(cfg, format)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e, UNKNOWN),
    }
}

/// The console: themes and logging are checked before the terminal is taken, so a bad
/// theme or log directory is one plain line on stderr.
fn run_tui(cfg: Arc<TradingConfig>) -> ExitCode {
    let dir = match cfg.source.as_deref().and_then(Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (themes, index) = match tui::theme::load(&dir, &cfg.theme) {
        Ok(t) => t,
        Err(e) => return fail(&e, 1),
    };
    // The terminal belongs to the console: logs go to the rolling file only.
    let guard = match recon::logging::init(&cfg.logging, false) {
        Ok(g) => g,
        Err(e) => return fail(&e, 1),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    let result = rt.block_on(tui::run(cfg, themes, index, termination()));
    // The event reader's thread may still be parked on the terminal; do not wait on it.
    rt.shutdown_timeout(Duration::from_secs(1));
    drop(guard);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, 1),
    }
}

/// Resolves on SIGTERM, SIGINT or SIGHUP (the terminal went away). In raw mode Ctrl-C is
/// a key, so SIGINT only comes from `kill`.
async fn termination() {
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind| match signal(kind) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for a signal");
            None
        }
    };
    let (mut term, mut int, mut hup) = (
        listen(SignalKind::terminate()),
        listen(SignalKind::interrupt()),
        listen(SignalKind::hangup()),
    );
    async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        () = recv(&mut term) => tracing::info!("SIGTERM: shutting down"),
        () = recv(&mut int) => tracing::info!("SIGINT: shutting down"),
        () = recv(&mut hup) => tracing::info!("SIGHUP: shutting down"),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Logs for the non-interactive commands go to stderr, so stdout stays the report.
fn init_stderr_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Writes to stdout; a closed pipe (`recon audit | head`) is not an error.
fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn fail(err: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("recon: {err}");
    ExitCode::from(code)
}
