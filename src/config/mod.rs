//! Configuration: defaults → `config.toml` → `RECON_<SECTION>_<KEY>` env → validated
//! [`TradingConfig`]. The engine only ever sees the validated form (Durations, Decimals,
//! unique exchange names); every rejection names the file or variable and the key path.

mod env;
mod file;
pub mod validate;
mod warnings;

pub(crate) use file::plain_decimal;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::{Asset, ExchangeName};
use crate::exchanges::ExchangeKind;

/// Why the configuration could not be loaded. One line, naming where and what.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not valid TOML.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key with a bad type or value, or an unknown key.
    #[error("{origin}: {key}: {message}")]
    Invalid {
        /// The file path, or `environment RECON_…`.
        origin: String,
        /// Dotted key path (`exchanges[1].kind`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// `[reconciliation]`: the loop's timing.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconciliationConfig {
    /// Time between cycles.
    pub interval: Duration,
    /// Budget of a whole cycle.
    pub cycle_timeout: Duration,
    /// Timeout of one exchange request.
    pub fetch_timeout: Duration,
}

/// A per-asset tolerance override; unset fields fall back to the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToleranceOverride {
    /// Absolute bound override.
    pub absolute: Option<Decimal>,
    /// Relative bound override.
    pub relative: Option<Decimal>,
}

/// `[tolerance]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToleranceConfig {
    /// Differences up to this are noise.
    pub absolute: Decimal,
    /// Differences up to this fraction of the larger side are noise.
    pub relative: Decimal,
    /// Assets never reconciled.
    pub ignore_assets: BTreeSet<Asset>,
    /// Per-asset overrides.
    pub assets: BTreeMap<Asset, ToleranceOverride>,
}

/// `[severity]`: relative thresholds, and the money thresholds of `[severity.value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityConfig {
    /// `medium` from this relative difference.
    pub medium: Decimal,
    /// `high` from this.
    pub high: Decimal,
    /// `critical` from this.
    pub critical: Decimal,
    /// `[severity.value]`: thresholds on the money value (used only with `[valuation]`).
    pub value: ValueSeverityConfig,
}

/// `[severity.value]`: thresholds in the quote currency, each optional (SPEC §2). A value
/// at or above a threshold rates at least that severity; a value below `dust` caps the
/// severity at `low`, whatever the relative difference says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValueSeverityConfig {
    /// Below this value a gap is at most `low` (noise in money terms).
    pub dust: Option<Decimal>,
    /// At least `medium` from this value.
    pub medium: Option<Decimal>,
    /// At least `high` from this value.
    pub high: Option<Decimal>,
    /// `critical` from this value.
    pub critical: Option<Decimal>,
}

/// Where `[valuation]` prices come from.
#[derive(Clone, PartialEq, Eq)]
pub enum PriceSourceConfig {
    /// `source = "static"`: the `prices` table of the file (asset → price in the quote).
    Static(BTreeMap<Asset, Decimal>),
    /// `source = "http"`: a URL answering `{"BTC": "97000.5", ...}`. It may embed a token,
    /// so it is never printed whole.
    Http(SecretUrl),
    /// `source = "coinbase"`: Coinbase Advanced's public market data (no key);
    /// `base_url` overrides `https://api.coinbase.com` (tests, proxies).
    Coinbase {
        /// Override of the production endpoint.
        base_url: Option<Url>,
    },
}

impl PriceSourceConfig {
    /// The config word (`static`, `http`, `coinbase`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Static(_) => "static",
            Self::Http(_) => "http",
            Self::Coinbase { .. } => "coinbase",
        }
    }
}

impl std::fmt::Debug for PriceSourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Static(p) => f.debug_tuple("Static").field(p).finish(),
            Self::Http(u) => f.debug_tuple("Http").field(u).finish(),
            Self::Coinbase { base_url } => f
                .debug_struct("Coinbase")
                .field("base_url", &base_url.as_ref().map(redact_url))
                .finish(),
        }
    }
}

