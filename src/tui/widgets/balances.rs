//! Balances: local against exchange, per exchange, with the difference; decimal points
//! aligned (the strings were padded once, when the report arrived). Only the rows in
//! view are built, so a frame costs the same with 10 rows or 10 000.

use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::{exchange_status_label, fit, panel_block, severity_label};
use crate::domain::DiscrepancyState;
use crate::engine::report::ExchangeStatus;
use crate::tui::app::{App, Panel};
use crate::tui::rows::BalanceLine;

/// Wide enough for `● ✖ CRITICAL` and `◌ CIRCUIT OPEN`.
const STATE_W: usize = 14;
const SPACING: u16 = 1;

/// Draws the balances table.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = app.theme();
    let mut title = vec![Span::raw(format!(
        "Balances {}/{}",
        app.visible.len(),
        app.balances.len()
    ))];
    title.extend(super::narrowing(app, Panel::Balances));
    if let Some(at) = app.balances_as_of {
        title.push(Span::styled(
            format!("  as of {} — ledger unreadable", at.format("%H:%M:%S UTC")),
            theme.base.error,
        ));
    }
    let block = panel_block(app, Panel::Balances, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.view.report.is_none() {
        let msg = " waiting for the first cycle…";
        frame.render_widget(
            Paragraph::new(msg).style(theme.on_base(theme.base.muted)),
            inner,
        );
        return;
    }
    if app.visible.is_empty() {
        let ledger_failed = app
            .view
            .report
            .as_ref()
            .is_some_and(|r| r.ledger_error.is_some());
        let (msg, style) = if !app.filter.is_empty() && app.filter_panel == Panel::Balances {
            (
                format!(" no balance matches '{}'", app.filter),
                theme.base.muted,
            )
        } else if ledger_failed {
            (
                " ledger unreadable: no balances compared".to_string(),
                theme.base.error,
            )
        } else {
            (" no balances reported".to_string(), theme.base.muted)
        };
        frame.render_widget(Paragraph::new(msg).style(theme.on_base(style)), inner);
        return;
    }

    let w = Widths::new(app, inner.width);
    let height = usize::from(inner.height.saturating_sub(1));
    let start = app.balance_cursor.offset.min(app.visible.len());
    let end = (start + height).min(app.visible.len());
    let rows: Vec<Row> = app.visible[start..end]
        .iter()
        .map(|&i| row(app, &app.balances[i], &w))
        .collect();
    let right = |s: &'static str| Cell::from(Line::from(s).alignment(Alignment::Right));
    let mut header = vec![
        Cell::from("exchange"),
        Cell::from("asset"),
        right("local"),
        right("on exchange"),
        right("difference"),
    ];
    let mut widths = vec![
        Constraint::Length(w.exchange as u16),
        Constraint::Length(w.asset as u16),
        Constraint::Length(w.local as u16),
        Constraint::Length(w.exchange_amount as u16),
        Constraint::Length(w.difference as u16),
    ];
    if w.state {
        header.push(Cell::from("state"));
        widths.push(Constraint::Length(STATE_W as u16));
    }
    let focused = app.focus == Panel::Balances;
    let mut state = TableState::default()
        .with_selected(focused.then_some(app.balance_cursor.selected.saturating_sub(start)));
    // An old picture is greyed: it is context, not the current state.
    let body = if app.balances_as_of.is_some() {
        theme.on_base(theme.base.muted)
    } else {
        theme.base.text
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.base.muted))
        .column_spacing(SPACING)
        .style(body)
        .row_highlight_style(theme.base.selected)
        .highlight_symbol("▶ ")
        .highlight_spacing(HighlightSpacing::Always);
    frame.render_stateful_widget(table, inner, &mut state);
    let shown = usize::from(inner.height.saturating_sub(1));
    super::overflow(frame, area, app, app.visible.len(), start, shown);
}

/// Column widths: names as wide as the widest, amounts as wide as their padded strings;
/// when the terminal is narrow the names shrink first, then the state column goes, and
/// only then are amounts cut (with a visible `…`).
struct Widths {
    exchange: usize,
    asset: usize,
    local: usize,
    exchange_amount: usize,
    difference: usize,
    state: bool,
}

/// The natural widths of the balance columns over every row, measured when the report
/// arrives rather than on every frame (a desk has tens of thousands of rows), and kept
/// from one cycle to the next unless they grow, so columns do not jump as amounts change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    exchange: usize,
    asset: usize,
    local: usize,
    exchange_amount: usize,
    difference: usize,
}

