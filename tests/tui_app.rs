//! State transitions of the console without a terminal: keys → actions → `App::update`
//! → effects.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use recon::domain::{Asset, ExchangeName};
use recon::engine::SeenGap;
use recon::error::ReconciliationError;
use recon::tui::audit_pane::PAGE_SIZE;
use recon::tui::keys::{self, Command, Mode};
use recon::tui::{Action, App, Effect, Panel};

fn press(app: &mut App, code: KeyCode) -> Option<Effect> {
    press_with(app, code, KeyModifiers::NONE)
}

fn press_with(app: &mut App, code: KeyCode, modifiers: KeyModifiers) -> Option<Effect> {
    let event = Event::Key(KeyEvent::new(code, modifiers));
    let action = keys::to_action(app, &event)?;
    app.update(action)
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(
            press(app, KeyCode::Char(c)),
            None,
            "typing '{c}' has no effect"
        );
    }
}

fn app() -> App {
    fixtures::app("default", 120, 40)
}

#[test]
fn r_asks_for_a_cycle_and_p_toggles_the_pause() {
    let mut app = app();
    assert_eq!(press(&mut app, KeyCode::Char('r')), Some(Effect::Reconcile));
    assert_eq!(
        press(&mut app, KeyCode::Char('p')),
        Some(Effect::SetPaused(true))
    );
    let mut paused = fixtures::view(Some(fixtures::report()));
    paused.paused = true;
    app.update(Action::Engine(Arc::new(paused), fixtures::now()));
    assert_eq!(
        press(&mut app, KeyCode::Char('p')),
        Some(Effect::SetPaused(false))
    );
}

#[test]
fn acknowledging_prompts_for_a_note_and_q_is_text_there() {
    let mut app = app();
    assert_eq!(app.focus, Panel::Discrepancies);
    assert_eq!(press(&mut app, KeyCode::Char('a')), None);
    assert_eq!(app.mode(), Mode::Prompt);
    typed(&mut app, "qty checked, q2 fix");
    press(&mut app, KeyCode::Backspace);
    assert!(!app.should_quit(), "q typed into the prompt must not quit");
    assert_eq!(app.prompt.as_ref().unwrap().note, "qty checked, q2 fi");
    let effect = press(&mut app, KeyCode::Enter);
    assert_eq!(
        effect,
        Some(Effect::Acknowledge {
            exchange: ExchangeName::new("coinbase-main"),
            asset: Asset::parse("BTC").unwrap(),
            by: "alice".into(),
            note: "qty checked, q2 fi".into(),
            // The row on screen when `a` was pressed: its difference and its episode.
            seen: SeenGap {
                difference: "-0.1".parse().unwrap(),
                opened_at: Some(fixtures::finished_at() - TimeDelta::seconds(192)),
            },
            snooze: None,
        })
    );
    assert_eq!(app.mode(), Mode::Normal);
    assert!(app.prompt.is_none());
}

#[test]
fn the_ack_prompt_takes_a_snooze_duration_after_tab_and_refuses_a_bad_one_in_place() {
    let mut app = app();
    press(&mut app, KeyCode::Char('a'));
    typed(&mut app, "funding");
    press(&mut app, KeyCode::Tab);
    typed(&mut app, "9 0 m");
    assert_eq!(
        app.prompt.as_ref().unwrap().duration,
        "90m",
        "blanks are dropped"
    );
    press(&mut app, KeyCode::Backspace);
    typed(&mut app, "x");
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        None,
        "90x is not a duration"
    );
    assert_eq!(app.mode(), Mode::Prompt, "the prompt stays open to fix it");
    assert!(
        app.notice
            .as_ref()
            .unwrap()
            .text
            .starts_with("for: '90x' is not a duration"),
        "{:?}",
        app.notice
    );
    press(&mut app, KeyCode::Backspace);
    typed(&mut app, "m");
    let effect = press(&mut app, KeyCode::Enter);
    assert_eq!(
        effect,
        Some(Effect::Acknowledge {
            exchange: ExchangeName::new("coinbase-main"),
            asset: Asset::parse("BTC").unwrap(),
            by: "alice".into(),
            note: "funding".into(),
            seen: SeenGap {
                difference: "-0.1".parse().unwrap(),
                opened_at: Some(fixtures::finished_at() - TimeDelta::seconds(192)),
            },
            snooze: Some(TimeDelta::minutes(90)),
        })
    );
}

