//! `recon`: parse the command line, load the configuration, pick a front end, and turn
//! every error into one line on stderr and a documented exit code.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use recon::cli::{AuditAction, Cli, Command, Format};
use recon::commands;
use recon::config::TradingConfig;

/// Exit code for "unknown" in the monitoring convention of `once`.
const UNKNOWN: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let once = matches!(cli.command, Some(Command::Once { .. }));
    let cfg = match TradingConfig::load(&cli.config) {
        Ok(cfg) => Arc::new(cfg),
        // For `once`, an invalid configuration is "unknown" to the monitoring system.
        Err(e) => return fail(&e, if once { UNKNOWN } else { 1 }),
    };
    match cli.command.unwrap_or(Command::Tui) {
        // Until the console lands, the default shows one cycle as a table.
        Command::Tui => run_once(cfg, Format::Table),
        Command::Once { format } => run_once(cfg, format),
        Command::Audit {
            action: Some(AuditAction::Verify),
            ..
        } => match commands::audit::verify(&cfg) {
            Ok((msg, intact)) => {
                print_out(&msg);
                ExitCode::from(if intact { 0 } else { 1 })
            }
            Err(e) => fail(&e, 1),
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
        Command::Ack { target, note, by } => {
            match commands::ack::run(&cfg, &target, &note, by.as_deref()) {
                Ok(line) => {
                    print_out(&line);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e, 1),
            }
        }
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
