//! The discrepancy lifecycle as a pure function: open → acknowledged → resolved, with an
//! acknowledgement lapsing (re-open) when the gap grows beyond the acknowledged amount by
//! more than the tolerance. Only exchanges compared this cycle are touched: a failed fetch
//! never resolves anything.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::rules::{round_relative, Finding};
use crate::domain::{format_amount, BalanceDiscrepancy, DiscrepancyId, ExchangeName};
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
/// list meaning "nothing outside tolerance") to the open discrepancies.
pub fn apply(
    open: Vec<StoredDiscrepancy>,
    findings: &BTreeMap<ExchangeName, Vec<Finding>>,
    now: DateTime<Utc>,
) -> LifecycleOutcome {
    let mut out = LifecycleOutcome::default();
    let mut by_id: BTreeMap<DiscrepancyId, StoredDiscrepancy> = open
        .into_iter()
        .map(|s| (s.discrepancy.id.clone(), s))
        .collect();
    let mut seen = BTreeSet::new();
    for (exchange, list) in findings {
        for f in list {
            let id = DiscrepancyId::new(exchange, &f.asset);
            seen.insert(id.clone());
            match by_id.remove(&id) {
                None => open_new(&mut out, exchange, id, f, now),
                Some(stored) => update(&mut out, stored, f),
            }
        }
    }
    for (id, stored) in by_id {
        if findings.contains_key(&stored.discrepancy.exchange) && !seen.contains(&id) {
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
    out.current
        .sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    out
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
    }
}

fn detail(d: &BalanceDiscrepancy) -> serde_json::Value {
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
    now: DateTime<Utc>,
) {
    let d = from_finding(exchange, id, f, now);
    out.events.push(AuditEvent::new(
        AuditKind::DiscrepancyOpened,
        d.id.as_str(),
        detail(&d),
    ));
    out.writes.push(DiscrepancyWrite::Open(d.clone()));
    out.current.push(d);
}

fn update(out: &mut LifecycleOutcome, stored: StoredDiscrepancy, f: &Finding) {
    let prev = stored.discrepancy;
    let mut next = from_finding(&prev.exchange, prev.id.clone(), f, prev.opened_at);
    next.acknowledgement = prev.acknowledgement.clone();
    let mut reason = None;
    if let Some(ack) = &prev.acknowledgement {
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
    if next != prev {
        out.writes.push(DiscrepancyWrite::Update {
            row_id: stored.row_id,
            discrepancy: next.clone(),
        });
    }
    out.current.push(next);
}
