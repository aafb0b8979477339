//! The screen: a pure function of [`App`]. Fills the frame with the theme's base style
//! (its text colour and background), lays out the regions and hands each to its widget
//! (`widgets::x::render(frame, area, app)`), which paints over that base and never with
//! the terminal's own colours; overlays go on top.
//!
//! ```text
//!  recon ▲ DISCREPANCIES worst ✖ CRITICAL │ last 10:00:05 UTC │ cycle 312 ms │ next in 4s │ ● RUNNING ⠋
//!  notices: ledger / engine errors, the outcome of the last action, or a summary
//! ┌ Exchanges ─────────────────────────────────────────────────────────────────────────┐
//! │ name  status  latency  tries  circuit  last ok  coverage (└ error on its own line) │
//! └────────────────────────────────────────────────────────────────────────────────────┘
//! ┌ Balances ──────────────────────────────────────────────────────────────────────────┐
//! │ exchange  asset  local  exchange  difference  state    (points aligned)            │
//! └────────────────────────────────────────────────────────────────────────────────────┘
//! ┌ Discrepancies ─────────────────────────────────────────────────────────────────────┐
//! │ ✖ CRITICAL  id  kind  difference  relative  age  acknowledged by: note            │
//! └────────────────────────────────────────────────────────────────────────────────────┘
//! ┌ Audit ─────────────────────────────────────────────┐┌ Cycle latency ───────────────┐
//! │ seq  time  event  subject  detail                  ││ ▂▃▅▂▇▃▂                       │
//! └────────────────────────────────────────────────────┘└──────────────────────────────┘
//!  r reconcile  a ack  p pause  Tab focus  / filter  t theme  ? help  q quit
//! ```
//! Overlays: the help (`?`), the acknowledgement prompt (`a`) and the detail view
//! (`Enter`). Below 80×24 the whole
//! screen is one line saying so.

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::app::{App, Panel};
use super::keys::Mode;
use super::widgets::{
    audit, balances, detail, discrepancies, exchanges, footer, header, help, prompt, sparkline,
};

/// Smallest supported terminal width.
pub const MIN_WIDTH: u16 = 80;
/// Smallest supported terminal height.
pub const MIN_HEIGHT: u16 = 24;
/// Most rows the exchanges panel takes before it scrolls.
const MAX_EXCHANGE_ROWS: u16 = 8;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Regions {
    /// Two header lines.
    pub header: Rect,
    /// Exchange health.
    pub exchanges: Rect,
    /// Balances table.
    pub balances: Rect,
    /// Discrepancy list.
    pub discrepancies: Rect,
    /// Audit trail.
    pub audit: Rect,
    /// Latency sparkline.
    pub sparkline: Rect,
    /// Key hints.
    pub footer: Rect,
}

/// Fewest rows of discrepancies shown while the terminal has them (SPEC: at 80×24 too).
const MIN_DISCREPANCY_ROWS: u16 = 5;

