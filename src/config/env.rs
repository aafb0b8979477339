//! `RECON_<SECTION>_<KEY>` environment overrides, laid over the file's TOML table before
//! it is deserialized, so a bad env value gets the same validation and key path as a bad
//! file value.

use toml::{Table, Value};

use super::ConfigError;

/// How an env string becomes a TOML value. Decided per key, never guessed from the text:
/// `"0.0001"` must stay a string for a decimal key but be a number for a seconds key.
#[derive(Debug, Clone, Copy)]
enum EnvType {
    Integer,
    Seconds,
    Decimal,
    Text,
    List,
    Bool,
}

/// Every overridable key. Sections are matched longest first, so
/// `RECON_CIRCUIT_BREAKER_OPEN_SECS` is `[circuit_breaker] open_secs`, not a key
/// `breaker_open_secs` of a section `circuit`.
const KEYS: &[(&str, &str, EnvType)] = &[
    ("reconciliation", "interval_secs", EnvType::Seconds),
    ("reconciliation", "cycle_timeout_ms", EnvType::Integer),
    ("reconciliation", "fetch_timeout_ms", EnvType::Integer),
    ("tolerance", "absolute", EnvType::Decimal),
    ("tolerance", "relative", EnvType::Decimal),
    ("tolerance", "ignore_assets", EnvType::List),
    ("severity", "medium", EnvType::Decimal),
    ("severity", "high", EnvType::Decimal),
    ("severity", "critical", EnvType::Decimal),
    ("severity_value", "dust", EnvType::Decimal),
    ("severity_value", "medium", EnvType::Decimal),
    ("severity_value", "high", EnvType::Decimal),
    ("severity_value", "critical", EnvType::Decimal),
    ("valuation", "quote", EnvType::Text),
    ("valuation", "source", EnvType::Text),
    ("valuation", "url", EnvType::Text),
    ("valuation", "base_url", EnvType::Text),
    ("valuation", "pegged", EnvType::List),
    ("valuation", "max_age_secs", EnvType::Seconds),
    ("ledger", "kind", EnvType::Text),
    ("ledger", "path", EnvType::Text),
    ("ledger", "url", EnvType::Text),
    ("storage", "path", EnvType::Text),
    ("storage", "retain_days", EnvType::Integer),
    ("logging", "dir", EnvType::Text),
    ("logging", "level", EnvType::Text),
    ("logging", "format", EnvType::Text),
    ("retry", "max_attempts", EnvType::Integer),
    ("retry", "base_delay_ms", EnvType::Integer),
    ("retry", "max_delay_ms", EnvType::Integer),
    ("circuit_breaker", "failure_threshold", EnvType::Integer),
    ("circuit_breaker", "open_secs", EnvType::Seconds),
    ("alerts", "webhook_url", EnvType::Text),
    ("alerts", "for_secs", EnvType::Seconds),
    ("alerts", "min_severity", EnvType::Text),
    ("alerts", "repeat_secs", EnvType::Seconds),
    ("alerts", "timeout_ms", EnvType::Integer),
    ("alerts", "max_per_cycle", EnvType::Integer),
    ("ui", "theme", EnvType::Text),
    ("ui", "bell", EnvType::Bool),
    ("ui", "require_ack_note", EnvType::Bool),
    ("ui", "mouse", EnvType::Bool),
    ("ui", "timezone", EnvType::Text),
];

/// Sections in match order: longest name first.
const SECTIONS: &[&str] = &[
    "circuit_breaker",
    "reconciliation",
    "severity_value",
    "valuation",
    "tolerance",
    "severity",
    "logging",
    "storage",
    "ledger",
    "alerts",
    "retry",
    "ui",
];

/// One applied override, remembered so an error on that key can name the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Applied {
    pub var: String,
    pub path: String,
}

