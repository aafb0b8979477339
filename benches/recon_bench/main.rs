//! `cargo bench --bench recon-bench`: every performance budget of SPEC §8 measured on this
//! machine and printed as one table, each figure next to its budget. Exits 1 when a figure
//! is over its budget. Arguments filter the rows by key (`engine`, `parse`, `jwt`, `frame`,
//! `once`, `headless`), e.g. `cargo bench --bench recon-bench -- once`.
//!
//! Figures are medians over many runs (the machines are small and shared); the memory
//! figures are the largest seen.

mod engine;
mod headless;
mod once;

#[path = "../../tests/support/fixtures.rs"]
mod fixtures;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use recon::exchanges::coinbase::{parse_accounts_page, CdpKey, JwtSigner};
use recon::tui::ui;

const MIB: f64 = 1024.0 * 1024.0;

/// One row of the table.
struct Row {
    figure: String,
    measured: String,
    budget: String,
    ok: bool,
}

/// The binary the process figures are taken on: `RECON_BENCH_BIN` when set, else the one
/// `cargo bench` built. The latter links the dev-dependencies' extra features (tokio's
/// test-util, axum's defaults with HTTP/2 for the test mocks), so it is larger than what
/// `cargo build --release` ships and its figures are an upper bound; the README's table
/// is taken on the shipped binary.
fn recon_binary() -> std::path::PathBuf {
    std::env::var_os("RECON_BENCH_BIN")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_recon").into())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p95(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 95 / 100).min(samples.len() - 1)]
}

