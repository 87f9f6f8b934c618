//! The engine's runtime: per-account pollers and senders, the account manager, and
//! the typed event stream, tied together by [`Engine`].

mod ai_hooks;
mod checkpoint;
mod inbound_writer;
mod inflow;
mod lifecycle;
pub mod login;
mod manager;
pub mod media;
mod media_write;
pub mod merge;
mod openclaw;
mod outbound_media;
mod poller;
mod sender;
mod shared;
pub mod timing;
pub mod typing;

use std::sync::Arc;

use ilink::{ClientConfig, IlinkError};
use tokio::sync::broadcast;

pub use crate::events::{AccountStatus, EngineEvent, LoginState, EVENT_CAPACITY, PREVIEW_CHARS};
pub use inflow::{InboundFlow, InflowLimits};
pub use login::{LoginHandle, LoginOptions};
pub use manager::AccountManager;
pub use media::MediaOptions;
pub use media_write::WriteBudget;
pub use outbound_media::DEFAULT_MAX_UPLOAD_BYTES;
pub use sender::{NO_CONTEXT_TOKEN, WINDOW_CLOSED};

/// The error shown on an outbound message the user cancelled.
pub const CANCELLED: &str = "cancelled";
pub use shared::SharedStore;
pub use timing::{Clock, SystemClock, Timings};

use crate::event_bus::{EventBus, EventFollower};
use crate::secrets::{SecretError, SecretStore};
use crate::store::{
    EditRefused, OutboundDraft, OutboundFile, OutboxEntry, OutboxOutcome, OutboxState, ScheduleEdit,
};
use crate::views::SendFailure;
use crate::{CoreError, DataDir, Store};

/// A text that carries what an iLink server or CDN said (`errmsg`, `x-error-message`),
/// redacted before it reaches a log, an event, the outbox or the window: without the
/// account's bot token or any `Bearer …`/`Authorization` value.
pub(crate) fn wire_text(client: &ilink::Client, text: &str) -> String {
    let token = client.bot_token().map(|t| t.expose());
    crate::redact::redact(text, token.as_slice())
}

/// How the engine's operations fail.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] CoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Client(#[from] IlinkError),
    #[error("no account {0:?}")]
    UnknownAccount(String),
    #[error("no bot token is stored for account {0:?}: log in again")]
    MissingToken(String),
    #[error("cannot send an empty message")]
    EmptyMessage,
    #[error("cannot send {path}: {reason}")]
    FileUnreadable { path: String, reason: String },
    #[error("cannot send {0}: the file is empty")]
    EmptyFile(String),
    #[error("the file is too large to send: {size} bytes, the limit is {limit} bytes")]
    FileTooLarge { size: u64, limit: u64 },
    #[error("sending files needs an engine with a data directory")]
    NoDataDir,
    #[error("that time has passed: a message can be scheduled only for later")]
    DueInPast,
    #[error("outbox #{0} is not a scheduled message")]
    NotScheduled(i64),
    #[error("outbox #{0} no longer waits for its time: it went out, is going out, failed or was cancelled")]
    NoLongerScheduled(i64),
    #[error("an engine task ended unexpectedly")]
    TaskFailed,
}

/// What the engine is built with.
#[derive(Clone)]
pub struct EngineConfig {
    /// The template for each account's client; `api_base` and `route_tag` come from
    /// the account.
    pub client: ClientConfig,
    pub timings: Timings,
    pub clock: Arc<dyn Clock>,
    /// Largest file [`Engine::send_file`] accepts (default 100 MiB).
    pub max_upload_bytes: u64,
    /// How many events a subscriber may fall behind ([`EVENT_CAPACITY`]; tests make it
    /// tiny to see what a lagging subscriber does).
    pub event_capacity: usize,
    /// When the inbound writer counts as saturated and how many polls may be out then
    /// (engine/inflow.rs).
    pub inflow: InflowLimits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            client: ClientConfig::default(),
            timings: Timings::default(),
            clock: Arc::new(SystemClock),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            event_capacity: EVENT_CAPACITY,
            inflow: InflowLimits::default(),
        }
    }
}

