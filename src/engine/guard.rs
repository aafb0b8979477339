//! The acknowledgement guard (SPEC §2): an acknowledgement records the gap the person
//! *saw*. The console passes the row it showed (its episode and difference) and
//! `recon ack --difference D` passes D; the store runs [`check`] inside its write
//! transaction, so a cycle that commits a larger gap between `a` and Enter, or a
//! discrepancy that resolved and re-opened meanwhile, is refused with the current figure
//! instead of being acknowledged unseen.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::rules;
use crate::config::ToleranceConfig;
use crate::domain::{format_amount, BalanceDiscrepancy};

/// What the person acknowledging looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenGap {
    /// The difference shown (exchange − local).
    pub difference: Decimal,
    /// When the episode shown opened; `None` when the caller cannot know it (the shell),
    /// which accepts the open episode.
    pub opened_at: Option<DateTime<Utc>>,
}

/// Accepts `current` (the open discrepancy as stored) when it is the episode that was
/// seen, with the same sign and an |difference| within tolerance of the one seen (the
/// engine's tolerance rules at the current amounts). Otherwise the one-line refusal,
/// carrying the current figure: "coinbase-main:BTC is now -3, you saw -0.1".
pub fn check(
    seen: &SeenGap,
    current: &BalanceDiscrepancy,
    tolerance: &ToleranceConfig,
) -> Result<(), String> {
    let (now, saw) = (
        format_amount(current.difference),
        format_amount(seen.difference),
    );
    if seen.opened_at.is_some_and(|at| at != current.opened_at) {
        return Err(format!(
            "{} resolved and re-opened since you saw it: it is now {now}, you saw {saw}",
            current.id
        ));
    }
    let flipped = current.difference.is_sign_negative() != seen.difference.is_sign_negative()
        && !current.difference.is_zero()
        && !seen.difference.is_zero();
    let magnitude = current.local.abs().max(current.exchange_amount.abs());
    let (allowed, _) = rules::allowed(tolerance, &current.asset, magnitude);
    // Differences of two 96-bit values; an overflow is certainly "moved".
    let moved = current
        .difference
        .abs()
        .checked_sub(seen.difference.abs())
        .is_none_or(|d| d.abs() > allowed);
    if flipped || moved {
        return Err(format!("{} is now {now}, you saw {saw}", current.id));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Asset, DiscrepancyId, DiscrepancyKind, DiscrepancySeverity, ExchangeName};
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn tolerance() -> ToleranceConfig {
        ToleranceConfig {
            absolute: dec("0.00000001"),
            relative: dec("0.0001"),
            ignore_assets: Default::default(),
            assets: Default::default(),
        }
    }

    fn stored(local: &str, exchange: &str) -> BalanceDiscrepancy {
        let (e, a) = (ExchangeName::new("x"), Asset::parse("BTC").unwrap());
        BalanceDiscrepancy {
            id: DiscrepancyId::new(&e, &a),
            exchange: e,
            asset: a,
            kind: DiscrepancyKind::Mismatch,
            local: dec(local),
            exchange_amount: dec(exchange),
            difference: dec(exchange) - dec(local),
            relative: Decimal::ZERO,
            severity: DiscrepancySeverity::Critical,
            allowed: Decimal::ZERO,
            tolerance_source: "default".into(),
            opened_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            acknowledgement: None,
            expected: Vec::new(),
            valuation: None,
        }
    }

    fn seen(difference: &str) -> SeenGap {
        SeenGap {
            difference: dec(difference),
            opened_at: Some(DateTime::from_timestamp(1_700_000_000, 0).unwrap()),
        }
    }

    #[test]
    fn the_gap_seen_is_accepted_within_tolerance_either_way() {
        // 1.5 vs 1.4 allows 0.00015.
        assert_eq!(
            check(&seen("-0.1"), &stored("1.5", "1.4"), &tolerance()),
            Ok(())
        );
        assert_eq!(
            check(&seen("-0.1"), &stored("1.5", "1.39985"), &tolerance()),
            Ok(())
        );
        assert_eq!(
            check(&seen("-0.1"), &stored("1.5", "1.40015"), &tolerance()),
            Ok(())
        );
    }

    #[test]
    fn a_gap_that_moved_beyond_tolerance_is_refused_with_the_current_figure() {
        assert_eq!(
            check(&seen("-0.1"), &stored("4.4", "1.4"), &tolerance()),
            Err("x:BTC is now -3, you saw -0.1".into())
        );
        assert_eq!(
            check(&seen("-0.1"), &stored("1.5", "1.3998"), &tolerance()),
            Err("x:BTC is now -0.1002, you saw -0.1".into())
        );
        // Shrunk beyond tolerance: what was seen is not what is there either.
        assert_eq!(
            check(&seen("-3"), &stored("1.5", "1.4"), &tolerance()),
            Err("x:BTC is now -0.1, you saw -3".into())
        );
    }

    #[test]
    fn a_gap_that_changed_sign_is_refused_even_at_the_same_size() {
        assert_eq!(
            check(&seen("-0.1"), &stored("1.3", "1.4"), &tolerance()),
            Err("x:BTC is now 0.1, you saw -0.1".into())
        );
    }

    #[test]
    fn another_episode_is_refused_and_an_unknown_one_is_not() {
        let mut d = stored("1.5", "1.4");
        d.opened_at += chrono::TimeDelta::milliseconds(1);
        assert_eq!(
            check(&seen("-0.1"), &d, &tolerance()),
            Err(
                "x:BTC resolved and re-opened since you saw it: it is now -0.1, you saw -0.1"
                    .into()
            )
        );
        let from_shell = SeenGap {
            difference: dec("-0.1"),
            opened_at: None,
        };
        assert_eq!(check(&from_shell, &d, &tolerance()), Ok(()));
    }
}
