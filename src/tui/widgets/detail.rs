//! The detail overlay (`Enter`): one row in full, between the header and the footer.
//! Every line is wrapped at word boundaries to the overlay's width (a word longer than a
//! whole line is broken, never cut), so nothing that matters — least of all an amount —
//! is lost at 80×24; what does not fit in height scrolls.
//!
//! ```text
//! ┌ Detail · coinbase-main:BTC ───────────────────────────────────────┐
//! │ ✖ CRITICAL  coinbase-main:BTC  mismatch  ● open                   │
//! │ Why it fired                                                      │
//! │   difference      -0.1            relative  0.0666666667 (6.67%)  │
//! │ …                                                                 │
//! │ History of the difference (12 snapshots)                          │
//! │   ▁▂▂▅█▇▇▄                                                        │
//! │ Audit (newest first)                                              │
//! └ Esc close · ↑↓ PgUp PgDn scroll ──────────────────── lines 1–19/40 ┘
//! ```

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::{exchange_status_label, severity_label};
use crate::domain::{align_decimals, escape_controls, format_amount, BalanceDiscrepancy};
use crate::engine::rules::round_relative;
use crate::engine::ExchangeReport;
use crate::store::{AuditEntry, DifferencePoint};
use crate::tui::app::App;
use crate::tui::audit_pane::AuditLine;
use crate::tui::detail::{Detail, History, Load, Target};
use crate::tui::rows::age;
use crate::tui::theme::Theme;

/// Columns before a field's value.
const LABEL_W: usize = 18;
/// Sparkline levels, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Where the overlay goes: every row between the two header lines and the footer (which
/// shows the view's keys), the full width.
pub fn overlay_area(area: Rect) -> Rect {
    Rect::new(
        area.x,
        area.y + 2.min(area.height),
        area.width,
        area.height.saturating_sub(3),
    )
}

/// The text area inside the overlay's border.
fn body(area: Rect) -> Rect {
    Block::bordered().inner(overlay_area(area))
}

/// (lines of content, lines shown at once) at the app's terminal size.
pub fn extent(app: &App) -> (usize, usize) {
    let b = body(Rect::new(0, 0, app.size.0, app.size.1));
    let total = app
        .detail
        .open
        .as_ref()
        .map_or(0, |d| content(app, d, usize::from(b.width)).lines.len());
    (total, usize::from(b.height))
}

/// The line where a discrepancy's audit entries start (a new page is scrolled there).
pub fn events_start(app: &App) -> usize {
    let b = body(Rect::new(0, 0, app.size.0, app.size.1));
    app.detail
        .open
        .as_ref()
        .map_or(0, |d| content(app, d, usize::from(b.width)).events_at)
}

/// Draws the overlay, if a view is open.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let Some(detail) = &app.detail.open else {
        return;
    };
    let theme = app.theme();
    let popup = overlay_area(area);
    let inner = Block::bordered().inner(popup);
    let built = content(app, detail, usize::from(inner.width));
    let height = usize::from(inner.height);
    let max = built.lines.len().saturating_sub(height);
    let scroll = detail.scroll.min(max);
    let shown: Vec<Line> = built.lines.into_iter().skip(scroll).take(height).collect();
    let total = shown.len() + max;
    // The keys are in the footer below; the border says where in the view this is.
    let position = if max == 0 {
        String::new()
    } else {
        format!(" lines {}–{} of {total} ", scroll + 1, scroll + shown.len())
    };
    let block = Block::bordered()
        .border_style(theme.block(true))
        .title(Span::styled(
            format!(" {} ", title(detail)),
            theme.base.title,
        ))
        .title_bottom(Line::styled(position, theme.base.muted).right_aligned())
        .style(theme.base.text);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(Paragraph::new(shown), inner);
}

fn title(detail: &Detail) -> String {
    match &detail.target {
        Target::Discrepancy { discrepancy, .. } => format!("Discrepancy {}", discrepancy.id),
        Target::Exchange { exchange, .. } => format!("Exchange {}", exchange.name),
        Target::Audit(e) => format!("Audit entry #{}", e.seq),
    }
}

/// The view's lines at `width` columns, and where its audit entries start.
struct Content {
    lines: Vec<Line<'static>>,
    events_at: usize,
}

