//! Log output for the long-running front ends: a daily rolling file in `[logging] dir`
//! (tracing-appender, non-blocking), JSON or text, optionally mirrored to stderr.
//!
//! The TUI owns the terminal, so while it runs logs go to the file only (`also_stderr =
//! false`); a headless daemon also writes them to stderr for journald: JSON when
//! `format = "json"`, plain text when `format = "text"` (colours only when stderr is a
//! terminal, so journald and files get no escape codes). Both writers are non-blocking
//! and lossless: when the disk is slower than the log, the line waits in the writer's
//! queue rather than being dropped. No terminal crate is named here.
//!
//! Logs name balances and notes: the directory is created 0700 and log files 0600 (files
//! rotated in later are covered by the 077 umask that `main` sets). Existing ones keep
//! their modes, with a warning when others may read them.

use std::io::IsTerminal;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogFormat, LoggingConfig};

/// File names are `<prefix>.<YYYY-MM-DD>.log`.
pub const FILE_PREFIX: &str = "recon";

/// Why logging could not be set up; names the directory at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The directory could not be created or the file opened.
    #[error("logging.dir {}: {message}", dir.display())]
    Dir {
        /// The configured directory.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// `RUST_LOG` or `[logging] level` is not a valid filter.
    #[error("logging.level '{level}': {message}")]
    Level {
        /// The directive.
        level: String,
        /// The parser's message.
        message: String,
    },
    /// A global subscriber was already installed (twice in one process).
    #[error("logging: a global logger is already installed")]
    AlreadyInstalled,
}

/// Keeps the background writer alive; dropping it flushes buffered lines. Hold it until
/// the very end of `main`.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _file: WorkerGuard,
    _stderr: Option<WorkerGuard>,
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// Installs the global subscriber: the rolling file, plus stderr when `also_stderr`.
/// The level comes from `RUST_LOG` when set, else from `[logging] level`.
pub fn init(cfg: &LoggingConfig, also_stderr: bool) -> Result<LogGuard, LoggingError> {
    let filter = filter(cfg)?;
    let dir_err = |message: String| LoggingError::Dir {
        dir: cfg.dir.clone(),
        message,
    };
    let dir_existed = cfg.dir.is_dir();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&cfg.dir)
        .map_err(|e| dir_err(format!("cannot create: {e}")))?;
    let before = log_files(&cfg.dir);
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix("log")
        .build(&cfg.dir)
        .map_err(|e| dir_err(e.to_string()))?;
    // The appender creates today's file with the process umask; a new one is private
    // whatever that is.
    for file in log_files(&cfg.dir).difference(&before) {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| dir_err(format!("{}: cannot restrict: {e}", file.display())))?;
    }
    let (writer, guard) = lossless(appender);

    let file_layer: BoxedLayer = match cfg.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
    };
    let mut layers = vec![file_layer];
    let mut stderr_guard = None;
    if also_stderr {
        let (writer, guard) = lossless(std::io::stderr());
        stderr_guard = Some(guard);
        layers.push(match cfg.format {
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .with_ansi(false)
                .with_writer(writer)
                .boxed(),
            LogFormat::Text => tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false)
                .with_writer(writer)
                .boxed(),
        });
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init()
        .map_err(|_| LoggingError::AlreadyInstalled)?;
    // Now that there is somewhere to say it.
    if dir_existed {
        warn_if_readable_by_others(&cfg.dir, "log directory", 0o700);
    }
    for file in &before {
        warn_if_readable_by_others(file, "log file", 0o600);
    }
    Ok(LogGuard {
        _file: guard,
        _stderr: stderr_guard,
    })
}

/// Lines a writer queues before a logging call waits for the disk. The queue is allocated
/// up front, 32 bytes a slot: the library's default (128,000) costs 4 MiB of resident
/// memory per writer, a fifth of the daemon's budget, to absorb bursts recon never makes.
const QUEUED_LINES: usize = 8192;

/// A background writer that never drops a line (a full queue makes the logging call wait
/// instead), so every cycle's line reaches the file.
fn lossless<W: std::io::Write + Send + 'static>(
    w: W,
) -> (tracing_appender::non_blocking::NonBlocking, WorkerGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .finish(w)
}

/// recon's log files in `dir` (`<prefix>.<date>.log`).
fn log_files(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Default::default();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(".log"))
        })
        .collect()
}

/// Warns, on one line, when group or others may read `path`, an existing file or
/// directory that recon would have created with mode `private`. Its mode is left alone:
/// the owner may share it on purpose, but should know.
pub fn warn_if_readable_by_others(path: &Path, what: &str, private: u32) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o044 != 0 {
        tracing::warn!(
            "{what} {} is readable by others (mode {mode:o}); recon creates it {private:o}: chmod {private:o} it",
            path.display()
        );
    }
}

fn filter(cfg: &LoggingConfig) -> Result<EnvFilter, LoggingError> {
    let level = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| cfg.level.clone());
    EnvFilter::try_new(&level).map_err(|e| LoggingError::Level {
        level,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncreatable_directory_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain-file");
        std::fs::write(&file, "x").unwrap();
        let cfg = LoggingConfig {
            dir: file.join("logs"),
            level: "info".into(),
            format: LogFormat::Text,
        };
        let err = init(&cfg, false).err().expect("must fail");
        let msg = err.to_string();
        assert!(msg.starts_with("logging.dir "), "{msg}");
        assert!(msg.contains("plain-file"), "{msg}");
    }
}
