//! Display rows derived from a report once, when it arrives, rather than on every frame:
//! amounts formatted exactly and padded so decimal points line up, discrepancies in the
//! order a trader reads them. Rendering only slices these.

use std::cmp::Reverse;
use std::collections::HashMap;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::domain::{
    align_decimals, format_amount, Asset, BalanceDiscrepancy, DiscrepancySeverity, DiscrepancyState,
};
use crate::engine::report::{ExchangeReport, ExchangeStatus};
use crate::engine::ReconciliationReport;

/// Shown instead of an amount that is not known (never a zero).
pub const UNKNOWN: &str = "unknown";

/// One row of the balances table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceLine {
    /// Exchange name.
    pub exchange: String,
    /// Asset symbol (`—` for an exchange that could not be fetched).
    pub asset: String,
    /// Ledger amount, aligned, or [`UNKNOWN`] when not compared.
    pub local: String,
    /// Exchange amount, aligned, or [`UNKNOWN`].
    pub exchange_amount: String,
    /// `exchange − local`, aligned, or [`UNKNOWN`].
    pub difference: String,
    /// The difference is below zero.
    pub negative: bool,
    /// The discrepancy on this pair, if any: its severity and state.
    pub discrepancy: Option<(DiscrepancySeverity, DiscrepancyState)>,
    /// Set when the exchange was not fetched this cycle: amounts unknown.
    pub unavailable: Option<ExchangeStatus>,
    /// Set when the exchange was fetched but not compared (ledger unreadable, or its
    /// ledger entry invalid): the exchange amount is known, the local side is not. Holds
    /// the exchange's status (`Ok` when only the ledger failed).
    pub uncompared: Option<ExchangeStatus>,
}

impl BalanceLine {
    /// Case-insensitive match of the filter (already lower case) on exchange or asset.
    pub fn matches(&self, filter_lower: &str) -> bool {
        filter_lower.is_empty()
            || self.exchange.to_lowercase().contains(filter_lower)
            || self.asset.to_lowercase().contains(filter_lower)
    }
}

/// Every compared pair of the report; what an exchange reported when it was fetched but
/// not compared, with the local side [`UNKNOWN`]; for an exchange that was not fetched,
/// one line per asset the ledger holds there (its amounts [`UNKNOWN`]), or a single line
/// when the ledger holds nothing there or could not be read. A failed exchange or an
/// unreadable ledger reads as "unknown", never as an empty or zero account. Exchanges
/// that were not fetched come first, the others in config order.
pub fn balance_lines(report: &ReconciliationReport) -> Vec<BalanceLine> {
    // (exchange, asset, local when known, exchange amount when known): compared pairs,
    // what an uncompared exchange reported, what the ledger holds on a failed one.
    type Pair<'a> = (
        &'a ExchangeReport,
        &'a Asset,
        Option<Decimal>,
        Option<Decimal>,
    );
    // Failed exchanges first, like in the exchanges panel: never below the fold.
    let mut exchanges: Vec<&ExchangeReport> = report.exchanges.iter().collect();
    exchanges.sort_by_key(|e| e.status == ExchangeStatus::Ok);
    let pairs: Vec<Pair> = exchanges
        .iter()
        .flat_map(|&e| {
            let compared = e
                .balances
                .iter()
                .filter(move |_| e.compared)
                .map(move |b| (e, &b.asset, Some(b.local), Some(b.exchange)));
            let uncompared = e
                .uncompared
                .iter()
                .filter(move |_| !e.compared)
                .map(move |(a, v)| (e, a, None, Some(*v)));
            let exposed = e
                .exposed
                .iter()
                .filter(move |_| e.status != ExchangeStatus::Ok && e.uncompared.is_empty())
                .map(move |(a, v)| (e, a, Some(*v), None));
            compared.chain(uncompared).chain(exposed)
        })
        .collect();
    // Only known amounts are aligned with each other; "unknown" stands alone.
    let aligned = |f: &dyn Fn(&Pair) -> Option<Decimal>| -> std::vec::IntoIter<String> {
        let values: Vec<String> = pairs
            .iter()
            .filter_map(|p| f(p).map(format_amount))
            .collect();
        align_decimals(&values).into_iter()
    };
    let mut local = aligned(&|p| p.2);
    let mut exchange = aligned(&|p| p.3);
    let mut difference = aligned(&|p| Some(p.3? - p.2?));

    let flagged: HashMap<_, _> = report
        .discrepancies
        .iter()
        .map(|d| ((&d.exchange, &d.asset), (d.severity, d.state())))
        .collect();
    let mut lines = Vec::with_capacity(pairs.len() + report.exchanges.len());
    let mut pairs = pairs.into_iter().peekable();
    for e in exchanges {
        let failed = e.status != ExchangeStatus::Ok && e.uncompared.is_empty();
        if failed && e.exposed.is_empty() {
            lines.push(BalanceLine {
                exchange: e.name.to_string(),
                asset: "—".into(),
                local: "—".into(),
                exchange_amount: UNKNOWN.into(),
                difference: UNKNOWN.into(),
                negative: false,
                discrepancy: None,
                unavailable: Some(e.status),
                uncompared: None,
            });
            continue;
        }
        while let Some((_, asset, l, x)) = pairs.next_if(|p| std::ptr::eq(p.0, e)) {
            let line = BalanceLine {
                exchange: e.name.to_string(),
                asset: asset.to_string(),
                local: UNKNOWN.into(),
                exchange_amount: UNKNOWN.into(),
                difference: UNKNOWN.into(),
                negative: false,
                discrepancy: None,
                unavailable: None,
                uncompared: None,
            };
            lines.push(match (l, x) {
                (Some(l), Some(x)) => BalanceLine {
                    local: local.next().unwrap_or_default(),
                    exchange_amount: exchange.next().unwrap_or_default(),
                    difference: difference.next().unwrap_or_default(),
                    negative: x < l,
                    discrepancy: flagged.get(&(&e.name, asset)).copied(),
                    ..line
                },
                // Fetched, not compared: the exchange's amount is real.
                (None, Some(_)) => BalanceLine {
                    exchange_amount: exchange.next().unwrap_or_default(),
                    uncompared: Some(e.status),
                    ..line
                },
                // Not fetched: what the desk holds there is at stake, its state unknown.
                (Some(_), None) => BalanceLine {
                    local: local.next().unwrap_or_default(),
                    unavailable: Some(e.status),
                    ..line
                },
                (None, None) => line,
            });
        }
    }
    lines
}

