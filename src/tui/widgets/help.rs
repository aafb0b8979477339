//! The `?` overlay: every key of every mode, generated from the key table and flowed
//! into as many columns as the terminal holds (two at 80×24, three from 120 columns), so
//! the whole table shows without scrolling.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::keys::{self, Mode};
use crate::tui::ui::centered;

/// The modes in the order their sections are listed.
const SECTIONS: [Mode; 5] = [
    Mode::Normal,
    Mode::Prompt,
    Mode::Filter,
    Mode::Detail,
    Mode::Help,
];

/// Draws the help overlay.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let lines = all_lines(app);
    let columns: u16 = if area.width >= 120 { 3 } else { 2 };
    let per_column = lines.len().div_ceil(usize::from(columns));
    let height = u16::try_from(per_column)
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let popup = centered(area, 40 * columns, height);
    let block = Block::bordered()
        .border_style(theme.block(true))
        .title(Span::styled(" Keys — ? or Esc to close ", theme.base.title))
        .style(theme.base.text);
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let rows = usize::from(inner.height).max(1);
    let areas = Layout::horizontal(vec![
        Constraint::Ratio(1, u32::from(columns));
        usize::from(columns)
    ])
    .split(inner);
    let mut rest = lines.as_slice();
    for a in areas.iter() {
        // A column never starts with a blank line.
        while rest.first().is_some_and(|l| l.width() == 0) {
            rest = &rest[1..];
        }
        let take = rows.min(rest.len());
        frame.render_widget(
            Paragraph::new(rest[..take].to_vec()).style(theme.base.text),
            *a,
        );
        rest = &rest[take..];
    }
}

fn all_lines(app: &App) -> Vec<Line<'static>> {
    let theme = app.theme();
    let mut lines = Vec::new();
    for (i, mode) in SECTIONS.iter().enumerate() {
        let entries: Vec<(String, &str)> = keys::help(*mode).collect();
        let key_w = entries
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            .min(13);
        if i > 0 {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(format!(" {}", mode.title()), theme.base.title));
        for (key, help) in entries {
            lines.push(Line::from(vec![
                Span::styled(format!(" {key:<key_w$} "), theme.base.key),
                Span::styled(help, theme.base.text),
            ]));
        }
    }
    lines
}
