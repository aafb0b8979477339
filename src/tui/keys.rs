//! Keys are data: one table of (modes, keys, command, help text, footer label). The event
//! mapping, the `?` overlay and the footer all read it, so help never drifts from what a
//! key does. Prompt modes see keys first: in the acknowledgement prompt `q` types a q.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App};

/// Which keys apply: the console, the help overlay, the acknowledgement prompt, or the
/// balance filter being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The console.
    Normal,
    /// The `?` overlay.
    Help,
    /// Typing the note of an acknowledgement.
    Prompt,
    /// Typing the balance filter.
    Filter,
    /// The detail view of a row (`Enter`).
    Detail,
}

impl Mode {
    /// Every mode, in the order the help overlay lists them.
    pub const ALL: [Self; 5] = [
        Self::Normal,
        Self::Prompt,
        Self::Filter,
        Self::Detail,
        Self::Help,
    ];

    /// Section heading in the help overlay.
    pub fn title(self) -> &'static str {
        match self {
            Self::Normal => "Console",
            Self::Help => "Help",
            Self::Prompt => "Acknowledge / expect prompt",
            Self::Filter => "Filter",
            Self::Detail => "Detail view",
        }
    }
}

/// What a key asks for. Text typed into a prompt arrives as [`Action::Input`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Run a cycle now.
    Reconcile,
    /// Open the note prompt for the selected discrepancy.
    Acknowledge,
    /// Open the expectation prompt for the selected discrepancy.
    Expect,
    /// Pause or resume the interval loop.
    TogglePause,
    /// Focus the next panel.
    FocusNext,
    /// Focus the previous panel.
    FocusPrev,
    /// Selection up one row.
    Up,
    /// Selection down one row.
    Down,
    /// Selection up one page.
    PageUp,
    /// Selection down one page.
    PageDown,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Start typing the balance filter.
    Filter,
    /// Clear the balance filter.
    ClearFilter,
    /// Next theme.
    NextTheme,
    /// Open the help overlay.
    Help,
    /// Close the help overlay.
    CloseHelp,
    /// Confirm the prompt (record the ack, keep the filter).
    Confirm,
    /// Leave the prompt without acting.
    Cancel,
    /// Delete the last typed character.
    DeleteChar,
    /// The prompt's next field.
    NextField,
    /// The prompt's previous field.
    PrevField,
    /// Withdraw the selected discrepancy's acknowledgement.
    Unacknowledge,
    /// Next sort key for the discrepancies.
    NextSort,
    /// Hide or show balances that match.
    ToggleOk,
    /// Only lines at least this severe (1 low … 4 critical); the same key again clears.
    MinSeverity(u8),
    /// Jump to the next critical line or failure.
    JumpNext,
    /// Jump to the previous critical line or failure.
    JumpPrev,
    /// Zoom the focused panel to the whole screen, and back.
    Zoom,
    /// Copy the selected id to the clipboard (OSC 52).
    Copy,
    /// Open the detail view of the selected row.
    OpenDetail,
    /// Close the detail view.
    CloseDetail,
    /// Quit.
    Quit,
}

/// A key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl, Alt (Shift is folded into the character or `BackTab`).
    pub modifiers: KeyModifiers,
}

const fn key(code: KeyCode) -> Key {
    Key {
        code,
        modifiers: KeyModifiers::NONE,
    }
}

const fn ch(c: char) -> Key {
    key(KeyCode::Char(c))
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::CONTROL,
    }
}

/// One row of the key table.
#[derive(Debug)]
pub struct Binding {
    /// Where it applies.
    pub modes: &'static [Mode],
    /// Keys that trigger it (the first is shown in the footer).
    pub keys: &'static [Key],
    /// What it does.
    pub command: Command,
    /// Help overlay text.
    pub help: &'static str,
    /// Footer label, if it earns a place there.
    pub footer: Option<&'static str>,
}

use Mode::{Detail, Filter, Help, Normal, Prompt};

