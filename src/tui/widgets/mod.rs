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

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

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
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.block(focused))
        .title(Line::from(spans).style(theme.base.title))
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
