//! The audit pane's state: one page of the trail (newest first) and the stack of `before`
//! cursors that led to it. The trail can hold 100 000 entries, so the pane never loads it
//! whole: scrolling past the last row asks for the page before it
//! ([`Effect::LoadAuditPage`]), scrolling past the first goes back a page, and the store
//! answers each by primary key. Render never queries.

use std::sync::Arc;

use super::cursor::{Cursor, Moved};
use super::effects::Effect;
use crate::config::TimeZoneSetting;
use crate::error::ReconciliationError;
use crate::store::AuditEntry;

/// Entries per page.
pub const PAGE_SIZE: u32 = 200;

/// One entry as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    /// Position in the chain.
    pub seq: i64,
    /// `HH:MM:SSZ` (UTC) or `HH:MM:SS+01` (local): a time always says its zone.
    pub time: String,
    /// Event name.
    pub event: String,
    /// Subject or empty.
    pub subject: String,
    /// The detail object as `key=value` pairs.
    pub detail: String,
}

impl From<&AuditEntry> for AuditLine {
    fn from(e: &AuditEntry) -> Self {
        Self::shown(e, TimeZoneSetting::Utc, None)
    }
}

impl AuditLine {
    /// The entry as shown in `zone`. A `startup`/`shutdown` written by another process
    /// (its pid is not `own_pid`: a `recon once` beside the console) says so in its subject,
    /// so it never reads like this console's own.
    pub fn shown(e: &AuditEntry, zone: TimeZoneSetting, own_pid: Option<u32>) -> Self {
        let time = match chrono::DateTime::parse_from_rfc3339(&e.at) {
            Ok(t) => match zone {
                TimeZoneSetting::Utc => t
                    .with_timezone(&chrono::Utc)
                    .format("%H:%M:%SZ")
                    .to_string(),
                TimeZoneSetting::Local => {
                    let local = t.with_timezone(&chrono::Local);
                    let offset = local.format("%:z").to_string();
                    // `+01:00` → `+01`; a half-hour zone keeps its minutes.
                    let offset = offset.strip_suffix(":00").unwrap_or(&offset).to_string();
                    format!("{}{offset}", local.format("%H:%M:%S"))
                }
            },
            Err(_) => e.at.get(11..19).unwrap_or(&e.at).to_string(),
        };
        let mut subject = e.subject.clone().unwrap_or_default();
        if let (Some(own), "startup" | "shutdown") = (own_pid, e.event.as_str()) {
            let pid = serde_json::from_str::<serde_json::Value>(&e.detail)
                .ok()
                .and_then(|v| v.get("pid").and_then(serde_json::Value::as_u64));
            let mode = serde_json::from_str::<serde_json::Value>(&e.detail)
                .ok()
                .and_then(|v| v.get("mode").and_then(|m| m.as_str().map(str::to_string)));
            if pid.is_some_and(|p| p != u64::from(own)) {
                subject = format!("other process: {}", mode.unwrap_or_else(|| "recon".into()));
            } else if pid.is_some() {
                subject = "this console".into();
            }
        }
        let detail = match serde_json::from_str::<serde_json::Value>(&e.detail) {
            Ok(serde_json::Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => e.detail.clone(),
        };
        Self {
            seq: e.seq,
            time,
            event: e.event.clone(),
            subject,
            detail,
        }
    }
}

/// Which page a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// The current page again (new entries arrived).
    Refresh,
    /// The page after the current one's last row.
    Older,
    /// The page before the current one.
    Newer,
    /// The newest page.
    Newest,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    generation: u64,
    want: Want,
    before: Option<i64>,
}

/// The loaded page, its cursor, and the request in flight.
#[derive(Debug, Clone, Default)]
pub struct AuditPane {
    /// The page, newest first.
    pub lines: Vec<AuditLine>,
    /// The entries of `lines`, whole (hashes, raw detail), for the detail view.
    pub entries: Vec<AuditEntry>,
    /// Selection within the page.
    pub cursor: Cursor,
    /// `before` of every page from the newest to the current one (`None` = newest).
    cursors: Vec<Option<i64>>,
    pending: Option<Pending>,
    generation: u64,
    refresh_after: bool,
    /// An older page was asked for and none exists.
    pub at_oldest: bool,
    /// The last load failed.
    pub error: Option<String>,
    /// How times are shown (`[ui] timezone`).
    pub zone: TimeZoneSetting,
    /// This process, to tell its own startup and shutdown from another's.
    pub own_pid: Option<u32>,
}

