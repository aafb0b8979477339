//! Property tests of the expectation arithmetic (SPEC §2): for any amounts, tolerance and
//! set of active expectations, the engine's lifecycle agrees with a straightforward model
//! on the state, the expected sum, the residual and the severity; plus the transitions
//! (engaged, settled, expired) as the lifecycle writes them.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use recon::config::{SeverityConfig, ToleranceConfig};
use recon::domain::{Asset, DiscrepancySeverity, DiscrepancyState, ExchangeName, Expectation};
use recon::engine::lifecycle::{apply_with, LifecycleOutcome};
use recon::engine::rules::reconcile;
use recon::store::expectations::Mark;
use recon::store::{AuditKind, DiscrepancyWrite, StoredDiscrepancy};
use rust_decimal::Decimal;

fn severity() -> SeverityConfig {
    SeverityConfig {
        medium: Decimal::new(1, 3),
        high: Decimal::new(1, 2),
        critical: Decimal::new(5, 2),
        value: Default::default(),
    }
}

fn tolerance(absolute: Decimal, relative: Decimal) -> ToleranceConfig {
    ToleranceConfig {
        absolute,
        relative,
        ignore_assets: Default::default(),
        assets: Default::default(),
    }
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn expectation(id: i64, difference: Decimal) -> Expectation {
    Expectation {
        id,
        exchange: ExchangeName::new("x"),
        asset: Asset::parse("BTC").unwrap(),
        difference,
        by: "alice".into(),
        note: String::new(),
        created_at: t(0),
        expires_at: t(3600),
        engaged_at: None,
    }
}

/// Amounts a desk moves: up to 8 decimals, either sign.
fn amount() -> impl Strategy<Value = Decimal> {
    (-1_000_000_000i64..1_000_000_000, 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s))
}

/// The model, written from SPEC §2 without the engine's helpers.
struct Model {
    state: DiscrepancyState,
    expected: Decimal,
    residual: Decimal,
    severity: DiscrepancySeverity,
}

