//! The real binary's output plumbing: a reader that goes away early (`recon once | head
//! -1`), a full disk (`> /dev/full`), usage errors of `once` (exit 3 for monitoring), and
//! plain (uncoloured) log lines when stderr is not a terminal.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_recon");

/// One simulated exchange `a` holding 0.9 BTC against a ledger of 1: a critical gap, so
/// `once` decides exit 2. Timings fit the cycle budget (no warning on stderr).
const CONFIG: &str =
    "[reconciliation]\nfetch_timeout_ms = 50\n[retry]\nbase_delay_ms = 1\nmax_delay_ms = 5\n\
[[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\" }\n";
const LEDGER: &str = "[a]\nBTC = \"1\"\n";

fn dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("config.toml"), CONFIG).unwrap();
    std::fs::write(d.path().join("ledger.toml"), LEDGER).unwrap();
    d
}

fn recon(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir)
        .arg("--config")
        .arg(dir.join("config.toml"))
        .args(args);
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_panic(out: &Output) {
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert!(!err.contains("RUST_BACKTRACE"), "stderr: {err}");
}

/// Runs with stdout a pipe whose reader closes after reading `read` bytes (0: closed
/// before the command writes anything, so its write meets EPIPE for sure).
fn with_closing_reader(dir: &Path, args: &[&str], read: usize) -> Output {
    let mut child = recon(dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    if read > 0 {
        let mut buf = vec![0u8; read];
        stdout.read_exact(&mut buf).unwrap();
    }
    drop(stdout);
    child.wait_with_output().unwrap()
}

fn to_dev_full(dir: &Path, args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    recon(dir, args).stdout(full).output().unwrap()
}

#[test]
fn once_into_a_pipe_closed_early_ends_quietly_with_the_decided_exit_code() {
    let d = dir();
    for format in ["table", "json"] {
        for read in [0, 1] {
            let out = with_closing_reader(d.path(), &["once", "--format", format], read);
            assert_no_panic(&out);
            assert_eq!(out.status.code(), Some(2), "{format}, read {read}");
            assert_eq!(text(&out.stderr), "", "{format}, read {read}");
        }
    }
}

#[test]
fn audit_and_config_into_a_closed_pipe_exit_zero_without_a_panic() {
    let d = dir();
    // A cycle first, so the audit has entries to print.
    assert_eq!(
        recon(d.path(), &["once"]).output().unwrap().status.code(),
        Some(2)
    );
    for args in [
        &["audit"][..],
        &["audit", "--format", "json"],
        &["audit", "verify"],
        &["config"],
    ] {
        for read in [0, 1] {
            let out = with_closing_reader(d.path(), args, read);
            assert_no_panic(&out);
            assert_eq!(out.status.code(), Some(0), "{args:?}, read {read}");
            assert_eq!(text(&out.stderr), "", "{args:?}, read {read}");
        }
    }
}

const FULL: &str =
    "recon: cannot write the output to stdout: No space left on device (os error 28)\n";

#[test]
fn once_to_a_full_disk_is_unknown_with_one_line_on_stderr() {
    let d = dir();
    for format in ["table", "json"] {
        let out = to_dev_full(d.path(), &["once", "--format", format]);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(3), "{format}");
        assert_eq!(text(&out.stderr), FULL, "{format}");
    }
}

#[test]
fn audit_and_config_to_a_full_disk_exit_one_with_one_line_on_stderr() {
    let d = dir();
    assert_eq!(
        recon(d.path(), &["once"]).output().unwrap().status.code(),
        Some(2)
    );
    for args in [&["audit"][..], &["audit", "verify"], &["config"]] {
        let out = to_dev_full(d.path(), args);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out.stderr), FULL, "{args:?}");
    }
}

#[test]
fn a_usage_error_of_once_is_unknown_not_critical() {
    let d = dir();
    for (args, fragment) in [
        (&["once", "--bogus"][..], "unexpected argument '--bogus'"),
        (&["once", "--format", "xml"], "invalid value 'xml'"),
        (&["once", "extra"], "unexpected argument 'extra'"),
    ] {
        let out = recon(d.path(), args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(fragment), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "clap's own message: {err}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
    // The global option may come after the subcommand.
    let out = Command::new(BIN)
        .current_dir(d.path())
        .args(["once", "--config", "config.toml", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn usage_errors_of_other_commands_keep_clap_s_exit_two() {
    let d = dir();
    for args in [
        &["audit", "--bogus"][..],
        &["audit", "--format", "xml"],
        &["ack"],
        &["config", "--bogus"],
        &["bogus"],
        &["--bogus"],
    ] {
        let out = recon(d.path(), args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).starts_with("error: "), "{args:?}");
    }
}

#[test]
fn help_and_version_still_exit_zero_on_stdout() {
    let d = dir();
    for args in [
        &["--help"][..],
        &["--version"],
        &["once", "--help"],
        &["help", "once"],
        &["audit", "--help"],
    ] {
        let out = recon(d.path(), args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
    let out = recon(d.path(), &["--version"]).output().unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("recon {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_into_a_closed_pipe_does_not_panic() {
    let d = dir();
    let out = with_closing_reader(d.path(), &["--help"], 0);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn log_lines_on_a_captured_stderr_carry_no_colour_codes() {
    let d = dir();
    // A ledger section for an exchange nobody fetches is logged as a warning.
    std::fs::write(
        d.path().join("ledger.toml"),
        "[a]\nBTC = \"1\"\n[zz]\nBTC = \"1\"\n",
    )
    .unwrap();
    let out = recon(d.path(), &["once"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("ledger lists an exchange that is not configured"),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape in captured stderr: {err:?}"
    );
}

#[test]
fn a_closed_stderr_neither_panics_nor_changes_the_exit_code() {
    let d = dir();
    // A warning at start (timings that cannot fit the cycle) and a log line during the
    // cycle (a ledger section nobody fetches), both aimed at a stderr nobody reads.
    std::fs::write(
        d.path().join("config.toml"),
        CONFIG.replace("fetch_timeout_ms = 50", "fetch_timeout_ms = 1000"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("ledger.toml"),
        "[a]\nBTC = \"1\"\n[zz]\nBTC = \"1\"\n",
    )
    .unwrap();
    let mut child = recon(d.path(), &["once", "--format", "json"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["worst_severity"], "critical");
}