impl Measure {
    /// Measures `lines`.
    pub fn of(lines: &[BalanceLine]) -> Self {
        let len = |s: &str| s.chars().count();
        lines.iter().fold(Self::default(), |m, b| Self {
            exchange: m.exchange.max(len(&b.exchange)),
            asset: m.asset.max(len(&b.asset)),
            local: m.local.max(len(&b.local)),
            exchange_amount: m.exchange_amount.max(len(&b.exchange_amount)),
            difference: m.difference.max(len(&b.difference)),
        })
    }

    /// This measure followed by `next`: each width the larger of the two.
    pub fn then(self, next: Self) -> Self {
        Self {
            exchange: self.exchange.max(next.exchange),
            asset: self.asset.max(next.asset),
            local: self.local.max(next.local),
            exchange_amount: self.exchange_amount.max(next.exchange_amount),
            difference: self.difference.max(next.difference),
        }
    }
}

impl Widths {
    fn new(app: &App, width: u16) -> Self {
        let m = app.balance_measure;
        let mut exchange = m.exchange.clamp(8, 20);
        let mut asset = m.asset.clamp(5, 14);
        let mut local = m.local.max(5);
        let mut exchange_amount = m.exchange_amount.max(11);
        let mut difference = m.difference.max(10);
        // Highlight symbol (2) and the spacing between columns.
        let avail = usize::from(width).saturating_sub(2);
        let amounts = local + exchange_amount + difference;
        let spacing = 5 * usize::from(SPACING);
        // Digits are the last to give up width: names shrink first (shortened in the
        // middle, down to 8 and 5 columns) to keep the state column, which goes only when
        // that is not enough; then names shrink to keep the amounts whole.
        let need = |names: usize, state: bool| {
            names + spacing + amounts + if state { STATE_W + 1 } else { 0 }
        };
        let state = need(8 + 5, true) <= avail;
        let over = need(exchange + asset, state).saturating_sub(avail);
        let from_exchange = over.min(exchange.saturating_sub(8));
        exchange -= from_exchange;
        asset -= (over - from_exchange).min(asset.saturating_sub(5));
        let fixed = exchange + asset + spacing;
        if fixed + amounts > avail {
            let share = avail.saturating_sub(fixed) / 3;
            local = local.min(share);
            exchange_amount = exchange_amount.min(share);
            difference = difference.min(share);
        }
        Self {
            exchange,
            asset,
            local,
            exchange_amount,
            difference,
            state,
        }
    }
}

fn row<'a>(app: &App, b: &'a BalanceLine, w: &Widths) -> Row<'a> {
    let theme = app.theme();
    let amount = |s: &str, width: usize, style: Style| {
        Cell::from(Line::from(Span::styled(fit(s, width), style)).alignment(Alignment::Right))
    };
    let mut cells = vec![
        Cell::from(fit(&b.exchange, w.exchange)),
        Cell::from(fit(&b.asset, w.asset)),
    ];
    let state = if let Some(status) = b.unavailable {
        let unknown = theme.amount.unknown;
        cells.push(amount(&b.local, w.local, theme.base.muted));
        cells.push(amount(&b.exchange_amount, w.exchange_amount, unknown));
        cells.push(amount(&b.difference, w.difference, unknown));
        Span::styled(exchange_status_label(status), theme.exchange_status(status))
    } else if let Some(status) = b.uncompared {
        // Fetched, not compared: the exchange's amount is real, the local side unknown.
        let unknown = theme.amount.unknown;
        cells.push(amount(&b.local, w.local, unknown));
        cells.push(amount(
            &b.exchange_amount,
            w.exchange_amount,
            theme.base.text,
        ));
        cells.push(amount(&b.difference, w.difference, unknown));
        match status {
            ExchangeStatus::Ok => Span::styled("? unknown", unknown),
            s => Span::styled(exchange_status_label(s), theme.exchange_status(s)),
        }
    } else {
        let text = theme.base.text;
        cells.push(amount(&b.local, w.local, text));
        cells.push(amount(&b.exchange_amount, w.exchange_amount, text));
        cells.push(amount(
            &b.difference,
            w.difference,
            theme.amount(b.negative),
        ));
        // The state mark of the discrepancy on this pair: open ones with their severity.
        match b.discrepancy {
            Some((s, DiscrepancyState::Open)) => Span::styled(
                format!("{} {}", DiscrepancyState::Open.symbol(), severity_label(s)),
                theme.severity(s),
            ),
            Some((_, DiscrepancyState::Acknowledged)) => {
                Span::styled("✓ acked", theme.widget.acknowledged)
            }
            Some((_, DiscrepancyState::Explained)) => {
                Span::styled("⇄ explained", theme.widget.explained)
            }
            None => Span::styled("ok", theme.base.muted),
        }
    };
    if w.state {
        cells.push(Cell::from(state));
    }
    Row::new(cells)
}
