//! Exchange health: status, latency, attempts, circuit, staleness and coverage. Failed and
//! circuit-open exchanges come first, so none is ever below the fold; each gets its error
//! on the lines below it, wrapped at word boundaries, never cut mid-word. A venue that just
//! went down carries a NEW mark until it is selected or a minute has passed.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{HighlightSpacing, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::{exchange_status_label, panel_block};
use crate::domain::escape_controls;
use crate::engine::report::ExchangeReport;
use crate::engine::ExchangeStatus;
use crate::tui::app::{App, Panel};
use crate::tui::names;
use crate::tui::rows::age;

const STATUS_W: usize = 14;
/// Widest venue name shown in full.
const NAME_MAX: usize = 24;

/// The order of the exchanges on screen: failed and circuit-open first, then the others,
/// each group in configuration order. Indices into `report.exchanges`.
pub fn exchange_order(report: &crate::engine::ReconciliationReport) -> Vec<usize> {
    let mut order: Vec<usize> = (0..report.exchanges.len()).collect();
    order.sort_by_key(|&i| report.exchanges[i].status == ExchangeStatus::Ok);
    order
}

/// Draws the exchanges panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let report = app.view.report.as_deref();
    let count = report.map_or(0, |r| r.exchanges.len());
    let block = panel_block(
        app,
        Panel::Exchanges,
        vec![Span::raw(format!("Exchanges {count}"))],
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(report) = report else {
        frame.render_widget(
            Paragraph::new(" waiting for the first cycle…").style(theme.on_base(theme.base.muted)),
            inner,
        );
        return;
    };
    // Long venue names give way in the middle; the columns stay put.
    let name_w = report
        .exchanges
        .iter()
        .map(|e| e.name.as_str().chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, NAME_MAX);
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let heading = format!(
        "  {:<name_w$} {:<STATUS_W$} {:>8} {:>5}  {:<9} {:<9} coverage / error",
        "exchange", "status", "latency", "tries", "circuit", "last ok"
    );
    frame.render_widget(
        Paragraph::new(heading).style(theme.on_base(theme.base.muted)),
        head,
    );

    let focused = app.focus == Panel::Exchanges;
    let width = usize::from(body.width).saturating_sub(2);
    let items: Vec<ListItem> = exchange_order(report)
        .into_iter()
        .map(|i| item(app, &report.exchanges[i], name_w, width, report.finished_at))
        .collect();
    // Items are one line, or more with an error: count how many whole ones fit, so a
    // venue below the fold is announced ("↓ 1 more"), never silently cut off.
    let offset = app.exchanges.offset.min(items.len());
    let mut room = usize::from(body.height);
    let shown = items[offset..]
        .iter()
        .take_while(|i| {
            let fits = i.height() <= room;
            room = room.saturating_sub(i.height());
            fits
        })
        .count();
    let total = items.len();
    let mut state = ListState::default()
        .with_offset(app.exchanges.offset)
        .with_selected(focused.then_some(app.exchanges.selected));
    let list = List::new(items)
        .style(theme.base.text)
        .highlight_style(theme.base.selected)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    frame.render_stateful_widget(list, body, &mut state);
    super::overflow(frame, area, app, total, offset, shown);
}

fn item(
    app: &App,
    e: &ExchangeReport,
    name_w: usize,
    width: usize,
    finished_at: chrono::DateTime<chrono::Utc>,
) -> ListItem<'static> {
    let theme = app.theme();
    // Always an age against the clock, never "now": the report can be an hour old when
    // every cycle since has failed (store down), and the screen must show it.
    let last_ok = match (e.status, e.last_ok_at) {
        (ExchangeStatus::Ok, t) => ago(app, t.unwrap_or(finished_at)),
        (_, Some(t)) => ago(app, t),
        (_, None) => "never".to_string(),
    };
    let detail = if e.status == ExchangeStatus::Ok {
        let c = e.coverage;
        Span::styled(
            format!(
                "{} rows · {} page{}{}",
                c.rows,
                c.pages,
                if c.pages == 1 { "" } else { "s" },
                if c.complete { "" } else { " · INCOMPLETE" }
            ),
            if c.complete {
                theme.base.muted
            } else {
                theme.base.error
            },
        )
    } else {
        Span::styled("no balances (amounts unknown)", theme.base.error)
    };
    // A circuit that refused the fetch measured nothing: no latency, no tries.
    let (latency, tries) = if e.status == ExchangeStatus::CircuitOpen {
        ("—".to_string(), "—".to_string())
    } else {
        (format!("{} ms", e.latency_ms), e.attempts.to_string())
    };
    let name = names::middle(e.name.as_str(), name_w);
    let mut first = Vec::new();
    if app.news.is_new_exchange(&e.name) {
        first.push(Span::styled("NEW ", theme.base.error));
    }
    first.extend([
        Span::styled(format!("{name:<name_w$} "), theme.base.text),
        Span::styled(
            format!("{:<STATUS_W$} ", exchange_status_label(e.status)),
            theme.exchange_status(e.status),
        ),
        Span::styled(format!("{latency:>8} "), theme.base.text),
        Span::styled(format!("{tries:>5}  "), theme.base.text),
        Span::styled(
            format!("{:<9} ", e.circuit.as_str()),
            theme.circuit(e.circuit),
        ),
        Span::styled(format!("{last_ok:<9} "), theme.base.text),
        detail,
    ]);
    let mut lines = vec![Line::from(first)];
    if let Some(err) = &e.error {
        let text = escape_controls(err).into_owned();
        for (i, part) in wrap_words(&text, width.saturating_sub(4).max(20))
            .into_iter()
            .enumerate()
        {
            lines.push(Line::from(vec![
                Span::styled(if i == 0 { "  └ " } else { "    " }, theme.base.muted),
                Span::styled(part, theme.base.error),
            ]));
        }
    }
    ListItem::new(lines)
}

/// `text` in lines of at most `cols` characters, broken at spaces; a word longer than a
/// line (a URL) is split where it must.
pub fn wrap_words(text: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let used = line.chars().count();
            let need = word.chars().count() + usize::from(used > 0);
            if used + need <= cols {
                if used > 0 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // An unbreakable word longer than a line.
            let head: String = word.chars().take(cols).collect();
            word = word.chars().skip(cols).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// How long before `app.now` `t` was, e.g. `4s ago`, `2m10s ago`.
fn ago(app: &App, t: chrono::DateTime<chrono::Utc>) -> String {
    format!("{} ago", age((app.now - t).num_seconds()))
}

#[cfg(test)]
mod tests {
    use super::wrap_words;

    #[test]
    fn errors_wrap_at_words_and_split_only_what_cannot_fit() {
        assert_eq!(
            wrap_words("exchange 'x': timed out after 1000 ms", 16),
            ["exchange 'x':", "timed out after", "1000 ms"]
        );
        assert_eq!(wrap_words("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap_words("", 4), [""]);
    }
}
