//! Cycle latency over the recent cycles, newest on the right.

use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

use crate::tui::app::App;

/// Draws the sparkline panel (never focused: it has nothing to select).
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let history = &app.view.latency_history;
    let room = usize::from(area.width.saturating_sub(4));
    let title = match (history.last(), history.iter().max()) {
        (Some(last), Some(max)) => [
            format!("Cycle latency {last} ms · max {max} ms"),
            format!("Latency {last} ms · max {max}"),
            format!("Latency {last} ms"),
        ]
        .into_iter()
        .find(|t| t.chars().count() <= room)
        .unwrap_or_default(),
        _ => "Cycle latency".to_string(),
    };
    let block = ratatui::widgets::Block::bordered()
        .style(theme.base.text)
        .border_style(theme.block(false))
        .title(Span::styled(format!(" {title} "), theme.base.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if history.is_empty() {
        frame.render_widget(
            Paragraph::new(" no cycles yet").style(theme.on_base(theme.base.muted)),
            inner,
        );
        return;
    }
    let shown = &history[history.len().saturating_sub(usize::from(inner.width))..];
    frame.render_widget(
        Sparkline::default()
            .data(shown)
            .style(theme.on_base(theme.widget.sparkline)),
        inner,
    );
}
