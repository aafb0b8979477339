//! The console's state and its one transition function. `App::update` is synchronous: it
//! changes view state, marks the screen dirty when something visible changed, and
//! returns an [`Effect`] for the engine instead of awaiting anything. "Now" is a field,
//! set by ticks, so a fixture state renders the same frame every time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

mod commands;
mod detail_view;

use super::audit_pane::AuditPane;
use super::cursor::Cursor;
use super::detail::DetailPane;
use super::effects::Effect;
use super::keys::{Command, Mode};
use super::news::News;
use super::rows::{balance_lines, discrepancy_lines, BalanceLine, DiscrepancyLine};
use super::theme::Theme;
use super::triage::{compare, Query, SortKey};
use super::ui;
use crate::domain::{
    Asset, BalanceDiscrepancy, DiscrepancyId, DiscrepancySeverity, ExchangeName, Expectation,
};
use crate::engine::EngineView;
use crate::error::ReconciliationError;
use crate::store::{AuditEntry, DiscrepancyHistory, StoreError};

/// Longest note accepted in the prompt.
pub const MAX_NOTE: usize = 200;
/// How long an informational notice stays in the status line before the summary returns.
pub const NOTICE_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(5);
/// How long an error notice stays: long enough to read a refusal with its figures.
pub const ERROR_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// Something that happened: a key, an engine update, a tick, an effect's outcome.
#[derive(Debug, Clone)]
pub enum Action {
    /// A bound key.
    Command(Command),
    /// A character typed into the prompt or the filter.
    Input(char),
    /// The engine published a new view (observed at the given time).
    Engine(Arc<EngineView>, DateTime<Utc>),
    /// The clock moved.
    Tick(DateTime<Utc>),
    /// The terminal was resized to (width, height).
    Resize(u16, u16),
    /// The mouse wheel or a click.
    Mouse(super::keys::Pointer),
    /// An audit page arrived.
    AuditLoaded {
        /// The request it answers.
        generation: u64,
        /// The entries, newest first.
        result: Result<Vec<AuditEntry>, Arc<ReconciliationError>>,
    },
    /// A discrepancy's history arrived (the detail view).
    HistoryLoaded {
        /// The request it answers.
        generation: u64,
        /// Its snapshot points and a page of its audit entries.
        result: Result<DiscrepancyHistory, Arc<ReconciliationError>>,
    },
    /// An acknowledgement was recorded, or not.
    Acknowledged {
        /// What was acknowledged.
        id: DiscrepancyId,
        /// The updated discrepancy.
        result: Result<Box<BalanceDiscrepancy>, Arc<ReconciliationError>>,
    },
    /// An acknowledgement was withdrawn, or not.
    Withdrawn {
        /// The discrepancy.
        id: DiscrepancyId,
        /// It, counted again.
        result: Result<Box<BalanceDiscrepancy>, Arc<ReconciliationError>>,
    },
    /// An expectation was declared, or not.
    Expected {
        /// The discrepancy it is about.
        id: DiscrepancyId,
        /// The stored expectation.
        result: Result<Box<Expectation>, Arc<ReconciliationError>>,
    },
    /// A fire-and-forget effect failed.
    EffectFailed {
        /// `reconcile`, `pause`, `resume`.
        what: &'static str,
        /// Why.
        error: Arc<ReconciliationError>,
    },
}

/// The panels that take focus, in `Tab` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    /// Exchange health.
    Exchanges,
    /// Balances table.
    Balances,
    /// Discrepancy list.
    Discrepancies,
    /// Audit trail.
    Audit,
}

impl Panel {
    /// `Tab` order.
    pub const ORDER: [Self; 4] = [
        Self::Exchanges,
        Self::Balances,
        Self::Discrepancies,
        Self::Audit,
    ];

    fn step(self, by: usize) -> Self {
        let i = Self::ORDER.iter().position(|p| *p == self).unwrap_or(0);
        Self::ORDER[(i + by) % Self::ORDER.len()]
    }
}

