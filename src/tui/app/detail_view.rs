//! The detail view's half of the app: which row `Enter` opens, scrolling, and the
//! history answers. The state itself lives in [`crate::tui::detail`].

use std::sync::Arc;

use super::{App, Panel};
use crate::error::ReconciliationError;
use crate::store::DiscrepancyHistory;
use crate::tui::detail::Target;
use crate::tui::effects::Effect;
use crate::tui::keys::Mode;
use crate::tui::widgets::detail as view;

impl App {
    /// Opens the detail of the focused panel's selected row: a discrepancy (from the
    /// discrepancies, or a balance row that has one), an exchange, or an audit entry.
    pub(super) fn open_detail(&mut self) -> Option<Effect> {
        let target = match self.focus {
            Panel::Discrepancies | Panel::Balances => match self.selected_discrepancy() {
                Some(d) => Target::Discrepancy {
                    discrepancy: Box::new(d.clone()),
                    current: true,
                },
                // The row of an exchange that was not fetched: its health says why.
                None if self.focus == Panel::Balances && self.selected_unavailable().is_some() => {
                    let (e, r) = self.selected_unavailable()?;
                    Target::Exchange {
                        exchange: Box::new(e.clone()),
                        finished_at: r.finished_at,
                        current: true,
                    }
                }
                None => {
                    let text = if self.focus == Panel::Balances {
                        "the selected balance has no discrepancy to detail"
                    } else {
                        "no discrepancy selected"
                    };
                    self.error(text.into());
                    return None;
                }
            },
            Panel::Exchanges => {
                // In the panel's order (failed ones first), not the config's.
                let report = self.view.report.as_deref();
                match report.and_then(|r| Some((self.selected_exchange()?, r))) {
                    Some((e, r)) => Target::Exchange {
                        exchange: Box::new(e.clone()),
                        finished_at: r.finished_at,
                        current: true,
                    },
                    None => {
                        self.error("no exchange selected".into());
                        return None;
                    }
                }
            }
            Panel::Audit => match self.audit.entries.get(self.audit.cursor.selected) {
                Some(e) => Target::Audit(Box::new(e.clone())),
                None => {
                    self.error("no audit entry selected".into());
                    return None;
                }
            },
        };
        self.mode = Mode::Detail;
        self.detail.open(target)
    }

    /// The exchange of the selected balance row when that exchange was not fetched.
    fn selected_unavailable(
        &self,
    ) -> Option<(
        &crate::engine::report::ExchangeReport,
        &crate::engine::ReconciliationReport,
    )> {
        let line = self
            .balances
            .get(*self.visible.get(self.balance_cursor.selected)?)?;
        line.unavailable?;
        let report = self.view.report.as_deref()?;
        let e = report
            .exchanges
            .iter()
            .find(|e| e.name.as_str() == line.exchange)?;
        Some((e, report))
    }

    /// Scrolls the open view by a line or a page; a page past either end of a
    /// discrepancy's view turns its history page (older at the bottom, newer at the top).
    pub(super) fn scroll_detail(&mut self, direction: isize, page: bool) -> Option<Effect> {
        let (total, height) = view::extent(self);
        let max = total.saturating_sub(height);
        let open = self.detail.open.as_mut()?;
        let step = if page { height.max(1) } else { 1 };
        if page && direction > 0 && open.scroll >= max {
            return self.detail.older();
        }
        if page && direction < 0 && open.scroll == 0 {
            return self.detail.newer();
        }
        open.scroll = if direction < 0 {
            open.scroll.saturating_sub(step)
        } else {
            (open.scroll + step).min(max)
        };
        None
    }

    /// Applies a history answer; a new page of entries is scrolled into view.
    pub(super) fn history_loaded(
        &mut self,
        generation: u64,
        result: Result<DiscrepancyHistory, Arc<ReconciliationError>>,
    ) -> Option<Effect> {
        let page = |app: &Self| {
            app.detail
                .open
                .as_ref()
                .and_then(|d| d.history.as_ref())
                .map(|h| h.page_number())
        };
        let before = page(self);
        let effect = self.detail.loaded(generation, result);
        if page(self) != before {
            let start = view::events_start(self);
            if let Some(open) = &mut self.detail.open {
                open.scroll = start;
            }
        }
        effect
    }
}