fn content(app: &App, detail: &Detail, width: usize) -> Content {
    let mut out = Out {
        lines: Vec::new(),
        width: width.max(1),
        theme: app.theme(),
    };
    let mut events_at = 0;
    match &detail.target {
        Target::Discrepancy {
            discrepancy,
            current,
        } => {
            discrepancy_lines(&mut out, app, discrepancy, *current);
            if let Some(h) = &detail.history {
                events_at = history_lines(&mut out, app, discrepancy, h);
            }
        }
        Target::Exchange {
            exchange,
            finished_at,
            current,
        } => exchange_lines(&mut out, app, exchange, *finished_at, *current),
        Target::Audit(entry) => audit_lines(&mut out, entry),
    }
    Content {
        lines: out.lines,
        events_at,
    }
}

/// Lines wrapped to a width, in the theme's styles.
struct Out<'t> {
    lines: Vec<Line<'static>>,
    width: usize,
    theme: &'t Theme,
}

impl Out<'_> {
    fn heading(&mut self, text: impl Into<String>) {
        let style = self.theme.base.title;
        self.text(&text.into(), 1, style);
    }

    /// `text` wrapped at `indent` columns in.
    fn text(&mut self, text: &str, indent: usize, style: Style) {
        let room = self.width.saturating_sub(indent).max(1);
        for piece in wrap(text, room) {
            self.lines.push(Line::from(vec![
                Span::raw(" ".repeat(indent.min(self.width.saturating_sub(1)))),
                Span::styled(piece, style),
            ]));
        }
    }

    /// `label` muted in its column, then `value` wrapped under itself.
    fn field(&mut self, label: &str, value: &str, style: Style) {
        let indent = if self.width >= LABEL_W + 20 {
            LABEL_W
        } else {
            4
        };
        let room = self.width.saturating_sub(indent).max(1);
        let pieces = wrap(value, room);
        if indent < LABEL_W {
            // Too narrow for a column: the label on its own line.
            self.text(label, 2, self.theme.base.muted);
        }
        for (i, piece) in pieces.into_iter().enumerate() {
            let lead = if i == 0 && indent == LABEL_W {
                Span::styled(
                    format!("  {label:<w$}", w = LABEL_W - 2),
                    self.theme.base.muted,
                )
            } else {
                Span::raw(" ".repeat(indent))
            };
            self.lines
                .push(Line::from(vec![lead, Span::styled(piece, style)]));
        }
    }
}

/// Splits `text` into lines of at most `width` columns at spaces; a word longer than a
/// line is broken (never dropped). Existing line breaks are kept.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let cols = |s: &str| Span::raw(s).width();
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ') {
            let sep = usize::from(!line.is_empty());
            if cols(&line) + sep + cols(word) <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(word);
                continue;
            }
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            // A word wider than a whole line: break it where it must.
            let mut rest = word;
            while cols(rest) > width {
                let mut used = 0;
                let mut cut = 0;
                for (i, c) in rest.char_indices() {
                    let w = cols(c.encode_utf8(&mut [0; 4]));
                    if used + w > width {
                        break;
                    }
                    used += w;
                    cut = i + c.len_utf8();
                }
                if cut == 0 {
                    // Not even one character fits: take it anyway, so this ends.
                    cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
                }
                out.push(rest[..cut].to_string());
                rest = &rest[cut..];
            }
            line.push_str(rest);
        }
        out.push(line);
    }
    out
}

fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    let rel = if secs >= 0 {
        format!("{} ago", age(secs))
    } else {
        format!("in {}", age(-secs))
    };
    format!("{} ({rel})", at.format("%Y-%m-%d %H:%M:%S UTC"))
}

