//! What every engine task shares: the store (used from blocking threads), the secret
//! store, the event channel, timings and the status board.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ilink::ClientConfig;

use super::inbound_writer::InboundWriter;
use super::inflow::InflowLimits;
use super::timing::{Clock, Timings};
use super::EngineError;
use crate::events::{emit, AccountStatus, EngineEvent, EventSender};
use crate::secrets::SecretStore;
use crate::{CoreError, Store};

/// The store, shared by the engine's tasks. SQLite work runs on tokio's blocking pool,
/// one call at a time, so it never stalls the async workers.
#[derive(Clone)]
pub struct SharedStore(Arc<Mutex<Store>>, Arc<tokio::sync::Notify>);

impl SharedStore {
    pub fn new(store: Store) -> SharedStore {
        SharedStore(Arc::new(Mutex::new(store)), Arc::default())
    }

    /// The database file, unless the store is in memory.
    pub(crate) fn path(&self) -> Option<std::path::PathBuf> {
        let store = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        store.path().map(std::path::Path::to_owned)
    }

    /// Signalled after each call (the WAL checkpointer waits on it).
    pub(crate) fn activity(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.1)
    }

    /// Runs `f` with the store on a blocking thread.
    pub async fn call<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, CoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.0);
        let result = tokio::task::spawn_blocking(move || {
            let store = inner.lock().unwrap_or_else(PoisonError::into_inner);
            f(&store)
        })
        .await
        .map_err(|_| EngineError::TaskFailed)?;
        self.1.notify_one();
        Ok(result?)
    }

    /// Runs `f` with the store on the calling thread, which may block on it: for a
    /// thread of its own, never an async worker.
    pub(crate) fn call_here<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        let result = {
            let store = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            f(&store)
        };
        self.1.notify_one();
        result
    }
}

pub(crate) struct Runtime {
    pub store: SharedStore,
    pub secrets: Arc<dyn SecretStore>,
    pub events: EventSender,
    /// Commits the pollers' batches, several accounts' at once.
    pub inbound: InboundWriter,
    pub timings: Timings,
    pub clock: Arc<dyn Clock>,
    pub client_config: ClientConfig,
    /// The data directory, when the engine has one (media files live under it).
    pub media_root: Option<std::path::PathBuf>,
    /// Largest file [`crate::Engine::send_file`] accepts.
    pub max_upload_bytes: u64,
    /// Wakes the media worker (new jobs, or a download slot freed).
    pub media_wake: Arc<tokio::sync::Notify>,
    /// The database's integrity check has been started (once per engine).
    pub integrity_checked: std::sync::atomic::AtomicBool,
    statuses: Mutex<HashMap<String, AccountStatus>>,
}

impl Runtime {
    pub fn new(
        store: SharedStore,
        secrets: Arc<dyn SecretStore>,
        events: EventSender,
        timings: Timings,
        clock: Arc<dyn Clock>,
        client_config: ClientConfig,
        inflow: InflowLimits,
    ) -> Runtime {
        Runtime {
            inbound: InboundWriter::start(store.clone(), events.clone(), inflow),
            store,
            secrets,
            events,
            timings,
            clock,
            client_config,
            media_root: None,
            max_upload_bytes: super::outbound_media::DEFAULT_MAX_UPLOAD_BYTES,
            media_wake: Arc::new(tokio::sync::Notify::new()),
            integrity_checked: std::sync::atomic::AtomicBool::new(false),
            statuses: Mutex::new(HashMap::new()),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn emit(&self, event: EngineEvent) {
        emit(&self.events, event);
    }

    /// Records an account's status (in memory and, by name, in `accounts.status`) and
    /// announces it if it changed.
    pub async fn set_status(&self, account_id: &str, status: AccountStatus) {
        // One task at a time sets an account's status (its poller, or the manager when
        // no poller runs), so reading first and recording after the write is safe; the
        // snapshot then never runs ahead of the stored status.
        if self.status(account_id) == status {
            return;
        }
        tracing::info!(account_id, ?status, "account status");
        let (id, name, now) = (account_id.to_owned(), status.as_str(), self.now_ms());
        if let Err(e) = self
            .store
            .call(move |s| s.set_account_status(&id, name, now))
            .await
        {
            tracing::warn!(account_id, error = %e, "cannot store the account status");
        }
        self.statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account_id.to_owned(), status.clone());
        self.emit(EngineEvent::AccountStatusChanged {
            account_id: account_id.to_owned(),
            status,
        });
    }

    pub fn status(&self, account_id: &str) -> AccountStatus {
        self.statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account_id)
            .cloned()
            .unwrap_or(AccountStatus::Stopped)
    }

    pub fn statuses(&self) -> HashMap<String, AccountStatus> {
        self.statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