/// Applies every `RECON_<SECTION>_<KEY>` in `vars` to `table`. Variables whose prefix is
/// no known section (`RECON_CONFIG`, `RECON_LOG`) are not configuration keys and are left
/// alone; a known section with an unknown key is an error, so a typo is not ignored.
pub(super) fn overlay<I>(table: &mut Table, vars: I) -> Result<Vec<Applied>, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut applied = Vec::new();
    let mut vars: Vec<_> = vars.into_iter().collect();
    vars.sort();
    for (var, raw) in vars {
        let Some(rest) = var.strip_prefix("RECON_") else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        let Some(section) = SECTIONS
            .iter()
            .find(|s| lower.strip_prefix(*s).is_some_and(|r| r.starts_with('_')))
        else {
            continue;
        };
        let key = &lower[section.len() + 1..];
        let Some((_, _, ty)) = KEYS.iter().find(|(s, k, _)| s == section && *k == key) else {
            return Err(ConfigError::Invalid {
                origin: format!("environment {var}"),
                key: format!("{section}.{key}"),
                message: "unknown key".into(),
            });
        };
        let value = to_value(*ty, &raw).map_err(|message| ConfigError::Invalid {
            origin: format!("environment {var}"),
            key: format!("{section}.{key}"),
            message,
        })?;
        // `severity_value` is the nested table `[severity.value]`.
        let path: Vec<&str> = match *section {
            "severity_value" => vec!["severity", "value"],
            s => vec![s],
        };
        let dotted = path.join(".");
        let mut section_table = &mut *table;
        for part in &path {
            let entry = section_table
                .entry(part.to_string())
                .or_insert_with(|| Value::Table(Table::new()));
            let Value::Table(t) = entry else {
                return Err(ConfigError::Invalid {
                    origin: "config file".into(),
                    key: dotted,
                    message: "must be a table".into(),
                });
            };
            section_table = t;
        }
        section_table.insert(key.to_string(), value);
        applied.push(Applied {
            var,
            path: format!("{dotted}.{key}"),
        });
    }
    Ok(applied)
}

fn to_value(ty: EnvType, raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    // Quoted in the one-line error with its control characters escaped (a stray newline
    // would otherwise split the message).
    let shown = crate::domain::escape_controls(raw);
    match ty {
        EnvType::Integer => raw
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("'{shown}' is not an integer")),
        EnvType::Seconds => raw
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Value::Float)
            .ok_or_else(|| format!("'{shown}' is not a number of seconds")),
        EnvType::Decimal | EnvType::Text => Ok(Value::String(raw.to_string())),
        EnvType::Bool => match raw {
            "true" | "1" => Ok(Value::Boolean(true)),
            "false" | "0" => Ok(Value::Boolean(false)),
            _ => Err(format!("'{shown}' is not true or false")),
        },
        EnvType::List => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_bad_value_with_a_newline_is_quoted_on_one_line() {
        let err = overlay(
            &mut Table::new(),
            vars(&[("RECON_RECONCILIATION_INTERVAL_SECS", "#\n.kro")]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "environment RECON_RECONCILIATION_INTERVAL_SECS: reconciliation.interval_secs: '#\\n.kro' is not a number of seconds"
        );
    }

    #[test]
    fn typed_per_key_integer_fraction_decimal_list() {
        let mut t = Table::new();
        let applied = overlay(
            &mut t,
            vars(&[
                ("RECON_RETRY_MAX_ATTEMPTS", "5"),
                ("RECON_RECONCILIATION_INTERVAL_SECS", "0.5"),
                ("RECON_TOLERANCE_RELATIVE", "0.0001"),
                ("RECON_TOLERANCE_IGNORE_ASSETS", "dust, xyz"),
                ("RECON_CIRCUIT_BREAKER_OPEN_SECS", "12"),
                ("RECON_CONFIG", "elsewhere.toml"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(applied.len(), 5);
        assert_eq!(t["retry"]["max_attempts"], Value::Integer(5));
        assert_eq!(t["reconciliation"]["interval_secs"], Value::Float(0.5));
        assert_eq!(
            t["tolerance"]["relative"],
            Value::String("0.0001".to_string())
        );
        assert_eq!(
            t["tolerance"]["ignore_assets"],
            Value::Array(vec!["dust".into(), "xyz".into()])
        );
        assert_eq!(t["circuit_breaker"]["open_secs"], Value::Float(12.0));
        assert!(!t.contains_key("config"));
    }

    #[test]
    fn unknown_key_in_known_section_is_an_error_naming_the_variable() {
        let err =
            overlay(&mut Table::new(), vars(&[("RECON_RETRY_MAX_ATTEMPT", "5")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment RECON_RETRY_MAX_ATTEMPT: retry.max_attempt: unknown key"
        );
    }

    #[test]
    fn bad_integer_is_an_error() {
        let err = overlay(
            &mut Table::new(),
            vars(&[("RECON_RECONCILIATION_FETCH_TIMEOUT_MS", "soon")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment RECON_RECONCILIATION_FETCH_TIMEOUT_MS: reconciliation.fetch_timeout_ms: 'soon' is not an integer"
        );
    }
}
