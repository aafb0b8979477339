//! The acknowledgement and expectation prompts: what is being acknowledged (or declared in
//! flight), by whom, and the fields being typed — the note and an optional snooze for `a`;
//! the expected difference (prefilled), a duration and a note for `e`. Tab moves between
//! fields, Enter records, Esc cancels; every other printable key is text.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use super::severity_label;
use crate::domain::format_amount;
use crate::tui::app::{App, PromptField, PromptKind, MAX_NOTE};
use crate::tui::keys::{self, Mode};
use crate::tui::ui::centered;

/// Draws the prompt, if one is open.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let Some(p) = &app.prompt else { return };
    let theme = app.theme();
    let fields: &[(PromptField, &str, &str)] = match p.kind {
        PromptKind::Acknowledge => &[
            (PromptField::Note, " note      ", ""),
            (
                PromptField::Duration,
                " for       ",
                "  empty: until the gap moves",
            ),
        ],
        PromptKind::Expect => &[
            (
                PromptField::Difference,
                " expected  ",
                "  exchange − ledger",
            ),
            (
                PromptField::Duration,
                " for       ",
                "  empty: 24h · at most 30d",
            ),
            (PromptField::Note, " note      ", ""),
        ],
    };
    let title = match p.kind {
        PromptKind::Acknowledge => " Acknowledge discrepancy ",
        PromptKind::Expect => " Declare a movement in flight ",
    };
    let popup = centered(area, 72, 8 + fields.len() as u16);
    let block = Block::bordered()
        .border_style(theme.block(true))
        .title(Span::styled(title, theme.base.title))
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
    let mut lines = vec![
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
            Span::styled(" by        ", theme.base.muted),
            Span::styled(app.user.clone(), theme.base.text),
        ]),
    ];
    for (field, label, help) in fields {
        let focused = p.field == *field;
        let text = match field {
            PromptField::Difference => &p.amount,
            PromptField::Duration => &p.duration,
            PromptField::Note => &p.note,
        };
        let room = note_room(popup.width).saturating_sub(if focused { 0 } else { 1 });
        let mut shown = tail(text, room.saturating_sub(help.chars().count()).max(8));
        if focused {
            shown.push('▏');
        }
        lines.push(Line::from(vec![
            Span::styled(
                *label,
                if focused {
                    theme.base.key
                } else {
                    theme.base.muted
                },
            ),
            Span::styled(shown, theme.base.text),
            Span::styled(*help, theme.base.muted),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(hint));
    frame.render_widget(Clear, popup);
    // No wrapping: a long note would push the key hint out of the box. Each field shows
    // the end of its text, where the typing happens.
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// Columns left for a field's text: the popup less its borders, the label and the cursor.
fn note_room(popup_width: u16) -> usize {
    usize::from(popup_width).saturating_sub(2 + LABEL_WIDTH + 1)
}

const LABEL_WIDTH: usize = 11;

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
