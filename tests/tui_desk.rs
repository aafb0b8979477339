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

fn key(app: &mut App, c: char) -> Option<recon::tui::Effect> {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    let event = Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    let action = recon::tui::keys::to_action(app, &event)?;
    app.update(action)
}

fn ids(app: &App) -> Vec<String> {
    app.discrepancies
        .iter()
        .map(|l| l.discrepancy.id.to_string())
        .collect()
}

#[test]
fn s_sorts_by_each_key_keeping_open_lines_first() {
    let mut app = fixtures::app("default", 120, 40);
    assert_eq!(
        ids(&app),
        [
            "coinbase-main:BTC",
            "dydx-perps:BTC-USD",
            "coinbase-main:SOL",
            "coinbase-main:LINK",
            "coinbase-main:DOGE"
        ]
    );
    key(&mut app, 's');
    assert_eq!(
        app.notice.as_ref().unwrap().text,
        "discrepancies by |difference|"
    );
    assert_eq!(
        ids(&app),
        [
            "coinbase-main:SOL",
            "coinbase-main:LINK",
            "coinbase-main:BTC",
            "dydx-perps:BTC-USD",
            "coinbase-main:DOGE"
        ],
        "the acknowledged 1500 stays below the open ones"
    );
    key(&mut app, 's');
    assert_eq!(ids(&app)[0], "coinbase-main:LINK", "oldest first (2 days)");
    key(&mut app, 's');
    key(&mut app, 's');
    assert_eq!(app.sort.label(), "asset");
    assert_eq!(ids(&app)[..2], ["coinbase-main:BTC", "dydx-perps:BTC-USD"]);
    key(&mut app, 's');
    assert_eq!(app.sort, recon::tui::triage::SortKey::Severity);
}

#[test]
fn severity_keys_words_and_hide_ok_narrow_the_lists() {
    let mut app = fixtures::app("default", 120, 40);
    key(&mut app, '4');
    assert_eq!(ids(&app), ["coinbase-main:BTC", "coinbase-main:DOGE"]);
    assert!(app.visible.iter().all(|&i| app.balances[i]
        .discrepancy
        .is_some_and(|(s, _)| s == DiscrepancySeverity::Critical)));
    key(&mut app, '4');
    assert_eq!(app.discrepancies.len(), 5, "the same key clears it");
    // `/` in the discrepancies: words AND-ed, sev:high is a minimum.
    key(&mut app, '/');
    for c in "coinbase sev:high".chars() {
        key(&mut app, c);
    }
    assert_eq!(ids(&app), ["coinbase-main:BTC", "coinbase-main:DOGE"]);
    assert_eq!(app.visible.len(), 11, "the balances are not filtered by it");
    let s = screen(&app);
    assert!(s.contains("2 of 5"), "{s}");
    // Esc clears the text and keeps the selected line.
    key(&mut app, 'x');
    app.update(Action::Command(Command::Cancel));
    assert_eq!(app.discrepancies.len(), 5);
    // `o` hides balances that match, never unknown ones.
    let all = app.visible.len();
    key(&mut app, 'o');
    let shown = app.visible.len();
    assert!(shown < all, "{shown} of {all}");
    assert!(app.visible.iter().all(|&i| {
        let l = &app.balances[i];
        l.discrepancy.is_some() || l.unavailable.is_some() || l.uncompared.is_some()
    }));
    key(&mut app, 'o');
    assert_eq!(app.visible.len(), all);
}

#[test]
fn n_and_shift_n_jump_to_critical_lines_and_wrap() {
    let mut app = fixtures::app("default", 120, 40);
    assert_eq!(app.focus, Panel::Discrepancies);
    assert_eq!(app.discrepancy_cursor.selected, 0);
    // BTC is the only counted critical: n wraps back onto it.
    key(&mut app, 'j');
    key(&mut app, 'n');
    assert_eq!(
        app.selected_discrepancy().unwrap().id.as_str(),
        "coinbase-main:BTC"
    );
    key(&mut app, 'N');
    assert_eq!(
        app.selected_discrepancy().unwrap().id.as_str(),
        "coinbase-main:BTC"
    );
    // In the exchanges panel, n finds the failed one.
    app.update(Action::Command(Command::FocusPrev));
    app.update(Action::Command(Command::FocusPrev));
    key(&mut app, 'j');
    key(&mut app, 'n');
    assert_eq!(
        app.selected_exchange().unwrap().name.as_str(),
        "exchange-prime"
    );
}

