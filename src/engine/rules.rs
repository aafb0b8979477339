//! The reconciliation rules of SPEC §2 as one pure function: ledger side, exchange side,
//! tolerances → findings. No I/O, no clock, no async; property tests aim here.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::config::{SeverityConfig, ToleranceConfig};
use crate::domain::{exact_sub, Asset, DiscrepancyKind, DiscrepancySeverity};

/// One (asset) pair outside tolerance on one exchange, before lifecycle state is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The asset.
    pub asset: Asset,
    /// Mismatch or missing.
    pub kind: DiscrepancyKind,
    /// Ledger amount (0 when absent).
    pub local: Decimal,
    /// Exchange amount (0 when absent).
    pub exchange: Decimal,
    /// `exchange − local`.
    pub difference: Decimal,
    /// `|difference| / max(|local|, |exchange|)`.
    pub relative: Decimal,
    /// From `relative` rounded as printed ([`round_relative`]).
    pub severity: DiscrepancySeverity,
    /// The bound that was exceeded.
    pub allowed: Decimal,
    /// `default` or `asset:<ASSET>`.
    pub tolerance_source: String,
    /// The money value (with `[valuation]`), attached by the engine from its price book;
    /// `severity` then already includes the value's say. `None` from [`reconcile`].
    pub valuation: Option<crate::domain::Valuation>,
}

/// A pair that cannot be compared because its exact difference does not fit a 96-bit
/// decimal (e.g. `100 − 1.123456789012345678901234567` needs 29 digits). Reported as an
/// exchange error rather than rounded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{asset}: the difference cannot be held exactly in a 96-bit decimal")]
pub struct RulesError {
    /// The asset.
    pub asset: Asset,
}

/// Every asset of either side that is not ignored, with both amounts (0 when absent),
/// in asset order. Zero and absent are the same thing, so a pair of zeros is simply
/// within tolerance. Both maps are sorted, so this is one merge pass: with 1000 assets a
/// side it costs a tenth of building a set and looking each asset up again.
pub fn pairs(
    local: &BTreeMap<Asset, Decimal>,
    exchange: &BTreeMap<Asset, Decimal>,
    tolerance: &ToleranceConfig,
) -> Vec<(Asset, Decimal, Decimal)> {
    let mut out = Vec::with_capacity(local.len().max(exchange.len()));
    let (mut l, mut e) = (local.iter().peekable(), exchange.iter().peekable());
    loop {
        let next = match (l.peek(), e.peek()) {
            (None, None) => break,
            (Some((la, lv)), Some((ea, ev))) => match la.cmp(ea) {
                Ordering::Less => ((*la).clone(), **lv, Decimal::ZERO, true, false),
                Ordering::Greater => ((*ea).clone(), Decimal::ZERO, **ev, false, true),
                Ordering::Equal => ((*la).clone(), **lv, **ev, true, true),
            },
            (Some((la, lv)), None) => ((*la).clone(), **lv, Decimal::ZERO, true, false),
            (None, Some((ea, ev))) => ((*ea).clone(), Decimal::ZERO, **ev, false, true),
        };
        let (asset, lv, ev, took_l, took_e) = next;
        if took_l {
            l.next();
        }
        if took_e {
            e.next();
        }
        if !tolerance.ignore_assets.contains(&asset) {
            out.push((asset, lv, ev));
        }
    }
    out
}

/// Compares one exchange's reported totals with the ledger's expectation for it.
pub fn reconcile(
    local: &BTreeMap<Asset, Decimal>,
    exchange: &BTreeMap<Asset, Decimal>,
    tolerance: &ToleranceConfig,
    severity: &SeverityConfig,
) -> Result<Vec<Finding>, RulesError> {
    reconcile_pairs(&pairs(local, exchange, tolerance), tolerance, severity)
}

/// The findings among already-paired amounts (see [`pairs`]).
pub fn reconcile_pairs(
    pairs: &[(Asset, Decimal, Decimal)],
    tolerance: &ToleranceConfig,
    severity: &SeverityConfig,
) -> Result<Vec<Finding>, RulesError> {
    let mut findings = Vec::new();
    for (asset, l, e) in pairs {
        if let Some(f) = compare(asset, *l, *e, tolerance, severity)? {
            findings.push(f);
        }
    }
    Ok(findings)
}

/// Where a tolerance bound came from; rendered as `default` or `asset:<ASSET>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToleranceSource<'a> {
    /// `[tolerance]`.
    Default,
    /// `[tolerance.assets.<ASSET>]`.
    Asset(&'a Asset),
}

impl std::fmt::Display for ToleranceSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Asset(a) => write!(f, "asset:{a}"),
        }
    }
}