/// Times `f` `n` times after `n / 10` warm-up calls.
fn sample(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..n / 10 {
        f();
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn timing(figure: &str, samples: Vec<Duration>, budget: Duration, budget_text: &str) -> Row {
    let (m, p) = (median(samples.clone()), p95(samples));
    Row {
        figure: figure.into(),
        measured: format!("{} (p95 {})", ms(m), ms(p)),
        budget: budget_text.into(),
        ok: m < budget,
    }
}

fn engine_rows(rows: &mut Vec<Row>) {
    rows.push(timing(
        "engine overhead per cycle, 10 exchanges x 1000 assets",
        engine::cycles(10, 1000, 60),
        Duration::from_millis(5),
        "< 5 ms",
    ));
    rows.push(timing(
        "engine overhead per cycle, 100 exchanges x 1000 assets",
        engine::cycles(100, 1000, 15),
        Duration::from_millis(50),
        "< 50 ms (the 10 x 1000 budget, linear)",
    ));
}

fn parse_row(rows: &mut Vec<Row>) {
    let (pages, _) = once::support::generated_coinbase_pages(250);
    let page = &pages[0];
    let parsed = parse_accounts_page(page).expect("generated page parses");
    assert_eq!(parsed.rows.len(), 250);
    rows.push(timing(
        "parse a 250-account Coinbase page",
        sample(2000, || {
            black_box(parse_accounts_page(black_box(page)).expect("parses"));
        }),
        Duration::from_millis(1),
        "< 1 ms",
    ));
}

fn jwt_row(rows: &mut Vec<Row>) {
    let (key, _) = once::support::p256_key();
    let signer = JwtSigner::new(once::support::KEY_NAME.into(), CdpKey::Es256(key));
    let uri = "GET api.coinbase.com/api/v3/brokerage/accounts";
    rows.push(timing(
        "sign one ES256 JWT (one per request)",
        sample(2000, || {
            black_box(signer.fresh_token(black_box(uri)).expect("signs"));
        }),
        Duration::from_millis(1),
        "< 1 ms (3 fit in once's 10 ms)",
    ));
}

fn frame_row(rows: &mut Vec<Row>) {
    let app = fixtures::app_with_rows(1000);
    assert_eq!(app.balances.len(), 1000);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    rows.push(timing(
        "draw a frame with 1000 balance rows (120x40)",
        sample(2000, || {
            terminal
                .draw(|f| ui::render(black_box(&app), f))
                .expect("draws");
        }),
        Duration::from_millis(1),
        "< 1 ms",
    ));
}

fn once_rows(rows: &mut Vec<Row>) {
    let runs = once::measure(30);
    let over: Vec<Duration> = runs
        .iter()
        .map(|r| r.wall.saturating_sub(r.serving))
        .collect();
    let wall = median(runs.iter().map(|r| r.wall).collect());
    let serving = median(runs.iter().map(|r| r.serving).collect());
    let peak = runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
    let m = median(over.clone());
    rows.push(Row {
        figure: "recon once, 600 accounts / 3 pages: wall - mock serving".into(),
        measured: format!(
            "{} (p95 {}; wall {}, serving {})",
            ms(m),
            ms(p95(over)),
            ms(wall),
            ms(serving)
        ),
        budget: "<= 10 ms".into(),
        ok: m <= Duration::from_millis(10),
    });
    rows.push(Row {
        figure: "recon once, 600 accounts / 3 pages: peak RSS".into(),
        measured: format!(
            "{:.2} MiB (largest of {})",
            peak as f64 / 1024.0,
            runs.len()
        ),
        budget: "<= 8 MiB".into(),
        ok: peak <= 8 * 1024,
    });
}

fn headless_rows(rows: &mut Vec<Row>) {
    let f = headless::measure();
    let limit = 20_000_000.0;
    let growth = (f.at_last_kib as f64 - f.at_first_kib as f64) / f.at_first_kib as f64;
    rows.push(Row {
        figure: "headless RSS at cycle 100".into(),
        measured: format!("{:.2} MiB", f.at_first_kib as f64 * 1024.0 / MIB),
        budget: "< 20 MB (19.07 MiB)".into(),
        ok: (f.at_first_kib * 1024) as f64 <= limit,
    });
    rows.push(Row {
        figure: "headless RSS at cycle 1000".into(),
        measured: format!(
            "{:.2} MiB ({:+.1} %; peak {:.2} MiB; {:.0} s; db {:.1} MiB)",
            f.at_last_kib as f64 * 1024.0 / MIB,
            growth * 100.0,
            f.peak_kib as f64 * 1024.0 / MIB,
            f.seconds,
            f.database_bytes as f64 / MIB
        ),
        budget: "< 20 MB, no growth (< 10 %)".into(),
        ok: (f.at_last_kib * 1024) as f64 <= limit && growth < 0.10,
    });
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == once::CHILD_MODE) {
        std::process::exit(once::measure_child(&args[2..]));
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |key: &str| filters.is_empty() || filters.iter().any(|f| key.contains(f.as_str()));
    type Section = fn(&mut Vec<Row>);
    let sections: [(&str, Section); 6] = [
        ("engine", engine_rows),
        ("parse", parse_row),
        ("jwt", jwt_row),
        ("frame", frame_row),
        ("once", once_rows),
        ("headless", headless_rows),
    ];
    let mut rows = Vec::new();
    for (key, section) in sections {
        if wanted(key) {
            section(&mut rows);
        }
    }
    if rows.is_empty() {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "recon-bench: SPEC §8 budgets, release build, {cpus} CPUs, binary {}",
        recon_binary().display()
    );
    let w = rows.iter().map(|r| r.figure.len()).max().unwrap_or(0);
    let m = rows.iter().map(|r| r.measured.len()).max().unwrap_or(0);
    let b = rows.iter().map(|r| r.budget.len()).max().unwrap_or(0);
    println!(
        "{:w$}  {:m$}  {:b$}  verdict",
        "figure", "measured", "budget"
    );
    for r in &rows {
        println!(
            "{:w$}  {:m$}  {:b$}  {}",
            r.figure,
            r.measured,
            r.budget,
            if r.ok { "ok" } else { "OVER" }
        );
    }
    if rows.iter().any(|r| !r.ok) {
        std::process::exit(1);
    }
}
