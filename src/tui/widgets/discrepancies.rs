//! Discrepancies, worst first: severity as colour + symbol + word (`✖ CRITICAL`, readable
//! without colour), id, kind, difference, relative size, age, and who acknowledged it why.

use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{fit, panel_block, severity_label};
use crate::domain::escape_controls;
use crate::engine::{ExchangeStatus, ReconciliationReport};
use crate::tui::app::{App, Panel};
use crate::tui::rows::{age, DiscrepancyLine};

/// Width from which the kind column is shown.
const KIND_FROM: u16 = 110;

/// Draws the discrepancy list.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let open = app
        .discrepancies
        .iter()
        .filter(|l| !l.discrepancy.is_acknowledged())
        .count();
    let acked = app.discrepancies.len() - open;
    let block = panel_block(
        app,
        Panel::Discrepancies,
        vec![Span::raw(format!(
            "Discrepancies {open} open · {acked} acknowledged"
        ))],
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.discrepancies.is_empty() {
        let (msg, style) = empty_message(app.view.report.as_deref());
        let style = if style {
            theme.base.error
        } else {
            theme.base.muted
        };
        frame.render_widget(
            Paragraph::new(msg).style(style).wrap(Wrap { trim: false }),
            inner,
        );
        return;
    }
    let wide = inner.width >= KIND_FROM;
    let id_w = app
        .discrepancies
        .iter()
        .map(|l| l.discrepancy.id.as_str().chars().count())
        .max()
        .unwrap_or(10)
        .clamp(10, 32);
    let diff_w = app
        .discrepancies
        .first()
        .map_or(10, |l| l.difference.chars().count())
        .clamp(10, 24);
    let right = |s: &'static str| Cell::from(Line::from(s).alignment(Alignment::Right));
    let mut header = vec![Cell::from("severity"), Cell::from("discrepancy")];
    let mut widths = vec![Constraint::Length(10), Constraint::Length(id_w as u16)];
    if wide {
        header.push(Cell::from("kind"));
        widths.push(Constraint::Length(19));
    }
    header.extend([
        right("difference"),
        right("relative"),
        right("age"),
        Cell::from("acknowledged"),
    ]);
    widths.extend([
        Constraint::Length(diff_w as u16),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Fill(1),
    ]);

    let height = usize::from(inner.height.saturating_sub(1));
    let start = app.discrepancy_cursor.offset.min(app.discrepancies.len());
    let end = (start + height).min(app.discrepancies.len());
    let rows: Vec<Row> = app.discrepancies[start..end]
        .iter()
        .map(|l| row(app, l, wide, diff_w))
        .collect();
    let focused = app.focus == Panel::Discrepancies;
    let mut state = TableState::default()
        .with_selected(focused.then_some(app.discrepancy_cursor.selected.saturating_sub(start)));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.base.muted))
        .column_spacing(1)
        .row_highlight_style(theme.base.selected)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    frame.render_stateful_widget(table, inner, &mut state);
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

fn row<'a>(app: &App, l: &'a DiscrepancyLine, wide: bool, diff_w: usize) -> Row<'a> {
    let theme = app.theme();
    let d = &l.discrepancy;
    let acked = d.acknowledgement.as_ref();
    let text = if acked.is_some() {
        theme.widget.acknowledged
    } else {
        theme.base.text
    };
    let right =
        |s: String| Cell::from(Line::from(Span::styled(s, text)).alignment(Alignment::Right));
    let mut cells = vec![
        Cell::from(Span::styled(
            severity_label(d.severity),
            theme.severity(d.severity),
        )),
        Cell::from(Span::styled(d.id.as_str(), text)),
    ];
    if wide {
        cells.push(Cell::from(Span::styled(d.kind.as_str(), text)));
    }
    cells.push(right(fit(&l.difference, diff_w)));
    cells.push(right(l.relative.clone()));
    cells.push(right(age((app.now - d.opened_at).num_seconds())));
    cells.push(match acked {
        Some(a) if a.note.is_empty() => {
            Cell::from(Span::styled(format!("✓ {}", escape_controls(&a.by)), text))
        }
        Some(a) => Cell::from(Span::styled(
            format!("✓ {}: {}", escape_controls(&a.by), escape_controls(&a.note)),
            text,
        )),
        None => Cell::from(Span::styled("—", theme.base.muted)),
    });
    Row::new(cells)
}