/// `[valuation]`: the money value of each discrepancy (SPEC §2, §4). Absent: no value,
/// severity by relative difference only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuationConfig {
    /// The quote currency (`USD`); itself worth exactly 1.
    pub quote: Asset,
    /// Where prices come from.
    pub source: PriceSourceConfig,
    /// Assets worth exactly 1 quote unit (stablecoins); the quote is always one.
    pub pegged: BTreeSet<Asset>,
    /// A price older than this is stale: no value, the reason given.
    pub max_age: Duration,
}

/// A URL whose path or query is itself a credential (a Slack or Discord webhook). Debug
/// output never shows it, so no `{:?}` of the configuration can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Url);

impl SecretUrl {
    /// The URL, for the one caller that sends to it.
    pub fn expose(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretUrl(***)")
    }
}

/// A URL for display: user info and query removed (either may carry a token).
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        u.set_query(Some("***"));
    }
    u.to_string()
}

/// `[ledger]`: where local balances come from.
#[derive(Clone, PartialEq, Eq)]
pub enum LedgerConfig {
    /// A TOML file, re-read every cycle.
    File {
        /// Resolved path.
        path: PathBuf,
    },
    /// An HTTP endpoint returning the same shape as JSON.
    Http {
        /// The URL.
        url: Url,
    },
}

impl std::fmt::Debug for LedgerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { path } => f.debug_struct("File").field("path", path).finish(),
            Self::Http { url } => f
                .debug_struct("Http")
                .field("url", &redact_url(url))
                .finish(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Text,
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// Directory of the daily rolling files.
    pub dir: PathBuf,
    /// Filter directive (`info`, `recon=debug`).
    pub level: String,
    /// Line format.
    pub format: LogFormat,
}

/// `[retry]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Tries per request in total, the first included.
    pub max_attempts: u32,
    /// First backoff cap.
    pub base_delay: Duration,
    /// Largest backoff.
    pub max_delay: Duration,
}

/// `[circuit_breaker]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed cycles that open the circuit.
    pub failure_threshold: u32,
    /// How long it stays open before a trial.
    pub open_for: Duration,
}

/// `[alerts]` policy (headless only, SPEC §10). The webhook URL itself is
/// [`TradingConfig::webhook_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// How long a discrepancy must stay counted (or an exchange keep failing) before it
    /// alerts; zero alerts on the first cycle.
    pub hold_for: Duration,
    /// Discrepancies below this severity never alert.
    pub min_severity: crate::domain::DiscrepancySeverity,
    /// Re-notify a still-firing alert this often; `None` never does.
    pub repeat: Option<Duration>,
    /// Timeout of one webhook request.
    pub timeout: Duration,
    /// More events than this in one cycle go out as one digest.
    pub max_per_cycle: u32,
}

/// Names of the environment variables holding an exchange's credentials. The secrets
/// themselves are read by the client that signs with them, never stored here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CredentialVars {
    /// Env var of the API key (name).
    pub api_key_env: Option<String>,
    /// Env var of the API secret.
    pub api_secret_env: Option<String>,
    /// Env var of the passphrase (coinbase_exchange).
    pub passphrase_env: Option<String>,
}

/// How a simulated exchange chooses its holdings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimulatedHoldings {
    /// Exactly these, returned as given while drift is 0.
    Exact(BTreeMap<Asset, Decimal>),
    /// N generated symbols with seeded amounts.
    Generated(u32),
}

/// Settings of a `simulated` exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedConfig {
    /// RNG seed.
    pub seed: u64,
    /// Latency range per request, ms.
    pub latency_ms: (u64, u64),
    /// Probability that a request fails (0–1).
    pub failure_rate: f64,
    /// Relative random-walk step per cycle.
    pub drift: Decimal,
    /// What it holds.
    pub holdings: SimulatedHoldings,
}

