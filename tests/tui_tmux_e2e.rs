//! The console in a real terminal: the `recon` binary inside a detached tmux session
//! (120×40, its own `-L` socket per test), driven with `send-keys`, read with
//! `capture-pane`. Every wait polls with a deadline; nothing sleeps a fixed time.
//!
//! tmux is required: without it these tests fail with a message saying so (CI installs
//! it), rather than passing without having run.

#[path = "support/config.rs"]
mod config;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_recon");
const USER: &str = "e2e-tester";
const EXITED: &str = "recon exited with status";

/// One tmux server (own socket) running the console in a temp dir; killed on drop.
struct Console {
    socket: String,
    dir: tempfile::TempDir,
}

fn tmux_installed() {
    match Command::new("tmux").arg("-V").output() {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "tmux is not installed: the end-to-end console tests need it \
             (apt-get install -y tmux); refusing to pass without running"
        ),
    }
}

impl Console {
    fn start(test: &str) -> Self {
        Self::start_with(test, "1", (120, 40), |_| {})
    }

    /// A console at `interval` seconds in a `size` terminal, after `prepare` has had its
    /// say on the directory (e.g. a larger configuration).
    fn start_with(
        test: &str,
        interval: &str,
        size: (u16, u16),
        prepare: impl FnOnce(&Path),
    ) -> Self {
        tmux_installed();
        let dir = tempfile::tempdir().unwrap();
        config::write(dir.path(), interval, "default");
        prepare(dir.path());
        let socket = format!("recon-e2e-{test}-{}", std::process::id());
        // After recon exits the shell reports its status and the terminal modes, then
        // waits, so the pane can still be read.
        let script = format!(
            "'{BIN}' --config config.toml; echo \"{EXITED} $?\"; \
             echo \"modes: $(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo|isig)' | tr '\\n' ' ')\"; \
             sleep 120"
        );
        let c = Self { socket, dir };
        c.tmux(&[
            "new-session",
            "-d",
            "-s",
            "recon",
            "-x",
            &size.0.to_string(),
            "-y",
            &size.1.to_string(),
            "-e",
            &format!("USER={USER}"),
            "-c",
            c.dir.path().to_str().unwrap(),
            "sh",
            "-c",
            &script,
        ]);
        c
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "recon"])
    }

    fn display(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "recon", format])
            .trim()
            .to_string()
    }

    /// Polls the screen until `ready` holds (at most `secs` seconds).
    fn wait(&self, what: &str, secs: u64, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen was:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, text: &str, secs: u64) -> String {
        self.wait(&format!("'{text}'"), secs, |s| s.contains(text))
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "recon"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "recon", "-l", text]);
    }

    /// The recon process: the only child of the pane's shell.
    fn recon_pid(&self) -> u32 {
        let shell = self.display("#{pane_pid}");
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        children
            .split_whitespace()
            .next()
            .expect("recon runs under the pane's shell")
            .parse()
            .unwrap()
    }

    fn recon(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["--config", "config.toml"])
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// The shell's report after recon exited: status 0, the terminal back in cooked mode
    /// with echo, off the alternate screen, cursor visible.
    fn assert_exited_and_restored(&self) {
        let screen = self.wait_for(EXITED, 15);
        assert!(
            screen.contains(&format!("{EXITED} 0")),
            "exit status:\n{screen}"
        );
        let screen = self.wait_for("modes: ", 5);
        let modes = screen
            .lines()
            .find(|l| l.starts_with("modes: "))
            .unwrap_or_default();
        let flags: Vec<&str> = modes.split_whitespace().skip(1).collect();
        for flag in ["icanon", "echo", "isig"] {
            assert!(flags.contains(&flag), "raw mode left on ({flag}): {modes}");
        }
        assert_eq!(
            self.display("#{alternate_on}"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(self.display("#{cursor_flag}"), "1", "cursor left hidden");
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn audit_json(dir: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(BIN)
        .args([
            "--config",
            "config.toml",
            "audit",
            "--limit",
            "500",
            "--format",
            "json",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn reconcile_help_acknowledge_and_quit_in_a_real_terminal() {
    let c = Console::start("keys");
    // Each wait names everything it then relies on: a capture can land mid-frame, so a
    // frame is only "seen" once all of its parts are.
    c.wait("both exchanges, a first report and the footer", 30, |s| {
        [
            "coinbase-main",
            "dydx-perps",
            "✖ CRITICAL",
            "✖ DISCREPANCIES",
            "r reconcile",
        ]
        .iter()
        .all(|t| s.contains(t))
    });

    c.keys(&["r"]);
    c.wait_for("reconcile requested", 10);

    c.keys(&["?"]);
    c.wait("the whole help overlay", 10, |s| {
        [
            "Keys — ? or Esc to close",
            "acknowledge discrepancy",
            "pause / resume loop",
            "filter the panel",
        ]
        .iter()
        .all(|t| s.contains(t))
    });
    c.keys(&["?"]);
    c.wait("help closed by ?", 10, |s| !s.contains("Keys — ?"));
    c.keys(&["?"]);
    c.wait_for("Keys — ? or Esc to close", 10);
    c.keys(&["Escape"]);
    c.wait("help closed by Esc", 10, |s| !s.contains("Keys — ?"));

    // The worst discrepancy is selected first: coinbase-main:BTC. Acknowledge it with a
    // note that contains a q (typed, not quitting).
    let note = "e2e: quick recount ok";
    c.keys(&["a"]);
    c.wait_for("Acknowledge discrepancy", 10);
    c.type_text(note);
    c.wait_for(note, 10);
    c.keys(&["Enter"]);
    c.wait_for(
        &format!("acknowledged coinbase-main:BTC by {USER}: {note}"),
        10,
    );
    c.wait_for("discrepancy_acknowledged", 10);
    let by = format!("{USER}: {note}");
    c.wait("the row reads acknowledged, by whom and why", 10, |s| {
        s.lines()
            .any(|l| l.contains("✓ acknowledged") && l.contains(&by))
    });

    c.keys(&["q"]);
    c.assert_exited_and_restored();

    let audit = audit_json(c.dir.path());
    assert_eq!(audit[0]["event"], "shutdown", "{:#?}", audit[0]);
    assert_eq!(audit[0]["detail"]["mode"], "tui");
    let ack = audit
        .iter()
        .find(|e| e["event"] == "discrepancy_acknowledged")
        .expect("the acknowledgement is in the audit trail");
    assert_eq!(ack["subject"], "coinbase-main:BTC");
    assert_eq!(ack["detail"]["note"], note);
    assert_eq!(ack["detail"]["by"], USER);
    assert!(audit
        .iter()
        .any(|e| e["event"] == "startup" && e["detail"]["mode"] == "tui"));
    let verify = c.recon(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    // Logs went to the rolling file, never to the terminal.
    let logs: Vec<_> = std::fs::read_dir(c.dir.path().join("logs"))
        .unwrap()
        .collect();
    assert_eq!(logs.len(), 1, "one daily log file");
}

#[test]
fn sigterm_restores_the_terminal_and_records_shutdown() {
    let c = Console::start("sigterm");
    c.wait("the first report", 30, |s| {
        s.contains("dydx-perps") && s.contains("✖ CRITICAL")
    });
    let pid = c.recon_pid();
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    c.assert_exited_and_restored();
    let audit = audit_json(c.dir.path());
    assert_eq!(audit[0]["event"], "shutdown");
}

#[test]
fn resizing_below_80x24_says_so_and_back_redraws() {
    let c = Console::start("resize");
    c.wait_for("coinbase-main", 30);
    c.tmux(&["resize-window", "-t", "recon", "-x", "70", "-y", "20"]);
    c.wait_for("terminal too small (need 80×24, have 70×20)", 10);
    c.tmux(&["resize-window", "-t", "recon", "-x", "80", "-y", "24"]);
    c.wait("the console at 80×24", 10, |s| {
        s.contains("coinbase-main") && s.contains("q quit")
    });
    c.keys(&["C-c"]);
    c.assert_exited_and_restored();
}

#[test]
fn e_declares_an_expectation_and_the_line_turns_explained() {
    let c = Console::start("expect");
    c.wait("a first report with the worst gap selected", 30, |s| {
        ["coinbase-main", "✖ CRITICAL", "e expect"]
            .iter()
            .all(|t| s.contains(t))
    });
    // The worst discrepancy is selected first: coinbase-main:BTC, short 0.1.
    c.keys(&["e"]);
    c.wait("the expectation prompt with the gap prefilled", 10, |s| {
        s.contains("Declare a movement in flight") && s.contains("expected  -0.1▏")
    });
    c.keys(&["Tab"]);
    c.type_text("2h");
    c.keys(&["Tab"]);
    let note = "withdrawal 0x3f pending";
    c.type_text(note);
    c.wait_for(note, 10);
    c.keys(&["Enter"]);
    c.wait_for("expectation 1 on coinbase-main:BTC: -0.1 until ", 10);
    c.wait("the line explained", 10, |s| {
        s.lines()
            .any(|l| l.contains("coinbase-main:BTC") && l.contains("⇄ explained"))
    });
    let listed = c.recon(&["expect", "list", "--format", "json"]);
    assert!(listed.status.success());
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(v[0]["discrepancy"], "coinbase-main:BTC");
    assert_eq!(v[0]["difference"], "-0.1");
    assert_eq!(v[0]["by"], USER);
    assert_eq!(v[0]["note"], note);
    c.keys(&["q"]);
    c.assert_exited_and_restored();
    let audit = audit_json(c.dir.path());
    assert!(audit
        .iter()
        .any(|e| e["event"] == "expectation_added" && e["subject"] == "coinbase-main:BTC"));
}

#[test]
fn a_new_critical_rings_the_bell_once_and_titles_the_terminal() {
    let c = Console::start("bell");
    let bells = c.dir.path().join("bells");
    c.tmux(&["set-option", "-g", "bell-action", "any"]);
    c.tmux(&["set-option", "-g", "monitor-bell", "on"]);
    c.tmux(&[
        "set-hook",
        "-g",
        "alert-bell",
        &format!("run-shell 'echo bell >> {}'", bells.display()),
    ]);
    c.wait("a first report", 30, |s| s.contains("✖ CRITICAL"));
    let title = c.display("#{pane_title}");
    assert_eq!(title, "recon ✖ 1 critical", "title: {title}");
    // The position manager books 100 XRP the exchange does not hold: a new critical.
    let ledger = std::fs::read_to_string(c.dir.path().join("ledger.toml")).unwrap();
    let ledger = ledger.replace("SOL = \"250\"", "SOL = \"250\"\nXRP = \"100\"");
    let tmp = c.dir.path().join("ledger.toml.new");
    std::fs::write(&tmp, ledger).unwrap();
    std::fs::rename(&tmp, c.dir.path().join("ledger.toml")).unwrap();
    c.wait("the new critical marked NEW", 10, |s| {
        s.lines()
            .any(|l| l.contains("coinbase-main:XRP") && l.contains("NEW"))
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !bells.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(bells.exists(), "the bell did not ring");
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.display("#{pane_title}") != "recon ✖ 2 critical" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.display("#{pane_title}"), "recon ✖ 2 critical");
    // Three more one-second cycles of the same picture: still one bell.
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(std::fs::read_to_string(&bells).unwrap().lines().count(), 1);
    c.keys(&["q"]);
    c.assert_exited_and_restored();
}

#[test]
fn an_acknowledgement_from_a_shell_shows_within_two_seconds_at_a_30_s_interval() {
    let c = Console::start_with("outside", "30", (120, 40), |_| {});
    c.wait("a first report", 30, |s| {
        s.lines()
            .any(|l| l.contains("coinbase-main:BTC") && l.contains("● open"))
    });
    let out = c.recon(&[
        "ack",
        "coinbase-main:BTC",
        "--note",
        "from a shell",
        "--by",
        "sam",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = Instant::now();
    c.wait("the outside acknowledgement", 2, |s| {
        s.lines()
            .any(|l| l.contains("coinbase-main:BTC") && l.contains("✓ acknowledged"))
    });
    assert!(at.elapsed() < Duration::from_secs(2));
    c.wait_for("sam: from a shell", 2);
    c.keys(&["q"]);
    c.assert_exited_and_restored();
}

#[test]
fn a_desk_of_25_venues_at_80x24_never_hides_a_failed_venue() {
    let c = Console::start_with("desk", "1", (80, 24), |dir| {
        let mut config = String::from(
            "[reconciliation]\ninterval_secs = 1\ncycle_timeout_ms = 2000\nfetch_timeout_ms = 200\n\
             [retry]\nmax_attempts = 1\n[ledger]\nkind = \"file\"\npath = \"ledger.toml\"\n\
             [storage]\npath = \"recon.db\"\n[logging]\ndir = \"logs\"\n",
        );
        let mut ledger = String::new();
        for i in 0..25 {
            let name = if i == 7 {
                "a-very-long-treasury-account-name-at-venue-07".to_string()
            } else {
                format!("venue-{i:02}")
            };
            let failing = if i == 19 { "failure_rate = 1.0\n" } else { "" };
            config.push_str(&format!(
                "[[exchanges]]\nname = \"{name}\"\nkind = \"simulated\"\nseed = {i}\nlatency_ms = [1, 5]\n{failing}balances = {{ BTC = \"1\", ETH = \"10\" }}\n"
            ));
            ledger.push_str(&format!("[{name}]\nBTC = \"1.1\"\nETH = \"10\"\n"));
        }
        std::fs::write(dir.join("config.toml"), config).unwrap();
        std::fs::write(dir.join("ledger.toml"), ledger).unwrap();
    });
    let s = c.wait("the desk with its failed venue", 30, |s| {
        s.contains("venue-19") && s.contains("ERROR") && s.contains("BTC")
    });
    // The failed venue leads the exchanges panel, right under its header.
    let rows: Vec<&str> = s.lines().collect();
    let header = rows
        .iter()
        .position(|l| l.contains("exchange") && l.contains("status"))
        .unwrap();
    assert!(rows[header + 1].contains("venue-19"), "{s}");
    // Five discrepancy rows and the long name shortened in the middle, asset kept.
    let discrepancy_rows = rows
        .iter()
        .filter(|l| l.starts_with('┃') && l.contains(":BTC"))
        .count();
    assert!(discrepancy_rows >= 5, "{s}");
    c.keys(&["q"]);
    c.assert_exited_and_restored();
}

#[test]
fn the_mouse_wheel_scrolls_and_a_click_focuses_and_selects_in_a_real_terminal() {
    let c = Console::start("mouse");
    let s = c.wait("the balances and the discrepancies", 30, |s| {
        s.contains("┏ Discrepancies") && s.contains("dydx-perps") && s.contains("r reconcile")
    });
    let rows: Vec<&str> = s.lines().collect();
    // The balances' column header; its third data row is clicked (SGR mouse: 1-based).
    let header = rows
        .iter()
        .position(|l| l.contains("on exchange") && l.contains("asset"))
        .unwrap();
    let target = rows[header + 3];
    let asset = target.split_whitespace().nth(2).unwrap().to_string();
    let y = header + 3 + 1;
    c.type_text(&format!("\x1b[<0;10;{y}M\x1b[<0;10;{y}m"));
    let s = c.wait("the balances focused by the click", 10, |s| {
        s.contains("┏ Balances")
    });
    let selected = s.lines().find(|l| l.contains('▶')).unwrap_or_default();
    assert!(selected.contains(&asset), "clicked {asset}:\n{s}");
    // The balances' data rows: from under the header to the panel's bottom border.
    let n = s
        .lines()
        .skip(header + 1)
        .take_while(|l| !l.starts_with('┗') && !l.starts_with('└'))
        .filter(|l| l.chars().any(|c| c.is_alphanumeric()))
        .count();
    assert!(n >= 3, "{s}");
    let selected_at = |s: &str| {
        s.lines()
            .skip(header + 1)
            .take(n)
            .position(|l| l.contains('▶'))
    };
    // A notch of the wheel over the panel moves the selection three rows (to the last
    // one at most), a notch up three back.
    let down = (2 + 3).min(n - 1);
    c.type_text(&format!("\x1b[<65;10;{y}M"));
    c.wait("the selection moved down by the wheel", 10, |s| {
        selected_at(s) == Some(down)
    });
    c.type_text(&format!("\x1b[<64;10;{y}M"));
    let s = c.wait("the selection moved up by the wheel", 10, |s| {
        selected_at(s) == Some(down.saturating_sub(3))
    });
    assert!(s.contains("┏ Balances"), "{s}");
    c.keys(&["q"]);
    c.assert_exited_and_restored();
}