#[test]
fn e_opens_the_expectation_prompt_with_the_difference_on_screen_prefilled() {
    let mut app = app();
    assert_eq!(press(&mut app, KeyCode::Char('e')), None);
    assert_eq!(app.mode(), Mode::Prompt);
    let p = app.prompt.as_ref().unwrap();
    assert_eq!(p.amount, "-0.1");
    assert_eq!(p.duration, "");
    // The difference field has the typing first; Tab moves to the duration, then the note.
    press(&mut app, KeyCode::Backspace);
    typed(&mut app, "05");
    press(&mut app, KeyCode::Tab);
    typed(&mut app, "2h");
    press(&mut app, KeyCode::Tab);
    typed(&mut app, "withdrawal 0x3f pending");
    let effect = press(&mut app, KeyCode::Enter);
    assert_eq!(
        effect,
        Some(Effect::Expect {
            exchange: ExchangeName::new("coinbase-main"),
            asset: Asset::parse("BTC").unwrap(),
            difference: "-0.05".parse().unwrap(),
            lasts: TimeDelta::hours(2),
            by: "alice".into(),
            note: "withdrawal 0x3f pending".into(),
            seen: SeenGap {
                difference: "-0.1".parse().unwrap(),
                opened_at: Some(fixtures::finished_at() - TimeDelta::seconds(192)),
            },
        })
    );
    assert_eq!(app.mode(), Mode::Normal);
}

#[test]
fn the_expectation_prompt_refuses_zero_and_a_non_decimal_and_defaults_to_a_day() {
    let mut app = app();
    press(&mut app, KeyCode::Char('e'));
    for _ in 0..4 {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "0.000");
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert_eq!(
        app.notice.as_ref().unwrap().text,
        "expected difference must not be zero"
    );
    for _ in 0..5 {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "1e3");
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert_eq!(
        app.notice.as_ref().unwrap().text,
        "expected difference '1e3' is not a decimal amount"
    );
    for _ in 0..3 {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "-0.1");
    match press(&mut app, KeyCode::Enter) {
        Some(Effect::Expect {
            lasts, difference, ..
        }) => {
            assert_eq!(lasts, TimeDelta::hours(24));
            assert_eq!(difference, "-0.1".parse().unwrap());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn esc_cancels_the_prompt_without_an_effect() {
    let mut app = app();
    press(&mut app, KeyCode::Char('a'));
    typed(&mut app, "oops");
    assert_eq!(press(&mut app, KeyCode::Esc), None);
    assert_eq!(app.mode(), Mode::Normal);
    assert!(app.prompt.is_none());
    assert!(!app.should_quit());
}

#[test]
fn ctrl_c_quits_even_from_the_prompt() {
    let mut app = app();
    press(&mut app, KeyCode::Char('a'));
    press_with(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(app.should_quit());
}

#[test]
fn an_acknowledged_discrepancy_is_not_acknowledged_again() {
    let mut app = app();
    press(&mut app, KeyCode::Char('G'));
    let selected = app.selected_discrepancy().unwrap();
    assert!(
        selected.is_acknowledged(),
        "the acknowledged one sorts last"
    );
    assert_eq!(press(&mut app, KeyCode::Char('a')), None);
    assert_eq!(app.mode(), Mode::Normal);
    let notice = app.notice.as_ref().unwrap();
    assert!(notice.error && notice.text.contains("already acknowledged by bob"));
}

#[test]
fn the_flagged_balance_row_can_be_acknowledged_from_the_balances() {
    let mut app = app();
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Panel::Balances);
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "sol");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('a'));
    assert_eq!(
        app.prompt.as_ref().unwrap().id.as_str(),
        "coinbase-main:SOL"
    );
}

#[test]
fn the_filter_narrows_rows_and_esc_clears_it() {
    let mut app = app();
    let all = app.visible.len();
    assert_eq!(all, 11);
    // `/` filters the focused panel: the balances.
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Panel::Balances);
    press(&mut app, KeyCode::Char('/'));
    assert_eq!(app.mode(), Mode::Filter);
    typed(&mut app, "USD");
    let rows: Vec<_> = app
        .visible
        .iter()
        .map(|&i| app.balances[i].clone())
        .collect();
    assert_eq!(
        rows.len(),
        5,
        "USDC ×2, BTC-USD, ETH-USD and the USD held on the failed exchange"
    );
    assert!(rows.iter().all(|r| r.asset.contains("USD")));
    // By exchange name too, case-insensitively.
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    typed(&mut app, "Dydx");
    assert_eq!(app.visible.len(), 3);
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert_eq!(app.mode(), Mode::Normal);
    assert_eq!(app.filter, "Dydx");
    // Esc in the console clears a kept filter.
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.visible.len(), all);
    // Esc while typing drops the filter.
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "zzz");
    assert!(app.visible.is_empty());
    press(&mut app, KeyCode::Esc);
    assert_eq!((app.mode(), app.visible.len()), (Mode::Normal, all));
}

