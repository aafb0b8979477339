//! The acknowledgement prompt: what is being acknowledged, by whom, and the note being
//! typed. Enter records it, Esc cancels; every other printable key is text.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::severity_label;
use crate::domain::format_amount;
use crate::tui::app::{App, MAX_NOTE};
use crate::tui::keys::{self, Mode};
use crate::tui::ui::centered;

/// Draws the prompt, if one is open.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let Some(p) = &app.prompt else { return };
    let theme = app.theme();
    let popup = centered(area, 72, 9);
    let block = Block::bordered()
        .border_style(theme.block(true))
        .title(Span::styled(" Acknowledge discrepancy ", theme.base.title))
        .style(theme.widget.prompt);
    let mut hint = vec![Span::raw(" ")];
    for (key, label) in keys::footer(Mode::Prompt) {
        hint.push(Span::styled(key, theme.base.key));
        hint.push(Span::styled(format!(" {label}  "), theme.base.muted));
    }
    hint.push(Span::styled(
        format!("{}/{MAX_NOTE}", p.note.chars().count()),
        theme.base.muted,
    ));
    let lines = vec![
        Line::from(vec![
            Span::styled(
                format!(" {} ", severity_label(p.severity)),
                theme.severity(p.severity),
            ),
            Span::styled(p.id.to_string(), theme.base.text),
            Span::styled(
                format!("  difference {}", format_amount(p.difference)),
                theme.base.muted,
            ),
        ]),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" by    ", theme.base.muted),
            Span::styled(app.user.clone(), theme.base.text),
        ]),
        Line::from(vec![
            Span::styled(" note  ", theme.base.muted),
            Span::styled(format!("{}▏", p.note), theme.base.text),
        ]),
        Line::raw(""),
        Line::from(hint),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );
}
