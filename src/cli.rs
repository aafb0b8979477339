//! The command line (clap derive): `recon [tui|headless|once|audit|ack|unack|config]`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// recon — reconcile your ledger against your exchanges, live.
#[derive(Debug, Parser)]
#[command(name = "recon", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "RECON_CONFIG",
        default_value = "config.toml"
    )]
    pub config: PathBuf,

    /// What to do (default: the interactive console).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Interactive console (the default).
    Tui,
    /// The loop without a terminal, for servers: logs, metrics, signals, systemd.
    Headless {
        /// Serve /metrics, /healthz and /readyz here (`127.0.0.1:9184`; `:9184` or `9184`
        /// bind 127.0.0.1). Off by default.
        #[arg(long, value_name = "ADDR", value_parser = parse_metrics_addr)]
        metrics_addr: Option<SocketAddr>,
    },
    /// Run one cycle, print the report, exit 0 ok / 1 warning / 2 critical / 3 unknown.
    Once {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print the audit trail, newest first (`audit verify` checks the hash chain).
    Audit {
        /// `verify`: recompute the hash chain; exit 0 intact, 1 broken, 3 could not verify.
        #[command(subcommand)]
        action: Option<AuditAction>,
        /// Entries to print.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Acknowledge an open discrepancy: `recon ack coinbase-main:BTC --note "…"`.
    Ack {
        /// `<exchange>:<asset>`.
        target: String,
        /// Why it is acceptable.
        #[arg(long, default_value = "")]
        note: String,
        /// Who acknowledges (default: $USER, else the account name of the user id).
        #[arg(long)]
        by: Option<String>,
        /// The difference you saw (exchange − local, e.g. from `recon once`): refused,
        /// with the current figure, if the open gap has since moved beyond tolerance of it,
        /// changed sign, or resolved.
        #[arg(long, value_name = "D", allow_hyphen_values = true)]
        difference: Option<String>,
        /// Snooze: the acknowledgement lapses after DURATION (`90s`, `15m`, `2h`, `1d`; at
        /// most 30 days) and the discrepancy counts again.
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        snooze: Option<String>,
    },
    /// Withdraw an acknowledgement: `recon unack coinbase-main:BTC --note "…"`; the
    /// discrepancy counts again.
    Unack {
        /// `<exchange>:<asset>`.
        target: String,
        /// Why it is withdrawn.
        #[arg(long, default_value = "")]
        note: String,
        /// Who withdraws it (default: $USER, else the account name of the user id).
        #[arg(long)]
        by: Option<String>,
    },
    /// Declare a movement in flight: `recon expect coinbase-main:BTC 0.1 --for 2h --note "…"`
    /// says the exchange is expected to differ from the ledger by +0.1 (exchange − ledger)
    /// until then; a gap it accounts for is `explained`, not counted. Also `expect list`,
    /// `expect cancel N`.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_precedence_over_arg = true
    )]
    Expect {
        /// `list` or `cancel`.
        #[command(subcommand)]
        action: Option<ExpectAction>,
        /// `<exchange>:<asset>`.
        #[arg(required = true)]
        target: Option<String>,
        /// The expected difference, exchange − ledger (e.g. `0.1` for a withdrawal booked in
        /// the ledger that the exchange has not settled; negative for a deposit in flight).
        #[arg(required = true, allow_hyphen_values = true, value_name = "DIFFERENCE")]
        difference: Option<String>,
        /// How long it holds (`90s`, `15m`, `2h`, `1d`; at most 30 days; default 24h).
        #[arg(long = "for", value_name = "DURATION", allow_hyphen_values = true)]
        duration: Option<String>,
        /// What is in flight (e.g. the transaction hash).
        #[arg(long, default_value = "")]
        note: String,
        /// Who declares it (default: $USER, else the account name of the user id).
        #[arg(long)]
        by: Option<String>,
    },
    /// Print the effective configuration (defaults + file + env), secrets as `***`.
    Config,
}

/// `recon expect` actions.
#[derive(Debug, Subcommand)]
pub enum ExpectAction {
    /// The active expectations (read-only).
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Withdraw expectation N; the gap it explained counts again.
    Cancel {
        /// The expectation's number (from `recon expect list`).
        id: i64,
        /// Why it is withdrawn.
        #[arg(long, default_value = "")]
        note: String,
        /// Who withdraws it (default: $USER, else the account name of the user id).
        #[arg(long)]
        by: Option<String>,
    },
}

/// `recon audit` actions.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Recompute the hash chain (read-only); exit 0 intact, 1 broken (naming the entry),
    /// 3 could not verify (missing or unreadable file, not a recon database).
    Verify,
}

/// Output format of `once` and `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// Machine-readable JSON.
    Json,
}

/// `--metrics-addr`: `HOST:PORT` with an IP host, or a bare port (`:9184`, `9184`) on
/// 127.0.0.1, so nothing is exposed beyond the machine unless asked for.
pub fn parse_metrics_addr(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.strip_prefix(':')
        .unwrap_or(s)
        .parse::<u16>()
        .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .map_err(|_| "expected IP:PORT, :PORT or PORT (e.g. 127.0.0.1:9184)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_address_without_a_host_binds_loopback() {
        assert_eq!(
            parse_metrics_addr(":9184").unwrap().to_string(),
            "127.0.0.1:9184"
        );
        assert_eq!(
            parse_metrics_addr("9184").unwrap().to_string(),
            "127.0.0.1:9184"
        );
        assert_eq!(
            parse_metrics_addr("0.0.0.0:80").unwrap().to_string(),
            "0.0.0.0:80"
        );
        assert_eq!(
            parse_metrics_addr("[::1]:9184").unwrap().to_string(),
            "[::1]:9184"
        );
        assert!(parse_metrics_addr("localhost").is_err());
        assert!(parse_metrics_addr(":99999").is_err());
    }
}
