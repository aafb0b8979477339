//! `recon unack <exchange>:<asset>` (SPEC §1, §6; issue 14): the real binary in a temp
//! dir. Withdrawing an acknowledgement makes the gap count again (exit code of `once`),
//! is audited as `acknowledgement_withdrawn`, and the chain verifies; refusals write
//! nothing.

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
            .env("USER", "carol")
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

fn events(entries: &[serde_json::Value], name: &str) -> Vec<serde_json::Value> {
    entries
        .iter()
        .filter(|e| e["event"] == name)
        .cloned()
        .collect()
}

#[test]
fn unack_withdraws_the_acknowledgement_and_the_gap_counts_again() {
    let dir = Dir::with_gap();
    assert_eq!(
        dir.run(&["ack", "x:BTC", "--by", "alice", "--note", "known"])
            .0,
        0
    );
    let (code, d) = dir.once_json();
    assert_eq!((code, d["acknowledged"].clone()), (0, true.into()));
    let ack_at = d["acknowledged_at"].clone();

    let (code, out, err) = dir.run(&["unack", "x:BTC", "--by", "bob", "--note", "not settled"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "withdrew the acknowledgement of x:BTC (by bob)\n", "")
    );

    let (code, d) = dir.once_json();
    assert_eq!(code, 2, "the gap counts again: {d}");
    assert_eq!(d["acknowledged"], false);
    for field in [
        "acknowledged_by",
        "ack_note",
        "acknowledged_at",
        "acknowledged_difference",
        "ack_expires_at",
    ] {
        assert!(d.get(field).is_none(), "{field} in {d}");
    }

    let entries = dir.audit();
    let withdrawn = events(&entries, "acknowledgement_withdrawn");
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0]["subject"], "x:BTC");
    assert_eq!(
        withdrawn[0]["detail"],
        serde_json::json!({
            "by": "bob",
            "note": "not settled",
            "acknowledged_by": "alice",
            "acknowledged_at": ack_at,
            "acknowledged_difference": "-0.1",
        })
    );
    // The next cycle does not resurrect it, and the chain (with the kept
    // acknowledgements history) verifies.
    assert_eq!(dir.run(&["once"]).0, 2);
    assert_eq!(dir.run(&["audit", "verify"]).0, 0);
    // It can be acknowledged again.
    assert_eq!(dir.run(&["ack", "x:BTC"]).0, 0);
    assert_eq!(dir.run(&["once"]).0, 0);
}

#[test]
fn unack_defaults_by_to_the_user_like_ack() {
    let dir = Dir::with_gap();
    assert_eq!(dir.run(&["ack", "x:BTC"]).0, 0);
    let (code, out, _) = dir.run(&["unack", "x:BTC"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "withdrew the acknowledgement of x:BTC (by carol)\n")
    );
    let withdrawn = events(&dir.audit(), "acknowledgement_withdrawn");
    assert_eq!(withdrawn[0]["detail"]["by"], "carol");
    assert_eq!(withdrawn[0]["detail"]["note"], "");
}

#[test]
fn unack_of_a_gap_not_acknowledged_or_unknown_fails_one_line_and_writes_nothing() {
    let dir = Dir::with_gap();
    let before = dir.audit().len();
    let cases: [(&[&str], &str); 4] = [
        (&["unack", "x:BTC"], "x:BTC is not acknowledged\n"),
        (&["unack", "x:ETH"], "no open discrepancy 'x:ETH'\n"),
        (
            &["unack", "nowhere:BTC"],
            "unack: no exchange named 'nowhere' in the configuration\n",
        ),
        (
            &["unack", "x:BTC", "--note", "line\nfake row"],
            "unack: --note must not contain control characters (found \\n); write it on one line\n",
        ),
    ];
    for (args, message) in cases {
        let (code, out, err) = dir.run(args);
        assert_eq!((code, out.as_str()), (1, ""), "{args:?}");
        assert!(err.ends_with(message), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    assert_eq!(dir.audit().len(), before);
    assert_eq!(dir.run(&["once"]).0, 2);
}

#[test]
fn unack_refuses_control_characters_in_by_and_keeps_the_ack() {
    let dir = Dir::with_gap();
    assert_eq!(dir.run(&["ack", "x:BTC"]).0, 0);
    let before = dir.audit().len();
    let (code, _, err) = dir.run(&["unack", "x:BTC", "--by", "bob\u{1b}[2J"]);
    assert_eq!(code, 1);
    assert!(
        err.ends_with(
            "unack: --by must not contain control characters (found \\x1b); write it on one line\n"
        ),
        "{err}"
    );
    assert_eq!(dir.audit().len(), before);
    assert_eq!(dir.run(&["once"]).0, 0, "still acknowledged");
}