/// What the prompt records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// `a`: an acknowledgement, with an optional snooze.
    Acknowledge,
    /// `e`: an expectation (a movement in flight).
    Expect,
}

/// The field of the prompt that takes the typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptField {
    /// The expected difference (`e` only).
    Difference,
    /// How long it holds (`for`).
    Duration,
    /// Free text.
    Note,
}

/// Longest duration text (`30d`, `43200m`, `2592000s`).
pub const MAX_DURATION: usize = 8;
/// Longest difference text (29 digits, a sign and a point).
pub const MAX_DIFFERENCE: usize = 31;

/// The acknowledgement or expectation being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckPrompt {
    /// Acknowledgement or expectation.
    pub kind: PromptKind,
    /// The field being typed into (Tab moves on).
    pub field: PromptField,
    /// The expected difference as typed (`e`; prefilled with the difference on screen).
    pub amount: String,
    /// The snooze (`a`, empty: none) or the expectation's lifetime (`e`, empty: 24h).
    pub duration: String,
    /// Its id.
    pub id: DiscrepancyId,
    /// The exchange.
    pub exchange: ExchangeName,
    /// The asset.
    pub asset: Asset,
    /// Severity when the prompt opened.
    pub severity: DiscrepancySeverity,
    /// Difference when the prompt opened: what is acknowledged (the store refuses if the
    /// gap has moved beyond tolerance of it by the time Enter lands).
    pub difference: Decimal,
    /// When the episode on screen opened: a discrepancy that resolved and re-opened
    /// before Enter is another episode, and is not acknowledged.
    pub opened_at: DateTime<Utc>,
    /// The note so far.
    pub note: String,
}

/// A line in the header about the last thing done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// A failure (shown in the error style, kept until replaced).
    pub error: bool,
    /// When it was raised.
    pub at: DateTime<Utc>,
}

/// View state of the console. Holds no engine state of its own: the engine's view is
/// an immutable snapshot replaced on every change.
#[derive(Debug, Clone)]
pub struct App {
    /// The current time, for countdowns, ages and the spinner.
    pub now: DateTime<Utc>,
    /// The engine's latest state.
    pub view: Arc<EngineView>,
    /// Loaded themes, in `t` order.
    pub themes: Vec<Theme>,
    /// Index of the active theme.
    pub theme_index: usize,
    /// The focused panel.
    pub focus: Panel,
    /// Terminal size (width, height).
    pub size: (u16, u16),
    /// Exchange panel cursor.
    pub exchanges: Cursor,
    /// Every balance row of the report.
    pub balances: Vec<BalanceLine>,
    /// Indices of the rows the filter lets through.
    pub visible: Vec<usize>,
    /// Balance table cursor (over `visible`).
    pub balance_cursor: Cursor,
    /// Discrepancies, worst first.
    pub discrepancies: Vec<DiscrepancyLine>,
    /// Discrepancy list cursor.
    pub discrepancy_cursor: Cursor,
    /// The audit pane.
    pub audit: AuditPane,
    /// Balance filter text.
    pub filter: String,
    /// The acknowledgement being typed.
    pub prompt: Option<AckPrompt>,
    /// The detail view (`Enter`).
    pub detail: DetailPane,
    /// The latest notice.
    pub notice: Option<Notice>,
    /// Who acknowledges ($USER).
    pub user: String,
    /// The engine is gone (its task ended or crashed). Sticky: no notice, tick or later
    /// view clears it, so a frozen report is never shown under "RUNNING".
    pub engine_stopped: bool,
    /// Every discrepancy of the report, before the filter and the sort key.
    pub all_discrepancies: Vec<DiscrepancyLine>,
    /// How many of them are open, acknowledged and explained (counted once per report,
    /// not per frame).
    pub discrepancy_counts: [usize; 3],
    /// Natural column widths of the discrepancies, taken once per report.
    pub discrepancy_measure: super::widgets::discrepancies::Measure,
    /// Natural column widths of the balances, taken once per report.
    pub balance_measure: super::widgets::balances::Measure,
    /// The panel the filter text applies to (where `/` was pressed).
    pub filter_panel: Panel,
    /// Discrepancy order (`s`).
    pub sort: SortKey,
    /// Only lines at least this severe (`1`–`4`; the same key again clears it).
    pub min_severity: Option<DiscrepancySeverity>,
    /// Balances that match (`ok`) are hidden (`o`).
    pub hide_ok: bool,
    /// High/critical acknowledgements need a note (`[ui] require_ack_note`).
    pub require_ack_note: bool,
    /// After `a` + Enter: the acknowledged id and the row it was on, so the cursor stays
    /// put (on the next open line) when the acknowledged line moves down.
    pub(crate) keep_row_after_ack: Option<(DiscrepancyId, usize)>,
    /// The last report whose ledger could be read: its balances stand in, greyed and
    /// dated, while the ledger is unreadable.
    pub last_good: Option<Arc<crate::engine::ReconciliationReport>>,
    /// Set while the balances shown are [`Self::last_good`]'s: when that picture was taken.
    pub balances_as_of: Option<DateTime<Utc>>,
    /// The focused panel fills the screen (`z`).
    pub zoomed: bool,
    /// Text to put on the clipboard (taken by the loop, sent as OSC 52).
    pub clipboard: Option<String>,
    /// What reports brought: NEW marks, the bell, the title.
    pub news: News,
    /// Ring the bell on news (`[ui] bell`).
    pub bell: bool,
    /// A bell is owed to the terminal (taken by the loop).
    bell_pending: bool,
    /// The terminal title last set (`None`: not yet).
    title: Option<String>,
    mode: Mode,
    dirty: bool,
    quit: bool,
}

