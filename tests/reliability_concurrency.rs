//! Reliability: one database, many writers. A daemon (the same engine actor the console
//! drives) runs cycles every 0.2 s while ten processes at a time acknowledge, withdraw,
//! declare expectations and run one-shot checks against the same SQLite file for 30 s.
//! No `database is locked` (or any other storage error) reaches a user, every
//! acknowledgement a command reported as recorded is in the audit trail, and the hash
//! chain verifies at the end.
//!
//! `RECON_STRESS_SECS` changes the duration (CI keeps the default).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_recon");
const ASSETS: [&str; 4] = ["BTC", "ETH", "SOL", "LINK"];

fn recon(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("USER", "stress")
        .current_dir(dir)
        .args(["--config", "config.toml"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from(
        "[reconciliation]\ninterval_secs = 0.2\ncycle_timeout_ms = 2000\nfetch_timeout_ms = 500\n\
         [ledger]\nkind = \"file\"\npath = \"ledger.toml\"\n[storage]\npath = \"recon.db\"\n\
         [logging]\ndir = \"logs\"\n",
    );
    let mut ledger = String::new();
    for x in ["a", "b", "c"] {
        // Every asset 10 % short on the exchange: critical, open until acknowledged.
        config.push_str(&format!(
            "[[exchanges]]\nname = \"{x}\"\nkind = \"simulated\"\nlatency_ms = [1, 10]\n\
             balances = {{ BTC = \"0.9\", ETH = \"9\", SOL = \"90\", LINK = \"900\" }}\n"
        ));
        ledger.push_str(&format!(
            "[{x}]\nBTC = \"1\"\nETH = \"10\"\nSOL = \"100\"\nLINK = \"1000\"\n"
        ));
    }
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    std::fs::write(dir.path().join("ledger.toml"), ledger).unwrap();
    dir
}

/// What one worker saw: acknowledgements reported as recorded (their notes), and any
/// output that betrays a storage problem.
#[derive(Default)]
struct Seen {
    acked: Vec<String>,
    problems: Vec<String>,
    runs: usize,
}

fn worker(dir: PathBuf, w: usize, until: Instant, seen: Arc<Mutex<Seen>>) {
    let mut n = 0usize;
    while Instant::now() < until {
        n += 1;
        let id = format!(
            "{}:{}",
            ["a", "b", "c"][(w + n) % 3],
            ASSETS[(w * 7 + n) % ASSETS.len()]
        );
        let note = format!("w{w}-n{n}");
        let (args, allowed): (Vec<&str>, &[i32]) = match n % 4 {
            // Refusals (already acknowledged, not open yet) exit 1; never 2 or 3.
            0 => (vec!["ack", &id, "--note", &note], &[0, 1]),
            1 => (vec!["unack", &id, "--note", &note], &[0, 1]),
            2 => (vec!["expect", &id, "-0.001", "--for", "1h"], &[0]),
            _ => (vec!["once", "--format", "json"], &[2]),
        };
        let out = recon(&dir, &args);
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut s = seen.lock().unwrap();
        s.runs += 1;
        let lower = stderr.to_lowercase();
        if !allowed.contains(&code)
            || lower.contains("locked")
            || lower.contains("busy")
            || lower.contains("storage")
            || lower.contains("database")
        {
            s.problems.push(format!("{args:?} exited {code}: {stderr}"));
        }
        if args[0] == "ack" && code == 0 {
            s.acked.push(note);
        }
    }
}

#[test]
fn ten_writers_and_a_daemon_on_one_database_lose_nothing_and_never_say_locked() {
    let secs: u64 = std::env::var("RECON_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let dir = setup();
    let d = dir.path().to_path_buf();
    let stderr = std::fs::File::create(d.join("daemon.stderr")).unwrap();
    let mut daemon = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(&d)
        .args(["--config", "config.toml", "headless"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    // The first cycle opens the twelve discrepancies.
    let deadline = Instant::now() + Duration::from_secs(20);
    while recon(&d, &["audit", "--format", "json", "--limit", "50"])
        .stdout
        .windows(18)
        .all(|w| w != b"discrepancy_opened")
    {
        assert!(Instant::now() < deadline, "no cycle completed");
        std::thread::sleep(Duration::from_millis(100));
    }

    let until = Instant::now() + Duration::from_secs(secs);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let workers: Vec<_> = (0..10)
        .map(|w| {
            let (d, seen) = (d.clone(), seen.clone());
            std::thread::spawn(move || worker(d, w, until, seen))
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = daemon.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the daemon survived the crowd");
    let daemon_err = std::fs::read_to_string(d.join("daemon.stderr")).unwrap();
    assert!(
        !daemon_err.to_lowercase().contains("locked"),
        "{daemon_err}"
    );

    let seen = seen.lock().unwrap();
    assert!(seen.problems.is_empty(), "{:#?}", seen.problems);
    assert!(seen.runs >= 40, "only {} commands ran", seen.runs);
    assert!(
        !seen.acked.is_empty(),
        "no acknowledgement was ever recorded"
    );

    // Nothing lost: each recorded acknowledgement is in the audit trail, once.
    let out = recon(&d, &["audit", "--format", "json", "--limit", "1000000"]);
    assert!(out.status.success());
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let notes: Vec<&str> = audit
        .iter()
        .filter(|e| e["event"] == "discrepancy_acknowledged")
        .filter_map(|e| e["detail"]["note"].as_str())
        .collect();
    for note in &seen.acked {
        let n = notes.iter().filter(|n| *n == note).count();
        assert_eq!(n, 1, "acknowledgement '{note}' recorded {n} times");
    }
    let verify = recon(&d, &["audit", "verify"]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
