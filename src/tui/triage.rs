//! Working down a long list: sort keys (`s` cycles them), the filter query (words
//! AND-ed, `sev:high` or the keys `1`–`4` for a minimum severity) and the jump to the next
//! critical or failure (`n`/`N`). Pure functions over domain values, so the panels and the
//! tests share them.

use std::cmp::Ordering;

use crate::domain::{BalanceDiscrepancy, DiscrepancySeverity};

/// How the discrepancies (and balances) are ordered. Counted lines always come first:
/// what needs a person leads whatever the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Worst first (then id).
    #[default]
    Severity,
    /// Largest |difference| first.
    Difference,
    /// Largest money value first, unpriced ones ahead of them (never buried); only
    /// offered with `[valuation]`.
    Value,
    /// Oldest first.
    Age,
    /// By exchange, then asset.
    Exchange,
    /// By asset, then exchange.
    Asset,
}

impl SortKey {
    /// Every key in `s` order.
    pub const ALL: [Self; 6] = [
        Self::Severity,
        Self::Difference,
        Self::Value,
        Self::Age,
        Self::Exchange,
        Self::Asset,
    ];

    /// The next key (`s`); `value` only when discrepancies are `valued`.
    pub fn next(self, valued: bool) -> Self {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        let next = Self::ALL[(i + 1) % Self::ALL.len()];
        if next == Self::Value && !valued {
            next.next(valued)
        } else {
            next
        }
    }

    /// How the key is named on screen.
    pub fn label(self) -> &'static str {
        match self {
            Self::Severity => "severity",
            Self::Difference => "|difference|",
            Self::Value => "value",
            Self::Age => "age",
            Self::Exchange => "exchange",
            Self::Asset => "asset",
        }
    }
}

/// Orders two discrepancies by `key` within their state (open, then acknowledged, then
/// explained: counted ones always lead); ties fall back to severity
/// and then the id, so the order is total and stable from cycle to cycle.
pub fn compare(a: &BalanceDiscrepancy, b: &BalanceDiscrepancy, key: SortKey) -> Ordering {
    let by_key = match key {
        SortKey::Severity => Ordering::Equal,
        SortKey::Difference => b.difference.abs().cmp(&a.difference.abs()),
        SortKey::Value => {
            let value = |d: &BalanceDiscrepancy| d.valuation.as_ref().and_then(|v| v.value);
            // None (unpriced) sorts ahead of every value: an unknown amount may be the
            // largest.
            match (value(a), value(b)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => y.cmp(&x),
            }
        }
        SortKey::Age => a.opened_at.cmp(&b.opened_at),
        SortKey::Exchange => a
            .exchange
            .as_str()
            .cmp(b.exchange.as_str())
            .then_with(|| a.asset.cmp(&b.asset)),
        SortKey::Asset => a
            .asset
            .cmp(&b.asset)
            .then_with(|| a.exchange.as_str().cmp(b.exchange.as_str())),
    };
    a.state()
        .cmp(&b.state())
        .then(by_key)
        .then_with(|| b.severity.cmp(&a.severity))
        .then_with(|| a.id.cmp(&b.id))
}

/// A parsed filter: every word must appear (case-insensitively) in one of a line's
/// fields, and the line's severity must reach `min_severity` when one is set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// Lower-case words, AND-ed.
    pub words: Vec<String>,
    /// `sev:<name>` (or the keys `1`–`4`): at least this severity.
    pub min_severity: Option<DiscrepancySeverity>,
}

impl Query {
    /// Parses the filter text: whitespace-separated words; `sev:low|medium|high|critical`
    /// (or a prefix of one: `sev:crit`) sets the minimum severity instead of matching text.
    pub fn parse(text: &str) -> Self {
        let mut q = Self::default();
        for word in text.split_whitespace() {
            let lower = word.to_lowercase();
            if let Some(sev) = lower.strip_prefix("sev:").and_then(severity_named) {
                q.min_severity = Some(sev);
            } else {
                q.words.push(lower);
            }
        }
        q
    }

    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.min_severity.is_none()
    }

    /// Whether a line with these fields and severity (`None`: a line without a
    /// discrepancy, e.g. a balance that is ok) passes.
    pub fn matches(&self, fields: &[&str], severity: Option<DiscrepancySeverity>) -> bool {
        if let Some(min) = self.min_severity {
            if severity.is_none_or(|s| s < min) {
                return false;
            }
        }
        self.words
            .iter()
            .all(|w| fields.iter().any(|f| f.to_lowercase().contains(w.as_str())))
    }
}

