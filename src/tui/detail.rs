//! The detail view (`Enter`, `Esc` closes): what one row of the focused panel stands
//! for, in full. A discrepancy's figures come from the report on screen (and follow each
//! new one); its history — the difference over the stored balance snapshots and its
//! audit entries, newest first, a page at a time — is read from the database off the UI
//! thread ([`Effect::LoadDiscrepancyHistory`]), like the audit pane's pages. Until the
//! answer arrives the view says "loading…", and a failed read is shown, never an empty
//! history. An exchange and an audit entry need nothing beyond what is on screen.
//! Render never queries.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::effects::Effect;
use crate::domain::BalanceDiscrepancy;
use crate::engine::{ExchangeReport, ReconciliationReport};
use crate::error::ReconciliationError;
use crate::store::{AuditEntry, DifferencePoint, DiscrepancyHistory};

/// Balance snapshots loaded for the sparkline: more than the widest overlay draws.
pub const HISTORY_POINTS: u32 = 240;
/// Audit entries per page of a discrepancy's history.
pub const EVENTS_PAGE: u32 = 50;

/// What the open view is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A discrepancy, as in the latest report that had it.
    Discrepancy {
        /// Its figures.
        discrepancy: Box<BalanceDiscrepancy>,
        /// Still in the latest report (false: resolved, or its exchange not compared).
        current: bool,
    },
    /// An exchange's part of the latest report that had it.
    Exchange {
        /// Its health, coverage and error.
        exchange: Box<ExchangeReport>,
        /// When that report's cycle finished (staleness is counted from it).
        finished_at: DateTime<Utc>,
        /// Still in the latest report (false: removed from the configuration).
        current: bool,
    },
    /// One audit entry, whole.
    Audit(Box<AuditEntry>),
}

/// Where the history read stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    /// Asked for, no answer yet.
    Loading,
    /// The read failed (one line).
    Failed(String),
    /// The answer is in.
    Loaded,
}

/// A discrepancy's history as loaded: the sparkline points and one page of its audit
/// entries, with the cursors that page through them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// Where the read stands.
    pub load: Load,
    /// Snapshot points, oldest first.
    pub points: Vec<DifferencePoint>,
    /// This page of audit entries, newest first.
    pub events: Vec<AuditEntry>,
    /// `before` of every page from the newest to the current one (`None` = newest).
    cursors: Vec<Option<i64>>,
    /// An older page was asked for and none exists.
    pub at_oldest: bool,
}

impl History {
    fn new() -> Self {
        Self {
            load: Load::Loading,
            points: Vec::new(),
            events: Vec::new(),
            cursors: vec![None],
            at_oldest: false,
        }
    }

    /// 1 for the newest page of entries, 2 for the one before it, …
    pub fn page_number(&self) -> usize {
        self.cursors.len().max(1)
    }

    /// A page is full, so an older one may exist.
    pub fn may_have_older(&self) -> bool {
        !self.at_oldest && self.events.len() >= EVENTS_PAGE as usize
    }
}

/// The open view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// What it shows.
    pub target: Target,
    /// First line shown.
    pub scroll: usize,
    /// The history (discrepancies only).
    pub history: Option<History>,
}

/// Which page a history request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// The current page again (a cycle completed).
    Refresh,
    /// The page after the current one's last entry.
    Older,
    /// The page before the current one.
    Newer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    generation: u64,
    want: Want,
    before: Option<i64>,
}

/// The detail view's state: the open view, if any, and the history request in flight.
/// The generation outlives each view, so an answer for a view since closed (or replaced)
/// is ignored.
#[derive(Debug, Clone, Default)]
pub struct DetailPane {
    /// The open view.
    pub open: Option<Detail>,
    pending: Option<Pending>,
    generation: u64,
    /// A cycle completed while a request was in flight (or the audit pane's refresh took
    /// the effect slot): reload once the way is clear.
    stale: bool,
}

impl DetailPane {
    /// Opens the view on `target`; a discrepancy asks for its history.
    pub fn open(&mut self, target: Target) -> Option<Effect> {
        let is_discrepancy = matches!(target, Target::Discrepancy { .. });
        self.open = Some(Detail {
            target,
            scroll: 0,
            history: is_discrepancy.then(History::new),
        });
        self.pending = None;
        self.stale = false;
        if is_discrepancy {
            return self.request(Want::Refresh, None);
        }
        None
    }

