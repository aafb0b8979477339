//! The discrepancy lifecycle as a pure function: open → acknowledged → resolved, with an
//! acknowledgement lapsing (re-open) when the gap grows beyond the acknowledged amount by
//! more than the tolerance, or when its snooze (`--for`) deadline is reached. Only
//! exchanges compared this cycle are resolved or re-measured: a failed fetch never
//! resolves anything. A snooze lapses on every open discrepancy, compared or not: its
//! deadline is a time, not an observation.
//!
//! Expectations (movements in flight) are evaluated here too, every cycle: one past its
//! deadline expires; the active ones on an id add up to `expected`, and the discrepancy's
//! severity is that of the residual; one that has met its gap settles when the gap
//! resolves. Every transition is an audit event and a mark written with the cycle.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::rules::{self, round_relative, Finding};
use crate::config::SeverityConfig;
use crate::domain::{format_amount, BalanceDiscrepancy, DiscrepancyId, ExchangeName, Expectation};
use crate::store::expectations::{self, Mark};
use crate::store::{AuditEvent, AuditKind, DiscrepancyWrite, StoredDiscrepancy};

/// What the lifecycle decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LifecycleOutcome {
    /// Table changes.
    pub writes: Vec<DiscrepancyWrite>,
    /// Audit events, in order.
    pub events: Vec<AuditEvent>,
    /// Current discrepancies of the compared exchanges (for the report), by id.
    pub current: Vec<BalanceDiscrepancy>,
}

/// Applies this cycle's findings (keyed by every exchange compared this cycle, an empty
/// list meaning "nothing outside tolerance") to the open discrepancies, without any
/// expectation.
pub fn apply(
    open: Vec<StoredDiscrepancy>,
    findings: &BTreeMap<ExchangeName, Vec<Finding>>,
    now: DateTime<Utc>,
) -> LifecycleOutcome {
    apply_with(open, Vec::new(), findings, None, now)
}