#[test]
fn acknowledging_keeps_the_cursor_on_its_row_and_high_ones_need_a_note() {
    use recon::tui::Effect;
    let mut app = fixtures::app("default", 120, 40);
    key(&mut app, 'a');
    // A critical one without a note is refused in place.
    assert_eq!(app.update(Action::Command(Command::Confirm)), None);
    assert_eq!(
        app.notice.as_ref().unwrap().text,
        "a critical discrepancy needs a note to be acknowledged"
    );
    for c in "recount".chars() {
        key(&mut app, c);
    }
    let Some(Effect::Acknowledge { .. }) = app.update(Action::Command(Command::Confirm)) else {
        panic!("with a note it is recorded");
    };
    // The engine's view comes back with BTC acknowledged: it moves below the open lines,
    // and the cursor stays on the first row, now the next open line.
    let mut report = fixtures::report();
    report.discrepancies[0].acknowledgement = Some(recon::domain::Acknowledgement {
        by: "alice".into(),
        note: "recount".into(),
        at: fixtures::now(),
        difference: report.discrepancies[0].difference,
        expires_at: None,
    });
    let view = fixtures::view(Some(report));
    app.update(Action::Engine(Arc::new(view), fixtures::now()));
    assert_eq!(app.discrepancy_cursor.selected, 0);
    assert_eq!(
        app.selected_discrepancy().unwrap().id.as_str(),
        "dydx-perps:BTC-USD"
    );
    // Without the requirement an empty note is fine.
    let mut app = fixtures::app("default", 120, 40);
    app.require_ack_note = false;
    key(&mut app, 'a');
    assert!(matches!(
        app.update(Action::Command(Command::Confirm)),
        Some(Effect::Acknowledge { .. })
    ));
}

#[test]
fn u_withdraws_an_acknowledgement_and_refuses_on_an_open_line() {
    use recon::tui::Effect;
    let mut app = fixtures::app("default", 120, 40);
    assert_eq!(key(&mut app, 'u'), None);
    assert_eq!(
        app.notice.as_ref().unwrap().text,
        "coinbase-main:BTC is not acknowledged"
    );
    app.update(Action::Command(Command::Bottom));
    assert_eq!(
        key(&mut app, 'u'),
        Some(Effect::Withdraw {
            exchange: recon::domain::ExchangeName::new("coinbase-main"),
            asset: recon::domain::Asset::parse("DOGE").unwrap(),
            by: "alice".into(),
        })
    );
}

#[test]
fn z_zooms_the_focused_panel_and_y_copies_the_selected_id() {
    let mut app = fixtures::app("default", 80, 24);
    key(&mut app, 'z');
    let s = screen(&app);
    assert!(s.contains("Discrepancies"), "{s}");
    assert!(!s.contains("Balances"), "{s}");
    assert!(!s.contains("Exchanges"), "{s}");
    key(&mut app, 'z');
    assert!(screen(&app).contains("Balances"));
    key(&mut app, 'y');
    assert_eq!(app.clipboard.as_deref(), Some("coinbase-main:BTC"));
    assert_eq!(
        app.notice.as_ref().unwrap().text,
        "copied coinbase-main:BTC"
    );
}

#[test]
fn at_80x24_the_discrepancies_keep_five_rows() {
    let app = fixtures::app("default", 80, 24);
    let s = screen(&app);
    for id in [
        "coinbase-main:BTC",
        "dydx-perps:BTC-USD",
        "coinbase-main:SOL",
        "coinbase-main:LINK",
        "coinbase-main:DOGE",
    ] {
        assert!(
            s.lines().any(|l| l.starts_with('┃') && l.contains(id)),
            "{id} not visible:\n{s}"
        );
    }
}

