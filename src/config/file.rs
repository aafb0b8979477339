//! The file model: what `config.toml` may contain, every field optional, unknown keys
//! rejected. Validation into [`super::TradingConfig`] happens in `mod.rs`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
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
    pub valuation: Option<RawValuation>,
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
    pub value: Option<RawValueSeverity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawValueSeverity {
    pub dust: Option<ConfigDecimal>,
    pub medium: Option<ConfigDecimal>,
    pub high: Option<ConfigDecimal>,
    pub critical: Option<ConfigDecimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum PriceSourceKind {
    Static,
    Http,
    Coinbase,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawValuation {
    pub quote: Option<String>,
    pub source: Option<PriceSourceKind>,
    pub prices: Option<BTreeMap<String, ConfigDecimal>>,
    pub url: Option<String>,
    pub base_url: Option<String>,
    pub pegged: Option<Vec<String>>,
    pub max_age_secs: Option<Seconds>,
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
    pub bell: Option<bool>,
    pub require_ack_note: Option<bool>,
    pub mouse: Option<bool>,
    pub timezone: Option<String>,
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
    pub failure_rate: Option<DecimalKnob>,
    pub drift: Option<DecimalKnob>,
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

/// The source text of the file's float literals, by value: a float reaches serde as an
/// `f64`, whose rendering is not what the user wrote (`123456789.123456789` prints as
/// `123456789.12345679`), so messages and conversions go back to the literal.
#[derive(Debug, Default)]
pub(super) struct FloatLiterals(HashMap<u64, Option<String>>);

impl FloatLiterals {
    /// Every float literal of `text` (a TOML document that already parsed).
    pub fn of(text: &str) -> Self {
        struct Collect(HashMap<u64, Option<String>>);
        impl<'doc> toml_edit::visit::Visit<'doc> for Collect {
            fn visit_float(&mut self, node: &'doc toml_edit::Formatted<f64>) {
                let raw = node
                    .as_repr()
                    .and_then(|r| r.as_raw().as_str())
                    .map(str::to_string);
                let bits = node.value().to_bits();
                // Two different texts for one f64 (`0.1`, `0.1000000000000000001`):
                // which one a value came from is unknown, so neither is used.
                let entry = self.0.entry(bits).or_insert_with(|| raw.clone());
                if entry.as_deref().map(plain_decimal) != raw.as_deref().map(plain_decimal) {
                    *entry = None;
                }
            }
        }
        let mut c = Collect(HashMap::new());
        if let Ok(doc) = text.parse::<toml_edit::DocumentMut>() {
            toml_edit::visit::visit_document(&mut c, &doc);
        }
        Self(c.0)
    }

    /// Runs `f` (the deserialization of this file) with these literals in reach of
    /// [`ConfigDecimal`] and [`DecimalKnob`], which serde gives only the `f64`.
    pub fn during<T>(self, f: impl FnOnce() -> T) -> T {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                LITERALS.with(|l| l.borrow_mut().0.clear());
            }
        }
        LITERALS.with(|l| *l.borrow_mut() = self);
        let _reset = Reset;
        f()
    }

    /// The literal that produced `v`, when known and unambiguous.
    fn text_of(v: f64) -> Option<String> {
        LITERALS.with(|l| l.borrow().0.get(&v.to_bits()).cloned().flatten())
    }
}

thread_local! {
    /// Set only for the duration of one synchronous deserialization
    /// ([`FloatLiterals::during`]).
    static LITERALS: RefCell<FloatLiterals> = RefCell::new(FloatLiterals::default());
}

/// A TOML float literal as a plain decimal text (`1_000.5` → `1000.5`, `+2.5e-3` →
/// `0.0025`), or `None` for `inf`, `nan` or what no 96-bit decimal holds exactly.
pub(crate) fn plain_decimal(literal: &str) -> Option<String> {
    let t = literal.replace('_', "");
    let t = t.strip_prefix('+').unwrap_or(&t);
    // The exponent is applied to the text, never by arithmetic that could round: the
    // result is then parsed exactly or refused.
    let text = match t.split_once(['e', 'E']) {
        None => t.to_string(),
        Some((mantissa, exp)) => {
            let exp: i64 = exp.parse().ok().filter(|e: &i64| e.abs() <= 64)?;
            let (sign, m) = match mantissa.strip_prefix('-') {
                Some(m) => ("-", m),
                None => ("", mantissa),
            };
            let (int, frac) = m.split_once('.').unwrap_or((m, ""));
            let digits = format!("{int}{frac}");
            if int.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let point = int.len() as i64 + exp;
            let body = if point <= 0 {
                format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
            } else if point as usize >= digits.len() {
                format!("{digits}{}", "0".repeat(point as usize - digits.len()))
            } else {
                format!(
                    "{}.{}",
                    &digits[..point as usize],
                    &digits[point as usize..]
                )
            };
            format!("{sign}{body}")
        }
    };
    crate::domain::parse_amount(&text)
        .ok()
        .map(crate::domain::format_amount)
}

/// A decimal written as a string (`"0.0001"`) or an integer. A TOML float is rejected:
/// `0.1` has no exact binary form, and tolerances are compared against money. The hint
/// quotes the literal as written, never the `f64`'s rendering of it.
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
                Err(E::custom(float_message(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Why a float is refused, with the literal quoted as written when it is known.
fn float_message(v: f64) -> String {
    let literal = FloatLiterals::text_of(v);
    match literal.as_deref().map(|l| (l, plain_decimal(l))) {
        Some((l, Some(plain))) => {
            format!("{l} is a float, which loses precision; quote it (\"{plain}\")")
        }
        Some((l, None)) => format!("{l} is not a decimal amount"),
        None => "is a float, which loses precision; write it as a quoted decimal".to_string(),
    }
}

/// A simulation knob (`drift`, `failure_rate`): a decimal as a string or an integer, or a
/// plain TOML float, converted from the literal's text so `0.01` is exactly 0.01.
#[derive(Debug, Clone)]
pub(super) struct DecimalKnob(pub String);

impl<'de> Deserialize<'de> for DecimalKnob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DecimalKnob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a decimal string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DecimalKnob, E> {
                Ok(DecimalKnob(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DecimalKnob, E> {
                Ok(DecimalKnob(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DecimalKnob, E> {
                Ok(DecimalKnob(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DecimalKnob, E> {
                match FloatLiterals::text_of(v).as_deref().map(plain_decimal) {
                    Some(Some(plain)) => Ok(DecimalKnob(plain)),
                    Some(None) => Err(E::custom("is not a decimal amount")),
                    None => Err(E::custom(float_message(v))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::plain_decimal;

    #[test]
    fn float_literals_become_exact_plain_decimals_or_nothing() {
        for (literal, plain) in [
            ("0.01", Some("0.01")),
            ("+1_000.5", Some("1000.5")),
            ("-2.5e-3", Some("-0.0025")),
            ("1E5", Some("100000")),
            ("1.25e+1", Some("12.5")),
            ("123456789.123456789", Some("123456789.123456789")),
            // 29 significant digits: no exact decimal, never a rounded one.
            ("1.2345678901234567890123456789e3", None),
            ("1e-40", None),
            ("nan", None),
            ("-inf", None),
        ] {
            assert_eq!(plain_decimal(literal).as_deref(), plain, "{literal}");
        }
    }
}