/// The tolerance bound for `asset` at `magnitude`, and where it came from. Allocation
/// free: it runs for every pair of every cycle.
pub fn allowed<'a>(
    tolerance: &'a ToleranceConfig,
    asset: &Asset,
    magnitude: Decimal,
) -> (Decimal, ToleranceSource<'a>) {
    let o = tolerance.assets.get_key_value(asset);
    let absolute = o
        .and_then(|(_, o)| o.absolute)
        .unwrap_or(tolerance.absolute);
    let relative = o
        .and_then(|(_, o)| o.relative)
        .unwrap_or(tolerance.relative);
    // relative ≤ 1, so the product never exceeds `magnitude`; checked anyway.
    let scaled = relative.checked_mul(magnitude).unwrap_or(magnitude);
    let source = match o {
        Some((a, _)) => ToleranceSource::Asset(a),
        None => ToleranceSource::Default,
    };
    (absolute.max(scaled), source)
}

/// Severity of a relative difference against the thresholds. Callers pass the relative
/// as printed ([`round_relative`]), so a report never shows `"relative": "0.05"` beside
/// `high`.
pub fn classify(relative: Decimal, s: &SeverityConfig) -> DiscrepancySeverity {
    if relative >= s.critical {
        DiscrepancySeverity::Critical
    } else if relative >= s.high {
        DiscrepancySeverity::High
    } else if relative >= s.medium {
        DiscrepancySeverity::Medium
    } else {
        DiscrepancySeverity::Low
    }
}

/// A gap measured against what was declared in flight (SPEC §2, expectations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Residual {
    /// `difference − expected`.
    pub residual: Decimal,
    /// Whether |residual| is within the tolerance bound: the gap is explained.
    pub explained: bool,
    /// Severity of the residual on the same magnitude as the difference.
    pub severity: DiscrepancySeverity,
}

/// Measures `difference − expected` with the tolerance bound and magnitude of the gap
/// itself (`allowed`, `magnitude = max(|local|, |exchange|)`), so an expectation never
/// changes what "within tolerance" means. `None` when the residual cannot be held exactly.
pub fn residual(
    difference: Decimal,
    expected: Decimal,
    allowed: Decimal,
    magnitude: Decimal,
    severity: &SeverityConfig,
) -> Option<Residual> {
    let residual = exact_sub(difference, expected)?;
    let relative = if magnitude.is_zero() {
        Decimal::ZERO
    } else {
        residual.abs().checked_div(magnitude)?
    };
    Some(Residual {
        residual,
        explained: residual.abs() <= allowed,
        severity: classify(round_relative(relative), severity),
    })
}

/// `relative` as shown in reports: 10 decimal places, half away from zero.
pub fn round_relative(relative: Decimal) -> Decimal {
    relative.round_dp_with_strategy(10, RoundingStrategy::MidpointAwayFromZero)
}

fn compare(
    asset: &Asset,
    local: Decimal,
    exchange: Decimal,
    tolerance: &ToleranceConfig,
    severity: &SeverityConfig,
) -> Result<Option<Finding>, RulesError> {
    let overflow = || RulesError {
        asset: asset.clone(),
    };
    if local == exchange {
        return Ok(None);
    }
    let difference = exact_sub(exchange, local).ok_or_else(overflow)?;
    let magnitude = local.abs().max(exchange.abs());
    let (bound, source) = allowed(tolerance, asset, magnitude);
    if difference.abs() <= bound {
        return Ok(None);
    }
    // magnitude > 0 here: a zero difference is always within a non-negative bound.
    let relative = difference
        .abs()
        .checked_div(magnitude)
        .ok_or_else(overflow)?;
    let kind = match (local.is_zero(), exchange.is_zero()) {
        (false, true) => DiscrepancyKind::MissingOnExchange,
        (true, false) => DiscrepancyKind::MissingLocally,
        _ => DiscrepancyKind::Mismatch,
    };
    Ok(Some(Finding {
        asset: asset.clone(),
        kind,
        local,
        exchange,
        difference,
        relative,
        // Classified on the value the report prints, not the unrounded one (SPEC §2).
        severity: classify(round_relative(relative), severity),
        allowed: bound,
        tolerance_source: source.to_string(),
        valuation: None,
    }))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn severity() -> SeverityConfig {
        SeverityConfig {
            medium: Decimal::new(1, 3),
            high: Decimal::new(1, 2),
            critical: Decimal::new(5, 2),
            value: Default::default(),
        }
    }

    fn tolerance() -> ToleranceConfig {
        ToleranceConfig {
            absolute: Decimal::new(1, 8),
            relative: Decimal::new(1, 4),
            ignore_assets: Default::default(),
            assets: Default::default(),
        }
    }

    #[test]
    fn severity_is_classified_on_the_printed_relative() {
        let btc = Asset::parse("BTC").unwrap();
        let local = BTreeMap::from([(btc.clone(), Decimal::ONE)]);
        let exchange = BTreeMap::from([(btc, Decimal::from_str("0.95000000001").unwrap())]);
        let found = reconcile(&local, &exchange, &tolerance(), &severity()).unwrap();
        let f = &found[0];
        // Unrounded it is 0.04999999999, just below the critical threshold.
        assert_eq!(f.relative.to_string(), "0.04999999999");
        assert_eq!(round_relative(f.relative).to_string(), "0.0500000000");
        assert_eq!(f.severity, DiscrepancySeverity::Critical);
    }
}
