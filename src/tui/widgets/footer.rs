//! The key hints of the current mode, built from the key table; theme and user on the
//! right.

use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::keys;

/// Draws the footer.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let mut spans = vec![Span::raw(" ")];
    for (key, label) in keys::footer(app.mode()) {
        spans.push(Span::styled(key, theme.base.key));
        spans.push(Span::styled(format!(" {label}  "), theme.base.muted));
    }
    let keys = Line::from(spans);
    let right = format!("theme {} · {} ", theme.name, app.user);
    // The key hints come first; theme and user only where they do not cover one.
    let fits = keys.width() + right.chars().count() < usize::from(area.width);
    frame.render_widget(Paragraph::new(keys).style(theme.base.text), area);
    if fits {
        frame.render_widget(
            Paragraph::new(Span::styled(right, theme.base.muted))
                .style(theme.base.text)
                .alignment(Alignment::Right),
            area,
        );
    }
}
