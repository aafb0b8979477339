//! Domain vocabulary shared by every layer: names, exact amounts, discrepancies.
//!
//! Everything here is parsed once, at the edge: an [`Asset`] is always trimmed and upper
//! case, an amount is always an exact [`Decimal`] (never an `f64`), so the rest of the code
//! cannot compare `btc` with `BTC` or lose a satoshi to binary floating point.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An asset symbol (`BTC`, `USDC`, or a perpetual market such as `ETH-USD`), normalised:
/// trimmed and upper case, so symbols compare case-insensitively. Shared (`Arc<str>`):
/// a cycle over 10 000 pairs clones symbols into reports and snapshots without
/// allocating.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Asset(Arc<str>);

impl Asset {
    /// Normalises a symbol; an empty or blank symbol is an error.
    pub fn parse(raw: &str) -> Result<Self, AmountError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(AmountError::EmptySymbol);
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(AmountError::BadSymbol(truncate_for_message(trimmed)));
        }
        Ok(Self(Arc::from(trimmed.to_uppercase())))
    }

    /// The normalised symbol.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Asset {
    type Error = AmountError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Asset> for String {
    fn from(value: Asset) -> Self {
        value.0.to_string()
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The configured name of one exchange account (`coinbase-main`). Kept apart from
/// [`Asset`] by type so the two can never be swapped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExchangeName(String);

impl ExchangeName {
    /// Wraps a configured name (validated by the config loader).
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExchangeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an amount or symbol could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not of the form `-?digits[.digits]`.
    #[error("'{0}' is not a decimal amount")]
    NotDecimal(String),
    /// More significant digits than a 96-bit decimal holds; rounding would lose money.
    #[error("'{0}' cannot be represented exactly (more than 28 significant digits)")]
    Inexact(String),
    /// An empty symbol.
    #[error("empty asset symbol")]
    EmptySymbol,
    /// A symbol with whitespace or control characters inside.
    #[error("'{0}' is not a valid asset symbol")]
    BadSymbol(String),
}

/// The longest snooze (`--for`) accepted: 30 days. A longer "snooze" is a permanent
/// acknowledgement in disguise, and those should say so (no `--for`).
pub const MAX_SNOOZE_SECS: i64 = 30 * 86_400;

/// Why a humane duration (`90s`, `15m`, `2h`, `1d`) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a positive whole number followed by one unit.
    #[error("'{0}' is not a duration: use a positive whole number and one unit s, m, h or d (90s, 15m, 2h, 1d)")]
    Invalid(String),
    /// Longer than [`MAX_SNOOZE_SECS`] (or too long to count at all).
    #[error("'{0}' is longer than the 30-day maximum")]
    TooLong(String),
}

/// Parses a snooze duration: a positive whole number and exactly one unit (`s`, `m`, `h`,
/// `d`), at most 30 days. No fractions, signs, blanks or compound forms (`1h30m`): what
/// the person typed is exactly what is stored.
pub fn parse_snooze(raw: &str) -> Result<chrono::TimeDelta, DurationError> {
    let invalid = || DurationError::Invalid(truncate_for_message(raw));
    let unit = raw.chars().next_back().ok_or_else(invalid)?;
    let seconds_per_unit: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(invalid()),
    };
    let digits = &raw[..raw.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    // Only digits are left, so a failed parse is an overflow: too long, not malformed.
    let too_long = || DurationError::TooLong(truncate_for_message(raw));
    let n: i64 = digits.parse().map_err(|_| too_long())?;
    if n == 0 {
        return Err(invalid());
    }
    let secs = n.checked_mul(seconds_per_unit).ok_or_else(too_long)?;
    if secs > MAX_SNOOZE_SECS {
        return Err(too_long());
    }
    Ok(chrono::TimeDelta::seconds(secs))
}

/// Parses an amount exactly. Accepts only plain decimal notation (`-12.5`, `0.000`, `100`);
/// rejects exponents, `+`, separators, blanks and anything that would need rounding.
pub fn parse_amount(raw: &str) -> Result<Decimal, AmountError> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !int_part.is_empty()
        && all_digits(int_part)
        && frac_part.is_none_or(|f| !f.is_empty() && all_digits(f));
    if !well_formed {
        return Err(AmountError::NotDecimal(truncate_for_message(raw)));
    }
    // Leading zeros of the integer part and trailing zeros of the fraction are not
    // significant; strip them so "0.0000000000000000000000000000" stays exact.
    let int_trimmed = int_part.trim_start_matches('0');
    let frac_trimmed = frac_part.map(|f| f.trim_end_matches('0')).unwrap_or("");
    let significant = if int_trimmed.is_empty() {
        frac_trimmed.trim_start_matches('0').len()
    } else {
        int_trimmed.len() + frac_trimmed.len()
    };
    if significant > 28 || frac_trimmed.len() > 28 {
        return Err(AmountError::Inexact(truncate_for_message(raw)));
    }
    let canonical = match (int_trimmed.is_empty(), frac_trimmed.is_empty()) {
        (true, true) => "0".to_string(),
        (true, false) => format!("0.{frac_trimmed}"),
        (false, true) => int_trimmed.to_string(),
        (false, false) => format!("{int_trimmed}.{frac_trimmed}"),
    };
    let value = Decimal::from_str_exact(&canonical)
        .map_err(|_| AmountError::Inexact(truncate_for_message(raw)))?;
    Ok(if raw.starts_with('-') { -value } else { value })
}

