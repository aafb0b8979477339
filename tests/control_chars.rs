//! Control characters in `--by`/`--note` are refused at input (one line, exit 1), and
//! stored text that has them anyway (an older version, a hand-edited database) is shown
//! escaped wherever it reaches a terminal: the `once` and `audit` tables and the TUI.

#[path = "support/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use recon::domain::escape_controls;
use recon::tui::{ui, App};

const BIN: &str = env!("CARGO_BIN_EXE_recon");
const CONFIG: &str =
    "[reconciliation]\nfetch_timeout_ms = 50\n[retry]\nbase_delay_ms = 1\nmax_delay_ms = 5\n\
[[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\" }\n";

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("config.toml"), CONFIG).unwrap();
        std::fs::write(d.path().join("ledger.toml"), "[a]\nBTC = \"1\"\n").unwrap();
        Self(d)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("recon.db")
    }

    fn recon(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .current_dir(self.path())
            .args(["--config", "config.toml"])
            .args(args)
            .output()
            .unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn control_characters_in_note_or_by_are_refused_with_one_line_naming_the_flag() {
    let dir = Dir::new();
    assert_eq!(dir.recon(&["once"]).status.code(), Some(2));
    for (flag, value, found) in [
        ("--note", "x\u{1b}[2Jy", "\\x1b"),
        ("--note", "line one\nline two", "\\n"),
        ("--note", "tab\there", "\\t"),
        ("--note", "del\u{7f}", "\\x7f"),
        ("--note", "csi\u{9b}2J", "\\x9b"),
        ("--by", "mallory\r", "\\r"),
        ("--by", "\u{1b}]0;title\u{7}", "\\x1b"),
    ] {
        let out = dir.recon(&["ack", "a:BTC", flag, value]);
        assert_eq!(out.status.code(), Some(1), "{flag} {value:?}");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            format!(
                "recon: ack: {flag} must not contain control characters (found {found}); write it on one line\n"
            ),
            "{flag} {value:?}"
        );
    }
    // Nothing was recorded: the discrepancy still counts.
    assert_eq!(dir.recon(&["once"]).status.code(), Some(2));
    // Plain text, Unicode included, is fine.
    let out = dir.recon(&[
        "ack",
        "a:BTC",
        "--note",
        "virement reçu — ok",
        "--by",
        "zoë",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Acknowledges `a:BTC`, then rewrites the open discrepancy's `by`/`note` and appends an audit entry
/// with control characters straight into the database, as an older version could have.
fn hostile_rows(dir: &Dir) {
    assert_eq!(dir.recon(&["once"]).status.code(), Some(2));
    let out = dir.recon(&["ack", "a:BTC", "--note", "fine", "--by", "bob"]);
    assert_eq!(out.status.code(), Some(0));
    let db = rusqlite::Connection::open(dir.db()).unwrap();
    let n = db
        .execute(
            "UPDATE discrepancies SET acknowledged_by = ?1, ack_note = ?2 WHERE acknowledged_by IS NOT NULL",
            ["bob\u{1b}[31m", "x\nFAKE  ROW\u{1b}[2Jy"],
        )
        .unwrap();
    assert_eq!(n, 1);
    db.execute(
        "INSERT INTO audit_log (seq, at, event, subject, detail, prev_hash, hash)
         SELECT max(seq) + 1, '2026-12-01T00:00:00.000Z', 'note', ?1, '{}', 'p', 'hostile' FROM audit_log",
        ["a:BTC\n\u{1b}[2J"],
    )
    .unwrap();
}

#[test]
fn stored_control_characters_are_escaped_in_the_once_table() {
    let dir = Dir::new();
    hostile_rows(&dir);
    let out = dir.recon(&["once"]);
    assert_eq!(out.status.code(), Some(0), "acknowledged: counts no more");
    let table = stdout(&out);
    assert!(!table.contains('\u{1b}'), "{table:?}");
    assert!(
        table.contains("acked by bob\\x1b[31m: x\\nFAKE  ROW\\x1b[2Jy"),
        "{table}"
    );
    assert!(
        !table.lines().any(|l| l.starts_with("FAKE")),
        "a fake row: {table}"
    );
    // JSON keeps the exact stored text (properly escaped by JSON itself).
    let out = dir.recon(&["once", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["discrepancies"][0]["ack_note"],
        "x\nFAKE  ROW\u{1b}[2Jy"
    );
}

#[test]
fn stored_control_characters_are_escaped_in_the_audit_table() {
    let dir = Dir::new();
    hostile_rows(&dir);
    let out = dir.recon(&["audit"]);
    assert_eq!(out.status.code(), Some(0));
    let table = stdout(&out);
    assert!(!table.contains('\u{1b}'), "{table:?}");
    let first = table.lines().nth(1).unwrap();
    assert!(first.contains("note"), "{first}");
    assert!(first.contains("a:BTC\\n\\x1b[2J"), "{first}");
    // Every line is the header or starts with a sequence number: no painted rows.
    for l in table.lines().skip(1) {
        assert!(
            l.trim_start().starts_with(|c: char| c.is_ascii_digit()),
            "{l:?}"
        );
    }
}

#[test]
fn the_escape_helper_writes_every_control_character_visibly() {
    assert_eq!(escape_controls("plain — text"), "plain — text");
    assert!(matches!(
        escape_controls("plain"),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(
        escape_controls("a\nb\r\tc\u{1b}[2J\u{7f}\u{9b}\u{0}"),
        "a\\nb\\r\\tc\\x1b[2J\\x7f\\x9b\\x00"
    );
}

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

#[test]
fn the_console_shows_stored_control_characters_escaped() {
    let mut report = fixtures::report();
    for d in &mut report.discrepancies {
        if let Some(a) = &mut d.acknowledgement {
            a.by = "bob\u{1b}[31m".into();
            a.note = "x\ny\u{1b}[2J".into();
        }
    }
    report.exchanges[1].error = Some("timed out\u{1b}[2J\nfake".into());
    let mut audit = fixtures::audit_entries(120, 60);
    audit[0].subject = Some("a:BTC\n\u{1b}[H".into());
    audit[0].detail = "{\"note\":\"z\u{7}\"}".into();
    let view = fixtures::view(Some(report));
    let app = fixtures::app_with("default", 160, 48, view, audit);
    let text = screen(&app);
    assert!(!text.contains('\u{1b}'), "an escape reached the terminal");
    assert!(!text.contains('\u{7}'), "a bell reached the terminal");
    for needle in [
        "✓ acknowledged bob\\x1b[31m: x\\ny\\x1b[2J",
        "timed out\\x1b[2J\\nfake",
        "a:BTC\\n\\x1b[H",
        "{\"note\":\"z\\x07\"}",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
}
