//! `recon once` end to end (SPEC §8): the release binary against a loopback Coinbase
//! Advanced mock serving 600 accounts over 3 pages, each run a fresh process on the same
//! database (as cron runs it). Reports the wall time of the child, the time the mock spent
//! serving, their difference, and the child's peak RSS from `wait4`'s rusage.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};

#[path = "../../tests/support/mod.rs"]
#[allow(unused_imports)]
pub mod support;

/// One measured run.
pub struct Run {
    pub wall: Duration,
    pub serving: Duration,
    pub peak_rss_kib: u64,
}

/// What the mock saw: time spent serving each request and the tokens it was shown.
#[derive(Default)]
struct Seen {
    serving: Duration,
    requests: usize,
    bearer: Vec<String>,
}

/// The mock is a plain HTTP/1.1 loop on its own thread, not the axum mock of the tests:
/// the figure to compare against is the time the server itself spends between a request's
/// head arriving and the last byte of its answer being written, and a bare loop with the
/// bodies prebuilt makes that time the transfer, not a framework's.
struct Mock {
    addr: String,
    seen: Arc<Mutex<Seen>>,
}

impl Mock {
    fn start(pages: Vec<Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr").to_string();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let pages = Arc::new(pages);
        let shared = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (pages, seen) = (pages.clone(), shared.clone());
                std::thread::spawn(move || serve(stream, &pages, &seen));
            }
        });
        Self { addr, seen }
    }

    fn take(&self) -> Seen {
        std::mem::take(&mut *self.seen.lock().expect("mock lock"))
    }
}

fn serve(stream: TcpStream, pages: &[Vec<u8>], seen: &Mutex<Seen>) {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let started = Instant::now();
        let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut bearer = String::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("authorization") {
                    bearer = value.trim().to_string();
                }
            }
        }
        let page = match target.split_once("cursor=").map(|(_, c)| c) {
            None => 0,
            Some(c) => c
                .trim_start_matches('c')
                .parse::<usize>()
                .unwrap_or(usize::MAX),
        };
        let (status, body): (&str, &[u8]) = match pages.get(page) {
            Some(body) if bearer.starts_with("Bearer ") => ("200 OK", body),
            Some(_) => ("401 Unauthorized", b"{}"),
            None => ("404 Not Found", b"{}"),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(body).is_err() {
            return;
        }
        let took = started.elapsed();
        let mut s = seen.lock().expect("mock lock");
        s.serving += took;
        s.requests += 1;
        s.bearer.push(bearer);
    }
}

/// The argument that turns the bench binary into [`measure_child`].
pub const CHILD_MODE: &str = "__measure-child";

/// Runs `recon once` through a fresh copy of the bench binary ([`measure_child`]) and
/// reads back the wall time and peak RSS it measured.
///
/// Why a go-between: the kernel counts a child's peak RSS from the moment it is forked,
/// and until its `exec` the child is a copy of its parent (with `vfork`, the parent's
/// very memory). Spawned from this process, which by then holds 1000-row frames and the
/// engine's 100 x 1000 sets, `recon once` would be charged the bench's own size (97 MiB
/// was seen). A freshly started copy of the bench is small, and it is the parent of
/// `recon once` alone, so `getrusage(RUSAGE_CHILDREN)` there is the child's own peak
/// (std's `wait` drops the child's rusage and `wait4` would need `unsafe`).
fn run_child(cmd: Command, figures: &Path) -> (Duration, u64, i32) {
    let mut cmd = cmd;
    let status = cmd.status().expect("run the measuring copy of the bench");
    let text = std::fs::read_to_string(figures).expect("figures of the measured run");
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().expect("a figure"));
    let (wall_ns, rss_kib) = (fields.next().unwrap_or(0), fields.next().unwrap_or(0));
    (
        Duration::from_nanos(wall_ns),
        rss_kib,
        status.code().unwrap_or(-1),
    )
}

/// The go-between of [`run_child`]: `args` are the figures file, the program and its
/// arguments. Runs the program with this process's stdio, environment and directory,
/// writes "wall_ns peak_rss_kib" to the figures file, and returns its exit code.
pub fn measure_child(args: &[std::ffi::OsString]) -> i32 {
    let [figures, program, rest @ ..] = args else {
        eprintln!("{CHILD_MODE} FIGURES PROGRAM [ARGS...]");
        return 2;
    };
    let started = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .status()
        .expect("spawn recon");
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    // ru_maxrss is in KiB on Linux.
    std::fs::write(figures, format!("{} {}", wall.as_nanos(), usage.max_rss()))
        .expect("write figures");
    status.code().unwrap_or(-1)
}

fn command(dir: &Path, pem: &str, json_out: bool) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("the bench binary"));
    c.arg(CHILD_MODE)
        .arg(dir.join("figures"))
        .arg(crate::recon_binary())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RECON_BENCH_CB_KEY", support::KEY_NAME)
        .env("RECON_BENCH_CB_SECRET", pem)
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("once")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    if json_out {
        c.args(["--format", "json"]).stdout(Stdio::piped());
    } else {
        c.stdout(Stdio::null());
    }
    c
}

/// `runs` measured runs after one that creates the database; panics unless every run read
/// all 600 accounts and reconciled them.
pub fn measure(runs: usize) -> Vec<Run> {
    let (pages, totals) = support::generated_coinbase_pages(600);
    assert_eq!(pages.len(), 3);
    let mock = Mock::start(pages);
    let (_, pem) = support::p256_key();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[ledger]\nkind = \"file\"\npath = \"ledger.toml\"\n[storage]\npath = \"recon.db\"\n\
             [[exchanges]]\nname = \"cb\"\nkind = \"coinbase\"\nbase_url = \"http://{}\"\n\
             api_key_env = \"RECON_BENCH_CB_KEY\"\napi_secret_env = \"RECON_BENCH_CB_SECRET\"\n",
            mock.addr
        ),
    )
    .expect("write config");
    let mut ledger = String::from("[cb]\n");
    for (asset, amount) in &totals {
        ledger.push_str(&format!("{asset} = \"{amount}\"\n"));
    }
    std::fs::write(dir.join("ledger.toml"), ledger).expect("write ledger");

    // The first run creates the database and proves the path: 600 rows in 3 pages, clean.
    let out = command(dir, &pem, true).output().expect("run recon once");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("recon once --format json prints JSON");
    let cb = &report["exchanges"][0];
    assert_eq!(
        (
            cb["status"].as_str(),
            cb["pages"].as_u64(),
            cb["rows"].as_u64()
        ),
        (Some("ok"), Some(3), Some(600)),
        "{report}"
    );
    assert_eq!(report["status"], "reconciled", "{report}");
    assert_eq!(out.status.code(), Some(0));
    mock.take();

    (0..runs)
        .map(|_| {
            let (wall, peak_rss_kib, code) =
                run_child(command(dir, &pem, false), &dir.join("figures"));
            let seen = mock.take();
            assert_eq!(code, 0, "recon once exit code");
            assert_eq!(seen.requests, 3, "three pages, one request each");
            let mut tokens = seen.bearer.clone();
            tokens.sort();
            tokens.dedup();
            assert_eq!(tokens.len(), 3, "a fresh JWT per request");
            Run {
                wall,
                serving: seen.serving,
                peak_rss_kib,
            }
        })
        .collect()
}
