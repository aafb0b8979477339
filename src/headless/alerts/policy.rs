//! The alert policy as a pure function: previous alert state + a report + now → the
//! events to send and the state before and after delivery. No I/O, no clock.
//!
//! An alert is a small state machine per subject (Alertmanager's pending → firing →
//! resolved), keyed by the discrepancy id or `exchange/<name>`, with the episode it
//! belongs to, so a repeated cycle or a restart cannot send the same news twice:
//! - a discrepancy alerts (`opened`) once it has been *counted* (open: not acknowledged)
//!   for `for_secs` at a severity ≥ `min_severity`; `escalated` when its severity rises
//!   above the highest one notified; after an acknowledgement lapses (or it is counted
//!   again) it alerts as `reopened`; `resolved`, with how long it was open, goes out only
//!   for an episode the webhook has heard of;
//! - an exchange alerts `exchange_down` when its circuit opens or it has failed for
//!   `for_secs`, and `exchange_up` when a fetch succeeds again;
//! - `reminder` re-sends a still-firing alert every `repeat_secs` (when set);
//! - a failed delivery leaves the state as it was (the news is still owed) and is retried
//!   after [`RETRY_FAILED_AFTER`], not every cycle.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::AlertsConfig;
use crate::domain::{BalanceDiscrepancy, DiscrepancySeverity, ExchangeName};
use crate::engine::report::{CircuitState, ExchangeReport, ExchangeStatus};
use crate::engine::ReconciliationReport;
use crate::store::alerts::AlertRecord;

/// After a failed delivery, the same subject is not retried before this.
pub const RETRY_FAILED_AFTER: Duration = Duration::from_secs(60);

/// What happened, as the webhook is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// A counted discrepancy alerts for the first time in its episode.
    Opened,
    /// Its severity rose above the highest one notified.
    Escalated,
    /// It is counted again after an acknowledgement (or expectation) stopped covering it.
    Reopened,
    /// A notified discrepancy disappeared in a successful fetch.
    Resolved,
    /// An exchange's circuit opened, or it has failed for `for_secs`.
    ExchangeDown,
    /// A down exchange fetched successfully.
    ExchangeUp,
    /// A still-firing alert, re-sent every `repeat_secs`.
    Reminder,
}

impl EventKind {
    /// The word used in payloads, logs and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Escalated => "escalated",
            Self::Reopened => "reopened",
            Self::Resolved => "resolved",
            Self::ExchangeDown => "exchange_down",
            Self::ExchangeUp => "exchange_up",
            Self::Reminder => "reminder",
        }
    }
}

/// One event to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvent {
    /// What happened.
    pub kind: EventKind,
    /// The discrepancy id or `exchange/<name>`.
    pub subject: String,
    /// The exchange concerned.
    pub exchange: ExchangeName,
    /// The discrepancy as in this report (absent for `resolved` and exchange events).
    pub discrepancy: Option<BalanceDiscrepancy>,
    /// Severity now (the last notified one for `resolved`).
    pub severity: Option<DiscrepancySeverity>,
    /// For `escalated`: the severity notified before.
    pub previous_severity: Option<DiscrepancySeverity>,
    /// Start of the episode (discrepancy opened, exchange first failed).
    pub since: DateTime<Utc>,
    /// For `resolved` / `exchange_up`: how long it lasted.
    pub lasted: Option<chrono::Duration>,
    /// For exchange events: its status and error.
    pub exchange_status: Option<(ExchangeStatus, Option<String>)>,
    /// The subject's state once this event is delivered (`None`: forget the subject).
    pub delivered: Option<AlertRecord>,
}

/// The policy's verdict on one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Events to deliver, discrepancies first, in subject order.
    pub events: Vec<AlertEvent>,
    /// Every subject's state if nothing is delivered (timers advanced).
    pub pending: BTreeMap<String, AlertRecord>,
}

/// The subject of an exchange's alerts. Exchange names cannot contain ':' and every
/// discrepancy id does, so the two never collide.
pub fn exchange_subject(name: &ExchangeName) -> String {
    format!("exchange/{name}")
}

