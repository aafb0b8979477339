//! Discrepancies, open ones first and worst first: severity as colour + symbol + word
//! (`✖ CRITICAL`, readable without colour), id, kind, difference, what is expected and
//! what is left over (when movements in flight are declared), relative size, age, the
//! state as symbol + word (`● open`, `✓ acknowledged`, `✓ snoozed 12:00`, `⇄ explained`)
//! and who acknowledged or declared what, why.
//!
//! Amounts are exact and never cut: when the panel is narrow, whole columns go instead
//! (kind, the note, age, relative), and only then the id is shortened, with `…`.

use chrono::{DateTime, NaiveDate, Utc};
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{fit, panel_block, severity_label};
use crate::domain::{escape_controls, BalanceDiscrepancy, DiscrepancyState};
use crate::engine::{ExchangeStatus, ReconciliationReport};
use crate::tui::app::{App, Panel};
use crate::tui::names;
use crate::tui::rows::{age, DiscrepancyLine};

/// How many discrepancies are in each state: open, acknowledged, explained.
pub fn state_counts(states: impl Iterator<Item = DiscrepancyState>) -> [usize; 3] {
    let mut n = [0; 3];
    for s in states {
        n[match s {
            DiscrepancyState::Open => 0,
            DiscrepancyState::Acknowledged => 1,
            DiscrepancyState::Explained => 2,
        }] += 1;
    }
    n
}

/// The counts of [`state_counts`] as spans, each in its state's style: open ones always
/// (in the status colour when there are any), acknowledged and explained ones when there
/// are any.
pub fn state_count_spans(app: &App, [open, acked, explained]: [usize; 3]) -> Vec<Span<'static>> {
    let theme = app.theme();
    let open_style = if open > 0 {
        theme.status.discrepancies
    } else {
        theme.base.muted
    };
    let mut spans = vec![Span::styled(
        format!("{} {open} open", DiscrepancyState::Open.symbol()),
        open_style,
    )];
    for (n, state, word, style) in [
        (
            acked,
            DiscrepancyState::Acknowledged,
            "ack",
            theme.widget.acknowledged,
        ),
        (
            explained,
            DiscrepancyState::Explained,
            "explained",
            theme.widget.explained,
        ),
    ] {
        if n > 0 {
            spans.push(Span::styled(" · ", theme.base.muted));
            spans.push(Span::styled(
                format!("{} {n} {word}", state.symbol()),
                style,
            ));
        }
    }
    spans
}

/// The state of `d` as symbol and word: `● open`, `⇄ explained`, `✓ acknowledged`; a
/// snoozed acknowledgement says until when, in full (`✓ acknowledged, snoozed until 12:00
/// UTC`) or compact (`✓ snoozed 12:00`). The date is added when it is not today's.
pub fn state_label(d: &BalanceDiscrepancy, now: DateTime<Utc>, full: bool) -> String {
    let state = d.state();
    let until = d
        .acknowledgement
        .as_ref()
        .and_then(|a| a.expires_at)
        .filter(|_| state == DiscrepancyState::Acknowledged);
    match until {
        None => format!("{} {}", state.symbol(), state.as_str()),
        Some(t) => {
            let at = if t.date_naive() == now.date_naive() {
                t.format("%H:%M")
            } else {
                t.format("%b %d %H:%M")
            };
            if full {
                format!(
                    "{} {}, snoozed until {at} UTC",
                    state.symbol(),
                    state.as_str()
                )
            } else {
                format!("{} snoozed {at}", state.symbol())
            }
        }
    }
}

/// The natural widths of the variable columns over every discrepancy of the report,
/// measured when the report arrives rather than on every frame (a desk has thousands of
/// lines), and kept from one cycle to the next unless they grow, so columns do not jump
/// as amounts change. The state labels depend on the day (a snooze on another day shows
/// its date), so the measure says which day it was taken on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measure {
    day: Option<NaiveDate>,
    id: usize,
    difference: usize,
    /// Expected and residual, when any line has expectations.
    declared: Option<(usize, usize)>,
    state: usize,
    full_state: usize,
    note: usize,
    value: usize,
}

