//! Noticing what another process wrote: a `recon ack`, `recon unack` or `recon expect` in a
//! shell while the console runs. SQLite bumps `PRAGMA data_version` on this connection
//! whenever another connection commits, and only then, so a poll costs one pragma and
//! reads nothing when nothing changed elsewhere.

use super::records::load_open;
use super::{expectations, ReconciliationRepository, StoreError, StoredDiscrepancy};
use crate::domain::Expectation;

/// The lifecycle state as stored after another process committed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalState {
    /// The last cycle this connection had committed when it was read: the state is at least
    /// as new as that cycle's report.
    pub after_cycle: i64,
    /// The open discrepancies with their acknowledgements.
    pub open: Vec<StoredDiscrepancy>,
    /// The active expectations.
    pub expected: Vec<Expectation>,
}

impl ReconciliationRepository {
    /// The stored open discrepancies and active expectations if another connection has
    /// committed since the last call; `None` otherwise (and on the first call, which only
    /// takes the baseline).
    pub fn changed_elsewhere(&mut self) -> Result<Option<ExternalState>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let version: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(sql)?;
        let previous = self.watch_version.replace(version);
        if previous.is_none_or(|p| p == version) {
            return Ok(None);
        }
        // One read transaction: the acks and the expectations of the same moment.
        let tx = self.conn.transaction().map_err(sql)?;
        let open = load_open(&tx, &path)?;
        let expected = expectations::load_active(&tx, &path)?;
        tx.finish().map_err(sql)?;
        Ok(Some(ExternalState {
            after_cycle: self.last_committed,
            open,
            expected,
        }))
    }
}
