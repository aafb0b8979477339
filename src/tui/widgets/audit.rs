//! The audit trail, one page at a time (see `audit_pane`): newest first, scrolled with
//! the same keys as every list; past either end the neighbouring page is loaded.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{HighlightSpacing, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::panel_block;
use crate::domain::escape_controls;
use crate::tui::app::{App, Panel};
use crate::tui::audit_pane::AuditLine;

/// Draws the audit pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let pane = &app.audit;
    let page = if pane.is_newest() {
        "newest".to_string()
    } else {
        format!("page {}", pane.page_number())
    };
    let mut title = vec![Span::raw(format!("Audit · {page}"))];
    if pane.loading() {
        title.push(Span::styled(" · loading…", theme.base.muted));
    }
    if pane.at_oldest {
        title.push(Span::styled(" · oldest entry reached", theme.base.muted));
    }
    if let Some(e) = &pane.error {
        let e = escape_controls(e);
        title.push(Span::styled(format!(" · ✖ {e}"), theme.base.error));
    }
    let block = panel_block(app, Panel::Audit, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if pane.lines.is_empty() {
        let msg = if pane.loading() {
            " loading…"
        } else {
            " no entries"
        };
        frame.render_widget(
            Paragraph::new(msg).style(theme.on_base(theme.base.muted)),
            inner,
        );
        return;
    }
    let start = pane.cursor.offset.min(pane.lines.len());
    let end = (start + usize::from(inner.height)).min(pane.lines.len());
    let items: Vec<ListItem> = pane.lines[start..end]
        .iter()
        .map(|l| ListItem::new(line(app, l)))
        .collect();
    let focused = app.focus == Panel::Audit;
    let mut state = ListState::default()
        .with_selected(focused.then_some(pane.cursor.selected.saturating_sub(start)));
    let list = List::new(items)
        .style(theme.base.text)
        .highlight_style(theme.base.selected)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    frame.render_stateful_widget(list, inner, &mut state);
}

fn line<'a>(app: &App, l: &'a AuditLine) -> Line<'a> {
    let theme = app.theme();
    let event_style = match l.event.as_str() {
        "exchange_error" | "circuit_opened" | "discrepancy_opened" => theme.base.error,
        "discrepancy_acknowledged" | "discrepancy_resolved" | "circuit_closed" => theme.base.notice,
        _ => theme.base.text,
    };
    Line::from(vec![
        Span::styled(format!("{:>7} {} ", l.seq, l.time), theme.base.muted),
        Span::styled(format!("{:<24} ", escape_controls(&l.event)), event_style),
        Span::styled(
            format!("{:<20} ", escape_controls(&l.subject)),
            theme.base.text,
        ),
        Span::styled(escape_controls(&l.detail), theme.base.muted),
    ])
}
