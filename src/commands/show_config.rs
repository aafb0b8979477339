//! `recon config`: the effective configuration (defaults + file + env) as TOML, exactly
//! what the engine runs on. Credentials appear only as the names of their environment
//! variables plus whether each is set; a webhook URL (which embeds its token) and URL
//! credentials are shown as `***`.

use toml::{Table, Value};

use crate::config::{LedgerConfig, SimulatedHoldings, TradingConfig};
use crate::domain::format_amount;
use crate::ledger::redact_url;

fn secs(d: std::time::Duration) -> Value {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        Value::Integer(s as i64)
    } else {
        Value::Float(s)
    }
}

fn ms(d: std::time::Duration) -> Value {
    Value::Integer(d.as_millis() as i64)
}

fn table<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Table(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn s(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

/// The effective configuration as TOML text.
pub fn render(cfg: &TradingConfig) -> String {
    let mut root = Table::new();
    let r = &cfg.reconciliation;
    root.insert(
        "reconciliation".into(),
        table([
            ("interval_secs", secs(r.interval)),
            ("cycle_timeout_ms", ms(r.cycle_timeout)),
            ("fetch_timeout_ms", ms(r.fetch_timeout)),
        ]),
    );
    let t = &cfg.tolerance;
    let mut tol = Table::new();
    tol.insert("absolute".into(), s(format_amount(t.absolute)));
    tol.insert("relative".into(), s(format_amount(t.relative)));
    tol.insert(
        "ignore_assets".into(),
        Value::Array(t.ignore_assets.iter().map(s).collect()),
    );
    let mut assets = Table::new();
    for (a, o) in &t.assets {
        let mut e = Table::new();
        if let Some(v) = o.absolute {
            e.insert("absolute".into(), s(format_amount(v)));
        }
        if let Some(v) = o.relative {
            e.insert("relative".into(), s(format_amount(v)));
        }
        assets.insert(a.to_string(), Value::Table(e));
    }
    tol.insert("assets".into(), Value::Table(assets));
    root.insert("tolerance".into(), Value::Table(tol));
    let sv = &cfg.severity;
    let mut severity = Table::new();
    severity.insert("medium".into(), s(format_amount(sv.medium)));
    severity.insert("high".into(), s(format_amount(sv.high)));
    severity.insert("critical".into(), s(format_amount(sv.critical)));
    let v = &sv.value;
    let value: Table = [
        ("dust", v.dust),
        ("medium", v.medium),
        ("high", v.high),
        ("critical", v.critical),
    ]
    .into_iter()
    .filter_map(|(k, d)| d.map(|d| (k.to_string(), s(format_amount(d)))))
    .collect();
    if !value.is_empty() {
        severity.insert("value".into(), Value::Table(value));
    }
    root.insert("severity".into(), Value::Table(severity));
    if let Some(v) = &cfg.valuation {
        root.insert("valuation".into(), valuation(v));
    }
    root.insert(
        "ledger".into(),
        match &cfg.ledger {
            LedgerConfig::File { path } => {
                table([("kind", s("file")), ("path", s(path.display()))])
            }
            LedgerConfig::Http { url } => table([("kind", s("http")), ("url", s(redact_url(url)))]),
        },
    );
    root.insert(
        "storage".into(),
        table([
            ("path", s(cfg.storage_path.display())),
            ("retain_days", Value::Integer(cfg.retain_days.into())),
        ]),
    );
    let l = &cfg.logging;
    root.insert(
        "logging".into(),
        table([
            ("dir", s(l.dir.display())),
            ("level", s(&l.level)),
            (
                "format",
                s(match l.format {
                    crate::config::LogFormat::Json => "json",
                    crate::config::LogFormat::Text => "text",
                }),
            ),
        ]),
    );
    let rt = &cfg.retry;
    root.insert(
        "retry".into(),
        table([
            ("max_attempts", Value::Integer(rt.max_attempts.into())),
            ("base_delay_ms", ms(rt.base_delay)),
            ("max_delay_ms", ms(rt.max_delay)),
        ]),
    );
    root.insert(
        "circuit_breaker".into(),
        table([
            (
                "failure_threshold",
                Value::Integer(cfg.circuit_breaker.failure_threshold.into()),
            ),
            ("open_secs", secs(cfg.circuit_breaker.open_for)),
        ]),
    );
    root.insert(
        "alerts".into(),
        table([
            (
                "webhook_url",
                s(if cfg.webhook_url.is_some() { "***" } else { "" }),
            ),
            ("for_secs", secs(cfg.alerts.hold_for)),
            ("min_severity", s(cfg.alerts.min_severity)),
            (
                "repeat_secs",
                cfg.alerts.repeat.map_or(Value::Integer(0), secs),
            ),
            ("timeout_ms", ms(cfg.alerts.timeout)),
            (
                "max_per_cycle",
                Value::Integer(cfg.alerts.max_per_cycle.into()),
            ),
        ]),
    );
    root.insert(
        "ui".into(),
        table([
            ("theme", s(&cfg.theme)),
            ("bell", Value::Boolean(cfg.ui.bell)),
            ("require_ack_note", Value::Boolean(cfg.ui.require_ack_note)),
            ("mouse", Value::Boolean(cfg.ui.mouse)),
            ("timezone", s(cfg.ui.timezone.as_str())),
        ]),
    );
    root.insert(
        "exchanges".into(),
        Value::Array(cfg.exchanges.iter().map(exchange).collect()),
    );
    toml::to_string_pretty(&root).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

/// `[valuation]`: the source and its settings; an `http` URL (it may embed a token) is
/// `***`, a `coinbase` base URL is shown without credentials or query.
fn valuation(v: &crate::config::ValuationConfig) -> Value {
    use crate::config::PriceSourceConfig as P;
    let mut t = Table::new();
    t.insert("quote".into(), s(&v.quote));
    t.insert("source".into(), s(v.source.kind()));
    match &v.source {
        P::Static(prices) => {
            t.insert(
                "prices".into(),
                Value::Table(
                    prices
                        .iter()
                        .map(|(a, p)| (a.to_string(), s(format_amount(*p))))
                        .collect(),
                ),
            );
        }
        P::Http(_) => {
            t.insert("url".into(), s("***"));
        }
        P::Coinbase { base_url } => {
            if let Some(u) = base_url {
                t.insert("base_url".into(), s(redact_url(u)));
            }
        }
    }
    t.insert(
        "pegged".into(),
        Value::Array(v.pegged.iter().map(s).collect()),
    );
    t.insert("max_age_secs".into(), secs(v.max_age));
    Value::Table(t)
}

fn exchange(e: &crate::config::ExchangeConfig) -> Value {
    let mut t = Table::new();
    t.insert("name".into(), s(&e.name));
    t.insert("kind".into(), s(e.kind.as_str()));
    if let Some(u) = &e.base_url {
        t.insert("base_url".into(), s(redact_url(u)));
    }
    let c = &e.credentials;
    for (key, var) in [
        ("api_key", &c.api_key_env),
        ("api_secret", &c.api_secret_env),
        ("passphrase", &c.passphrase_env),
    ] {
        if let Some(var) = var {
            t.insert(format!("{key}_env"), s(var));
            // Whether the variable is set, never its value.
            let state = if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
                "***"
            } else {
                "(unset)"
            };
            t.insert(key.to_string(), s(state));
        }
    }
    if let Some((address, sub)) = &e.dydx {
        t.insert("address".into(), s(address));
        t.insert("subaccount".into(), Value::Integer((*sub).into()));
    }
    if let Some(sim) = &e.simulated {
        t.insert("seed".into(), Value::Integer(sim.seed as i64));
        t.insert(
            "latency_ms".into(),
            Value::Array(vec![
                Value::Integer(sim.latency_ms.0 as i64),
                Value::Integer(sim.latency_ms.1 as i64),
            ]),
        );
        t.insert("failure_rate".into(), Value::Float(sim.failure_rate));
        t.insert("drift".into(), s(format_amount(sim.drift)));
        match &sim.holdings {
            SimulatedHoldings::Exact(map) => {
                t.insert(
                    "balances".into(),
                    Value::Table(
                        map.iter()
                            .map(|(a, v)| (a.to_string(), s(format_amount(*v))))
                            .collect(),
                    ),
                );
            }
            SimulatedHoldings::Generated(n) => {
                t.insert("assets".into(), Value::Integer((*n).into()));
            }
        }
    }
    Value::Table(t)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn alerts_and_retention_are_printed_and_read_back_the_same() {
        let text = "[alerts]\nfor_secs = 90\nmin_severity = \"critical\"\nrepeat_secs = 0.5\n\
                    timeout_ms = 1500\nmax_per_cycle = 4\n[storage]\nretain_days = 30\n\
                    [[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n";
        let load = |t: &str| {
            TradingConfig::from_toml_str(t, Path::new("c.toml"), Path::new("."), Vec::new())
                .unwrap()
        };
        let cfg = load(text);
        let rendered = render(&cfg);
        assert!(rendered.contains("retain_days = 30\n"), "{rendered}");
        assert!(
            rendered.contains("min_severity = \"critical\"\n"),
            "{rendered}"
        );
        assert!(rendered.contains("repeat_secs = 0.5\n"), "{rendered}");
        let back = load(&rendered);
        assert_eq!(back.alerts, cfg.alerts);
        assert_eq!(back.retain_days, 30);
        let defaults = render(&load(
            "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n",
        ));
        assert!(
            defaults.contains("for_secs = 0\n") && defaults.contains("repeat_secs = 0\n"),
            "{defaults}"
        );
    }

    #[test]
    fn valuation_is_shown_with_its_source_and_never_a_url_credential() {
        let load = |t: &str| {
            TradingConfig::from_toml_str(t, Path::new("c.toml"), Path::new("."), Vec::new())
                .unwrap()
        };
        const SIM: &str = "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {}\n";
        let http = render(&load(&format!(
            "[valuation]\nsource = \"http\"\nurl = \"https://u:PW@p.example/prices?token=TOK\"\n{SIM}"
        )));
        assert!(
            http.contains("[valuation]\nmax_age_secs = 300\npegged = []\nquote = \"USD\"\nsource = \"http\"\nurl = \"***\"\n"),
            "{http}"
        );
        assert!(!http.contains("PW") && !http.contains("TOK"), "{http}");
        let cb = render(&load(&format!(
            "[valuation]\nsource = \"coinbase\"\nbase_url = \"http://127.0.0.1:9/?key=K\"\n{SIM}"
        )));
        assert!(
            cb.contains("base_url = \"http://127.0.0.1:9/?***\"\n"),
            "{cb}"
        );
        let text = format!(
            "[severity.value]\ndust = \"1\"\ncritical = \"10000\"\n[valuation]\nprices = {{ BTC = \"97000\" }}\npegged = [\"USDC\"]\n{SIM}"
        );
        let cfg = load(&text);
        let rendered = render(&cfg);
        assert!(
            rendered.contains("[severity.value]\ncritical = \"10000\"\ndust = \"1\"\n"),
            "{rendered}"
        );
        assert!(
            rendered.contains("[valuation.prices]\nBTC = \"97000\"\n"),
            "{rendered}"
        );
        let back = load(&rendered);
        assert_eq!(back.valuation, cfg.valuation);
        assert_eq!(back.severity, cfg.severity);
    }
}
