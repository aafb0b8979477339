//! The two header lines: overall status, last cycle, latency, countdown, loop state and
//! spinner; then engine/ledger errors, the last notice, or a one-line summary.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{field, severity_label, status_label};
use crate::tui::app::App;
use crate::tui::rows::age;

/// Braille spinner, one frame per 100 ms of `now`.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Below this width the header drops its labels.
const COMPACT_BELOW: u16 = 110;

/// Draws the header.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let compact = area.width < COMPACT_BELOW;
    let lines = vec![status_line(app, compact), notice_line(app)];
    frame.render_widget(Paragraph::new(lines), area);
}

fn status_line(app: &App, compact: bool) -> Line<'static> {
    let theme = app.theme();
    let view = &app.view;
    let report = view.report.as_deref();
    let status = report.map(|r| r.status);
    let label = |full: &'static str, short: &'static str| if compact { short } else { full };
    let sep = || Span::styled(" │ ", theme.base.border);
    let mut spans = vec![
        Span::styled(label(" recon ", " "), theme.base.title),
        Span::styled(status_label(status), theme.status(status)),
    ];
    if let Some(worst) = report.and_then(|r| r.worst_severity) {
        spans.push(Span::styled(" worst ", theme.base.muted));
        spans.push(Span::styled(severity_label(worst), theme.severity(worst)));
    }
    if let Some(r) = report {
        spans.push(sep());
        spans.extend(field(
            app,
            label("last ", ""),
            r.finished_at.format("%H:%M:%S UTC").to_string(),
            theme.base.text,
        ));
        spans.push(Span::styled(label(" │ ", " · "), theme.base.border));
        spans.extend(field(
            app,
            label("cycle ", ""),
            format!("{} ms", r.duration_ms),
            theme.base.text,
        ));
    }
    spans.push(sep());
    let next = match (view.cycle_running, view.paused, view.next_cycle_at) {
        (true, _, _) => "now".to_string(),
        (false, true, _) => "paused".to_string(),
        (false, false, Some(at)) => {
            let ms = (at - app.now).num_milliseconds().max(0);
            format!("{}{}", label("in ", ""), age((ms + 999) / 1000))
        }
        (false, false, None) => "—".to_string(),
    };
    spans.extend(field(app, "next ", next, theme.base.text));
    spans.push(sep());
    spans.push(if view.paused {
        Span::styled(" ‖ PAUSED ", theme.cycle.paused)
    } else {
        Span::styled("● RUNNING", theme.cycle.running)
    });
    if view.cycle_running {
        let frame_no = (app.now.timestamp_subsec_millis() / 100) as usize % SPINNER.len();
        spans.push(Span::styled(
            format!("  {} {}", SPINNER[frame_no], label("reconciling…", "")),
            theme.cycle.spinner,
        ));
    }
    Line::from(spans)
}

fn notice_line(app: &App) -> Line<'static> {
    let theme = app.theme();
    let mut spans = vec![Span::raw(" ")];
    let report = app.view.report.as_deref();
    if let Some(e) = report.and_then(|r| r.ledger_error.as_deref()) {
        spans.push(Span::styled(format!("✖ ledger: {e}  "), theme.base.error));
    }
    if let Some(e) = app.view.engine_error.as_deref() {
        spans.push(Span::styled(format!("✖ engine: {e}  "), theme.base.error));
    }
    if let Some(n) = &app.notice {
        let style = if n.error {
            theme.base.error
        } else {
            theme.base.notice
        };
        let mark = if n.error { "✖ " } else { "» " };
        spans.push(Span::styled(format!("{mark}{}", n.text), style));
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
    let acked = r
        .discrepancies
        .iter()
        .filter(|d| d.is_acknowledged())
        .count();
    let failed = if failed > 0 {
        format!(" ({failed} failed)")
    } else {
        String::new()
    };
    format!(
        "cycle #{} · {} exchanges{failed} · {} balances · {} open, {acked} acknowledged discrepancies",
        r.id,
        r.exchanges.len(),
        app.balances.iter().filter(|b| b.unavailable.is_none()).count(),
        r.discrepancies.len() - acked,
    )
}
