//! The detail view (`Enter`, `Esc`): which row opens which view, that a discrepancy's
//! history is asked of the store through an effect (never read by render) and its answer
//! shown, paging, and frames of the three views in every theme at 80×24 and 120×40 drawn
//! into ratatui's `TestBackend`. The history query itself runs against a real SQLite file
//! written by real cycles of the engine.

#[path = "support/config.rs"]
mod config;
#[path = "support/fixtures.rs"]
mod fixtures;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use recon::commands::{record_shutdown, start_engine, EngineParts};
use recon::config::TradingConfig;
use recon::domain::{Asset, DiscrepancyId, ExchangeName, Expectation};
use recon::engine::ReconciliationActor;
use recon::error::ReconciliationError;
use recon::store::{
    AuditEntry, DifferencePoint, DiscrepancyHistory, ReconciliationRepository, StoreError,
};
use recon::tui::detail::{Load, Target, EVENTS_PAGE, HISTORY_POINTS};
use recon::tui::keys::{self, Mode};
use recon::tui::{effects, ui, Action, App, Effect, Panel};

const THEMES: [&str; 4] = ["default", "light", "high-contrast", "colorblind"];

fn press(app: &mut App, code: KeyCode) -> Option<Effect> {
    let event = Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
    let action = keys::to_action(app, &event)?;
    app.update(action)
}

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

fn screen(app: &App) -> String {
    text(&draw(app))
}

fn generation(effect: Option<Effect>) -> u64 {
    match effect {
        Some(Effect::LoadDiscrepancyHistory { generation, .. }) => generation,
        other => panic!("expected a history request, got {other:?}"),
    }
}

fn point(cycle_id: i64, local: &str, on_exchange: &str) -> DifferencePoint {
    let (l, e) = (fixtures::dec(local), fixtures::dec(on_exchange));
    DifferencePoint {
        cycle_id,
        at: fixtures::finished_at() - TimeDelta::minutes(60 - cycle_id),
        local: l,
        exchange_amount: e,
        difference: e - l,
    }
}

fn hex(seed: u8) -> String {
    (0..32u8)
        .map(|i| format!("{:02x}", i.wrapping_mul(37).wrapping_add(seed)))
        .collect()
}

fn entry(seq: i64, event: &str, subject: &str, detail: &str) -> AuditEntry {
    AuditEntry {
        seq,
        at: format!("2026-11-24T09:{:02}:00.000Z", seq % 60),
        event: event.into(),
        subject: Some(subject.into()),
        detail: detail.into(),
        prev_hash: hex(seq as u8),
        hash: hex(seq as u8 + 1),
    }
}

/// BTC on coinbase-main over five stored snapshots, with its acknowledgement story.
fn btc_history() -> DiscrepancyHistory {
    DiscrepancyHistory {
        points: vec![
            point(11, "1.5", "1.5"),
            point(12, "1.5", "1.45"),
            point(20, "1.5", "1.3"),
            point(31, "1.6", "1.45"),
            point(42, "1.5", "1.4"),
        ],
        events: vec![
            entry(
                118,
                "acknowledgement_withdrawn",
                "coinbase-main:BTC",
                r#"{"acknowledged_by":"bob","by":"carol","note":"not the airdrop"}"#,
            ),
            entry(
                97,
                "discrepancy_acknowledged",
                "coinbase-main:BTC",
                r#"{"by":"bob","difference":"-0.1","note":"withdrawal to cold storage","severity":"critical"}"#,
            ),
            entry(
                90,
                "discrepancy_opened",
                "coinbase-main:BTC",
                r#"{"difference":"-0.05","kind":"mismatch","severity":"critical"}"#,
            ),
        ],
    }
}

/// The fixture console with BTC's detail open and its history loaded.
fn btc_detail(theme: &str, w: u16, h: u16) -> App {
    let mut app = fixtures::app(theme, w, h);
    let g = generation(press(&mut app, KeyCode::Enter));
    assert_eq!(
        app.update(Action::HistoryLoaded {
            generation: g,
            result: Ok(btc_history()),
        }),
        None
    );
    app
}

