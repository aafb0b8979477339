//! What a webhook receives: the §3 report JSON plus `event`, `alerts` (one object per
//! event), `text` (one paragraph, for Slack) and `content` (for Discord, at most 2,000
//! characters), and `allowed_mentions` (none, so exchange data never pings a Discord
//! channel). Decimals are strings, exact, as everywhere in recon's JSON.

use serde_json::{json, Map, Value};

use super::policy::{AlertEvent, EventKind};
use crate::domain::format_amount;
use crate::engine::rules::round_relative;
use crate::engine::ReconciliationReport;
use crate::store::audit::timestamp;

/// Discord rejects a `content` longer than this (in characters).
pub const DISCORD_MAX_CHARS: usize = 2000;

/// One POST: the events it carries and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Indexes into the cycle's event list.
    pub events: Vec<usize>,
    /// `opened`, …, or `digest` when it carries more than one event.
    pub event: &'static str,
    /// The JSON body.
    pub body: Value,
}

/// The POSTs for one cycle's events: one per event, or a single digest when there are
/// more than `max_per_cycle`.
pub fn posts(
    report: &ReconciliationReport,
    events: &[AlertEvent],
    max_per_cycle: u32,
) -> Vec<Post> {
    if events.is_empty() {
        return Vec::new();
    }
    if events.len() > max_per_cycle as usize {
        let all: Vec<&AlertEvent> = events.iter().collect();
        return vec![Post {
            events: (0..events.len()).collect(),
            event: "digest",
            body: body(report, "digest", &all),
        }];
    }
    events
        .iter()
        .enumerate()
        .map(|(i, e)| Post {
            events: vec![i],
            event: e.kind.as_str(),
            body: body(report, e.kind.as_str(), &[e]),
        })
        .collect()
}

fn body(report: &ReconciliationReport, event: &str, events: &[&AlertEvent]) -> Value {
    let text = text(events);
    let mut v = report.to_json();
    if let Some(map) = v.as_object_mut() {
        map.insert("event".into(), json!(event));
        map.insert(
            "alerts".into(),
            Value::Array(events.iter().map(|e| alert_json(e)).collect()),
        );
        map.insert(
            "content".into(),
            json!(truncate_chars(&text, DISCORD_MAX_CHARS)),
        );
        // Asset symbols come from exchanges: never let one ping a channel. Discord reads
        // `allowed_mentions`; Slack needs its three control characters escaped.
        map.insert("allowed_mentions".into(), json!({ "parse": [] }));
        map.insert("text".into(), json!(slack_escape(&text)));
    }
    v
}

/// One event as an object of the `alerts` array.
pub fn alert_json(e: &AlertEvent) -> Value {
    let mut m = Map::new();
    m.insert("event".into(), json!(e.kind.as_str()));
    m.insert("subject".into(), json!(e.subject));
    m.insert("exchange".into(), json!(e.exchange.as_str()));
    m.insert("since".into(), json!(timestamp(e.since)));
    if let Some(s) = e.severity {
        m.insert("severity".into(), json!(s.as_str()));
    }
    if let Some(s) = e.previous_severity {
        m.insert("previous_severity".into(), json!(s.as_str()));
    }
    if let Some(lasted) = e.lasted {
        m.insert("duration_secs".into(), json!(lasted.num_seconds().max(0)));
    }
    if let Some(d) = &e.discrepancy {
        m.insert("id".into(), json!(d.id.as_str()));
        m.insert("asset".into(), json!(d.asset.as_str()));
        m.insert("kind".into(), json!(d.kind.as_str()));
        m.insert("local".into(), json!(format_amount(d.local)));
        m.insert(
            "exchange_amount".into(),
            json!(format_amount(d.exchange_amount)),
        );
        m.insert("difference".into(), json!(format_amount(d.difference)));
        m.insert(
            "relative".into(),
            json!(format_amount(round_relative(d.relative))),
        );
        m.insert("allowed".into(), json!(format_amount(d.allowed)));
        m.insert("opened_at".into(), json!(timestamp(d.opened_at)));
        if let Some(v) = &d.valuation {
            m.insert("price".into(), json!(v.price.map(format_amount)));
            m.insert("value".into(), json!(v.value.map(format_amount)));
            m.insert(
                "value_severity".into(),
                json!(v.value_severity.map(|s| s.as_str())),
            );
            m.insert("price_error".into(), json!(v.price_error));
        }
    } else if e.kind == EventKind::Resolved {
        m.insert("id".into(), json!(e.subject));
        if let Some((_, asset)) = e.subject.rsplit_once(':') {
            m.insert("asset".into(), json!(asset));
        }
    }
    if let Some((status, error)) = &e.exchange_status {
        m.insert("status".into(), json!(status.as_str()));
        m.insert("error".into(), json!(error));
    }
    Value::Object(m)
}

