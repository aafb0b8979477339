//! `recon headless` as an operator runs it: the real binary in a temp dir, metrics scraped
//! over 127.0.0.1, signals sent with `kill`, the service manager played by a Unix datagram
//! socket, and `kill -9` at seeded random moments followed by the audit and SQLite checks.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

const BIN: &str = env!("CARGO_BIN_EXE_recon");
const WAIT: Duration = Duration::from_secs(15);

/// `alpha` is 0.1 BTC short (critical) and 0.5 SOL short (medium); `broken` fails every
/// fetch (its breaker never opens, so every cycle is an error of its own).
fn config(interval: &str, alpha_latency_ms: u64) -> String {
    format!(
        r#"
[reconciliation]
interval_secs = {interval}
cycle_timeout_ms = 3000
fetch_timeout_ms = 2000

[ledger]
kind = "file"
path = "ledger.toml"

[storage]
path = "recon.db"

[logging]
dir = "logs"
level = "info"
format = "json"

[retry]
max_attempts = 1
base_delay_ms = 1
max_delay_ms = 5

[circuit_breaker]
failure_threshold = 1000000
open_secs = 30

[[exchanges]]
name = "alpha"
kind = "simulated"
seed = 7
latency_ms = [{alpha_latency_ms}, {alpha_latency_ms}]
failure_rate = 0.0
drift = "0"
balances = {{ BTC = "1.4", ETH = "10", SOL = "249.5" }}

[[exchanges]]
name = "broken"
kind = "simulated"
seed = 11
latency_ms = [1, 2]
failure_rate = 1
drift = "0"
balances = {{ ETH = "1" }}
"#
    )
}

const LEDGER: &str =
    "[alpha]\nBTC = \"1.5\"\nETH = \"10\"\nSOL = \"250\"\n\n[broken]\nETH = \"1\"\n";

struct Daemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    addr: Option<String>,
}

impl Daemon {
    fn dir_with(config: &str, ledger: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        std::fs::write(dir.path().join("ledger.toml"), ledger).unwrap();
        dir
    }

    fn command(dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .arg("--config")
            .arg(dir.join("config.toml"))
            .args(args)
            .current_dir(dir);
        c
    }

    /// Starts `recon headless --metrics-addr 127.0.0.1:0` (stderr to a file, so a full
    /// pipe never stalls it) and waits for the address it serves on.
    fn start(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let child = Self::spawn(dir.path(), &["--metrics-addr", "127.0.0.1:0"], env);
        let mut d = Self {
            dir,
            child: Some(child),
            addr: None,
        };
        let addr = d.wait_log(|l| l.contains("serving /metrics")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&addr).unwrap();
        d.addr = Some(v["fields"]["addr"].as_str().unwrap().to_string());
        d
    }

    /// Starts the daemon again in the same directory (after it exited).
    fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.child = Some(Self::spawn(
            self.path(),
            &["--metrics-addr", "127.0.0.1:0"],
            &[],
        ));
        let line = self.wait_log(|l| l.contains("serving /metrics")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        self.addr = Some(v["fields"]["addr"].as_str().unwrap().to_string());
    }

    fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
        let stderr = std::fs::File::create(dir.join("stderr.log")).unwrap();
        let mut c = Self::command(dir, &["headless"]);
        c.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            c.env(k, v);
        }
        c.spawn().unwrap()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.path().join("stderr.log")).unwrap_or_default()
    }

    /// The first stderr line matching `pred`, waiting for it.
    fn wait_log(&self, pred: impl Fn(&str) -> bool) -> Option<String> {
        let until = Instant::now() + WAIT;
        while Instant::now() < until {
            if let Some(l) = self.stderr().lines().find(|l| pred(l)) {
                return Some(l.to_string());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr.as_deref().unwrap(), path)
    }

    fn metrics(&self) -> Metrics {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        Metrics::parse(&body)
    }

    /// Polls `/metrics` until `pred` holds.
    fn wait_metrics(&self, pred: impl Fn(&Metrics) -> bool) -> Metrics {
        let until = Instant::now() + WAIT;
        loop {
            let m = self.metrics();
            if pred(&m) {
                return m;
            }
            assert!(Instant::now() < until, "metrics never matched:\n{}", m.text);
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Waits for the process to exit; returns its status and how long that took.
    fn wait_exit(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let t0 = Instant::now();
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return (status, t0.elapsed());
            }
            assert!(t0.elapsed() < within, "still running after {within:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn recon(&self, args: &[&str]) -> std::process::Output {
        Self::command(self.path(), args).output().unwrap()
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        audit(self.path())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn audit(dir: &Path) -> Vec<serde_json::Value> {
    let out = Daemon::command(dir, &["audit", "--format", "json", "--limit", "1000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
}

/// The samples of one scrape: `name{labels}` (labels as written) → value.
struct Metrics {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Metrics {
    fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                let v = match v {
                    "+Inf" => f64::INFINITY,
                    v => v.parse().unwrap(),
                };
                (k.to_string(), v)
            })
            .collect();
        Self {
            text: text.to_string(),
            samples,
        }
    }

    fn get(&self, key: &str) -> Option<f64> {
        self.samples.get(key).copied()
    }

    fn value(&self, key: &str) -> f64 {
        self.get(key)
            .unwrap_or_else(|| panic!("no {key} in:\n{}", self.text))
    }

    /// Sum over every sample of `name` whose labels contain `part`.
    fn sum(&self, name: &str, part: &str) -> f64 {
        self.samples
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{name}{{")) && k.contains(part))
            .map(|(_, v)| v)
            .sum()
    }

    fn families(&self) -> Vec<String> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.to_string())
            .collect()
    }

    fn cycles(&self) -> f64 {
        self.sum("recon_cycles_total", "")
    }
}

#[test]
fn metrics_expose_every_series_with_exact_labels_and_values_and_drop_resolved_ones() {
    let dir = Daemon::dir_with(&config("0.2", 800), LEDGER);
    let d = Daemon::start(dir, &[]);
    // The first cycle takes 800 ms: not ready before it, ready after.
    assert_eq!(d.get("/readyz").0, 503);
    assert_eq!(d.get("/healthz").0, 200);
    let m = d.wait_metrics(|m| m.cycles() >= 2.0);
    assert_eq!(d.get("/readyz").0, 200);

    let mut families = m.families();
    families.sort();
    assert_eq!(
        families,
        [
            "recon_alerts counter",
            "recon_build info",
            "recon_config_reloads counter",
            "recon_cycle_duration_seconds histogram",
            "recon_cycles counter",
            "recon_discrepancies gauge",
            "recon_discrepancy_difference gauge",
            "recon_exchange_attempts counter",
            "recon_exchange_circuit_state gauge",
            "recon_exchange_errors counter",
            "recon_exchange_fetch_duration_seconds histogram",
            "recon_exchange_stale_seconds gauge",
            "recon_exchange_up gauge",
            "recon_last_cycle_timestamp_seconds gauge",
            "recon_last_success_timestamp_seconds gauge",
            "recon_reports_missed counter",
        ]
    );
    let cycles = m.cycles();
    assert_eq!(m.value("recon_cycles_total{status=\"partial\"}"), cycles);
    assert_eq!(m.value("recon_cycles_total{status=\"reconciled\"}"), 0.0);
    assert_eq!(m.value("recon_cycle_duration_seconds_count"), cycles);
    assert_eq!(
        m.value("recon_discrepancy_difference{exchange=\"alpha\",asset=\"BTC\"}"),
        -0.1
    );
    assert_eq!(
        m.value("recon_discrepancy_difference{exchange=\"alpha\",asset=\"SOL\"}"),
        -0.5
    );
    for (state, severity, n) in [
        ("open", "critical", 1.0),
        ("open", "high", 0.0),
        ("open", "medium", 1.0),
        ("open", "low", 0.0),
        ("acknowledged", "critical", 0.0),
        ("acknowledged", "medium", 0.0),
    ] {
        assert_eq!(
            m.value(&format!(
                "recon_discrepancies{{state=\"{state}\",severity=\"{severity}\"}}"
            )),
            n,
            "{state} {severity}"
        );
    }
    assert_eq!(m.value("recon_exchange_up{exchange=\"alpha\"}"), 1.0);
    assert_eq!(m.value("recon_exchange_up{exchange=\"broken\"}"), 0.0);
    assert_eq!(
        m.value("recon_exchange_circuit_state{exchange=\"broken\"}"),
        0.0
    );
    assert_eq!(
        m.value("recon_exchange_stale_seconds{exchange=\"alpha\"}"),
        0.0
    );
    assert_eq!(
        m.value("recon_exchange_stale_seconds{exchange=\"broken\"}"),
        f64::INFINITY,
        "never fetched is infinitely stale, not 0"
    );
    // Every cycle is one failed fetch of `broken`, a timeout or a 503.
    assert_eq!(
        m.sum("recon_exchange_errors_total", "exchange=\"broken\""),
        cycles
    );
    assert_eq!(
        m.sum(
            "recon_exchange_errors_total",
            "exchange=\"broken\",reason=\"timeout\""
        ) + m.sum(
            "recon_exchange_errors_total",
            "exchange=\"broken\",reason=\"http_status\""
        ),
        cycles
    );
    assert_eq!(
        m.sum("recon_exchange_errors_total", "exchange=\"alpha\""),
        0.0
    );
    assert_eq!(
        m.value("recon_exchange_attempts_total{exchange=\"alpha\"}"),
        cycles
    );
    assert_eq!(
        m.value("recon_exchange_fetch_duration_seconds_count{exchange=\"alpha\"}"),
        cycles
    );
    assert_eq!(m.value("recon_alerts_total{result=\"sent\"}"), 0.0);
    assert_eq!(m.value("recon_alerts_total{result=\"failed\"}"), 0.0);
    assert_eq!(m.value("recon_reports_missed_total"), 0.0);
    assert_eq!(
        m.value(&format!(
            "recon_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    let last = m.value("recon_last_cycle_timestamp_seconds");
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    assert!(now - last < 5.0 && last <= now + 0.001, "{last} vs {now}");
    assert_eq!(
        m.get("recon_last_success_timestamp_seconds"),
        Some(0.0),
        "no cycle compared every exchange"
    );

    // The SOL gap is settled in the ledger: its series goes, the BTC one stays.
    std::fs::write(
        d.path().join("ledger.toml"),
        LEDGER.replace("SOL = \"250\"", "SOL = \"249.5\""),
    )
    .unwrap();
    let m = d.wait_metrics(|m| {
        m.get("recon_discrepancy_difference{exchange=\"alpha\",asset=\"SOL\"}")
            .is_none()
    });
    assert_eq!(
        m.value("recon_discrepancy_difference{exchange=\"alpha\",asset=\"BTC\"}"),
        -0.1
    );
    assert_eq!(
        m.value("recon_discrepancies{state=\"open\",severity=\"medium\"}"),
        0.0
    );
    // The cycle line and the lifecycle lines are in the rolling file too.
    let resolved = d
        .wait_log(|l| l.contains("\"event\":\"discrepancy_resolved\""))
        .unwrap();
    assert!(
        resolved.contains("\"discrepancy\":\"alpha:SOL\""),
        "{resolved}"
    );
    let down = d
        .wait_log(|l| l.contains("\"event\":\"exchange_down\""))
        .unwrap();
    assert!(down.contains("\"exchange\":\"broken\""), "{down}");
}

#[test]
fn sigterm_finishes_within_3_s_with_exit_0_shutdown_audited_and_logs_flushed() {
    let dir = Daemon::dir_with(&config("0.2", 400), LEDGER);
    let mut d = Daemon::start(dir, &[]);
    d.wait_metrics(|m| m.cycles() >= 1.0);
    // The next cycle is in flight from 200 ms after the last one, for 400 ms.
    std::thread::sleep(Duration::from_millis(300));
    let pid = d.pid();
    d.signal("TERM");
    let (status, took) = d.wait_exit(Duration::from_secs(3));
    assert_eq!(status.code(), Some(0), "{}", d.stderr());
    assert!(took < Duration::from_secs(3), "{took:?}");
    let audit = d.audit();
    assert_eq!(audit[0]["event"], "shutdown");
    assert_eq!(audit[0]["detail"]["mode"], "headless");
    assert_eq!(audit[0]["detail"]["pid"], pid, "whose shutdown it is");
    let out = d.recon(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0));
    // The last line was written before the exit, to stderr and to the daily file.
    let last = d.stderr().lines().last().unwrap().to_string();
    assert!(last.contains("\"message\":\"stopped\""), "{last}");
    let logs: Vec<PathBuf> = std::fs::read_dir(d.path().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 1);
    let file = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(file
        .lines()
        .last()
        .unwrap()
        .contains("\"message\":\"stopped\""));
    assert!(file.contains("\"event\":\"cycle\""));
}

#[test]
fn a_second_sigterm_during_shutdown_exits_at_once() {
    let dir = Daemon::dir_with(&config("0.2", 1500), LEDGER);
    let mut d = Daemon::start(dir, &[]);
    d.wait_metrics(|m| m.cycles() >= 1.0);
    std::thread::sleep(Duration::from_millis(300));
    d.signal("TERM");
    std::thread::sleep(Duration::from_millis(100));
    d.signal("TERM");
    let (status, took) = d.wait_exit(Duration::from_secs(3));
    assert_eq!(status.code(), Some(143), "{}", d.stderr());
    // Waiting for the cycle in flight would take about 1.3 s more.
    assert!(took < Duration::from_millis(1000), "{took:?}");
    assert!(d
        .stderr()
        .contains("recon: second SIGTERM: exiting at once"));
}

#[test]
fn sighup_applies_a_valid_configuration_and_keeps_the_running_one_on_a_broken_file() {
    let dir = Daemon::dir_with(&config("0.2", 5), LEDGER);
    let d = Daemon::start(dir, &[]);
    d.wait_metrics(|m| m.cycles() >= 3.0);
    std::fs::write(d.path().join("config.toml"), config("30", 5)).unwrap();
    d.signal("HUP");
    let m = d.wait_metrics(|m| m.value("recon_config_reloads_total{result=\"applied\"}") == 1.0);
    let reloaded: Vec<_> = d
        .audit()
        .into_iter()
        .filter(|e| e["event"] == "config_reloaded")
        .collect();
    assert_eq!(reloaded.len(), 1);
    let detail = &reloaded[0]["detail"];
    assert_eq!(detail["interval_secs"], 30.0);
    assert_eq!(
        detail["changed"],
        serde_json::json!(["reconciliation.interval_secs"])
    );
    assert_eq!(detail["not_applied"], serde_json::json!([]));
    // At a 30 s interval, at most the cycle in flight at the reload completes.
    let before = m.cycles();
    std::thread::sleep(Duration::from_millis(1000));
    assert!(d.metrics().cycles() <= before + 1.0);

    std::fs::write(
        d.path().join("config.toml"),
        config("30", 5).replace("interval_secs = 30", "interval_secs = \"fast\""),
    )
    .unwrap();
    d.signal("HUP");
    let line = d
        .wait_log(|l| l.contains("config_reload_rejected"))
        .unwrap();
    assert!(line.contains("reconciliation.interval_secs"), "{line}");
    assert!(line.contains("\"level\":\"ERROR\""), "{line}");
    let m = d.metrics();
    assert_eq!(
        m.value("recon_config_reloads_total{result=\"rejected\"}"),
        1.0
    );
    assert_eq!(
        m.value("recon_config_reloads_total{result=\"applied\"}"),
        1.0
    );
    assert_eq!(d.get("/healthz").0, 200);
    // `recon audit` would read the broken file too: ask the database.
    let db = rusqlite::Connection::open(d.path().join("recon.db")).unwrap();
    let reloads: i64 = db
        .query_row(
            "SELECT count(*) FROM audit_log WHERE event = 'config_reloaded'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(reloads, 1, "a rejected file is not audited as applied");
}

#[test]
fn a_metrics_address_in_use_is_one_line_and_exit_1_before_anything_starts() {
    let dir = Daemon::dir_with(&config("0.2", 5), LEDGER);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Daemon::command(dir.path(), &["headless", "--metrics-addr", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("recon: --metrics-addr {addr}: cannot listen: ")),
        "{stderr}"
    );
    assert!(!dir.path().join("recon.db").exists(), "nothing started");
}

#[test]
fn systemd_is_told_ready_after_the_first_cycle_watchdog_pings_and_stopping() {
    let dir = Daemon::dir_with(&config("0.2", 300), LEDGER);
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    // systemd reads at once; so does this thread (a full datagram queue would block the
    // sender).
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).trim().to_string();
            sink.lock().unwrap().push(msg);
        }
    });
    let mut d = Daemon::start(
        dir,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let until = Instant::now() + WAIT;
    while !got.lock().unwrap().iter().any(|g| g == "READY=1") {
        assert!(Instant::now() < until, "no READY=1");
        std::thread::sleep(Duration::from_millis(10));
    }
    // READY comes only once a cycle is in: the metrics already show it.
    assert!(d.metrics().cycles() >= 1.0);
    std::thread::sleep(Duration::from_millis(500));
    d.signal("TERM");
    let (status, _) = d.wait_exit(Duration::from_secs(3));
    assert_eq!(status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(50));
    let got = got.lock().unwrap().clone();
    let count = |s: &str| got.iter().filter(|g| *g == s).count();
    assert_eq!(count("READY=1"), 1, "{got:?}");
    assert_eq!(count("STOPPING=1"), 1, "{got:?}");
    assert!(count("WATCHDOG=1") >= 3, "pings every 100 ms: {got:?}");
    let pos = |s: &str| got.iter().position(|g| g == s).unwrap();
    assert!(pos("READY=1") < pos("STOPPING=1"), "{got:?}");
}

/// `steady` keeps an acknowledged 0.1 BTC gap; `drifting` walks 100 assets every cycle;
/// `flaky` fails half its fetches.
const CRASH_CONFIG: &str = r#"
[reconciliation]
interval_secs = 0.05
cycle_timeout_ms = 500
fetch_timeout_ms = 40

[ledger]
kind = "file"
path = "ledger.toml"

[storage]
path = "recon.db"

[logging]
dir = "logs"
level = "info"
format = "json"

[retry]
max_attempts = 2
base_delay_ms = 1
max_delay_ms = 5

[[exchanges]]
name = "steady"
kind = "simulated"
seed = 1
latency_ms = [1, 5]
balances = { BTC = "1.4" }

[[exchanges]]
name = "drifting"
kind = "simulated"
seed = 2
latency_ms = [1, 10]
drift = "0.01"
assets = 100

[[exchanges]]
name = "flaky"
kind = "simulated"
seed = 3
latency_ms = [1, 10]
failure_rate = 0.5
balances = { ETH = "3" }
"#;

#[test]
fn kill_9_at_20_random_moments_never_breaks_the_chain_the_database_or_an_ack() {
    let dir = Daemon::dir_with(
        CRASH_CONFIG,
        "[steady]\nBTC = \"1.5\"\n[flaky]\nETH = \"3\"\n",
    );
    let path = dir.path().to_path_buf();
    let once = Daemon::command(&path, &["once"]).output().unwrap();
    assert_eq!(
        once.status.code(),
        Some(2),
        "drifting is not in the ledger: critical"
    );
    let ack = Daemon::command(
        &path,
        &[
            "ack",
            "steady:BTC",
            "--note",
            "known transfer",
            "--by",
            "ops",
        ],
    )
    .output()
    .unwrap();
    assert!(
        ack.status.success(),
        "{}",
        String::from_utf8_lossy(&ack.stderr)
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(20261201);
    let mut last_cycles = 0;
    for round in 0..20 {
        let mut child = Daemon::spawn(&path, &[], &[]);
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let verify = Daemon::command(&path, &["audit", "verify"])
            .output()
            .unwrap();
        assert_eq!(
            verify.status.code(),
            Some(0),
            "round {round}: {}",
            String::from_utf8_lossy(&verify.stdout)
        );
        let db = rusqlite::Connection::open_with_flags(
            path.join("recon.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let integrity: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "round {round}");
        let acked: i64 = db
            .query_row(
                "SELECT count(*) FROM acknowledgements WHERE key = 'steady:BTC'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(acked, 1, "round {round}: the acknowledgement survives");
        let cycles: i64 = db
            .query_row("SELECT count(*) FROM cycles", [], |r| r.get(0))
            .unwrap();
        assert!(
            cycles >= last_cycles,
            "round {round}: committed cycles are kept"
        );
        last_cycles = cycles;
    }
    // The acknowledged gap still reads as acknowledged in a fresh cycle.
    let out = Daemon::command(&path, &["once", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let btc = report["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "steady:BTC")
        .unwrap();
    assert_eq!(btc["acknowledged"], true);
    assert_eq!(btc["acknowledged_by"], "ops");
    assert!(last_cycles > 5, "the daemon did run cycles: {last_cycles}");
    eprintln!("kill -9: 20 rounds, {last_cycles} cycles committed in all, chain and acks intact");
}

#[test]
fn with_format_text_stderr_is_plain_text_without_colours_and_the_log_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Daemon::dir_with(
        &config("0.2", 5).replace("format = \"json\"", "format = \"text\""),
        LEDGER,
    );
    let child = Daemon::spawn(dir.path(), &[], &[]);
    let mut d = Daemon {
        dir,
        child: Some(child),
        addr: None,
    };
    let line = d.wait_log(|l| l.contains("cycle completed")).unwrap();
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("status=\"partial\""), "{line}");
    assert!(
        !d.stderr().contains('\u{1b}'),
        "no ANSI escape codes off a terminal"
    );
    assert!(!line.starts_with('{'), "{line}");
    let mode = std::fs::metadata(d.path().join("logs"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    d.signal("INT");
    let (status, _) = d.wait_exit(Duration::from_secs(3));
    assert_eq!(status.code(), Some(0));
}

/// A webhook receiver on 127.0.0.1 that answers 200 and records every POST body.
struct Receiver {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/hooks/T0/SECRET-TOKEN",
            listener.local_addr().unwrap()
        );
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let body = loop {
                    let n = s.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if rest.len() >= len {
                            break Some(rest[..len].to_string());
                        }
                    }
                };
                if let Some(body) = body {
                    seen.lock()
                        .unwrap()
                        .push(serde_json::from_str(&body).unwrap());
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        });
        Self { url, bodies }
    }

    fn events(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| b["event"].as_str().unwrap().to_string())
            .collect()
    }
}

#[test]
fn the_daemon_posts_each_alert_once_over_unchanged_cycles_and_counts_it() {
    let hook = Receiver::start();
    let cfg = format!(
        "[alerts]\nwebhook_url = \"{}\"\n{}",
        hook.url,
        config("0.2", 5)
    );
    let mut d = Daemon::start(Daemon::dir_with(&cfg, LEDGER), &[]);
    // The critical BTC gap opens (the medium SOL gap is below min_severity = high) and
    // the always-failing exchange is down: two events, then ten unchanged cycles.
    let first = d.wait_metrics(|m| m.sum("recon_alerts_total", "sent") >= 2.0);
    let start = first.cycles();
    d.wait_metrics(|m| m.cycles() >= start + 10.0);
    let m = d.metrics();
    assert_eq!(m.sum("recon_alerts_total", "result=\"sent\""), 2.0);
    assert_eq!(m.sum("recon_alerts_total", "result=\"failed\""), 0.0);
    let mut events = hook.events();
    events.sort();
    assert_eq!(events, ["exchange_down", "opened"]);
    for body in hook.bodies.lock().unwrap().iter() {
        assert!(!body["text"].as_str().unwrap().is_empty(), "{body}");
        let content = body["content"].as_str().unwrap();
        assert!(!content.is_empty() && content.chars().count() <= 2000);
        assert!(body["alerts"].as_array().is_some_and(|a| a.len() == 1));
        let btc = body["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == "alpha:BTC")
            .unwrap();
        assert_eq!(btc["difference"], "-0.1");
    }
    // Audited once each; the URL's token appears in no log line nor audit entry.
    let audit = d.audit();
    let sent = audit.iter().filter(|e| e["event"] == "alert_sent").count();
    assert_eq!(sent, 2);
    assert!(!d.stderr().contains("SECRET-TOKEN"));
    assert!(!serde_json::to_string(&audit)
        .unwrap()
        .contains("SECRET-TOKEN"));
    d.signal("TERM");
    let (status, _) = d.wait_exit(Duration::from_secs(3));
    assert_eq!(status.code(), Some(0), "{}", d.stderr());
    // A restart on the same database sends nothing again.
    d.restart();
    let begin = d.metrics().cycles();
    d.wait_metrics(|m| m.cycles() >= begin + 5.0);
    assert_eq!(hook.events().len(), 2, "{:?}", hook.events());
}
