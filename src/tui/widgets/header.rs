//! The two header lines: overall status, the discrepancies in each state (`● 3 open · ✓ 1
//! ack · ⇄ 2 explained`), last cycle, latency, countdown, loop state and spinner; then
//! engine/ledger errors, the last notice, or a one-line summary. Only open discrepancies
//! drive the status and the worst severity shown: acknowledged and explained ones are
//! counted, never alarmed about.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The status word with the symbol of the worst counted severity when there are
/// discrepancies; the status's own symbol otherwise.
fn status_text(
    status: Option<crate::domain::ReconciliationStatus>,
    worst: Option<crate::domain::DiscrepancySeverity>,
) -> String {
    match (status, worst) {
        (Some(crate::domain::ReconciliationStatus::Discrepancies), Some(w)) => {
            format!("{} DISCREPANCIES", w.symbol())
        }
        _ => status_label(status).to_string(),
    }
}

use super::discrepancies::state_count_spans;
use super::{field, severity_label, status_label};
use crate::domain::escape_controls;
use crate::tui::app::App;
use crate::tui::rows::age;

/// Braille spinner, one frame per 100 ms of `now`.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Below this width the header drops its labels.
const COMPACT_BELOW: u16 = 110;

/// Draws the header.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let compact = area.width < COMPACT_BELOW;
    let lines = vec![
        status_line(app, compact, usize::from(area.width)),
        notice_line(app),
    ];
    frame.render_widget(Paragraph::new(lines).style(app.theme().base.text), area);
}

/// One item of the status line and how readily it is dropped when the line is too
/// long: lower `drop` goes first, `KEEP` never.
struct Item {
    spans: Vec<Span<'static>>,
    drop: u8,
}

/// Never dropped: overall status and the loop state (running, paused, spinner, stopped).
const KEEP: u8 = u8::MAX;

impl Item {
    fn new(drop: u8, spans: impl IntoIterator<Item = Span<'static>>) -> Self {
        Self {
            spans: spans.into_iter().collect(),
            drop,
        }
    }

    fn width(&self) -> usize {
        self.spans.iter().map(Span::width).sum()
    }
}

