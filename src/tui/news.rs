//! What is new since the last report, for a trader who is not staring at the screen: a
//! discrepancy that opened or escalated at `high`/`critical`, an exchange that went down.
//! News rings the terminal bell once per report (`[ui] bell`), marks the line NEW until it
//! has been selected or [`NEW_FOR`] has passed, and the terminal title always carries the
//! state (`recon ✖ 3 critical · 1 down`). Pure state: the app feeds it reports and the
//! clock, the loop turns its answers into a BEL and an OSC title sequence.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::{DiscrepancyId, DiscrepancySeverity, ExchangeName};
use crate::engine::report::ExchangeStatus;
use crate::engine::ReconciliationReport;

/// How long a NEW mark stays when the line is not selected.
pub const NEW_FOR: TimeDelta = TimeDelta::seconds(60);

/// Severities that are news when they open or escalate.
fn loud(s: DiscrepancySeverity) -> bool {
    s >= DiscrepancySeverity::High
}

/// The NEW marks and what the last report brought.
#[derive(Debug, Clone, Default)]
pub struct News {
    /// Counted discrepancies of the last report: id → severity.
    seen: HashMap<DiscrepancyId, DiscrepancySeverity>,
    /// Exchanges that were down in the last report.
    down: HashSet<ExchangeName>,
    /// Whether a report has been seen (the first one is the starting picture, not news).
    primed: bool,
    /// Discrepancies marked NEW, with when.
    marks: HashMap<DiscrepancyId, DateTime<Utc>>,
    /// Exchanges marked NEW (went down), with when.
    exchange_marks: HashMap<ExchangeName, DateTime<Utc>>,
}

/// What one report changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Ring the bell (once for the whole report).
    pub ring: bool,
    /// What the news is, for the status line (`new critical coinbase-main:BTC`).
    pub headline: Option<String>,
}

impl News {
    /// Takes a new report at `now`. The first report is the starting picture: it marks
    /// nothing and rings nothing (a console opened on a bad morning is not news every
    /// restart). Afterwards a counted discrepancy that is new at high/critical, or whose
    /// severity rose to high/critical, and an exchange that went down, are news.
    pub fn observe(&mut self, report: &ReconciliationReport, now: DateTime<Utc>) -> Update {
        let mut update = Update::default();
        let mut headlines = Vec::new();
        let counted: HashMap<DiscrepancyId, DiscrepancySeverity> = report
            .discrepancies
            .iter()
            .filter(|d| d.is_counted())
            .map(|d| (d.id.clone(), d.severity))
            .collect();
        let down: HashSet<ExchangeName> = report
            .exchanges
            .iter()
            .filter(|e| e.status != ExchangeStatus::Ok)
            .map(|e| e.name.clone())
            .collect();
        if self.primed {
            let mut fresh: Vec<(&DiscrepancyId, DiscrepancySeverity)> = counted
                .iter()
                .filter(|(id, s)| loud(**s) && self.seen.get(*id).is_none_or(|was| was < *s))
                .map(|(id, s)| (id, *s))
                .collect();
            fresh.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            for (id, s) in fresh {
                self.marks.insert(id.clone(), now);
                headlines.push(format!("new {s} {id}"));
            }
            let mut gone: Vec<&ExchangeName> = down.difference(&self.down).collect();
            gone.sort();
            for e in gone {
                self.exchange_marks.insert(e.clone(), now);
                headlines.push(format!("{e} down"));
            }
        }
        // A line that is no longer counted (resolved, acknowledged, explained) drops its mark;
        // an exchange back up drops its own.
        self.marks.retain(|id, _| counted.contains_key(id));
        self.exchange_marks.retain(|e, _| down.contains(e));
        update.ring = !headlines.is_empty();
        if !headlines.is_empty() {
            let more = headlines.len() - 1;
            let mut h = headlines.swap_remove(0);
            if more > 0 {
                h.push_str(&format!(" (+{more} more)"));
            }
            update.headline = Some(h);
        }
        self.seen = counted;
        self.down = down;
        self.primed = true;
        update
    }

