//! The `?` overlay: every key of every mode, generated from the key table.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::keys::{self, Mode};
use crate::tui::ui::centered;

/// Draws the help overlay.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let left = section(app, &[Mode::Normal, Mode::Help]);
    let right = section(app, &[Mode::Prompt, Mode::Filter, Mode::Detail]);
    let height = left.len().max(right.len()) as u16 + 2;
    let popup = centered(area, 84, height);
    let block = Block::bordered()
        .border_style(theme.block(true))
        .title(Span::styled(" Keys — ? or Esc to close ", theme.base.title))
        .style(theme.base.text);
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let [l, r] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    frame.render_widget(Paragraph::new(left), l);
    frame.render_widget(Paragraph::new(right), r);
}

fn section(app: &App, modes: &[Mode]) -> Vec<Line<'static>> {
    let theme = app.theme();
    let mut lines = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        if i > 0 {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(format!(" {}", mode.title()), theme.base.title));
        for (key, help) in keys::help(*mode) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {key:<11}"), theme.base.key),
                Span::styled(help, theme.base.text),
            ]));
        }
    }
    lines
}