fn discrepancy_lines(out: &mut Out, app: &App, d: &BalanceDiscrepancy, current: bool) {
    let theme = out.theme;
    let state = d.state();
    let muted = theme.base.muted;
    let text = theme.base.text;
    out.lines.push(Line::from(vec![
        Span::raw(" "),
        Span::styled(severity_label(d.severity), theme.severity(d.severity)),
        Span::styled(format!("  {}  ", d.id), theme.base.title),
        Span::styled(d.kind.as_str().to_string(), muted),
        Span::styled(format!("  {} {}", state.symbol(), state.as_str()), text),
    ]));
    if !current {
        out.text(
            "not in the latest report (resolved, or its exchange not compared): figures as last shown",
            1,
            theme.base.error,
        );
    }
    out.heading("Why it fired");
    let amount = |v: Decimal| theme.amount(v.is_sign_negative() && !v.is_zero());
    out.field(
        "amounts",
        &format!(
            "local {} → exchange {}",
            format_amount(d.local),
            format_amount(d.exchange_amount)
        ),
        text,
    );
    let relative = round_relative(d.relative);
    let percent = (relative * Decimal::ONE_HUNDRED).round_dp(2);
    out.field(
        "difference",
        &format!(
            "{}  (relative {} = {percent}%)",
            format_amount(d.difference),
            format_amount(relative)
        ),
        amount(d.difference),
    );
    out.field(
        "allowed",
        &format!(
            "± {}  (tolerance {})",
            format_amount(d.allowed),
            escape_controls(&d.tolerance_source)
        ),
        text,
    );
    out.field(
        "severity",
        &format!("{}  ({})", severity_label(d.severity), d.kind.as_str()),
        theme.severity(d.severity),
    );
    if let Some(v) = &d.valuation {
        // The money at stake: the value with its own severity, and the price it came
        // from with its age; an unpriced line says why (never a zero).
        let quote = app
            .view
            .report
            .as_deref()
            .and_then(|r| r.valuation.as_ref())
            .map_or_else(String::new, |q| format!(" {}", q.quote));
        match (v.value, v.value_severity) {
            (Some(value), severity) => out.field(
                "value",
                &format!(
                    "{}{quote}  (value severity {})",
                    format_amount(value),
                    severity.map_or_else(|| "none".to_string(), severity_label)
                ),
                severity.map_or(text, |s| theme.severity(s)),
            ),
            (None, _) => out.field(
                "value",
                &format!(
                    "unknown: {}",
                    escape_controls(v.price_error.as_deref().unwrap_or("no price"))
                ),
                theme.base.error,
            ),
        }
        if let Some(price) = v.price {
            let asof = match v.price_as_of {
                Some(t) => format!(", as of {}", when(t, app.now)),
                None => " (pegged)".to_string(),
            };
            out.field(
                "price",
                &format!("{}{quote} per {}{asof}", format_amount(price), d.asset),
                text,
            );
        }
    }
    out.field(
        "state",
        &format!(
            "{} {}  (expected {}, residual {})",
            state.symbol(),
            state.as_str(),
            format_amount(d.expected_total()),
            format_amount(d.residual())
        ),
        text,
    );
    out.field("opened at", &when(d.opened_at, app.now), text);

    match &d.acknowledgement {
        None => out.field("acknowledged", "no", muted),
        Some(a) => {
            out.heading("Acknowledged");
            out.field("by", &escape_controls(&a.by), text);
            out.field("note", &escape_controls(&a.note), text);
            out.field("at", &when(a.at, app.now), text);
            out.field(
                "difference seen",
                &format_amount(a.difference),
                amount(a.difference),
            );
            let until = a
                .expires_at
                .map_or_else(|| "no deadline".to_string(), |t| when(t, app.now));
            out.field("snoozed until", &until, text);
        }
    }

    if d.expected.is_empty() {
        out.field("expectations", "none active", muted);
    } else {
        out.heading(format!("Expectations ({} active)", d.expected.len()));
    }
    for e in &d.expected {
        out.field(
            &format!("#{}", e.id),
            &format!(
                "{} by {}, expires {}",
                format_amount(e.difference),
                escape_controls(&e.by),
                when(e.expires_at, app.now)
            ),
            amount(e.difference),
        );
        if !e.note.is_empty() {
            out.field("", &escape_controls(&e.note), muted);
        }
    }
}