impl AuditPane {
    /// An empty pane on the newest page (nothing loaded yet).
    pub fn new() -> Self {
        Self {
            cursors: vec![None],
            ..Self::default()
        }
    }

    /// 1 for the newest page, 2 for the one before it, …
    pub fn page_number(&self) -> usize {
        self.cursors.len().max(1)
    }

    /// Showing the newest page (which new entries extend).
    pub fn is_newest(&self) -> bool {
        self.cursors.len() <= 1
    }

    /// A page is being loaded.
    pub fn loading(&self) -> bool {
        self.pending.is_some()
    }

    /// Reloads the newest page if it is the one shown; a navigation in flight wins and
    /// the refresh follows it.
    pub fn refresh(&mut self) -> Option<Effect> {
        if !self.is_newest() {
            return None;
        }
        if self.pending.is_some() {
            self.refresh_after = true;
            return None;
        }
        self.request(Want::Refresh, None)
    }

    fn request(&mut self, want: Want, before: Option<i64>) -> Option<Effect> {
        self.generation += 1;
        self.pending = Some(Pending {
            generation: self.generation,
            want,
            before,
        });
        Some(Effect::LoadAuditPage {
            before,
            limit: PAGE_SIZE,
            generation: self.generation,
        })
    }

    /// Moves the selection; past the last row loads the older page, past the first row
    /// the newer one.
    pub fn move_by(&mut self, delta: isize, height: usize) -> Option<Effect> {
        match self.cursor.move_by(delta, self.lines.len(), height) {
            Moved::Within => None,
            Moved::PastEnd => self.older(),
            Moved::PastStart if !self.is_newest() => {
                let before = self.cursors[self.cursors.len() - 2];
                self.request(Want::Newer, before)
            }
            Moved::PastStart => None,
        }
    }

    fn older(&mut self) -> Option<Effect> {
        let last = self.lines.last()?;
        if self.at_oldest || self.lines.len() < PAGE_SIZE as usize {
            return None;
        }
        let before = Some(last.seq);
        self.request(Want::Older, before)
    }

    /// First row; on the first row of an older page, back to the newest page.
    pub fn top(&mut self) -> Option<Effect> {
        if self.cursor.selected == 0 && !self.is_newest() {
            return self.request(Want::Newest, None);
        }
        self.cursor.top();
        None
    }

    /// Last row of the page.
    pub fn bottom(&mut self, height: usize) {
        self.cursor.bottom(self.lines.len(), height);
    }

    /// Applies a loaded page (ignoring answers to superseded requests). May ask for the
    /// refresh that waited behind it.
    pub fn loaded(
        &mut self,
        generation: u64,
        result: Result<Vec<AuditEntry>, Arc<ReconciliationError>>,
        height: usize,
    ) -> Option<Effect> {
        let p = self.pending.filter(|p| p.generation == generation)?;
        self.pending = None;
        match result {
            Err(e) => self.error = Some(e.to_string()),
            Ok(entries) => {
                self.error = None;
                self.apply(p, entries, height);
            }
        }
        if std::mem::take(&mut self.refresh_after) {
            return self.refresh();
        }
        None
    }

    fn apply(&mut self, p: Pending, entries: Vec<AuditEntry>, height: usize) {
        if p.want == Want::Older && entries.is_empty() {
            self.at_oldest = true;
            return;
        }
        let kept = self.lines.get(self.cursor.selected).map(|l| l.seq);
        self.lines = entries
            .iter()
            .map(|e| AuditLine::shown(e, self.zone, self.own_pid))
            .collect();
        self.entries = entries;
        let len = self.lines.len();
        match p.want {
            Want::Refresh => {
                // Only the newest page is refreshed; new entries push older ones off it,
                // so the page before it may exist now even if it did not before.
                self.at_oldest = false;
                let i = kept
                    .and_then(|seq| self.lines.iter().position(|l| l.seq == seq))
                    .unwrap_or(0);
                // Still on the newest entry: stay on top as new ones arrive.
                let i = if self.cursor.selected == 0 { 0 } else { i };
                self.cursor.select(i, len, height);
            }
            Want::Older => {
                self.cursors.push(p.before);
                self.cursor.top();
            }
            Want::Newer => {
                self.cursors.pop();
                self.at_oldest = false;
                self.cursor.bottom(len, height);
            }
            Want::Newest => {
                self.cursors = vec![None];
                self.at_oldest = false;
                self.cursor.top();
            }
        }
    }
}
