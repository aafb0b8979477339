//! Frames drawn into ratatui's `TestBackend` from fixture states, compared with the
//! snapshots under `tests/snapshots/`. Snapshots hold text only, so the colour of a
//! severity cell is asserted separately for every theme.

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/states.rs"]
mod states;

use std::sync::Arc;

use chrono::TimeDelta;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use recon::domain::ReconciliationStatus;
use recon::engine::report::ExchangeStatus;
use recon::tui::keys::Command;
use recon::tui::{ui, Action, App, Panel};

fn draw(app: &App) -> Buffer {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| ui::render(app, f)).unwrap();
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let line: String = (0..area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn snapshot(name: &str, app: &App) -> Buffer {
    let buffer = draw(app);
    insta::assert_snapshot!(name, text(&buffer));
    buffer
}

/// The position of the first cell of `needle` on the first line containing it.
fn find(buffer: &Buffer, needle: &str) -> (u16, u16) {
    locate(buffer, needle, needle)
}

/// The position of `needle` on the first line that contains `line_with`.
fn locate(buffer: &Buffer, line_with: &str, needle: &str) -> (u16, u16) {
    let area = buffer.area;
    for y in 0..area.height {
        let cells: Vec<String> = (0..area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        let line: String = cells.concat();
        if !line.contains(line_with) {
            continue;
        }
        if let Some(byte) = line.find(needle) {
            // Map the byte offset back to a cell index.
            let mut acc = 0;
            for (x, c) in cells.iter().enumerate() {
                if acc == byte {
                    return (x as u16, y);
                }
                acc += c.len();
            }
        }
    }
    panic!("'{needle}' not on screen:\n{}", text(buffer));
}

#[test]
fn main_screen_in_every_theme_at_120x40() {
    for name in ["default", "light", "high-contrast", "colorblind"] {
        snapshot(
            &format!("main_{name}_120x40"),
            &fixtures::app(name, 120, 40),
        );
    }
}

#[test]
fn main_screen_at_80x24() {
    snapshot("main_default_80x24", &fixtures::app("default", 80, 24));
}

#[test]
fn the_main_screen_shows_what_a_trader_needs() {
    let buffer = draw(&fixtures::app("default", 120, 40));
    let screen = text(&buffer);
    for needle in [
        "◐ PARTIAL",
        "worst ✖ CRITICAL",
        "last 10:00:00 UTC",
        "cycle 312 ms",
        "next in 26s",
        "● RUNNING",
        // The failed exchange: its error, and unknown amounts instead of zeros.
        "✖ ERROR",
        "timed out after 1000 ms",
        "unknown",
        // Every severity reads without colour.
        "✖ CRITICAL",
        "◆ HIGH",
        "▲ MEDIUM",
        "· LOW",
        // The acknowledged one, with who and why.
        "✓ acknowledged",
        "bob: airdrop, booked tomorrow",
        "6.67%",
        "3m16s",
        "discrepancy_acknowledged",
        "r reconcile",
        "q quit",
    ] {
        assert!(screen.contains(needle), "missing '{needle}':\n{screen}");
    }
    // Points line up: the local "1.5" of BTC and the local "25000" of USDC put the point
    // (or where it would be) in the same column.
    let (x_btc, _) = locate(&buffer, "coinbase-main  BTC ", "1.5");
    let (x_usdc, _) = locate(&buffer, "coinbase-main  USDC", "25000");
    assert_eq!(
        x_btc + 1,
        x_usdc + 5,
        "decimal points misaligned:\n{screen}"
    );
}

#[test]
fn severity_cells_take_the_theme_colour() {
    let expected = [
        ("default", Color::Red, None),
        ("light", Color::Rgb(0xa4, 0x0e, 0x26), None),
        ("high-contrast", Color::Black, Some(Color::LightRed)),
        ("colorblind", Color::Rgb(0xd5, 0x5e, 0x00), None),
    ];
    for (name, fg, bg) in expected {
        let mut app = fixtures::app(name, 120, 40);
        // Off the critical row, so the selection highlight does not cover its colours.
        app.update(Action::Command(Command::Down));
        let buffer = draw(&app);
        let (x, y) = find(&buffer, "✖ CRITICAL coinbase-main:BTC");
        let cell = &buffer[(x, y)];
        assert_eq!(cell.fg, fg, "{name}: critical fg");
        if let Some(bg) = bg {
            assert_eq!(cell.bg, bg, "{name}: critical bg");
        }
        assert!(
            cell.modifier.contains(Modifier::BOLD),
            "{name}: critical is bold"
        );
        let theme = app.theme();
        for (label, severity) in [
            ("◆ HIGH", theme.severity.high),
            ("▲ MEDIUM", theme.severity.medium),
        ] {
            let (x, y) = find(&buffer, label);
            assert_eq!(Some(buffer[(x, y)].fg), severity.fg, "{name}: {label}");
        }
    }
}

#[test]
fn help_overlay_lists_every_key() {
    let mut app = fixtures::app("default", 120, 40);
    app.update(Action::Command(Command::Help));
    let buffer = snapshot("help_120x40", &app);
    let screen = text(&buffer);
    for binding in recon::tui::keys::BINDINGS {
        assert!(
            screen.contains(binding.help),
            "help lacks '{}'",
            binding.help
        );
    }
    let mut small = fixtures::app("default", 80, 24);
    small.update(Action::Command(Command::Help));
    snapshot("help_80x24", &small);
}

#[test]
fn ack_prompt() {
    let mut app = fixtures::app("default", 120, 40);
    app.update(Action::Command(Command::Acknowledge));
    for c in "checked with desk q".chars() {
        app.update(Action::Input(c));
    }
    snapshot("ack_prompt_120x40", &app);
}

#[test]
fn filter_narrows_the_balances() {
    let mut app = fixtures::app("default", 120, 40);
    app.update(Action::Command(Command::FocusPrev));
    app.update(Action::Command(Command::Filter));
    for c in "usd".chars() {
        app.update(Action::Input(c));
    }
    assert_eq!(app.focus, Panel::Balances);
    snapshot("filter_typing_120x40", &app);
}

#[test]
fn terminal_too_small() {
    let mut app = fixtures::app("default", 79, 24);
    app.update(Action::Resize(79, 24));
    let buffer = snapshot("too_small_79x24", &app);
    assert!(text(&buffer).contains("terminal too small (need 80×24, have 79×24)"));
    let mut tiny = fixtures::app("default", 20, 3);
    tiny.update(Action::Resize(20, 3));
    draw(&tiny);
    let mut none = fixtures::app("default", 1, 1);
    none.update(Action::Resize(1, 1));
    draw(&none);
}

#[test]
fn before_the_first_cycle() {
    let app = fixtures::app_with("default", 80, 24, fixtures::view(None), Vec::new());
    snapshot("waiting_80x24", &app);
}

#[test]
fn cycle_running_while_paused_shows_spinner_and_paused() {
    let mut view = fixtures::view(Some(fixtures::report()));
    view.cycle_running = true;
    view.paused = true;
    view.next_cycle_at = None;
    let app = fixtures::app_with("default", 120, 40, view, fixtures::audit_entries(10, 10));
    let screen = text(&draw(&app));
    assert!(screen.contains("‖ PAUSED"), "{screen}");
    assert!(screen.contains("⠹ reconciling…"), "{screen}");
    assert!(screen.contains("next now"), "{screen}");
}

/// The first line of the screen.
fn header_line(app: &App) -> String {
    text(&draw(app))
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// At the supported minimum, the header still shows the loop state.
#[test]
fn header_at_80x24_shows_paused() {
    let mut paused = fixtures::view(Some(fixtures::report()));
    let mut r = fixtures::report();
    r.status = ReconciliationStatus::Discrepancies;
    paused.report = Some(Arc::new(r));
    paused.paused = true;
    paused.next_cycle_at = None;
    let app = fixtures::app_with("default", 80, 24, paused, fixtures::audit_entries(10, 10));
    let header = header_line(&app);
    assert!(
        header.contains("PAUSED"),
        "paused state cut off: {header:?}"
    );
}

/// At the supported minimum, the header still shows the spinner of a running cycle.
#[test]
fn header_at_80x24_shows_spinner() {
    let mut running = fixtures::view(Some(fixtures::report()));
    let mut r = fixtures::report();
    r.status = ReconciliationStatus::Discrepancies;
    running.report = Some(Arc::new(r));
    running.cycle_running = true;
    let app = fixtures::app_with("default", 80, 24, running, fixtures::audit_entries(10, 10));
    let header = header_line(&app);
    // Any frame of the braille spinner (which one depends on the fixture's clock).
    assert!(
        header
            .chars()
            .any(|c| ('\u{2800}'..='\u{28ff}').contains(&c)),
        "spinner cut off: {header:?}"
    );
    assert!(header.contains("RUNNING"), "loop state cut off: {header:?}");
}

/// An hour of failed cycles (store down): the exchange panel must not say "last ok now".
#[test]
fn stale_report_is_not_shown_as_current() {
    let mut v = fixtures::view(Some(fixtures::report()));
    v.engine_error = Some("store: disk I/O error".into());
    let mut app = fixtures::app_with("default", 120, 40, v, fixtures::audit_entries(10, 10));
    app.update(Action::Tick(fixtures::now() + TimeDelta::hours(1)));
    let screen = text(&draw(&app));
    let line = screen
        .lines()
        .find(|l| l.contains("coinbase-main  ● OK"))
        .unwrap();
    assert!(
        !line.contains(" now "),
        "an hour-old fetch shown as 'now': {line}"
    );
    assert!(line.contains(" 1h"), "age of the last good fetch: {line}");
}

/// All exchanges failed: their open discrepancies are not in the report; the panel must
/// not claim everything is within tolerance.
#[test]
fn failed_exchanges_do_not_read_as_within_tolerance() {
    let mut r = fixtures::report();
    for e in &mut r.exchanges {
        e.status = ExchangeStatus::Error;
        e.error = Some("timed out".into());
        e.balances.clear();
    }
    r.discrepancies.clear();
    r.status = ReconciliationStatus::Failed;
    r.worst_severity = None;
    let app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    let screen = text(&draw(&app));
    assert!(!screen.contains("within tolerance"), "{screen}");
    assert!(
        screen.contains("not compared on 3 failed exchange"),
        "{screen}"
    );
}

/// The ledger could not be read: nothing was compared.
#[test]
fn ledger_failure_does_not_read_as_no_balances_and_within_tolerance() {
    let mut r = fixtures::report();
    for e in &mut r.exchanges {
        e.balances.clear();
    }
    r.exchanges.remove(1);
    r.discrepancies.clear();
    r.ledger_error = Some("ledger.toml: unreadable".into());
    r.status = ReconciliationStatus::Failed;
    r.worst_severity = None;
    let app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    let screen = text(&draw(&app));
    assert!(!screen.contains("within tolerance"), "{screen}");
    assert!(!screen.contains("no balances reported"), "{screen}");
    assert!(
        screen.contains("not compared: ledger unreadable"),
        "{screen}"
    );
}

/// The ledger could not be read: what each exchange reported is shown, its local side
/// "unknown", never a zero or an empty account.
#[test]
fn ledger_failure_shows_reported_amounts_with_local_unknown() {
    let mut r = fixtures::report();
    for e in &mut r.exchanges {
        e.uncompared = e
            .balances
            .iter()
            .map(|b| (b.asset.clone(), b.exchange))
            .collect();
        e.balances.clear();
        e.compared = false;
    }
    r.exchanges.remove(1);
    r.discrepancies.clear();
    r.ledger_error = Some("ledger.toml: unreadable".into());
    r.status = ReconciliationStatus::Failed;
    r.worst_severity = None;
    let app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    let screen = text(&draw(&app));
    let btc = screen
        .lines()
        .find(|l| l.contains("coinbase-main") && l.contains("BTC"))
        .unwrap_or_else(|| panic!("{screen}"));
    let cells: Vec<&str> = btc.split_whitespace().collect();
    assert!(
        cells
            .windows(4)
            .any(|w| w == ["unknown", "1.4", "unknown", "?"]),
        "{btc}"
    );
    assert!(!screen.contains("within tolerance"), "{screen}");
}

/// The note being typed stays visible in the prompt, with the key hint.
#[test]
fn long_note_stays_visible_in_the_prompt() {
    let mut app = fixtures::app("default", 80, 24);
    app.update(Action::Command(Command::Acknowledge));
    let note: String = "注意".repeat(98) + "END";
    for c in note.chars() {
        app.update(Action::Input(c));
    }
    assert_eq!(app.prompt.as_ref().unwrap().note.chars().count(), 199);
    let screen = text(&draw(&app));
    assert!(
        screen.contains("END"),
        "end of the note is off the prompt:\n{screen}"
    );
    assert!(screen.contains("Enter confirm"), "hint cut:\n{screen}");
}

/// The engine task died: after any other notice and 10 s, the header still says so.
#[test]
fn a_dead_engine_stays_visible() {
    let mut app = fixtures::app("default", 120, 40);
    app.update(Action::EffectFailed {
        what: "engine",
        error: Arc::new(recon::error::ReconciliationError::EngineStopped),
    });
    app.update(Action::Command(Command::NextTheme));
    app.update(Action::Tick(fixtures::now() + TimeDelta::seconds(11)));
    let screen = text(&draw(&app));
    assert!(!screen.contains("● RUNNING"), "{screen}");
    assert!(header_line(&app).contains("ENGINE STOPPED"), "{screen}");
}

#[test]
fn expect_prompt_in_every_theme_at_80x24_and_120x40() {
    for name in ["default", "light", "high-contrast", "colorblind"] {
        for (w, h) in [(80, 24), (120, 40)] {
            let mut app = fixtures::app(name, w, h);
            app.update(Action::Command(Command::Expect));
            app.update(Action::Command(Command::NextField));
            for c in "2h".chars() {
                app.update(Action::Input(c));
            }
            app.update(Action::Command(Command::NextField));
            for c in "withdrawal 0x3f pending".chars() {
                app.update(Action::Input(c));
            }
            let buffer = snapshot(&format!("expect_prompt_{name}_{w}x{h}"), &app);
            let all = text(&buffer);
            assert!(all.contains("Declare a movement in flight"), "{all}");
            assert!(all.contains("expected  -0.1"), "{all}");
            assert!(all.contains("for       2h"), "{all}");
            assert!(all.contains("note      withdrawal 0x3f pending▏"), "{all}");
        }
    }
}

/// Every row of the discrepancy panel, scrolling through it from the top, whitespace
/// collapsed.
fn discrepancy_rows(app: &mut App) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    app.update(Action::Command(Command::Top));
    for _ in 0..=app.discrepancies.len() {
        for line in text(&draw(app)).lines().filter(|l| l.starts_with('┃')) {
            let line = line
                .trim_start_matches(['┃', '▶'])
                .trim_end_matches('┃')
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if !line.starts_with("severity") && !rows.contains(&line) {
                rows.push(line);
            }
        }
        app.update(Action::Command(Command::Down));
    }
    rows
}

/// Open, acknowledged (snoozed) and explained discrepancies, in every theme at the
/// minimum and a roomy size: each reads as symbol and word, with expected and residual
/// where something is expected, and the header counts each state. At 80×24 the panel
/// holds two rows: the snapshot is taken scrolled to the end.
#[test]
fn discrepancy_states_in_every_theme() {
    for name in ["default", "light", "high-contrast", "colorblind"] {
        for (w, h) in [(80, 24), (120, 40)] {
            let mut app = states::app(name, w, h);
            if w == 80 {
                app.update(Action::Command(Command::Bottom));
            }
            let buffer = snapshot(&format!("states_{name}_{w}x{h}"), &app);
            let screen = text(&buffer);
            let header = screen.lines().next().unwrap();
            assert!(
                header.contains("● 3 open · ✓ 1 ack · ⇄ 1 explained"),
                "{name} {w}x{h}: {header}"
            );
            // Open ones first, worst first; then acknowledged; then explained. Each row:
            // severity, id, difference, expected, residual, …, state.
            let rows = discrepancy_rows(&mut app);
            let ids: Vec<&str> = rows
                .iter()
                .map(|r| r.split(' ').nth(2).unwrap_or_default())
                .collect();
            assert_eq!(
                ids,
                [
                    "coinbase-main:BTC",
                    "dydx-perps:BTC-USD",
                    "coinbase-main:LINK",
                    "coinbase-main:DOGE",
                    "coinbase-main:SOL"
                ],
                "{rows:#?}"
            );
            let expect = [
                ("coinbase-main:BTC -0.1 — — ", "● open"),
                ("coinbase-main:BTC-USD 0.003 — — ", "● open"),
                ("coinbase-main:LINK 0.3 0.2 0.1 ", "● open"),
                ("coinbase-main:DOGE 1500 — — ", "✓ snoozed 12:00"),
                ("coinbase-main:SOL -0.5 -0.5 0 ", "⇄ explained"),
            ];
            for (row, (amounts, state)) in rows.iter().zip(expect) {
                if !amounts.contains("BTC-USD") {
                    assert!(row.contains(amounts), "{name} {w}x{h}: {row}");
                }
                assert!(row.contains(state), "{name} {w}x{h}: {row}");
            }
            // Balance rows carry the state mark of their discrepancy.
            let mut app = states::app(name, w, h);
            app.update(Action::Command(Command::FocusPrev));
            let mut marks = Vec::new();
            for _ in 0..app.visible.len() {
                let screen = text(&draw(&app));
                for asset in ["BTC", "DOGE", "SOL"] {
                    if let Some(l) = screen
                        .lines()
                        .find(|l| l.contains(&format!("coinbase-main  {asset} ")))
                    {
                        marks.push((asset, l.to_string()));
                    }
                }
                app.update(Action::Command(Command::Down));
            }
            for (asset, mark) in [
                ("BTC", "● ✖ CRITICAL"),
                ("DOGE", "✓ acked"),
                ("SOL", "⇄ explained"),
            ] {
                assert!(
                    marks.iter().any(|(a, l)| *a == asset && l.contains(mark)),
                    "{name} {w}x{h}: {asset} without '{mark}': {marks:#?}"
                );
            }
        }
    }
}

/// On a wide terminal the acknowledgement reads in full, with who and why, and the
/// expectation with its number, author and note.
#[test]
fn roomy_discrepancy_rows_say_who_and_why() {
    let screen = text(&draw(&states::app("default", 200, 40)));
    for needle in [
        "✓ acknowledged, snoozed until 12:00 UTC",
        "bob: airdrop, booked tomorrow",
        "#7 carol: withdrawal 0x3f pending",
        "#8 carol: deposit, partial",
        "mismatch",
    ] {
        assert!(screen.contains(needle), "missing '{needle}':\n{screen}");
    }
}

/// A snooze ending on another day names the day.
#[test]
fn a_snooze_ending_tomorrow_names_the_day() {
    let mut r = states::report();
    for d in &mut r.discrepancies {
        if let Some(a) = &mut d.acknowledgement {
            a.expires_at = Some(fixtures::finished_at() + TimeDelta::days(1));
        }
    }
    let app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    let screen = text(&draw(&app));
    assert!(screen.contains("✓ snoozed Nov 25 10:00"), "{screen}");
}

/// Long amounts are never cut, at the minimum size: columns go, and the id is shortened
/// visibly, before any digit is lost.
#[test]
fn long_amounts_are_never_cut_at_80_columns() {
    let mut r = states::report();
    for d in &mut r.discrepancies {
        if d.id.as_str() == "coinbase-main:LINK" {
            d.difference = fixtures::dec("-12345678.123456789");
            d.expected = vec![states::expectation(
                9,
                "coinbase-main",
                "LINK",
                "-12345678.1",
                "",
            )];
        }
    }
    let mut app = fixtures::app_with(
        "default",
        80,
        24,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    let rows = discrepancy_rows(&mut app);
    let row = rows
        .iter()
        .find(|l| l.contains("-12345678.123456789"))
        .unwrap_or_else(|| panic!("difference cut: {rows:#?}"));
    assert!(row.contains("-12345678.1 "), "expected cut: {row}");
    assert!(row.contains("-0.023456789"), "residual cut: {row}");
    assert!(row.contains("● open"), "state cut: {row}");
}

/// Only open discrepancies drive the header: with nothing but acknowledged and explained
/// ones, it reads reconciled, names no worst severity, and still counts them.
#[test]
fn acknowledged_and_explained_do_not_raise_the_header() {
    let mut r = states::report();
    r.exchanges.retain(|e| e.status == ExchangeStatus::Ok);
    r.discrepancies
        .retain(|d| d.state() != recon::domain::DiscrepancyState::Open);
    let (status, worst) = recon::engine::report::classify_status(
        true,
        r.exchanges.len(),
        r.exchanges.len(),
        &r.discrepancies,
    );
    r.status = status;
    r.worst_severity = worst;
    assert_eq!(status, ReconciliationStatus::Reconciled);
    for (w, h) in [(80, 24), (120, 40)] {
        let app = fixtures::app_with(
            "default",
            w,
            h,
            fixtures::view(Some(r.clone())),
            fixtures::audit_entries(10, 10),
        );
        let header = header_line(&app);
        assert!(header.contains("✔ RECONCILED"), "{header}");
        assert!(!header.contains("worst"), "{header}");
        assert!(
            header.contains("● 0 open · ✓ 1 ack · ⇄ 1 explained"),
            "{header}"
        );
    }
}

/// An expectation's author and note are shown escaped, like every stored text.
#[test]
fn expectation_notes_are_shown_escaped() {
    let mut r = states::report();
    for d in &mut r.discrepancies {
        for e in &mut d.expected {
            e.by = "eve\u{1b}[31m".into();
            e.note = "tx\n\u{1b}[2J".into();
        }
    }
    let app = fixtures::app_with(
        "default",
        200,
        40,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    let screen = text(&draw(&app));
    assert!(!screen.contains('\u{1b}'), "an escape reached the terminal");
    assert!(
        screen.contains("#7 eve\\x1b[31m: tx\\n\\x1b[2J"),
        "{screen}"
    );
}