/// The sparkline and the audit entries; returns the line where the entries start.
fn history_lines(out: &mut Out, app: &App, d: &BalanceDiscrepancy, h: &History) -> usize {
    let theme = out.theme;
    let muted = theme.base.muted;
    let loading = app.detail.loading();
    match &h.load {
        Load::Loading => {
            out.heading("History");
            out.text("loading…", 2, muted);
            return out.lines.len();
        }
        Load::Failed(e) => {
            out.heading("History");
            out.text(
                &format!("could not load the history: {e}"),
                2,
                theme.base.error,
            );
            if h.points.is_empty() && h.events.is_empty() {
                return out.lines.len();
            }
        }
        Load::Loaded => {}
    }
    let room = out.width.saturating_sub(2).max(1);
    let shown = &h.points[h.points.len().saturating_sub(room)..];
    out.heading(format!(
        "History of the difference ({} snapshot{}, only changes are stored)",
        shown.len(),
        if shown.len() == 1 { "" } else { "s" }
    ));
    match sparkline(shown) {
        None => out.text("no stored balance snapshot for this pair", 2, muted),
        Some((bars, min, max)) => {
            out.text(&bars, 2, theme.widget.sparkline);
            out.field(
                "range",
                &format!("min {} · max {}", format_amount(min), format_amount(max)),
                theme.base.text,
            );
            if let (Some(first), Some(last)) = (shown.first(), shown.last()) {
                out.field(
                    "from",
                    &format!(
                        "cycle {} ({}) to cycle {}",
                        first.cycle_id,
                        first.at.format("%Y-%m-%d %H:%M:%S UTC"),
                        last.cycle_id
                    ),
                    muted,
                );
            }
        }
    }
    let page = if h.page_number() > 1 {
        format!(", page {}", h.page_number())
    } else {
        String::new()
    };
    let events_at = out.lines.len();
    out.heading(format!("Audit entries on {} (newest first{page})", d.id));
    if loading {
        out.text("loading…", 2, muted);
    }
    if h.events.is_empty() && !loading {
        out.text("none", 2, muted);
    }
    for e in &h.events {
        let line = AuditLine::from(e);
        out.text(
            &format!("#{} {} {}", e.seq, stamp(&e.at), line.event),
            2,
            theme.base.text,
        );
        if !line.detail.is_empty() {
            out.text(&escape_controls(&line.detail), 6, muted);
        }
    }
    if h.at_oldest {
        out.text("oldest entry reached", 2, muted);
    } else if h.may_have_older() {
        out.text("PgDn at the end: older entries", 2, muted);
    }
    events_at
}

/// The bars of `points` scaled between their min and max, and those two, exact.
fn sparkline(points: &[DifferencePoint]) -> Option<(String, Decimal, Decimal)> {
    let min = points.iter().map(|p| p.difference).min()?;
    let max = points.iter().map(|p| p.difference).max()?;
    let span = max.checked_sub(min).filter(|s| !s.is_zero());
    let top = BARS.len() - 1;
    let bars = points
        .iter()
        .map(|p| {
            let level = span
                .and_then(|s| {
                    let scaled = p
                        .difference
                        .checked_sub(min)?
                        .checked_mul(Decimal::from(top))?;
                    scaled.checked_div(s)
                })
                .map_or(top / 2, |l| l.round().to_usize().unwrap_or(0).min(top));
            BARS[level]
        })
        .collect();
    Some((bars, min, max))
}

/// `2026-11-24T10:00:00.000Z` → `2026-11-24 10:00:00`.
fn stamp(at: &str) -> String {
    at.get(..19).unwrap_or(at).replace('T', " ")
}

