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
            Mode::Normal | Mode::Help | Mode::Detail => {}
        }
    }

    /// Re-filters, keeping the selected lines when they still pass (so `Esc` on a filter
    /// leaves the cursor on the row that was found), else going to the top.
    pub(super) fn filter_changed(&mut self) {
        let balance = self.selected_balance_key();
        let discrepancy = self
            .discrepancies
            .get(self.discrepancy_cursor.selected)
            .map(|l| l.discrepancy.id.clone());
        self.apply_filter();
        match balance.and_then(|(e, a)| {
            self.visible
                .iter()
                .position(|&i| self.balances[i].exchange == e && self.balances[i].asset == a)
        }) {
            Some(i) => self.balance_cursor.selected = i,
            None => self.balance_cursor.top(),
        }
        match discrepancy.and_then(|id| {
            self.discrepancies
                .iter()
                .position(|l| l.discrepancy.id == id)
        }) {
            Some(i) => self.discrepancy_cursor.selected = i,
            None => self.discrepancy_cursor.top(),
        }
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
            (Mode::Detail, Command::CloseDetail) => {
                self.detail.close();
                self.mode = Mode::Normal;
            }
            (Mode::Detail, Command::Up) => return self.scroll_detail(-1, false),
            (Mode::Detail, Command::Down) => return self.scroll_detail(1, false),
            (Mode::Detail, Command::PageUp) => return self.scroll_detail(-1, true),
            (Mode::Detail, Command::PageDown) => return self.scroll_detail(1, true),
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
            Command::Filter => {
                // `/` filters the panel it is pressed in (the balances otherwise).
                let panel = if self.focus == Panel::Discrepancies {
                    Panel::Discrepancies
                } else {
                    Panel::Balances
                };
                if panel != self.filter_panel {
                    self.filter_panel = panel;
                    self.filter_changed();
                }
                self.mode = Mode::Filter;
            }
            Command::Unacknowledge => return self.withdraw(),
            Command::NextSort => {
                let valued = self
                    .view
                    .report
                    .as_deref()
                    .is_some_and(|r| r.valuation.is_some());
                self.sort = self.sort.next(valued);
                self.filter_changed();
                self.info(format!("discrepancies by {}", self.sort.label()));
            }
            Command::ToggleOk => {
                self.hide_ok = !self.hide_ok;
                self.filter_changed();
                self.info(if self.hide_ok {
                    "balances that match are hidden".into()
                } else {
                    "every balance is shown".into()
                });
            }
            Command::MinSeverity(n) => {
                let sev = crate::tui::triage::severity_key(char::from(b'0' + n));
                self.min_severity = if self.min_severity == sev { None } else { sev };
                self.filter_changed();
                self.info(match self.min_severity {
                    Some(s) => format!("showing {s} and worse"),
                    None => "every severity is shown".into(),
                });
            }
            Command::JumpNext => self.jump(true),
            Command::JumpPrev => self.jump(false),
            Command::Zoom => self.zoomed = !self.zoomed,
            Command::Copy => self.copy_selected(),
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
            | Command::NextField
            | Command::PrevField
            | Command::Quit => {}
        }
        None
    }

    /// Moves the focused panel's cursor to the next (or previous) line that needs a
    /// person: a counted critical discrepancy, a balance with one or not known, a failed
    /// exchange. Wraps; says so when there is none.
    fn jump(&mut self, forward: bool) {
        use crate::domain::DiscrepancySeverity::Critical;
        use crate::engine::ExchangeStatus;
        use crate::tui::triage::jump;
        let found = match self.focus {
            Panel::Discrepancies => jump(
                self.discrepancies.len(),
                self.discrepancy_cursor.selected,
                forward,
                |i| {
                    let d = &self.discrepancies[i].discrepancy;
                    d.is_counted() && d.severity == Critical
                },
            ),
            Panel::Balances => jump(
                self.visible.len(),
                self.balance_cursor.selected,
                forward,
                |i| {
                    let l = &self.balances[self.visible[i]];
                    l.unavailable.is_some()
                        || l.discrepancy.is_some_and(|(s, st)| {
                            s == Critical && st == crate::domain::DiscrepancyState::Open
                        })
                },
            ),
            Panel::Exchanges => {
                let report = self.view.report.clone();
                let order = report
                    .as_deref()
                    .map(crate::tui::widgets::exchanges::exchange_order)
                    .unwrap_or_default();
                jump(order.len(), self.exchanges.selected, forward, |i| {
                    report
                        .as_ref()
                        .is_some_and(|r| r.exchanges[order[i]].status != ExchangeStatus::Ok)
                })
            }
            Panel::Audit => None,
        };
        match found {
            Some(i) => {
                let page = self.page(self.focus);
                let len = self.focused_len();
                let cursor = self.focused_cursor();
                cursor.selected = i;
                cursor.clamp(len, page);
                self.selection_seen();
            }
            None => self.info("nothing critical or failed here".into()),
        }
    }

    /// `u`: withdraws the selected discrepancy's acknowledgement.
    fn withdraw(&mut self) -> Option<Effect> {
        if !matches!(self.focus, Panel::Discrepancies | Panel::Balances) {
            self.error("focus the discrepancies or balances to withdraw an acknowledgement".into());
            return None;
        }
        let Some(d) = self.selected_discrepancy() else {
            self.error("no discrepancy selected".into());
            return None;
        };
        if d.acknowledgement.is_none() {
            let text = format!("{} is not acknowledged", d.id);
            self.error(text);
            return None;
        }
        let (exchange, asset, id) = (d.exchange.clone(), d.asset.clone(), d.id.clone());
        self.info(format!("withdrawing the acknowledgement of {id}…"));
        Some(Effect::Withdraw {
            exchange,
            asset,
            by: self.user.clone(),
        })
    }

    /// `y`: the selected id (or exchange name) goes to the clipboard through the terminal
    /// (OSC 52), which works over ssh and tmux without a clipboard daemon.
    fn copy_selected(&mut self) {
        let text = match self.focus {
            Panel::Exchanges => self.selected_exchange().map(|e| e.name.to_string()),
            Panel::Audit => self
                .audit
                .lines
                .get(self.audit.cursor.selected)
                .map(|l| l.seq.to_string()),
            _ => self.selected_discrepancy().map(|d| d.id.to_string()),
        };
        match text {
            Some(t) => {
                self.info(format!("copied {t}"));
                self.clipboard = Some(t);
            }
            None => self.error("nothing selected to copy".into()),
        }
    }

    /// The wheel scrolls the panel under the pointer (three rows a notch); a click focuses
    /// the panel under it and selects the row clicked.
    pub(super) fn pointer(&mut self, p: crate::tui::keys::Pointer) -> Option<Effect> {
        use crate::tui::keys::Pointer;
        let (column, row) = match p {
            Pointer::Wheel { column, row, .. } | Pointer::Click { column, row } => (column, row),
        };
        let area = ratatui::layout::Rect::new(0, 0, self.size.0, self.size.1);
        let r = crate::tui::ui::regions(area, self);
        let inside = |a: ratatui::layout::Rect| {
            column >= a.x && column < a.x + a.width && row >= a.y && row < a.y + a.height
        };
        let (panel, rect) = [
            (Panel::Exchanges, r.exchanges),
            (Panel::Balances, r.balances),
            (Panel::Discrepancies, r.discrepancies),
            (Panel::Audit, r.audit),
        ]
        .into_iter()
        .find(|(_, a)| inside(*a))?;
        self.focus = panel;
        match p {
            Pointer::Wheel { down, .. } => self.move_by(if down { 3 } else { -3 }),
            Pointer::Click { .. } => {
                // Tables have a header row under the border; the audit list does not.
                let first = rect.y + if panel == Panel::Audit { 1 } else { 2 };
                if panel == Panel::Exchanges || row < first || row + 1 >= rect.y + rect.height {
                    self.selection_seen();
                    return None;
                }
                let offset = match panel {
                    Panel::Balances => self.balance_cursor.offset,
                    Panel::Discrepancies => self.discrepancy_cursor.offset,
                    Panel::Audit => self.audit.cursor.offset,
                    Panel::Exchanges => 0,
                };
                let target = offset + usize::from(row - first);
                let len = self.focused_len();
                if target < len {
                    let current = match panel {
                        Panel::Balances => self.balance_cursor.selected,
                        Panel::Discrepancies => self.discrepancy_cursor.selected,
                        _ => self.audit.cursor.selected,
                    };
                    let effect = self.move_by(target as isize - current as isize);
                    self.selection_seen();
                    return effect;
                }
                None
            }
        }
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
                let loud = p.severity >= crate::domain::DiscrepancySeverity::High;
                if self.require_ack_note && loud && note.is_empty() {
                    return self.refuse_field(
                        PromptField::Note,
                        format!(
                            "a {} discrepancy needs a note to be acknowledged",
                            p.severity
                        ),
                    );
                }
                if self.focus == Panel::Discrepancies {
                    self.keep_row_after_ack =
                        Some((p.id.clone(), self.discrepancy_cursor.selected));
                }
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
