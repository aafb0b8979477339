//! `logging::init` in a process of its own (it installs the global subscriber): lines go
//! to the daily file in `[logging] dir`, as JSON, and are flushed when the guard drops.

use recon::config::{LogFormat, LoggingConfig};

#[test]
fn logs_go_to_the_daily_file_as_json_and_flush_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LoggingConfig {
        dir: dir.path().join("logs"),
        level: "info".into(),
        format: LogFormat::Json,
    };
    std::env::remove_var("RUST_LOG");
    let guard = recon::logging::init(&cfg, false).unwrap();
    tracing::info!(exchange = "coinbase-main", "fetched");
    tracing::debug!("below the level");
    drop(guard);
    let files: Vec<_> = std::fs::read_dir(&cfg.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("recon.") && name.ends_with(".log"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["fields"]["message"], "fetched");
    assert_eq!(lines[0]["fields"]["exchange"], "coinbase-main");
    assert_eq!(lines[0]["level"], "INFO");
    // A second global logger is refused, not silently ignored.
    assert!(matches!(
        recon::logging::init(&cfg, false),
        Err(recon::logging::LoggingError::AlreadyInstalled)
    ));
}