    /// Drops marks older than [`NEW_FOR`].
    pub fn tick(&mut self, now: DateTime<Utc>) {
        self.marks.retain(|_, at| now - *at < NEW_FOR);
        self.exchange_marks.retain(|_, at| now - *at < NEW_FOR);
    }

    /// The line was selected: it has been seen.
    pub fn seen_discrepancy(&mut self, id: &DiscrepancyId) {
        self.marks.remove(id);
    }

    /// The exchange was selected: it has been seen.
    pub fn seen_exchange(&mut self, name: &ExchangeName) {
        self.exchange_marks.remove(name);
    }

    /// Whether `id` carries a NEW mark.
    pub fn is_new(&self, id: &DiscrepancyId) -> bool {
        self.marks.contains_key(id)
    }

    /// Whether any discrepancy carries a NEW mark (cheap: no line is looked at).
    pub fn any_new(&self) -> bool {
        !self.marks.is_empty()
    }

    /// Whether exchange `name` carries a NEW mark.
    pub fn is_new_exchange(&self, name: &ExchangeName) -> bool {
        self.exchange_marks.contains_key(name)
    }

    /// How many marks are showing.
    pub fn marked(&self) -> usize {
        self.marks.len() + self.exchange_marks.len()
    }
}

/// The terminal title for `report`: the worst counted severity with its symbol and count,
/// and the exchanges down — `recon ✖ 3 critical · 1 down`, `recon ✔ reconciled`.
pub fn title(report: Option<&ReconciliationReport>) -> String {
    let Some(r) = report else {
        return "recon · waiting for the first cycle".to_string();
    };
    let down = r
        .exchanges
        .iter()
        .filter(|e| e.status != ExchangeStatus::Ok)
        .count();
    let mut parts = Vec::new();
    if let Some(worst) = r.worst_severity {
        let n = r
            .discrepancies
            .iter()
            .filter(|d| d.is_counted() && d.severity == worst)
            .count();
        parts.push(format!("{} {n} {worst}", worst.symbol()));
    }
    if down > 0 {
        parts.push(format!("{down} down"));
    }
    if r.ledger_error.is_some() {
        parts.push("ledger unreadable".to_string());
    }
    if parts.is_empty() {
        return "recon ✔ reconciled".to_string();
    }
    format!("recon {}", parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Asset, BalanceDiscrepancy, DiscrepancyKind};
    use crate::engine::report::{CircuitState, ExchangeReport};
    use crate::exchanges::{Coverage, ExchangeKind};
    use rust_decimal::Decimal;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn gap(asset: &str, severity: DiscrepancySeverity) -> BalanceDiscrepancy {
        let (e, a) = (ExchangeName::new("x"), Asset::parse(asset).unwrap());
        BalanceDiscrepancy {
            id: DiscrepancyId::new(&e, &a),
            exchange: e,
            asset: a,
            kind: DiscrepancyKind::Mismatch,
            local: Decimal::ONE,
            exchange_amount: Decimal::ONE,
            difference: Decimal::ONE,
            relative: Decimal::ONE,
            severity,
            allowed: Decimal::ZERO,
            tolerance_source: "default".into(),
            opened_at: t(0),
            acknowledgement: None,
            expected: Vec::new(),
            valuation: None,
        }
    }

    fn exchange(name: &str, status: ExchangeStatus) -> ExchangeReport {
        ExchangeReport {
            name: ExchangeName::new(name),
            kind: ExchangeKind::Simulated,
            status,
            latency_ms: 1,
            attempts: 1,
            error: None,
            balances: Vec::new(),
            compared: status == ExchangeStatus::Ok,
            uncompared: Vec::new(),
            exposed: Vec::new(),
            coverage: Coverage::default(),
            last_ok_at: None,
            circuit: CircuitState::Closed,
        }
    }

    fn report(ds: Vec<BalanceDiscrepancy>, ex: Vec<ExchangeReport>) -> ReconciliationReport {
        let worst = ds
            .iter()
            .filter(|d| d.is_counted())
            .map(|d| d.severity)
            .max();
        ReconciliationReport {
            id: 1,
            started_at: t(0),
            finished_at: t(0),
            duration_ms: 1,
            status: crate::domain::ReconciliationStatus::Discrepancies,
            worst_severity: worst,
            ledger_error: None,
            unconfigured: Vec::new(),
            exchanges: ex,
            discrepancies: ds,
            valuation: None,
        }
    }

    #[test]
    fn the_first_report_is_the_starting_picture_not_news() {
        let mut n = News::default();
        let u = n.observe(
            &report(vec![gap("BTC", DiscrepancySeverity::Critical)], vec![]),
            t(0),
        );
        assert_eq!(u, Update::default());
        assert_eq!(n.marked(), 0);
    }

    #[test]
    fn a_new_critical_rings_once_and_is_marked_until_selected_or_60_s() {
        let mut n = News::default();
        n.observe(
            &report(vec![], vec![exchange("x", ExchangeStatus::Ok)]),
            t(0),
        );
        let r = report(
            vec![
                gap("BTC", DiscrepancySeverity::Critical),
                gap("ETH", DiscrepancySeverity::Medium),
            ],
            vec![exchange("x", ExchangeStatus::Ok)],
        );
        let u = n.observe(&r, t(1));
        assert_eq!(
            u,
            Update {
                ring: true,
                headline: Some("new critical x:BTC".into())
            }
        );
        let btc = &r.discrepancies[0].id;
        assert!(n.is_new(btc));
        assert!(!n.is_new(&r.discrepancies[1].id), "medium is not news");
        // The same picture again: nothing rings.
        assert_eq!(n.observe(&r, t(2)), Update::default());
        n.tick(t(60));
        assert!(n.is_new(btc));
        n.tick(t(61));
        assert!(!n.is_new(btc));
        // Escalation to high/critical is news; selection clears it.
        let mut r2 = r.clone();
        r2.discrepancies[1].severity = DiscrepancySeverity::High;
        let u = n.observe(&r2, t(70));
        assert_eq!(u.headline.as_deref(), Some("new high x:ETH"));
        n.seen_discrepancy(&r2.discrepancies[1].id);
        assert!(!n.is_new(&r2.discrepancies[1].id));
    }

    #[test]
    fn an_exchange_going_down_is_news_and_an_acknowledged_gap_is_not() {
        let mut n = News::default();
        n.observe(
            &report(vec![], vec![exchange("x", ExchangeStatus::Ok)]),
            t(0),
        );
        let mut acked = gap("BTC", DiscrepancySeverity::Critical);
        acked.acknowledgement = Some(crate::domain::Acknowledgement {
            by: "a".into(),
            note: String::new(),
            at: t(0),
            difference: Decimal::ONE,
            expires_at: None,
        });
        let u = n.observe(
            &report(
                vec![acked],
                vec![
                    exchange("x", ExchangeStatus::Error),
                    exchange("y", ExchangeStatus::CircuitOpen),
                ],
            ),
            t(5),
        );
        assert_eq!(u.headline.as_deref(), Some("x down (+1 more)"));
        assert!(u.ring);
        assert!(n.is_new_exchange(&ExchangeName::new("x")));
        n.seen_exchange(&ExchangeName::new("x"));
        assert!(!n.is_new_exchange(&ExchangeName::new("x")));
        assert!(n.is_new_exchange(&ExchangeName::new("y")));
    }

    #[test]
    fn the_title_carries_the_worst_state_and_the_exchanges_down() {
        assert_eq!(title(None), "recon · waiting for the first cycle");
        let r = report(
            vec![
                gap("BTC", DiscrepancySeverity::Critical),
                gap("ETH", DiscrepancySeverity::Critical),
                gap("SOL", DiscrepancySeverity::High),
            ],
            vec![
                exchange("x", ExchangeStatus::Ok),
                exchange("y", ExchangeStatus::Error),
            ],
        );
        assert_eq!(title(Some(&r)), "recon ✖ 2 critical · 1 down");
        assert_eq!(
            title(Some(&report(
                vec![],
                vec![exchange("x", ExchangeStatus::Ok)]
            ))),
            "recon ✔ reconciled"
        );
    }
}
