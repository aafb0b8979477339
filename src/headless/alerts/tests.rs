//! The policy and the payload as pure functions: reports in, events and bodies out.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::payload::{self, truncate_chars, DISCORD_MAX_CHARS};
use super::policy::{decide, settle, EventKind};
use crate::config::AlertsConfig;
use crate::domain::{
    Acknowledgement, Asset, BalanceDiscrepancy, DiscrepancyId, DiscrepancyKind,
    DiscrepancySeverity, ExchangeName, ReconciliationStatus,
};
use crate::engine::report::{CircuitState, ExchangeReport, ExchangeStatus};
use crate::engine::ReconciliationReport;
use crate::exchanges::{Coverage, ExchangeKind};
use crate::store::alerts::AlertRecord;

type State = BTreeMap<String, AlertRecord>;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

fn cfg() -> AlertsConfig {
    AlertsConfig {
        hold_for: Duration::ZERO,
        min_severity: DiscrepancySeverity::High,
        repeat: None,
        timeout: Duration::from_secs(3),
        max_per_cycle: 10,
    }
}

fn gap(
    exchange: &str,
    asset: &str,
    severity: DiscrepancySeverity,
    diff: &str,
) -> BalanceDiscrepancy {
    let (e, a) = (ExchangeName::new(exchange), Asset::parse(asset).unwrap());
    let difference: Decimal = diff.parse().unwrap();
    BalanceDiscrepancy {
        id: DiscrepancyId::new(&e, &a),
        exchange: e,
        asset: a,
        kind: DiscrepancyKind::Mismatch,
        local: Decimal::new(15, 1),
        exchange_amount: Decimal::new(15, 1) + difference,
        difference,
        relative: Decimal::new(666_666_666_667, 13),
        severity,
        allowed: Decimal::new(15, 5),
        tolerance_source: "default".into(),
        opened_at: t0(),
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
        latency_ms: 5,
        attempts: 1,
        error: (status != ExchangeStatus::Ok).then(|| "HTTP 503 after 3 attempts".to_string()),
        balances: vec![],
        compared: status == ExchangeStatus::Ok,
        uncompared: vec![],
        exposed: Vec::new(),
        coverage: Coverage::default(),
        last_ok_at: None,
        circuit: if status == ExchangeStatus::CircuitOpen {
            CircuitState::Open
        } else {
            CircuitState::Closed
        },
    }
}

fn report(
    secs: i64,
    exchanges: Vec<ExchangeReport>,
    gaps: Vec<BalanceDiscrepancy>,
) -> ReconciliationReport {
    ReconciliationReport {
        id: secs,
        started_at: at(secs),
        finished_at: at(secs),
        duration_ms: 5,
        status: ReconciliationStatus::Discrepancies,
        worst_severity: gaps.iter().map(|d| d.severity).max(),
        ledger_error: None,
        unconfigured: Vec::new(),
        exchanges,
        discrepancies: gaps,
        valuation: None,
    }
}

fn ok_x() -> Vec<ExchangeReport> {
    vec![exchange("x", ExchangeStatus::Ok)]
}

/// Runs the policy on a report, all deliveries succeeding; returns the event kinds.
fn step(
    state: &mut State,
    r: &ReconciliationReport,
    cfg: &AlertsConfig,
) -> Vec<(EventKind, String)> {
    step_with(state, r, cfg, true)
}

fn step_with(
    state: &mut State,
    r: &ReconciliationReport,
    cfg: &AlertsConfig,
    ok: bool,
) -> Vec<(EventKind, String)> {
    let d = decide(state, r, cfg, r.finished_at);
    let kinds = d
        .events
        .iter()
        .map(|e| (e.kind, e.subject.clone()))
        .collect();
    let outcomes = vec![ok; d.events.len()];
    *state = settle(d, &outcomes, r.finished_at);
    kinds
}

fn kinds(events: &[(EventKind, String)]) -> Vec<EventKind> {
    events.iter().map(|(k, _)| *k).collect()
}

