//! Exchange health: status, latency, attempts, circuit, staleness and coverage. A failed
//! exchange gets its error on a line of its own, full width, so it cannot be missed.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{HighlightSpacing, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::{exchange_status_label, panel_block};
use crate::domain::escape_controls;
use crate::engine::report::ExchangeReport;
use crate::engine::ExchangeStatus;
use crate::tui::app::{App, Panel};
use crate::tui::rows::age;

const STATUS_W: usize = 14;

/// Draws the exchanges panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let report = app.view.report.as_deref();
    let count = report.map_or(0, |r| r.exchanges.len());
    let block = panel_block(
        app,
        Panel::Exchanges,
        vec![Span::raw(format!("Exchanges {count}"))],
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(report) = report else {
        frame.render_widget(
            Paragraph::new(" waiting for the first cycle…").style(theme.on_base(theme.base.muted)),
            inner,
        );
        return;
    };
    let name_w = report
        .exchanges
        .iter()
        .map(|e| e.name.as_str().chars().count())
        .max()
        .unwrap_or(8)
        .max(8);
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let heading = format!(
        "  {:<name_w$} {:<STATUS_W$} {:>8} {:>5}  {:<9} {:<9} coverage / error",
        "exchange", "status", "latency", "tries", "circuit", "last ok"
    );
    frame.render_widget(
        Paragraph::new(heading).style(theme.on_base(theme.base.muted)),
        head,
    );

    let focused = app.focus == Panel::Exchanges;
    let items: Vec<ListItem> = report
        .exchanges
        .iter()
        .map(|e| item(app, e, name_w, report.finished_at))
        .collect();
    let mut state = ListState::default()
        .with_offset(app.exchanges.offset)
        .with_selected(focused.then_some(app.exchanges.selected));
    let list = List::new(items)
        .style(theme.base.text)
        .highlight_style(theme.base.selected)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    frame.render_stateful_widget(list, body, &mut state);
}

fn item(
    app: &App,
    e: &ExchangeReport,
    name_w: usize,
    finished_at: chrono::DateTime<chrono::Utc>,
) -> ListItem<'static> {
    let theme = app.theme();
    // Always an age against the clock, never "now": the report can be an hour old when
    // every cycle since has failed (store down), and the screen must show it.
    let last_ok = match (e.status, e.last_ok_at) {
        (ExchangeStatus::Ok, t) => ago(app, t.unwrap_or(finished_at)),
        (_, Some(t)) => ago(app, t),
        (_, None) => "never".to_string(),
    };
    let detail = if e.status == ExchangeStatus::Ok {
        let c = e.coverage;
        Span::styled(
            format!(
                "{} rows · {} page{}{}",
                c.rows,
                c.pages,
                if c.pages == 1 { "" } else { "s" },
                if c.complete { "" } else { " · INCOMPLETE" }
            ),
            if c.complete {
                theme.base.muted
            } else {
                theme.base.error
            },
        )
    } else {
        Span::styled("no balances (amounts unknown)", theme.base.error)
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<name_w$} ", e.name.as_str()), theme.base.text),
        Span::styled(
            format!("{:<STATUS_W$} ", exchange_status_label(e.status)),
            theme.exchange_status(e.status),
        ),
        Span::styled(format!("{:>5} ms ", e.latency_ms), theme.base.text),
        Span::styled(format!("{:>5}  ", e.attempts), theme.base.text),
        Span::styled(
            format!("{:<9} ", e.circuit.as_str()),
            theme.circuit(e.circuit),
        ),
        Span::styled(format!("{last_ok:<9} "), theme.base.text),
        detail,
    ])];
    if let Some(err) = &e.error {
        lines.push(Line::from(vec![
            Span::styled("  └ ", theme.base.muted),
            Span::styled(escape_controls(err).into_owned(), theme.base.error),
        ]));
    }
    ListItem::new(lines)
}

/// How long before `app.now` `t` was, e.g. `4s ago`, `2m10s ago`.
fn ago(app: &App, t: chrono::DateTime<chrono::Utc>) -> String {
    format!("{} ago", age((app.now - t).num_seconds()))
}
