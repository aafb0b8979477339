//! The daemon's bookkeeping on real domain types: which lifecycle changes a report brings
//! (a failed fetch resolves nothing), and the Prometheus series they leave behind.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::time::Duration;

use chrono::TimeDelta;
use fixtures::{discrepancy, finished_at, report};
use recon::domain::{DiscrepancySeverity::*, ExchangeName};
use recon::engine::report::CircuitState;
use recon::engine::{ExchangeStatus, ReconciliationReport};
use recon::headless::logs::{Change, Tracker};
use recon::headless::metrics::{stale_after, Health, Metrics};

/// `(what, subject)` of each change, in order.
fn summary(changes: &[Change]) -> Vec<(&'static str, String)> {
    changes
        .iter()
        .map(|c| match c {
            Change::Opened(d) => ("opened", d.id.to_string()),
            Change::Escalated { now, from } => ("escalated", format!("{} from {from}", now.id)),
            Change::Eased { now, from } => ("eased", format!("{} from {from}", now.id)),
            Change::Acknowledged(d) => ("acknowledged", d.id.to_string()),
            Change::Reopened(d) => ("reopened", d.id.to_string()),
            Change::Resolved { last, at } => (
                "resolved",
                format!(
                    "{} after {} s",
                    last.id,
                    (*at - last.opened_at).num_seconds()
                ),
            ),
            Change::Forgotten(d) => ("forgotten", d.id.to_string()),
            Change::ExchangeDown { exchange, error } => ("down", format!("{exchange}: {error}")),
            Change::ExchangeUp { exchange } => ("up", exchange.to_string()),
        })
        .collect()
}

/// The fixture a minute later: prime answers again with nothing outside tolerance, SOL
/// rose to high, LINK is settled, DOGE's ack lapsed, and dydx-perps timed out.
fn next_report() -> ReconciliationReport {
    let mut r = report();
    r.id = 43;
    r.finished_at = finished_at() + TimeDelta::seconds(60);
    r.exchanges[1].status = ExchangeStatus::Ok;
    r.exchanges[1].error = None;
    r.exchanges[1].attempts = 1;
    r.exchanges[2].status = ExchangeStatus::Error;
    r.exchanges[2].error = Some("timed out after 1000 ms (3 attempts)".into());
    r.exchanges[2].circuit = CircuitState::HalfOpen;
    r.discrepancies = vec![
        discrepancy("coinbase-main", "BTC", "1.5", "1.4", Critical, 252),
        discrepancy("coinbase-main", "SOL", "250", "247", High, 3600 * 5 + 120),
        discrepancy("coinbase-main", "DOGE", "0", "1600", Critical, 7320),
    ];
    r
}

#[test]
fn lifecycle_changes_between_reports_and_a_failed_fetch_resolves_nothing() {
    let mut t = Tracker::default();
    assert_eq!(
        summary(&t.observe(&report())),
        [
            (
                "down",
                "exchange-prime: exchange 'exchange-prime': timed out after 1000 ms".to_string()
            ),
            ("opened", "coinbase-main:BTC".into()),
            ("opened", "coinbase-main:SOL".into()),
            ("opened", "coinbase-main:LINK".into()),
            ("opened", "coinbase-main:DOGE".into()),
            ("opened", "dydx-perps:BTC-USD".into()),
        ]
    );
    assert!(
        t.observe(&report()).is_empty(),
        "an unchanged cycle is quiet"
    );
    assert_eq!(
        summary(&t.observe(&next_report())),
        [
            ("up", "exchange-prime".to_string()),
            (
                "down",
                "dydx-perps: timed out after 1000 ms (3 attempts)".into()
            ),
            ("escalated", "coinbase-main:SOL from medium".into()),
            ("reopened", "coinbase-main:DOGE".into()),
            ("resolved", "coinbase-main:LINK after 176460 s".into()),
        ]
    );
    let mut known: Vec<String> = t.known().map(|d| d.id.to_string()).collect();
    known.sort();
    assert_eq!(
        known,
        [
            "coinbase-main:BTC",
            "coinbase-main:DOGE",
            "coinbase-main:SOL",
            "dydx-perps:BTC-USD"
        ],
        "dydx-perps was not compared: its gap is still open"
    );
}

#[test]
fn a_restart_resumes_what_the_store_has_open_without_reporting_it_again() {
    let mut t = Tracker::resume(report().discrepancies);
    let changes = summary(&t.observe(&report()));
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].0, "down");
}

#[test]
fn an_exchange_removed_by_a_reload_is_forgotten_not_resolved() {
    let mut t = Tracker::default();
    t.observe(&report());
    let mut r = report();
    r.exchanges
        .retain(|e| e.name != ExchangeName::new("dydx-perps"));
    r.discrepancies
        .retain(|d| d.exchange != ExchangeName::new("dydx-perps"));
    assert_eq!(
        summary(&t.observe(&r)),
        [("forgotten", "dydx-perps:BTC-USD".to_string())]
    );
}

