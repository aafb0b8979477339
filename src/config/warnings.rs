//! Settings that are valid but work against each other: reported as one-line warnings at
//! start (the caller decides where they go: stderr, or the log while the TUI owns the
//! terminal), never as errors, since the engine still behaves safely with them.

use std::time::Duration;

use super::validate::defaults;
use super::TradingConfig;
use crate::exchanges::resilience::backoff_cap;

impl TradingConfig {
    /// One line per questionable combination of settings, in a fixed order; empty when
    /// there is nothing to say.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(w) = self.retry_budget_warning() {
            out.push(w);
        }
        out
    }

    /// Every attempt of a fetch plus the longest backoff between them must fit the cycle
    /// budget; otherwise the retry loop stops early (it never runs past the cycle), so the
    /// configured `max_attempts` is a promise the cycle cannot keep for a hanging exchange.
    ///
    /// The shipped defaults (1000 ms × 3 in a 2000 ms cycle) deliberately trade the third
    /// attempt of a hanging exchange for a bounded cycle; warning about them on every run
    /// would be noise nobody can act on, so only settings someone chose are checked.
    fn retry_budget_warning(&self) -> Option<String> {
        let fetch = self.reconciliation.fetch_timeout;
        let cycle = self.reconciliation.cycle_timeout;
        let r = &self.retry;
        let (attempts, base, max) = defaults::RETRY;
        let all_defaults = fetch.as_millis() == u128::from(defaults::FETCH_TIMEOUT_MS)
            && cycle.as_millis() == u128::from(defaults::CYCLE_TIMEOUT_MS)
            && r.max_attempts == attempts
            && r.base_delay.as_millis() == u128::from(base)
            && r.max_delay.as_millis() == u128::from(max);
        if all_defaults {
            return None;
        }
        let attempts = r.max_attempts.max(1);
        let backoff: Duration = (1..attempts)
            .map(|retry| backoff_cap(r.base_delay, r.max_delay, retry))
            .fold(Duration::ZERO, Duration::saturating_add);
        let needed = fetch.saturating_mul(attempts).saturating_add(backoff);
        (needed > cycle).then(|| {
            format!(
                "reconciliation.fetch_timeout_ms ({} ms) × retry.max_attempts ({attempts}) plus up to {} ms of backoff \
                 (retry.base_delay_ms {}, retry.max_delay_ms {}) is {} ms, more than reconciliation.cycle_timeout_ms ({} ms): \
                 retries that do not fit the cycle are not made",
                fetch.as_millis(),
                backoff.as_millis(),
                r.base_delay.as_millis(),
                r.max_delay.as_millis(),
                needed.as_millis(),
                cycle.as_millis(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const EX: &str =
        "[[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"1\" }\n";

    fn cfg(text: &str) -> TradingConfig {
        let text = format!("{text}\n{EX}");
        TradingConfig::from_toml_str(&text, Path::new("c.toml"), Path::new("."), Vec::new())
            .unwrap()
    }

    #[test]
    fn the_defaults_are_not_warned_about_but_chosen_settings_that_cannot_fit_are() {
        assert_eq!(cfg("").warnings(), Vec::<String>::new());
        assert_eq!(
            cfg("[reconciliation]\nfetch_timeout_ms = 1500\n").warnings(),
            vec![
                "reconciliation.fetch_timeout_ms (1500 ms) × retry.max_attempts (3) plus up to 300 ms of backoff \
                 (retry.base_delay_ms 100, retry.max_delay_ms 2000) is 4800 ms, more than \
                 reconciliation.cycle_timeout_ms (2000 ms): retries that do not fit the cycle are not made"
                    .to_string()
            ]
        );
    }

    #[test]
    fn a_retry_budget_that_fits_the_cycle_gives_no_warning() {
        // 500 × 3 + (100 + 200) = 1800 ≤ 2000.
        let c = cfg("[reconciliation]\nfetch_timeout_ms = 500\n");
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        // Exactly fitting is fine: 600 × 3 + 200 = 2000 (backoff capped at max_delay 100).
        let c = cfg(
            "[reconciliation]\nfetch_timeout_ms = 600\n[retry]\nbase_delay_ms = 100\nmax_delay_ms = 100\n",
        );
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    }

    #[test]
    fn backoff_alone_can_break_the_budget() {
        // 100 × 4 + (1000 + 1000 + 1000) = 3400 > 2000 with max_delay capping each wait.
        let c = cfg(
            "[reconciliation]\nfetch_timeout_ms = 100\n[retry]\nmax_attempts = 4\nbase_delay_ms = 1000\nmax_delay_ms = 1000\n",
        );
        let w = c.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("plus up to 3000 ms of backoff"), "{}", w[0]);
        assert!(w[0].contains("is 3400 ms"), "{}", w[0]);
    }
}
