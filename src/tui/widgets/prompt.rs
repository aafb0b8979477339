//! The acknowledgement prompt: what is being acknowledged, by whom, and the note being
//! typed. Enter records it, Esc cancels; every other printable key is text.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
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
            Span::styled(NOTE_LABEL, theme.base.muted),
            Span::styled(
                format!("{}▏", tail(&p.note, note_room(popup.width))),
                theme.base.text,
            ),
        ]),
        Line::raw(""),
        Line::from(hint),
    ];
    frame.render_widget(Clear, popup);
    // No wrapping: a long note would push the key hint out of the box. The note line
    // shows the end of the note, where the typing happens.
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// Columns left for the note text: the popup less its borders, the label and the cursor.
fn note_room(popup_width: u16) -> usize {
    usize::from(popup_width).saturating_sub(2 + NOTE_LABEL.len() + 1)
}

const NOTE_LABEL: &str = " note  ";

/// The end of `text` that fits in `cols` terminal columns, after a `…` when cut.
fn tail(text: &str, cols: usize) -> String {
    let width = |s: &str| Span::raw(s).width();
    if width(text) <= cols {
        return text.to_string();
    }
    let room = cols.saturating_sub(1);
    let mut used = 0;
    let mut start = text.len();
    for (i, c) in text.char_indices().rev() {
        let w = width(c.encode_utf8(&mut [0; 4]));
        if used + w > room {
            break;
        }
        used += w;
        start = i;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end_that_fits() {
        assert_eq!(tail("short", 10), "short");
        assert_eq!(tail("abcdefghij", 5), "…ghij");
        // Wide characters take two columns each.
        assert_eq!(tail("注意注意END", 6), "…意END");
        assert_eq!(tail("abc", 0), "…");
    }
}