/// Splits `area` for the app's current content. Importance decides: the discrepancies
/// keep at least five rows (when there are that many) even at 80×24, where the exchanges
/// panel gives up rows first (failures are listed first, so none is hidden below its
/// fold); on a tall terminal the spare rows go where there is content. `z` gives the whole
/// body to the focused panel.
pub fn regions(area: Rect, app: &App) -> Regions {
    let exchange_lines: usize = app.view.report.as_ref().map_or(1, |r| {
        r.exchanges
            .iter()
            .map(|e| if e.error.is_some() { 2 } else { 1 })
            .sum::<usize>()
            .max(1)
    });
    let [header_r, body, footer_r] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut r = Regions {
        header: header_r,
        footer: footer_r,
        ..Regions::default()
    };
    if app.zoomed {
        match app.focus {
            Panel::Exchanges => r.exchanges = body,
            Panel::Balances => r.balances = body,
            Panel::Discrepancies => r.discrepancies = body,
            Panel::Audit => r.audit = body,
        }
        return r;
    }
    let h = body.height;
    let rows = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let exchanges_want = rows(exchange_lines)
        .min(MAX_EXCHANGE_ROWS)
        .saturating_add(3);
    let discrepancies_want = rows(app.discrepancies.len().max(1)).saturating_add(3);
    let discrepancies_min = discrepancies_want.min(MIN_DISCREPANCY_ROWS + 3);
    // A short terminal: the exchanges panel shrinks to a quarter, the audit to 4 rows.
    let short = h < 30;
    let exchanges_h = if short {
        exchanges_want.min((h / 4).max(4))
    } else {
        exchanges_want
    };
    let audit_h = if short { 4 } else { (h / 4).max(4) };
    let balances_min = 4;
    let room = h.saturating_sub(exchanges_h + audit_h);
    let discrepancies_h = discrepancies_want
        .min((room / 2).max(discrepancies_min))
        .min(room.saturating_sub(balances_min))
        .max(discrepancies_min.min(room));
    let [exchanges_r, balances_r, discrepancies_r, bottom_r] = Layout::vertical([
        Constraint::Length(exchanges_h),
        Constraint::Min(0),
        Constraint::Length(discrepancies_h),
        Constraint::Length(audit_h),
    ])
    .areas(body);
    let [audit_r, sparkline_r] =
        Layout::horizontal([Constraint::Percentage(70), Constraint::Percentage(30)])
            .areas(bottom_r);
    r.exchanges = exchanges_r;
    r.balances = balances_r;
    r.discrepancies = discrepancies_r;
    r.audit = audit_r;
    r.sparkline = sparkline_r;
    r
}

/// Rows a panel shows at once at the app's terminal size (what `PgUp`/`PgDn` move by).
pub fn visible_rows(app: &App, panel: Panel) -> usize {
    let r = regions(Rect::new(0, 0, app.size.0, app.size.1), app);
    // Borders take two lines; tables also have a header row.
    let (area, chrome) = match panel {
        Panel::Exchanges => (r.exchanges, 3),
        Panel::Balances => (r.balances, 3),
        Panel::Discrepancies => (r.discrepancies, 3),
        Panel::Audit => (r.audit, 2),
    };
    usize::from(area.height.saturating_sub(chrome))
}

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let theme = app.theme();
    frame.render_widget(Block::new().style(theme.base.text), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area, app);
        return;
    }
    let r = regions(area, app);
    header::render(frame, r.header, app);
    // A zoomed screen draws only the focused panel; the others have no area.
    for (panel, area) in [
        (Panel::Exchanges, r.exchanges),
        (Panel::Balances, r.balances),
        (Panel::Discrepancies, r.discrepancies),
        (Panel::Audit, r.audit),
    ] {
        if area.area() == 0 {
            continue;
        }
        match panel {
            Panel::Exchanges => exchanges::render(frame, area, app),
            Panel::Balances => balances::render(frame, area, app),
            Panel::Discrepancies => discrepancies::render(frame, area, app),
            Panel::Audit => audit::render(frame, area, app),
        }
    }
    if r.sparkline.area() > 0 {
        sparkline::render(frame, r.sparkline, app);
    }
    footer::render(frame, r.footer, app);
    match app.mode() {
        Mode::Help => help::render(frame, area, app),
        Mode::Prompt => prompt::render(frame, area, app),
        Mode::Detail => detail::render(frame, area, app),
        Mode::Normal | Mode::Filter => {}
    }
}

fn too_small(frame: &mut Frame, area: Rect, app: &App) {
    let text = format!(
        "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{})",
        area.width, area.height
    );
    let y = area.y + area.height / 2;
    let line = Rect::new(area.x, y, area.width, 1.min(area.height));
    frame.render_widget(
        Paragraph::new(Line::from(text))
            .style(app.theme().on_base(app.theme().base.error))
            .alignment(Alignment::Center),
        line,
    );
}

/// A rectangle of at most `width`×`height`, centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