#[test]
fn enter_on_a_discrepancy_asks_the_store_for_its_history_and_shows_loading_until_it_comes() {
    let mut app = fixtures::app("default", 120, 40);
    assert_eq!(app.focus, Panel::Discrepancies);
    let effect = press(&mut app, KeyCode::Enter);
    assert_eq!(app.mode(), Mode::Detail);
    let Some(Effect::LoadDiscrepancyHistory {
        exchange,
        asset,
        points,
        before,
        limit,
        generation,
    }) = effect
    else {
        panic!("no history request: {effect:?}");
    };
    assert_eq!(exchange, ExchangeName::new("coinbase-main"));
    assert_eq!(asset, Asset::parse("BTC").unwrap());
    assert_eq!((points, before, limit), (HISTORY_POINTS, None, EVENTS_PAGE));
    let before_answer = screen(&app);
    assert!(
        before_answer.contains("Discrepancy coinbase-main:BTC"),
        "{before_answer}"
    );
    assert!(before_answer.contains("loading…"), "{before_answer}");

    app.update(Action::HistoryLoaded {
        generation,
        result: Ok(btc_history()),
    });
    let s = screen(&app);
    assert!(!s.contains("loading…"), "{s}");
    for needle in [
        "✖ CRITICAL  coinbase-main:BTC  mismatch  ● open",
        "amounts         local 1.5 → exchange 1.4",
        "difference      -0.1  (relative 0.0666666667 = 6.67%)",
        "allowed         ± 0.00000001  (tolerance default)",
        "severity        ✖ CRITICAL  (mismatch)",
        "state           ● open  (expected 0, residual -0.1)",
        "opened at       2026-11-24 09:56:48 UTC (3m16s ago)",
        "acknowledged    no",
        "expectations    none active",
        // The sparkline over the five snapshots, and its extremes, exact.
        "History of the difference (5 snapshots",
        "█▆▁▃▅",
        "range           min -0.2 · max 0",
        "#97 2026-11-24 09:37:00 discrepancy_acknowledged",
        "by=bob difference=-0.1 note=withdrawal to cold storage",
    ] {
        assert!(s.contains(needle), "missing '{needle}':\n{s}");
    }
    assert!(
        s.find("#118").unwrap() < s.find("#97").unwrap(),
        "newest entry first:\n{s}"
    );
}

#[test]
fn esc_closes_the_view_and_its_late_answer_is_ignored() {
    let mut app = fixtures::app("default", 120, 40);
    let g = generation(press(&mut app, KeyCode::Enter));
    assert_eq!(press(&mut app, KeyCode::Esc), None);
    assert_eq!(app.mode(), Mode::Normal);
    assert!(app.detail.open.is_none());
    assert!(!screen(&app).contains("Discrepancy coinbase-main:BTC"));
    // The answer to the closed view lands after another row's view opened.
    press(&mut app, KeyCode::Down);
    let g2 = generation(press(&mut app, KeyCode::Enter));
    assert_ne!(g, g2);
    app.update(Action::HistoryLoaded {
        generation: g,
        result: Ok(btc_history()),
    });
    let open = app.detail.open.as_ref().unwrap();
    match &open.target {
        Target::Discrepancy { discrepancy, .. } => {
            assert_eq!(discrepancy.id.as_str(), "dydx-perps:BTC-USD")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(open.history.as_ref().unwrap().load, Load::Loading);
    assert!(open.history.as_ref().unwrap().events.is_empty());
}

#[test]
fn a_failed_history_read_is_shown_not_an_empty_history() {
    let mut app = fixtures::app("default", 120, 40);
    let g = generation(press(&mut app, KeyCode::Enter));
    app.update(Action::HistoryLoaded {
        generation: g,
        result: Err(Arc::new(ReconciliationError::Store(StoreError::Stopped))),
    });
    let s = screen(&app);
    assert!(
        s.contains("could not load the history: the store thread has stopped"),
        "{s}"
    );
    // An unread history must not read as an empty one.
    assert!(!s.contains("no stored balance snapshot"), "{s}");
    assert!(!s.contains("Audit entries on"), "{s}");
}

#[test]
fn list_keys_do_nothing_while_the_view_is_open_but_q_quits() {
    let mut app = fixtures::app("default", 120, 40);
    press(&mut app, KeyCode::Enter);
    for key in ['r', 'a', 'p', 't', '/', '?', 'g', 'G', 'e'] {
        assert_eq!(press(&mut app, KeyCode::Char(key)), None, "'{key}' acted");
        assert_eq!(app.mode(), Mode::Detail, "'{key}' left the view");
    }
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Panel::Discrepancies);
    assert_eq!(app.discrepancy_cursor.selected, 0);
    assert!(app.prompt.is_none());
    assert_eq!(app.theme().name, "default");
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit());
}