/// Keeps hostile input from flooding or breaking a one-line error message: at most 40
/// characters, control characters (newlines included) escaped.
pub fn truncate_for_message(raw: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = raw
        .chars()
        .take(MAX)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if raw.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// Stored text (a note, a name, an error) made safe to print on a terminal: every control
/// character — C0 (newline, ESC, …), DEL and C1 — is written as a visible escape (`\n`,
/// `\t`, `\r`, `\x1b`), so a note cannot paint fake rows or send terminal commands.
/// Borrowed when there is nothing to escape.
pub fn escape_controls(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for c in raw.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `a + b`, or `None` when the exact sum does not fit a 96-bit decimal. rust_decimal's
/// `checked_add` returns `None` only on range overflow and silently *rounds* a sum that
/// needs more than 28 significant digits; here rounding is an error. Operands are
/// normalised first so trailing zeros never count as lost precision.
pub fn exact_add(a: Decimal, b: Decimal) -> Option<Decimal> {
    let (a, b) = (a.normalize(), b.normalize());
    let sum = a.checked_add(b)?;
    (sum.scale() >= a.scale().max(b.scale())).then_some(sum)
}

/// `a − b`, exact or `None` (see [`exact_add`]).
pub fn exact_sub(a: Decimal, b: Decimal) -> Option<Decimal> {
    exact_add(a, -b)
}

/// `a × b`, exact or `None`: `None` when the product overflows a 96-bit decimal or would
/// need more than 28 decimal places (rust_decimal's `checked_mul` silently rounds then).
/// Conservative: a product whose rounding would only have dropped trailing zeros is also
/// refused; a money value is never a rounded one.
pub fn exact_mul(a: Decimal, b: Decimal) -> Option<Decimal> {
    let (a, b) = (a.normalize(), b.normalize());
    let product = a.checked_mul(b)?;
    (product.scale() == a.scale() + b.scale()).then_some(product)
}

/// The current time at the millisecond precision recon stores, so a value read back
/// from the database equals the value that was written.
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// Formats a decimal for people and JSON: exact, without trailing zeros, never `-0`.
pub fn format_amount(value: Decimal) -> String {
    let normalised = value.normalize();
    if normalised.is_zero() {
        "0".to_string()
    } else {
        normalised.to_string()
    }
}

/// Pads formatted amounts so their decimal points line up in a right-aligned column:
/// `["1.5", "100", "-0.25"]` → `["  1.5 ", "100   ", " -0.25"]`.
pub fn align_decimals(values: &[String]) -> Vec<String> {
    let split = |v: &str| -> (usize, usize) {
        match v.find('.') {
            Some(p) => (p, v.len() - p),
            None => (v.len(), 0),
        }
    };
    let int_w = values.iter().map(|v| split(v).0).max().unwrap_or(0);
    let frac_w = values.iter().map(|v| split(v).1).max().unwrap_or(0);
    values
        .iter()
        .map(|v| {
            let (i, f) = split(v);
            format!("{}{}{}", " ".repeat(int_w - i), v, " ".repeat(frac_w - f))
        })
        .collect()
}

/// One asset's holding on one exchange, as reported: total = available + hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The asset (or perpetual market) held.
    pub asset: Asset,
    /// Spendable part.
    pub available: Decimal,
    /// Part locked by open orders or pending transfers.
    pub hold: Decimal,
}

impl Balance {
    /// The amount reconciled against the ledger, or `None` when the exact sum does not
    /// fit a 96-bit decimal (never a panic, never a rounded total).
    pub fn total(&self) -> Option<Decimal> {
        exact_add(self.available, self.hold)
    }
}

/// What kind of gap a discrepancy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// Both sides hold the asset, in different amounts.
    Mismatch,
    /// The ledger expects the asset; the exchange reports none.
    MissingOnExchange,
    /// The exchange reports the asset; the ledger expects none.
    MissingLocally,
}

