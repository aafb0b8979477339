//! The acknowledgement guard (SPEC §2): an acknowledgement records the gap the person saw.
//! The console's prompt against the real actor and SQLite store, with a cycle committing
//! between `a` and Enter; and `recon ack --difference` with the real binary.

mod common;

use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command as Bin;
use chrono::Utc;
use common::{d, holdings, rig, sim};
use recon::engine::{ReconciliationActor, ReconciliationHandle};
use recon::exchanges::simulated::SimulatedExchange;
use recon::exchanges::ExchangeClient;
use recon::store::thread::{StoreHandle, StoreThread};
use recon::store::StoreError;
use recon::tui::keys::Command;
use recon::tui::{effects, Action, App};

/// A paused engine on x (ledger BTC 1.5, exchange 1.4: a −0.1 gap, allowed 0.00015), its
/// simulated exchange, and a console whose `a` prompt is open on that gap with a note.
struct Setup {
    dir: tempfile::TempDir,
    store: StoreHandle,
    store_thread: StoreThread,
    exchange: Arc<SimulatedExchange>,
    handle: ReconciliationHandle,
    actor: tokio::task::JoinHandle<()>,
    app: App,
}

async fn prompt_open_on_a_gap_of_minus_0_1() -> Setup {
    let mut exchange = None;
    let common::Rig {
        dir,
        service,
        store,
        thread,
        ..
    } = rig("", "[x]\nBTC = \"1.5\"\n", &["x"], |cfg| {
        let s = sim("x", &[("BTC", "1.4")], cfg);
        exchange = Some(s.clone());
        vec![s as Arc<dyn ExchangeClient>]
    });
    let (handle, actor) = ReconciliationActor::spawn(
        service,
        store.clone(),
        Duration::from_secs(3600),
        true,
        vec![],
    );
    handle.reconcile_now().await.unwrap();
    let mut app = App::new(Vec::new(), 0, "alice".into(), Utc::now());
    app.update(Action::Resize(120, 40));
    let view = handle.view().borrow().clone();
    app.update(Action::Engine(view, Utc::now()));
    assert_eq!(app.update(Action::Command(Command::Acknowledge)), None);
    let prompt = app.prompt.as_ref().expect("the prompt is open");
    assert_eq!(
        (prompt.id.as_str(), prompt.difference),
        ("x:BTC", d("-0.1"))
    );
    for c in "checked with the desk".chars() {
        app.update(Action::Input(c));
    }
    Setup {
        dir,
        store,
        store_thread: thread,
        exchange: exchange.unwrap(),
        handle,
        actor,
        app,
    }
}

impl Setup {
    /// Enter: the effect the app returns, run against the real engine, its outcome fed
    /// back. Returns the notice shown.
    async fn confirm(&mut self) -> (String, bool) {
        let effect = self
            .app
            .update(Action::Command(Command::Confirm))
            .expect("Enter asks the engine to acknowledge");
        let outcome = effects::run(effect, &self.handle)
            .await
            .expect("the outcome comes back");
        self.app.update(outcome);
        let n = self.app.notice.clone().expect("a notice");
        (n.text, n.error)
    }

    async fn cycle_with_ledger(&self, btc: &str) {
        std::fs::write(
            self.dir.path().join("ledger.toml"),
            format!("[x]\nBTC = \"{btc}\"\n"),
        )
        .unwrap();
        self.handle.reconcile_now().await.unwrap();
    }

    /// (event, subject, detail) of every audit entry, oldest first.
    async fn audit(&self) -> Vec<(String, Option<String>, serde_json::Value)> {
        let mut page = self.handle.audit_page(None, 1000).await.unwrap();
        page.reverse();
        page.into_iter()
            .map(|e| (e.event, e.subject, serde_json::from_str(&e.detail).unwrap()))
            .collect()
    }

    async fn acks(&self) -> usize {
        self.audit()
            .await
            .iter()
            .filter(|(event, _, _)| event == "discrepancy_acknowledged")
            .count()
    }