impl App {
    /// A console with no report yet.
    pub fn new(themes: Vec<Theme>, theme_index: usize, user: String, now: DateTime<Utc>) -> Self {
        let themes = if themes.is_empty() {
            vec![Theme::builtin_default()]
        } else {
            themes
        };
        Self {
            now,
            view: Arc::new(EngineView::default()),
            theme_index: theme_index.min(themes.len() - 1),
            themes,
            focus: Panel::Discrepancies,
            size: (ui::MIN_WIDTH, ui::MIN_HEIGHT),
            exchanges: Cursor::default(),
            balances: Vec::new(),
            visible: Vec::new(),
            balance_cursor: Cursor::default(),
            discrepancies: Vec::new(),
            discrepancy_cursor: Cursor::default(),
            audit: AuditPane::new(),
            filter: String::new(),
            prompt: None,
            detail: DetailPane::default(),
            notice: None,
            user,
            engine_stopped: false,
            all_discrepancies: Vec::new(),
            discrepancy_counts: [0; 3],
            discrepancy_measure: Default::default(),
            balance_measure: Default::default(),
            filter_panel: Panel::Balances,
            sort: SortKey::default(),
            min_severity: None,
            hide_ok: false,
            require_ack_note: true,
            keep_row_after_ack: None,
            last_good: None,
            balances_as_of: None,
            zoomed: false,
            clipboard: None,
            news: News::default(),
            bell: true,
            bell_pending: false,
            title: None,
            mode: Mode::Normal,
            dirty: true,
            quit: false,
        }
    }

    /// The active theme.
    pub fn theme(&self) -> &Theme {
        &self.themes[self.theme_index]
    }

    /// Which keys apply.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Something visible changed since the last draw; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// `q` was pressed.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// How often the clock should tick: 10 Hz while a cycle runs (the spinner), else
    /// 1 Hz (the countdown).
    pub fn tick_period(&self) -> Duration {
        if self.view.cycle_running {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        }
    }

