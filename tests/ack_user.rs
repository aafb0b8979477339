//! Who acknowledges (SPEC §1): `--by`, else `$USER`, else the account name of the
//! process's uid — cron, tmux and containers often leave `$USER` unset, and "unknown" in
//! an audit trail answers nothing.

use std::process::Output;

use assert_cmd::Command;

/// The name /etc/passwd gives the uid this test runs as (root in CI).
fn passwd_name_of_current_uid() -> String {
    let uid = nix::unistd::getuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == uid)
        .map(|f| f[0].to_string())
        .expect("the current uid has a passwd entry")
}

fn recon(dir: &std::path::Path, args: &[&str], user: Option<&str>) -> Output {
    let mut c = Command::cargo_bin("recon").unwrap();
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--config")
        .arg(dir.join("config.toml"))
        .args(args);
    if let Some(u) = user {
        c.env("USER", u);
    }
    c.output().unwrap()
}

/// A database with one open discrepancy, a:BTC at −0.1.
fn with_gap() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\" }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("ledger.toml"), "[a]\nBTC = \"1\"\n").unwrap();
    assert_eq!(recon(dir.path(), &["once"], None).status.code(), Some(2));
    dir
}

fn audited_by(dir: &std::path::Path) -> String {
    let out = recon(dir, &["audit", "--format", "json"], None);
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "discrepancy_acknowledged")
        .map(|e| e["detail"]["by"].as_str().unwrap().to_string())
        .expect("an acknowledgement entry")
}

#[test]
fn without_user_the_ack_is_recorded_under_the_account_name_of_the_uid() {
    let dir = with_gap();
    let name = passwd_name_of_current_uid();
    let out = recon(dir.path(), &["ack", "a:BTC"], None);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("acknowledged a:BTC (critical mismatch, difference -0.1) by {name}\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(audited_by(dir.path()), name);
    assert_ne!(name, "unknown");
}

#[test]
fn user_is_preferred_and_by_overrides_both() {
    let dir = with_gap();
    let out = recon(dir.path(), &["ack", "a:BTC"], Some("carol"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(audited_by(dir.path()), "carol");
    let dir = with_gap();
    let out = recon(dir.path(), &["ack", "a:BTC", "--by", "dave"], Some("carol"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(audited_by(dir.path()), "dave");
}
