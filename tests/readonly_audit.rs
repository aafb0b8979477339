//! `recon audit` and `recon audit verify` are read-only (SPEC §1, §6): they work on a copy
//! of the database that the current user can write neither the file of nor its
//! directory, and say "could not verify" (exit 3) when there is nothing they can verify.
//!
//! Root bypasses file permissions, so as root the binary runs as `nobody` (uid 65534)
//! through `setpriv`; the binary is copied into the (traversable) temp dir for that.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const NOBODY: &str = "65534";

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A copy of the binary that everyone may run, in a directory everyone may enter (made
/// once per test process), for runs as `nobody`: the build directory may not be
/// traversable by that user.
fn shared_binary() -> &'static Path {
    static BIN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let bin = dir.path().join("recon");
        std::fs::copy(env!("CARGO_BIN_EXE_recon"), &bin).unwrap();
        chmod(&bin, 0o755);
        (dir, bin)
    })
    .1
}

/// A temp dir everyone may enter.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        Self { dir }
    }

    /// A directory with a config whose database is `recon.db` beside it.
    fn config_dir(&self, name: &str) -> PathBuf {
        let d = self.dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        chmod(&d, 0o755);
        std::fs::write(
            d.join("config.toml"),
            "[[exchanges]]\nname = \"a\"\nkind = \"simulated\"\nbalances = { BTC = \"0.9\" }\n",
        )
        .unwrap();
        std::fs::write(d.join("ledger.toml"), "[a]\nBTC = \"1\"\n").unwrap();
        chmod(&d.join("config.toml"), 0o644);
        chmod(&d.join("ledger.toml"), 0o644);
        d
    }

    /// `recon --config <dir>/config.toml <args>`, as an unprivileged user when `as_nobody`
    /// (and this process is root): (exit code, stdout, stderr).
    fn recon(&self, dir: &Path, args: &[&str], as_nobody: bool) -> (i32, String, String) {
        let command = || {
            let mut c = if as_nobody && is_root() {
                let mut c = Command::new("setpriv");
                c.args([
                    &format!("--reuid={NOBODY}"),
                    &format!("--regid={NOBODY}"),
                    "--clear-groups",
                ])
                .arg(shared_binary());
                c
            } else {
                Command::new(env!("CARGO_BIN_EXE_recon"))
            };
            c.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", self.dir.path())
                .current_dir(self.dir.path())
                .arg("--config")
                .arg(dir.join("config.toml"))
                .args(args);
            c
        };
        // A test thread forking while the copy was being written may still hold it open
        // for a moment ("text file busy"): try again shortly.
        let mut tries = 0;
        let out = loop {
            match command().output() {
                Err(e) if e.raw_os_error() == Some(26) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.unwrap(),
            }
        };
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }
}

/// The schema version this build writes, read from a database it created.
fn current_version(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn verify_and_listing_work_on_a_read_only_copy_as_a_user_who_cannot_write_it() {
    let sb = Sandbox::new();
    let live = sb.config_dir("live");
    assert_eq!(sb.recon(&live, &["once"], false).0, 2);
    assert_eq!(sb.recon(&live, &["once"], false).0, 2);
    // A consistent copy of the live database with SQLite's backup API, still in WAL mode
    // and without -wal/-shm files beside it; then neither it nor its directory writable.
    let copy = sb.config_dir("copy");
    {
        let src = rusqlite::Connection::open(live.join("recon.db")).unwrap();
        let mut dst = rusqlite::Connection::open(copy.join("recon.db")).unwrap();
        rusqlite::backup::Backup::new(&src, &mut dst)
            .unwrap()
            .run_to_completion(64, std::time::Duration::ZERO, None)
            .unwrap();
        let mode: String = dst
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    assert!(!copy.join("recon.db-shm").exists());
    chmod(&copy.join("recon.db"), 0o444);
    chmod(&copy, 0o555);

    let (code, out, err) = sb.recon(&copy, &["audit", "verify"], true);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(
        out.starts_with("audit trail intact: 9 entries verified; head "),
        "{out}"
    );
    let (code, out, err) = sb.recon(&copy, &["audit", "--format", "json"], true);
    assert_eq!((code, err.as_str()), (0, ""));
    let entries: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 9);
    assert_eq!(entries[0]["event"], "shutdown");
    // Nothing was written beside it, and the copy is byte-for-byte untouched.
    let names: Vec<_> = std::fs::read_dir(&copy)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    chmod(&copy, 0o755);
}

#[test]
fn verify_of_a_file_that_is_not_a_database_could_not_verify_and_exits_3() {
    let sb = Sandbox::new();
    let dir = sb.config_dir("junk");
    let db = dir.join("recon.db");
    std::fs::write(
        &db,
        "these are not the pages you are looking for\n".repeat(200),
    )
    .unwrap();
    chmod(&db, 0o444);
    assert_eq!(
        sb.recon(&dir, &["audit", "verify"], true),
        (
            3,
            String::new(),
            format!(
                "recon: could not verify: database {}: file is not a database\n",
                db.display()
            )
        )
    );
    assert_eq!(
        sb.recon(&dir, &["audit"], true),
        (
            1,
            String::new(),
            format!("recon: database {}: file is not a database\n", db.display())
        )
    );
}

#[test]
fn verify_of_a_database_from_a_newer_build_could_not_verify_and_exits_3() {
    let sb = Sandbox::new();
    let dir = sb.config_dir("future");
    assert_eq!(sb.recon(&dir, &["once"], false).0, 2);
    let db = dir.join("recon.db");
    let version = current_version(&db);
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let expected = format!(
        "database {}: schema version 99 is newer than this build understands ({version})\n",
        db.display()
    );
    assert_eq!(
        sb.recon(&dir, &["audit", "verify"], false),
        (
            3,
            String::new(),
            format!("recon: could not verify: {expected}")
        )
    );
    assert_eq!(
        sb.recon(&dir, &["audit"], false),
        (1, String::new(), format!("recon: {expected}"))
    );
    // Read-only: the version was neither migrated nor otherwise touched.
    assert_eq!(current_version(&db), 99);
}

#[test]
fn verify_of_a_database_that_is_not_recons_could_not_verify_and_exits_3() {
    let sb = Sandbox::new();
    let dir = sb.config_dir("other");
    let db = dir.join("recon.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER);")
        .unwrap();
    assert_eq!(
        sb.recon(&dir, &["audit", "verify"], false),
        (
            3,
            String::new(),
            format!(
                "recon: could not verify: database {}: not a recon database (schema version 0)\n",
                db.display()
            )
        )
    );
    assert_eq!(current_version(&db), 0, "no migration ran");
}

#[test]
fn verify_of_a_missing_database_could_not_verify_and_creates_nothing() {
    let sb = Sandbox::new();
    let dir = sb.config_dir("none");
    let db = dir.join("recon.db");
    assert_eq!(
        sb.recon(&dir, &["audit", "verify"], false),
        (
            3,
            String::new(),
            format!(
                "recon: could not verify: database {} does not exist (no cycle has run with this configuration; check [storage] path)\n",
                db.display()
            )
        )
    );
    assert!(!db.exists());
}