impl DiscrepancyKind {
    /// The snake_case word used in JSON, the store and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mismatch => "mismatch",
            Self::MissingOnExchange => "missing_on_exchange",
            Self::MissingLocally => "missing_locally",
        }
    }
}

impl FromStr for DiscrepancyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mismatch" => Ok(Self::Mismatch),
            "missing_on_exchange" => Ok(Self::MissingOnExchange),
            "missing_locally" => Ok(Self::MissingLocally),
            other => Err(format!("unknown discrepancy kind '{other}'")),
        }
    }
}

/// How bad a discrepancy is, from its relative size. Ordered: `Low < … < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancySeverity {
    /// Below the `medium` threshold.
    Low,
    /// At or above `[severity] medium`.
    Medium,
    /// At or above `[severity] high`.
    High,
    /// At or above `[severity] critical`; every missing asset outside tolerance.
    Critical,
}

impl DiscrepancySeverity {
    /// All severities, mildest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The lowercase word used in JSON, the store and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// A symbol that reads without colour (the TUI and table output pair it with the word).
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Low => "·",
            Self::Medium => "▲",
            Self::High => "◆",
            Self::Critical => "✖",
        }
    }
}

impl FromStr for DiscrepancySeverity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            other => Err(format!("unknown severity '{other}'")),
        }
    }
}

