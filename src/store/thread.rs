//! The repository on its own thread. `rusqlite::Connection` does blocking disk I/O (with
//! `synchronous=FULL`, an fsync per commit), which must never run on the async runtime;
//! one dedicated thread owns the connection and runs jobs in order, so there is no lock
//! and writes are serialised. Callers await a oneshot reply.

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{ReconciliationRepository, StoreError};

type Job = Box<dyn FnOnce(&mut ReconciliationRepository) + Send>;

/// Cheap, cloneable access to the store thread.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Job>,
}

/// Joins the store thread once every handle is dropped.
pub struct StoreThread {
    join: JoinHandle<()>,
}

impl StoreThread {
    /// Waits for queued jobs to finish (call after dropping every [`StoreHandle`]).
    pub fn join(self) {
        // A panic inside a job has already been reported by the panic hook; the
        // database is left as SQLite's transaction left it.
        let _ = self.join.join();
    }
}

impl StoreHandle {
    /// Moves `repo` to a new thread.
    pub fn spawn(mut repo: ReconciliationRepository) -> std::io::Result<(Self, StoreThread)> {
        let (tx, rx) = mpsc::channel::<Job>();
        let join = std::thread::Builder::new()
            .name("recon-store".into())
            .spawn(move || loop {
                // Jobs first; maintenance (retention) only when none is waiting, one
                // bounded step at a time, so a cycle commit never queues behind it.
                let job = match repo.maintenance_due_in() {
                    None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                    Some(wait) => rx.recv_timeout(wait),
                };
                match job {
                    Ok(job) => job(&mut repo),
                    Err(mpsc::RecvTimeoutError::Timeout) => repo.run_maintenance_step(),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            })?;
        Ok((Self { tx }, StoreThread { join }))
    }

    /// Runs `f` on the store thread and awaits its result.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut ReconciliationRepository) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |repo| {
            let _ = reply.send(f(repo));
        });
        self.tx.send(job).map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }
}
