//! Movements in flight (SPEC §1 `recon expect`, §2 expectations, §3 state/expected/
//! residual): the real binary in a temp dir, a simulated exchange with exact balances and
//! a ledger file rewritten between runs, as a position manager would.

use assert_cmd::Command as Bin;
use serde_json::Value;

struct Dir(tempfile::TempDir);

impl Dir {
    /// Exchange x holds `btc` BTC; the ledger is written by [`Dir::ledger`].
    fn new(btc: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {{ BTC = \"{btc}\", ETH = \"5\" }}\n"
            ),
        )
        .unwrap();
        let d = Self(dir);
        d.ledger("1");
        d
    }

    fn ledger(&self, btc: &str) {
        std::fs::write(
            self.0.path().join("ledger.toml"),
            format!("[x]\nBTC = \"{btc}\"\nETH = \"5\"\n"),
        )
        .unwrap();
    }

    /// (exit code, stdout, stderr)
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Bin::cargo_bin("recon")
            .unwrap()
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("USER", "alice")
            .arg("--config")
            .arg(self.0.path().join("config.toml"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// `once --format json`: exit code and report.
    fn once(&self) -> (i32, Value) {
        let (code, out, err) = self.run(&["once", "--format", "json"]);
        assert_eq!(err, "", "once wrote to stderr");
        (code, serde_json::from_str(&out).unwrap())
    }

    /// Audit event names, oldest first.
    fn events(&self) -> Vec<String> {
        let (code, out, _) = self.run(&["audit", "--format", "json", "--limit", "1000"]);
        assert_eq!(code, 0);
        let v: Value = serde_json::from_str(&out).unwrap();
        let mut names: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect();
        names.reverse();
        names
    }

    fn expectation_events(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|e| e.starts_with("expectation_"))
            .collect()
    }

    fn list(&self) -> Vec<Value> {
        let (code, out, err) = self.run(&["expect", "list", "--format", "json"]);
        assert_eq!((code, err.as_str()), (0, ""));
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn db_bytes(&self) -> Vec<u8> {
        // The WAL holds recent commits: compare both.
        let mut b = std::fs::read(self.0.path().join("recon.db")).unwrap_or_default();
        b.extend(std::fs::read(self.0.path().join("recon.db-wal")).unwrap_or_default());
        b
    }
}

fn only(report: &Value) -> Value {
    let list = report["discrepancies"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{report}");
    list[0].clone()
}

#[test]
fn a_withdrawal_declared_before_the_gap_appears_is_explained_then_settled_when_the_ledger_catches_up(
) {
    // The exchange still holds 1 BTC; nothing differs yet.
    let dir = Dir::new("1");
    assert_eq!(dir.once().0, 0);
    // The desk starts a 0.1 BTC withdrawal and declares it before booking it.
    let (code, out, err) = dir.run(&[
        "expect",
        "x:BTC",
        "0.1",
        "--for",
        "2h",
        "--note",
        "withdrawal 0x3f",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with("expectation 1 on x:BTC: difference 0.1 expected until "),
        "{out}"
    );
    // No gap yet: the expectation waits, nothing is reported, nothing settles.
    let (code, report) = dir.once();
    assert_eq!(code, 0);
    assert_eq!(report["discrepancies"], serde_json::json!([]));
    assert_eq!(dir.list()[0]["state"], "waiting");
    // The ledger books the withdrawal; the exchange has not settled it.
    dir.ledger("0.9");
    let (code, report) = dir.once();
    assert_eq!(code, 0, "an explained gap does not count: {report}");
    assert_eq!(report["status"], "reconciled");
    let d = only(&report);
    assert_eq!(d["state"], "explained");
    assert_eq!(d["difference"], "0.1");
    assert_eq!(d["expected"], "0.1");
    assert_eq!(d["residual"], "0");
    assert_eq!(d["expectations"][0]["id"], 1);
    assert_eq!(d["expectations"][0]["difference"], "0.1");
    assert_eq!(d["expectations"][0]["by"], "alice");
    assert_eq!(d["expectations"][0]["note"], "withdrawal 0x3f");
    assert_eq!(dir.list()[0]["state"], "engaged");
    // The exchange settles: the gap resolves, and with it the expectation.
    std::fs::write(
        dir.0.path().join("config.toml"),
        "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\", ETH = \"5\" }\n",
    )
    .unwrap();
    let (code, report) = dir.once();
    assert_eq!(
        (code, &report["discrepancies"]),
        (0, &serde_json::json!([]))
    );
    assert_eq!(dir.list(), Vec::<Value>::new());
    assert_eq!(
        dir.expectation_events(),
        vec!["expectation_added", "expectation_settled"]
    );
    assert_eq!(dir.run(&["audit", "verify"]).0, 0);
}

#[test]
fn an_expectation_that_expires_reopens_the_gap_and_the_exit_code_goes_back_to_2() {
    let dir = Dir::new("1.1");
    let (code, report) = dir.once();
    assert_eq!((code, only(&report)["state"].as_str()), (2, Some("open")));
    assert_eq!(dir.run(&["expect", "x:BTC", "0.1", "--for", "1s"]).0, 0);
    let (code, report) = dir.once();
    assert_eq!(code, 0);
    assert_eq!(only(&report)["state"], "explained");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, report) = dir.once();
    assert_eq!(code, 2, "the gap counts again: {report}");
    let d = only(&report);
    assert_eq!(d["state"], "open");
    assert_eq!(d["severity"], "critical");
    assert_eq!(d["expected"], "0");
    assert_eq!(d["residual"], "0.1");
    assert_eq!(d["expectations"], serde_json::json!([]));
    assert_eq!(
        dir.expectation_events(),
        vec!["expectation_added", "expectation_expired"]
    );
    assert_eq!(dir.list(), Vec::<Value>::new());
}

#[test]
fn a_partial_arrival_leaves_a_counted_residual_rated_on_the_residual() {
    // A 10 BTC deposit in flight to the ledger's side: exchange 100.01 vs ledger 110 →
    // difference −9.99 of an expected −10; the residual 0.01 is within the tolerance
    // bound of the gap itself (0.0001 × 110 = 0.011).
    let dir = Dir::new("100.01");
    dir.ledger("110");
    assert_eq!(dir.run(&["expect", "x:BTC", "-10"]).0, 0);
    let (code, report) = dir.once();
    let d = only(&report);
    assert_eq!(d["difference"], "-9.99");
    assert_eq!(d["expected"], "-10");
    assert_eq!(d["residual"], "0.01");
    assert_eq!(d["state"], "explained", "{d}");
    assert_eq!(code, 0);
    // Only 9 of the 10 are accounted for: residual 1 of 110 → 0.0090909… relative: medium,
    // counted.
    std::fs::write(
        dir.0.path().join("config.toml"),
        "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = { BTC = \"101\", ETH = \"5\" }\n",
    )
    .unwrap();
    let (code, report) = dir.once();
    let d = only(&report);
    assert_eq!(d["difference"], "-9");
    assert_eq!(d["residual"], "1");
    assert_eq!(d["state"], "open");
    assert_eq!(d["severity"], "medium");
    assert_eq!(report["worst_severity"], "medium");
    assert_eq!(code, 1);
}

#[test]
fn expectations_on_one_id_add_up() {
    let dir = Dir::new("1.3");
    assert_eq!(dir.run(&["expect", "x:BTC", "0.1"]).0, 0);
    assert_eq!(dir.run(&["expect", "x:BTC", "0.2"]).0, 0);
    let (code, report) = dir.once();
    let d = only(&report);
    assert_eq!(
        (d["expected"].as_str(), d["residual"].as_str()),
        (Some("0.3"), Some("0"))
    );
    assert_eq!(d["state"], "explained");
    assert_eq!(code, 0);
}

#[test]
fn cancel_withdraws_an_expectation_and_the_gap_counts_again() {
    let dir = Dir::new("1.1");
    assert_eq!(dir.run(&["expect", "x:BTC", "0.1"]).0, 0);
    assert_eq!(dir.once().0, 0);
    let (code, out, err) = dir.run(&["expect", "cancel", "1", "--note", "wrong amount"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "cancelled expectation 1 on x:BTC (difference 0.1) by alice\n"
    );
    let (code, report) = dir.once();
    assert_eq!((code, only(&report)["state"].as_str()), (2, Some("open")));
    let (code, _, err) = dir.run(&["expect", "cancel", "1"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("recon: expectation 1 is no longer active: cancelled at "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    let (code, _, err) = dir.run(&["expect", "cancel", "42"]);
    assert_eq!((code, err.as_str()), (1, "recon: no expectation 42\n"));
    assert_eq!(
        dir.expectation_events(),
        vec!["expectation_added", "expectation_cancelled"]
    );
}

#[test]
fn bad_inputs_give_one_line_and_change_nothing_in_the_database() {
    let dir = Dir::new("1.1");
    assert_eq!(dir.once().0, 2);
    let before = dir.db_bytes();
    let cases: &[(&[&str], &str)] = &[
        (
            &["expect", "nope:BTC", "0.1"],
            "recon: expect: no exchange named 'nope' in the configuration\n",
        ),
        (
            &["expect", "x:BTC", "0"],
            "recon: expect: DIFFERENCE must not be zero (it is the expected exchange − ledger, e.g. 0.1 for a withdrawal the exchange has not settled)\n",
        ),
        (
            &["expect", "x:BTC", "1e-1"],
            "recon: expect: DIFFERENCE '1e-1' is not a decimal amount\n",
        ),
        (
            &["expect", "x:BTC", "0.1", "--for", "31d"],
            "recon: expect: --for '31d' is longer than the 30-day maximum\n",
        ),
        (
            &["expect", "x:BTC", "0.1", "--for", "1h30m"],
            "recon: expect: --for '1h30m' is not a duration: use a positive whole number and one unit s, m, h or d (90s, 15m, 2h, 1d)\n",
        ),
        (
            &["expect", "x:BTC", "0.1", "--note", "a\nb"],
            "recon: expect: --note must not contain control characters (found \\n); write it on one line\n",
        ),
        (
            &["expect", "BTC", "0.1"],
            "recon: expect: 'BTC' is not of the form <exchange>:<asset>\n",
        ),
    ];
    for (args, message) in cases {
        let (code, out, err) = dir.run(args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (1, "", *message),
            "{args:?}"
        );
    }
    // A missing argument is a usage error (clap's 2), also one message.
    let (code, _, err) = dir.run(&["expect", "x:BTC"]);
    assert_eq!(code, 2);
    assert!(err.contains("<DIFFERENCE>"), "{err}");
    assert_eq!(dir.db_bytes(), before, "nothing was written");
    assert_eq!(dir.list(), Vec::<Value>::new());
}

#[test]
fn the_table_output_shows_state_expected_and_residual() {
    let dir = Dir::new("1.1");
    assert_eq!(dir.run(&["expect", "x:BTC", "0.1", "--note", "wd"]).0, 0);
    let (code, out, _) = dir.run(&["once"]);
    assert_eq!(code, 0);
    let header = out
        .lines()
        .find(|l| l.starts_with("SEVERITY"))
        .expect("a discrepancy table");
    assert!(
        header.contains("STATE") && header.contains("EXPECTED") && header.contains("RESIDUAL"),
        "{header}"
    );
    let row = out.lines().find(|l| l.contains("x:BTC")).unwrap();
    assert!(row.contains("⇄ explained"), "{row}");
    assert!(row.contains("expect #1 by alice until "), "{row}");
    let (code, out, _) = dir.run(&["expect", "list"]);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["#", "ID", "EXPECTED", "STATE", "EXPIRES", "BY", "NOTE"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[1], row[2], row[3], row[5], row[6]),
        ("1", "x:BTC", "0.1", "engaged", "alice", "wd")
    );
}

#[test]
fn audit_verify_notices_an_expectation_whose_entry_was_cut_from_the_end() {
    let dir = Dir::new("1.1");
    assert_eq!(dir.once().0, 2);
    assert_eq!(dir.run(&["expect", "x:BTC", "0.1"]).0, 0);
    assert_eq!(dir.run(&["audit", "verify"]).0, 0);
    {
        let conn = rusqlite::Connection::open(dir.0.path().join("recon.db")).unwrap();
        conn.execute_batch(
            "DROP TRIGGER audit_log_no_delete;
             DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log);",
        )
        .unwrap();
    }
    let (code, out, _) = dir.run(&["audit", "verify"]);
    assert_eq!(code, 1);
    assert!(
        out.ends_with(
            ": entry missing: expectation 1 has no expectation_added entry (entries removed from the end?)\n"
        ),
        "{out}"
    );
}