/// Whether a discrepancy counts (SPEC §1): open, neither acknowledged nor explained.
fn counted(d: &BalanceDiscrepancy) -> bool {
    d.is_counted()
}

fn held(since: DateTime<Utc>, now: DateTime<Utc>, hold: Duration) -> bool {
    (now - since).to_std().unwrap_or_default() >= hold
}

fn repeat_due(st: &AlertRecord, now: DateTime<Utc>, cfg: &AlertsConfig) -> bool {
    match (cfg.repeat, st.sent_at) {
        (Some(every), Some(sent)) => held(sent, now, every),
        _ => false,
    }
}

/// A failed subject waits [`RETRY_FAILED_AFTER`] before it is tried again.
fn backing_off(st: &AlertRecord, now: DateTime<Utc>) -> bool {
    st.failed_at
        .is_some_and(|t| !held(t, now, RETRY_FAILED_AFTER))
}

fn fresh(subject: &str, episode_at: DateTime<Utc>) -> AlertRecord {
    AlertRecord {
        subject: subject.to_string(),
        episode_at,
        since: None,
        firing: false,
        notified: false,
        severity: None,
        last_event: None,
        sent_at: None,
        failed_at: None,
    }
}

fn delivered(mut st: AlertRecord, kind: EventKind, now: DateTime<Utc>) -> AlertRecord {
    st.last_event = Some(kind.as_str().to_string());
    st.sent_at = Some(now);
    st.failed_at = None;
    st
}

/// Decides what `report` means for the webhook, given what it was told before.
pub fn decide(
    prev: &BTreeMap<String, AlertRecord>,
    report: &ReconciliationReport,
    cfg: &AlertsConfig,
    now: DateTime<Utc>,
) -> Decision {
    let mut pending = prev.clone();
    let mut events = Vec::new();
    let mut present = std::collections::BTreeSet::new();
    for d in &report.discrepancies {
        let subject = d.id.as_str().to_string();
        present.insert(subject.clone());
        let mut st = match prev.get(&subject) {
            // Compared at the millisecond precision the store keeps.
            Some(p) if p.episode_at.timestamp_millis() == d.opened_at.timestamp_millis() => {
                p.clone()
            }
            // A new episode whose predecessor resolved in a report this dispatcher never
            // saw (it lagged): start over, but remember the webhook knew the id.
            Some(p) => AlertRecord {
                notified: p.notified && p.firing,
                ..fresh(&subject, d.opened_at)
            },
            None => fresh(&subject, d.opened_at),
        };
        let mut event = None;
        if !counted(d) {
            // An acknowledgement silences the alert; if it lapses, the gap is news again.
            st.since = None;
            st.firing = false;
        } else {
            let since = *st.since.get_or_insert(now);
            let ripe = held(since, now, cfg.hold_for) && d.severity >= cfg.min_severity;
            if ripe && !backing_off(&st, now) {
                let notified_sev = st.severity.unwrap_or(DiscrepancySeverity::Low);
                let kind = if !st.firing {
                    Some(if st.notified {
                        EventKind::Reopened
                    } else {
                        EventKind::Opened
                    })
                } else if d.severity > notified_sev {
                    Some(EventKind::Escalated)
                } else if repeat_due(&st, now, cfg) {
                    Some(EventKind::Reminder)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    let mut after = st.clone();
                    after.firing = true;
                    after.notified = true;
                    after.severity = Some(d.severity.max(after.severity.unwrap_or(d.severity)));
                    event = Some(AlertEvent {
                        kind,
                        subject: subject.clone(),
                        exchange: d.exchange.clone(),
                        discrepancy: Some(d.clone()),
                        severity: Some(d.severity),
                        previous_severity: (kind == EventKind::Escalated).then_some(notified_sev),
                        since: d.opened_at,
                        lasted: None,
                        exchange_status: None,
                        delivered: Some(delivered(after, kind, now)),
                    });
                }
            }
        }
        pending.insert(subject, st);
        events.extend(event);
    }
    let compared = |name: &str| {
        report.ledger_error.is_none()
            && report
                .exchanges
                .iter()
                .any(|e| e.name.as_str() == name && e.status == ExchangeStatus::Ok)
    };
    let configured = |name: &str| report.exchanges.iter().any(|e| e.name.as_str() == name);
    for (subject, st) in prev {
        let Some((exchange, _asset)) = subject.rsplit_once(':') else {
            continue;
        };
        if present.contains(subject) {
            continue;
        }
        if !configured(exchange) {
            pending.remove(subject);
        } else if compared(exchange) {
            if !st.notified {
                pending.remove(subject);
            } else if !backing_off(st, now) {
                events.push(AlertEvent {
                    kind: EventKind::Resolved,
                    subject: subject.clone(),
                    exchange: ExchangeName::new(exchange),
                    discrepancy: None,
                    severity: st.severity,
                    previous_severity: None,
                    since: st.episode_at,
                    lasted: Some(now - st.episode_at),
                    exchange_status: None,
                    delivered: None,
                });
            }
        }
    }
    for e in &report.exchanges {
        events.extend(exchange_event(&mut pending, prev, e, cfg, now));
    }
    // An exchange no longer configured has nothing more to say.
    pending.retain(|subject, _| {
        subject
            .strip_prefix("exchange/")
            .filter(|_| !subject.contains(':'))
            .is_none_or(configured)
    });
    Decision { events, pending }
}

