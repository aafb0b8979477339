//! Snoozed acknowledgements (SPEC §2, `recon ack --for DURATION`): the real binary in a
//! temp dir. A snoozed ack hides the gap until its deadline; the first cycle after it
//! lapses the ack (`acknowledgement_expired`), the gap counts again, the chain verifies.

use assert_cmd::Command as Bin;

struct Dir(tempfile::TempDir);

impl Dir {
    /// Exchange x holds 0.9 BTC, the ledger says 1: a −0.1 gap after one `once`.
    fn with_gap() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\" }\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("ledger.toml"), "[x]\nBTC = \"1\"\n").unwrap();
        let d = Self(dir);
        assert_eq!(d.run(&["once"]).0, 2);
        d
    }

    /// (exit code, stdout, stderr)
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Bin::cargo_bin("recon")
            .unwrap()
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
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

    /// Every audit entry, oldest first.
    fn audit(&self) -> Vec<serde_json::Value> {
        let (code, out, _) = self.run(&["audit", "--format", "json", "--limit", "1000"]);
        assert_eq!(code, 0);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut entries = v.as_array().unwrap().clone();
        entries.reverse();
        entries
    }

    /// The one discrepancy of `once --format json`, with the exit code.
    fn once_json(&self) -> (i32, serde_json::Value) {
        let (code, out, _) = self.run(&["once", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let list = v["discrepancies"].as_array().unwrap();
        assert_eq!(list.len(), 1, "{v}");
        (code, list[0].clone())
    }
}

fn detail(entry: &serde_json::Value) -> serde_json::Value {
    assert!(entry["detail"].is_object(), "{entry}");
    entry["detail"].clone()
}

#[test]
fn a_snoozed_ack_hides_the_gap_until_its_deadline_then_lapses_and_the_gap_counts_again() {
    let dir = Dir::with_gap();
    let (code, out, err) = dir.run(&["ack", "x:BTC", "--for", "1s", "--by", "alice"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with("acknowledged x:BTC (critical mismatch, difference -0.1) by alice until "),
        "{out}"
    );
    let acked = dir.audit();
    let ack = acked
        .iter()
        .find(|e| e["event"] == "discrepancy_acknowledged")
        .expect("the ack is audited");
    let ack_detail = detail(ack);
    let expires = ack_detail["expires_at"]
        .as_str()
        .expect("expires_at")
        .to_string();
    let at = chrono::DateTime::parse_from_rfc3339(ack["at"].as_str().unwrap()).unwrap();
    let deadline = chrono::DateTime::parse_from_rfc3339(&expires).unwrap();
    assert_eq!((deadline - at).num_milliseconds(), 1000);
    assert_eq!(
        expires.len(),
        "2026-01-01T00:00:00.000Z".len(),
        "RFC 3339 ms"
    );

    // Before the deadline (a second is long enough for one `once`): hidden.
    let (code, d) = dir.once_json();
    if chrono::Utc::now() < deadline {
        assert_eq!(code, 0, "{d}");
        assert_eq!(d["acknowledged"], true);
        assert_eq!(d["ack_expires_at"], serde_json::json!(expires));
    }

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, d) = dir.once_json();
    assert_eq!(code, 2, "the lapsed ack no longer hides the gap: {d}");
    assert_eq!(d["acknowledged"], false);
    assert!(d.get("ack_expires_at").is_none_or(|v| v.is_null()));
    let entries = dir.audit();
    let lapsed: Vec<_> = entries
        .iter()
        .filter(|e| e["event"] == "acknowledgement_expired")
        .collect();
    assert_eq!(lapsed.len(), 1, "lapses once");
    assert_eq!(lapsed[0]["subject"], "x:BTC");
    let lapsed = detail(lapsed[0]);
    assert_eq!(lapsed["id"], "x:BTC");
    assert_eq!(lapsed["by"], "alice");
    assert_eq!(lapsed["acknowledged_at"], ack["at"]);
    assert_eq!(lapsed["expires_at"], serde_json::json!(expires));

    // Nothing lapses twice; the chain is intact.
    assert_eq!(dir.run(&["once"]).0, 2);
    assert_eq!(
        dir.audit()
            .iter()
            .filter(|e| e["event"] == "acknowledgement_expired")
            .count(),
        1
    );
    assert_eq!(dir.run(&["audit", "verify"]).0, 0);
}

#[test]
fn an_ack_without_for_never_lapses_and_reports_a_null_deadline() {
    let dir = Dir::with_gap();
    assert_eq!(dir.run(&["ack", "x:BTC", "--by", "alice"]).0, 0);
    let (code, d) = dir.once_json();
    assert_eq!(code, 0);
    assert_eq!(d["acknowledged"], true);
    assert_eq!(d["ack_expires_at"], serde_json::Value::Null);
    let ack = dir
        .audit()
        .into_iter()
        .find(|e| e["event"] == "discrepancy_acknowledged")
        .unwrap();
    assert_eq!(detail(&ack)["expires_at"], serde_json::Value::Null);
}

#[test]
fn the_table_shows_until_when_an_ack_is_snoozed() {
    let dir = Dir::with_gap();
    assert_eq!(
        dir.run(&["ack", "x:BTC", "--for", "2h", "--by", "alice"]).0,
        0
    );
    let (code, out, _) = dir.run(&["once"]);
    assert_eq!(code, 0);
    assert!(out.contains("acked by alice until "), "{out}");
}

#[test]
fn bad_durations_are_one_line_naming_for_and_write_nothing() {
    let dir = Dir::with_gap();
    let before = dir.audit().len();
    for bad in [
        "0s",
        "10",
        "1w",
        "31d",
        "-5m",
        "1.5h",
        "",
        "m",
        "99999999999999999999d",
    ] {
        let (code, out, err) = dir.run(&["ack", "x:BTC", "--for", bad]);
        assert_eq!(code, 1, "{bad:?}");
        assert_eq!(out, "", "{bad:?}");
        assert!(err.starts_with("recon: ack: --for "), "{bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{bad:?}: {err}");
        assert!(err.ends_with('\n'), "{bad:?}");
    }
    assert_eq!(
        dir.run(&["ack", "x:BTC", "--for", "1w"]).2,
        "recon: ack: --for '1w' is not a duration: use a positive whole number and one unit s, m, h or d (90s, 15m, 2h, 1d)\n"
    );
    assert_eq!(
        dir.run(&["ack", "x:BTC", "--for", "31d"]).2,
        "recon: ack: --for '31d' is longer than the 30-day maximum\n"
    );
    assert_eq!(dir.audit().len(), before, "nothing written");
    assert_eq!(dir.run(&["once"]).0, 2, "still counted");
}

#[test]
fn the_longest_snooze_is_accepted() {
    let dir = Dir::with_gap();
    assert_eq!(dir.run(&["ack", "x:BTC", "--for", "30d"]).0, 0);
    assert_eq!(dir.run(&["once"]).0, 0);
}

#[test]
fn a_schema_3_database_gains_the_snooze_columns_and_keeps_its_acks_without_a_deadline() {
    let dir = Dir::with_gap();
    assert_eq!(dir.run(&["ack", "x:BTC", "--by", "alice"]).0, 0);
    // Back to schema 3, as an older build left it.
    let db = dir.0.path().join("recon.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "ALTER TABLE acknowledgements DROP COLUMN expires_at;
             ALTER TABLE discrepancies DROP COLUMN ack_expires_at;
             DROP TABLE expectation_marks;
             DROP TABLE expectations;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    let (code, d) = dir.once_json();
    assert_eq!(code, 0, "the old ack still holds: {d}");
    assert_eq!(d["ack_expires_at"], serde_json::Value::Null);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 5);
    assert_eq!(dir.run(&["audit", "verify"]).0, 0);
}