#[test]
fn movement_stays_in_bounds() {
    let mut app = fixtures::app("default", 80, 24);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Panel::Balances);
    let page = app.page(Panel::Balances);
    assert!(
        (1..10).contains(&page),
        "80×24 shows a few balance rows, got {page}"
    );
    press(&mut app, KeyCode::Up);
    assert_eq!(app.balance_cursor.selected, 0);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.balance_cursor.selected, page);
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.balance_cursor.selected, 10);
    assert_eq!(app.balance_cursor.offset, 11 - page);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.balance_cursor.selected, 10);
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.balance_cursor.selected, 10 - page);
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(
        (app.balance_cursor.selected, app.balance_cursor.offset),
        (0, 0)
    );
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.balance_cursor.selected, 0);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(app.balance_cursor.selected, 1);
    // A resize keeps the selection visible.
    press(&mut app, KeyCode::Char('G'));
    app.update(Action::Resize(120, 40));
    let c = app.balance_cursor;
    assert!(c.offset <= c.selected && c.selected < c.offset + app.page(Panel::Balances));
}

#[test]
fn tab_and_shift_tab_cycle_the_panels() {
    let mut app = app();
    let mut seen = vec![app.focus];
    for _ in 0..4 {
        press(&mut app, KeyCode::Tab);
        seen.push(app.focus);
    }
    assert_eq!(
        seen,
        [
            Panel::Discrepancies,
            Panel::Audit,
            Panel::Exchanges,
            Panel::Balances,
            Panel::Discrepancies
        ]
    );
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Panel::Balances);
}

#[test]
fn help_opens_and_closes_and_q_quits_from_it() {
    let mut app = app();
    press(&mut app, KeyCode::Char('?'));
    assert_eq!(app.mode(), Mode::Help);
    // Console keys do nothing behind the overlay.
    assert_eq!(press(&mut app, KeyCode::Char('r')), None);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.mode(), Mode::Normal);
    press(&mut app, KeyCode::Char('?'));
    press(&mut app, KeyCode::Char('?'));
    assert_eq!(app.mode(), Mode::Normal);
    press(&mut app, KeyCode::Char('?'));
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit());
}

#[test]
fn t_cycles_the_themes() {
    let mut app = app();
    let names: Vec<String> = (0..5)
        .map(|_| {
            press(&mut app, KeyCode::Char('t'));
            app.theme().name.clone()
        })
        .collect();
    assert_eq!(
        names,
        ["light", "high-contrast", "colorblind", "default", "light"]
    );
}

