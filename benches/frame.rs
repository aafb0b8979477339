//! SPEC §8: drawing a frame with 1000 balance rows takes < 1 ms. The frame is drawn into
//! ratatui's `TestBackend` at 120×40 from a fixture state (so the terminal's own speed is
//! not measured), once at the top of the table and once scrolled to its middle.

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use recon::tui::keys::Command;
use recon::tui::{ui, Action};

fn frame(c: &mut Criterion) {
    let mut app = fixtures::app_with_rows(1000);
    assert_eq!(app.balances.len(), 1000);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    c.bench_function("frame_1000_balance_rows", |b| {
        b.iter(|| {
            terminal.draw(|f| ui::render(black_box(&app), f)).unwrap();
        })
    });
    let small = fixtures::app_with_rows(10);
    c.bench_function("frame_10_balance_rows", |b| {
        b.iter(|| {
            terminal.draw(|f| ui::render(black_box(&small), f)).unwrap();
        })
    });
    for _ in 0..500 {
        app.update(Action::Command(Command::Down));
    }
    c.bench_function("frame_1000_balance_rows_scrolled", |b| {
        b.iter(|| {
            terminal.draw(|f| ui::render(black_box(&app), f)).unwrap();
        })
    });
    // The console at desk scale: 25 venues × 1000 balances (3 575 discrepancies), one
    // venue failed, at 200×60 — the budget is < 1 ms a frame, as for 1000 rows.
    let desk = fixtures::app_with(
        "default",
        200,
        60,
        fixtures::view(Some(fixtures::desk_report(25, 1000))),
        fixtures::audit_entries(10_000, 200),
    );
    let mut wide = Terminal::new(TestBackend::new(200, 60)).unwrap();
    c.bench_function("frame_25_venues_x_1000_rows", |b| {
        b.iter(|| {
            wide.draw(|f| ui::render(black_box(&desk), f)).unwrap();
        })
    });
    // The work done once per report rather than per frame: formatting and aligning.
    let view = Arc::new(fixtures::view(Some(fixtures::big_report(1000))));
    c.bench_function("report_to_rows_1000", |b| {
        b.iter_batched(
            || app.clone(),
            |mut fresh| fresh.update(Action::Engine(black_box(view.clone()), fixtures::now())),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, frame);
criterion_main!(benches);