    /// The selected discrepancy: the flagged balance row when the balances have focus,
    /// else the discrepancy list's selection.
    pub fn selected_discrepancy(&self) -> Option<&BalanceDiscrepancy> {
        if self.focus == Panel::Balances {
            let line = self
                .visible
                .get(self.balance_cursor.selected)
                .and_then(|&i| self.balances.get(i))?;
            return self
                .discrepancies
                .iter()
                .map(|l| &l.discrepancy)
                .find(|d| d.exchange.as_str() == line.exchange && d.asset.as_str() == line.asset);
        }
        self.discrepancies
            .get(self.discrepancy_cursor.selected)
            .map(|l| &l.discrepancy)
    }

    /// The selected exchange, in screen order (failures first).
    pub fn selected_exchange(&self) -> Option<&crate::engine::report::ExchangeReport> {
        let report = self.view.report.as_deref()?;
        let order = super::widgets::exchanges::exchange_order(report);
        order
            .get(self.exchanges.selected)
            .and_then(|&i| report.exchanges.get(i))
    }

    /// Rows a panel shows at once at the current size.
    pub fn page(&self, panel: Panel) -> usize {
        ui::visible_rows(self, panel).max(1)
    }

    /// Applies one action; returns the effect to run, if any.
    pub fn update(&mut self, action: Action) -> Option<Effect> {
        // A tick decides for itself whether anything visible changed.
        if !matches!(action, Action::Tick(_)) {
            self.dirty = true;
        }
        match action {
            Action::Tick(now) => self.tick(now),
            Action::Command(c) => return self.command(c),
            Action::Input(c) => self.input(c),
            Action::Engine(view, now) => return self.engine(view, now),
            Action::Resize(w, h) => {
                self.size = (w, h);
                self.clamp_cursors();
            }
            Action::Mouse(p) => return self.pointer(p),
            Action::AuditLoaded { generation, result } => {
                if let Err(e) = &result {
                    self.note_engine_error(e);
                }
                let page = self.page(Panel::Audit);
                return self
                    .audit
                    .loaded(generation, result, page)
                    .or_else(|| self.detail.refresh_if_stale());
            }
            Action::HistoryLoaded { generation, result } => {
                if let Err(e) = &result {
                    self.note_engine_error(e);
                }
                return self.history_loaded(generation, result);
            }
            Action::Acknowledged { id, result } => match result {
                Ok(d) => {
                    let (by, note) = d
                        .acknowledgement
                        .as_ref()
                        .map(|a| (a.by.as_str(), a.note.as_str()))
                        .unwrap_or(("?", ""));
                    self.info(format!("acknowledged {id} by {by}: {note}"));
                    return self.audit.refresh();
                }
                Err(e) => {
                    self.keep_row_after_ack = None;
                    self.note_engine_error(&e);
                    // The gap moved between `a` and Enter: say so with the current
                    // figure, which already names the discrepancy.
                    let text = if refused(&e) {
                        format!("not acknowledged: {e}")
                    } else {
                        format!("acknowledge {id} failed: {e}")
                    };
                    self.error(text);
                }
            },
            Action::Withdrawn { id, result } => match result {
                Ok(_) => {
                    self.info(format!(
                        "withdrew the acknowledgement of {id}: it counts again"
                    ));
                    return self.audit.refresh();
                }
                Err(e) => {
                    self.note_engine_error(&e);
                    self.error(format!(
                        "withdrawing the acknowledgement of {id} failed: {e}"
                    ));
                }
            },
            Action::Expected { id, result } => match result {
                Ok(e) => {
                    self.info(format!(
                        "expectation {} on {id}: {} until {}",
                        e.id,
                        crate::domain::format_amount(e.difference),
                        e.expires_at.format("%Y-%m-%d %H:%M UTC")
                    ));
                    return self.audit.refresh();
                }
                Err(e) => {
                    self.note_engine_error(&e);
                    let text = if refused(&e) {
                        format!("not declared: {e}")
                    } else {
                        format!("expectation on {id} failed: {e}")
                    };
                    self.error(text);
                }
            },
            Action::EffectFailed { what, error } => {
                self.note_engine_error(&error);
                self.error(format!("{what} failed: {error}"));
            }
        }
        None
    }

