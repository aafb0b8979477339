//! Plain-text tables for people: `recon once` and `recon audit` in table format.

use std::fmt::Write;

use crate::domain::{align_decimals, escape_controls, format_amount};
use crate::engine::report::{ExchangeStatus, ReconciliationReport};
use crate::engine::rules::round_relative;
use crate::store::audit::timestamp;
use crate::store::AuditEntry;

/// Lays out rows under headers, each column as wide as its widest cell. Columns listed in
/// `right` are right-aligned (numbers). Control characters in a cell (a note typed with a
/// newline or an escape sequence) are shown escaped, so a cell is always one line of
/// plain text.
pub fn layout(headers: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape_controls(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                l.push_str("  ");
            }
            if right.contains(&i) {
                l.push_str(&" ".repeat(pad));
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// The report as text: a status line, the exchanges, the discrepancies.
pub fn report(r: &ReconciliationReport) -> String {
    let mut out = String::new();
    let worst = r
        .worst_severity
        .map(|s| format!(" (worst: {s})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "recon cycle {} at {} took {} ms: {}{}",
        r.id,
        timestamp(r.finished_at),
        r.duration_ms,
        r.status.as_str().to_uppercase(),
        worst
    );
    if let Some(e) = &r.ledger_error {
        let _ = writeln!(out, "ledger: {}", escape_controls(e));
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = r
        .exchanges
        .iter()
        .map(|e| {
            vec![
                e.name.to_string(),
                e.kind.as_str().to_string(),
                e.status.as_str().to_string(),
                if e.compared { "yes" } else { "no" }.to_string(),
                format!("{} ms", e.latency_ms),
                e.attempts.to_string(),
                if e.status == ExchangeStatus::Ok {
                    format!("{}/{}", e.coverage.rows, e.coverage.pages)
                } else {
                    "-".into()
                },
                e.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&layout(
        &[
            "EXCHANGE",
            "KIND",
            "STATUS",
            "COMPARED",
            "LATENCY",
            "TRIES",
            "ROWS/PAGES",
            "ERROR",
        ],
        &rows,
        &[4, 5],
    ));
    out.push('\n');
    if r.discrepancies.is_empty() {
        // "No discrepancies" would read as "all reconciled" when nothing was compared.
        out.push_str(if r.exchanges.iter().any(|e| e.compared) {
            "no discrepancies\n"
        } else {
            "no discrepancies known: nothing was compared\n"
        });
        return out;
    }
    let col = |f: &dyn Fn(&crate::domain::BalanceDiscrepancy) -> String| {
        align_decimals(&r.discrepancies.iter().map(f).collect::<Vec<_>>())
    };
    let local = col(&|d| format_amount(d.local));
    let exch = col(&|d| format_amount(d.exchange_amount));
    let diff = col(&|d| format_amount(d.difference));
    let expected = col(&|d| format_amount(d.expected_total()));
    let residual = col(&|d| format_amount(d.residual()));
    // With [valuation]: the value in the quote currency, aligned on the point like the
    // amounts; `-` when the line has no value (the reason is in NOTE).
    let valued = r.valuation.is_some();
    let value = col(&|d| {
        d.valuation
            .as_ref()
            .and_then(|v| v.value)
            .map_or_else(|| "-".to_string(), format_amount)
    });
    let rows: Vec<Vec<String>> = r
        .discrepancies
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut row = vec![
                format!(
                    "{} {}",
                    d.severity.symbol(),
                    d.severity.as_str().to_uppercase()
                ),
                format!("{} {}", d.state().symbol(), d.state().as_str()),
                d.id.to_string(),
                d.kind.as_str().to_string(),
                local[i].clone(),
                exch[i].clone(),
                diff[i].clone(),
                expected[i].clone(),
                residual[i].clone(),
                format_amount(round_relative(d.relative)),
            ];
            if valued {
                row.push(value[i].clone());
            }
            row.push(note(d, r.finished_at));
            row
        })
        .collect();
    let mut headers = vec![
        "SEVERITY",
        "STATE",
        "ID",
        "KIND",
        "LOCAL",
        "EXCHANGE",
        "DIFFERENCE",
        "EXPECTED",
        "RESIDUAL",
        "RELATIVE",
    ];
    let value_header = r.valuation.as_ref().map(|v| format!("VALUE ({})", v.quote));
    let mut right = vec![4, 5, 6, 7, 8];
    if let Some(h) = &value_header {
        headers.push(h);
        right.push(10);
    }
    headers.push("NOTE");
    out.push_str(&layout(&headers, &rows, &right));
    if valued {
        out.push('\n');
        out.push_str(&value_at_risk(r));
    }
    out
}

/// The value-at-risk line (overall, then per compared exchange) and, when the prices are
/// not current, why.
fn value_at_risk(r: &ReconciliationReport) -> String {
    let Some(p) = &r.valuation else {
        return String::new();
    };
    let mut out = String::new();
    let shown = |v: &crate::engine::report::ValueAtRisk| match (&v.value, &v.error) {
        (Some(x), _) => format!("{} {}", format_amount(*x), p.quote),
        (None, Some(e)) => format!("unknown: {e}"),
        (None, None) => "unknown".to_string(),
    };
    if let Some(total) = r.value_at_risk() {
        let per: Vec<String> = r
            .exchanges
            .iter()
            .filter(|e| e.compared)
            .filter_map(|e| {
                r.exchange_value_at_risk(&e.name).map(|v| {
                    format!(
                        "{} {}",
                        e.name,
                        v.value.map_or("unknown".into(), format_amount)
                    )
                })
            })
            .collect();
        let _ = writeln!(out, "value at risk: {}", shown(&total));
        if per.len() > 1 {
            let _ = writeln!(out, "  by exchange: {}", per.join(", "));
        }
    }
    if p.is_stale(r.finished_at) || p.error.is_some() {
        let age = p
            .age_secs(r.finished_at)
            .map_or("never fetched".to_string(), |a| format!("{a} s old"));
        let state = if p.is_stale(r.finished_at) {
            "stale"
        } else {
            "cached"
        };
        let _ = writeln!(
            out,
            "prices ({}): {state}, {age} (max {} s){}",
            p.source,
            p.max_age.as_secs(),
            p.error
                .as_deref()
                .map(|e| format!("; {}", escape_controls(e)))
                .unwrap_or_default()
        );
    }
    out
}

/// Who acknowledged it (and until when), and which expectations explain it.
fn note(d: &crate::domain::BalanceDiscrepancy, now: chrono::DateTime<chrono::Utc>) -> String {
    let mut parts = Vec::new();
    if let Some(e) = d.valuation.as_ref().and_then(|v| v.price_error.as_deref()) {
        parts.push(format!("no value: {e}"));
    }
    if let Some(a) = &d.acknowledgement {
        parts.push(if a.note.is_empty() {
            format!("acked by {}{}", a.by, until(a, now))
        } else {
            format!("acked by {}{}: {}", a.by, until(a, now), a.note)
        });
    }
    for e in &d.expected {
        let mut p = format!(
            "expect #{} by {} until {}",
            e.id,
            e.by,
            short_time(e.expires_at, now)
        );
        if !e.note.is_empty() {
            p.push_str(": ");
            p.push_str(&e.note);
        }
        parts.push(p);
    }
    parts.join("; ")
}

/// `HH:MM UTC`, with the date when it is not `now`'s day.
fn short_time(t: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        format!("{} UTC", t.format("%H:%M"))
    } else {
        format!("{} UTC", t.format("%Y-%m-%d %H:%M"))
    }
}

/// ` until HH:MM UTC` for a snoozed acknowledgement (with the date when it is not the
/// report's day: a snooze may last 30 days); empty for one without a deadline.
fn until(a: &crate::domain::Acknowledgement, now: chrono::DateTime<chrono::Utc>) -> String {
    a.expires_at
        .map(|e| format!(" until {}", short_time(e, now)))
        .unwrap_or_default()
}

/// Audit entries as text, newest first.
pub fn audit(entries: &[AuditEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.at.clone(),
                e.event.clone(),
                e.subject.clone().unwrap_or_default(),
                e.detail.clone(),
            ]
        })
        .collect();
    layout(&["SEQ", "AT", "EVENT", "SUBJECT", "DETAIL"], &rows, &[0])
}