#[test]
fn an_unchanged_gap_alerts_once_over_ten_reports() {
    let mut st = State::new();
    let mut all = Vec::new();
    for i in 0..10 {
        let r = report(
            i * 30,
            ok_x(),
            vec![gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1")],
        );
        all.extend(step(&mut st, &r, &cfg()));
    }
    assert_eq!(all, vec![(EventKind::Opened, "x:BTC".to_string())]);
}

#[test]
fn for_secs_holds_back_a_flapping_gap() {
    let cfg = AlertsConfig {
        hold_for: Duration::from_secs(60),
        ..cfg()
    };
    let mut st = State::new();
    let g = || vec![gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1")];
    // Present 30 s, gone, present 30 s, gone: never counted for 60 s in a row.
    let mut all = Vec::new();
    for (secs, present) in [
        (0, true),
        (30, true),
        (40, false),
        (50, true),
        (80, true),
        (90, false),
    ] {
        let mut gaps = if present { g() } else { vec![] };
        for d in &mut gaps {
            d.opened_at = at(if secs < 40 { 0 } else { 50 });
        }
        all.extend(step(&mut st, &report(secs, ok_x(), gaps), &cfg));
    }
    assert_eq!(all, vec![], "a flapping gap never alerts");
    assert!(st.is_empty(), "nothing notified, nothing kept: {st:?}");
    // Held for the full minute: it alerts, once.
    let mut gaps = g();
    gaps[0].opened_at = at(100);
    assert_eq!(
        step(&mut st, &report(100, ok_x(), gaps.clone()), &cfg),
        vec![]
    );
    assert_eq!(
        step(&mut st, &report(159, ok_x(), gaps.clone()), &cfg),
        vec![]
    );
    assert_eq!(
        kinds(&step(&mut st, &report(160, ok_x(), gaps.clone()), &cfg)),
        vec![EventKind::Opened]
    );
    assert_eq!(step(&mut st, &report(220, ok_x(), gaps), &cfg), vec![]);
}

#[test]
fn below_min_severity_never_alerts_and_rising_to_it_opens() {
    let mut st = State::new();
    let r = report(
        0,
        ok_x(),
        vec![gap("x", "SOL", DiscrepancySeverity::Medium, "-0.5")],
    );
    assert_eq!(step(&mut st, &r, &cfg()), vec![]);
    let r = report(
        10,
        ok_x(),
        vec![gap("x", "SOL", DiscrepancySeverity::High, "-5")],
    );
    assert_eq!(kinds(&step(&mut st, &r, &cfg())), vec![EventKind::Opened]);
}

#[test]
fn escalation_goes_out_once_per_new_high_and_not_when_it_falls_back() {
    let mut st = State::new();
    let sev = |s, secs| report(secs, ok_x(), vec![gap("x", "BTC", s, "-0.1")]);
    use DiscrepancySeverity::*;
    let mut all = Vec::new();
    for (i, s) in [High, High, Critical, High, Critical, Critical]
        .into_iter()
        .enumerate()
    {
        all.extend(kinds(&step(&mut st, &sev(s, i as i64 * 10), &cfg())));
    }
    assert_eq!(all, vec![EventKind::Opened, EventKind::Escalated]);
    let d = decide(&State::new(), &sev(Critical, 0), &cfg(), at(0));
    assert_eq!(d.events[0].severity, Some(Critical));
    let mut st2 = State::new();
    step(&mut st2, &sev(High, 0), &cfg());
    let d = decide(&st2, &sev(Critical, 10), &cfg(), at(10));
    assert_eq!(
        (d.events[0].kind, d.events[0].previous_severity),
        (EventKind::Escalated, Some(High))
    );
}

#[test]
fn resolved_carries_how_long_it_was_open_and_only_after_an_opened() {
    let mut st = State::new();
    let g = vec![gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1")];
    step(&mut st, &report(0, ok_x(), g), &cfg());
    let d = decide(&st, &report(125, ok_x(), vec![]), &cfg(), at(125));
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].kind, EventKind::Resolved);
    assert_eq!(d.events[0].lasted, Some(chrono::Duration::seconds(125)));
    let body = payload::alert_json(&d.events[0]);
    assert_eq!(body["duration_secs"], 125);
    assert_eq!(body["id"], "x:BTC");
    assert_eq!(
        payload::line(&d.events[0]),
        "RESOLVED critical discrepancy x:BTC after 2m 5s"
    );
    st = settle(d, &[true], at(125));
    assert!(st.is_empty());
    // A medium gap never alerted: its resolution is no news either.
    let g = vec![gap("x", "SOL", DiscrepancySeverity::Medium, "-0.5")];
    step(&mut st, &report(200, ok_x(), g), &cfg());
    assert_eq!(step(&mut st, &report(210, ok_x(), vec![]), &cfg()), vec![]);
    assert!(st.is_empty());
}

#[test]
fn a_failed_exchange_never_resolves_its_gaps() {
    let mut st = State::new();
    step(
        &mut st,
        &report(
            0,
            ok_x(),
            vec![gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1")],
        ),
        &cfg(),
    );
    let down = report(10, vec![exchange("x", ExchangeStatus::Error)], vec![]);
    assert_eq!(
        kinds(&step(&mut st, &down, &cfg())),
        vec![EventKind::ExchangeDown]
    );
    let mut ledger_broken = report(20, ok_x(), vec![]);
    ledger_broken.ledger_error = Some("ledger.toml: cannot read".into());
    assert_eq!(
        kinds(&step(&mut st, &ledger_broken, &cfg())),
        vec![EventKind::ExchangeUp]
    );
    assert!(st.contains_key("x:BTC"));
}

#[test]
fn acknowledged_gaps_are_silent_and_a_lapsed_ack_reopens() {
    let mut st = State::new();
    let mut g = gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1");
    step(&mut st, &report(0, ok_x(), vec![g.clone()]), &cfg());
    g.acknowledgement = Some(Acknowledgement {
        by: "ana".into(),
        note: "known".into(),
        at: at(5),
        difference: g.difference,
        expires_at: None,
    });
    for i in 1..5 {
        assert_eq!(
            step(&mut st, &report(i * 10, ok_x(), vec![g.clone()]), &cfg()),
            vec![]
        );
    }
    g.acknowledgement = None;
    g.difference = Decimal::new(-3, 0);
    assert_eq!(
        kinds(&step(&mut st, &report(60, ok_x(), vec![g.clone()]), &cfg())),
        vec![EventKind::Reopened]
    );
    assert_eq!(step(&mut st, &report(70, ok_x(), vec![g]), &cfg()), vec![]);
}

#[test]
fn a_snoozed_ack_that_lapses_with_the_same_gap_reopens() {
    let mut st = State::new();
    let mut g = gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1");
    step(&mut st, &report(0, ok_x(), vec![g.clone()]), &cfg());
    g.acknowledgement = Some(Acknowledgement {
        by: "ana".into(),
        note: String::new(),
        at: at(5),
        difference: g.difference,
        expires_at: Some(at(35)),
    });
    for i in 1..4 {
        assert_eq!(
            step(&mut st, &report(i * 10, ok_x(), vec![g.clone()]), &cfg()),
            vec![]
        );
    }
    // The lifecycle cleared the ack at its deadline: the same gap counts again.
    g.acknowledgement = None;
    assert_eq!(
        kinds(&step(&mut st, &report(40, ok_x(), vec![g.clone()]), &cfg())),
        vec![EventKind::Reopened]
    );
    assert_eq!(step(&mut st, &report(50, ok_x(), vec![g]), &cfg()), vec![]);
}

#[test]
fn exchange_down_after_for_secs_or_at_once_when_its_circuit_opens_then_up() {
    let cfg = AlertsConfig {
        hold_for: Duration::from_secs(60),
        ..cfg()
    };
    let mut st = State::new();
    let err = |s| report(s, vec![exchange("x", ExchangeStatus::Error)], vec![]);
    assert_eq!(step(&mut st, &err(0), &cfg), vec![]);
    assert_eq!(step(&mut st, &err(30), &cfg), vec![]);
    // A blip that recovers within for_secs is no news.
    assert_eq!(step(&mut st, &report(40, ok_x(), vec![]), &cfg), vec![]);
    assert!(st.is_empty());
    assert_eq!(step(&mut st, &err(50), &cfg), vec![]);
    let open = report(55, vec![exchange("x", ExchangeStatus::CircuitOpen)], vec![]);
    assert_eq!(
        step(&mut st, &open, &cfg),
        vec![(EventKind::ExchangeDown, "exchange/x".to_string())]
    );
    for s in [60, 120, 300] {
        assert_eq!(step(&mut st, &err(s), &cfg), vec![]);
    }
    let up = report(350, ok_x(), vec![]);
    let d = decide(&st, &up, &cfg, at(350));
    assert_eq!(d.events[0].kind, EventKind::ExchangeUp);
    assert_eq!(d.events[0].lasted, Some(chrono::Duration::seconds(300)));
    st = settle(d, &[true], at(350));
    assert!(st.is_empty());
    for s in [0, 60] {
        assert_eq!(step(&mut st, &err(1000 + s), &cfg).len(), s as usize / 60);
    }
}

#[test]
fn an_exchange_removed_from_the_configuration_is_forgotten_silently() {
    let mut st = State::new();
    let down = report(
        0,
        vec![
            exchange("x", ExchangeStatus::Error),
            exchange("y", ExchangeStatus::Ok),
        ],
        vec![],
    );
    assert_eq!(
        kinds(&step(&mut st, &down, &cfg())),
        vec![EventKind::ExchangeDown]
    );
    let without_x = report(10, vec![exchange("y", ExchangeStatus::Ok)], vec![]);
    assert_eq!(step(&mut st, &without_x, &cfg()), vec![]);
    assert!(st.is_empty(), "{st:?}");
}

#[test]
fn repeat_secs_reminds_of_a_still_firing_alert() {
    let cfg = AlertsConfig {
        repeat: Some(Duration::from_secs(3600)),
        ..cfg()
    };
    let mut st = State::new();
    let g = || vec![gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1")];
    let mut all = Vec::new();
    for m in 0..=130 {
        all.extend(kinds(&step(&mut st, &report(m * 60, ok_x(), g()), &cfg)));
    }
    assert_eq!(
        all,
        vec![EventKind::Opened, EventKind::Reminder, EventKind::Reminder]
    );
}

#[test]
fn a_failed_delivery_is_owed_and_retried_after_a_pause_not_every_cycle() {
    let mut st = State::new();
    let g = || vec![gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1")];
    assert_eq!(
        kinds(&step_with(&mut st, &report(0, ok_x(), g()), &cfg(), false)),
        vec![EventKind::Opened]
    );
    assert_eq!(step(&mut st, &report(30, ok_x(), g()), &cfg()), vec![]);
    assert_eq!(
        kinds(&step(&mut st, &report(60, ok_x(), g()), &cfg())),
        vec![EventKind::Opened]
    );
    assert_eq!(step(&mut st, &report(90, ok_x(), g()), &cfg()), vec![]);
}

#[test]
fn more_than_max_per_cycle_events_go_out_as_one_digest() {
    let gaps: Vec<_> = (0..12)
        .map(|i| {
            gap(
                "x",
                &format!("A{i:02}"),
                DiscrepancySeverity::Critical,
                "-0.1",
            )
        })
        .collect();
    let r = report(0, ok_x(), gaps);
    let d = decide(&State::new(), &r, &cfg(), at(0));
    assert_eq!(d.events.len(), 12);
    let posts = payload::posts(&r, &d.events, 10);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].event, "digest");
    assert_eq!(posts[0].body["event"], "digest");
    assert_eq!(posts[0].body["alerts"].as_array().unwrap().len(), 12);
    assert!(posts[0].body["text"]
        .as_str()
        .unwrap()
        .starts_with("recon: 12 alert events (12 opened): OPENED critical discrepancy x:A00"));
    let posts = payload::posts(&r, &d.events[..10], 10);
    assert_eq!(posts.len(), 10);
    assert!(posts
        .iter()
        .all(|p| p.event == "opened" && p.events.len() == 1));
}

#[test]
fn payload_is_the_report_plus_event_alerts_text_and_content_with_decimals_as_strings() {
    let r = report(
        0,
        ok_x(),
        vec![gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1")],
    );
    let d = decide(&State::new(), &r, &cfg(), at(0));
    let posts = payload::posts(&r, &d.events, 10);
    let b = &posts[0].body;
    assert_eq!(b["id"], 0);
    assert_eq!(b["status"], "discrepancies");
    assert_eq!(b["discrepancies"][0]["difference"], "-0.1");
    assert_eq!(b["event"], "opened");
    let a = &b["alerts"][0];
    assert_eq!(a["event"], "opened");
    assert_eq!(a["id"], "x:BTC");
    assert_eq!(a["severity"], "critical");
    assert_eq!(a["difference"], "-0.1");
    assert_eq!(a["local"], "1.5");
    assert_eq!(a["exchange_amount"], "1.4");
    assert_eq!(a["relative"], "0.0666666667");
    let text = "recon: OPENED critical discrepancy x:BTC: exchange 1.4 vs ledger 1.5 (difference -0.1, relative 0.0666666667), open since 2026-11-24T10:00:00.000Z.";
    assert_eq!(b["text"], text);
    assert_eq!(b["content"], text);
}

#[test]
fn discord_content_of_a_huge_digest_stays_within_2000_characters() {
    let gaps: Vec<_> = (0..300)
        .map(|i| {
            gap(
                "exchange-ü-€",
                &format!("TOKEN{i:03}"),
                DiscrepancySeverity::Critical,
                "-0.123456789",
            )
        })
        .collect();
    let r = report(0, vec![exchange("exchange-ü-€", ExchangeStatus::Ok)], gaps);
    let d = decide(&State::new(), &r, &cfg(), at(0));
    let posts = payload::posts(&r, &d.events, 10);
    let content = posts[0].body["content"].as_str().unwrap();
    assert_eq!(content.chars().count(), DISCORD_MAX_CHARS);
    assert!(content.ends_with('…'));
    assert!(posts[0].body["text"].as_str().unwrap().chars().count() > DISCORD_MAX_CHARS);
}

#[test]
fn exchange_data_cannot_ping_a_channel() {
    let r = report(
        0,
        ok_x(),
        vec![gap(
            "x",
            "<!channel>&@everyone",
            DiscrepancySeverity::Critical,
            "-0.1",
        )],
    );
    let d = decide(&State::new(), &r, &cfg(), at(0));
    let b = &payload::posts(&r, &d.events, 10)[0].body;
    let text = b["text"].as_str().unwrap();
    assert!(text.contains("x:&lt;!CHANNEL&gt;&amp;@EVERYONE"), "{text}");
    assert!(b["content"]
        .as_str()
        .unwrap()
        .contains("x:<!CHANNEL>&@EVERYONE"));
    assert_eq!(b["allowed_mentions"], serde_json::json!({ "parse": [] }));
}

proptest! {
    #[test]
    fn truncation_is_on_a_char_boundary_and_within_the_limit(s in "\\PC{0,3000}", max in 1usize..2100) {
        let out = truncate_chars(&s, max);
        prop_assert!(out.chars().count() <= max);
        if s.chars().count() <= max {
            prop_assert_eq!(out, s);
        } else {
            prop_assert!(out.ends_with('…'));
            let kept: String = out.chars().take(max - 1).collect();
            prop_assert!(s.starts_with(&kept));
        }
    }

    #[test]
    fn repeated_identical_reports_never_repeat_an_event(
        n in 2usize..12,
        sev in prop::sample::select(DiscrepancySeverity::ALL.to_vec()),
        hold in 0u64..100,
        step_secs in 1i64..60,
    ) {
        let cfg = AlertsConfig { hold_for: Duration::from_secs(hold), ..cfg() };
        let mut st = State::new();
        let mut all = Vec::new();
        for i in 0..n as i64 {
            let r = report(i * step_secs, ok_x(), vec![gap("x", "BTC", sev, "-0.1")]);
            all.extend(step(&mut st, &r, &cfg));
        }
        prop_assert!(all.len() <= 1, "{all:?}");
        let expected_opened = sev >= DiscrepancySeverity::High && (n as i64 - 1) * step_secs >= hold as i64;
        prop_assert_eq!(all.len() == 1, expected_opened);
    }
}

#[test]
fn an_opened_alert_says_what_the_gap_is_worth() {
    let mut st = State::new();
    let mut g = gap("x", "BTC", DiscrepancySeverity::Critical, "-0.1");
    g.valuation = Some(crate::domain::Valuation {
        price: Some(Decimal::from(97_000)),
        value: Some(Decimal::from(9_700)),
        value_severity: Some(DiscrepancySeverity::High),
        ..Default::default()
    });
    let d = decide(&st, &report(0, ok_x(), vec![g]), &cfg(), at(0));
    assert_eq!(d.events[0].kind, EventKind::Opened);
    let body = payload::alert_json(&d.events[0]);
    assert_eq!(
        (
            &body["price"],
            &body["value"],
            &body["value_severity"],
            &body["price_error"]
        ),
        (
            &serde_json::json!("97000"),
            &serde_json::json!("9700"),
            &serde_json::json!("high"),
            &serde_json::Value::Null
        )
    );
    assert_eq!(
        payload::line(&d.events[0]),
        "OPENED critical discrepancy x:BTC: exchange 1.4 vs ledger 1.5 (difference -0.1, relative 0.0666666667, value 9700), open since 2026-11-24T10:00:00.000Z"
    );
    st = settle(d, &[true], at(0));
    assert!(!st.is_empty());
}