impl Measure {
    /// Measures `lines` as they read on `now`'s day.
    pub fn of(lines: &[DiscrepancyLine], now: DateTime<Utc>) -> Self {
        let len = |s: &str| s.chars().count();
        let mut m = Self {
            day: Some(now.date_naive()),
            ..Self::default()
        };
        for l in lines {
            let d = &l.discrepancy;
            m.id = m.id.max(len(d.id.as_str()));
            m.difference = m.difference.max(len(&l.difference));
            if let Some(e) = &l.expected {
                let (we, wr) = m.declared.unwrap_or_default();
                let r = l.residual.as_deref().map_or(0, len);
                m.declared = Some((we.max(len(e)), wr.max(r)));
            }
            m.state = m.state.max(len(&state_label(d, now, false)));
            m.full_state = m.full_state.max(len(&state_label(d, now, true)));
            m.note = m.note.max(note(d).map_or(0, |n| len(&n)));
            m.value = m.value.max(l.value.as_deref().map_or(1, len));
        }
        m
    }

    /// This measure followed by `next`: each width the larger of the two, except that
    /// the expected/residual columns exist only while some line has expectations and
    /// the state labels of another day are measured afresh.
    pub fn then(&self, next: Self) -> Self {
        let same_day = self.day == next.day;
        Self {
            day: next.day,
            id: self.id.max(next.id),
            difference: self.difference.max(next.difference),
            declared: next.declared.map(|(e, r)| {
                let (pe, pr) = self.declared.unwrap_or_default();
                (e.max(pe), r.max(pr))
            }),
            state: if same_day {
                self.state.max(next.state)
            } else {
                next.state
            },
            full_state: if same_day {
                self.full_state.max(next.full_state)
            } else {
                next.full_state
            },
            note: self.note.max(next.note),
            value: self.value.max(next.value),
        }
    }
}

/// `value USD`: the value column's heading, with `[valuation]`.
fn value_heading(app: &App) -> Option<String> {
    let v = app.view.report.as_deref()?.valuation.as_ref()?;
    Some(format!("value {}", v.quote))
}

/// Which columns the panel shows, and how wide the variable ones are.
struct Columns {
    /// A NEW column, while any line carries the mark.
    new: bool,
    id: usize,
    kind: bool,
    difference: usize,
    /// Width of the expected and residual columns, when any line has expectations.
    declared: Option<(usize, usize)>,
    /// Width of the value column, with `[valuation]`.
    value: Option<usize>,
    relative: bool,
    age: bool,
    state: usize,
    full_state: bool,
    /// The note's width (what is left), when shown.
    note: Option<usize>,
}

const SEVERITY_W: usize = 10;
const NEW_W: usize = 3;
const KIND_W: usize = 19;
const RELATIVE_W: usize = 9;
const AGE_W: usize = 6;
/// The note takes what is left, but is only shown with at least this much.
const NOTE_MIN: usize = 16;
/// Room the note claims before the kind column is added.
const NOTE_MAX: usize = 40;

impl Columns {
    /// Fits the columns into `width`: severity, id, amounts and state always; then, while
    /// they fit, relative, age, the note, the full state wording, room for the whole note
    /// and the kind.
    fn fit(app: &App, width: usize) -> Self {
        // The measure taken when the report arrived, unless the day has turned since.
        let fresh;
        let m = if app.discrepancy_measure.day == Some(app.now.date_naive()) {
            &app.discrepancy_measure
        } else {
            fresh = app
                .discrepancy_measure
                .then(Measure::of(&app.all_discrepancies, app.now));
            &fresh
        };
        // NEW marks are few and short-lived: only then are the lines looked at.
        let new = app.news.any_new()
            && app
                .discrepancies
                .iter()
                .any(|l| app.news.is_new(&l.discrepancy.id));
        let mut c = Self {
            new,
            id: m.id.clamp(11, 32),
            kind: false,
            difference: m.difference.max(10),
            declared: m.declared.map(|(e, r)| (e.max(8), r.max(8))),
            value: value_heading(app).map(|h| m.value.max(h.chars().count())),
            relative: false,
            age: false,
            state: m.state.max(5),
            full_state: false,
            note: None,
        };
        // The highlight symbol takes two columns.
        let avail = width.saturating_sub(2);
        // Amounts and the state are never cut: the id gives way (visibly), to at least
        // ten columns while that is enough, and further only when it is not.
        if c.used() > avail {
            let over = c.used() - avail;
            let floor = if c.used() - c.id.saturating_sub(10) <= avail {
                10
            } else {
                1
            };
            c.id = c.id.saturating_sub(over).max(floor);
        }
        let full = m.full_state.max(5);
        let note_want = m.note.clamp(NOTE_MIN, NOTE_MAX);
        let upgrades: [&dyn Fn(&mut Self); 6] = [
            &|c| c.relative = true,
            &|c| c.age = true,
            &|c| c.note = Some(NOTE_MIN),
            &|c| {
                c.full_state = true;
                c.state = full;
            },
            &|c| c.note = c.note.map(|_| note_want),
            &|c| c.kind = true,
        ];
        for upgrade in upgrades {
            let mut next = Self { ..c };
            upgrade(&mut next);
            if next.used() <= avail {
                c = next;
            }
        }
        let spare = avail.saturating_sub(c.used());
        if let Some(w) = &mut c.note {
            *w += spare;
        }
        c
    }

