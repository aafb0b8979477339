//! Keys and typed text: what each command does in each mode. Split from `app.rs`, which
//! holds the state and the engine-facing half of `update`.

use super::{AckPrompt, App, Panel};
use crate::engine::SeenGap;
use crate::tui::app::MAX_NOTE;
use crate::tui::cursor::Cursor;
use crate::tui::effects::Effect;
use crate::tui::keys::{Command, Mode};

impl App {
    pub(super) fn input(&mut self, c: char) {
        match self.mode {
            Mode::Prompt => {
                if let Some(p) = &mut self.prompt {
                    if p.note.chars().count() < MAX_NOTE && !c.is_control() {
                        p.note.push(c);
                    }
                }
            }
            Mode::Filter => {
                if !c.is_control() {
                    self.filter.push(c);
                    self.filter_changed();
                }
            }
            Mode::Normal | Mode::Help | Mode::Detail => {}
        }
    }

    fn filter_changed(&mut self) {
        self.apply_filter();
        self.balance_cursor.top();
        self.clamp_cursors();
    }

    pub(super) fn command(&mut self, c: Command) -> Option<Effect> {
        match (self.mode, c) {
            (_, Command::Quit) => self.quit = true,
            (Mode::Prompt, Command::Confirm) => return self.confirm_ack(),
            (Mode::Prompt, Command::Cancel) => {
                self.prompt = None;
                self.mode = Mode::Normal;
            }
            (Mode::Prompt, Command::DeleteChar) => {
                if let Some(p) = &mut self.prompt {
                    p.note.pop();
                }
            }
            (Mode::Filter, Command::Confirm) => self.mode = Mode::Normal,
            (Mode::Filter, Command::Cancel) => {
                self.mode = Mode::Normal;
                self.filter.clear();
                self.filter_changed();
            }
            (Mode::Filter, Command::DeleteChar) => {
                self.filter.pop();
                self.filter_changed();
            }
            (Mode::Help, Command::CloseHelp) => self.mode = Mode::Normal,
            (Mode::Detail, Command::CloseDetail) => {
                self.detail.close();
                self.mode = Mode::Normal;
            }
            (Mode::Detail, Command::Up) => return self.scroll_detail(-1, false),
            (Mode::Detail, Command::Down) => return self.scroll_detail(1, false),
            (Mode::Detail, Command::PageUp) => return self.scroll_detail(-1, true),
            (Mode::Detail, Command::PageDown) => return self.scroll_detail(1, true),
            (Mode::Normal, c) => return self.normal(c),
            _ => {}
        }
        None
    }

    fn normal(&mut self, c: Command) -> Option<Effect> {
        match c {
            Command::Reconcile => {
                self.info("reconcile requested".into());
                return Some(Effect::Reconcile);
            }
            Command::TogglePause => return Some(Effect::SetPaused(!self.view.paused)),
            Command::Acknowledge => self.open_prompt(),
            Command::FocusNext => self.focus = self.focus.step(1),
            Command::FocusPrev => self.focus = self.focus.step(Panel::ORDER.len() - 1),
            Command::Up => return self.move_by(-1),
            Command::Down => return self.move_by(1),
            Command::PageUp => return self.move_by(-(self.page(self.focus) as isize)),
            Command::PageDown => return self.move_by(self.page(self.focus) as isize),
            Command::Top => {
                if self.focus == Panel::Audit {
                    return self.audit.top();
                }
                self.focused_cursor().top();
            }
            Command::Bottom => {
                let page = self.page(self.focus);
                match self.focus {
                    Panel::Audit => self.audit.bottom(page),
                    _ => {
                        let len = self.focused_len();
                        self.focused_cursor().bottom(len, page);
                    }
                }
            }
            Command::Filter => self.mode = Mode::Filter,
            Command::ClearFilter => {
                if self.filter.is_empty() {
                    self.notice = None;
                } else {
                    self.filter.clear();
                    self.filter_changed();
                }
            }
            Command::NextTheme => {
                self.theme_index = (self.theme_index + 1) % self.themes.len();
                self.info(format!("theme: {}", self.theme().name));
            }
            Command::Help => self.mode = Mode::Help,
            Command::OpenDetail => return self.open_detail(),
            Command::CloseDetail
            | Command::CloseHelp
            | Command::Confirm
            | Command::Cancel
            | Command::DeleteChar
            | Command::Quit => {}
        }
        None
    }

    fn move_by(&mut self, delta: isize) -> Option<Effect> {
        let page = self.page(self.focus);
        if self.focus == Panel::Audit {
            return self.audit.move_by(delta, page);
        }
        let len = self.focused_len();
        self.focused_cursor().move_by(delta, len, page);
        None
    }

    fn focused_len(&self) -> usize {
        match self.focus {
            Panel::Exchanges => self.view.report.as_ref().map_or(0, |r| r.exchanges.len()),
            Panel::Balances => self.visible.len(),
            Panel::Discrepancies => self.discrepancies.len(),
            Panel::Audit => self.audit.lines.len(),
        }
    }

    fn focused_cursor(&mut self) -> &mut Cursor {
        match self.focus {
            Panel::Exchanges => &mut self.exchanges,
            Panel::Balances => &mut self.balance_cursor,
            Panel::Discrepancies => &mut self.discrepancy_cursor,
            Panel::Audit => &mut self.audit.cursor,
        }
    }

    fn open_prompt(&mut self) {
        // Only these two panels highlight a discrepancy; elsewhere `a` would act on a
        // selection that is not on screen.
        if !matches!(self.focus, Panel::Discrepancies | Panel::Balances) {
            self.error("focus the discrepancies or balances to acknowledge".into());
            return;
        }
        let Some(d) = self.selected_discrepancy() else {
            self.error("no discrepancy selected to acknowledge".into());
            return;
        };
        if let Some(a) = &d.acknowledgement {
            let text = format!("{} is already acknowledged by {}", d.id, a.by);
            self.error(text);
            return;
        }
        self.prompt = Some(AckPrompt {
            id: d.id.clone(),
            exchange: d.exchange.clone(),
            asset: d.asset.clone(),
            severity: d.severity,
            difference: d.difference,
            opened_at: d.opened_at,
            note: String::new(),
        });
        self.mode = Mode::Prompt;
    }

    fn confirm_ack(&mut self) -> Option<Effect> {
        self.mode = Mode::Normal;
        let p = self.prompt.take()?;
        self.info(format!("acknowledging {}…", p.id));
        Some(Effect::Acknowledge {
            exchange: p.exchange,
            asset: p.asset,
            by: self.user.clone(),
            note: p.note.trim().to_string(),
            // What the prompt showed: the store acknowledges that gap or refuses.
            seen: SeenGap {
                difference: p.difference,
                opened_at: Some(p.opened_at),
            },
        })
    }
}