    /// Remembers that the engine is gone when an effect says so.
    fn note_engine_error(&mut self, error: &ReconciliationError) {
        fn stopped(e: &ReconciliationError) -> bool {
            match e {
                ReconciliationError::EngineStopped => true,
                ReconciliationError::Shared(inner) => stopped(inner),
                _ => false,
            }
        }
        if stopped(error) {
            self.engine_stopped = true;
        }
    }

    fn tick(&mut self, now: DateTime<Utc>) {
        let second_changed = now.timestamp() != self.now.timestamp();
        self.now = now;
        if let Some(n) = &self.notice {
            let lasts = if n.error { ERROR_FOR } else { NOTICE_FOR };
            if now - n.at > lasts {
                self.notice = None;
                self.dirty = true;
            }
        }
        let marked = self.news.marked();
        self.news.tick(now);
        if second_changed || self.view.cycle_running || marked != self.news.marked() {
            self.dirty = true;
        }
    }

    fn engine(&mut self, view: Arc<EngineView>, now: DateTime<Utc>) -> Option<Effect> {
        self.now = now;
        let old = std::mem::replace(&mut self.view, view);
        let same_report = match (&old.report, &self.view.report) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        let new_cycle = old.cycles_completed != self.view.cycles_completed;
        if !same_report {
            if let (true, Some(report)) = (new_cycle, self.view.report.clone()) {
                let update = self.news.observe(&report, now);
                self.bell_pending |= update.ring && self.bell;
                if let Some(headline) = update.headline {
                    self.error(headline);
                }
            }
            self.rebuild_rows();
            self.detail.follow(self.view.report.as_deref(), new_cycle);
        }
        let first = self.audit.lines.is_empty() && !self.audit.loading();
        // A new report without a new cycle is another process's ack or expectation: its
        // audit entry is news too.
        let audit = if first || new_cycle || !same_report {
            self.audit.refresh()
        } else {
            None
        };
        // One effect per update: the audit pane's refresh goes first, and the detail's
        // reload follows its answer.
        audit.or_else(|| self.detail.refresh_if_stale())
    }

    /// Rebuilds the derived rows from the report, keeping the selections on the same
    /// (exchange, asset) and discrepancy id.
    fn rebuild_rows(&mut self) {
        let kept_balance = self.selected_balance_key();
        let kept_discrepancy = self
            .discrepancies
            .get(self.discrepancy_cursor.selected)
            .map(|l| l.discrepancy.id.clone());
        match self.view.report.clone() {
            Some(report) => {
                self.balances_as_of = None;
                if report.ledger_error.is_none() {
                    self.balances = balance_lines(&report);
                    self.last_good = Some(report.clone());
                } else if let Some(good) = &self.last_good {
                    // Not a blank and not zeros: the last picture anyone could compare,
                    // labelled with its time.
                    self.balances = balance_lines(good);
                    self.balances_as_of = Some(good.finished_at);
                } else {
                    self.balances = balance_lines(&report);
                }
                self.all_discrepancies = discrepancy_lines(&report);
            }
            None => {
                self.balances.clear();
                self.all_discrepancies.clear();
            }
        }
        use super::widgets::{balances, discrepancies};
        self.discrepancy_counts =
            discrepancies::state_counts(self.all_discrepancies.iter().map(|l| l.state));
        self.discrepancy_measure = self.discrepancy_measure.then(discrepancies::Measure::of(
            &self.all_discrepancies,
            self.now,
        ));
        self.balance_measure = self
            .balance_measure
            .then(balances::Measure::of(&self.balances));
        self.apply_filter();
        if let Some(key) = kept_balance {
            if let Some(i) = self.visible.iter().position(|&i| {
                let l = &self.balances[i];
                (l.exchange.as_str(), l.asset.as_str()) == (key.0.as_str(), key.1.as_str())
            }) {
                self.balance_cursor.selected = i;
            }
        }
        let acked_here = self.keep_row_after_ack.as_ref().and_then(|(id, row)| {
            let acked = self
                .discrepancies
                .iter()
                .any(|l| l.discrepancy.id == *id && l.discrepancy.is_acknowledged());
            acked.then_some(*row)
        });
        if let Some(row) = acked_here {
            // The acknowledged line moved below the open ones: the row it left now holds
            // the next line to work on.
            self.keep_row_after_ack = None;
            self.discrepancy_cursor.selected = row;
        } else if let Some(id) = kept_discrepancy {
            if let Some(i) = self
                .discrepancies
                .iter()
                .position(|l| l.discrepancy.id == id)
            {
                self.discrepancy_cursor.selected = i;
            }
        }
        self.clamp_cursors();
    }