/// One row of the discrepancy list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscrepancyLine {
    /// The discrepancy.
    pub discrepancy: BalanceDiscrepancy,
    /// Its difference, aligned with the others.
    pub difference: String,
    /// Its relative size as a percentage (`6.67%`).
    pub relative: String,
    /// Open, acknowledged or explained.
    pub state: DiscrepancyState,
    /// With expectations: their sum, exact, aligned with the other lines' expected.
    pub expected: Option<String>,
    /// With expectations: `difference − expected`, exact, aligned with the others.
    pub residual: Option<String>,
    /// With `[valuation]`: the money value, exact, aligned with the other lines' values;
    /// `None` when unpriced (the discrepancy says why).
    pub value: Option<String>,
}

/// Open discrepancies first, worst first, then acknowledged, then explained ones; by id
/// within a group. Only open ones count, so they lead.
pub fn discrepancy_lines(report: &ReconciliationReport) -> Vec<DiscrepancyLine> {
    let mut v = report.discrepancies.clone();
    v.sort_by_key(|d| (d.state(), Reverse(d.severity), d.id.clone()));
    let diffs: Vec<String> = v.iter().map(|d| format_amount(d.difference)).collect();
    // Expected and residual only where something is expected; aligned among those rows.
    let declared = |f: &dyn Fn(&BalanceDiscrepancy) -> Decimal| -> std::vec::IntoIter<String> {
        let values: Vec<String> = v
            .iter()
            .filter(|d| !d.expected.is_empty())
            .map(|d| format_amount(f(d)))
            .collect();
        align_decimals(&values).into_iter()
    };
    let mut expected = declared(&BalanceDiscrepancy::expected_total);
    let mut residual = declared(&BalanceDiscrepancy::residual);
    let value_of = |d: &BalanceDiscrepancy| d.valuation.as_ref().and_then(|v| v.value);
    let values: Vec<String> = v.iter().filter_map(value_of).map(format_amount).collect();
    let mut values = align_decimals(&values).into_iter();
    v.into_iter()
        .zip(align_decimals(&diffs))
        .map(|(d, difference)| {
            let declared = !d.expected.is_empty();
            DiscrepancyLine {
                relative: percent(d.relative),
                state: d.state(),
                expected: declared.then(|| expected.next()).flatten(),
                residual: declared.then(|| residual.next()).flatten(),
                value: value_of(&d).and_then(|_| values.next()),
                discrepancy: d,
                difference,
            }
        })
        .collect()
}