#[test]
fn arrows_scroll_the_view_not_the_list() {
    let mut app = btc_detail("default", 80, 24);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.detail.open.as_ref().unwrap().scroll, 2);
    assert_eq!(app.discrepancy_cursor.selected, 0);
    press(&mut app, KeyCode::Up);
    assert_eq!(app.detail.open.as_ref().unwrap().scroll, 1);
    // PgDn to the end shows the last entry of the page.
    for _ in 0..10 {
        press(&mut app, KeyCode::PageDown);
    }
    let s = screen(&app);
    assert!(
        s.contains("#90 2026-11-24 09:30:00 discrepancy_opened"),
        "{s}"
    );
    press(&mut app, KeyCode::Char('g'));
    press(&mut app, KeyCode::PageUp);
    press(&mut app, KeyCode::PageUp);
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.detail.open.as_ref().unwrap().scroll, 0);
}

#[test]
fn pgdn_past_a_full_page_of_entries_loads_the_older_page_and_pgup_comes_back() {
    let mut app = fixtures::app("default", 120, 40);
    let g = generation(press(&mut app, KeyCode::Enter));
    let events: Vec<AuditEntry> = (0..i64::from(EVENTS_PAGE))
        .map(|i| {
            entry(
                500 - i,
                "discrepancy_changed",
                "coinbase-main:BTC",
                r#"{"severity":"high"}"#,
            )
        })
        .collect();
    app.update(Action::HistoryLoaded {
        generation: g,
        result: Ok(DiscrepancyHistory {
            points: btc_history().points,
            events,
        }),
    });
    let mut older = None;
    for _ in 0..100 {
        older = press(&mut app, KeyCode::PageDown);
        if older.is_some() {
            break;
        }
    }
    let Some(Effect::LoadDiscrepancyHistory {
        before, generation, ..
    }) = older
    else {
        panic!("no older page asked for: {older:?}");
    };
    assert_eq!(before, Some(500 - i64::from(EVENTS_PAGE) + 1));
    app.update(Action::HistoryLoaded {
        generation,
        result: Ok(btc_history()),
    });
    let s = screen(&app);
    assert!(s.contains("(newest first, page 2)"), "{s}");
    assert!(
        s.contains("#118"),
        "the new page is scrolled into view:\n{s}"
    );
    // Back to the top, then past it: the newer page again.
    let mut newer = None;
    for _ in 0..100 {
        newer = press(&mut app, KeyCode::PageUp);
        if newer.is_some() {
            break;
        }
    }
    assert!(
        matches!(
            newer,
            Some(Effect::LoadDiscrepancyHistory { before: None, .. })
        ),
        "{newer:?}"
    );
}

#[test]
fn a_new_cycle_reloads_the_history_after_the_audit_page() {
    let mut app = btc_detail("default", 120, 40);
    let mut next = fixtures::view(Some(fixtures::report()));
    next.cycles_completed += 1;
    let mut r = fixtures::report();
    r.id = 43;
    next.report = Some(Arc::new(r));
    let audit = app.update(Action::Engine(Arc::new(next), fixtures::now()));
    let Some(Effect::LoadAuditPage { generation, .. }) = audit else {
        panic!("{audit:?}");
    };
    let reload = app.update(Action::AuditLoaded {
        generation,
        result: Ok(fixtures::audit_entries(121, 60)),
    });
    assert!(
        matches!(
            reload,
            Some(Effect::LoadDiscrepancyHistory { before: None, .. })
        ),
        "{reload:?}"
    );
    // The figures on screen stay while the reload runs.
    assert!(screen(&app).contains("█▆▁▃▅"));
}