/// The running engine: store, secrets, accounts and events. Must be created inside a
/// tokio runtime. Call [`Engine::shutdown`] for a clean stop (notifystop); dropping it
/// cancels every task.
pub struct Engine {
    rt: Arc<shared::Runtime>,
    accounts: Arc<AccountManager>,
    logins: Arc<login::Logins>,
    media: Option<media::MediaControl>,
    _checkpointer: Option<checkpoint::Checkpointer>,
}

impl Engine {
    /// Opens (creating and migrating) the database in `data_dir` and builds the engine.
    pub fn open(
        data_dir: &DataDir,
        secrets: Arc<dyn SecretStore>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        Ok(Engine::new_in(
            Store::open(&data_dir.database())?,
            data_dir,
            secrets,
            config,
        ))
    }

    /// An engine without a data directory: no media files are written (and none
    /// deleted).
    pub fn new(store: Store, secrets: Arc<dyn SecretStore>, config: EngineConfig) -> Engine {
        Engine::build(store, None, secrets, config)
    }

    /// An engine on `store` whose media files live in `data_dir`.
    pub fn new_in(
        store: Store,
        data_dir: &DataDir,
        secrets: Arc<dyn SecretStore>,
        config: EngineConfig,
    ) -> Engine {
        Engine::new_in_with_media(store, data_dir, secrets, config, MediaOptions::default())
    }

    /// [`Engine::new_in`] with media downloads set up by `media`. Inbound media is
    /// downloaded only by an engine with a data directory; without one the jobs wait
    /// in the store.
    pub fn new_in_with_media(
        store: Store,
        data_dir: &DataDir,
        secrets: Arc<dyn SecretStore>,
        config: EngineConfig,
        media: MediaOptions,
    ) -> Engine {
        Engine::build(store, Some((data_dir.clone(), media)), secrets, config)
    }