/// [`apply`] with the active expectations; `severity` rates residuals (`None`: keep the
/// findings' severity, for callers that have no expectation).
pub fn apply_with(
    open: Vec<StoredDiscrepancy>,
    active: Vec<Expectation>,
    findings: &BTreeMap<ExchangeName, Vec<Finding>>,
    severity: Option<&SeverityConfig>,
    now: DateTime<Utc>,
) -> LifecycleOutcome {
    let mut out = LifecycleOutcome::default();
    let mut by_id: BTreeMap<DiscrepancyId, StoredDiscrepancy> = open
        .into_iter()
        .map(|s| (s.discrepancy.id.clone(), s))
        .collect();
    let mut expected = expire(&mut out, active, now);
    let mut seen = BTreeSet::new();
    for (exchange, list) in findings {
        for f in list {
            let id = DiscrepancyId::new(exchange, &f.asset);
            seen.insert(id.clone());
            let mut on_id = expected.remove(&id).unwrap_or_default();
            engage(&mut out, &mut on_id, now);
            let explain = Explain {
                expected: on_id,
                severity,
            };
            match by_id.remove(&id) {
                None => open_new(&mut out, exchange, id, f, explain, now),
                Some(stored) => update(&mut out, stored, f, explain, now),
            }
        }
    }
    // A gap that resolved settles what had met it; one that never appeared keeps waiting.
    for (id, list) in expected {
        let compared = list
            .first()
            .is_some_and(|e| findings.contains_key(&e.exchange));
        if !compared || seen.contains(&id) {
            continue;
        }
        for e in list.into_iter().filter(|e| e.engaged_at.is_some()) {
            mark(
                &mut out,
                &e,
                Mark::Settled,
                AuditKind::ExpectationSettled,
                now,
            );
        }
    }
    for (id, mut stored) in by_id {
        if !findings.contains_key(&stored.discrepancy.exchange) {
            // Not compared this cycle: nothing is re-measured, but a snooze still ends.
            if lapse_snooze(&mut out, &mut stored.discrepancy, now) {
                out.writes.push(DiscrepancyWrite::Update {
                    row_id: stored.row_id,
                    discrepancy: stored.discrepancy,
                });
            }
            continue;
        }
        if !seen.contains(&id) {
            out.writes.push(DiscrepancyWrite::Resolve {
                row_id: stored.row_id,
                at: now,
            });
            out.events.push(AuditEvent::new(
                AuditKind::DiscrepancyResolved,
                id.as_str(),
                json!({
                    "last_difference": format_amount(stored.discrepancy.difference),
                    "opened_at": crate::store::audit::timestamp(stored.discrepancy.opened_at),
                }),
            ));
        }
    }
    // Counted gaps first, worst first: what needs a person leads every listing.
    out.current.sort_by(|a, b| {
        b.is_counted()
            .cmp(&a.is_counted())
            .then_with(|| b.severity.cmp(&a.severity))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// The active expectations on one id and how to rate the residual they leave.
struct Explain<'a> {
    expected: Vec<Expectation>,
    severity: Option<&'a SeverityConfig>,
}

impl Explain<'_> {
    /// Attaches the expectations to `d` and rates it on the residual they leave.
    fn apply_to(self, d: &mut BalanceDiscrepancy, f: &Finding) {
        if self.expected.is_empty() {
            return;
        }
        d.expected = self.expected;
        let magnitude = f.local.abs().max(f.exchange.abs());
        let Some(s) = self.severity else {
            return;
        };
        if let Some(r) = rules::residual(d.difference, d.expected_total(), d.allowed, magnitude, s)
        {
            // The same rule as the difference's: the residual's relative severity, raised
            // by the residual's value or capped by dust (SPEC §2).
            d.severity = match d.valuation.as_mut() {
                Some(v) => v.rate(r.severity, r.residual, &s.value),
                None => r.severity,
            };
        }
    }
}

fn mark(
    out: &mut LifecycleOutcome,
    e: &Expectation,
    mark: Mark,
    kind: AuditKind,
    now: DateTime<Utc>,
) {
    out.writes.push(DiscrepancyWrite::MarkExpectation {
        id: e.id,
        mark,
        at: now,
    });
    out.events.push(AuditEvent::new(
        kind,
        e.discrepancy_id().as_str(),
        expectations::detail(e),
    ));
}

/// Expires the expectations whose deadline is at or before `now`; returns the others by id.
fn expire(
    out: &mut LifecycleOutcome,
    active: Vec<Expectation>,
    now: DateTime<Utc>,
) -> BTreeMap<DiscrepancyId, Vec<Expectation>> {
    let mut by_id: BTreeMap<DiscrepancyId, Vec<Expectation>> = BTreeMap::new();
    for e in active {
        if e.expires_at <= now {
            mark(out, &e, Mark::Expired, AuditKind::ExpectationExpired, now);
        } else {
            by_id.entry(e.discrepancy_id()).or_default().push(e);
        }
    }
    by_id
}

/// Records the first meeting of each expectation with its gap (from then on the gap
/// resolving settles it).
fn engage(out: &mut LifecycleOutcome, list: &mut [Expectation], now: DateTime<Utc>) {
    for e in list.iter_mut().filter(|e| e.engaged_at.is_none()) {
        e.engaged_at = Some(now);
        out.writes.push(DiscrepancyWrite::MarkExpectation {
            id: e.id,
            mark: Mark::Engaged,
            at: now,
        });
    }
}

fn from_finding(
    exchange: &ExchangeName,
    id: DiscrepancyId,
    f: &Finding,
    opened_at: DateTime<Utc>,
) -> BalanceDiscrepancy {
    BalanceDiscrepancy {
        id,
        exchange: exchange.clone(),
        asset: f.asset.clone(),
        kind: f.kind,
        local: f.local,
        exchange_amount: f.exchange,
        difference: f.difference,
        relative: f.relative,
        severity: f.severity,
        allowed: f.allowed,
        tolerance_source: f.tolerance_source.clone(),
        opened_at,
        acknowledgement: None,
        expected: Vec::new(),
        valuation: f.valuation.clone(),
    }
}

fn detail(d: &BalanceDiscrepancy) -> serde_json::Value {
    let mut v = base_detail(d);
    // Why the severity is what it is, in money terms, as the audit trail saw it.
    if let (Some(val), Some(map)) = (&d.valuation, v.as_object_mut()) {
        map.insert("price".into(), json!(val.price.map(format_amount)));
        map.insert("value".into(), json!(val.value.map(format_amount)));
        map.insert(
            "value_severity".into(),
            json!(val.value_severity.map(|s| s.as_str())),
        );
        if let Some(e) = &val.price_error {
            map.insert("price_error".into(), json!(e));
        }
    }
    if let (false, Some(map)) = (d.expected.is_empty(), v.as_object_mut()) {
        map.insert("state".into(), json!(d.state().as_str()));
        map.insert("expected".into(), json!(format_amount(d.expected_total())));
        map.insert("residual".into(), json!(format_amount(d.residual())));
    }
    v
}

fn base_detail(d: &BalanceDiscrepancy) -> serde_json::Value {
    json!({
        "kind": d.kind.as_str(),
        "severity": d.severity.as_str(),
        "local": format_amount(d.local),
        "exchange_amount": format_amount(d.exchange_amount),
        "difference": format_amount(d.difference),
        "relative": format_amount(round_relative(d.relative)),
        "allowed": format_amount(d.allowed),
        "tolerance_source": d.tolerance_source,
    })
}

fn open_new(
    out: &mut LifecycleOutcome,
    exchange: &ExchangeName,
    id: DiscrepancyId,
    f: &Finding,
    explain: Explain<'_>,
    now: DateTime<Utc>,
) {
    let mut d = from_finding(exchange, id, f, now);
    explain.apply_to(&mut d, f);
    out.events.push(AuditEvent::new(
        AuditKind::DiscrepancyOpened,
        d.id.as_str(),
        detail(&d),
    ));
    out.writes.push(DiscrepancyWrite::Open(d.clone()));
    out.current.push(d);
}

/// Ends `d`'s acknowledgement if its snooze deadline is at or before `now`, auditing it
/// (`acknowledgement_expired`). Returns whether it lapsed.
fn lapse_snooze(
    out: &mut LifecycleOutcome,
    d: &mut BalanceDiscrepancy,
    now: DateTime<Utc>,
) -> bool {
    let Some(ack) = d.acknowledgement.as_ref() else {
        return false;
    };
    let Some(expires_at) = ack.expires_at.filter(|e| *e <= now) else {
        return false;
    };
    out.events.push(AuditEvent::new(
        AuditKind::AcknowledgementExpired,
        d.id.as_str(),
        json!({
            "id": d.id.as_str(),
            "by": ack.by,
            "acknowledged_at": crate::store::audit::timestamp(ack.at),
            "expires_at": crate::store::audit::timestamp(expires_at),
        }),
    ));
    d.acknowledgement = None;
    true
}

fn update(
    out: &mut LifecycleOutcome,
    stored: StoredDiscrepancy,
    f: &Finding,
    explain: Explain<'_>,
    now: DateTime<Utc>,
) {
    let prev = stored.discrepancy;
    let mut next = from_finding(&prev.exchange, prev.id.clone(), f, prev.opened_at);
    next.acknowledgement = prev.acknowledgement.clone();
    explain.apply_to(&mut next, f);
    // A snooze that ran out has ended the ack: it is not lapsed a second time below.
    lapse_snooze(out, &mut next, now);
    let mut reason = None;
    if let Some(ack) = next.acknowledgement.clone() {
        // An ack covers a gap of a given direction and size: a flip from −1 to +1 BTC is a
        // 2 BTC swing, never "the same gap".
        let flipped = !ack.difference.is_zero()
            && next.difference.is_sign_negative() != ack.difference.is_sign_negative();
        let growth = next.difference.abs() - ack.difference.abs();
        if flipped {
            next.acknowledgement = None;
            reason = Some("acknowledgement lapsed: the gap changed direction");
        } else if growth > f.allowed {
            next.acknowledgement = None;
            reason =
                Some("acknowledgement lapsed: the gap grew beyond the acknowledged difference");
        }
    }
    if reason.is_none() && (next.kind != prev.kind || next.severity != prev.severity) {
        reason = Some(if next.severity > prev.severity {
            "severity rose"
        } else if next.severity < prev.severity {
            "severity fell"
        } else {
            "kind changed"
        });
    }
    if let Some(reason) = reason {
        let mut d = detail(&next);
        if let Some(map) = d.as_object_mut() {
            map.insert("reason".into(), json!(reason));
            map.insert("previous_severity".into(), json!(prev.severity.as_str()));
            map.insert(
                "previous_difference".into(),
                json!(format_amount(prev.difference)),
            );
        }
        out.events.push(AuditEvent::new(
            AuditKind::DiscrepancyChanged,
            next.id.as_str(),
            d,
        ));
    }
    // Expectations and the valuation are not stored with the discrepancy: only a change
    // of what is stored is a write.
    let stored_changed = BalanceDiscrepancy {
        expected: Vec::new(),
        valuation: None,
        ..next.clone()
    } != prev;
    if stored_changed {
        out.writes.push(DiscrepancyWrite::Update {
            row_id: stored.row_id,
            discrepancy: next.clone(),
        });
    }
    out.current.push(next);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Acknowledgement, Asset, DiscrepancyKind, DiscrepancySeverity};
    use rust_decimal::Decimal;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn finding() -> Finding {
        Finding {
            asset: Asset::parse("BTC").unwrap(),
            kind: DiscrepancyKind::Mismatch,
            local: Decimal::ONE,
            exchange: Decimal::new(9, 1),
            difference: Decimal::new(-1, 1),
            relative: Decimal::new(1, 1),
            severity: DiscrepancySeverity::Critical,
            allowed: Decimal::new(15, 5),
            tolerance_source: "default".into(),
            valuation: None,
        }
    }

    /// x:BTC open since t(0), acknowledged at t(10) until t(70).
    fn snoozed() -> (BTreeMap<ExchangeName, Vec<Finding>>, Vec<StoredDiscrepancy>) {
        let x = ExchangeName::new("x");
        let findings = BTreeMap::from([(x, vec![finding()])]);
        let mut d = apply(vec![], &findings, t(0)).current.remove(0);
        d.acknowledgement = Some(Acknowledgement {
            by: "alice".into(),
            note: String::new(),
            at: t(10),
            difference: d.difference,
            expires_at: Some(t(70)),
        });
        (
            findings,
            vec![StoredDiscrepancy {
                row_id: 7,
                discrepancy: d,
            }],
        )
    }

    fn expired_event() -> AuditEvent {
        AuditEvent::new(
            AuditKind::AcknowledgementExpired,
            "x:BTC",
            json!({
                "id": "x:BTC",
                "by": "alice",
                "acknowledged_at": "2027-01-15T08:00:10.000Z",
                "expires_at": "2027-01-15T08:01:10.000Z",
            }),
        )
    }

    #[test]
    fn a_snoozed_ack_holds_before_its_deadline() {
        let (findings, open) = snoozed();
        let out = apply(open.clone(), &findings, t(69));
        assert_eq!(out.events, vec![]);
        assert_eq!(out.writes, vec![]);
        assert_eq!(out.current, vec![open[0].discrepancy.clone()]);
    }

    #[test]
    fn a_snoozed_ack_lapses_at_its_deadline_and_the_gap_counts_again() {
        let (findings, open) = snoozed();
        let out = apply(open.clone(), &findings, t(70));
        assert_eq!(out.events, vec![expired_event()]);
        let mut lapsed = open[0].discrepancy.clone();
        lapsed.acknowledgement = None;
        assert_eq!(
            out.writes,
            vec![DiscrepancyWrite::Update {
                row_id: 7,
                discrepancy: lapsed.clone(),
            }]
        );
        assert!(!out.current[0].is_acknowledged());
        assert_eq!(out.current, vec![lapsed]);
    }

    #[test]
    fn a_snooze_that_runs_out_as_the_gap_grows_lapses_once() {
        let (mut findings, open) = snoozed();
        let f = &mut findings.values_mut().next().unwrap()[0];
        f.exchange = Decimal::new(5, 1);
        f.difference = Decimal::new(-5, 1);
        f.relative = Decimal::new(5, 1);
        let out = apply(open, &findings, t(70));
        assert_eq!(out.events, vec![expired_event()]);
        assert_eq!(out.current[0].difference, Decimal::new(-5, 1));
        assert!(!out.current[0].is_acknowledged());
    }

    #[test]
    fn a_snooze_lapses_even_when_its_exchange_was_not_compared() {
        let (_, open) = snoozed();
        let out = apply(open.clone(), &BTreeMap::new(), t(500));
        assert_eq!(out.events, vec![expired_event()]);
        let mut lapsed = open[0].discrepancy.clone();
        lapsed.acknowledgement = None;
        assert_eq!(
            out.writes,
            vec![DiscrepancyWrite::Update {
                row_id: 7,
                discrepancy: lapsed,
            }]
        );
        assert_eq!(out.current, vec![], "nothing compared, nothing reported");
    }
}