#[test]
fn the_audit_pane_pages_past_its_edges() {
    let page = PAGE_SIZE as i64;
    let newest = fixtures::audit_entries(100_000, page);
    let mut app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(fixtures::report())),
        newest,
    );
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Panel::Audit);
    assert_eq!(
        press(&mut app, KeyCode::Up),
        None,
        "nothing newer than the newest page"
    );
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.audit.cursor.selected, PAGE_SIZE as usize - 1);
    let last_seq = 100_000 - page + 1;
    let Some(Effect::LoadAuditPage {
        before,
        limit,
        generation,
    }) = press(&mut app, KeyCode::Down)
    else {
        panic!("scrolling past the last row asks for the older page");
    };
    assert_eq!((before, limit), (Some(last_seq), PAGE_SIZE));
    // A second push while loading supersedes nothing wrongly: the answer to an old
    // generation is ignored.
    app.update(Action::AuditLoaded {
        generation: generation - 1,
        result: Ok(Vec::new()),
    });
    assert_eq!(app.audit.lines.len(), PAGE_SIZE as usize);
    app.update(Action::AuditLoaded {
        generation,
        result: Ok(fixtures::audit_entries(last_seq - 1, page)),
    });
    assert_eq!(app.audit.page_number(), 2);
    assert_eq!(app.audit.lines[0].seq, last_seq - 1);
    assert_eq!(app.audit.cursor.selected, 0);
    // Back up past the first row: the newer page again, selection on its last row.
    let Some(Effect::LoadAuditPage {
        before: None,
        generation,
        ..
    }) = press(&mut app, KeyCode::Up)
    else {
        panic!("scrolling past the first row asks for the newer page");
    };
    app.update(Action::AuditLoaded {
        generation,
        result: Ok(fixtures::audit_entries(100_000, page)),
    });
    assert!(app.audit.is_newest());
    assert_eq!(app.audit.lines[app.audit.cursor.selected].seq, last_seq);
    // PgDn on the last row also loads; `g` on the first row of an older page returns
    // to the newest.
    let Some(Effect::LoadAuditPage { generation, .. }) = press(&mut app, KeyCode::PageDown) else {
        panic!("PgDn past the end loads");
    };
    app.update(Action::AuditLoaded {
        generation,
        result: Ok(fixtures::audit_entries(last_seq - 1, page)),
    });
    let Some(Effect::LoadAuditPage { before: None, .. }) = press(&mut app, KeyCode::Char('g'))
    else {
        panic!("g on an older page goes back to the newest");
    };
}

#[test]
fn the_oldest_page_asks_for_nothing_more() {
    let mut app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(fixtures::report())),
        fixtures::audit_entries(12, 12),
    );
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(
        press(&mut app, KeyCode::Down),
        None,
        "a short page is the oldest"
    );
}

#[test]
fn a_completed_cycle_refreshes_the_newest_audit_page_and_keeps_selections() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    let selected = app.selected_discrepancy().unwrap().id.clone();
    let mut next = fixtures::view(Some(fixtures::report()));
    next.cycles_completed += 1;
    let effect = app.update(Action::Engine(Arc::new(next), fixtures::now()));
    assert!(matches!(
        effect,
        Some(Effect::LoadAuditPage { before: None, .. })
    ));
    assert_eq!(app.selected_discrepancy().unwrap().id, selected);
    // The same cycle count (a view change such as "cycle running") reloads nothing.
    let mut running = fixtures::view(Some(fixtures::report()));
    running.cycles_completed += 1;
    running.cycle_running = true;
    assert_eq!(
        app.update(Action::Engine(Arc::new(running), fixtures::now())),
        None
    );
}

#[test]
fn ticks_redraw_once_a_second_idle_and_ten_times_a_second_while_running() {
    let mut app = app();
    assert_eq!(app.tick_period(), Duration::from_secs(1));
    app.take_dirty();
    app.update(Action::Tick(fixtures::now() + TimeDelta::milliseconds(300)));
    assert!(!app.take_dirty(), "same second: nothing visible changed");
    app.update(Action::Tick(fixtures::now() + TimeDelta::milliseconds(900)));
    assert!(app.take_dirty(), "the countdown moved");
    let mut running = fixtures::view(Some(fixtures::report()));
    running.cycle_running = true;
    app.update(Action::Engine(Arc::new(running), fixtures::now()));
    assert_eq!(app.tick_period(), Duration::from_millis(100));
    app.take_dirty();
    app.update(Action::Tick(fixtures::now() + TimeDelta::milliseconds(100)));
    assert!(app.take_dirty(), "the spinner moved");
}

#[test]
fn outcomes_of_effects_become_notices() {
    let mut app = app();
    app.update(Action::EffectFailed {
        what: "reconcile",
        error: Arc::new(ReconciliationError::EngineStopped),
    });
    let n = app.notice.clone().unwrap();
    assert!(n.error);
    assert_eq!(
        n.text,
        "reconcile failed: the reconciliation engine has stopped"
    );
    // An error stays 10 s, information 5 s; then the summary is back without a key.
    app.update(Action::Tick(fixtures::now() + TimeDelta::seconds(10)));
    assert!(app.notice.is_some());
    app.update(Action::Tick(fixtures::now() + TimeDelta::seconds(11)));
    assert!(app.notice.is_none());
    press(&mut app, KeyCode::Char('r'));
    assert!(!app.notice.as_ref().unwrap().error);
    app.update(Action::Tick(fixtures::now() + TimeDelta::seconds(16)));
    assert!(app.notice.is_some());
    app.update(Action::Tick(fixtures::now() + TimeDelta::seconds(17)));
    assert!(app.notice.is_none());
}

