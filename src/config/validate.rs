//! File model → [`TradingConfig`]: defaults applied, every rule checked, one function per
//! section. Errors are `(key path, message)`; `mod.rs` adds the origin.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use url::Url;

use super::file::{self, ConfigDecimal, DecimalKnob, LedgerKind, RawExchange, Seconds};
use super::*;
use crate::domain::parse_amount;

type Invalid = (String, String);

/// Defaults, in one place (the README table and the shipped config are tested against
/// these).
pub mod defaults {
    /// `[reconciliation] interval_secs`.
    pub const INTERVAL_SECS: f64 = 30.0;
    /// `[reconciliation] cycle_timeout_ms`.
    pub const CYCLE_TIMEOUT_MS: u64 = 2000;
    /// `[reconciliation] fetch_timeout_ms`.
    pub const FETCH_TIMEOUT_MS: u64 = 1000;
    /// `[tolerance] absolute`.
    pub const ABSOLUTE: &str = "0.00000001";
    /// `[tolerance] relative`.
    pub const RELATIVE: &str = "0.0001";
    /// `[severity]` medium, high, critical.
    pub const SEVERITY: [&str; 3] = ["0.001", "0.01", "0.05"];
    /// `[ledger] path`.
    pub const LEDGER_PATH: &str = "ledger.toml";
    /// `[storage] path`.
    pub const STORAGE_PATH: &str = "recon.db";
    /// `[logging] dir`.
    pub const LOG_DIR: &str = "logs";
    /// `[logging] level`.
    pub const LOG_LEVEL: &str = "info";
    /// `[retry]` max_attempts, base_delay_ms, max_delay_ms.
    pub const RETRY: (u32, u64, u64) = (3, 100, 2000);
    /// `[circuit_breaker]` failure_threshold, open_secs.
    pub const BREAKER: (u32, f64) = (5, 30.0);
    /// `[ui] theme`.
    pub const THEME: &str = "default";
    /// `[storage] retain_days`.
    pub const RETAIN_DAYS: u32 = 90;
    /// `[alerts] for_secs`.
    pub const ALERT_FOR_SECS: f64 = 0.0;
    /// `[alerts] min_severity`.
    pub const ALERT_MIN_SEVERITY: crate::domain::DiscrepancySeverity =
        crate::domain::DiscrepancySeverity::High;
    /// `[alerts] repeat_secs` (0 = never).
    pub const ALERT_REPEAT_SECS: f64 = 0.0;
    /// `[alerts] timeout_ms`.
    pub const ALERT_TIMEOUT_MS: u64 = 3000;
    /// `[alerts] max_per_cycle`.
    pub const ALERT_MAX_PER_CYCLE: u32 = 10;
    /// `[valuation] quote`.
    pub const QUOTE: &str = "USD";
    /// `[valuation] max_age_secs`.
    pub const PRICE_MAX_AGE_SECS: f64 = 300.0;
}