#[test]
fn the_wheel_scrolls_the_panel_under_it_and_a_click_focuses_and_selects() {
    use recon::tui::keys::Pointer;
    let mut app = fixtures::app("default", 120, 40);
    let r = ui::regions(ratatui::layout::Rect::new(0, 0, 120, 40), &app);
    // Click the third balance row (border, header, rows…).
    app.update(Action::Mouse(Pointer::Click {
        column: r.balances.x + 5,
        row: r.balances.y + 2 + 2,
    }));
    assert_eq!(app.focus, Panel::Balances);
    assert_eq!(app.balance_cursor.selected, 2);
    // The wheel over the discrepancies scrolls them, and focuses them.
    app.update(Action::Mouse(Pointer::Wheel {
        column: r.discrepancies.x + 5,
        row: r.discrepancies.y + 3,
        down: true,
    }));
    assert_eq!(app.focus, Panel::Discrepancies);
    assert_eq!(app.discrepancy_cursor.selected, 3);
    // A click on a border or outside the panels selects nothing.
    app.update(Action::Mouse(Pointer::Click { column: 0, row: 0 }));
    assert_eq!(app.discrepancy_cursor.selected, 3);
}

#[test]
fn audit_times_carry_their_zone_and_another_process_says_so() {
    use recon::config::TimeZoneSetting;
    use recon::store::AuditEntry;
    use recon::tui::audit_pane::AuditLine;
    let entry = |event: &str, pid: u32| AuditEntry {
        seq: 7,
        at: "2026-12-01T10:00:05.000Z".into(),
        event: event.into(),
        subject: None,
        detail: format!(r#"{{"mode":"once","pid":{pid}}}"#),
        prev_hash: String::new(),
        hash: String::new(),
    };
    let own = std::process::id();
    let line = AuditLine::shown(&entry("shutdown", own + 1), TimeZoneSetting::Utc, Some(own));
    assert_eq!(line.time, "10:00:05Z");
    assert_eq!(line.subject, "other process: once");
    let line = AuditLine::shown(&entry("startup", own), TimeZoneSetting::Utc, Some(own));
    assert_eq!(line.subject, "this console");
    let local = AuditLine::shown(&entry("shutdown", own), TimeZoneSetting::Local, Some(own));
    assert!(
        local.time.contains('+') || local.time.contains('-') || local.time.ends_with('Z'),
        "{}",
        local.time
    );
    assert!(local.time.len() >= 9, "{}", local.time);
}

#[test]
fn an_unreadable_ledger_shows_a_question_mark_and_the_last_good_balances_dated() {
    let mut app = fixtures::app("default", 120, 40);
    let good_rows = app.balances.len();
    let mut broken = fixtures::report();
    broken.ledger_error = Some("ledger ledger.toml: expected `=`".into());
    broken.discrepancies.clear();
    broken.status = recon::domain::ReconciliationStatus::Failed;
    broken.worst_severity = None;
    broken.finished_at += TimeDelta::seconds(30);
    let mut view = fixtures::view(Some(broken));
    view.cycles_completed = 43;
    app.update(Action::Engine(Arc::new(view), fixtures::now()));
    assert_eq!(
        app.balances.len(),
        good_rows,
        "the last good picture stands in"
    );
    assert_eq!(app.balances_as_of, Some(fixtures::finished_at()));
    let s = screen(&app);
    assert!(s.contains("? open (ledger unreadable)"), "{s}");
    assert!(!s.contains("0 open"), "{s}");
    assert!(s.contains("as of 10:00:00 UTC — ledger unreadable"), "{s}");
    assert!(s.contains("Discrepancies ? (ledger unreadable)"), "{s}");
}

#[test]
fn ledger_tables_for_exchanges_that_are_not_configured_raise_a_banner() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = fixtures::app("default", w, h);
        assert!(!screen(&app).contains("not configured"));
        let mut report = fixtures::report();
        report.unconfigured = vec![recon::domain::ExchangeName::new("kraken-old")];
        let mut view = fixtures::view(Some(report));
        view.cycles_completed = 43;
        app.update(Action::Engine(Arc::new(view), fixtures::now()));
        let s = screen(&app);
        let line = s.lines().nth(1).unwrap();
        assert_eq!(
            line.trim_end(),
            " ⚠ ledger lists an exchange not configured, not reconciled: kraken-old",
            "{s}"
        );
        insta::assert_snapshot!(format!("unconfigured_banner_{w}x{h}"), s);
        // Two of them, and a notice after a key does not hide the banner.
        let mut report = fixtures::report();
        report.unconfigured = vec![
            recon::domain::ExchangeName::new("kraken-old"),
            recon::domain::ExchangeName::new("ftx"),
        ];
        app.update(Action::Engine(
            Arc::new(fixtures::view(Some(report))),
            fixtures::now(),
        ));
        key(&mut app, 'u');
        let s = screen(&app);
        assert!(
            s.lines().nth(1).unwrap().starts_with(
                " ⚠ ledger lists exchanges not configured, not reconciled: kraken-old, ftx"
            ),
            "{s}"
        );
    }
}

