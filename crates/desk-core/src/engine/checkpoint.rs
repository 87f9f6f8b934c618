//! WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the
//! commit that crosses 1,000 pages and fsyncs the database there, which stalls that
//! commit (and the message behind it) for milliseconds. The engine's connection leaves
//! checkpoints to this task instead: a second or so after the store was used, a passive
//! checkpoint runs on a connection of its own, next to the writer. An idle engine does
//! nothing (docs/architecture.md, invariant 7).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Store;

/// How long after activity the checkpoint runs (activity meanwhile is covered too).
const SETTLE: Duration = Duration::from_secs(1);

/// Starts the checkpointer for the database at `path`; it ends when `cancel` fires.
pub(crate) fn start(path: PathBuf, activity: Arc<Notify>, cancel: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = activity.notified() => {}
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(SETTLE) => {}
            }
            let path = path.clone();
            match tokio::task::spawn_blocking(move || Store::checkpoint(&path)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                Err(_) => tracing::warn!("WAL checkpoint task failed"),
            }
        }
    });
}

/// Stops the checkpointer when the engine goes.
pub(crate) struct Checkpointer(pub CancellationToken);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
