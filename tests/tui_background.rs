//! Themes paint the whole screen: in the real `TestBackend` buffer, every cell's
//! background is the theme's base background or the explicit background of one of its
//! slots, never the terminal's default (`Color::Reset`), in every theme, at the minimum
//! and a roomy size, with data in every panel, a prompt and the help open. And the
//! selected row stays legible in every theme and every discrepancy state.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/states.rs"]
mod states;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

use recon::tui::keys::Command;
use recon::tui::theme::SHIPPED;
use recon::tui::{ui, Action, App, Panel};

fn draw(app: &App) -> Buffer {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    terminal.backend().buffer().clone()
}

fn line(buffer: &Buffer, y: u16) -> String {
    (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol().to_string())
        .collect()
}

fn screen(buffer: &Buffer) -> String {
    (0..buffer.area.height)
        .map(|y| line(buffer, y))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The screens to check: the main screen with each panel focused, the filter being
/// typed, the acknowledgement prompt and the help.
fn screens(theme: &str, w: u16, h: u16) -> Vec<(String, App)> {
    let mut out = Vec::new();
    for (i, panel) in Panel::ORDER.iter().enumerate() {
        let mut app = states::app(theme, w, h);
        while app.focus != *panel {
            app.update(Action::Command(Command::FocusNext));
        }
        app.update(Action::Command(Command::Down));
        out.push((format!("focus {i}"), app));
    }
    let mut filter = states::app(theme, w, h);
    filter.update(Action::Command(Command::FocusPrev));
    filter.update(Action::Command(Command::Filter));
    filter.update(Action::Input('c'));
    out.push(("filter".into(), filter));
    let mut prompt = states::app(theme, w, h);
    prompt.update(Action::Command(Command::Acknowledge));
    prompt.update(Action::Input('x'));
    out.push(("prompt".into(), prompt));
    let mut help = states::app(theme, w, h);
    help.update(Action::Command(Command::Help));
    out.push(("help".into(), help));
    out
}

#[test]
fn every_cell_has_the_theme_background_in_every_theme() {
    for (name, _) in SHIPPED {
        for (w, h) in [(80, 24), (120, 40)] {
            for (what, app) in screens(name, w, h) {
                let theme = app.theme();
                let base = theme.base.text.bg;
                assert!(
                    base.is_some_and(|c| c != Color::Reset),
                    "{name}: [base] text has no background of its own: {base:?}"
                );
                let allowed: Vec<Color> = theme
                    .slots()
                    .iter()
                    .filter_map(|(_, s)| s.bg)
                    .filter(|c| *c != Color::Reset)
                    .collect();
                let buffer = draw(&app);
                for y in 0..h {
                    for x in 0..w {
                        let bg = buffer[(x, y)].bg;
                        assert!(
                            allowed.contains(&bg),
                            "{name} {w}x{h} {what}: cell ({x},{y}) '{}' has background {bg:?}\n{}",
                            buffer[(x, y)].symbol(),
                            screen(&buffer)
                        );
                    }
                }
            }
        }
    }
}

/// Cells of the selected (`▶`) row inside the panel that contains `needle` on that row.
fn selected_row_cells(buffer: &Buffer, needle: &str) -> Option<Vec<(u16, u16)>> {
    for y in 0..buffer.area.height {
        let text = line(buffer, y);
        if text.contains('▶') && text.contains(needle) {
            // Between the panel's left and right borders.
            let cells: Vec<String> = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            let start = cells.iter().position(|c| c == "▶")?;
            let end = cells[start..]
                .iter()
                .position(|c| c == "│" || c == "┃")
                .map_or(cells.len(), |p| start + p);
            return Some((start as u16..end as u16).map(|x| (x, y)).collect());
        }
    }
    None
}

#[test]
fn the_selected_row_is_legible_in_every_theme_and_state() {
    // An open row, the snoozed acknowledged one and the explained one.
    let rows = [
        ("coinbase-main:BTC", "● open"),
        ("coinbase-main:DOGE", "✓ snoozed 12:00"),
        ("coinbase-main:SOL", "⇄ explained"),
    ];
    for (name, _) in SHIPPED {
        for (id, state) in rows {
            let mut app = states::app(name, 120, 40);
            let mut found = None;
            for _ in 0..app.discrepancies.len() {
                let buffer = draw(&app);
                if let Some(cells) = selected_row_cells(&buffer, id) {
                    found = Some((buffer, cells));
                    break;
                }
                app.update(Action::Command(Command::Down));
            }
            let (buffer, cells) = found.unwrap_or_else(|| panic!("{name}: {id} never selected"));
            let text = line(&buffer, cells[0].1);
            assert!(text.contains(state), "{name}: {id} is not {state}: {text}");
            for (x, y) in cells {
                let cell = &buffer[(x, y)];
                assert_ne!(
                    cell.fg,
                    cell.bg,
                    "{name}: {state} row {id}: '{}' at ({x},{y}) is {:?} on {:?}\n{text}",
                    cell.symbol(),
                    cell.fg,
                    cell.bg
                );
            }
        }
    }
}

#[test]
fn the_selected_balance_row_is_legible_in_every_theme() {
    for (name, _) in SHIPPED {
        let mut app = states::app(name, 120, 40);
        app.update(Action::Command(Command::FocusPrev));
        assert_eq!(app.focus, Panel::Balances);
        for _ in 0..app.visible.len() {
            let buffer = draw(&app);
            let cells = selected_row_cells(&buffer, "").unwrap();
            for (x, y) in cells {
                let cell = &buffer[(x, y)];
                assert_ne!(
                    cell.fg,
                    cell.bg,
                    "{name}: '{}' at ({x},{y}) is {:?} on {:?}\n{}",
                    cell.symbol(),
                    cell.fg,
                    cell.bg,
                    line(&buffer, y)
                );
            }
            app.update(Action::Command(Command::Down));
        }
    }
}