    fn build(
        store: Store,
        data_dir: Option<(DataDir, MediaOptions)>,
        secrets: Arc<dyn SecretStore>,
        config: EngineConfig,
    ) -> Engine {
        let events = EventBus::new(config.event_capacity);
        // A file database gets its WAL checkpoints off the commit path.
        let checkpoint_path = store.path().map(std::path::Path::to_owned).filter(|_| {
            match store.leave_checkpoints_to_others() {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoints stay in the commits");
                    false
                }
            }
        });
        let shared_store = SharedStore::new(store);
        let checkpointer = checkpoint_path.map(|path| {
            let cancel = tokio_util::sync::CancellationToken::new();
            checkpoint::start(path, shared_store.activity(), cancel.clone());
            checkpoint::Checkpointer(cancel)
        });
        let mut rt = shared::Runtime::new(
            shared_store,
            secrets,
            events,
            config.timings,
            config.clock,
            config.client,
            config.inflow,
        );
        rt.media_root = data_dir.as_ref().map(|(d, _)| d.root().to_owned());
        rt.max_upload_bytes = config.max_upload_bytes;
        let rt = Arc::new(rt);
        // Concurrency 0: files but no downloads (an engine that only queues messages
        // next to another process that runs the accounts).
        let media = data_dir
            .filter(|(_, options)| options.concurrency > 0)
            .and_then(|(dir, options)| media::start(Arc::clone(&rt), dir, options));
        Engine {
            media,
            _checkpointer: checkpointer,
            accounts: Arc::new(AccountManager::new(Arc::clone(&rt))),
            logins: Arc::new(login::Logins::default()),
            rt,
        }
    }

    /// A new subscriber to the event stream (sees events from now on).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.rt.events.subscribe()
    }

    /// A new subscriber that, when it falls behind, is told how many events it missed
    /// and which accounts and conversations they touched.
    pub fn follow(&self) -> EventFollower {
        self.rt.events.follow()
    }

    pub fn accounts(&self) -> &AccountManager {
        &self.accounts
    }

    /// The inbound writer's backlog and the polls' permits (engine/inflow.rs).
    pub fn inbound_flow(&self) -> InboundFlow {
        self.rt.inbound.flow.state()
    }

    pub fn store(&self) -> &SharedStore {
        &self.rt.store
    }

    /// How long a peer's message lets the bot reply (docs/protocol.md §1.6), as this
    /// engine times it.
    pub fn reply_window(&self) -> std::time::Duration {
        self.rt.timings.window_wait_limit
    }

    /// Messages that may go out per message the peer sends (0: no limit).
    pub fn replies_per_message(&self) -> u32 {
        self.rt.timings.replies_per_message
    }

    /// The data folder media paths are relative to (none for an in-memory engine).
    pub fn data_root(&self) -> Option<std::path::PathBuf> {
        self.rt.media_root.clone()
    }

    /// The engine's clock, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.rt.now_ms()
    }

    /// Queues a text for a peer: the outbox row is persisted before anything is sent
    /// (docs/architecture.md, invariant 2), then the account's sender delivers it when it runs.
    pub async fn send_text(
        &self,
        account_id: &str,
        peer_id: &str,
        text: &str,
    ) -> Result<OutboxEntry, EngineError> {
        self.queue_text(account_id, peer_id, text, false, None)
            .await
    }

    /// Send later: queues a text that goes out at `due_ms` (epoch ms), not before, and
    /// then only while the peer's reply window is open and their allowance lasts (else
    /// it waits with the reason). Persisted like any send, so it survives restarts.
    pub async fn send_text_at(
        &self,
        account_id: &str,
        peer_id: &str,
        text: &str,
        due_ms: i64,
    ) -> Result<OutboxEntry, EngineError> {
        self.check_due(due_ms)?;
        self.queue_text(account_id, peer_id, text, false, Some(due_ms))
            .await
    }

    /// [`Engine::send_file`] at `due_ms`, as [`Engine::send_text_at`].
    pub async fn send_file_at(
        &self,
        account_id: &str,
        peer_id: &str,
        path: &std::path::Path,
        caption: Option<&str>,
        due_ms: i64,
    ) -> Result<OutboxEntry, EngineError> {
        self.check_due(due_ms)?;
        self.queue_file(account_id, peer_id, path, caption, false, Some(due_ms))
            .await
    }

    fn check_due(&self, due_ms: i64) -> Result<(), EngineError> {
        if due_ms <= self.rt.now_ms() {
            return Err(EngineError::DueInPast);
        }
        Ok(())
    }

    /// Scheduled messages not sent yet, soonest first, narrowed to an account and a
    /// peer when given.
    pub async fn scheduled(
        &self,
        account_id: Option<&str>,
        peer_id: Option<&str>,
    ) -> Result<Vec<OutboxEntry>, EngineError> {
        let (a, p) = (account_id.map(str::to_owned), peer_id.map(str::to_owned));
        self.rt
            .store
            .call(move |s| s.scheduled_outbox(a.as_deref(), p.as_deref()))
            .await
    }

    /// Changes a scheduled message's text (a file's caption) or time while it waits.
    pub async fn edit_scheduled(
        &self,
        outbox_id: i64,
        edit: ScheduleEdit,
    ) -> Result<OutboxEntry, EngineError> {
        if let Some(due) = edit.due_ms {
            self.check_due(due)?;
        }
        let now = self.rt.now_ms();
        let entry = self
            .rt
            .store
            .call(move |s| {
                let kind = s.outbox_entry(outbox_id)?.map(|e| e.kind);
                if kind.as_deref() == Some("text")
                    && edit.text.as_deref().is_some_and(|t| t.trim().is_empty())
                {
                    return Ok(Err(None));
                }
                Ok(s.edit_scheduled(outbox_id, &edit, now)?.map_err(Some))
            })
            .await?
            .map_err(|refused| match refused {
                None => EngineError::EmptyMessage,
                Some(EditRefused::NotScheduled) => EngineError::NotScheduled(outbox_id),
                Some(EditRefused::NoLongerWaiting) => EngineError::NoLongerScheduled(outbox_id),
            })?;
        self.announce(&entry, OutboxState::Queued, None);
        self.accounts.wake_sender(&entry.account_id);
        Ok(entry)
    }

    /// [`Engine::send_text`], marked as written by the owner or by the AI.
    pub(crate) async fn queue_text(
        &self,
        account_id: &str,
        peer_id: &str,
        text: &str,
        ai_generated: bool,
        due_ms: Option<i64>,
    ) -> Result<OutboxEntry, EngineError> {
        if text.trim().is_empty() {
            return Err(EngineError::EmptyMessage);
        }
        let draft = OutboundDraft {
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
            kind: "text".to_owned(),
            text: Some(text.to_owned()),
            payload: serde_json::json!({ "text": text }),
            ai_generated,
            due_ms,
        };
        let (id, now) = (account_id.to_owned(), self.rt.now_ms());
        let entry = self
            .rt
            .store
            .call(move |s| {
                if s.account(&id)?.is_none() {
                    return Ok(None);
                }
                s.enqueue_outbound(&draft, now).map(Some)
            })
            .await?
            .ok_or_else(|| EngineError::UnknownAccount(account_id.to_owned()))?;
        self.announce(&entry, OutboxState::Queued, None);
        self.accounts.wake_sender(account_id);
        Ok(entry)
    }

    /// Queues a file for a peer, with an optional caption sent just before it. The file
    /// is checked (regular, not empty, within the size cap) and copied into the data
    /// directory under its sanitised name, then the outbox row is persisted; the
    /// account's sender uploads it to the CDN ([`EngineEvent::UploadProgress`]) and
    /// sends it as an image, video or file item, chosen by its name and content.
    pub async fn send_file(
        &self,
        account_id: &str,
        peer_id: &str,
        path: &std::path::Path,
        caption: Option<&str>,
    ) -> Result<OutboxEntry, EngineError> {
        self.queue_file(account_id, peer_id, path, caption, false, None)
            .await
    }

    /// [`Engine::send_file`], marked as sent by the owner or by the AI.
    pub(crate) async fn queue_file(
        &self,
        account_id: &str,
        peer_id: &str,
        path: &std::path::Path,
        caption: Option<&str>,
        ai_generated: bool,
        due_ms: Option<i64>,
    ) -> Result<OutboxEntry, EngineError> {
        let root = self.rt.media_root.clone().ok_or(EngineError::NoDataDir)?;
        let (id, now) = (account_id.to_owned(), self.rt.now_ms());
        if self.rt.store.call(move |s| s.account(&id)).await?.is_none() {
            return Err(EngineError::UnknownAccount(account_id.to_owned()));
        }
        let caption = caption.map(str::trim).filter(|c| !c.is_empty());
        let (id, source, max) = (
            account_id.to_owned(),
            path.to_owned(),
            self.rt.max_upload_bytes,
        );
        let staged = tokio::task::spawn_blocking(move || {
            let data = DataDir::at(root)?;
            let staged = outbound_media::stage_file(&data, &id, now, &source, max)?;
            if staged.kind == ilink::media::OutboundKind::Image {
                thumbnail_for(&data.root().join(&staged.relative));
            }
            Ok::<_, EngineError>(staged)
        })
        .await
        .map_err(|_| EngineError::TaskFailed)??;
        let draft = OutboundDraft {
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
            kind: outbound_media::kind_name(staged.kind).to_owned(),
            text: caption.map(str::to_owned),
            payload: outbound_media::payload(&staged, caption),
            ai_generated,
            due_ms,
        };
        let file = OutboundFile {
            file_name: staged.file_name.clone(),
            size: staged.size,
            relative_path: staged.relative.to_string_lossy().into_owned(),
            mime: staged.mime.clone(),
        };
        let entry = self
            .rt
            .store
            .call(move |s| s.enqueue_outbound_file(&draft, &file, now))
            .await;
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                if let Some(root) = &self.rt.media_root {
                    let _ = std::fs::remove_file(root.join(&staged.relative));
                }
                return Err(e);
            }
        };
        self.announce(&entry, OutboxState::Queued, None);
        self.accounts.wake_sender(account_id);
        Ok(entry)
    }

    /// Tells every running account's sender to look at its outbox again, e.g. after
    /// another process queued messages in the same database.
    pub fn wake_senders(&self) {
        self.accounts.wake_all_senders();
    }

    /// Tells the media worker to look at its jobs again, e.g. after another process
    /// queued a download again in the same database.
    pub fn wake_media(&self) {
        self.rt.media_wake.notify_one();
    }

    /// Retries a failed or waiting outbound message with a fresh set of attempts. Returns
    /// false if it is neither.
    pub async fn retry_outbound(&self, outbox_id: i64) -> Result<bool, EngineError> {
        let now = self.rt.now_ms();
        let entry = self
            .rt
            .store
            .call(move |s| {
                if !s.requeue_outbox(outbox_id, now)? {
                    return Ok(None);
                }
                s.outbox_entry(outbox_id)
            })
            .await?;
        let Some(entry) = entry else {
            return Ok(false);
        };
        self.announce_group(&entry, OutboxState::Queued, None)
            .await?;
        self.accounts.wake_sender(&entry.account_id);
        Ok(true)
    }

    /// Downloads a failed inbound message's media again, with a fresh set of attempts:
    /// the message goes back to pending and its result is announced as usual
    /// ([`EngineEvent::MediaReady`] or [`EngineEvent::MediaFailed`]). Returns false if
    /// its media has not failed (or it has none). Without a data directory the job waits
    /// for an engine that has one.
    pub async fn retry_media(&self, message_row_id: i64) -> Result<bool, EngineError> {
        let now = self.rt.now_ms();
        let requeued = self
            .rt
            .store
            .call(move |s| s.requeue_failed_media(message_row_id, now))
            .await?;
        if requeued {
            self.rt.media_wake.notify_one();
        }
        Ok(requeued)
    }

    /// Gives up on an outbound message that is not delivered yet: it is marked failed
    /// with the reason `cancelled`. Returns false if it already finished. A send already
    /// on the wire may still be delivered (and is then shown as such).
    pub async fn cancel_outbound(&self, outbox_id: i64) -> Result<bool, EngineError> {
        let now = self.rt.now_ms();
        let entry = self
            .rt
            .store
            .call(move |s| {
                let Some(entry) = s.outbox_entry(outbox_id)? else {
                    return Ok(None);
                };
                // Refused when it finished meanwhile.
                let cancelled = s.settle_outbox(
                    outbox_id,
                    OutboxOutcome::Failed(SendFailure::Cancelled),
                    CANCELLED,
                    now,
                )?;
                Ok(cancelled.then_some(entry))
            })
            .await?;
        let Some(entry) = entry else {
            return Ok(false);
        };
        self.announce_group(&entry, OutboxState::Failed, Some(CANCELLED))
            .await?;
        Ok(true)
    }

    /// [`Engine::announce`] for the entry and those merged with it (one request).
    async fn announce_group(
        &self,
        entry: &OutboxEntry,
        state: OutboxState,
        error: Option<&str>,
    ) -> Result<(), EngineError> {
        let id = entry.id;
        for member in self.rt.store.call(move |s| s.outbox_group(id)).await? {
            self.announce(&member, state, error);
        }
        Ok(())
    }

    fn announce(&self, entry: &OutboxEntry, state: OutboxState, error: Option<&str>) {
        self.rt.emit(EngineEvent::DeliveryUpdated {
            outbox_id: entry.id,
            account_id: entry.account_id.clone(),
            peer_id: entry.peer_id.clone(),
            message_row_id: entry.message_row_id,
            state,
            error: error.map(str::to_owned),
        });
    }

    /// Starts a QR login (docs/protocol.md §3). Progress arrives as
    /// [`EngineEvent::LoginProgress`] with the handle's id; on success the account is
    /// stored, stale accounts of the same WeChat user are replaced, and it starts.
    pub async fn start_login(&self, options: LoginOptions) -> Result<LoginHandle, EngineError> {
        login::start(
            Arc::clone(&self.rt),
            Arc::clone(&self.accounts),
            Arc::clone(&self.logins),
            options,
        )
        .await
    }

    /// Sends a verify code to a running login; false if it is not running.
    pub fn submit_login_code(&self, login_id: &str, code: &str) -> bool {
        self.logins.submit(login_id, code)
    }

    /// Cancels a running login; false if it is not running.
    pub fn cancel_login(&self, login_id: &str) -> bool {
        self.logins.cancel(login_id)
    }

    /// Removes an account: its tasks stop and its bot token leaves the secret store.
    /// With `keep_log` its messages and conversations stay (the account is disabled and
    /// marked [`crate::store::STATUS_REMOVED`]); otherwise every row goes, and its media
    /// folder `media/<account>/` with them.
    pub async fn remove_account(
        &self,
        account_id: &str,
        keep_log: bool,
    ) -> Result<(), EngineError> {
        if let Some(media) = &self.media {
            media.abort_account(account_id);
        }
        let found = if keep_log {
            lifecycle::retire(
                &self.rt,
                &self.accounts,
                account_id,
                crate::store::STATUS_REMOVED,
            )
            .await?
        } else {
            lifecycle::delete(&self.rt, &self.accounts, account_id).await?
        };
        if !found {
            return Err(EngineError::UnknownAccount(account_id.to_owned()));
        }
        self.rt.emit(EngineEvent::AccountRemoved {
            account_id: account_id.to_owned(),
            kept_log: keep_log,
        });
        Ok(())
    }

    /// Sets an account's alias; a blank one clears it.
    pub async fn rename_account(&self, account_id: &str, alias: &str) -> Result<(), EngineError> {
        let alias = Some(alias.trim().to_owned()).filter(|a| !a.is_empty());
        let (id, stored, now) = (account_id.to_owned(), alias.clone(), self.rt.now_ms());
        if !self
            .rt
            .store
            .call(move |s| s.set_account_alias(&id, stored.as_deref(), now))
            .await?
        {
            return Err(EngineError::UnknownAccount(account_id.to_owned()));
        }
        self.rt.emit(EngineEvent::AccountRenamed {
            account_id: account_id.to_owned(),
            alias,
        });
        Ok(())
    }

    /// Gives a peer the owner's name (blank clears it: the peer is shown by a name the
    /// server gave, else its id); returns the stored name.
    pub async fn rename_peer(
        &self,
        account_id: &str,
        peer_id: &str,
        name: &str,
    ) -> Result<Option<String>, EngineError> {
        let (a, p, n) = (account_id.to_owned(), peer_id.to_owned(), name.to_owned());
        let stored = self
            .rt
            .store
            .call(move |s| s.set_peer_alias(&a, &p, &n))
            .await?;
        self.peer_changed(account_id, peer_id);
        Ok(stored)
    }

    /// Sets the owner's note on a peer (blank clears it); returns the stored note.
    pub async fn set_peer_note(
        &self,
        account_id: &str,
        peer_id: &str,
        note: &str,
    ) -> Result<Option<String>, EngineError> {
        let (a, p, n) = (account_id.to_owned(), peer_id.to_owned(), note.to_owned());
        let stored = self
            .rt
            .store
            .call(move |s| s.set_peer_note(&a, &p, &n))
            .await?;
        self.peer_changed(account_id, peer_id);
        Ok(stored)
    }

    fn peer_changed(&self, account_id: &str, peer_id: &str) {
        self.rt.emit(EngineEvent::PeerChanged {
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
        });
    }

    /// Stops every account (each sends notifystop) and waits for their tasks.
    pub async fn shutdown(&self) {
        if let Some(media) = &self.media {
            media.stop();
        }
        self.accounts.stop_all().await;
    }
}

/// Makes a picture's thumbnail for the log; a picture that cannot be decoded is still
/// shown full size, so a failure is only logged.
pub(crate) fn thumbnail_for(picture: &std::path::Path) {
    if let Err(e) = crate::thumbnail::make_thumbnail(picture) {
        tracing::warn!(error = %e, "no thumbnail for a picture");
    }
}