/// Every key recon understands.
#[rustfmt::skip]
pub static BINDINGS: &[Binding] = &[
    Binding { modes: &[Normal], keys: &[ch('r')], command: Command::Reconcile, help: "reconcile now", footer: Some("reconcile") },
    Binding { modes: &[Normal], keys: &[ch('a')], command: Command::Acknowledge, help: "acknowledge discrepancy", footer: Some("ack") },
    Binding { modes: &[Normal], keys: &[ch('e')], command: Command::Expect, help: "expect a transfer", footer: Some("expect") },
    Binding { modes: &[Normal], keys: &[ch('u')], command: Command::Unacknowledge, help: "withdraw acknowledgement", footer: None },
    Binding { modes: &[Normal], keys: &[ch('p')], command: Command::TogglePause, help: "pause / resume loop", footer: Some("pause") },
    Binding { modes: &[Normal], keys: &[key(KeyCode::Tab)], command: Command::FocusNext, help: "next / previous panel", footer: Some("focus") },
    Binding { modes: &[Normal], keys: &[key(KeyCode::BackTab)], command: Command::FocusPrev, help: "next / previous panel", footer: None },
    Binding { modes: &[Normal], keys: &[key(KeyCode::Up), ch('k')], command: Command::Up, help: "move up / down", footer: None },
    Binding { modes: &[Normal], keys: &[key(KeyCode::Down), ch('j')], command: Command::Down, help: "move up / down", footer: None },
    Binding { modes: &[Normal], keys: &[key(KeyCode::PageUp)], command: Command::PageUp, help: "page up / down", footer: None },
    Binding { modes: &[Normal], keys: &[key(KeyCode::PageDown)], command: Command::PageDown, help: "page up / down", footer: None },
    Binding { modes: &[Normal], keys: &[ch('g'), key(KeyCode::Home)], command: Command::Top, help: "first row / newest audit", footer: None },
    Binding { modes: &[Normal], keys: &[ch('G'), key(KeyCode::End)], command: Command::Bottom, help: "last row", footer: None },
    Binding { modes: &[Normal], keys: &[ch('/')], command: Command::Filter, help: "filter the panel", footer: Some("filter") },
    Binding { modes: &[Normal], keys: &[key(KeyCode::Esc)], command: Command::ClearFilter, help: "clear the filter", footer: None },
    Binding { modes: &[Normal], keys: &[ch('s')], command: Command::NextSort, help: "next sort key", footer: None },
    Binding { modes: &[Normal], keys: &[ch('o')], command: Command::ToggleOk, help: "hide / show ok balances", footer: None },
    Binding { modes: &[Normal], keys: &[ch('1')], command: Command::MinSeverity(1), help: "minimum severity / off", footer: None },
    Binding { modes: &[Normal], keys: &[ch('2')], command: Command::MinSeverity(2), help: "minimum severity / off", footer: None },
    Binding { modes: &[Normal], keys: &[ch('3')], command: Command::MinSeverity(3), help: "minimum severity / off", footer: None },
    Binding { modes: &[Normal], keys: &[ch('4')], command: Command::MinSeverity(4), help: "minimum severity / off", footer: None },
    Binding { modes: &[Normal], keys: &[ch('n')], command: Command::JumpNext, help: "next critical / failure", footer: None },
    Binding { modes: &[Normal], keys: &[ch('N')], command: Command::JumpPrev, help: "next critical / failure", footer: None },
    Binding { modes: &[Normal], keys: &[ch('z')], command: Command::Zoom, help: "zoom the panel / back", footer: None },
    Binding { modes: &[Normal], keys: &[ch('y')], command: Command::Copy, help: "copy the selected id", footer: None },
    Binding { modes: &[Normal], keys: &[ch('t')], command: Command::NextTheme, help: "next theme", footer: None },
    Binding { modes: &[Normal], keys: &[key(KeyCode::Enter)], command: Command::OpenDetail, help: "detail of the row", footer: None },
    Binding { modes: &[Normal], keys: &[ch('?')], command: Command::Help, help: "this help", footer: Some("help") },
    Binding { modes: &[Help], keys: &[ch('?'), key(KeyCode::Esc)], command: Command::CloseHelp, help: "close help", footer: Some("close") },
    Binding { modes: &[Prompt], keys: &[key(KeyCode::Enter)], command: Command::Confirm, help: "record it", footer: Some("confirm") },
    Binding { modes: &[Prompt], keys: &[key(KeyCode::Tab)], command: Command::NextField, help: "next / previous field", footer: Some("field") },
    Binding { modes: &[Prompt], keys: &[key(KeyCode::BackTab)], command: Command::PrevField, help: "next / previous field", footer: None },
    Binding { modes: &[Filter], keys: &[key(KeyCode::Enter)], command: Command::Confirm, help: "keep the filter", footer: Some("keep") },
    Binding { modes: &[Prompt], keys: &[key(KeyCode::Esc)], command: Command::Cancel, help: "cancel", footer: Some("cancel") },
    Binding { modes: &[Filter], keys: &[key(KeyCode::Esc)], command: Command::Cancel, help: "clear the filter", footer: Some("clear") },
    Binding { modes: &[Prompt, Filter], keys: &[key(KeyCode::Backspace)], command: Command::DeleteChar, help: "delete character", footer: None },
    Binding { modes: &[Detail], keys: &[key(KeyCode::Esc)], command: Command::CloseDetail, help: "close the detail", footer: Some("close") },
    Binding { modes: &[Detail], keys: &[key(KeyCode::Up), ch('k')], command: Command::Up, help: "scroll", footer: Some("scroll") },
    Binding { modes: &[Detail], keys: &[key(KeyCode::Down), ch('j')], command: Command::Down, help: "scroll", footer: None },
    Binding { modes: &[Detail], keys: &[key(KeyCode::PageUp)], command: Command::PageUp, help: "page; more audit history", footer: None },
    Binding { modes: &[Detail], keys: &[key(KeyCode::PageDown)], command: Command::PageDown, help: "page; more audit history", footer: None },
    Binding { modes: &[Normal, Help, Detail], keys: &[ch('q'), ctrl('c')], command: Command::Quit, help: "quit", footer: Some("quit") },
    Binding { modes: &[Prompt, Filter], keys: &[ctrl('c')], command: Command::Quit, help: "quit", footer: None },
];