/// One `[[exchanges]]` entry, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeConfig {
    /// Unique name (`coinbase-main`).
    pub name: ExchangeName,
    /// The venue.
    pub kind: ExchangeKind,
    /// Override of the production endpoint.
    pub base_url: Option<Url>,
    /// Credential variable names.
    pub credentials: CredentialVars,
    /// dYdX `(address, subaccount)`.
    pub dydx: Option<(String, u32)>,
    /// Simulated settings.
    pub simulated: Option<SimulatedConfig>,
}

/// The effective configuration every part of recon runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct TradingConfig {
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
    /// `[reconciliation]`.
    pub reconciliation: ReconciliationConfig,
    /// `[tolerance]`.
    pub tolerance: ToleranceConfig,
    /// `[severity]` (with `[severity.value]`).
    pub severity: SeverityConfig,
    /// `[valuation]`, when configured.
    pub valuation: Option<ValuationConfig>,
    /// `[ledger]`.
    pub ledger: LedgerConfig,
    /// `[storage] path`, resolved.
    pub storage_path: PathBuf,
    /// `[storage] retain_days`: snapshots and cycle rows older than this are pruned.
    pub retain_days: u32,
    /// `[logging]`.
    pub logging: LoggingConfig,
    /// `[retry]`.
    pub retry: RetryConfig,
    /// `[circuit_breaker]`.
    pub circuit_breaker: BreakerConfig,
    /// `[alerts] webhook_url` (embeds its token: never printed).
    pub webhook_url: Option<SecretUrl>,
    /// `[alerts]`, apart from the URL.
    pub alerts: AlertsConfig,
    /// `[ui] theme`.
    pub theme: String,
    /// `[ui]`, apart from the theme.
    pub ui: UiConfig,
    /// `[[exchanges]]`, in file order.
    pub exchanges: Vec<ExchangeConfig>,
}

/// How the console shows times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeZoneSetting {
    /// UTC, marked `UTC`.
    #[default]
    Utc,
    /// The machine's local zone, marked with its offset.
    Local,
}

impl TimeZoneSetting {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utc => "UTC",
            Self::Local => "local",
        }
    }
}

/// `[ui]`: what the console does besides drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiConfig {
    /// Ring the terminal bell once when a high/critical discrepancy opens or escalates, or
    /// an exchange goes down.
    pub bell: bool,
    /// High and critical acknowledgements need a non-empty note.
    pub require_ack_note: bool,
    /// Wheel scrolls, click selects and focuses.
    pub mouse: bool,
    /// How times are shown.
    pub timezone: TimeZoneSetting,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            bell: true,
            require_ack_note: true,
            mouse: true,
            timezone: TimeZoneSetting::Utc,
        }
    }
}