fn model(
    local: Decimal,
    exchange: Decimal,
    expected: &[Decimal],
    t: &ToleranceConfig,
) -> Option<Model> {
    let difference = exchange - local;
    let magnitude = local.abs().max(exchange.abs());
    let bound = t.absolute.max(t.relative * magnitude);
    if difference.abs() <= bound {
        return None;
    }
    let sum: Decimal = expected.iter().copied().sum();
    let residual = difference - sum;
    let relative = (residual.abs() / magnitude)
        .round_dp_with_strategy(10, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let s = severity();
    let severity = if relative >= s.critical {
        DiscrepancySeverity::Critical
    } else if relative >= s.high {
        DiscrepancySeverity::High
    } else if relative >= s.medium {
        DiscrepancySeverity::Medium
    } else {
        DiscrepancySeverity::Low
    };
    let state = if !expected.is_empty() && residual.abs() <= bound {
        DiscrepancyState::Explained
    } else {
        DiscrepancyState::Open
    };
    Some(Model {
        state,
        expected: sum,
        residual,
        severity,
    })
}

fn run(
    local: Decimal,
    exchange: Decimal,
    expected: &[Decimal],
    tol: &ToleranceConfig,
    open: Vec<StoredDiscrepancy>,
    now: DateTime<Utc>,
) -> LifecycleOutcome {
    let btc = Asset::parse("BTC").unwrap();
    let findings = reconcile(
        &BTreeMap::from([(btc.clone(), local)]),
        &BTreeMap::from([(btc, exchange)]),
        tol,
        &severity(),
    )
    .unwrap();
    let active = expected
        .iter()
        .enumerate()
        .map(|(i, d)| expectation(i as i64 + 1, *d))
        .collect();
    apply_with(
        open,
        active,
        &BTreeMap::from([(ExchangeName::new("x"), findings)]),
        Some(&severity()),
        now,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn state_residual_and_severity_agree_with_the_model(
        local in amount(),
        exchange in amount(),
        // Often exactly the gap, so "explained" is exercised as much as "open".
        exact in any::<bool>(),
        expected in proptest::collection::vec(amount(), 0..4),
        absolute in (0i64..1000, 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s)),
        relative in (0i64..1000, 4u32..=8).prop_map(|(m, s)| Decimal::new(m, s)),
    ) {
        let tol = tolerance(absolute, relative);
        let mut expected = expected;
        if exact && !expected.is_empty() {
            let others: Decimal = expected[1..].iter().copied().sum();
            expected[0] = (exchange - local) - others;
        }
        let out = run(local, exchange, &expected, &tol, vec![], t(10));
        match model(local, exchange, &expected, &tol) {
            None => {
                prop_assert!(out.current.is_empty());
                // An expectation waits for its gap: nothing is engaged or settled.
                let marks = out.writes.iter().filter(|w| matches!(w, DiscrepancyWrite::MarkExpectation { .. })).count();
                prop_assert_eq!(marks, 0);
            }
            Some(m) => {
                prop_assert_eq!(out.current.len(), 1);
                let d = &out.current[0];
                prop_assert_eq!(d.state(), m.state);
                prop_assert_eq!(d.expected_total(), m.expected);
                prop_assert_eq!(d.residual(), m.residual);
                prop_assert_eq!(d.severity, m.severity);
                prop_assert_eq!(d.is_counted(), m.state == DiscrepancyState::Open);
                let engaged = out.writes.iter().filter(|w| matches!(w, DiscrepancyWrite::MarkExpectation { mark: Mark::Engaged, .. })).count();
                prop_assert_eq!(engaged, expected.len());
            }
        }
    }
}

#[test]
fn an_engaged_expectation_settles_when_its_gap_resolves_and_a_waiting_one_keeps_waiting() {
    let tol = tolerance(Decimal::new(1, 8), Decimal::new(1, 4));
    let mut engaged = expectation(1, Decimal::new(1, 1));
    engaged.engaged_at = Some(t(5));
    let waiting = expectation(2, Decimal::new(2, 1));
    let btc = Asset::parse("BTC").unwrap();
    let one = BTreeMap::from([(btc, Decimal::ONE)]);
    let findings = reconcile(&one, &one, &tol, &severity()).unwrap();
    let out = apply_with(
        vec![],
        vec![engaged, waiting],
        &BTreeMap::from([(ExchangeName::new("x"), findings)]),
        Some(&severity()),
        t(10),
    );
    assert_eq!(
        out.writes,
        vec![DiscrepancyWrite::MarkExpectation {
            id: 1,
            mark: Mark::Settled,
            at: t(10)
        }]
    );
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.events[0].kind, AuditKind::ExpectationSettled);
    assert_eq!(out.events[0].subject.as_deref(), Some("x:BTC"));
}

#[test]
fn nothing_settles_on_an_exchange_that_was_not_compared_but_deadlines_still_pass() {
    let mut engaged = expectation(1, Decimal::new(1, 1));
    engaged.engaged_at = Some(t(5));
    let mut late = expectation(2, Decimal::new(1, 1));
    late.expires_at = t(10);
    let out = apply_with(
        vec![],
        vec![engaged, late],
        &BTreeMap::new(),
        Some(&severity()),
        t(10) + TimeDelta::milliseconds(1),
    );
    assert_eq!(
        out.writes,
        vec![DiscrepancyWrite::MarkExpectation {
            id: 2,
            mark: Mark::Expired,
            at: t(10) + TimeDelta::milliseconds(1)
        }]
    );
    assert_eq!(out.events[0].kind, AuditKind::ExpectationExpired);
}

#[test]
fn an_expectation_of_the_wrong_sign_doubles_the_residual_and_counts() {
    let tol = tolerance(Decimal::new(1, 8), Decimal::new(1, 4));
    // Gap −0.1, declared +0.1: the residual is −0.2 of 1 → critical, open.
    let out = run(
        Decimal::ONE,
        Decimal::new(9, 1),
        &[Decimal::new(1, 1)],
        &tol,
        vec![],
        t(10),
    );
    let d = &out.current[0];
    assert_eq!(d.residual(), Decimal::new(-2, 1));
    assert_eq!(d.state(), DiscrepancyState::Open);
    assert_eq!(d.severity, DiscrepancySeverity::Critical);
}