/// The status line in groups (`│` between groups, `joiner` within): status, counts per
/// state, last cycle, countdown, loop state. When the line is wider than the terminal the
/// least important items go first (latency, the last cycle time, the title, the worst
/// severity, the countdown, the counts), so the loop state and spinner are always on screen.
///
/// With counted discrepancies, the status carries the worst one's symbol (`✖ DISCREPANCIES`
/// when the worst is critical), so the symbol a trader glances at never understates it.
fn status_line(app: &App, compact: bool, width: usize) -> Line<'static> {
    let theme = app.theme();
    let view = &app.view;
    let report = view.report.as_deref();
    let status = report.map(|r| r.status);
    let label = |full: &'static str, short: &'static str| if compact { short } else { full };

    let mut overall = vec![
        Item::new(3, [Span::styled(label(" recon ", " "), theme.base.title)]),
        Item::new(
            KEEP,
            [Span::styled(
                status_text(
                    status,
                    report.and_then(|r| r.open().map(|d| d.severity).max()),
                ),
                theme.status(status),
            )],
        ),
    ];
    // From the open discrepancies themselves, so an acknowledged or explained one can
    // never colour the header.
    if let Some(worst) = report.and_then(|r| r.open().map(|d| d.severity).max()) {
        overall.push(Item::new(
            4,
            [
                Span::styled(" worst ", theme.base.muted),
                Span::styled(severity_label(worst), theme.severity(worst)),
            ],
        ));
    }
    let mut states = Vec::new();
    if let Some(r) = report {
        if r.ledger_error.is_some() {
            // Nothing was compared: the count is unknown, never "0 open".
            states.push(Item::new(
                6,
                [Span::styled("? open (ledger unreadable)", theme.base.error)],
            ));
        } else {
            let counts = app.discrepancy_counts;
            states.push(Item::new(6, state_count_spans(app, counts)));
        }
    }
    // Money at stake, when prices are configured: the value at risk of the open
    // discrepancies (`?` when one is unpriced: never a smaller sum) and stale prices.
    let mut money = Vec::new();
    if let (Some(r), Some(v)) = (report, report.and_then(|r| r.valuation.as_ref())) {
        let quote = v.quote.to_string();
        match r.value_at_risk() {
            Some(crate::engine::report::ValueAtRisk {
                value: Some(sum), ..
            }) => {
                money.push(Item::new(
                    6,
                    field(
                        app,
                        label("at risk ", "risk "),
                        format!("{} {quote}", crate::domain::format_amount(sum)),
                        theme.base.text,
                    ),
                ));
            }
            // Never a smaller sum: unknown while a line is unpriced or some venue (or the
            // ledger) was not compared.
            Some(_) => {
                let why = if r.ledger_error.is_some() || r.exchanges.iter().any(|e| !e.compared) {
                    "incomplete"
                } else {
                    "unpriced"
                };
                money.push(Item::new(
                    6,
                    [
                        Span::styled(label("at risk ", "risk "), theme.base.muted),
                        Span::styled(format!("? {quote} ({why})"), theme.base.error),
                    ],
                ));
            }
            None => {}
        }
        if v.is_stale(r.finished_at) {
            let text = match v.age_secs(r.finished_at) {
                Some(secs) => format!("prices stale {}", age(secs as i64)),
                None => "no prices".to_string(),
            };
            money.push(Item::new(6, [Span::styled(text, theme.base.error)]));
        }
    }
    let mut last = Vec::new();
    if let Some(r) = report {
        last.push(Item::new(
            2,
            field(
                app,
                label("last ", ""),
                r.finished_at.format("%H:%M:%S UTC").to_string(),
                theme.base.text,
            ),
        ));
        last.push(Item::new(
            1,
            field(
                app,
                label("cycle ", ""),
                format!("{} ms", r.duration_ms),
                theme.base.text,
            ),
        ));
    }
    let mut next = Vec::new();
    let mut state = Vec::new();
    if app.engine_stopped {
        // No countdown, no spinner: nothing will run again.
        state.push(Item::new(
            KEEP,
            [Span::styled("✖ ENGINE STOPPED", theme.base.error)],
        ));
    } else {
        let countdown = match (view.cycle_running, view.paused, view.next_cycle_at) {
            (true, _, _) => "now".to_string(),
            (false, true, _) => "paused".to_string(),
            (false, false, Some(at)) => {
                let ms = (at - app.now).num_milliseconds().max(0);
                format!("{}{}", label("in ", ""), age((ms + 999) / 1000))
            }
            (false, false, None) => "—".to_string(),
        };
        next.push(Item::new(
            5,
            field(app, "next ", countdown, theme.base.text),
        ));
        state.push(Item::new(
            KEEP,
            [if view.paused {
                Span::styled(" ‖ PAUSED ", theme.cycle.paused)
            } else {
                Span::styled("● RUNNING", theme.cycle.running)
            }],
        ));
        if view.cycle_running {
            let frame_no = (app.now.timestamp_subsec_millis() / 100) as usize % SPINNER.len();
            state.push(Item::new(
                KEEP,
                [Span::styled(
                    format!("  {} {}", SPINNER[frame_no], label("reconciling…", "")),
                    theme.cycle.spinner,
                )],
            ));
        }
    }
    let mut groups = [
        (overall, ""),
        (states, ""),
        (money, " · "),
        (last, label(" │ ", " · ")),
        (next, ""),
        (state, ""),
    ];
    let sep = " │ ";
    let total = |groups: &[(Vec<Item>, &str)]| {
        let kept: Vec<usize> = groups
            .iter()
            .filter(|(items, _)| !items.is_empty())
            .map(|(items, joiner)| {
                items.iter().map(Item::width).sum::<usize>()
                    + joiner.chars().count() * items.len().saturating_sub(1)
            })
            .collect();
        kept.iter().sum::<usize>() + sep.chars().count() * kept.len().saturating_sub(1)
    };
    while total(&groups) > width {
        let lowest = groups
            .iter()
            .enumerate()
            .flat_map(|(g, (items, _))| {
                items.iter().enumerate().map(move |(i, it)| (it.drop, g, i))
            })
            .filter(|(drop, _, _)| *drop != KEEP)
            .min();
        let Some((_, g, i)) = lowest else { break };
        groups[g].0.remove(i);
    }
    let mut spans = Vec::new();
    for (items, joiner) in groups.into_iter().filter(|(items, _)| !items.is_empty()) {
        if !spans.is_empty() {
            spans.push(Span::styled(sep, theme.base.border));
        }
        for (k, item) in items.into_iter().enumerate() {
            if k > 0 && !joiner.is_empty() {
                spans.push(Span::styled(joiner, theme.base.border));
            }
            spans.extend(item.spans);
        }
    }
    Line::from(spans)
}