impl TradingConfig {
    /// Loads `path`, overlays the process environment, validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, process_env()?)
    }

    /// Same as [`TradingConfig::load`] with an explicit environment (tests).
    pub fn load_with_env<I>(path: &Path, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_toml_str(&text, path, &base_dir, vars)
    }

    /// Parses TOML text as if read from `origin`; relative paths resolve against `base_dir`.
    pub fn from_toml_str<I>(
        text: &str,
        origin: &Path,
        base_dir: &Path,
        vars: I,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        // A syntax error is reported as path, line, column and the parser's message only:
        // toml's Display would add an excerpt of the source line, which may hold a
        // secret pasted in by mistake.
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Syntax {
                path: origin.to_path_buf(),
                line,
                column,
                message: e.message().trim().replace('\n', " "),
            }
        })?;
        let applied = env::overlay(&mut table, vars)?;
        let raw: file::RawConfig = file::FloatLiterals::of(text)
            .during(|| serde_path_to_error::deserialize(toml::Value::Table(table)))
            .map_err(|e| {
                let key = e.path().to_string();
                let origin = applied
                    .iter()
                    .find(|a| a.path == key)
                    .map(|a| format!("environment {}", a.var))
                    .unwrap_or_else(|| origin.display().to_string());
                // serde quotes the offending value ("invalid type: integer `1234`"); for
                // a key that may hold a pasted secret, say what is expected instead.
                let message = e.inner().message().trim().replace('\n', " ");
                let message = match secret_key(&key) {
                    Some(expected) if message.starts_with("invalid") => {
                        format!("must be a string: {expected} (the value is not shown)")
                    }
                    _ => message,
                };
                ConfigError::Invalid {
                    origin,
                    key: if key == "." {
                        "(top level)".into()
                    } else {
                        key
                    },
                    message,
                }
            })?;
        let mut cfg = validate::validate(raw, base_dir).map_err(|(key, message)| {
            let origin = applied
                .iter()
                .find(|a| a.path == key)
                .map(|a| format!("environment {}", a.var))
                .unwrap_or_else(|| origin.display().to_string());
            ConfigError::Invalid {
                origin,
                key,
                message,
            }
        })?;
        cfg.source = Some(origin.to_path_buf());
        Ok(cfg)
    }

    /// The exchange entry called `name`.
    pub fn exchange(&self, name: &ExchangeName) -> Option<&ExchangeConfig> {
        self.exchanges.iter().find(|e| &e.name == name)
    }
}

