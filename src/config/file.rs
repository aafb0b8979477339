//! The file model: what `config.toml` may contain, every field optional, unknown keys
//! rejected. Validation into [`super::TradingConfig`] happens in `mod.rs`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::exchanges::ExchangeKind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub reconciliation: RawReconciliation,
    #[serde(default)]
    pub tolerance: RawTolerance,
    #[serde(default)]
    pub severity: RawSeverity,
    #[serde(default)]
    pub ledger: RawLedger,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub logging: RawLogging,
    #[serde(default)]
    pub retry: RawRetry,
    #[serde(default)]
    pub circuit_breaker: RawBreaker,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub ui: RawUi,
    pub exchanges: Option<Vec<RawExchange>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReconciliation {
    pub interval_secs: Option<Seconds>,
    pub cycle_timeout_ms: Option<u64>,
    pub fetch_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTolerance {
    pub absolute: Option<ConfigDecimal>,
    pub relative: Option<ConfigDecimal>,
    pub ignore_assets: Option<Vec<String>>,
    #[serde(default)]
    pub assets: BTreeMap<String, RawAssetTolerance>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAssetTolerance {
    pub absolute: Option<ConfigDecimal>,
    pub relative: Option<ConfigDecimal>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSeverity {
    pub medium: Option<ConfigDecimal>,
    pub high: Option<ConfigDecimal>,
    pub critical: Option<ConfigDecimal>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLedger {
    pub kind: Option<LedgerKind>,
    pub path: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum LedgerKind {
    File,
    Http,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    pub path: Option<String>,
    pub retain_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogging {
    pub dir: Option<String>,
    pub level: Option<String>,
    pub format: Option<super::LogFormat>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetry {
    pub max_attempts: Option<u32>,
    pub base_delay_ms: Option<u64>,
    pub max_delay_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBreaker {
    pub failure_threshold: Option<u32>,
    pub open_secs: Option<Seconds>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub webhook_url: Option<String>,
    pub for_secs: Option<Seconds>,
    pub min_severity: Option<crate::domain::DiscrepancySeverity>,
    pub repeat_secs: Option<Seconds>,
    pub timeout_ms: Option<u64>,
    pub max_per_cycle: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUi {
    pub theme: Option<String>,
}

/// One `[[exchanges]]` entry, read flat: serde's `deny_unknown_fields` is unreliable on
/// internally tagged enums (serde-rs/serde#2123), so kind-specific keys are checked by
/// hand in validation, with a message naming the kind they belong to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExchange {
    pub name: String,
    pub kind: ExchangeKind,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub api_secret_env: Option<String>,
    pub passphrase_env: Option<String>,
    pub address: Option<String>,
    pub subaccount: Option<u32>,
    pub seed: Option<u64>,
    pub latency_ms: Option<[u64; 2]>,
    pub failure_rate: Option<f64>,
    pub drift: Option<ConfigDecimal>,
    pub balances: Option<BTreeMap<String, ConfigDecimal>>,
    pub assets: Option<u32>,
}

/// A number of seconds: integer or fractional (`0.5`). Durations are not money, so a
/// TOML float is fine here.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seconds(pub f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A decimal written as a string (`"0.0001"`) or an integer. A TOML float is rejected:
/// `0.1` has no exact binary form, and tolerances are compared against money.
#[derive(Debug, Clone)]
pub(super) struct ConfigDecimal(pub String);

impl<'de> Deserialize<'de> for ConfigDecimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConfigDecimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal as a quoted string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigDecimal, E> {
                Ok(ConfigDecimal(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConfigDecimal, E> {
                Ok(ConfigDecimal(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ConfigDecimal, E> {
                Ok(ConfigDecimal(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ConfigDecimal, E> {
                Err(E::custom(format!(
                    "{v} is a float, which loses precision; quote it (\"{v}\")"
                )))
            }
        }
        d.deserialize_any(V)
    }
}
