//! Fixture console states built from real domain types, shared by the snapshot tests,
//! the state-transition tests and the frame benchmark. "Now" is fixed, so every frame
//! drawn from these is the same on every run.
#![allow(dead_code)]

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;

use recon::domain::{
    Acknowledgement, Asset, BalanceDiscrepancy, DiscrepancyId, DiscrepancyKind,
    DiscrepancySeverity, ExchangeName, ReconciliationStatus,
};
use recon::engine::report::{BalanceRow, CircuitState, ExchangeReport, ExchangeStatus};
use recon::engine::{EngineView, ReconciliationReport};
use recon::exchanges::{Coverage, ExchangeKind};
use recon::store::AuditEntry;
use recon::tui::{theme, Action, App, Effect};

/// The cycle finished at 10:00:00 UTC.
pub fn finished_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// "Now" in every fixture: 4.2 s after the cycle.
pub fn now() -> DateTime<Utc> {
    finished_at() + TimeDelta::milliseconds(4200)
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn row(asset: &str, local: &str, exchange: &str) -> BalanceRow {
    BalanceRow {
        asset: Asset::parse(asset).unwrap(),
        local: dec(local),
        exchange: dec(exchange),
    }
}

fn ok_exchange(name: &str, latency_ms: u64, balances: Vec<BalanceRow>) -> ExchangeReport {
    ExchangeReport {
        name: ExchangeName::new(name),
        kind: ExchangeKind::Simulated,
        status: ExchangeStatus::Ok,
        latency_ms,
        attempts: 1,
        error: None,
        coverage: Coverage {
            pages: 1,
            rows: balances.len() as u32,
            complete: true,
        },
        balances,
        compared: true,
        uncompared: Vec::new(),
        exposed: Vec::new(),
        last_ok_at: Some(finished_at()),
        circuit: CircuitState::Closed,
    }
}

pub fn discrepancy(
    exchange: &str,
    asset: &str,
    local: &str,
    on_exchange: &str,
    severity: DiscrepancySeverity,
    opened_secs_ago: i64,
) -> BalanceDiscrepancy {
    let (l, e) = (dec(local), dec(on_exchange));
    let difference = e - l;
    let magnitude = l.abs().max(e.abs());
    let kind = if e.is_zero() {
        DiscrepancyKind::MissingOnExchange
    } else if l.is_zero() {
        DiscrepancyKind::MissingLocally
    } else {
        DiscrepancyKind::Mismatch
    };
    let exchange = ExchangeName::new(exchange);
    let asset = Asset::parse(asset).unwrap();
    BalanceDiscrepancy {
        id: DiscrepancyId::new(&exchange, &asset),
        exchange,
        asset,
        kind,
        local: l,
        exchange_amount: e,
        difference,
        relative: difference.abs() / magnitude,
        severity,
        allowed: dec("0.00000001"),
        tolerance_source: "default".into(),
        opened_at: finished_at() - TimeDelta::seconds(opened_secs_ago),
        acknowledgement: None,
        expected: Vec::new(),
        valuation: None,
    }
}

/// A partial cycle: coinbase-main with a critical, a medium, a low and an acknowledged
/// discrepancy; exchange-prime timed out (no balances); dydx-perps with a high one.
pub fn report() -> ReconciliationReport {
    use DiscrepancySeverity::*;
    let mut acked = discrepancy("coinbase-main", "DOGE", "0", "1500", Critical, 7260);
    acked.acknowledgement = Some(Acknowledgement {
        by: "bob".into(),
        note: "airdrop, booked tomorrow".into(),
        at: finished_at() - TimeDelta::seconds(600),
        difference: dec("1500"),
        expires_at: None,
    });
    let failed = ExchangeReport {
        name: ExchangeName::new("exchange-prime"),
        kind: ExchangeKind::CoinbaseExchange,
        status: ExchangeStatus::Error,
        latency_ms: 3012,
        attempts: 3,
        error: Some("exchange 'exchange-prime': timed out after 1000 ms".into()),
        balances: Vec::new(),
        compared: false,
        uncompared: Vec::new(),
        // What the ledger holds there: shown as unknown rows while the venue is down.
        exposed: vec![
            (Asset::parse("BTC").unwrap(), dec("0.75")),
            (Asset::parse("USD").unwrap(), dec("25000")),
        ],
        coverage: Coverage::default(),
        last_ok_at: Some(finished_at() - TimeDelta::seconds(45)),
        circuit: CircuitState::Closed,
    };
    ReconciliationReport {
        id: 42,
        started_at: finished_at() - TimeDelta::milliseconds(312),
        finished_at: finished_at(),
        duration_ms: 312,
        status: ReconciliationStatus::Partial,
        worst_severity: Some(Critical),
        ledger_error: None,
        unconfigured: Vec::new(),
        exchanges: vec![
            ok_exchange(
                "coinbase-main",
                208,
                vec![
                    row("BTC", "1.5", "1.4"),
                    row("DOGE", "0", "1500"),
                    row("ETH", "10", "10"),
                    row("LINK", "1200", "1200.3"),
                    row("SOL", "250", "249.5"),
                    row("USDC", "25000.00", "25000.004"),
                ],
            ),
            failed,
            ok_exchange(
                "dydx-perps",
                97,
                vec![
                    row("BTC-USD", "0.25", "0.253"),
                    row("ETH-USD", "-3.5", "-3.5"),
                    row("USDC", "14000.123456", "14000.123456"),
                ],
            ),
        ],
        discrepancies: vec![
            discrepancy("coinbase-main", "BTC", "1.5", "1.4", Critical, 192),
            discrepancy(
                "coinbase-main",
                "SOL",
                "250",
                "249.5",
                Medium,
                3600 * 5 + 60,
            ),
            discrepancy(
                "coinbase-main",
                "LINK",
                "1200",
                "1200.3",
                Low,
                86_400 * 2 + 3600,
            ),
            acked,
            discrepancy("dydx-perps", "BTC-USD", "0.25", "0.253", High, 45),
        ],
        valuation: None,
    }
}

pub fn view(report: Option<ReconciliationReport>) -> EngineView {
    EngineView {
        report: report.map(Arc::new),
        cycle_running: false,
        paused: false,
        next_cycle_at: Some(finished_at() + TimeDelta::seconds(30)),
        interval: Duration::from_secs(30),
        latency_history: vec![
            180, 210, 195, 240, 600, 220, 205, 198, 310, 290, 250, 230, 215, 208, 1200, 260, 240,
            312,
        ],
        engine_error: None,
        cycles_completed: 42,
    }
}

/// Audit entries `first..=last`, newest first, cycling through a few real event shapes.
pub fn audit_entries(last: i64, count: i64) -> Vec<AuditEntry> {
    (0..count)
        .map(|i| last - i)
        .filter(|seq| *seq >= 1)
        .map(|seq| {
            let (event, subject, detail) = match seq % 4 {
                0 => (
                    "cycle_completed",
                    Some("cycle 42"),
                    r#"{"cycle_id":42,"status":"partial","duration_ms":312}"#,
                ),
                1 => (
                    "exchange_error",
                    Some("exchange-prime"),
                    r#"{"error":"timed out after 1000 ms","attempts":3}"#,
                ),
                2 => (
                    "discrepancy_opened",
                    Some("coinbase-main:BTC"),
                    r#"{"kind":"mismatch","severity":"critical","difference":"-0.1"}"#,
                ),
                _ => (
                    "discrepancy_acknowledged",
                    Some("coinbase-main:DOGE"),
                    r#"{"by":"bob","note":"airdrop, booked tomorrow"}"#,
                ),
            };
            let at = finished_at() - TimeDelta::seconds(last - seq);
            AuditEntry {
                seq,
                at: at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                event: event.into(),
                subject: subject.map(str::to_string),
                detail: detail.into(),
                prev_hash: String::new(),
                hash: String::new(),
            }
        })
        .collect()
}

/// The shipped themes (no override directory), with `name` selected.
pub fn themes(name: &str) -> (Vec<theme::Theme>, usize) {
    theme::load(Path::new("/nonexistent/recon-fixture"), name).expect("shipped themes load")
}

/// A console in theme `name`, sized `w`×`h`, showing [`report`] and an audit page.
pub fn app(name: &str, w: u16, h: u16) -> App {
    app_with(name, w, h, view(Some(report())), audit_entries(120, 60))
}

pub fn app_with(name: &str, w: u16, h: u16, view: EngineView, audit: Vec<AuditEntry>) -> App {
    let (themes, index) = themes(name);
    let mut app = App::new(themes, index, "alice".into(), now());
    app.update(Action::Resize(w, h));
    let effect = app.update(Action::Engine(Arc::new(view), now()));
    match effect {
        Some(Effect::LoadAuditPage { generation, .. }) => {
            app.update(Action::AuditLoaded {
                generation,
                result: Ok(audit),
            });
        }
        other => panic!("expected the first audit page to be requested, got {other:?}"),
    }
    app
}

/// The frame benchmarks' console: 120×40, [`big_report`] of `n` rows, 10 000 audit
/// entries, the balances panel focused.
pub fn app_with_rows(n: usize) -> App {
    let view = view(Some(big_report(n)));
    let mut app = app_with("default", 120, 40, view, audit_entries(10_000, 200));
    app.update(Action::Command(recon::tui::keys::Command::FocusPrev));
    app
}

/// A report with `n` balance rows across 10 exchanges (for the frame benchmark).
pub fn big_report(n: usize) -> ReconciliationReport {
    let mut r = report();
    r.exchanges = (0..10)
        .map(|x| {
            let rows = (0..n / 10)
                .map(|i| {
                    let local = Decimal::new((i as i64 + 1) * 1_234_567, 6);
                    let exchange = if i % 7 == 0 {
                        local + Decimal::new(5, 3)
                    } else {
                        local
                    };
                    BalanceRow {
                        asset: Asset::parse(&format!("A{i:04}")).unwrap(),
                        local,
                        exchange,
                    }
                })
                .collect();
            ok_exchange(&format!("venue-{x:02}"), 100 + x as u64, rows)
        })
        .collect();
    r
}

/// A desk: `venues` exchanges of `rows` balances each (every seventh off by 0.005, a
/// discrepancy), the first venue failed — the console at desk scale.
pub fn desk_report(venues: usize, rows: usize) -> ReconciliationReport {
    let mut r = report();
    let mut discrepancies = Vec::new();
    r.exchanges = (0..venues)
        .map(|x| {
            let name = format!("venue-{x:02}");
            let balances = (0..rows)
                .map(|i| {
                    let local = Decimal::new((i as i64 + 1) * 1_234_567, 6);
                    let exchange = if i % 7 == 0 {
                        local + Decimal::new(5, 3)
                    } else {
                        local
                    };
                    let asset = format!("A{i:04}");
                    if exchange != local {
                        let mut d = discrepancy(
                            &name,
                            &asset,
                            &local.to_string(),
                            &exchange.to_string(),
                            DiscrepancySeverity::Medium,
                            60,
                        );
                        d.allowed = dec("0.0001");
                        discrepancies.push(d);
                    }
                    BalanceRow {
                        asset: Asset::parse(&asset).unwrap(),
                        local,
                        exchange,
                    }
                })
                .collect();
            let mut e = ok_exchange(&name, 100 + x as u64, balances);
            if x == 0 {
                e.status = ExchangeStatus::Error;
                e.error = Some("HTTP 503: service unavailable (3 attempts)".into());
                e.balances.clear();
                e.compared = false;
            }
            e
        })
        .collect();
    r.discrepancies = discrepancies;
    r
}

/// The fixture report valued in USD by a static table fetched `price_age_secs` before the
/// cycle ended: BTC at 97000 (so coinbase-main:BTC is worth 9700 and dydx-perps:BTC-USD
/// 291), SOL 150, DOGE 0.1; LINK has a price unless `link_unpriced`.
#[allow(dead_code)]
pub fn valued_report(price_age_secs: i64, link_unpriced: bool) -> ReconciliationReport {
    use recon::domain::Valuation;
    let mut r = report();
    let as_of = finished_at() - TimeDelta::seconds(price_age_secs);
    r.valuation = Some(recon::engine::ReportValuation {
        quote: Asset::parse("USD").unwrap(),
        source: "static".into(),
        max_age: Duration::from_secs(300),
        fetched_at: Some(as_of),
        error: None,
    });
    for d in &mut r.discrepancies {
        let base = d.asset.as_str().split('-').next().unwrap().to_string();
        let price = match base.as_str() {
            "BTC" => Some(dec("97000")),
            "SOL" => Some(dec("150")),
            "DOGE" => Some(dec("0.1")),
            "LINK" if !link_unpriced => Some(dec("15")),
            _ => None,
        };
        let value = price.map(|p| p * d.difference.abs());
        let severity = value.map(|v| {
            if v >= dec("10000") {
                DiscrepancySeverity::Critical
            } else if v >= dec("1000") {
                DiscrepancySeverity::High
            } else if v >= dec("100") {
                DiscrepancySeverity::Medium
            } else {
                DiscrepancySeverity::Low
            }
        });
        d.valuation = Some(Valuation {
            price,
            price_as_of: price.map(|_| as_of),
            value,
            value_severity: severity,
            price_error: price
                .is_none()
                .then(|| format!("no price for {base} in the static table")),
        });
    }
    r
}