#[test]
fn column_widths_stay_put_when_the_next_cycle_has_shorter_amounts() {
    let mut app = fixtures::app("default", 120, 40);
    let headers = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.contains("on exchange") || l.contains("discrepancy "))
            // Inside the borders (a scrollbar may come and go on the right one).
            .map(|l| l.chars().skip(1).take(118).collect())
            .collect()
    };
    let rows = |s: &str, needle: &str| -> String {
        s.lines().find(|l| l.contains(needle)).unwrap().to_string()
    };
    let before = screen(&app);
    assert_eq!(headers(&before).len(), 2, "{before}");
    // The widest amounts leave: dydx's USDC (six places) and the 1500 DOGE gap.
    let mut report = fixtures::report();
    report.exchanges[2].balances.truncate(2);
    report.discrepancies.retain(|d| d.asset.as_str() != "DOGE");
    report.id += 1;
    let mut view = fixtures::view(Some(report));
    view.cycles_completed = 43;
    app.update(Action::Engine(Arc::new(view), fixtures::now()));
    let after = screen(&app);
    assert!(!after.contains("14000.123456"), "{after}");
    assert_eq!(headers(&after), headers(&before), "{after}");
    // A discrepancy that stayed is drawn exactly where it was.
    let needle = "coinbase-main:SOL";
    assert_eq!(rows(&after, needle), rows(&before, needle), "{needle}");
}

#[test]
fn at_80_columns_names_give_way_before_any_digit() {
    let mut report = fixtures::report();
    report.exchanges[0].balances[0] = recon::engine::report::BalanceRow {
        asset: recon::domain::Asset::parse("BTC").unwrap(),
        local: fixtures::dec("1234567890123.12345678"),
        exchange: fixtures::dec("1234567890122.02345678"),
    };
    let app = fixtures::app_with(
        "default",
        80,
        24,
        fixtures::view(Some(report)),
        fixtures::audit_entries(10, 10),
    );
    let mut app = app;
    app.focus = Panel::Balances;
    key(&mut app, 'z');
    let s = screen(&app);
    let row = s
        .lines()
        .find(|l| l.contains("1234567890123.12345678"))
        .unwrap_or_else(|| panic!("the local amount is cut:\n{s}"));
    for amount in ["1234567890122.02345678", "-1.1"] {
        assert!(row.contains(amount), "{amount} cut in\n{row}");
    }
    // The exchange name is shortened in the middle instead, its end kept.
    assert!(row.contains('…'), "{row}");
    assert!(!s.contains("1234567890123.1234…"), "{s}");
}

/// The valued fixture with every exchange compared (the failed one left out), so the
/// value at risk is known when every open line is priced.
fn valued_app(w: u16, h: u16, price_age_secs: i64, link_unpriced: bool) -> App {
    let mut report = fixtures::valued_report(price_age_secs, link_unpriced);
    report.exchanges.retain(|e| e.compared);
    fixtures::app_with(
        "default",
        w,
        h,
        fixtures::view(Some(report)),
        fixtures::audit_entries(10, 10),
    )
}