impl fmt::Display for DiscrepancySeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of a discrepancy: `<exchange>:<ASSET>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DiscrepancyId(String);

impl DiscrepancyId {
    /// Builds the id of the (exchange, asset) pair.
    pub fn new(exchange: &ExchangeName, asset: &Asset) -> Self {
        Self(format!("{exchange}:{asset}"))
    }

    /// Parses `exchange:asset` as typed by a person (`recon ack coinbase-main:btc`); the
    /// asset part is normalised. Exchange names may not contain ':'; the split is at the
    /// last colon so that is never ambiguous.
    pub fn parse(raw: &str) -> Result<(ExchangeName, Asset), String> {
        let (exchange, asset) = raw
            .rsplit_once(':')
            .ok_or_else(|| format!("'{raw}' is not of the form <exchange>:<asset>"))?;
        let exchange = exchange.trim();
        if exchange.is_empty() {
            return Err(format!("'{raw}' names no exchange"));
        }
        let asset = Asset::parse(asset).map_err(|e| format!("'{raw}': {e}"))?;
        Ok((ExchangeName::new(exchange), asset))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DiscrepancyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who acknowledged a discrepancy, when, why, and at what size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The person (or `$USER`).
    pub by: String,
    /// Free text.
    pub note: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The difference at the time; the ack lapses if the gap grows beyond it.
    pub difference: Decimal,
    /// A snooze (`--for`): the first cycle finishing at or after this lapses the ack.
    /// `None`: it holds until the gap moves or resolves.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The money value of one discrepancy in the quote currency (SPEC §2, §3). Present only
/// with `[valuation]`; computed every cycle from the price book, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Valuation {
    /// Price of one unit in the quote currency (of the base asset for a perpetual market
    /// such as `ETH-USD`; exactly 1 for a pegged asset). `None` without a fresh price.
    pub price: Option<Decimal>,
    /// When that price was fetched (the cache time); `None` for a pegged asset, whose
    /// price is a definition, not an observation, and when unpriced.
    pub price_as_of: Option<DateTime<Utc>>,
    /// `|difference| × price`, exact; `None` when unpriced or not exactly representable.
    pub value: Option<Decimal>,
    /// Severity of the value of the counted gap against `[severity.value]`: of
    /// `|residual| × price`, which is `value` unless expectations explain part of the gap.
    /// `None` when there is no value.
    pub value_severity: Option<DiscrepancySeverity>,
    /// Why there is no value: a stale price, a failed source, an unknown asset, a value
    /// that does not fit. One line.
    pub price_error: Option<String>,
}

/// One (exchange, asset) pair outside tolerance, with its lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceDiscrepancy {
    /// `<exchange>:<ASSET>`.
    pub id: DiscrepancyId,
    /// The exchange account.
    pub exchange: ExchangeName,
    /// The asset.
    pub asset: Asset,
    /// Mismatch or missing on one side.
    pub kind: DiscrepancyKind,
    /// What the ledger says.
    pub local: Decimal,
    /// What the exchange says.
    pub exchange_amount: Decimal,
    /// `exchange − local`.
    pub difference: Decimal,
    /// `|difference| / max(|local|, |exchange|)`, unrounded.
    pub relative: Decimal,
    /// From `relative` against the configured thresholds.
    pub severity: DiscrepancySeverity,
    /// The tolerance bound that was exceeded.
    pub allowed: Decimal,
    /// `default` or `asset:<ASSET>`.
    pub tolerance_source: String,
    /// When this discrepancy was first seen (in its current open episode).
    pub opened_at: DateTime<Utc>,
    /// Present while acknowledged.
    pub acknowledgement: Option<Acknowledgement>,
    /// The active expectations on this id (movements in flight), oldest first. Not stored
    /// with the discrepancy: attached from the expectations table every cycle.
    pub expected: Vec<Expectation>,
    /// The money value, with `[valuation]` (`None` without). Not stored: valued from the
    /// price book every cycle.
    pub valuation: Option<Valuation>,
}

impl BalanceDiscrepancy {
    /// Acknowledged discrepancies stay visible but do not raise status or exit code.
    pub fn is_acknowledged(&self) -> bool {
        self.acknowledgement.is_some()
    }

    /// The sum of the active expectations (0 without any). `None` only if that sum, or the
    /// residual, cannot be held exactly; such a gap is never treated as explained.
    fn expected_exact(&self) -> Option<(Decimal, Decimal)> {
        let expected = self
            .expected
            .iter()
            .try_fold(Decimal::ZERO, |sum, e| sum.checked_add(e.difference))?;
        let residual = exact_sub(self.difference, expected)?;
        Some((expected, residual))
    }

    /// The sum of the active expectations on this id (`0` without any).
    pub fn expected_total(&self) -> Decimal {
        self.expected_exact().map_or(Decimal::ZERO, |(e, _)| e)
    }

    /// `difference − expected`: the part of the gap nobody declared.
    pub fn residual(&self) -> Decimal {
        self.expected_exact().map_or(self.difference, |(_, r)| r)
    }

    /// Open, acknowledged or explained (SPEC §2): explained when active expectations bring
    /// the residual within the tolerance bound; else acknowledged while an ack holds.
    pub fn state(&self) -> DiscrepancyState {
        let explained = !self.expected.is_empty()
            && self
                .expected_exact()
                .is_some_and(|(_, r)| r.abs() <= self.allowed);
        if explained {
            DiscrepancyState::Explained
        } else if self.acknowledgement.is_some() {
            DiscrepancyState::Acknowledged
        } else {
            DiscrepancyState::Open
        }
    }

    /// Whether it counts for the status, the exit code and alerts: only open ones do.
    pub fn is_counted(&self) -> bool {
        self.state() == DiscrepancyState::Open
    }
}

/// Where a discrepancy stands for the people watching it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyState {
    /// Counted: raises the status, the exit code and alerts.
    Open,
    /// Someone has seen it (possibly until a snooze deadline).
    Acknowledged,
    /// A declared movement in flight accounts for it.
    Explained,
}

impl DiscrepancyState {
    /// The word used in reports and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Explained => "explained",
        }
    }

    /// A symbol, so the state reads without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Open => "●",
            Self::Acknowledged => "✓",
            Self::Explained => "⇄",
        }
    }
}

/// How long an expectation holds when no duration is given.
pub const DEFAULT_EXPECTATION_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// A declared movement in flight (`recon expect`): the exchange is expected to differ
/// from the ledger by `difference` (same sign as a discrepancy's) until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Its number (`recon expect cancel <N>`).
    pub id: i64,
    /// The exchange.
    pub exchange: ExchangeName,
    /// The asset.
    pub asset: Asset,
    /// The expected `exchange − local`.
    pub difference: Decimal,
    /// Who declared it.
    pub by: String,
    /// Free text (e.g. the transaction hash).
    pub note: String,
    /// When it was declared.
    pub created_at: DateTime<Utc>,
    /// When it stops explaining anything.
    pub expires_at: DateTime<Utc>,
    /// When it first met a gap on its id (explained it or left a residual); from then on
    /// the gap resolving settles it. `None` while it waits for the gap to appear.
    pub engaged_at: Option<DateTime<Utc>>,
}

impl Expectation {
    /// `<exchange>:<ASSET>`.
    pub fn discrepancy_id(&self) -> DiscrepancyId {
        DiscrepancyId::new(&self.exchange, &self.asset)
    }
}

/// Overall outcome of a cycle (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconciliationStatus {
    /// Every exchange fetched; no unacknowledged discrepancy.
    Reconciled,
    /// Every exchange fetched; at least one unacknowledged discrepancy.
    Discrepancies,
    /// Some exchanges failed; the others were reconciled.
    Partial,
    /// The ledger could not be read, or no exchange could be fetched.
    Failed,
}

impl ReconciliationStatus {
    /// The word used in JSON, the store and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reconciled => "reconciled",
            Self::Discrepancies => "discrepancies",
            Self::Partial => "partial",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for ReconciliationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reconciled" => Ok(Self::Reconciled),
            "discrepancies" => Ok(Self::Discrepancies),
            "partial" => Ok(Self::Partial),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown status '{other}'")),
        }
    }
}

impl fmt::Display for ReconciliationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_amount_accepts_plain_decimals_exactly() {
        assert_eq!(parse_amount("1.50000000").unwrap().to_string(), "1.5");
        assert_eq!(
            parse_amount("-5768.816478").unwrap().to_string(),
            "-5768.816478"
        );
        assert_eq!(parse_amount("0").unwrap(), Decimal::ZERO);
        assert_eq!(
            parse_amount("0.0000000000000000000000000000000").unwrap(),
            Decimal::ZERO
        );
        assert_eq!(
            parse_amount("123456789.12345678").unwrap().to_string(),
            "123456789.12345678"
        );
        assert_eq!(
            parse_amount("0.000000000000000001").unwrap().to_string(),
            "0.000000000000000001"
        );
    }

    #[test]
    fn parse_amount_rejects_what_it_cannot_hold_exactly() {
        for bad in [
            "", "-", ".5", "5.", "1e5", "+1", " 1", "1,000", "N/A", "1.2.3", "--1",
        ] {
            assert!(
                matches!(parse_amount(bad), Err(AmountError::NotDecimal(_))),
                "{bad}"
            );
        }
        // 31 significant digits.
        assert_eq!(
            parse_amount("1234567890.123456789012345678901"),
            Err(AmountError::Inexact(
                "1234567890.123456789012345678901".into()
            ))
        );
        assert!(matches!(
            parse_amount("99999999999999999999999999999"),
            Err(AmountError::Inexact(_))
        ));
    }

    #[test]
    fn format_amount_is_exact_and_never_negative_zero() {
        assert_eq!(format_amount(parse_amount("1.50000000").unwrap()), "1.5");
        assert_eq!(format_amount(parse_amount("-0.000").unwrap()), "0");
        assert_eq!(format_amount(parse_amount("100").unwrap()), "100");
    }

    #[test]
    fn exact_arithmetic_refuses_to_round() {
        let big = parse_amount("99999999999999999999.12345678").unwrap();
        let tiny = parse_amount("0.0000000001").unwrap();
        assert_eq!(exact_add(big, tiny), None);
        let a = parse_amount("1.123456789012345678901234567").unwrap();
        assert_eq!(exact_sub(parse_amount("100").unwrap(), a), None);
        assert_eq!(
            exact_sub(parse_amount("100").unwrap(), parse_amount("1.5").unwrap()),
            Some(parse_amount("98.5").unwrap())
        );
        // Trailing zeros are not precision.
        let padded = parse_amount("1.0000000000000000000000000000").unwrap();
        assert_eq!(
            exact_add(padded, parse_amount("10").unwrap()),
            Some(parse_amount("11").unwrap())
        );
    }

    #[test]
    fn balance_total_is_checked_not_a_panic() {
        let b = |available: Decimal, hold: Decimal| Balance {
            asset: Asset::parse("BTC").unwrap(),
            available,
            hold,
        };
        assert_eq!(
            b(Decimal::new(15, 1), Decimal::new(25, 2)).total(),
            Some(Decimal::new(175, 2))
        );
        assert_eq!(b(Decimal::MAX, Decimal::ONE).total(), None);
        // Would need 29 significant digits: refused, not rounded.
        let fine = Decimal::from_str_exact("0.1234567890123456789012345678").unwrap();
        assert_eq!(b(Decimal::TEN, fine).total(), None);
    }

    #[test]
    fn align_decimals_lines_up_points() {
        let v: Vec<String> = ["1.5", "100", "-0.25"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(align_decimals(&v), vec!["  1.5 ", "100   ", " -0.25"]);
    }

    #[test]
    fn assets_normalise_and_ids_parse() {
        assert_eq!(Asset::parse(" btc ").unwrap().as_str(), "BTC");
        assert!(Asset::parse("  ").is_err());
        let (ex, asset) = DiscrepancyId::parse("coinbase-main:usdc").unwrap();
        assert_eq!((ex.as_str(), asset.as_str()), ("coinbase-main", "USDC"));
        assert!(DiscrepancyId::parse("nocolon").is_err());
        assert!(DiscrepancyId::parse(":BTC").is_err());
    }

    #[test]
    fn parse_snooze_reads_one_unit_and_a_positive_whole_number() {
        for (raw, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("2h", 7_200),
            ("1d", 86_400),
            ("30d", MAX_SNOOZE_SECS),
            ("720h", MAX_SNOOZE_SECS),
            ("007m", 420),
        ] {
            assert_eq!(parse_snooze(raw).unwrap().num_seconds(), secs, "{raw}");
        }
    }

    #[test]
    fn parse_snooze_rejects_zero_signs_fractions_missing_or_unknown_units() {
        for bad in [
            "0s", "00m", "10", "1w", "-5m", "+5m", "1.5h", "", "m", " 5m", "5m ", "1h30m", "5M",
            "5\u{e9}", "\u{e9}",
        ] {
            assert!(
                matches!(parse_snooze(bad), Err(DurationError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_snooze("1w").unwrap_err().to_string(),
            "'1w' is not a duration: use a positive whole number and one unit s, m, h or d (90s, 15m, 2h, 1d)"
        );
    }

    #[test]
    fn parse_snooze_rejects_more_than_30_days_and_overflow() {
        for bad in [
            "31d",
            "721h",
            "43201m",
            "2592001s",
            "99999999999999999999d",
            "9223372036854775807d",
        ] {
            assert!(
                matches!(parse_snooze(bad), Err(DurationError::TooLong(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_snooze("31d").unwrap_err().to_string(),
            "'31d' is longer than the 30-day maximum"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_snooze_is_exact_up_to_the_maximum_and_refuses_beyond(
            n in 0i64..5_000_000,
            unit in proptest::sample::select(vec![('s', 1i64), ('m', 60), ('h', 3_600), ('d', 86_400)]),
        ) {
            let raw = format!("{n}{}", unit.0);
            let secs = n * unit.1;
            match parse_snooze(&raw) {
                Ok(d) => proptest::prop_assert!(n > 0 && secs <= MAX_SNOOZE_SECS && d.num_seconds() == secs),
                Err(DurationError::Invalid(_)) => proptest::prop_assert_eq!(n, 0),
                Err(DurationError::TooLong(_)) => proptest::prop_assert!(secs > MAX_SNOOZE_SECS),
            }
        }

        #[test]
        fn parse_snooze_never_panics_and_accepts_only_digits_then_a_unit(raw in "\\PC{0,12}") {
            if parse_snooze(&raw).is_ok() {
                let (digits, unit) = raw.split_at(raw.len() - 1);
                proptest::prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()) && !digits.is_empty());
                proptest::prop_assert!(["s", "m", "h", "d"].contains(&unit));
            }
        }
    }
}