    /// Columns taken, with one space between columns (the note counted at its minimum).
    fn used(&self) -> usize {
        let mut widths = vec![SEVERITY_W, self.id, self.difference, self.state];
        if let Some(w) = self.value {
            widths.push(w);
        }
        if self.new {
            widths.push(NEW_W);
        }
        if let Some((e, r)) = self.declared {
            widths.extend([e, r]);
        }
        for (on, w) in [
            (self.kind, KIND_W),
            (self.relative, RELATIVE_W),
            (self.age, AGE_W),
            (self.note.is_some(), self.note.unwrap_or(0)),
        ] {
            if on {
                widths.push(w);
            }
        }
        widths.iter().sum::<usize>() + widths.len().saturating_sub(1)
    }
}

/// Draws the discrepancy list.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let counts = app.discrepancy_counts;
    let mut title = vec![Span::raw("Discrepancies ")];
    if app
        .view
        .report
        .as_ref()
        .is_some_and(|r| r.ledger_error.is_some())
    {
        title.push(Span::styled("? (ledger unreadable)", theme.base.error));
    } else {
        title.extend(state_count_spans(app, counts));
    }
    if app.discrepancies.len() != app.all_discrepancies.len() {
        title.push(Span::styled(
            format!(
                "  {} of {}",
                app.discrepancies.len(),
                app.all_discrepancies.len()
            ),
            theme.widget.filter,
        ));
    }
    title.extend(super::narrowing(app, Panel::Discrepancies));
    let block = panel_block(app, Panel::Discrepancies, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.discrepancies.is_empty() {
        let (msg, style) = if app.all_discrepancies.is_empty() {
            empty_message(app.view.report.as_deref())
        } else {
            (
                format!(
                    " none of the {} discrepancies passes the filter (Esc clears the text, the same 1–4 key clears the severity)",
                    app.all_discrepancies.len()
                ),
                false,
            )
        };
        let style = if style {
            theme.base.error
        } else {
            theme.base.muted
        };
        frame.render_widget(
            Paragraph::new(msg)
                .style(theme.on_base(style))
                .wrap(Wrap { trim: false }),
            inner,
        );
        return;
    }
    let c = Columns::fit(app, usize::from(inner.width));
    let right = |s: &'static str| Cell::from(Line::from(s).alignment(Alignment::Right));
    let len = |w: usize| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX));
    let mut header = Vec::new();
    let mut widths = Vec::new();
    if c.new {
        header.push(Cell::from(""));
        widths.push(len(NEW_W));
    }
    header.extend([Cell::from("severity"), Cell::from("discrepancy")]);
    widths.extend([len(SEVERITY_W), len(c.id)]);
    if c.kind {
        header.push(Cell::from("kind"));
        widths.push(len(KIND_W));
    }
    header.push(right("difference"));
    widths.push(len(c.difference));
    if let (Some(w), Some(heading)) = (c.value, value_heading(app)) {
        header.push(Cell::from(Line::from(heading).alignment(Alignment::Right)));
        widths.push(len(w));
    }
    if let Some((e, r)) = c.declared {
        header.extend([right("expected"), right("residual")]);
        widths.extend([len(e), len(r)]);
    }
    if c.relative {
        header.push(right("relative"));
        widths.push(len(RELATIVE_W));
    }
    if c.age {
        header.push(right("age"));
        widths.push(len(AGE_W));
    }
    header.push(Cell::from("state"));
    widths.push(len(c.state));
    if let Some(w) = c.note {
        header.push(Cell::from("by: note"));
        widths.push(len(w));
    }

    let height = usize::from(inner.height.saturating_sub(1));
    let start = app.discrepancy_cursor.offset.min(app.discrepancies.len());
    let end = (start + height).min(app.discrepancies.len());
    let rows: Vec<Row> = app.discrepancies[start..end]
        .iter()
        .map(|l| row(app, l, &c))
        .collect();
    let focused = app.focus == Panel::Discrepancies;
    let mut state = TableState::default()
        .with_selected(focused.then_some(app.discrepancy_cursor.selected.saturating_sub(start)));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.base.muted))
        .column_spacing(1)
        .style(theme.base.text)
        .row_highlight_style(theme.base.selected)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    frame.render_stateful_widget(table, inner, &mut state);
    super::overflow(frame, area, app, app.discrepancies.len(), start, height);
}

