//! `recon::headless::run` inside this test process (its own binary: the signal handlers it
//! installs are process-wide): SIGHUP reloads, SIGTERM ends it with `Ok`, and the audit
//! trail tells the whole story.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use recon::config::TradingConfig;
use recon::headless::{run, Options};
use recon::store::audit::ChainStatus;
use recon::store::ReconciliationRepository;

fn config(interval: &str) -> String {
    format!(
        "[reconciliation]\ninterval_secs = {interval}\n[ledger]\npath = \"ledger.toml\"\n\
         [storage]\npath = \"recon.db\"\n[logging]\ndir = \"logs\"\n\
         [[exchanges]]\nname = \"x\"\nkind = \"simulated\"\nbalances = {{ BTC = \"1.4\" }}\n"
    )
}

/// Audit events, oldest first (read-only: the daemon keeps writing).
fn events(db: &Path) -> Vec<String> {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT event FROM audit_log ORDER BY seq") else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get(0))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

async fn wait_for(db: &Path, what: &str, n: usize) {
    let until = Instant::now() + Duration::from_secs(15);
    while events(db).iter().filter(|e| *e == what).count() < n {
        assert!(Instant::now() < until, "no {n} × {what}: {:?}", events(db));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn kill(signal: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(std::process::id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_sigterm_ends_the_daemon_cleanly_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config("0.05")).unwrap();
    std::fs::write(dir.path().join("ledger.toml"), "[x]\nBTC = \"1.5\"\n").unwrap();
    let db = dir.path().join("recon.db");
    let cfg = Arc::new(TradingConfig::load(&path).unwrap());
    let daemon = tokio::spawn(run(cfg, Options::default()));

    wait_for(&db, "cycle_completed", 2).await;
    std::fs::write(&path, config("0.1")).unwrap();
    kill("HUP");
    wait_for(&db, "config_reloaded", 1).await;
    std::fs::write(&path, "[reconciliation]\ninterval_secs = -1\n").unwrap();
    kill("HUP");
    wait_for(&db, "cycle_completed", 4).await;
    kill("TERM");
    let result = tokio::time::timeout(Duration::from_secs(5), daemon)
        .await
        .expect("stops within 5 s")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");

    let all = events(&db);
    assert_eq!(&all[..2], ["startup", "config_loaded"]);
    assert_eq!(all.last().map(String::as_str), Some("shutdown"));
    assert_eq!(
        all.iter().filter(|e| *e == "config_reloaded").count(),
        1,
        "the broken file was not applied: {all:?}"
    );
    let repo = ReconciliationRepository::open_existing(&db).unwrap();
    assert!(matches!(
        repo.verify_audit().unwrap(),
        ChainStatus::Intact { .. }
    ));
}