/// Maps a terminal event to an action in the app's current mode.
pub fn to_action(app: &App, event: &Event) -> Option<Action> {
    match event {
        Event::Key(k) if k.kind != KeyEventKind::Release => key_action(app.mode(), k),
        Event::Resize(w, h) => Some(Action::Resize(*w, *h)),
        Event::Mouse(m) if app.mode() == Mode::Normal => {
            use crossterm::event::{MouseButton, MouseEventKind};
            let (column, row) = (m.column, m.row);
            match m.kind {
                MouseEventKind::ScrollUp => Some(Action::Mouse(Pointer::Wheel {
                    column,
                    row,
                    down: false,
                })),
                MouseEventKind::ScrollDown => Some(Action::Mouse(Pointer::Wheel {
                    column,
                    row,
                    down: true,
                })),
                MouseEventKind::Down(MouseButton::Left) => {
                    Some(Action::Mouse(Pointer::Click { column, row }))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// A mouse event the console acts on (`[ui] mouse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointer {
    /// The wheel turned over (column, row): scrolls the panel there.
    Wheel {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
        /// Towards the end of the list.
        down: bool,
    },
    /// A left click: focuses the panel there and selects the row clicked.
    Click {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
    },
}

/// Maps a key press in `mode`: a bound key gives its command; in the text modes any
/// other printable character is typed.
pub fn key_action(mode: Mode, event: &KeyEvent) -> Option<Action> {
    let pressed = normalise(event);
    if let Some(b) = lookup(mode, pressed) {
        return Some(Action::Command(b.command));
    }
    match (mode, pressed.code) {
        (Prompt | Filter, KeyCode::Char(c))
            if !pressed
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(Action::Input(c))
        }
        _ => None,
    }
}

/// The binding of `key` in `mode`, if any.
pub fn lookup(mode: Mode, key: Key) -> Option<&'static Binding> {
    BINDINGS
        .iter()
        .find(|b| b.modes.contains(&mode) && b.keys.contains(&key))
}

/// Shift is part of the character (`G`, `?`) or of `BackTab`; terminals disagree on
/// whether they also report it as a modifier, so it is dropped before matching.
fn normalise(event: &KeyEvent) -> Key {
    let modifiers = match event.code {
        KeyCode::Char(_) | KeyCode::BackTab => event.modifiers - KeyModifiers::SHIFT,
        _ => event.modifiers,
    };
    Key {
        code: event.code,
        modifiers: modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT),
    }
}

/// How a key is written in the footer and help (`r`, `Ctrl-C`, `PgDn`, `↑`).
pub fn label(key: Key) -> String {
    let base = match key.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) if key.modifiers.contains(KeyModifiers::CONTROL) => {
            c.to_ascii_uppercase().to_string()
        }
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Backspace => "Backspace".into(),
        other => format!("{other:?}"),
    };
    let mut out = String::new();
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        out.push_str("Ctrl-");
    }
    if key.modifiers.contains(KeyModifiers::ALT) {
        out.push_str("Alt-");
    }
    out + &base
}