#[test]
fn the_value_at_risk_is_unknown_while_a_venue_was_not_compared() {
    // Every open line priced, but exchange-prime failed: its gaps are not in the sum.
    let app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(fixtures::valued_report(30, false))),
        fixtures::audit_entries(10, 10),
    );
    let s = screen(&app);
    assert!(s.contains("at risk ? USD (incomplete)"), "{s}");
    let r = fixtures::valued_report(30, false);
    let var = r.value_at_risk().unwrap();
    assert_eq!(var.value, None);
    assert_eq!(
        var.error.as_deref(),
        Some("exchange-prime not compared this cycle: its gaps are unknown")
    );
    // An unreadable ledger: nothing compared, nothing summed.
    let mut r = fixtures::valued_report(30, false);
    r.exchanges.retain(|e| e.compared);
    assert_eq!(
        r.value_at_risk().unwrap().value,
        Some(fixtures::dec("10070.5"))
    );
    r.ledger_error = Some("ledger ledger.toml: cannot read".into());
    assert_eq!(
        r.value_at_risk().unwrap().error.as_deref(),
        Some("the ledger could not be read: nothing was compared")
    );
}

#[test]
fn with_valuation_each_discrepancy_shows_its_value_and_the_header_the_value_at_risk() {
    let app = valued_app(120, 40, 30, false);
    let s = screen(&app);
    // The open ones: 9700 + 291 + 75 + 4.5 (the acknowledged DOGE gap is not at risk).
    assert!(s.contains("at risk 10070.5 USD"), "{s}");
    assert!(!s.contains("prices stale"), "{s}");
    let header = s.lines().find(|l| l.contains("discrepancy ")).unwrap();
    assert!(header.contains("value USD"), "{header}");
    // Exact, and aligned on the point: the units of 9700 sit above those of 4.5.
    for (id, cells) in [
        ("coinbase-main:BTC", "-0.1      9700       6.67%"),
        ("dydx-perps:BTC-USD", "0.003     291       1.19%"),
        ("coinbase-main:SOL", "-0.5        75       0.20%"),
        ("coinbase-main:LINK", "0.3         4.5     0.02%"),
    ] {
        let line = s.lines().find(|l| l.contains(id)).unwrap();
        assert!(line.contains(cells), "{id}: {line}");
    }
    insta::assert_snapshot!("valued_120x40", s);
    let narrow = screen(&valued_app(80, 24, 30, false));
    insta::assert_snapshot!("valued_80x24", narrow);
}

#[test]
fn an_unpriced_open_line_makes_the_value_at_risk_unknown_and_stale_prices_say_how_old() {
    let app = valued_app(120, 40, 400, true);
    let s = screen(&app);
    assert!(s.contains("at risk ? USD (unpriced)"), "{s}");
    assert!(s.contains("prices stale 6m40s"), "{s}");
    let link = s
        .lines()
        .find(|l| l.contains("coinbase-main:LINK"))
        .unwrap();
    assert!(link.contains(" ? "), "{link}");
}

#[test]
fn the_detail_view_shows_the_value_its_severity_and_the_price_with_its_age() {
    let mut app = valued_app(120, 40, 30, true);
    assert_eq!(app.focus, Panel::Discrepancies);
    app.update(Action::Command(Command::OpenDetail));
    let s = screen(&app);
    for needle in [
        "value           9700 USD  (value severity ◆ HIGH)",
        "price           97000 USD per BTC, as of 2026-11-24 09:59:30 UTC (34s ago)",
    ] {
        assert!(s.contains(needle), "missing '{needle}':\n{s}");
    }
    // An unpriced line says why instead of a value.
    let mut app = valued_app(120, 40, 30, true);
    for _ in 0..3 {
        key(&mut app, 'j');
    }
    app.update(Action::Command(Command::OpenDetail));
    let s = screen(&app);
    assert!(
        s.contains("value           unknown: no price for LINK in the static table"),
        "{s}"
    );
}

#[test]
fn s_sorts_by_value_with_unpriced_lines_first_only_when_prices_exist() {
    let mut app = valued_app(120, 40, 30, true);
    key(&mut app, 's');
    key(&mut app, 's');
    assert_eq!(app.sort.label(), "value");
    assert_eq!(
        ids(&app),
        [
            "coinbase-main:LINK",
            "coinbase-main:BTC",
            "dydx-perps:BTC-USD",
            "coinbase-main:SOL",
            "coinbase-main:DOGE",
        ]
    );
    // Unvalued, `s` goes from |difference| straight to age.
    let mut app = fixtures::app("default", 120, 40);
    key(&mut app, 's');
    key(&mut app, 's');
    assert_eq!(app.sort.label(), "age");
}