#[test]
fn the_view_follows_the_report_and_says_when_its_discrepancy_left_it() {
    let mut app = btc_detail("default", 120, 40);
    let mut r = fixtures::report();
    r.discrepancies[0].expected = vec![Expectation {
        id: 7,
        exchange: ExchangeName::new("coinbase-main"),
        asset: Asset::parse("BTC").unwrap(),
        difference: fixtures::dec("-0.1"),
        by: "alice".into(),
        note: "withdrawal 0x3f pending".into(),
        created_at: fixtures::finished_at() - TimeDelta::minutes(5),
        expires_at: fixtures::finished_at() + TimeDelta::hours(2),
        engaged_at: Some(fixtures::finished_at()),
    }];
    app.update(Action::Engine(
        Arc::new(fixtures::view(Some(r))),
        fixtures::now(),
    ));
    let s = screen(&app);
    assert!(!s.contains("● open"), "{s}");
    for needle in [
        "mismatch  ⇄ explained",
        "state           ⇄ explained  (expected -0.1, residual 0)",
        "Expectations (1 active)",
        "#7              -0.1 by alice, expires 2026-11-24 12:00:00 UTC (in 1h59m)",
        "withdrawal 0x3f pending",
    ] {
        assert!(s.contains(needle), "missing '{needle}':\n{s}");
    }
    let mut gone = fixtures::report();
    gone.discrepancies.remove(0);
    app.update(Action::Engine(
        Arc::new(fixtures::view(Some(gone))),
        fixtures::now(),
    ));
    let s = screen(&app);
    assert!(s.contains("not in the latest report"), "{s}");
    assert!(s.contains("difference      -0.1  (relative"), "{s}");
}

#[test]
fn enter_on_a_balance_row_opens_its_discrepancy_or_says_it_has_none() {
    let mut app = fixtures::app("default", 120, 40);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Panel::Balances);
    // The failed exchange's rows lead; Enter there shows why it failed.
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert_eq!(app.mode(), Mode::Detail);
    let s = screen(&app);
    assert!(s.contains("timed out after 1000 ms"), "{s}");
    press(&mut app, KeyCode::Esc);
    // coinbase-main BTC follows them: it has a discrepancy.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let effect = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(&effect, Some(Effect::LoadDiscrepancyHistory { asset, .. }) if asset.as_str() == "BTC"),
        "{effect:?}"
    );
    press(&mut app, KeyCode::Esc);
    // ETH (third row) is within tolerance.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert_eq!(app.mode(), Mode::Normal);
    let notice = app.notice.as_ref().unwrap();
    assert!(notice.error);
    assert_eq!(
        notice.text,
        "the selected balance has no discrepancy to detail"
    );
}

#[test]
fn enter_on_an_exchange_shows_its_health_without_a_query() {
    let mut app = fixtures::app("default", 80, 24);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Panel::Exchanges);
    // The failed exchange is the panel's first row (config order puts it second).
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert_eq!(app.mode(), Mode::Detail);
    let s = screen(&app);
    for needle in [
        "Exchange exchange-prime",
        "✖ ERROR  exchange-prime",
        "exchange 'exchange-prime': timed out after 1000 ms",
        "coverage        0 pages, 0 rows, INCOMPLETE",
        "attempts        3",
        "latency         3012 ms",
        "breaker         closed",
        "last ok         2026-11-24 09:59:15 UTC (49s ago)",
        "stale           45 s at the cycle of 10:00:00 UTC",
        "Exposed (the ledger holds, 2 assets)",
        "BTC                 0.75",
        "USD             25000",
    ] {
        assert!(s.contains(needle), "missing '{needle}':\n{s}");
    }
}

#[test]
fn a_long_exchange_error_wraps_between_words() {
    let mut r = fixtures::report();
    let error = "exchange 'exchange-prime': HTTP 503 Service Unavailable from https://api.exchange.coinbase.com/accounts after 3 attempts; the circuit opens after 5 consecutive failures";
    r.exchanges[1].error = Some(error.into());
    let mut app = fixtures::app_with(
        "default",
        80,
        24,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    app.focus = Panel::Exchanges;
    app.exchanges.selected = 0;
    press(&mut app, KeyCode::Enter);
    let s = screen(&app);
    let lines: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains("Error"))
        .skip(1)
        .take_while(|l| !l.contains("This cycle"))
        .map(|l| l.trim_matches(|c| c == '│' || c == ' '))
        .collect();
    assert_eq!(lines.join(" "), error, "{s}");
    for l in &lines {
        // Every line ends at the end of a word.
        let last = l.split(' ').next_back().unwrap();
        assert!(error.split(' ').any(|w| w == last), "cut mid-word: {l:?}");
    }
}