fn exchange_event(
    pending: &mut BTreeMap<String, AlertRecord>,
    prev: &BTreeMap<String, AlertRecord>,
    e: &ExchangeReport,
    cfg: &AlertsConfig,
    now: DateTime<Utc>,
) -> Option<AlertEvent> {
    let subject = exchange_subject(&e.name);
    let event = |kind, st: &AlertRecord, lasted, delivered| AlertEvent {
        kind,
        subject: subject.clone(),
        exchange: e.name.clone(),
        discrepancy: None,
        severity: None,
        previous_severity: None,
        since: st.episode_at,
        lasted,
        exchange_status: Some((e.status, e.error.clone())),
        delivered,
    };
    if e.status == ExchangeStatus::Ok {
        let st = prev.get(&subject)?;
        if !st.firing {
            pending.remove(&subject);
            return None;
        }
        if backing_off(st, now) {
            return None;
        }
        return Some(event(
            EventKind::ExchangeUp,
            st,
            Some(now - st.episode_at),
            None,
        ));
    }
    let mut st = prev
        .get(&subject)
        .cloned()
        .unwrap_or_else(|| fresh(&subject, now));
    let since = *st.since.get_or_insert(now);
    pending.insert(subject.clone(), st.clone());
    if backing_off(&st, now) {
        return None;
    }
    let circuit_opened = e.status == ExchangeStatus::CircuitOpen || e.circuit == CircuitState::Open;
    let kind = if !st.firing && (circuit_opened || held(since, now, cfg.hold_for)) {
        EventKind::ExchangeDown
    } else if st.firing && repeat_due(&st, now, cfg) {
        EventKind::Reminder
    } else {
        return None;
    };
    let mut after = st.clone();
    after.firing = true;
    after.notified = true;
    st = delivered(after, kind, now);
    Some(event(kind, &st.clone(), None, Some(st)))
}

/// The state after delivery: delivered events move their subject on, failed ones leave it
/// pending (marked, so it is retried after a pause). `outcomes[i]` is whether
/// `decision.events[i]` was delivered.
pub fn settle(
    decision: Decision,
    outcomes: &[bool],
    now: DateTime<Utc>,
) -> BTreeMap<String, AlertRecord> {
    let mut state = decision.pending;
    for (event, ok) in decision.events.into_iter().zip(outcomes) {
        if *ok {
            match event.delivered {
                Some(st) => {
                    state.insert(event.subject, st);
                }
                None => {
                    state.remove(&event.subject);
                }
            }
        } else if let Some(st) = state.get_mut(&event.subject) {
            st.failed_at = Some(now);
        }
    }
    state
}