fn sample(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ').map(str::to_string))
}

#[test]
fn series_follow_the_reports_and_resolved_ones_are_removed() {
    let (mut t, m) = (Tracker::default(), Metrics::new());
    for r in [report(), next_report()] {
        let changes = t.observe(&r);
        m.observe(&r, t.known(), &changes);
    }
    let text = m.encode();
    let get = |k: &str| sample(&text, k);
    assert_eq!(
        get("recon_discrepancy_difference{exchange=\"coinbase-main\",asset=\"LINK\"}"),
        None,
        "resolved: removed\n{text}"
    );
    assert_eq!(
        get("recon_discrepancy_difference{exchange=\"coinbase-main\",asset=\"SOL\"}").as_deref(),
        Some("-3.0")
    );
    assert_eq!(
        get("recon_discrepancy_difference{exchange=\"dydx-perps\",asset=\"BTC-USD\"}").as_deref(),
        Some("0.003"),
        "not compared this cycle: kept"
    );
    for (labels, v) in [
        ("state=\"open\",severity=\"critical\"", "2"),
        ("state=\"open\",severity=\"high\"", "2"),
        ("state=\"open\",severity=\"medium\"", "0"),
        ("state=\"open\",severity=\"low\"", "0"),
        ("state=\"acknowledged\",severity=\"critical\"", "0"),
    ] {
        assert_eq!(
            get(&format!("recon_discrepancies{{{labels}}}")).as_deref(),
            Some(v),
            "{labels}"
        );
    }
    assert_eq!(
        get("recon_cycles_total{status=\"partial\"}").as_deref(),
        Some("2")
    );
    assert_eq!(
        get("recon_exchange_up{exchange=\"dydx-perps\"}").as_deref(),
        Some("0")
    );
    assert_eq!(
        get("recon_exchange_up{exchange=\"exchange-prime\"}").as_deref(),
        Some("1")
    );
    assert_eq!(
        get("recon_exchange_circuit_state{exchange=\"dydx-perps\"}").as_deref(),
        Some("1")
    );
    assert_eq!(
        get("recon_exchange_errors_total{exchange=\"exchange-prime\",reason=\"timeout\"}")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        get("recon_exchange_errors_total{exchange=\"dydx-perps\",reason=\"timeout\"}").as_deref(),
        Some("1")
    );
    assert_eq!(
        get("recon_exchange_attempts_total{exchange=\"exchange-prime\"}").as_deref(),
        Some("4"),
        "3 then 1"
    );
    assert_eq!(
        get("recon_last_cycle_timestamp_seconds").as_deref(),
        Some("1795514460.0")
    );
    assert_eq!(
        get("recon_last_success_timestamp_seconds").as_deref(),
        Some("0.0")
    );
    assert_eq!(
        get("recon_exchange_stale_seconds{exchange=\"exchange-prime\"}").as_deref(),
        Some("0.0")
    );
    assert_eq!(
        get("recon_exchange_stale_seconds{exchange=\"dydx-perps\"}").as_deref(),
        Some("60.0")
    );
    m.count_alert("sent");
    m.count_alert("failed");
    m.count_alert("failed");
    m.count_missed(3);
    let text = m.encode();
    assert_eq!(
        sample(&text, "recon_alerts_total{result=\"sent\"}").as_deref(),
        Some("1")
    );
    assert_eq!(
        sample(&text, "recon_alerts_total{result=\"failed\"}").as_deref(),
        Some("2")
    );
    assert_eq!(
        sample(&text, "recon_reports_missed_total").as_deref(),
        Some("3")
    );
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn readiness_needs_a_cycle_and_goes_when_the_last_one_is_too_old() {
    let bound = stale_after(Duration::from_millis(200), Duration::from_secs(2));
    assert_eq!(bound, Duration::from_millis(2600));
    let h = Health::new(bound);
    assert_eq!(h.ready(finished_at()), Err("no cycle completed yet".into()));
    h.set_running(true);
    assert!(h.alive(finished_at()), "no cycle yet is not a stall");
    h.cycle_done(finished_at());
    assert_eq!(
        h.ready(finished_at() + TimeDelta::milliseconds(2600)),
        Ok(())
    );
    let late = finished_at() + TimeDelta::milliseconds(2700);
    assert_eq!(
        h.ready(late),
        Err("last cycle finished 2.7 s ago (limit 2.6 s)".into())
    );
    assert!(!h.alive(late), "a stalled loop stops the watchdog pings");
    h.set_running(false);
    assert!(!h.running());
}
