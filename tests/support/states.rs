//! A console state with a discrepancy in each state: open ones (one partly explained by
//! an expectation, so it shows expected and residual), an acknowledged one snoozed until
//! 12:00 UTC, and one a declared withdrawal explains. Built on `fixtures::report()`, so
//! every panel has data.
#![allow(dead_code)]

use chrono::TimeDelta;

use recon::domain::{DiscrepancySeverity, DiscrepancyState, Expectation};
use recon::engine::report::{classify_status, ExchangeStatus};
use recon::engine::ReconciliationReport;
use recon::tui::App;

use super::fixtures::{self, dec, finished_at};

/// An active expectation of `difference` on `exchange:asset`.
pub fn expectation(
    id: i64,
    exchange: &str,
    asset: &str,
    difference: &str,
    note: &str,
) -> Expectation {
    Expectation {
        id,
        exchange: recon::domain::ExchangeName::new(exchange),
        asset: recon::domain::Asset::parse(asset).unwrap(),
        difference: dec(difference),
        by: "carol".into(),
        note: note.into(),
        created_at: finished_at() - TimeDelta::minutes(20),
        expires_at: finished_at() + TimeDelta::hours(2),
        engaged_at: Some(finished_at() - TimeDelta::minutes(10)),
    }
}

/// [`fixtures::report`] with: coinbase-main:DOGE acknowledged and snoozed until 12:00 UTC;
/// coinbase-main:SOL (−0.5) explained by a declared withdrawal of −0.5; coinbase-main:LINK
/// (+0.3) partly explained by +0.2, so 0.1 still counts; BTC and dydx BTC-USD open.
pub fn report() -> ReconciliationReport {
    let mut r = fixtures::report();
    for d in &mut r.discrepancies {
        match d.id.as_str() {
            "coinbase-main:DOGE" => {
                let ack = d.acknowledgement.as_mut().unwrap();
                ack.expires_at = Some(finished_at() + TimeDelta::hours(2));
            }
            "coinbase-main:SOL" => {
                d.expected = vec![expectation(
                    7,
                    "coinbase-main",
                    "SOL",
                    "-0.5",
                    "withdrawal 0x3f pending",
                )];
                d.severity = DiscrepancySeverity::Low;
            }
            "coinbase-main:LINK" => {
                d.expected = vec![expectation(
                    8,
                    "coinbase-main",
                    "LINK",
                    "0.2",
                    "deposit, partial",
                )];
            }
            _ => {}
        }
    }
    let ok = r
        .exchanges
        .iter()
        .filter(|e| e.status == ExchangeStatus::Ok)
        .count();
    let (status, worst) = classify_status(true, ok, r.exchanges.len(), &r.discrepancies);
    r.status = status;
    r.worst_severity = worst;
    assert_eq!(
        r.discrepancies
            .iter()
            .map(|d| d.state())
            .filter(|s| *s == DiscrepancyState::Explained)
            .count(),
        1
    );
    r
}

/// A console in theme `name` at `w`×`h` showing [`report`] and an audit page.
pub fn app(name: &str, w: u16, h: u16) -> App {
    fixtures::app_with(
        name,
        w,
        h,
        fixtures::view(Some(report())),
        fixtures::audit_entries(120, 60),
    )
}
