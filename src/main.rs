//! `recon`: parse the command line, load the configuration, pick a front end, and turn
//! every error into one line on stderr and a documented exit code.

use std::io::{IsTerminal, Write};
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    let once = matches!(cli.command, Some(Command::Once { .. }));
    // Exit code when stdout cannot be written (a full disk; a closed pipe is quiet).
    let write_failed = if once { UNKNOWN } else { 1 };
    let cfg = match TradingConfig::load(&cli.config) {
        Ok(cfg) => Arc::new(cfg),
        // For `once`, an invalid configuration is "unknown" to the monitoring system.
        Err(e) => return fail(&e, if once { UNKNOWN } else { 1 }),
    };
    let command = cli.command.unwrap_or(Command::Tui);
    let warnings = cfg.warnings();
    // Only where cycles run (and where the configuration is shown); the console prints
    // its own, once it knows it will start.
    if matches!(
        command,
        Command::Once { .. } | Command::Headless { .. } | Command::Config
    ) {
        for w in &warnings {
            warn_line(w);
        }
    }
    match command {
        Command::Tui => run_tui(cfg, &warnings),
        Command::Headless { metrics_addr } => run_headless(cfg, metrics_addr),
        Command::Once { format } => run_once(cfg, format),
        Command::Audit {
            action: Some(AuditAction::Verify),
            ..
        } => match commands::audit::verify(&cfg) {
            Ok((msg, intact)) => print_out(&msg, if intact { 0 } else { 1 }, write_failed),
            // 1 means "broken"; not being able to look is something else.
            Err(e) => fail(&format!("could not verify: {e}"), UNKNOWN),
        },
        Command::Audit {
            action: None,
            limit,
            format,
        } => match commands::audit::list(&cfg, limit, format) {
            Ok(text) => print_out(&text, 0, write_failed),
            Err(e) => fail(&e, 1),
        },
        Command::Ack {
            target,
            note,
            by,
            difference,
            snooze,
        } => match commands::ack::run_for(
            &cfg,
            &target,
            &note,
            by.as_deref(),
            difference.as_deref(),
            snooze.as_deref(),
        ) {
            Ok(line) => print_out(&line, 0, write_failed),
            Err(e) => fail(&e, 1),
        },
        Command::Unack { target, note, by } => {
            match commands::unack::run(&cfg, &target, &note, by.as_deref()) {
                Ok(line) => print_out(&line, 0, write_failed),
                Err(e) => fail(&e, 1),
            }
        }
        Command::Expect {
            action,
            target,
            difference,
            duration,
            note,
            by,
        } => {
            let result = match action {
                Some(recon::cli::ExpectAction::List { format }) => {
                    commands::expect::list(&cfg, format)
                }
                Some(recon::cli::ExpectAction::Cancel { id, note, by }) => {
                    commands::expect::cancel(&cfg, id, &note, by.as_deref())
                }
                None => commands::expect::add(
                    &cfg,
                    target.as_deref().unwrap_or_default(),
                    difference.as_deref().unwrap_or_default(),
                    duration.as_deref(),
                    &note,
                    by.as_deref(),
                ),
            };
            match result {
                Ok(line) => print_out(&line, 0, write_failed),
                Err(e) => fail(&e, 1),
            }
        }
        Command::Config => print_out(&commands::show_config::render(&cfg), 0, write_failed),
    }
}

/// A command line clap rejected, or `--help`/`--version`. A usage error of `once` exits
/// 3: monitoring systems read clap's 2 as CRITICAL, and a mistyped check is UNKNOWN.
fn usage(e: &clap::Error) -> ExitCode {
    // Help goes to stdout, errors to stderr; a closed stream is no reason to panic.
    let _ = e.print();
    let code = e.exit_code();
    if code != 0 && typed_subcommand().as_deref() == Some("once") {
        return ExitCode::from(UNKNOWN);
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The subcommand as typed: the first argument that is not an option, skipping the
/// value of `--config` (the only option taking a separate value before a subcommand).
fn typed_subcommand() -> Option<String> {
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            args.next();
        } else if arg == "--" {
            return args.next().map(|a| a.to_string_lossy().into_owned());
        } else if !arg.starts_with('-') {
            return Some(arg.into_owned());
        }
    }
    None
}

fn run_once(cfg: Arc<TradingConfig>, format: Format) -> ExitCode {
    init_stderr_logging("warn");
    // One cycle has nothing to run in parallel on the CPU (the fetches overlap on I/O;
    // the database has its own thread): worker threads would only add their stacks,
    // their malloc arenas and the TLB shoot-downs of their teardown to the one figure a
    // cron job pays for every minute (SPEC §8).
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e, UNKNOWN),
    };
    match rt.block_on(commands::once::report(cfg, format)) {
        Ok((text, code)) => print_out(&text, code, UNKNOWN),
        Err(e) => fail(&e, UNKNOWN),
    }
}

/// The console: themes and logging are checked before the terminal is taken, so a bad
/// theme or log directory is one plain line on stderr.
fn run_tui(cfg: Arc<TradingConfig>, warnings: &[String]) -> ExitCode {
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
    // On stderr before the terminal is taken (they stay visible after the console
    // exits), and in the log, since stderr belongs to the terminal from here on.
    for w in warnings {
        warn_line(w);
        tracing::warn!("{w}");
    }
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

/// The daemon: logs to the rolling files and stderr (journald), exit 0 after a clean
/// SIGTERM/SIGINT, 1 with one line on any error (a metrics port in use included). The
/// log guard is dropped last, so every queued line is written before the exit.
fn run_headless(cfg: Arc<TradingConfig>, metrics_addr: Option<std::net::SocketAddr>) -> ExitCode {
    let guard = match recon::logging::init(&cfg.logging, true) {
        Ok(g) => g,
        Err(e) => return fail(&e, 1),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e, 1),
    };
    let options = recon::headless::Options { metrics_addr };
    let result = rt.block_on(recon::headless::run(cfg, options));
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
/// Colours only on a terminal: escape codes in a cron mail or a log file are noise. A
/// failed write to stderr is dropped rather than reported on stderr (which would panic).
fn init_stderr_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false)
        .with_target(false)
        .try_init();
}

/// Writes the command's output to stdout and returns the exit code: `decided` when it
/// was written, or when the reader went away (`recon once | head -1`: the pipe closing
/// early is the reader's choice, not a failure); any other write error (a full disk) is
/// one line on stderr and `write_failed`.
fn print_out(text: &str, decided: u8, write_failed: u8) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::from(decided),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(decided),
        Err(e) => fail(
            &format!("cannot write the output to stdout: {e}"),
            write_failed,
        ),
    }
}

/// `recon: warning: …` on stderr.
fn warn_line(text: &str) {
    stderr_line(&format!("recon: warning: {text}"));
}

fn fail(err: &dyn std::fmt::Display, code: u8) -> ExitCode {
    stderr_line(&format!("recon: {err}"));
    ExitCode::from(code)
}

/// One line on stderr. Unlike `eprintln!`, a closed or full stderr is ignored: there is
/// nowhere left to report it, and a panic would replace the decided exit code.
fn stderr_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|()| err.flush());
}