#[test]
fn the_footer_is_built_from_the_key_table() {
    let footer: Vec<(String, &str)> = keys::footer(Mode::Normal).collect();
    let labels: Vec<&str> = footer.iter().map(|(_, l)| *l).collect();
    assert_eq!(
        labels,
        [
            "reconcile",
            "ack",
            "expect",
            "pause",
            "focus",
            "filter",
            "help",
            "quit"
        ]
    );
    assert_eq!(footer[0].0, "r");
    let _ = Command::Quit;
}

/// The newest page hit the oldest entry once (exactly `PAGE_SIZE` entries in the trail);
/// after more entries arrive, scrolling past the end must load the older page.
#[test]
fn at_oldest_is_cleared_when_the_newest_page_refreshes() {
    let n = i64::from(PAGE_SIZE);
    let mut app = fixtures::app_with(
        "default",
        120,
        40,
        fixtures::view(Some(fixtures::report())),
        fixtures::audit_entries(n, n),
    );
    app.focus = Panel::Audit;
    app.update(Action::Command(Command::Bottom));
    let Some(Effect::LoadAuditPage { generation, .. }) = app.update(Action::Command(Command::Down))
    else {
        panic!("expected an older-page request");
    };
    app.update(Action::AuditLoaded {
        generation,
        result: Ok(vec![]),
    });
    assert!(app.audit.at_oldest);
    // 50 more entries are written; a cycle completes and the newest page refreshes.
    let mut next = fixtures::view(Some(fixtures::report()));
    next.cycles_completed += 1;
    let Some(Effect::LoadAuditPage {
        generation,
        before: None,
        ..
    }) = app.update(Action::Engine(Arc::new(next), fixtures::now()))
    else {
        panic!("expected a refresh");
    };
    app.update(Action::AuditLoaded {
        generation,
        result: Ok(fixtures::audit_entries(n + 50, n)),
    });
    assert!(!app.audit.at_oldest);
    app.update(Action::Command(Command::Bottom));
    assert!(
        matches!(
            app.update(Action::Command(Command::Down)),
            Some(Effect::LoadAuditPage {
                before: Some(_),
                ..
            })
        ),
        "entries 1..=50 could never be reached"
    );
}

/// `a` with the exchanges or the audit focused acknowledges nothing: the selection it
/// would act on is not highlighted anywhere.
#[test]
fn a_acknowledges_only_a_visible_selection() {
    for panel in [Panel::Exchanges, Panel::Audit] {
        let mut app = app();
        app.focus = panel;
        assert_eq!(press(&mut app, KeyCode::Char('a')), None);
        assert!(
            app.prompt.is_none(),
            "prompt opened for {:?} with {panel:?} focused",
            app.prompt.as_ref().map(|p| &p.id)
        );
        assert_eq!(app.mode(), Mode::Normal);
        let n = app.notice.clone().unwrap();
        assert!(
            n.text.contains("focus the discrepancies or balances"),
            "{n:?}"
        );
    }
}

/// A dead engine is remembered, whatever notices come after.
#[test]
fn a_stopped_engine_is_sticky() {
    let mut app = app();
    assert!(!app.engine_stopped);
    app.update(Action::EffectFailed {
        what: "engine",
        error: Arc::new(ReconciliationError::EngineStopped),
    });
    assert!(app.engine_stopped);
    press(&mut app, KeyCode::Char('t'));
    press(&mut app, KeyCode::Esc);
    app.update(Action::Tick(fixtures::now() + TimeDelta::seconds(60)));
    assert!(app.engine_stopped);
}

/// u16 overflow in the layout with 65 533 discrepancies (debug build: panic).
#[test]
fn regions_do_not_overflow_with_many_discrepancies() {
    let mut app = app();
    let line = app.discrepancies[0].clone();
    app.discrepancies = vec![line; 65_533];
    app.update(Action::Resize(120, 40));
    app.update(Action::Resize(80, 24));
}