#[test]
fn enter_on_an_audit_entry_shows_the_payload_and_both_hashes_whole() {
    let entries = vec![entry(
        120,
        "discrepancy_acknowledged",
        "coinbase-main:DOGE",
        r#"{"by":"bob","difference":"1500","expires_at":null,"note":"airdrop, booked tomorrow","severity":"critical"}"#,
    )];
    let mut app = fixtures::app_with(
        "default",
        80,
        24,
        fixtures::view(Some(fixtures::report())),
        entries,
    );
    app.focus = Panel::Audit;
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    let s = screen(&app);
    for needle in [
        "Audit entry #120".to_string(),
        "seq             120".to_string(),
        "time            2026-11-24T09:00:00.000Z".to_string(),
        "kind            discrepancy_acknowledged".to_string(),
        "subject         coinbase-main:DOGE".to_string(),
        hex(121),
        hex(120),
        "\"difference\": \"1500\",".to_string(),
        "\"note\": \"airdrop, booked tomorrow\",".to_string(),
    ] {
        assert!(s.contains(&needle), "missing '{needle}':\n{s}");
    }
}

fn audit_detail(theme: &str, w: u16, h: u16) -> App {
    let entries = vec![entry(
        120,
        "cycle_completed",
        "cycle 42",
        r#"{"cycle_id":42,"duration_ms":312,"exchanges_failed":1,"exchanges_ok":2,"open_discrepancies":5,"status":"partial","worst_severity":"critical"}"#,
    )];
    let mut app = fixtures::app_with(
        theme,
        w,
        h,
        fixtures::view(Some(fixtures::report())),
        entries,
    );
    app.focus = Panel::Audit;
    press(&mut app, KeyCode::Enter);
    app
}

fn exchange_detail(theme: &str, w: u16, h: u16) -> App {
    let mut app = fixtures::app(theme, w, h);
    app.focus = Panel::Exchanges;
    // The first row: the failed exchange.
    press(&mut app, KeyCode::Enter);
    app
}

#[test]
fn snapshots_of_the_three_views_in_every_theme() {
    for theme in THEMES {
        for (w, h) in [(80, 24), (120, 40)] {
            let views = [
                ("discrepancy", btc_detail(theme, w, h)),
                ("exchange", exchange_detail(theme, w, h)),
                ("audit", audit_detail(theme, w, h)),
            ];
            for (view, app) in views {
                let buffer = draw(&app);
                insta::assert_snapshot!(format!("detail_{view}_{theme}_{w}x{h}"), text(&buffer));
                // The overlay is drawn in the theme's own text style.
                let theme_text = app.theme().base.text;
                let inside = &buffer[(3, 4)];
                assert_eq!(
                    inside.bg,
                    theme_text.bg.unwrap_or(inside.bg),
                    "{theme} {view}"
                );
            }
        }
    }
}