    fn selected_balance_key(&self) -> Option<(String, String)> {
        let l = self
            .balances
            .get(*self.visible.get(self.balance_cursor.selected)?)?;
        Some((l.exchange.clone(), l.asset.clone()))
    }

    /// The lines the filter, the severity keys and hide-ok let through; discrepancies in
    /// the order of the sort key.
    pub(crate) fn apply_filter(&mut self) {
        let text = Query::parse(&self.filter);
        let empty = Query::default();
        let (balance_q, discrepancy_q) = match self.filter_panel {
            Panel::Discrepancies => (&empty, &text),
            _ => (&text, &empty),
        };
        let min = self.min_severity;
        let passes = |q: &Query, fields: &[&str], severity: Option<DiscrepancySeverity>| {
            q.matches(fields, severity) && min.is_none_or(|m| severity.is_some_and(|s| s >= m))
        };
        self.visible = (0..self.balances.len())
            .filter(|&i| {
                let l = &self.balances[i];
                let severity = l.discrepancy.map(|(s, _)| s);
                // A line that is not known is never "ok": it stays.
                let ok = severity.is_none() && l.unavailable.is_none() && l.uncompared.is_none();
                !(self.hide_ok && ok) && passes(balance_q, &[&l.exchange, &l.asset], severity)
            })
            .collect();
        let mut lines: Vec<DiscrepancyLine> = self
            .all_discrepancies
            .iter()
            .filter(|l| {
                let d = &l.discrepancy;
                passes(
                    discrepancy_q,
                    &[d.exchange.as_str(), d.asset.as_str(), d.kind.as_str()],
                    Some(d.severity),
                )
            })
            .cloned()
            .collect();
        let key = self.sort;
        lines.sort_by(|a, b| compare(&a.discrepancy, &b.discrepancy, key));
        self.discrepancies = lines;
    }

    fn clamp_cursors(&mut self) {
        let n = self.view.report.as_ref().map_or(0, |r| r.exchanges.len());
        let (pe, pb, pd, pa) = (
            self.page(Panel::Exchanges),
            self.page(Panel::Balances),
            self.page(Panel::Discrepancies),
            self.page(Panel::Audit),
        );
        self.exchanges.clamp(n, pe);
        self.balance_cursor.clamp(self.visible.len(), pb);
        self.discrepancy_cursor.clamp(self.discrepancies.len(), pd);
        self.audit.cursor.clamp(self.audit.lines.len(), pa);
    }

    /// Whether the terminal bell is owed; clears it.
    pub fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.bell_pending)
    }

    /// The terminal title when it differs from the one last taken.
    pub fn take_title(&mut self) -> Option<String> {
        let title = super::news::title(self.view.report.as_deref());
        if self.title.as_deref() == Some(title.as_str()) {
            return None;
        }
        self.title = Some(title.clone());
        Some(title)
    }

    fn info(&mut self, text: String) {
        self.notice = Some(Notice {
            text,
            error: false,
            at: self.now,
        });
    }

    fn error(&mut self, text: String) {
        self.notice = Some(Notice {
            text,
            error: true,
            at: self.now,
        });
    }
}

/// The acknowledgement guard refused: the stored gap is not the one on screen.
fn refused(e: &ReconciliationError) -> bool {
    match e {
        ReconciliationError::Store(StoreError::Refused(_)) => true,
        ReconciliationError::Shared(inner) => refused(inner),
        _ => false,
    }
}