/// What an empty list means, and whether that is a failure: nothing compared (ledger
/// unreadable), some exchanges not compared (their earlier open discrepancies are not in
/// this report), or all clear.
fn empty_message(report: Option<&ReconciliationReport>) -> (String, bool) {
    let Some(r) = report else {
        return (" waiting for the first cycle…".into(), false);
    };
    if r.ledger_error.is_some() {
        return (
            " not compared: ledger unreadable; earlier open discrepancies are not shown".into(),
            true,
        );
    }
    let failed = r
        .exchanges
        .iter()
        .filter(|e| e.status != ExchangeStatus::Ok)
        .count();
    match failed {
        0 => (
            " none: every compared balance is within tolerance".into(),
            false,
        ),
        n => (
            format!(
                " none on the exchanges compared; not compared on {n} failed exchange{}; \
                 their earlier open discrepancies are not shown",
                if n == 1 { "" } else { "s" }
            ),
            true,
        ),
    }
}

fn row<'a>(app: &App, l: &'a DiscrepancyLine, c: &Columns) -> Row<'a> {
    let theme = app.theme();
    let d = &l.discrepancy;
    let text = theme.discrepancy_state(l.state);
    let right = |s: String, style: Style| {
        Cell::from(Line::from(Span::styled(s, style)).alignment(Alignment::Right))
    };
    let mut cells = Vec::new();
    if c.new {
        cells.push(if app.news.is_new(&d.id) {
            Cell::from(Span::styled("NEW", theme.base.error))
        } else {
            Cell::from("")
        });
    }
    cells.extend([
        Cell::from(Span::styled(
            severity_label(d.severity),
            theme.severity(d.severity),
        )),
        // The venue gives way in its middle; the asset is what the line is about.
        Cell::from(Span::styled(
            names::id(d.exchange.as_str(), d.asset.as_str(), c.id),
            text,
        )),
    ]);
    if c.kind {
        cells.push(Cell::from(Span::styled(d.kind.as_str(), text)));
    }
    // Widths were taken from these very strings: nothing here is cut.
    cells.push(right(l.difference.clone(), text));
    if c.value.is_some() {
        // Unpriced is a question mark, never a zero: the detail view says why.
        cells.push(match &l.value {
            Some(v) => right(v.clone(), text),
            None => right("?".into(), theme.base.error),
        });
    }
    if c.declared.is_some() {
        for amount in [&l.expected, &l.residual] {
            cells.push(match amount {
                Some(a) => right(a.clone(), text),
                None => right("—".into(), theme.base.muted),
            });
        }
    }
    if c.relative {
        cells.push(right(l.relative.clone(), text));
    }
    if c.age {
        cells.push(right(age((app.now - d.opened_at).num_seconds()), text));
    }
    cells.push(Cell::from(Span::styled(
        state_label(d, app.now, c.full_state),
        text,
    )));
    if let Some(w) = c.note {
        cells.push(match note(d) {
            // A note may be cut, visibly; amounts never are.
            Some(n) => Cell::from(Span::styled(fit(&n, w), text)),
            None => Cell::from(Span::styled("—", theme.base.muted)),
        });
    }
    Row::new(cells)
}

/// Who acknowledged it and why, then each expectation's number, author and note.
fn note(d: &BalanceDiscrepancy) -> Option<String> {
    let who = |by: &str, note: &str| {
        if note.is_empty() {
            escape_controls(by).into_owned()
        } else {
            format!("{}: {}", escape_controls(by), escape_controls(note))
        }
    };
    let mut parts: Vec<String> = d
        .acknowledgement
        .iter()
        .map(|a| who(&a.by, &a.note))
        .collect();
    parts.extend(
        d.expected
            .iter()
            .map(|e| format!("#{} {}", e.id, who(&e.by, &e.note))),
    );
    (!parts.is_empty()).then(|| parts.join(" · "))
}
