//! Keys and typed text: what each command does in each mode. Split from `app.rs`, which
//! holds the state and the engine-facing half of `update`.

use super::{AckPrompt, App, Panel, PromptField, PromptKind};
use crate::domain::{format_amount, parse_amount, parse_snooze};
use crate::engine::SeenGap;
use crate::tui::app::{MAX_DIFFERENCE, MAX_DURATION, MAX_NOTE};
use crate::tui::cursor::Cursor;
use crate::tui::effects::Effect;
use crate::tui::keys::{Command, Mode};

impl App {
    pub(super) fn input(&mut self, c: char) {
        match self.mode {
            Mode::Prompt => {
                if let Some(p) = &mut self.prompt {
                    if c.is_control() {
                        return;
                    }
                    let (text, max) = match p.field {
                        PromptField::Difference => (&mut p.amount, MAX_DIFFERENCE),
                        PromptField::Duration => (&mut p.duration, MAX_DURATION),
                        PromptField::Note => (&mut p.note, MAX_NOTE),
                    };
                    // A number or a duration never holds a blank: typing one there is
                    // a slip, not content.
                    let fits = p.field == PromptField::Note || !c.is_whitespace();
                    if text.chars().count() < max && fits {
                        text.push(c);
                    }
                }
            }
            Mode::Filter => {
                if !c.is_control() {
                    self.filter.push(c);
                    self.filter_changed();
                }
            }
            Mode::Normal | Mode::Help => {}
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
            (Mode::Prompt, Command::Confirm) => return self.confirm_prompt(),
            (Mode::Prompt, Command::NextField) => self.step_field(1),
            (Mode::Prompt, Command::PrevField) => self.step_field(-1),
            (Mode::Prompt, Command::Cancel) => {
                self.prompt = None;
                self.mode = Mode::Normal;
            }
            (Mode::Prompt, Command::DeleteChar) => {
                if let Some(p) = &mut self.prompt {
                    match p.field {
                        PromptField::Difference => p.amount.pop(),
                        PromptField::Duration => p.duration.pop(),
                        PromptField::Note => p.note.pop(),
                    };
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
            (Mode::Normal, c) => {
                let effect = self.normal(c);
                if matches!(
                    c,
                    Command::Up
                        | Command::Down
                        | Command::PageUp
                        | Command::PageDown
                        | Command::Top
                        | Command::Bottom
                        | Command::FocusNext
                        | Command::FocusPrev
                ) {
                    self.selection_seen();
                }
                return effect;
            }
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
            Command::Acknowledge => self.open_prompt(PromptKind::Acknowledge),
            Command::Expect => self.open_prompt(PromptKind::Expect),
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
            Command::CloseHelp
            | Command::Confirm
            | Command::Cancel
            | Command::DeleteChar
            | Command::NextField
            | Command::PrevField
            | Command::Quit => {}
        }
        None
    }

    /// A NEW line (or exchange) the person moved onto has been seen.
    pub(super) fn selection_seen(&mut self) {
        match self.focus {
            Panel::Discrepancies => {
                if let Some(id) = self
                    .discrepancies
                    .get(self.discrepancy_cursor.selected)
                    .map(|l| l.discrepancy.id.clone())
                {
                    self.news.seen_discrepancy(&id);
                }
            }
            Panel::Exchanges => {
                if let Some(name) = self.selected_exchange().map(|e| e.name.clone()) {
                    self.news.seen_exchange(&name);
                }
            }
            Panel::Balances | Panel::Audit => {}
        }
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

    fn open_prompt(&mut self, kind: PromptKind) {
        let verb = match kind {
            PromptKind::Acknowledge => "acknowledge",
            PromptKind::Expect => "declare an expectation",
        };
        // Only these two panels highlight a discrepancy; elsewhere the key would act on a
        // selection that is not on screen.
        if !matches!(self.focus, Panel::Discrepancies | Panel::Balances) {
            self.error(format!("focus the discrepancies or balances to {verb}"));
            return;
        }
        let Some(d) = self.selected_discrepancy() else {
            self.error(format!("no discrepancy selected to {verb}"));
            return;
        };
        if let (PromptKind::Acknowledge, Some(a)) = (kind, &d.acknowledgement) {
            let text = format!("{} is already acknowledged by {}", d.id, a.by);
            self.error(text);
            return;
        }
        self.prompt = Some(AckPrompt {
            kind,
            field: match kind {
                PromptKind::Acknowledge => PromptField::Note,
                PromptKind::Expect => PromptField::Difference,
            },
            // What is unexplained is what is expected to be in flight.
            amount: format_amount(d.residual()),
            duration: String::new(),
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

    /// The prompt's fields in Tab order.
    fn fields(kind: PromptKind) -> &'static [PromptField] {
        match kind {
            PromptKind::Acknowledge => &[PromptField::Note, PromptField::Duration],
            PromptKind::Expect => &[
                PromptField::Difference,
                PromptField::Duration,
                PromptField::Note,
            ],
        }
    }

    fn step_field(&mut self, by: isize) {
        if let Some(p) = &mut self.prompt {
            let fields = Self::fields(p.kind);
            let i = fields.iter().position(|f| *f == p.field).unwrap_or(0);
            let n = fields.len() as isize;
            p.field = fields[((i as isize + by).rem_euclid(n)) as usize];
        }
    }

    /// Checks the prompt's fields; a bad one keeps the prompt open, focused on that field,
    /// with the reason in the status line.
    fn confirm_prompt(&mut self) -> Option<Effect> {
        let p = self.prompt.clone()?;
        let duration = p.duration.trim();
        let lasts = if duration.is_empty() {
            None
        } else {
            match parse_snooze(duration) {
                Ok(d) => Some(d),
                Err(e) => return self.refuse_field(PromptField::Duration, format!("for: {e}")),
            }
        };
        let seen = SeenGap {
            difference: p.difference,
            opened_at: Some(p.opened_at),
        };
        let note = p.note.trim().to_string();
        let effect = match p.kind {
            PromptKind::Acknowledge => {
                self.info(format!("acknowledging {}…", p.id));
                Effect::Acknowledge {
                    exchange: p.exchange,
                    asset: p.asset,
                    by: self.user.clone(),
                    note,
                    // What the prompt showed: the store acknowledges that gap or refuses.
                    seen,
                    snooze: lasts,
                }
            }
            PromptKind::Expect => {
                let difference = match parse_amount(p.amount.trim()) {
                    Ok(d) if d.is_zero() => {
                        return self.refuse_field(
                            PromptField::Difference,
                            "expected difference must not be zero".into(),
                        )
                    }
                    Ok(d) => d,
                    Err(e) => {
                        return self.refuse_field(
                            PromptField::Difference,
                            format!("expected difference {e}"),
                        )
                    }
                };
                self.info(format!("declaring an expectation on {}…", p.id));
                Effect::Expect {
                    exchange: p.exchange,
                    asset: p.asset,
                    difference: difference.normalize(),
                    lasts: lasts.unwrap_or(crate::domain::DEFAULT_EXPECTATION_FOR),
                    by: self.user.clone(),
                    note,
                    seen,
                }
            }
        };
        self.prompt = None;
        self.mode = Mode::Normal;
        Some(effect)
    }

    fn refuse_field(&mut self, field: PromptField, text: String) -> Option<Effect> {
        if let Some(p) = &mut self.prompt {
            p.field = field;
        }
        self.error(text);
        None
    }
}