/// `0.0666…` → `6.67%` (display only; the exact value stays in the report).
fn percent(relative: Decimal) -> String {
    let p = (relative * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    format!("{p:.2}%")
}

/// `45s`, `3m12s`, `2h05m`, `3d04h`: the age of something opened at `then`.
pub fn age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::{DateTime, Utc};

    use crate::domain::{Asset, ExchangeName, ReconciliationStatus};
    use crate::engine::report::{BalanceRow, CircuitState, ExchangeReport};
    use crate::exchanges::{Coverage, ExchangeKind};

    fn exchange(name: &str, status: ExchangeStatus) -> ExchangeReport {
        ExchangeReport {
            name: ExchangeName::new(name),
            kind: ExchangeKind::Simulated,
            status,
            latency_ms: 5,
            attempts: 1,
            error: None,
            balances: Vec::new(),
            compared: false,
            uncompared: Vec::new(),
            exposed: Vec::new(),
            coverage: Coverage::default(),
            last_ok_at: None,
            circuit: CircuitState::Closed,
        }
    }

    fn amount(s: &str) -> Decimal {
        crate::domain::parse_amount(s).unwrap()
    }

    #[test]
    fn uncompared_exchanges_show_their_amounts_with_the_local_side_unknown() {
        let mut ok = exchange("a", ExchangeStatus::Ok);
        ok.compared = true;
        ok.balances = vec![BalanceRow {
            asset: Asset::parse("BTC").unwrap(),
            local: amount("1.5"),
            exchange: amount("1.25"),
        }];
        // Its ledger entry is invalid: fetched, not compared.
        let mut bad_entry = exchange("b", ExchangeStatus::Error);
        bad_entry.uncompared = vec![(Asset::parse("ETH").unwrap(), amount("10"))];
        let failed = exchange("c", ExchangeStatus::Error);
        let report = ReconciliationReport {
            id: 1,
            started_at: DateTime::<Utc>::UNIX_EPOCH,
            finished_at: DateTime::<Utc>::UNIX_EPOCH,
            duration_ms: 1,
            status: ReconciliationStatus::Partial,
            worst_severity: None,
            ledger_error: None,
            unconfigured: Vec::new(),
            exchanges: vec![ok, bad_entry, failed],
            discrepancies: Vec::new(),
            valuation: None,
        };
        let lines = balance_lines(&report);
        let cells: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.exchange.as_str(),
                    l.asset.as_str(),
                    l.local.as_str(),
                    l.exchange_amount.as_str(),
                    l.difference.as_str(),
                    l.uncompared,
                    l.unavailable,
                )
            })
            .collect();
        assert_eq!(
            cells,
            vec![
                (
                    "b",
                    "ETH",
                    UNKNOWN,
                    "10   ",
                    UNKNOWN,
                    Some(ExchangeStatus::Error),
                    None
                ),
                (
                    "c",
                    "—",
                    "—",
                    UNKNOWN,
                    UNKNOWN,
                    None,
                    Some(ExchangeStatus::Error)
                ),
                ("a", "BTC", "1.5", " 1.25", "-0.25", None, None),
            ]
        );

        // The whole ledger unreadable: every exchange lists what it reports, local unknown.
        let mut a = exchange("a", ExchangeStatus::Ok);
        a.uncompared = vec![(Asset::parse("BTC").unwrap(), amount("1.25"))];
        let report = ReconciliationReport {
            status: ReconciliationStatus::Failed,
            ledger_error: Some("ledger l.toml: cannot read".into()),
            unconfigured: Vec::new(),
            exchanges: vec![a],
            ..report
        };
        let lines = balance_lines(&report);
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (lines[0].local.as_str(), lines[0].exchange_amount.as_str()),
            (UNKNOWN, "1.25")
        );
        assert_eq!(lines[0].uncompared, Some(ExchangeStatus::Ok));
        assert_eq!(lines[0].discrepancy, None);
    }

    #[test]
    fn a_failed_exchange_shows_one_unknown_row_per_asset_the_ledger_holds_there() {
        let mut ok = exchange("a", ExchangeStatus::Ok);
        ok.compared = true;
        ok.balances = vec![BalanceRow {
            asset: Asset::parse("BTC").unwrap(),
            local: amount("1.5"),
            exchange: amount("1.25"),
        }];
        let mut down = exchange("b", ExchangeStatus::CircuitOpen);
        down.exposed = vec![
            (Asset::parse("ETH").unwrap(), amount("10")),
            (Asset::parse("USDC").unwrap(), amount("0.125")),
        ];
        // The ledger holds nothing there (or could not be read): one line still says so.
        let empty = exchange("c", ExchangeStatus::Error);
        let report = ReconciliationReport {
            id: 1,
            started_at: DateTime::<Utc>::UNIX_EPOCH,
            finished_at: DateTime::<Utc>::UNIX_EPOCH,
            duration_ms: 1,
            status: ReconciliationStatus::Partial,
            worst_severity: None,
            ledger_error: None,
            unconfigured: Vec::new(),
            exchanges: vec![ok, down, empty],
            discrepancies: Vec::new(),
            valuation: None,
        };
        let cells: Vec<_> = balance_lines(&report)
            .into_iter()
            .map(|l| {
                (
                    l.exchange,
                    l.asset,
                    l.local,
                    l.exchange_amount,
                    l.difference,
                    l.unavailable,
                )
            })
            .collect();
        let row = |e: &str, a: &str, l: &str, x: &str, d: &str, s| {
            (e.into(), a.into(), l.into(), x.into(), d.into(), s)
        };
        assert_eq!(
            cells,
            // The exchanges that were not fetched lead, like in their own panel.
            vec![
                row(
                    "b",
                    "ETH",
                    "10    ",
                    UNKNOWN,
                    UNKNOWN,
                    Some(ExchangeStatus::CircuitOpen)
                ),
                row(
                    "b",
                    "USDC",
                    " 0.125",
                    UNKNOWN,
                    UNKNOWN,
                    Some(ExchangeStatus::CircuitOpen)
                ),
                row("c", "—", "—", UNKNOWN, UNKNOWN, Some(ExchangeStatus::Error)),
                row("a", "BTC", " 1.5  ", "1.25", "-0.25", None),
            ]
        );
    }

    fn gap(id: &str, difference: &str) -> BalanceDiscrepancy {
        let (exchange, asset) = id.split_once(':').unwrap();
        let exchange = ExchangeName::new(exchange);
        let asset = Asset::parse(asset).unwrap();
        BalanceDiscrepancy {
            id: crate::domain::DiscrepancyId::new(&exchange, &asset),
            exchange,
            asset,
            kind: crate::domain::DiscrepancyKind::Mismatch,
            local: amount("10"),
            exchange_amount: amount("10") + amount(difference),
            difference: amount(difference),
            relative: amount("0.1"),
            severity: DiscrepancySeverity::Critical,
            allowed: amount("0.001"),
            tolerance_source: "default".into(),
            opened_at: DateTime::<Utc>::UNIX_EPOCH,
            acknowledgement: None,
            expected: Vec::new(),
            valuation: None,
        }
    }

    fn expect(d: &mut BalanceDiscrepancy, difference: &str) {
        d.expected.push(crate::domain::Expectation {
            id: d.expected.len() as i64 + 1,
            exchange: d.exchange.clone(),
            asset: d.asset.clone(),
            difference: amount(difference),
            by: "carol".into(),
            note: String::new(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
            engaged_at: None,
        });
    }

    #[test]
    fn open_lines_lead_then_acknowledged_then_explained_with_exact_expected_and_residual() {
        let mut explained = gap("a:SOL", "-0.5");
        expect(&mut explained, "-0.25");
        expect(&mut explained, "-0.25");
        let mut partial = gap("a:LINK", "0.3");
        partial.severity = DiscrepancySeverity::Low;
        expect(&mut partial, "0.2");
        let mut acked = gap("a:DOGE", "1500");
        acked.acknowledgement = Some(crate::domain::Acknowledgement {
            by: "bob".into(),
            note: String::new(),
            at: DateTime::<Utc>::UNIX_EPOCH,
            difference: amount("1500"),
            expires_at: None,
        });
        let open = gap("a:BTC", "-0.1");
        let report = ReconciliationReport {
            id: 1,
            started_at: DateTime::<Utc>::UNIX_EPOCH,
            finished_at: DateTime::<Utc>::UNIX_EPOCH,
            duration_ms: 1,
            status: ReconciliationStatus::Discrepancies,
            worst_severity: None,
            ledger_error: None,
            unconfigured: Vec::new(),
            exchanges: Vec::new(),
            discrepancies: vec![explained, acked, partial, open],
            valuation: None,
        };
        let lines = discrepancy_lines(&report);
        let got: Vec<_> = lines
            .iter()
            .map(|l| {
                (
                    l.discrepancy.id.as_str(),
                    l.state,
                    l.expected.as_deref(),
                    l.residual.as_deref(),
                )
            })
            .collect();
        use DiscrepancyState::*;
        assert_eq!(
            got,
            vec![
                ("a:BTC", Open, None, None),
                // Partly explained: it still counts, with 0.1 left over.
                ("a:LINK", Open, Some(" 0.2"), Some("0.1")),
                ("a:DOGE", Acknowledged, None, None),
                ("a:SOL", Explained, Some("-0.5"), Some("0  ")),
            ]
        );
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        let third = Decimal::ONE / Decimal::from(15);
        assert_eq!(percent(third), "6.67%");
        assert_eq!(percent(Decimal::ONE), "100.00%");
        assert_eq!(percent(Decimal::new(2, 4)), "0.02%");
    }

    #[test]
    fn ages_read_compactly() {
        assert_eq!(age(-3), "0s");
        assert_eq!(age(45), "45s");
        assert_eq!(age(192), "3m12s");
        assert_eq!(age(7500), "2h05m");
        assert_eq!(age(3 * 86_400 + 4 * 3600), "3d04h");
    }
}
