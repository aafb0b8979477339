//! The reconciliation rules of SPEC §2 as one pure function: ledger side, exchange side,
//! tolerances → findings. No I/O, no clock, no async; property tests aim here.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::{Decimal, RoundingStrategy};

use crate::config::{SeverityConfig, ToleranceConfig};
use crate::domain::{Asset, DiscrepancyKind, DiscrepancySeverity};

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
    /// From `relative`.
    pub severity: DiscrepancySeverity,
    /// The bound that was exceeded.
    pub allowed: Decimal,
    /// `default` or `asset:<ASSET>`.
    pub tolerance_source: String,
}

/// A pair that cannot be compared because the arithmetic would overflow a 96-bit decimal
/// (both sides near 7.9·10²⁸ with opposite signs). Reported as an exchange error rather
/// than guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{asset}: difference overflows a 96-bit decimal")]
pub struct RulesError {
    /// The asset.
    pub asset: Asset,
}

/// Every asset of either side that is not ignored, with both amounts (0 when absent).
/// Zero and absent are the same thing, so a pair of zeros is simply within tolerance.
pub fn pairs(
    local: &BTreeMap<Asset, Decimal>,
    exchange: &BTreeMap<Asset, Decimal>,
    tolerance: &ToleranceConfig,
) -> Vec<(Asset, Decimal, Decimal)> {
    let assets: BTreeSet<&Asset> = local.keys().chain(exchange.keys()).collect();
    assets
        .into_iter()
        .filter(|a| !tolerance.ignore_assets.contains(*a))
        .map(|a| {
            (
                a.clone(),
                local.get(a).copied().unwrap_or_default(),
                exchange.get(a).copied().unwrap_or_default(),
            )
        })
        .collect()
}

/// Compares one exchange's reported totals with the ledger's expectation for it.
pub fn reconcile(
    local: &BTreeMap<Asset, Decimal>,
    exchange: &BTreeMap<Asset, Decimal>,
    tolerance: &ToleranceConfig,
    severity: &SeverityConfig,
) -> Result<Vec<Finding>, RulesError> {
    let mut findings = Vec::new();
    for (asset, l, e) in pairs(local, exchange, tolerance) {
        if let Some(f) = compare(&asset, l, e, tolerance, severity)? {
            findings.push(f);
        }
    }
    Ok(findings)
}

/// The tolerance bound for `asset` at `magnitude`, and where it came from.
pub fn allowed(
    tolerance: &ToleranceConfig,
    asset: &Asset,
    magnitude: Decimal,
) -> (Decimal, String) {
    let o = tolerance.assets.get(asset);
    let absolute = o.and_then(|o| o.absolute).unwrap_or(tolerance.absolute);
    let relative = o.and_then(|o| o.relative).unwrap_or(tolerance.relative);
    // relative ≤ 1, so the product never exceeds `magnitude`; checked anyway.
    let scaled = relative.checked_mul(magnitude).unwrap_or(magnitude);
    let source = match o {
        Some(_) => format!("asset:{asset}"),
        None => "default".to_string(),
    };
    (absolute.max(scaled), source)
}

/// Severity of a relative difference against the thresholds.
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
    let difference = exchange.checked_sub(local).ok_or_else(overflow)?;
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
        severity: classify(relative, severity),
        allowed: bound,
        tolerance_source: source,
    }))
}
