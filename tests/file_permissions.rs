//! Balances and notes are private (SPEC §6): the real binary, run under a permissive
//! umask (022), creates the database and its WAL/SHM files 0600, the log directory 0700
//! and log files 0600; files that already exist keep their modes, with a warning when
//! others may read them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("config.toml"),
            "[storage]\npath = \"data/recon.db\"\n[logging]\ndir = \"var/logs\"\n\
             [[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\" }\n",
        )
        .unwrap();
        std::fs::write(d.path().join("ledger.toml"), "[a]\nBTC = \"1\"\n").unwrap();
        Self(d)
    }

    fn db(&self) -> PathBuf {
        self.0.path().join("data/recon.db")
    }

    fn logs(&self) -> PathBuf {
        self.0.path().join("var/logs")
    }

    /// `sh -c 'umask 022; exec recon --config … <args>' < /dev/null`.
    fn recon(&self, args: &[&str]) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg("umask 022; exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_recon"))
            .arg("--config")
            .arg(self.0.path().join("config.toml"))
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
}

#[test]
fn the_database_and_its_wal_and_shm_are_created_0600_under_umask_022() {
    let dir = Dir::new();
    let out = dir.recon(&["once"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&dir.db()), 0o600);
    assert_eq!(mode(dir.db().parent().unwrap()), 0o700, "its new directory");
    // SQLite removes -wal and -shm when the last connection closes; keep one open (with
    // a write, so both exist) and look at the modes they got: the database file's.
    let conn = rusqlite::Connection::open(dir.db()).unwrap();
    conn.execute_batch("CREATE TEMP TABLE t (x); SELECT COUNT(*) FROM cycles;")
        .unwrap();
    let mode_now: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode_now, "wal");
    let before: i64 = conn
        .query_row("SELECT COUNT(*) FROM cycles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(before, 1);
    // While this connection holds the files, the binary writes another cycle through them.
    let out = dir.recon(&["once"]);
    assert_eq!(out.status.code(), Some(2));
    for suffix in ["-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", dir.db().display()));
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    drop(conn);
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "no warning for private files: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_log_directory_is_created_0700_and_log_files_0600_under_umask_022() {
    let dir = Dir::new();
    // Without a terminal the console stops with an error, after setting up its log file.
    let out = dir.recon(&["tui"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(mode(&dir.logs()), 0o700);
    assert_eq!(mode(dir.logs().parent().unwrap()), 0o700);
    let files: Vec<PathBuf> = std::fs::read_dir(dir.logs())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode(&files[0]), 0o600, "{}", files[0].display());
}

#[test]
fn an_existing_database_readable_by_others_keeps_its_mode_with_a_warning() {
    let dir = Dir::new();
    assert_eq!(dir.recon(&["once"]).status.code(), Some(2));
    std::fs::set_permissions(dir.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = dir.recon(&["once"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let warning = format!(
        "database {} is readable by others (mode 644); recon creates it 600: chmod 600 it",
        dir.db().display()
    );
    assert_eq!(
        stderr.lines().filter(|l| l.contains(&warning)).count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert_eq!(mode(&dir.db()), 0o644, "left as it was");
}

#[test]
fn an_existing_log_directory_and_file_readable_by_others_are_warned_about_in_the_log() {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.logs()).unwrap();
    std::fs::set_permissions(dir.logs(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let file = dir.logs().join(format!("recon.{day}.log"));
    std::fs::write(&file, "").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(dir.recon(&["tui"]).status.code(), Some(1));
    assert_eq!((mode(&dir.logs()), mode(&file)), (0o755, 0o644));
    let text = std::fs::read_to_string(&file).unwrap();
    for expected in [
        format!(
            "log directory {} is readable by others (mode 755); recon creates it 700: chmod 700 it",
            dir.logs().display()
        ),
        format!(
            "log file {} is readable by others (mode 644); recon creates it 600: chmod 600 it",
            file.display()
        ),
    ] {
        assert!(text.contains(&expected), "{expected}\nin:\n{text}");
    }
}