/// A human duration: `45s`, `12m 5s`, `3h 2m`, `2d 4h`.
pub fn humane(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// One line for one event.
pub fn line(e: &AlertEvent) -> String {
    let sev = |s: Option<crate::domain::DiscrepancySeverity>| {
        s.map_or(String::new(), |s| format!("{} ", s.as_str()))
    };
    match (&e.discrepancy, e.kind) {
        (Some(d), kind) => {
            let what = match kind {
                EventKind::Opened => "OPENED".to_string(),
                EventKind::Reopened => "REOPENED".to_string(),
                EventKind::Escalated => format!(
                    "ESCALATED from {} to",
                    e.previous_severity.map_or("?", |s| s.as_str())
                ),
                _ => "STILL OPEN".to_string(),
            };
            // With [valuation], what a trader reads first: the money.
            let value = d
                .valuation
                .as_ref()
                .and_then(|v| v.value)
                .map_or(String::new(), |v| format!(", value {}", format_amount(v)));
            format!(
                "{what} {}discrepancy {}: exchange {} vs ledger {} (difference {}, relative {}{value}), open since {}",
                sev(Some(d.severity)),
                d.id,
                format_amount(d.exchange_amount),
                format_amount(d.local),
                format_amount(d.difference),
                format_amount(round_relative(d.relative)),
                timestamp(d.opened_at),
            )
        }
        (None, EventKind::Resolved) => format!(
            "RESOLVED {}discrepancy {} after {}",
            sev(e.severity),
            e.subject,
            humane(e.lasted.unwrap_or_default()),
        ),
        (None, EventKind::ExchangeUp) => format!(
            "EXCHANGE UP {} after {} down",
            e.exchange,
            humane(e.lasted.unwrap_or_default()),
        ),
        (None, kind) => {
            let (status, error) = e
                .exchange_status
                .as_ref()
                .map(|(s, err)| (s.as_str(), err.clone().unwrap_or_default()))
                .unwrap_or(("error", String::new()));
            format!(
                "{} {} ({status}): {error}; failing since {}",
                if kind == EventKind::Reminder {
                    "STILL DOWN"
                } else {
                    "EXCHANGE DOWN"
                },
                e.exchange,
                timestamp(e.since),
            )
        }
    }
}

/// One paragraph for Slack.
pub fn text(events: &[&AlertEvent]) -> String {
    match events {
        [one] => format!("recon: {}.", line(one)),
        many => {
            let mut counts: std::collections::BTreeMap<EventKind, usize> = Default::default();
            for e in many {
                *counts.entry(e.kind).or_default() += 1;
            }
            let summary: Vec<String> = counts
                .iter()
                .map(|(k, n)| format!("{n} {}", k.as_str()))
                .collect();
            let lines: Vec<String> = many.iter().map(|e| line(e)).collect();
            format!(
                "recon: {} alert events ({}): {}.",
                many.len(),
                summary.join(", "),
                lines.join("; ")
            )
        }
    }
}

/// Slack's escaping of `&`, `<` and `>`, which otherwise start links and mentions
/// (`<!channel>`).
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters, cut on a character boundary, ending in `…` when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
