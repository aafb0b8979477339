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
    pub fn spawn(repo: ReconciliationRepository) -> std::io::Result<(Self, StoreThread)> {
        let (handle, thread, _opened) = Self::open(move || Ok(repo))?;
        Ok((handle, thread))
    }

    /// Opens the repository on a new thread (`open` runs there), so the caller goes on
    /// (builds clients, starts fetching) while SQLite opens and migrates. Jobs sent in the
    /// meantime wait their turn. The receiver tells how the open went; when it failed, the
    /// thread ends and every job's caller sees [`StoreError::Stopped`].
    pub fn open<F>(open: F) -> std::io::Result<(Self, StoreThread, Opened)>
    where
        F: FnOnce() -> Result<ReconciliationRepository, StoreError> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Job>();
        let (opened_tx, opened) = oneshot::channel();
        let join = std::thread::Builder::new()
            .name("recon-store".into())
            .spawn(move || {
                let repo = match open() {
                    Ok(repo) => {
                        let _ = opened_tx.send(Ok(()));
                        repo
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                serve(repo, &rx);
            })?;
        Ok((Self { tx }, StoreThread { join }, Opened(opened)))
    }

    /// Runs `f` on the store thread and awaits its result.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut ReconciliationRepository) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(f).await
    }

    /// Queues `f` on the store thread now (unlike [`Self::call`], whose job is sent when
    /// first polled), so work queued after it runs after it; the future is its result.
    pub fn submit<T, F>(
        &self,
        f: F,
    ) -> impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&mut ReconciliationRepository) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: Job = Box::new(move |repo| {
            let _ = reply.send(f(repo));
        });
        let sent = self.tx.send(job).map_err(|_| StoreError::Stopped);
        async move {
            sent?;
            rx.await.map_err(|_| StoreError::Stopped)?
        }
    }
}

/// How the store thread's open went (see [`StoreHandle::open`]).
pub struct Opened(oneshot::Receiver<Result<(), StoreError>>);

impl Opened {
    /// Waits for the open to finish.
    pub async fn wait(self) -> Result<(), StoreError> {
        self.0.await.map_err(|_| StoreError::Stopped)?
    }
}

/// The store thread's loop: jobs in order; maintenance (retention) only when none is
/// waiting, one bounded step at a time, so a cycle commit never queues behind it.
fn serve(mut repo: ReconciliationRepository, rx: &mpsc::Receiver<Job>) {
    loop {
        let job = match repo.maintenance_due_in() {
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(wait) => rx.recv_timeout(wait),
        };
        match job {
            Ok(job) => job(&mut repo),
            Err(mpsc::RecvTimeoutError::Timeout) => repo.run_maintenance_step(),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
}