    async fn stop(self) {
        self.handle.shutdown().await;
        self.actor.await.unwrap();
        drop(self.handle);
        drop(self.store);
        self.store_thread.join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_that_grew_between_a_and_enter_is_refused_with_the_current_figure() {
    let mut s = prompt_open_on_a_gap_of_minus_0_1().await;
    // While the note is typed, the position manager books 3 BTC more and a cycle commits
    // the −3 gap.
    s.cycle_with_ledger("4.4").await;
    assert_eq!(
        s.confirm().await,
        (
            "not acknowledged: x:BTC is now -3, you saw -0.1".to_string(),
            true
        )
    );
    assert_eq!(s.acks().await, 0, "no discrepancy_acknowledged entry");
    let open = s
        .store
        .call(|repo| repo.open_discrepancies())
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].discrepancy.difference, d("-3"));
    assert_eq!(open[0].discrepancy.acknowledgement, None, "still counts");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_that_changed_sign_between_a_and_enter_is_refused() {
    let mut s = prompt_open_on_a_gap_of_minus_0_1().await;
    s.cycle_with_ledger("1.3").await;
    assert_eq!(
        s.confirm().await,
        (
            "not acknowledged: x:BTC is now 0.1, you saw -0.1".to_string(),
            true
        )
    );
    assert_eq!(s.acks().await, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discrepancy_that_resolved_and_reopened_meanwhile_is_another_episode_and_refused() {
    let mut s = prompt_open_on_a_gap_of_minus_0_1().await;
    s.cycle_with_ledger("1.4").await;
    // Opening times are kept to the millisecond; make sure the next episode's differs.
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.cycle_with_ledger("1.5").await;
    let events: Vec<String> = s.audit().await.into_iter().map(|e| e.0).collect();
    assert!(
        events.ends_with(&[
            "discrepancy_resolved".into(),
            "cycle_completed".into(),
            "discrepancy_opened".into(),
            "cycle_completed".into()
        ]),
        "{events:?}"
    );
    // The very same −0.1 as on screen, but not the gap that was looked at.
    assert_eq!(
        s.confirm().await,
        (
            "not acknowledged: x:BTC resolved and re-opened since you saw it: it is now -0.1, you saw -0.1"
                .to_string(),
            true
        )
    );
    assert_eq!(s.acks().await, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_unchanged_within_tolerance_is_acknowledged_and_records_the_difference_seen() {
    let mut s = prompt_open_on_a_gap_of_minus_0_1().await;
    // Moves by 0.0001 ≤ allowed 0.00015: the same gap.
    s.exchange.set_holdings(holdings(&[("BTC", "1.3999")]));
    s.handle.reconcile_now().await.unwrap();
    assert_eq!(
        s.confirm().await,
        (
            "acknowledged x:BTC by alice: checked with the desk".to_string(),
            false
        )
    );
    let audit = s.audit().await;
    let acks: Vec<_> = audit
        .iter()
        .filter(|(event, _, _)| event == "discrepancy_acknowledged")
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.as_deref(), Some("x:BTC"));
    assert_eq!(acks[0].2["difference"], "-0.1", "the difference seen");
    assert_eq!(acks[0].2["by"], "alice");
    let open = s
        .store
        .call(|repo| repo.open_discrepancies())
        .await
        .unwrap();
    let ack = open[0].discrepancy.acknowledgement.as_ref().unwrap();
    assert_eq!(
        (open[0].discrepancy.difference, ack.difference),
        (d("-0.1001"), d("-0.1"))
    );
    // The acknowledged gap no longer counts.
    let report = s.handle.reconcile_now().await.unwrap();
    assert!(report.discrepancies[0].is_acknowledged());
    assert_eq!(report.exit_code(), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refusal_is_the_stores_one_line_error_through_the_handle() {
    let s = prompt_open_on_a_gap_of_minus_0_1().await;
    s.cycle_with_ledger("4.4").await;
    let err = s
        .handle
        .acknowledge(
            recon::domain::ExchangeName::new("x"),
            common::a("BTC"),
            "alice".into(),
            String::new(),
            Some(recon::engine::SeenGap {
                difference: d("-0.1"),
                opened_at: None,
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        recon::error::ReconciliationError::Store(StoreError::Refused(_))
    ));
    assert_eq!(err.to_string(), "x:BTC is now -3, you saw -0.1");
    s.stop().await;
}

// ------------------------------------------------------------ recon ack --difference

struct Dir(tempfile::TempDir);

impl Dir {
    /// Exchange a holds 0.9 BTC, the ledger says 1: a −0.1 gap after one `once`.
    fn with_gap() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\" }\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("ledger.toml"), "[a]\nBTC = \"1\"\n").unwrap();
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

    fn acks(&self) -> usize {
        let (_, out, _) = self.run(&["audit", "--format", "json", "--limit", "1000"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "discrepancy_acknowledged")
            .count()
    }
}

#[test]
fn ack_with_the_difference_seen_is_recorded() {
    let dir = Dir::with_gap();
    assert_eq!(
        dir.run(&["ack", "a:BTC", "--difference", "-0.1", "--by", "alice"]),
        (
            0,
            "acknowledged a:BTC (critical mismatch, difference -0.1) by alice\n".into(),
            String::new()
        )
    );
    assert_eq!(dir.acks(), 1);
    assert_eq!(dir.run(&["once"]).0, 0, "acknowledged: no longer counted");
}

#[test]
fn ack_with_a_difference_that_is_no_longer_there_is_refused_with_the_current_figure() {
    let dir = Dir::with_gap();
    assert_eq!(
        dir.run(&["ack", "a:BTC", "--difference=-0.05", "--by", "alice"]),
        (
            1,
            String::new(),
            "recon: a:BTC is now -0.1, you saw -0.05\n".into()
        )
    );
    assert_eq!(
        dir.run(&["ack", "a:BTC", "--difference", "0.1", "--by", "alice"]),
        (
            1,
            String::new(),
            "recon: a:BTC is now -0.1, you saw 0.1\n".into()
        )
    );
    assert_eq!(dir.acks(), 0);
    assert_eq!(dir.run(&["once"]).0, 2, "still counted");
}

#[test]
fn ack_with_a_difference_that_is_not_an_exact_decimal_is_a_one_line_error() {
    let dir = Dir::with_gap();
    for (bad, shown) in [("1e-3", "1e-3"), ("abc", "abc"), ("-", "-"), ("", "")] {
        assert_eq!(
            dir.run(&["ack", "a:BTC", "--difference", bad]),
            (
                1,
                String::new(),
                format!("recon: ack: --difference '{shown}' is not a decimal amount\n")
            ),
            "{bad:?}"
        );
    }
    assert_eq!(dir.acks(), 0);
}