/// The severity of the keys `1`–`4` (low … critical).
pub fn severity_key(digit: char) -> Option<DiscrepancySeverity> {
    match digit {
        '1' => Some(DiscrepancySeverity::Low),
        '2' => Some(DiscrepancySeverity::Medium),
        '3' => Some(DiscrepancySeverity::High),
        '4' => Some(DiscrepancySeverity::Critical),
        _ => None,
    }
}

fn severity_named(name: &str) -> Option<DiscrepancySeverity> {
    if name.is_empty() {
        return None;
    }
    DiscrepancySeverity::ALL
        .into_iter()
        .find(|s| s.as_str().starts_with(name))
}

/// The index of the next (`forward`) or previous line after `from` for which `hit` holds,
/// wrapping around; `None` when no line does.
pub fn jump(len: usize, from: usize, forward: bool, hit: impl Fn(usize) -> bool) -> Option<usize> {
    (1..=len)
        .map(|step| {
            if forward {
                (from + step) % len
            } else {
                (from + len - step % len) % len
            }
        })
        .find(|i| hit(*i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s_cycles_every_key_and_comes_back() {
        use SortKey::*;
        let cycle = |valued: bool| {
            let mut k = SortKey::default();
            let mut seen = vec![k];
            loop {
                k = k.next(valued);
                if k == Severity {
                    return seen;
                }
                seen.push(k);
            }
        };
        assert_eq!(cycle(true), SortKey::ALL);
        // Without prices there is no value to sort by.
        assert_eq!(cycle(false), [Severity, Difference, Age, Exchange, Asset]);
    }

    #[test]
    fn words_are_and_ed_and_sev_sets_a_minimum() {
        let q = Query::parse("  Coinbase btc sev:HIGH ");
        assert_eq!(q.words, ["coinbase", "btc"]);
        assert_eq!(q.min_severity, Some(DiscrepancySeverity::High));
        assert!(q.matches(
            &["coinbase-main", "BTC"],
            Some(DiscrepancySeverity::Critical)
        ));
        assert!(!q.matches(
            &["coinbase-main", "ETH"],
            Some(DiscrepancySeverity::Critical)
        ));
        assert!(!q.matches(&["coinbase-main", "BTC"], Some(DiscrepancySeverity::Medium)));
        assert!(
            !q.matches(&["coinbase-main", "BTC"], None),
            "ok lines have no severity"
        );
        assert_eq!(
            Query::parse("sev:crit").min_severity,
            Some(DiscrepancySeverity::Critical)
        );
        assert_eq!(
            Query::parse("sev:").words,
            ["sev:"],
            "not a severity: plain text"
        );
        assert!(Query::parse("  ").is_empty());
    }

    #[test]
    fn jump_wraps_both_ways_and_finds_nothing_when_nothing_hits() {
        let hits = [false, true, false, true];
        assert_eq!(jump(4, 1, true, |i| hits[i]), Some(3));
        assert_eq!(jump(4, 3, true, |i| hits[i]), Some(1));
        assert_eq!(jump(4, 1, false, |i| hits[i]), Some(3));
        assert_eq!(jump(4, 0, true, |_| false), None);
        assert_eq!(jump(0, 0, true, |_| true), None);
        assert_eq!(jump(1, 0, true, |_| true), Some(0));
    }

    #[test]
    fn digits_one_to_four_name_the_severities() {
        assert_eq!(severity_key('1'), Some(DiscrepancySeverity::Low));
        assert_eq!(severity_key('4'), Some(DiscrepancySeverity::Critical));
        assert_eq!(severity_key('5'), None);
    }
}