/// At the supported minimum every figure that matters is whole on screen (scrolling
/// brings the rest).
#[test]
fn the_overlay_fits_at_80x24_with_amounts_whole() {
    let mut r = fixtures::report();
    // Long amounts: 28 significant digits.
    r.discrepancies[0].local = fixtures::dec("1234567890.123456789012345678");
    r.discrepancies[0].difference = fixtures::dec("-1234567890.023456789012345678");
    let mut app = fixtures::app_with(
        "default",
        80,
        24,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    let g = generation(press(&mut app, KeyCode::Enter));
    app.update(Action::HistoryLoaded {
        generation: g,
        result: Ok(DiscrepancyHistory {
            points: vec![
                point(40, "1234567890.123456789012345678", "1.4"),
                point(41, "1.5", "1.4"),
            ],
            events: Vec::new(),
        }),
    });
    let s = screen(&app);
    assert!(s.contains("1234567890.123456789012345678"), "{s}");
    assert!(s.contains("-1234567890.023456789012345678"), "{s}");
    // The history's extremes, exact (scrolling changes nothing when all fits).
    for _ in 0..5 {
        press(&mut app, KeyCode::Down);
    }
    let scrolled = screen(&app);
    assert!(
        scrolled.contains("min -1234567888.723456789012345678 · max -0.1"),
        "{scrolled}"
    );
    assert!(!s.contains('…'), "something was cut:\n{s}");
    assert!(s.contains("Esc close"), "key hint cut:\n{s}");
    // The header and the footer stay visible around it.
    assert!(s.lines().next().unwrap().contains("PARTIAL"), "{s}");
}

/// Helpers for the real-engine test below.
async fn reconcile(handle: &recon::engine::ReconciliationHandle) {
    handle.reconcile_now().await.unwrap();
}

fn write_ledger(dir: &std::path::Path, btc: &str) {
    let ledger = format!(
        "[coinbase-main]\nBTC = \"{btc}\"\nETH = \"10\"\nSOL = \"250\"\n\n[dydx-perps]\n\"BTC-USD\" = \"0.25\"\nUSDC = \"14000.123456\"\n"
    );
    std::fs::write(dir.join("ledger.toml"), ledger).unwrap();
}

/// Real cycles into a real SQLite file: the history holds one point per stored change
/// (unchanged cycles store none), the acknowledgement story newest first, and nothing of
/// another discrepancy; the console's effect reads the same through the store thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_query_reads_snapshots_and_audit_entries_written_by_real_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let path = config::write(dir.path(), "3600", "default");
    let cfg = Arc::new(TradingConfig::load(&path).unwrap());
    let EngineParts {
        service,
        store,
        store_thread,
        history,
    } = start_engine(cfg.clone(), "tui").await.unwrap();
    let (handle, actor) = ReconciliationActor::spawn(
        service,
        store.clone(),
        cfg.reconciliation.interval,
        true,
        history,
    );

    reconcile(&handle).await; // 1: BTC local 1.5, exchange 1.4 → -0.1
    write_ledger(dir.path(), "1.6");
    reconcile(&handle).await; // 2: -0.2
    handle
        .acknowledge(
            ExchangeName::new("coinbase-main"),
            Asset::parse("BTC").unwrap(),
            "bob".into(),
            "cold storage".into(),
            None,
        )
        .await
        .unwrap();
    reconcile(&handle).await; // 3: unchanged, no snapshot
    write_ledger(dir.path(), "1.45");
    reconcile(&handle).await; // 4: -0.05 (the ack holds: the gap shrank)

    // Through the console's effect, as the UI loop runs it.
    let (themes, index) = recon::tui::theme::load(dir.path(), "default").unwrap();
    let mut app = App::new(themes, index, "alice".into(), Utc::now());
    app.update(Action::Resize(120, 40));
    let view = handle.view().borrow().clone();
    let first = app.update(Action::Engine(view, Utc::now()));
    let mut next = first;
    while let Some(e) = next.take() {
        next = effects::run(e, &handle).await.and_then(|a| app.update(a));
    }
    let btc = app
        .discrepancies
        .iter()
        .position(|l| l.discrepancy.id.as_str() == "coinbase-main:BTC")
        .unwrap();
    app.discrepancy_cursor.selected = btc;
    let open = press(&mut app, KeyCode::Enter);
    let action = effects::run(open.unwrap(), &handle).await.unwrap();
    assert_eq!(app.update(action), None);
    let h = app.detail.open.as_ref().unwrap().history.as_ref().unwrap();
    assert_eq!(h.load, Load::Loaded);
    let diffs: Vec<(i64, String)> = h
        .points
        .iter()
        .map(|p| (p.cycle_id, p.difference.to_string()))
        .collect();
    assert_eq!(
        diffs,
        [(1, "-0.1".into()), (2, "-0.2".into()), (4, "-0.05".into())]
    );
    let events: Vec<&str> = h.events.iter().map(|e| e.event.as_str()).collect();
    // The ack held when the gap shrank; the severity fell with it.
    assert_eq!(
        events,
        [
            "discrepancy_changed",
            "discrepancy_acknowledged",
            "discrepancy_opened"
        ],
        "{:?}",
        h.events
    );
    assert!(h
        .events
        .iter()
        .all(|e| e.subject.as_deref() == Some("coinbase-main:BTC")));
    let s = screen(&app);
    assert!(s.contains("range           min -0.2 · max -0.05"), "{s}");

    handle.shutdown().await;
    actor.await.unwrap();
    record_shutdown(&store, "tui").await;
    drop(handle);
    drop(store);
    tokio::task::spawn_blocking(move || store_thread.join())
        .await
        .unwrap();

    // The repository directly, on the file: limits and paging.
    let repo = ReconciliationRepository::open_read_only(&dir.path().join("recon.db")).unwrap();
    let (x, a) = (
        ExchangeName::new("coinbase-main"),
        Asset::parse("BTC").unwrap(),
    );
    let last_two = repo.difference_history(&x, &a, 2).unwrap();
    assert_eq!(
        last_two.iter().map(|p| p.cycle_id).collect::<Vec<_>>(),
        [2, 4]
    );
    assert_eq!(last_two[1].local.to_string(), "1.45");
    assert_eq!(last_two[1].exchange_amount.to_string(), "1.4");
    let id = DiscrepancyId::new(&x, &a);
    let newest = repo.discrepancy_events(&id, None, 1).unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].event, "discrepancy_changed");
    let older = repo
        .discrepancy_events(&id, Some(newest[0].seq), 10)
        .unwrap();
    assert_eq!(
        older.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["discrepancy_acknowledged", "discrepancy_opened"]
    );
    // A pair that never had a discrepancy has snapshots and no entries.
    let eth = Asset::parse("ETH").unwrap();
    assert_eq!(
        repo.difference_history(&x, &eth, 10)
            .unwrap()
            .iter()
            .map(|p| p.difference.to_string())
            .collect::<Vec<_>>(),
        ["0"]
    );
    assert!(repo
        .discrepancy_events(&DiscrepancyId::new(&x, &eth), None, 10)
        .unwrap()
        .is_empty());
}