pub(super) fn validate(raw: file::RawConfig, base_dir: &Path) -> Result<TradingConfig, Invalid> {
    let exchanges = raw
        .exchanges
        .ok_or_else(|| invalid("exchanges", "at least one [[exchanges]] entry is required"))?;
    Ok(TradingConfig {
        source: None,
        reconciliation: reconciliation(raw.reconciliation)?,
        tolerance: tolerance(raw.tolerance)?,
        severity: severity(raw.severity)?,
        valuation: raw.valuation.map(valuation).transpose()?,
        ledger: ledger(raw.ledger, base_dir)?,
        storage_path: resolve(
            base_dir,
            raw.storage
                .path
                .as_deref()
                .unwrap_or(defaults::STORAGE_PATH),
        ),
        retain_days: retain_days(raw.storage.retain_days)?,
        logging: logging(raw.logging, base_dir)?,
        retry: retry(raw.retry)?,
        circuit_breaker: breaker(raw.circuit_breaker)?,
        webhook_url: match raw.alerts.webhook_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => Some(SecretUrl(http_url("alerts.webhook_url", u)?)),
        },
        alerts: alerts(&raw.alerts)?,
        ui: ui(&raw.ui)?,
        theme: theme(raw.ui.theme)?,
        exchanges: exchange_list(exchanges)?,
    })
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    (key.into(), message.into())
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn duration_secs(key: &str, s: Option<Seconds>, default: f64) -> Result<Duration, Invalid> {
    let v = s.map_or(default, |s| s.0);
    if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
        return Err(invalid(
            key,
            format!("{v} must be > 0 and at most 86400 seconds"),
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

fn duration_ms(key: &str, v: Option<u64>, default: u64) -> Result<Duration, Invalid> {
    match v.unwrap_or(default) {
        0 => Err(invalid(key, "must be greater than 0")),
        ms if ms > 3_600_000 => Err(invalid(key, format!("{ms} exceeds one hour"))),
        ms => Ok(Duration::from_millis(ms)),
    }
}

fn decimal(key: &str, v: Option<ConfigDecimal>, default: &str) -> Result<Decimal, Invalid> {
    let text = v.map_or_else(|| default.to_string(), |d| d.0);
    let d = parse_amount(text.trim()).map_err(|e| invalid(key, e.to_string()))?;
    if d.is_sign_negative() && !d.is_zero() {
        return Err(invalid(key, format!("{text} must not be negative")));
    }
    Ok(d)
}

fn reconciliation(r: file::RawReconciliation) -> Result<ReconciliationConfig, Invalid> {
    let interval = duration_secs(
        "reconciliation.interval_secs",
        r.interval_secs,
        defaults::INTERVAL_SECS,
    )?;
    if interval < Duration::from_millis(50) {
        return Err(invalid(
            "reconciliation.interval_secs",
            "must be at least 0.05 seconds",
        ));
    }
    Ok(ReconciliationConfig {
        interval,
        cycle_timeout: duration_ms(
            "reconciliation.cycle_timeout_ms",
            r.cycle_timeout_ms,
            defaults::CYCLE_TIMEOUT_MS,
        )?,
        fetch_timeout: duration_ms(
            "reconciliation.fetch_timeout_ms",
            r.fetch_timeout_ms,
            defaults::FETCH_TIMEOUT_MS,
        )?,
    })
}

fn asset(key: &str, raw: &str) -> Result<Asset, Invalid> {
    Asset::parse(raw).map_err(|e| invalid(key, e.to_string()))
}

fn tolerance(t: file::RawTolerance) -> Result<ToleranceConfig, Invalid> {
    let relative = decimal("tolerance.relative", t.relative, defaults::RELATIVE)?;
    if relative > Decimal::ONE {
        return Err(invalid("tolerance.relative", "must be between 0 and 1"));
    }
    let mut ignore_assets = BTreeSet::new();
    for (i, a) in t.ignore_assets.unwrap_or_default().iter().enumerate() {
        ignore_assets.insert(asset(&format!("tolerance.ignore_assets[{i}]"), a)?);
    }
    let mut assets = BTreeMap::new();
    for (name, o) in t.assets {
        let key = format!("tolerance.assets.{name}");
        let sym = asset(&key, &name)?;
        let absolute = o
            .absolute
            .map(|d| decimal(&format!("{key}.absolute"), Some(d), "0"))
            .transpose()?;
        let relative = o
            .relative
            .map(|d| decimal(&format!("{key}.relative"), Some(d), "0"))
            .transpose()?;
        if relative.is_some_and(|r| r > Decimal::ONE) {
            return Err(invalid(
                format!("{key}.relative"),
                "must be between 0 and 1",
            ));
        }
        if assets
            .insert(sym, ToleranceOverride { absolute, relative })
            .is_some()
        {
            return Err(invalid(key, "defined twice (symbols are case-insensitive)"));
        }
    }
    Ok(ToleranceConfig {
        absolute: decimal("tolerance.absolute", t.absolute, defaults::ABSOLUTE)?,
        relative,
        ignore_assets,
        assets,
    })
}

fn severity(s: file::RawSeverity) -> Result<SeverityConfig, Invalid> {
    let [m, h, c] = defaults::SEVERITY;
    let cfg = SeverityConfig {
        medium: decimal("severity.medium", s.medium, m)?,
        high: decimal("severity.high", s.high, h)?,
        critical: decimal("severity.critical", s.critical, c)?,
        value: value_severity(s.value.unwrap_or_default())?,
    };
    if !(cfg.medium <= cfg.high && cfg.high <= cfg.critical) {
        return Err(invalid(
            "severity",
            format!(
                "thresholds must rise: medium ({}) <= high ({}) <= critical ({})",
                cfg.medium, cfg.high, cfg.critical
            ),
        ));
    }
    if cfg.critical > Decimal::ONE {
        return Err(invalid(
            "severity.critical",
            "must be at most 1 (a missing asset has relative difference 1)",
        ));
    }
    Ok(cfg)
}

/// `[severity.value]`: each threshold optional; those given must rise in the order
/// dust, medium, high, critical (a dust floor above `high` would silence what `high` pages).
fn value_severity(v: file::RawValueSeverity) -> Result<ValueSeverityConfig, Invalid> {
    let one = |key: &str, d: Option<ConfigDecimal>| {
        d.map(|d| decimal(&format!("severity.value.{key}"), Some(d), "0"))
            .transpose()
    };
    let cfg = ValueSeverityConfig {
        dust: one("dust", v.dust)?,
        medium: one("medium", v.medium)?,
        high: one("high", v.high)?,
        critical: one("critical", v.critical)?,
    };
    let given: Vec<(&str, Decimal)> = [
        ("dust", cfg.dust),
        ("medium", cfg.medium),
        ("high", cfg.high),
        ("critical", cfg.critical),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    if given.windows(2).any(|w| w[0].1 > w[1].1) {
        let listed = given
            .iter()
            .map(|(k, v)| format!("{k} ({})", crate::domain::format_amount(*v)))
            .collect::<Vec<_>>()
            .join(" <= ");
        return Err(invalid(
            "severity.value",
            format!("thresholds must rise: {listed}"),
        ));
    }
    Ok(cfg)
}

/// `[valuation]` (SPEC §4): the source and its keys, checked against each other so a key
/// of another source is an error rather than silently unused.
fn valuation(v: file::RawValuation) -> Result<ValuationConfig, Invalid> {
    use file::PriceSourceKind as K;
    let quote = asset(
        "valuation.quote",
        v.quote.as_deref().unwrap_or(defaults::QUOTE),
    )?;
    if quote.as_str().contains('-') {
        return Err(invalid(
            "valuation.quote",
            format!("'{quote}' is a market, not a currency"),
        ));
    }
    let kind = v.source.unwrap_or(K::Static);
    let only = |key: &str, present: bool, for_kind: &str| {
        if present {
            Err(invalid(
                format!("valuation.{key}"),
                format!("only valid with source = \"{for_kind}\""),
            ))
        } else {
            Ok(())
        }
    };
    if kind != K::Static {
        only("prices", v.prices.is_some(), "static")?;
    }
    if kind != K::Http {
        only("url", v.url.is_some(), "http")?;
    }
    if kind != K::Coinbase {
        only("base_url", v.base_url.is_some(), "coinbase")?;
    }
    let source = match kind {
        K::Static => {
            let raw = v
                .prices
                .ok_or_else(|| invalid("valuation.prices", "required when source = \"static\""))?;
            let mut prices = BTreeMap::new();
            for (name, d) in raw {
                let key = format!("valuation.prices.{name}");
                let sym = asset(&key, &name)?;
                let price = decimal(&key, Some(d), "0")?;
                if price.is_zero() {
                    return Err(invalid(key, "must be greater than 0"));
                }
                if prices.insert(sym, price).is_some() {
                    return Err(invalid(key, "defined twice (symbols are case-insensitive)"));
                }
            }
            PriceSourceConfig::Static(prices)
        }
        K::Http => {
            let url = v
                .url
                .ok_or_else(|| invalid("valuation.url", "required when source = \"http\""))?;
            PriceSourceConfig::Http(SecretUrl(http_url("valuation.url", url.trim())?))
        }
        K::Coinbase => PriceSourceConfig::Coinbase {
            base_url: v
                .base_url
                .map(|u| http_url("valuation.base_url", u.trim()))
                .transpose()?,
        },
    };
    let mut pegged = BTreeSet::new();
    for (i, a) in v.pegged.unwrap_or_default().iter().enumerate() {
        pegged.insert(asset(&format!("valuation.pegged[{i}]"), a)?);
    }
    Ok(ValuationConfig {
        quote,
        source,
        pegged,
        max_age: duration_secs(
            "valuation.max_age_secs",
            v.max_age_secs,
            defaults::PRICE_MAX_AGE_SECS,
        )?,
    })
}

fn http_url(key: &str, raw: &str) -> Result<Url, Invalid> {
    let url = Url::parse(raw).map_err(|e| invalid(key, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(key, "must be an http:// or https:// URL"));
    }
    Ok(url)
}

fn ledger(l: file::RawLedger, base: &Path) -> Result<LedgerConfig, Invalid> {
    match l.kind.unwrap_or(LedgerKind::File) {
        LedgerKind::File => {
            if l.url.is_some() {
                return Err(invalid("ledger.url", "only valid with kind = \"http\""));
            }
            Ok(LedgerConfig::File {
                path: resolve(base, l.path.as_deref().unwrap_or(defaults::LEDGER_PATH)),
            })
        }
        LedgerKind::Http => {
            if l.path.is_some() {
                return Err(invalid("ledger.path", "only valid with kind = \"file\""));
            }
            let url = l
                .url
                .ok_or_else(|| invalid("ledger.url", "required when kind = \"http\""))?;
            Ok(LedgerConfig::Http {
                url: http_url("ledger.url", &url)?,
            })
        }
    }
}

fn logging(l: file::RawLogging, base: &Path) -> Result<LoggingConfig, Invalid> {
    let level = l.level.unwrap_or_else(|| defaults::LOG_LEVEL.into());
    tracing_subscriber::EnvFilter::try_new(&level)
        .map_err(|e| invalid("logging.level", format!("'{level}': {e}")))?;
    Ok(LoggingConfig {
        dir: resolve(base, l.dir.as_deref().unwrap_or(defaults::LOG_DIR)),
        level,
        format: l.format.unwrap_or(LogFormat::Json),
    })
}

fn retry(r: file::RawRetry) -> Result<RetryConfig, Invalid> {
    let (a, b, m) = defaults::RETRY;
    let max_attempts = r.max_attempts.unwrap_or(a);
    if !(1..=20).contains(&max_attempts) {
        return Err(invalid("retry.max_attempts", "must be between 1 and 20"));
    }
    let base_delay = Duration::from_millis(r.base_delay_ms.unwrap_or(b));
    let max_delay = Duration::from_millis(r.max_delay_ms.unwrap_or(m));
    if base_delay > max_delay {
        return Err(invalid(
            "retry.base_delay_ms",
            "must not exceed retry.max_delay_ms",
        ));
    }
    Ok(RetryConfig {
        max_attempts,
        base_delay,
        max_delay,
    })
}

fn breaker(b: file::RawBreaker) -> Result<BreakerConfig, Invalid> {
    let (t, o) = defaults::BREAKER;
    let failure_threshold = b.failure_threshold.unwrap_or(t);
    if failure_threshold == 0 {
        return Err(invalid(
            "circuit_breaker.failure_threshold",
            "must be at least 1",
        ));
    }
    Ok(BreakerConfig {
        failure_threshold,
        open_for: duration_secs("circuit_breaker.open_secs", b.open_secs, o)?,
    })
}

fn retain_days(v: Option<u32>) -> Result<u32, Invalid> {
    match v.unwrap_or(defaults::RETAIN_DAYS) {
        d @ 1..=36_500 => Ok(d),
        d => Err(invalid(
            "storage.retain_days",
            format!("{d} must be between 1 and 36500"),
        )),
    }
}

/// A duration that may be zero (`0` = "at once" or "never", depending on the key).
fn optional_secs(key: &str, s: Option<Seconds>, default: f64) -> Result<Duration, Invalid> {
    let v = s.map_or(default, |s| s.0);
    if !(v.is_finite() && (0.0..=604_800.0).contains(&v)) {
        return Err(invalid(
            key,
            format!("{v} must be between 0 and 604800 seconds (one week)"),
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

fn alerts(a: &file::RawAlerts) -> Result<AlertsConfig, Invalid> {
    let timeout_ms = a.timeout_ms.unwrap_or(defaults::ALERT_TIMEOUT_MS);
    if !(1..=60_000).contains(&timeout_ms) {
        return Err(invalid(
            "alerts.timeout_ms",
            format!("{timeout_ms} must be between 1 and 60000"),
        ));
    }
    let max_per_cycle = a.max_per_cycle.unwrap_or(defaults::ALERT_MAX_PER_CYCLE);
    if !(1..=1000).contains(&max_per_cycle) {
        return Err(invalid(
            "alerts.max_per_cycle",
            format!("{max_per_cycle} must be between 1 and 1000"),
        ));
    }
    let repeat = optional_secs(
        "alerts.repeat_secs",
        a.repeat_secs,
        defaults::ALERT_REPEAT_SECS,
    )?;
    Ok(AlertsConfig {
        hold_for: optional_secs("alerts.for_secs", a.for_secs, defaults::ALERT_FOR_SECS)?,
        min_severity: a.min_severity.unwrap_or(defaults::ALERT_MIN_SEVERITY),
        repeat: (!repeat.is_zero()).then_some(repeat),
        timeout: Duration::from_millis(timeout_ms),
        max_per_cycle,
    })
}

fn ui(u: &super::file::RawUi) -> Result<super::UiConfig, Invalid> {
    let d = super::UiConfig::default();
    let timezone = match u.timezone.as_deref().map(str::trim) {
        None => d.timezone,
        Some(z) if z.eq_ignore_ascii_case("utc") => super::TimeZoneSetting::Utc,
        Some(z) if z.eq_ignore_ascii_case("local") => super::TimeZoneSetting::Local,
        Some(z) => {
            return Err(invalid(
                "ui.timezone",
                format!("'{z}' is not a time zone setting: use \"UTC\" or \"local\""),
            ))
        }
    };
    Ok(super::UiConfig {
        bell: u.bell.unwrap_or(d.bell),
        require_ack_note: u.require_ack_note.unwrap_or(d.require_ack_note),
        mouse: u.mouse.unwrap_or(d.mouse),
        timezone,
    })
}

fn theme(t: Option<String>) -> Result<String, Invalid> {
    let t = t.unwrap_or_else(|| defaults::THEME.into());
    let ok = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(invalid(
            "ui.theme",
            format!("'{t}' is not a theme name (letters, digits, '-', '_')"),
        ));
    }
    Ok(t)
}

fn exchange_list(raw: Vec<RawExchange>) -> Result<Vec<ExchangeConfig>, Invalid> {
    if raw.is_empty() {
        return Err(invalid(
            "exchanges",
            "at least one [[exchanges]] entry is required",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, e) in raw.into_iter().enumerate() {
        let cfg = exchange(i, e)?;
        if !seen.insert(cfg.name.clone()) {
            return Err(invalid(
                format!("exchanges[{i}].name"),
                format!("'{}' is used by an earlier exchange", cfg.name),
            ));
        }
        out.push(cfg);
    }
    Ok(out)
}

fn exchange(i: usize, e: RawExchange) -> Result<ExchangeConfig, Invalid> {
    let at = |field: &str| format!("exchanges[{i}].{field}");
    let name_ok = !e.name.is_empty()
        && e.name.len() <= 64
        && e.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !name_ok {
        return Err(invalid(
            at("name"),
            format!("'{}' must be 1-64 letters, digits, '-', '_' or '.'", e.name),
        ));
    }
    let ctx = format!("exchanges[{i}] ({})", e.name);
    let kind = e.kind;
    let not_for = |field: &str, present: bool, valid_for: &str| -> Result<(), Invalid> {
        if present {
            Err(invalid(
                format!("{ctx}.{field}"),
                format!("is only valid for kind {valid_for}"),
            ))
        } else {
            Ok(())
        }
    };
    let is = |k: ExchangeKind| kind == k;
    use ExchangeKind::*;
    not_for(
        "api_key_env",
        e.api_key_env.is_some() && !is(Coinbase) && !is(CoinbaseExchange),
        "coinbase or coinbase_exchange",
    )?;
    not_for(
        "api_secret_env",
        e.api_secret_env.is_some() && !is(Coinbase) && !is(CoinbaseExchange),
        "coinbase or coinbase_exchange",
    )?;
    not_for(
        "passphrase_env",
        e.passphrase_env.is_some() && !is(CoinbaseExchange),
        "coinbase_exchange",
    )?;
    not_for("address", e.address.is_some() && !is(Dydx), "dydx")?;
    not_for("subaccount", e.subaccount.is_some() && !is(Dydx), "dydx")?;
    for (field, present) in [
        ("seed", e.seed.is_some()),
        ("latency_ms", e.latency_ms.is_some()),
        ("failure_rate", e.failure_rate.is_some()),
        ("drift", e.drift.is_some()),
        ("balances", e.balances.is_some()),
        ("assets", e.assets.is_some()),
    ] {
        not_for(field, present && !is(Simulated), "simulated")?;
    }
    not_for(
        "base_url",
        e.base_url.is_some() && is(Simulated),
        "real exchanges",
    )?;

    let require_var = |field: &str, v: &Option<String>| -> Result<(), Invalid> {
        match v.as_deref() {
            None => Err(invalid(format!("{ctx}.{field}"), "is required for this kind")),
            // Most likely the secret itself, pasted in: never quoted, not even in part,
            // since this line goes to stderr, cron mail and monitoring.
            Some(name) if !valid_env_name(name) => Err(invalid(
                at(field),
                "must be the NAME of an environment variable (upper-case letters, digits, '_'), not the secret itself",
            )),
            Some(_) => Ok(()),
        }
    };
    if is(Coinbase) || is(CoinbaseExchange) {
        require_var("api_key_env", &e.api_key_env)?;
        require_var("api_secret_env", &e.api_secret_env)?;
    }
    if is(CoinbaseExchange) {
        require_var("passphrase_env", &e.passphrase_env)?;
    }
    let dydx = if is(Dydx) {
        let address = e
            .address
            .clone()
            .ok_or_else(|| invalid(format!("{ctx}.address"), "is required for kind dydx"))?;
        if address.is_empty()
            || address.len() > 90
            || !address.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(invalid(
                format!("{ctx}.address"),
                "must be 1-90 letters and digits",
            ));
        }
        let sub = e.subaccount.unwrap_or(0);
        if sub > 128_000 {
            return Err(invalid(
                format!("{ctx}.subaccount"),
                "must be between 0 and 128000",
            ));
        }
        Some((address, sub))
    } else {
        None
    };
    let simulated = if is(Simulated) {
        Some(simulated(&ctx, &e)?)
    } else {
        None
    };
    let base_url = e
        .base_url
        .as_deref()
        .map(|u| http_url(&format!("{ctx}.base_url"), u))
        .transpose()?;
    Ok(ExchangeConfig {
        name: ExchangeName::new(e.name),
        kind,
        base_url,
        credentials: CredentialVars {
            api_key_env: e.api_key_env,
            api_secret_env: e.api_secret_env,
            passphrase_env: e.passphrase_env,
        },
        dydx,
        simulated,
    })
}

/// Upper case only: API keys and passphrases are mostly lower-case hex or mixed-case
/// base64, and a pasted one that passed as a "name" would be quoted later ("X is not set"),
/// in `recon config` and in the audit's configuration fingerprint input.
fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn simulated(ctx: &str, e: &RawExchange) -> Result<SimulatedConfig, Invalid> {
    let [lo, hi] = e.latency_ms.unwrap_or([0, 0]);
    if lo > hi {
        return Err(invalid(
            format!("{ctx}.latency_ms"),
            format!("[{lo}, {hi}]: min must not exceed max"),
        ));
    }
    // Both knobs take a string or a plain TOML float (converted from its text, so
    // `0.01` is exactly 0.01); the probability is used as an f64 by the generator only.
    let knob = |field: &str, v: &Option<DecimalKnob>| {
        let key = format!("{ctx}.{field}");
        let d = decimal(&key, v.clone().map(|k| ConfigDecimal(k.0)), "0")?;
        if d > Decimal::ONE {
            return Err(invalid(key, "must be between 0 and 1"));
        }
        Ok(d)
    };
    let failure_rate = knob("failure_rate", &e.failure_rate)?
        .to_f64()
        .unwrap_or(0.0);
    let drift = knob("drift", &e.drift)?;
    let holdings = match (&e.balances, e.assets) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                format!("{ctx}.assets"),
                "set either balances or assets, not both",
            ))
        }
        (None, None) => {
            return Err(invalid(
                format!("{ctx}.balances"),
                "a simulated exchange needs balances = { … } or assets = N",
            ))
        }
        (None, Some(n)) if n == 0 || n > 100_000 => {
            return Err(invalid(
                format!("{ctx}.assets"),
                "must be between 1 and 100000",
            ))
        }
        (None, Some(n)) => SimulatedHoldings::Generated(n),
        (Some(map), None) => {
            let mut out = BTreeMap::new();
            for (sym, amount) in map {
                let key = format!("{ctx}.balances.{sym}");
                let a = asset(&key, sym)?;
                let v = parse_amount(amount.0.trim()).map_err(|e| invalid(&key, e.to_string()))?;
                if out.insert(a, v).is_some() {
                    return Err(invalid(key, "defined twice (symbols are case-insensitive)"));
                }
            }
            SimulatedHoldings::Exact(out)
        }
    };
    Ok(SimulatedConfig {
        seed: e.seed.unwrap_or(0),
        latency_ms: (lo, hi),
        failure_rate,
        drift,
        holdings,
    })
}