fn notice_line(app: &App) -> Line<'static> {
    let theme = app.theme();
    let mut spans = vec![Span::raw(" ")];
    let report = app.view.report.as_deref();
    if let Some(e) = report.and_then(|r| r.ledger_error.as_deref()) {
        let e = escape_controls(e);
        spans.push(Span::styled(format!("✖ ledger: {e}  "), theme.base.error));
    }
    if let Some(e) = app.view.engine_error.as_deref() {
        let e = escape_controls(e);
        spans.push(Span::styled(format!("✖ engine: {e}  "), theme.base.error));
    }
    // Holdings nobody reconciles stay on screen until the config or the ledger is fixed.
    if let Some(r) = report.filter(|r| !r.unconfigured.is_empty()) {
        let names: Vec<String> = r
            .unconfigured
            .iter()
            .map(|n| escape_controls(n.as_str()).into_owned())
            .collect();
        spans.push(Span::styled(
            format!(
                "⚠ ledger lists {} not configured, not reconciled: {}  ",
                if names.len() == 1 {
                    "an exchange"
                } else {
                    "exchanges"
                },
                names.join(", ")
            ),
            theme.base.error,
        ));
    }
    if let Some(n) = &app.notice {
        let style = if n.error {
            theme.base.error
        } else {
            theme.base.notice
        };
        let mark = if n.error { "✖ " } else { "» " };
        spans.push(Span::styled(
            format!("{mark}{}", escape_controls(&n.text)),
            style,
        ));
    } else if spans.len() == 1 {
        spans.push(Span::styled(summary(app), theme.base.muted));
    }
    Line::from(spans)
}

fn summary(app: &App) -> String {
    let Some(r) = app.view.report.as_deref() else {
        return "no cycle has completed yet".into();
    };
    let failed = r
        .exchanges
        .iter()
        .filter(|e| e.status != crate::engine::ExchangeStatus::Ok)
        .count();
    let failed = if failed > 0 {
        format!(" ({failed} failed)")
    } else {
        String::new()
    };
    // The counts per state are on the status line.
    let discrepancies = if r.ledger_error.is_some() {
        "?".to_string()
    } else {
        r.discrepancies.len().to_string()
    };
    // The same total as the balances panel's title; the rows of exchanges that could not
    // be fetched are counted apart, since their amounts are not known.
    let unknown = app
        .balances
        .iter()
        .filter(|b| b.unavailable.is_some())
        .count();
    let unknown = if unknown > 0 {
        format!(" ({unknown} unknown)")
    } else {
        String::new()
    };
    format!(
        "cycle #{} · {} exchanges{failed} · {} balances{unknown} · {discrepancies} discrepancies",
        r.id,
        r.exchanges.len(),
        app.balances.len(),
    )
}