    /// Closes the view; an answer still in flight is ignored when it lands.
    pub fn close(&mut self) {
        self.open = None;
        self.pending = None;
        self.stale = false;
    }

    /// The history request is in flight.
    pub fn loading(&self) -> bool {
        self.pending.is_some()
    }

    fn request(&mut self, want: Want, before: Option<i64>) -> Option<Effect> {
        let Some(Detail {
            target: Target::Discrepancy { discrepancy, .. },
            history: Some(history),
            ..
        }) = &mut self.open
        else {
            return None;
        };
        self.generation += 1;
        self.pending = Some(Pending {
            generation: self.generation,
            want,
            before,
        });
        if want == Want::Refresh && history.load != Load::Loaded {
            history.load = Load::Loading;
        }
        Some(Effect::LoadDiscrepancyHistory {
            exchange: discrepancy.exchange.clone(),
            asset: discrepancy.asset.clone(),
            points: HISTORY_POINTS,
            before,
            limit: EVENTS_PAGE,
            generation: self.generation,
        })
    }

    /// A new report: the open view follows it (same discrepancy id, same exchange name);
    /// when a cycle completed, the history is due for a reload.
    pub fn follow(&mut self, report: Option<&ReconciliationReport>, new_cycle: bool) {
        let Some(open) = &mut self.open else { return };
        match &mut open.target {
            Target::Discrepancy {
                discrepancy,
                current,
            } => {
                let now =
                    report.and_then(|r| r.discrepancies.iter().find(|d| d.id == discrepancy.id));
                *current = now.is_some();
                if let Some(d) = now {
                    **discrepancy = d.clone();
                }
                if new_cycle {
                    self.stale = true;
                }
            }
            Target::Exchange {
                exchange,
                finished_at,
                current,
            } => {
                let now = report.and_then(|r| {
                    r.exchanges
                        .iter()
                        .find(|e| e.name == exchange.name)
                        .map(|e| (e, r.finished_at))
                });
                *current = now.is_some();
                if let Some((e, at)) = now {
                    **exchange = e.clone();
                    *finished_at = at;
                }
            }
            Target::Audit(_) => {}
        }
    }

    /// Reloads the current page of the history if a cycle completed since it was read
    /// and no request is in flight.
    pub fn refresh_if_stale(&mut self) -> Option<Effect> {
        if !self.stale || self.pending.is_some() {
            return None;
        }
        self.stale = false;
        let before = self
            .open
            .as_ref()
            .and_then(|d| d.history.as_ref())
            .and_then(|h| h.cursors.last().copied().flatten());
        self.request(Want::Refresh, before)
    }

    /// The page of entries older than the current one, if one may exist.
    pub fn older(&mut self) -> Option<Effect> {
        if self.pending.is_some() {
            return None;
        }
        let history = self.open.as_ref()?.history.as_ref()?;
        if !history.may_have_older() {
            return None;
        }
        let before = history.events.last().map(|e| e.seq);
        self.request(Want::Older, before)
    }

    /// The page of entries newer than the current one, if this is not the newest.
    pub fn newer(&mut self) -> Option<Effect> {
        if self.pending.is_some() {
            return None;
        }
        let history = self.open.as_ref()?.history.as_ref()?;
        if history.cursors.len() <= 1 {
            return None;
        }
        let before = history.cursors[history.cursors.len() - 2];
        self.request(Want::Newer, before)
    }

    /// Applies a history answer (ignoring answers to superseded requests); may ask for the
    /// reload that waited behind it.
    pub fn loaded(
        &mut self,
        generation: u64,
        result: Result<DiscrepancyHistory, Arc<ReconciliationError>>,
    ) -> Option<Effect> {
        let p = self.pending.filter(|p| p.generation == generation)?;
        self.pending = None;
        let open = self.open.as_mut()?;
        let history = open.history.as_mut()?;
        match result {
            Err(e) => history.load = Load::Failed(e.to_string()),
            Ok(h) => {
                history.load = Load::Loaded;
                history.points = h.points;
                if p.want == Want::Older && h.events.is_empty() {
                    history.at_oldest = true;
                } else {
                    history.events = h.events;
                    match p.want {
                        Want::Refresh => {}
                        Want::Older => {
                            history.cursors.push(p.before);
                            open.scroll = 0;
                        }
                        Want::Newer => {
                            history.cursors.pop();
                            history.at_oldest = false;
                            open.scroll = 0;
                        }
                    }
                }
            }
        }
        self.refresh_if_stale()
    }
}