fn exchange_lines(
    out: &mut Out,
    app: &App,
    e: &ExchangeReport,
    finished_at: DateTime<Utc>,
    current: bool,
) {
    let theme = out.theme;
    let text = theme.base.text;
    out.lines.push(Line::from(vec![
        Span::raw(" "),
        Span::styled(
            exchange_status_label(e.status),
            theme.exchange_status(e.status),
        ),
        Span::styled(format!("  {}  ", e.name), theme.base.title),
        Span::styled(e.kind.as_str(), theme.base.muted),
    ]));
    if !current {
        out.text(
            "not in the latest report: figures as last shown",
            1,
            theme.base.error,
        );
    }
    out.heading("Error");
    match &e.error {
        None => out.text("none", 2, theme.base.muted),
        Some(err) => out.text(&escape_controls(err), 2, theme.base.error),
    }
    out.heading("This cycle");
    out.field(
        "status",
        exchange_status_label(e.status),
        theme.exchange_status(e.status),
    );
    out.field(
        "coverage",
        &format!(
            "{} page{}, {} row{}, {}",
            e.coverage.pages,
            if e.coverage.pages == 1 { "" } else { "s" },
            e.coverage.rows,
            if e.coverage.rows == 1 { "" } else { "s" },
            if e.coverage.complete {
                "complete"
            } else {
                "INCOMPLETE"
            }
        ),
        if e.coverage.complete {
            text
        } else {
            theme.base.error
        },
    );
    out.field("attempts", &e.attempts.to_string(), text);
    out.field("latency", &format!("{} ms", e.latency_ms), text);
    out.field("breaker", e.circuit.as_str(), theme.circuit(e.circuit));
    out.field(
        "compared",
        if e.compared {
            "yes"
        } else {
            "no (amounts unknown this cycle, never zero)"
        },
        text,
    );
    out.heading("Freshness");
    out.field(
        "last ok",
        &e.last_ok_at
            .map_or_else(|| "never".to_string(), |t| when(t, app.now)),
        text,
    );
    let stale = match e.stale_secs(finished_at) {
        Some(0) => "0 s (fetched this cycle)".to_string(),
        Some(s) => format!(
            "{s} s at the cycle of {}",
            finished_at.format("%H:%M:%S UTC")
        ),
        None => "never fetched successfully".to_string(),
    };
    out.field("stale", &stale, text);
    if !e.exposed.is_empty() {
        // What the desk holds there is what is at stake while the venue cannot be read.
        out.heading(format!(
            "Exposed (the ledger holds, {} assets)",
            e.exposed.len()
        ));
        let amounts: Vec<String> = e.exposed.iter().map(|(_, v)| format_amount(*v)).collect();
        // Not `field`: its wrapping would trim the padding that lines up the points.
        for ((asset, _), amount) in e.exposed.iter().zip(align_decimals(&amounts)) {
            out.lines.push(Line::from(vec![
                Span::styled(
                    format!("  {:<w$}", asset.as_str(), w = LABEL_W - 2),
                    theme.base.muted,
                ),
                Span::styled(amount, text),
            ]));
        }
    }
}

fn audit_lines(out: &mut Out, e: &AuditEntry) {
    let theme = out.theme;
    let text = theme.base.text;
    out.field("seq", &e.seq.to_string(), text);
    out.field("time", &escape_controls(&e.at), text);
    out.field("kind", &escape_controls(&e.event), theme.base.title);
    out.field(
        "subject",
        &e.subject.as_deref().map_or("—".into(), escape_controls),
        text,
    );
    out.heading("Hash");
    out.text(&escape_controls(&e.hash), 2, text);
    out.heading("Previous hash");
    out.text(&escape_controls(&e.prev_hash), 2, text);
    out.heading("Detail");
    let pretty = serde_json::from_str::<serde_json::Value>(&e.detail)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| e.detail.clone());
    for line in pretty.lines() {
        // Keep the JSON's own indentation: wrap after it.
        let trimmed = line.trim_start_matches(' ');
        let indent = 2 + (line.len() - trimmed.len());
        out.text(&escape_controls(trimmed), indent, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_spaces_and_only_breaks_words_longer_than_a_line() {
        assert_eq!(
            wrap("timed out after 1000 ms", 10),
            ["timed out", "after 1000", "ms"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("a\nb", 5), ["a", "b"]);
    }

    #[test]
    fn sparkline_spans_min_to_max_exactly() {
        let p = |d: &str| DifferencePoint {
            cycle_id: 1,
            at: DateTime::<Utc>::default(),
            local: Decimal::ZERO,
            exchange_amount: Decimal::ZERO,
            difference: d.parse().unwrap(),
        };
        let (bars, min, max) = sparkline(&[p("-0.2"), p("-0.1"), p("0.5")]).unwrap();
        assert_eq!(bars, "▁▂█");
        assert_eq!(
            (min.to_string(), max.to_string()),
            ("-0.2".into(), "0.5".into())
        );
        let (flat, _, _) = sparkline(&[p("1"), p("1")]).unwrap();
        assert_eq!(flat, "▄▄");
        assert!(sparkline(&[]).is_none());
    }
}