/// The help overlay lists the detail view's keys, and at 80×24 nothing of it is cut.
#[test]
fn help_lists_the_detail_keys_whole_at_80x24() {
    let mut app = fixtures::app("default", 80, 24);
    press(&mut app, KeyCode::Char('?'));
    let s = screen(&app);
    for binding in keys::BINDINGS {
        assert!(
            s.contains(binding.help),
            "help lacks '{}':\n{s}",
            binding.help
        );
    }
    for needle in [
        "Enter         detail of the row",
        "Esc       close the detail",
    ] {
        assert!(s.contains(needle), "missing '{needle}':\n{s}");
    }
}

/// An acknowledged, snoozed discrepancy says who, why, when, at what size and until when.
#[test]
fn an_acknowledged_discrepancy_shows_its_acknowledgement_and_snooze() {
    let mut r = fixtures::report();
    let doge = r
        .discrepancies
        .iter_mut()
        .find(|d| d.id.as_str() == "coinbase-main:DOGE")
        .unwrap();
    doge.acknowledgement.as_mut().unwrap().expires_at =
        Some(fixtures::finished_at() + TimeDelta::minutes(90));
    let mut app = fixtures::app_with(
        "default",
        80,
        24,
        fixtures::view(Some(r)),
        fixtures::audit_entries(10, 10),
    );
    let doge = app
        .discrepancies
        .iter()
        .position(|l| l.discrepancy.id.as_str() == "coinbase-main:DOGE")
        .unwrap();
    app.discrepancy_cursor.selected = doge;
    generation(press(&mut app, KeyCode::Enter));
    let s = screen(&app);
    for needle in [
        "missing_locally  ✓ acknowledged",
        "Acknowledged",
        "by              bob",
        "note            airdrop, booked tomorrow",
        "at              2026-11-24 09:50:00 UTC (10m04s ago)",
        "difference seen 1500",
        "snoozed until   2026-11-24 11:30:00 UTC (in 1h29m)",
    ] {
        assert!(s.contains(needle), "missing '{needle}':\n{s}");
    }
}

/// The severity in the view takes the theme's colour, as in the list.
#[test]
fn the_view_paints_the_severity_in_the_theme_colour() {
    for theme in THEMES {
        let app = btc_detail(theme, 120, 40);
        let buffer = draw(&app);
        let s = text(&buffer);
        let y = s
            .lines()
            .position(|l| l.contains("✖ CRITICAL  coinbase-main:BTC"))
            .unwrap() as u16;
        let x = (0..buffer.area.width)
            .find(|&x| buffer[(x, y)].symbol() == "✖")
            .unwrap();
        let want = app.theme().severity.critical;
        assert_eq!(Some(buffer[(x, y)].fg), want.fg, "{theme}");
        if let Some(bg) = want.bg {
            assert_eq!(buffer[(x, y)].bg, bg, "{theme}");
        }
    }
}
