//! The console at desk scale: news (bell, NEW marks, title), failures first, names that
//! keep the asset. The app is driven with engine views as the loop feeds them, and drawn
//! into ratatui's `TestBackend`.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::sync::Arc;

use chrono::TimeDelta;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use recon::domain::DiscrepancySeverity;
use recon::engine::report::ExchangeStatus;
use recon::tui::keys::Command;
use recon::tui::{ui, Action, App, Panel};

fn screen(app: &App) -> String {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The next cycle's view: the fixture report plus `extra` discrepancies, `cycles` done.
fn next_cycle(
    app: &mut App,
    extra: Vec<recon::domain::BalanceDiscrepancy>,
    cycles: u64,
    secs: i64,
) {
    let mut report = fixtures::report();
    report.id += cycles as i64;
    report.discrepancies.extend(extra);
    report.worst_severity = Some(DiscrepancySeverity::Critical);
    let mut view = fixtures::view(Some(report));
    view.cycles_completed = cycles;
    app.update(Action::Engine(
        Arc::new(view),
        fixtures::now() + TimeDelta::seconds(secs),
    ));
}

#[test]
fn a_new_critical_rings_the_bell_once_is_marked_new_and_titles_the_terminal() {
    let mut app = fixtures::app("default", 120, 40);
    // The starting picture rings nothing.
    assert!(!app.take_bell());
    assert_eq!(
        app.take_title().as_deref(),
        Some("recon ✖ 1 critical · 1 down")
    );
    assert_eq!(app.take_title(), None, "unchanged: not sent again");
    let eth = fixtures::discrepancy(
        "coinbase-main",
        "ETH",
        "10",
        "9",
        DiscrepancySeverity::Critical,
        0,
    );
    next_cycle(&mut app, vec![eth.clone()], 43, 1);
    assert!(app.take_bell(), "a new critical rings");
    assert!(!app.take_bell(), "once");
    assert_eq!(
        app.take_title().as_deref(),
        Some("recon ✖ 2 critical · 1 down")
    );
    assert_eq!(
        app.notice.as_ref().unwrap().text,
        "new critical coinbase-main:ETH"
    );
    let s = screen(&app);
    let line = s
        .lines()
        .find(|l| l.starts_with('┃') && l.contains("coinbase-main:ETH"))
        .unwrap();
    assert!(line.contains("NEW"), "{line}");
    // The same picture again: no bell.
    next_cycle(&mut app, vec![eth.clone()], 44, 2);
    assert!(!app.take_bell());
    // Moving onto it marks it seen.
    while app.selected_discrepancy().is_none_or(|d| d.id != eth.id) {
        app.update(Action::Command(Command::Down));
    }
    assert!(!app.news.is_new(&eth.id));
    assert!(!screen(&app).contains("NEW"));
}

#[test]
fn with_the_bell_off_news_is_marked_but_silent_and_marks_fade_after_a_minute() {
    let mut app = fixtures::app("default", 120, 40);
    app.bell = false;
    let eth = fixtures::discrepancy(
        "coinbase-main",
        "ETH",
        "10",
        "9",
        DiscrepancySeverity::High,
        0,
    );
    next_cycle(&mut app, vec![eth.clone()], 43, 1);
    assert!(!app.take_bell());
    assert!(app.news.is_new(&eth.id));
    app.update(Action::Tick(fixtures::now() + TimeDelta::seconds(62)));
    assert!(!app.news.is_new(&eth.id));
}

#[test]
fn failed_exchanges_lead_their_panel_and_a_circuit_open_one_shows_no_latency() {
    let mut report = fixtures::report();
    report.exchanges[1].status = ExchangeStatus::CircuitOpen;
    report.exchanges[1].error = Some("circuit open after 5 failures; next try in 30 s".into());
    let mut app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(report)),
        fixtures::audit_entries(10, 5),
    );
    let s = screen(&app);
    let rows: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("closed") || l.contains("open  "))
        .collect();
    assert!(rows[0].contains("exchange-prime"), "{rows:#?}");
    assert!(
        rows[0].contains("CIRCUIT OPEN        —     —  "),
        "no 0 ms, no tries: {}",
        rows[0]
    );
    assert!(!rows[0].contains(" ms"), "{}", rows[0]);
    app.update(Action::Command(Command::FocusPrev));
    app.update(Action::Command(Command::FocusPrev));
    assert_eq!(app.focus, Panel::Exchanges);
    assert_eq!(
        app.selected_exchange().unwrap().name.as_str(),
        "exchange-prime",
        "the selection follows the screen order"
    );
}

#[test]
fn long_venue_names_keep_their_asset_visible() {
    let long = fixtures::discrepancy(
        "a-very-long-treasury-account-name-at-venue",
        "BTC",
        "1",
        "0.5",
        DiscrepancySeverity::Critical,
        10,
    );
    let mut report = fixtures::report();
    report.discrepancies.insert(0, long);
    let app = fixtures::app_with(
        "default",
        80,
        24,
        fixtures::view(Some(report)),
        fixtures::audit_entries(10, 5),
    );
    let s = screen(&app);
    assert!(
        s.lines()
            .any(|l| l.contains('…') && l.contains(":BTC") && l.contains("a-very")),
        "{s}"
    );
}