/// The footer entries of `mode`: (first key, label).
pub fn footer(mode: Mode) -> impl Iterator<Item = (String, &'static str)> {
    BINDINGS
        .iter()
        .filter(move |b| b.modes.contains(&mode))
        .filter_map(|b| Some((label(*b.keys.first()?), b.footer?)))
}

/// The help entries of `mode`: (all keys, help text). Neighbouring bindings that share a
/// text are one entry (`1 2 3 4`, `n N`), and `quit` is listed once, in the console's own
/// section, so the whole table fits at 80×24.
pub fn help(mode: Mode) -> impl Iterator<Item = (String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for b in BINDINGS.iter().filter(|b| b.modes.contains(&mode)) {
        if b.command == Command::Quit && mode != Mode::Normal {
            continue;
        }
        let keys: Vec<String> = b.keys.iter().map(|k| label(*k)).collect();
        match out.last_mut() {
            Some((k, help)) if *help == b.help => {
                k.push(' ');
                k.push_str(&keys.join(" "));
            }
            _ => out.push((keys.join(" "), b.help)),
        }
    }
    out.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_one_mode() {
        for mode in Mode::ALL {
            let mut seen: Vec<Key> = Vec::new();
            for b in BINDINGS.iter().filter(|b| b.modes.contains(&mode)) {
                for k in b.keys {
                    assert!(!seen.contains(k), "{} bound twice in {mode:?}", label(*k));
                    seen.push(*k);
                }
            }
        }
    }

    #[test]
    fn every_mode_can_quit_with_ctrl_c() {
        for mode in Mode::ALL {
            assert_eq!(
                lookup(mode, ctrl('c')).map(|b| b.command),
                Some(Command::Quit)
            );
        }
    }

    #[test]
    fn shifted_characters_match_without_the_shift_flag() {
        let g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert!(matches!(
            key_action(Normal, &g),
            Some(Action::Command(Command::Bottom))
        ));
        let back = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert!(matches!(
            key_action(Normal, &back),
            Some(Action::Command(Command::FocusPrev))
        ));
    }

    #[test]
    fn labels_read_like_a_keyboard() {
        assert_eq!(label(ctrl('c')), "Ctrl-C");
        assert_eq!(label(key(KeyCode::PageDown)), "PgDn");
        assert_eq!(label(key(KeyCode::BackTab)), "Shift-Tab");
    }
}