/// The process environment as text. `std::env::vars()` panics on any variable that is not
/// UTF-8, even one recon never reads; such variables are skipped, unless they are ours.
fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (k, v) in std::env::vars_os() {
        match (k.into_string(), v.into_string()) {
            (Ok(k), Ok(v)) => out.push((k, v)),
            (Ok(k), Err(_)) if k.starts_with("RECON_") => {
                return Err(ConfigError::Invalid {
                    origin: format!("environment {k}"),
                    key: k.trim_start_matches("RECON_").to_ascii_lowercase(),
                    message: "value is not valid UTF-8".into(),
                })
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Keys whose value may be a credential: every `*_env` key (a secret pasted instead of
/// a variable name) and every URL (webhook URLs embed their token, others may carry
/// user info). Returns what such a key expects; errors on these keys say that and never
/// quote the value.
fn secret_key(path: &str) -> Option<&'static str> {
    let last = path.rsplit('.').next().unwrap_or(path);
    if last.ends_with("_env") {
        Some("the NAME of an environment variable")
    } else if last == "url" || last.ends_with("_url") {
        Some("an http:// or https:// URL")
    } else {
        None
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_url_credentials() {
        let text = "[alerts]\nwebhook_url = \"https://hooks.example/services/T0/B0/SECRET-TOKEN\"\n\
                    [ledger]\nkind = \"http\"\nurl = \"https://user:PASSWORD@l.example/b?key=QUERYKEY\"\n\
                    [[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n";
        let cfg =
            TradingConfig::from_toml_str(text, Path::new("c.toml"), Path::new("."), Vec::new())
                .unwrap();
        let debug = format!("{cfg:?}");
        for secret in ["SECRET-TOKEN", "PASSWORD", "QUERYKEY"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert_eq!(
            cfg.webhook_url.as_ref().map(|u| u.expose().path()),
            Some("/services/T0/B0/SECRET-TOKEN")
        );
    }

    fn load(text: &str) -> Result<TradingConfig, ConfigError> {
        TradingConfig::from_toml_str(text, Path::new("c.toml"), Path::new("."), Vec::new())
    }

    const SIM: &str = "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n";

    #[test]
    fn a_float_decimal_key_is_refused_quoting_the_literal_as_written() {
        let err = load(&format!(
            "[tolerance]\nabsolute = 123456789.123456789\n{SIM}"
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: tolerance.absolute: 123456789.123456789 is a float, which loses precision; quote it (\"123456789.123456789\")"
        );
        let err = load(&format!("[severity]\nmedium = 1_000.000_5e-6\n{SIM}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: severity.medium: 1_000.000_5e-6 is a float, which loses precision; quote it (\"0.0010000005\")"
        );
        let err = load(
            "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = { BTC = 0.30000000000000004 }\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: exchanges[0].balances.BTC: 0.30000000000000004 is a float, which loses precision; quote it (\"0.30000000000000004\")"
        );
        let err = load(&format!("[tolerance]\nabsolute = nan\n{SIM}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: tolerance.absolute: nan is not a decimal amount"
        );
    }

    #[test]
    fn simulation_knobs_take_a_float_or_a_string_exactly() {
        let sim = |drift: &str, rate: &str| {
            let cfg = load(&format!(
                "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\ndrift = {drift}\nfailure_rate = {rate}\nbalances = {{}}\n"
            ))
            .unwrap();
            let s = cfg.exchanges[0].simulated.clone().unwrap();
            (s.drift.to_string(), s.failure_rate)
        };
        assert_eq!(sim("0.01", "0.25"), ("0.01".to_string(), 0.25));
        assert_eq!(sim("\"0.01\"", "\"0.25\""), ("0.01".to_string(), 0.25));
        assert_eq!(sim("0", "1"), ("0".to_string(), 1.0));
        assert_eq!(sim("1e-3", "0.000_1"), ("0.001".to_string(), 0.0001));
        let err =
            load("[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\ndrift = 1.5\nbalances = {}\n")
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: exchanges[0] (x).drift: must be between 0 and 1"
        );
        let err = load(
            "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nfailure_rate = \"-0.5\"\nbalances = {}\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.toml: exchanges[0] (x).failure_rate: -0.5 must not be negative"
        );
    }

    const EX_ENV: &str = "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n";

    fn load_env(text: &str, env: &[(&str, &str)]) -> Result<TradingConfig, ConfigError> {
        TradingConfig::from_toml_str(
            &format!("{text}\n{EX_ENV}"),
            Path::new("c.toml"),
            Path::new("."),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn alerts_and_retention_defaults() {
        let cfg = load_env("", &[]).unwrap();
        assert_eq!(cfg.retain_days, 90);
        assert_eq!(
            cfg.alerts,
            AlertsConfig {
                hold_for: Duration::ZERO,
                min_severity: crate::domain::DiscrepancySeverity::High,
                repeat: None,
                timeout: Duration::from_millis(3000),
                max_per_cycle: 10,
            }
        );
    }

    #[test]
    fn alerts_and_retention_from_file_and_environment() {
        let cfg = load_env(
            "[alerts]\nfor_secs = 1.5\nmin_severity = \"medium\"\nrepeat_secs = 3600\n\
             timeout_ms = 500\nmax_per_cycle = 3\n[storage]\nretain_days = 7\n",
            &[],
        )
        .unwrap();
        assert_eq!(cfg.retain_days, 7);
        assert_eq!(cfg.alerts.hold_for, Duration::from_millis(1500));
        assert_eq!(
            cfg.alerts.min_severity,
            crate::domain::DiscrepancySeverity::Medium
        );
        assert_eq!(cfg.alerts.repeat, Some(Duration::from_secs(3600)));
        assert_eq!(cfg.alerts.timeout, Duration::from_millis(500));
        assert_eq!(cfg.alerts.max_per_cycle, 3);
        let cfg = load_env(
            "",
            &[
                ("RECON_ALERTS_FOR_SECS", "30"),
                ("RECON_ALERTS_MIN_SEVERITY", "critical"),
                ("RECON_ALERTS_REPEAT_SECS", "0"),
                ("RECON_ALERTS_TIMEOUT_MS", "250"),
                ("RECON_ALERTS_MAX_PER_CYCLE", "20"),
                ("RECON_STORAGE_RETAIN_DAYS", "1"),
            ],
        )
        .unwrap();
        assert_eq!(cfg.retain_days, 1);
        assert_eq!(cfg.alerts.hold_for, Duration::from_secs(30));
        assert_eq!(
            cfg.alerts.min_severity,
            crate::domain::DiscrepancySeverity::Critical
        );
        assert_eq!(cfg.alerts.repeat, None);
        assert_eq!(cfg.alerts.timeout, Duration::from_millis(250));
        assert_eq!(cfg.alerts.max_per_cycle, 20);
    }

    #[test]
    fn bad_alert_and_retention_values_name_the_key() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("[storage]\nretain_days = 0\n", &[], "c.toml: storage.retain_days: 0 must be between 1 and 36500"),
            ("[alerts]\nfor_secs = -1\n", &[], "c.toml: alerts.for_secs: -1 must be between 0 and 604800 seconds (one week)"),
            ("[alerts]\nrepeat_secs = 1e9\n", &[], "c.toml: alerts.repeat_secs: 1000000000 must be between 0 and 604800 seconds (one week)"),
            ("[alerts]\ntimeout_ms = 0\n", &[], "c.toml: alerts.timeout_ms: 0 must be between 1 and 60000"),
            ("[alerts]\nmax_per_cycle = 0\n", &[], "c.toml: alerts.max_per_cycle: 0 must be between 1 and 1000"),
            ("[alerts]\nmin_severity = \"urgent\"\n", &[], "c.toml: alerts.min_severity: unknown variant `urgent`, expected one of `low`, `medium`, `high`, `critical`"),
            ("", &[("RECON_STORAGE_RETAIN_DAYS", "-3")], "environment RECON_STORAGE_RETAIN_DAYS: storage.retain_days: invalid value: integer `-3`, expected u32"),
            ("", &[("RECON_ALERTS_MAX_PER_CYCLE", "many")], "environment RECON_ALERTS_MAX_PER_CYCLE: alerts.max_per_cycle: 'many' is not an integer"),
        ];
        for (text, env, expected) in cases {
            let err = load_env(text, env).unwrap_err();
            assert_eq!(err.to_string(), *expected, "{text} {env:?}");
        }
    }

    #[test]
    fn valuation_reads_a_static_table_exactly_with_defaults() {
        let cfg = load(&format!(
            "[valuation]\nprices = {{ btc = \"97000.5\", ETH = 3500 }}\npegged = [\"usdc\"]\n{SIM}"
        ))
        .unwrap();
        let v = cfg.valuation.unwrap();
        assert_eq!(v.quote.as_str(), "USD");
        assert_eq!(v.max_age, Duration::from_secs(300));
        assert_eq!(
            v.pegged.iter().map(Asset::as_str).collect::<Vec<_>>(),
            vec!["USDC"]
        );
        let PriceSourceConfig::Static(prices) = v.source else {
            panic!("not static")
        };
        assert_eq!(
            prices
                .iter()
                .map(|(a, p)| format!("{a}={p}"))
                .collect::<Vec<_>>(),
            vec!["BTC=97000.5", "ETH=3500"]
        );
        assert_eq!(load(SIM).unwrap().valuation, None);
    }

    #[test]
    fn bad_valuation_keys_are_one_line_errors_naming_the_key() {
        for (text, expected) in [
            ("[valuation]\nprices = { BTC = 97000.5 }\n", "c.toml: valuation.prices.BTC: 97000.5 is a float, which loses precision; quote it (\"97000.5\")"),
            ("[valuation]\nprices = { BTC = \"0\" }\n", "c.toml: valuation.prices.BTC: must be greater than 0"),
            ("[valuation]\nprices = { BTC = \"-1\" }\n", "c.toml: valuation.prices.BTC: -1 must not be negative"),
            ("[valuation]\nsource = \"static\"\n", "c.toml: valuation.prices: required when source = \"static\""),
            ("[valuation]\nsource = \"http\"\n", "c.toml: valuation.url: required when source = \"http\""),
            ("[valuation]\nsource = \"http\"\nurl = \"ftp://user:pw@h/p\"\n", "c.toml: valuation.url: must be an http:// or https:// URL"),
            ("[valuation]\nsource = \"coinbase\"\nurl = \"http://h/p\"\n", "c.toml: valuation.url: only valid with source = \"http\""),
            ("[valuation]\nsource = \"coinbase\"\nprices = {}\n", "c.toml: valuation.prices: only valid with source = \"static\""),
            ("[valuation]\nsource = \"oracle\"\n", "c.toml: valuation.source: unknown variant `oracle`, expected one of `static`, `http`, `coinbase`"),
            ("[valuation]\nsource = \"coinbase\"\nmax_age_secs = 0\n", "c.toml: valuation.max_age_secs: 0 must be > 0 and at most 86400 seconds"),
            ("[valuation]\nsource = \"coinbase\"\nquote = \"BTC-USD\"\n", "c.toml: valuation.quote: 'BTC-USD' is a market, not a currency"),
            ("[severity.value]\ndust = \"10\"\nhigh = \"5\"\n", "c.toml: severity.value: thresholds must rise: dust (10) <= high (5)"),
            ("[severity.value]\ncritical = 1e4\n", "c.toml: severity.value.critical: 1e4 is a float, which loses precision; quote it (\"10000\")"),
            ("[severity.value]\npage = \"1\"\n", "c.toml: severity.value.page: unknown field `page`, expected one of `dust`, `medium`, `high`, `critical`"),
        ] {
            let err = load(&format!("{text}{SIM}")).unwrap_err();
            assert_eq!(err.to_string(), expected, "{text}");
        }
    }

    #[test]
    fn ignore_under_one_page_over_ten_thousand_in_four_lines() {
        // As in the README: exactly these four lines.
        let cfg = load(&format!(
            "[valuation]\nsource = \"coinbase\"\n[severity]\nvalue = {{ dust = \"1\", critical = \"10000\" }}\n{SIM}"
        ))
        .unwrap();
        assert_eq!(cfg.valuation.map(|v| v.source.kind()), Some("coinbase"));
        assert_eq!(
            cfg.severity.value,
            ValueSeverityConfig {
                dust: Some(Decimal::ONE),
                medium: None,
                high: None,
                critical: Some(Decimal::from(10_000)),
            }
        );
    }

    #[test]
    fn valuation_from_the_environment_and_its_url_never_in_debug() {
        let cfg = load_env(
            "",
            &[
                ("RECON_VALUATION_SOURCE", "http"),
                (
                    "RECON_VALUATION_URL",
                    "https://u:PRICEPASS@p.example/prices?token=PRICETOKEN",
                ),
                ("RECON_VALUATION_PEGGED", "USDC, usdt"),
                ("RECON_VALUATION_MAX_AGE_SECS", "60"),
                ("RECON_SEVERITY_VALUE_DUST", "1"),
                ("RECON_SEVERITY_VALUE_CRITICAL", "10000"),
            ],
        )
        .unwrap();
        let v = cfg.valuation.clone().unwrap();
        assert_eq!(v.source.kind(), "http");
        assert_eq!(v.max_age, Duration::from_secs(60));
        assert_eq!(v.pegged.len(), 2);
        assert_eq!(cfg.severity.value.dust, Some(Decimal::ONE));
        assert_eq!(cfg.severity.value.critical, Some(Decimal::from(10_000)));
        let debug = format!("{cfg:?}");
        assert!(
            !debug.contains("PRICEPASS") && !debug.contains("PRICETOKEN"),
            "{debug}"
        );
        let err = load_env("", &[("RECON_SEVERITY_VALUE_HIGH", "lots")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment RECON_SEVERITY_VALUE_HIGH: severity.value.high: 'lots' is not a decimal amount"
        );
    }
}
