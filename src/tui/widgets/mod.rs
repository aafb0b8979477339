//! One file per screen region, each `render(frame, area, app)`, plus the few helpers they
//! share: the panel frame, labels that read without colour, and explicit truncation.

pub mod audit;
pub mod balances;
pub mod detail;
pub mod discrepancies;
pub mod exchanges;
pub mod footer;
pub mod header;
pub mod help;
pub mod prompt;
pub mod sparkline;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Scrollbar, ScrollbarOrientation, ScrollbarState};
use ratatui::Frame;

use super::app::{App, Panel};
use crate::domain::{DiscrepancySeverity, ReconciliationStatus};
use crate::engine::report::ExchangeStatus;

/// The frame of a panel: focused panels get the focused border and a heavier line.
pub fn panel_block<'a>(app: &App, panel: Panel, title: Vec<Span<'a>>) -> Block<'a> {
    let theme = app.theme();
    let focused = app.focus == panel;
    let mut spans = vec![Span::raw(" ")];
    spans.extend(title);
    spans.push(Span::raw(" "));
    Block::bordered()
        .style(theme.base.text)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.block(focused))
        .title(Line::from(spans).style(theme.base.title))
}

/// A list longer than its panel: a scrollbar on the right border and `↓ N more` on the
/// bottom border, so rows below the fold are never mistaken for none.
pub fn overflow(frame: &mut Frame, area: Rect, app: &App, len: usize, offset: usize, shown: usize) {
    if len <= shown || area.height < 3 {
        return;
    }
    let theme = app.theme();
    let mut state = ScrollbarState::new(len.saturating_sub(shown))
        .position(offset)
        .viewport_content_length(shown);
    let track = Rect::new(
        area.x,
        area.y + 1,
        area.width,
        area.height.saturating_sub(2),
    );
    frame.render_stateful_widget(
        Scrollbar::new(ScrollbarOrientation::VerticalRight)
            .begin_symbol(None)
            .end_symbol(None)
            .style(theme.base.muted),
        track,
        &mut state,
    );
    let below = len.saturating_sub(offset + shown);
    if below > 0 {
        let text = format!(" ↓ {below} more ");
        let w = u16::try_from(text.chars().count()).unwrap_or(u16::MAX);
        if area.width > w + 4 {
            let at = Rect::new(area.x + area.width - w - 2, area.y + area.height - 1, w, 1);
            frame.render_widget(
                ratatui::widgets::Paragraph::new(text).style(theme.on_base(theme.base.muted)),
                at,
            );
        }
    }
}

/// What narrows a panel's list, for its title: the filter being typed or kept, the
/// minimum severity, hidden ok balances, the sort key when it is not the default.
pub fn narrowing<'a>(app: &App, panel: Panel) -> Vec<Span<'a>> {
    let theme = app.theme();
    let mut spans = Vec::new();
    if app.filter_panel == panel {
        if app.mode() == super::keys::Mode::Filter {
            spans.push(Span::styled(
                format!("  /{}▏", app.filter),
                theme.widget.filter,
            ));
        } else if !app.filter.is_empty() {
            spans.push(Span::styled(
                format!("  filter: {}", app.filter),
                theme.widget.filter,
            ));
        }
    }
    if let Some(min) = app.min_severity {
        spans.push(Span::styled(format!("  {min}+"), theme.widget.filter));
    }
    if panel == Panel::Balances && app.hide_ok {
        spans.push(Span::styled("  ok hidden", theme.widget.filter));
    }
    if panel == Panel::Discrepancies && app.sort != super::triage::SortKey::default() {
        spans.push(Span::styled(
            format!("  by {}", app.sort.label()),
            theme.widget.filter,
        ));
    }
    spans
}

/// `✖ CRITICAL`: symbol and word, so a severity reads without colour.
pub fn severity_label(s: DiscrepancySeverity) -> String {
    format!("{} {}", s.symbol(), s.as_str().to_uppercase())
}

/// Symbol and word of the overall status (`None`: no cycle yet).
pub fn status_label(s: Option<ReconciliationStatus>) -> &'static str {
    match s {
        None => "… WAITING FOR FIRST CYCLE",
        Some(ReconciliationStatus::Reconciled) => "✔ RECONCILED",
        Some(ReconciliationStatus::Discrepancies) => "▲ DISCREPANCIES",
        Some(ReconciliationStatus::Partial) => "◐ PARTIAL",
        Some(ReconciliationStatus::Failed) => "✖ FAILED",
    }
}

/// Symbol and word of an exchange's health.
pub fn exchange_status_label(s: ExchangeStatus) -> &'static str {
    match s {
        ExchangeStatus::Ok => "● OK",
        ExchangeStatus::Error => "✖ ERROR",
        ExchangeStatus::CircuitOpen => "◌ CIRCUIT OPEN",
    }
}

/// Cuts `s` to `width` characters, marking the cut with `…` so a shortened amount can
/// never pass for a whole one.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// A label and value pair for the header and panels: `label` muted, `value` styled.
pub fn field<'a>(app: &App, label: &'a str, value: String, style: Style) -> [Span<'a>; 2] {
    [
        Span::styled(label, app.theme().base.muted),
        Span::styled(value, style),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_marks_what_it_cuts() {
        assert_eq!(fit("1.2345", 6), "1.2345");
        assert_eq!(fit("1.2345", 5), "1.23…");
        assert_eq!(fit("abc", 0), "");
    }
}
