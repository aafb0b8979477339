//! Display rows derived from a report once, when it arrives, rather than on every frame:
//! amounts formatted exactly and padded so decimal points line up, discrepancies in the
//! order a trader reads them. Rendering only slices these.

use std::cmp::Reverse;
use std::collections::HashMap;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::domain::{align_decimals, format_amount, BalanceDiscrepancy, DiscrepancySeverity};
use crate::engine::report::ExchangeStatus;
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
    /// Ledger amount, aligned.
    pub local: String,
    /// Exchange amount, aligned, or [`UNKNOWN`].
    pub exchange_amount: String,
    /// `exchange − local`, aligned, or [`UNKNOWN`].
    pub difference: String,
    /// The difference is below zero.
    pub negative: bool,
    /// The discrepancy on this pair, if any: severity and whether it is acknowledged.
    pub discrepancy: Option<(DiscrepancySeverity, bool)>,
    /// Set when the exchange was not fetched this cycle: amounts unknown.
    pub unavailable: Option<ExchangeStatus>,
}

impl BalanceLine {
    /// Case-insensitive match of the filter (already lower case) on exchange or asset.
    pub fn matches(&self, filter_lower: &str) -> bool {
        filter_lower.is_empty()
            || self.exchange.to_lowercase().contains(filter_lower)
            || self.asset.to_lowercase().contains(filter_lower)
    }
}

/// Every compared pair of the report, plus one line per exchange that failed, so a failed
/// exchange reads as "unknown", never as an empty or zero account.
pub fn balance_lines(report: &ReconciliationReport) -> Vec<BalanceLine> {
    let pairs: Vec<_> = report
        .exchanges
        .iter()
        .flat_map(|e| e.balances.iter().map(move |b| (e, b)))
        .collect();
    let column = |f: &dyn Fn(usize) -> String| -> Vec<String> {
        align_decimals(&(0..pairs.len()).map(f).collect::<Vec<_>>())
    };
    let mut local = column(&|i| format_amount(pairs[i].1.local)).into_iter();
    let mut exchange = column(&|i| format_amount(pairs[i].1.exchange)).into_iter();
    let mut difference =
        column(&|i| format_amount(pairs[i].1.exchange - pairs[i].1.local)).into_iter();

    let flagged: HashMap<_, _> = report
        .discrepancies
        .iter()
        .map(|d| ((&d.exchange, &d.asset), (d.severity, d.is_acknowledged())))
        .collect();
    let mut lines = Vec::with_capacity(pairs.len() + report.exchanges.len());
    for e in &report.exchanges {
        if e.status != ExchangeStatus::Ok {
            lines.push(BalanceLine {
                exchange: e.name.to_string(),
                asset: "—".into(),
                local: "—".into(),
                exchange_amount: UNKNOWN.into(),
                difference: UNKNOWN.into(),
                negative: false,
                discrepancy: None,
                unavailable: Some(e.status),
            });
            continue;
        }
        for b in &e.balances {
            let discrepancy = flagged.get(&(&e.name, &b.asset)).copied();
            lines.push(BalanceLine {
                exchange: e.name.to_string(),
                asset: b.asset.to_string(),
                local: local.next().unwrap_or_default(),
                exchange_amount: exchange.next().unwrap_or_default(),
                difference: difference.next().unwrap_or_default(),
                negative: b.exchange < b.local,
                discrepancy,
                unavailable: None,
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
}

/// Open discrepancies first, worst first, then acknowledged ones; by id within a group.
pub fn discrepancy_lines(report: &ReconciliationReport) -> Vec<DiscrepancyLine> {
    let mut v = report.discrepancies.clone();
    v.sort_by_key(|d| (d.is_acknowledged(), Reverse(d.severity), d.id.clone()));
    let diffs: Vec<String> = v.iter().map(|d| format_amount(d.difference)).collect();
    v.into_iter()
        .zip(align_decimals(&diffs))
        .map(|(d, difference)| DiscrepancyLine {
            relative: percent(d.relative),
            discrepancy: d,
            difference,
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
