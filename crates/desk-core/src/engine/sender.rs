//! One account's outbound pipeline: outbox rows (already persisted, docs/architecture.md invariant 2) go out
//! in order per peer, each with the peer's latest stored context token (docs/architecture.md, invariant 3).
//! Delivered only on `ret == 0`; ret -2 waits for the peer's next message; other errors
//! retry with backoff, then fail with the reason.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ilink::media::{
    items::media_item, route_path, upload_file, CdnConfig, MediaError, Progress, UploadedMedia,
    DEFAULT_CDN_BASE,
};
use ilink::models::{ItemType, MessageItem, MessageState, MessageType, TextItem, WeixinMessage};
use ilink::text::{split_text, DEFAULT_SPLIT_LIMIT};
use ilink::{Client, IlinkError};
use rand::Rng;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::outbound_media;
use super::shared::Runtime;
use super::timing::duration_ms;
use super::wire_text;
use crate::events::{AccountStatus, EngineEvent};
use crate::store::{OutboxEntry, OutboxOutcome, OutboxState};
use crate::views::{SendFailure, WaitReason};

/// Shown on a message that waits for the peer to write (no token yet, or window closed).
pub const NO_CONTEXT_TOKEN: &str =
    "no context token for this peer yet: ask them to message the bot";

/// The longest a scheduled message's wait runs on the monotonic clock before the wall
/// clock is read again: a suspended laptop's monotonic clock stands still, and the
/// system time may be set while it waits.
const SCHEDULE_RECHECK: Duration = Duration::from_secs(60);

/// Shown on a scheduled message whose time came after the peer's reply window closed.
pub const WINDOW_CLOSED: &str =
    "waiting for them to write: the reply window closed before its time came";

/// Shown on a message held back because the peer's allowance is used up.
pub fn allowance_used(limit: u32) -> String {
    format!(
        "waiting for them to write: {limit} messages went out since their last message, \
         as many as WeChat allows"
    )
}

/// Wakes an account's sender. A new inbound message matters to it only while sends
/// wait (for the peer's fresh token or next message): with nothing unfinished in the
/// outbox it sleeps on, as every path that queues or requeues a send wakes it itself.
#[derive(Default)]
pub(crate) struct SenderWake {
    notify: Notify,
    /// The sender's last pass found nothing unfinished.
    outbox_empty: AtomicBool,
}

impl SenderWake {
    /// Something for the outbox changed: look again.
    pub fn now(&self) {
        self.notify.notify_one();
    }

    /// New inbound messages: look again if sends wait.
    pub fn after_inbound(&self) {
        if !self.outbox_empty.load(Ordering::Acquire) {
            self.notify.notify_one();
        }
    }
}

pub(crate) struct Sender {
    pub rt: Arc<Runtime>,
    pub account_id: String,
    pub client: Arc<Client>,
    pub cancel: CancellationToken,
    pub wake: Arc<SenderWake>,
    /// Per peer (lower-cased): why its messages wait. They wait until the stored token
    /// differs, or until a backoff retry of the same token is due.
    refused_token: HashMap<String, Refused>,
    /// When a message that failed may be tried again, and its attempt count then (a
    /// different count means it was requeued by the user: try at once).
    retry_at: HashMap<i64, (i64, Instant)>,
    /// When this account last sent a request (the pacing between sends).
    last_send: Option<Instant>,
    /// The least time between sends: the owner's setting, else the engine's.
    interval: Duration,
    /// Entries merged into another's request during this pass (they went with it).
    merged: HashSet<i64>,
}

/// A peer whose messages wait: the token they were refused with (`None`: there was
/// none), how often ret -2 came back for it, and when to try it again (`None`: not until
/// the peer writes and the token changes).
struct Refused {
    token: Option<String>,
    tries: u32,
    retry_at: Option<Instant>,
    /// The refused outbox entry and the server's `errmsg`, and under how many different
    /// tokens in a row (each fresh after the first) it was refused that same way.
    outbox_id: i64,
    errmsg: Option<String>,
    tokens_refused: u32,
}

enum Outcome {
    Delivered,
    /// The peer's later messages must wait.
    Blocked(Option<Instant>),
    /// Finished (failed); the peer's next message may go.
    Done,
}

impl Sender {
    pub fn new(
        rt: Arc<Runtime>,
        account_id: String,
        client: Arc<Client>,
        cancel: CancellationToken,
        wake: Arc<SenderWake>,
    ) -> Sender {
        Sender {
            rt,
            account_id,
            client,
            cancel,
            wake,
            refused_token: HashMap::new(),
            retry_at: HashMap::new(),
            last_send: None,
            interval: Duration::ZERO,
            merged: HashSet::new(),
        }
    }

    pub async fn run(mut self) {
        while !self.cancel.is_cancelled() {
            let next = match self.pass().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(account_id = self.account_id, error = %e, "outbox pass failed");
                    Some(Instant::now() + self.rt.timings.send_retry)
                }
            };
            let cancel = self.cancel.clone();
            let wake = Arc::clone(&self.wake);
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                () = wake.notify.notified() => {}
                () = sleep_until(next) => {}
            }
        }
    }

    /// Goes once through the unfinished outbox; returns when to look again at the latest.
    async fn pass(&mut self) -> Result<Option<Instant>, super::EngineError> {
        let account_id = self.account_id.clone();
        let entries = self
            .rt
            .store
            .call(move |s| s.unfinished_outbox(&account_id))
            .await?;
        // Set after the read: a send queued since has woken this task again already.
        self.wake
            .outbox_empty
            .store(entries.is_empty(), Ordering::Release);
        let mut blocked: HashSet<String> = HashSet::new();
        let mut next: Option<Instant> = None;
        self.merged.clear();
        // Read for every pass, so a change in the settings applies at once.
        let prefs = self.rt.store.call(|s| s.prefs()).await?;
        self.interval = prefs
            .send_interval_ms
            .map_or(self.rt.timings.send_interval, |ms| {
                Duration::from_millis(u64::from(ms))
            });
        // Pause guard (docs/protocol.md §4 item 5): nothing goes out while the token is stale.
        if let AccountStatus::StaleToken { until_ms } = self.rt.status(&self.account_id) {
            if !entries.is_empty() {
                let wait = until_ms.saturating_sub(self.rt.now_ms()).max(0);
                return Ok(Some(
                    Instant::now() + Duration::from_millis(wait.unsigned_abs()),
                ));
            }
        }
        for entry in entries {
            if self.cancel.is_cancelled() {
                break;
            }
            if self.merged.contains(&entry.id) {
                continue;
            }
            // Send later: not before its time, and it holds back nothing else.
            if let Some(due) = entry.due_ms.filter(|&due| due > self.rt.now_ms()) {
                let wait =
                    Duration::from_millis(due.saturating_sub(self.rt.now_ms()).unsigned_abs());
                next = earliest(next, Some(Instant::now() + wait.min(SCHEDULE_RECHECK)));
                continue;
            }
            let key = entry.peer_id.to_lowercase();
            if blocked.contains(&key) {
                continue;
            }
            if let Some(&(attempts, at)) = self.retry_at.get(&entry.id) {
                if attempts == entry.attempts && Instant::now() < at {
                    next = earliest(next, Some(at));
                    blocked.insert(key);
                    continue;
                }
            }
            match self.deliver(&entry, &key).await? {
                Outcome::Delivered | Outcome::Done => {}
                Outcome::Blocked(at) => {
                    next = earliest(next, at);
                    blocked.insert(key);
                }
            }
        }
        Ok(next)
    }

    async fn deliver(
        &mut self,
        entry: &OutboxEntry,
        key: &str,
    ) -> Result<Outcome, super::EngineError> {
        let (account_id, peer_id) = (self.account_id.clone(), entry.peer_id.clone());
        let (token, token_ms) = self
            .rt
            .store
            .call(move |s| s.context_token(&account_id, &peer_id))
            .await?
            .map_or((None, None), |(token, at_ms)| (Some(token), Some(at_ms)));
        // Attempts so far; a window that reopened (a new token) starts a fresh count, so
        // the ret -2 tries before it do not use up the retries of other errors.
        let mut attempts_before = entry.attempts;
        if entry.state == OutboxState::WaitingForWindow {
            let limit = duration_ms(self.rt.timings.window_wait_limit);
            let expires_ms = waits_from(entry).saturating_add(limit);
            if self.rt.now_ms() >= expires_ms {
                let reason = format!(
                    "expired: the peer did not write again within {}",
                    describe_ms(limit)
                );
                self.settle(
                    entry,
                    OutboxOutcome::Failed(SendFailure::WindowExpired),
                    &reason,
                )
                .await?;
                return Ok(Outcome::Done);
            }
            if let Some(refused) = self.refused_token.get(key).filter(|r| r.token == token) {
                let expiry = self.window_expiry(entry);
                match refused.retry_at {
                    // ret -2 may be a rate limit that clears: try the same token again.
                    Some(at) if Instant::now() >= at => {}
                    Some(at) => return Ok(Outcome::Blocked(Some(at.min(expiry)))),
                    None => return Ok(Outcome::Blocked(Some(expiry))),
                }
            } else if token.is_some() && entry.attempts > 0 {
                let id = entry.id;
                self.rt
                    .store
                    .call(move |s| s.reset_outbox_attempts(id))
                    .await?;
                attempts_before = 0;
            }
        }
        let Some(token) = token else {
            self.refused_token.insert(
                key.to_owned(),
                Refused {
                    token: None,
                    tries: 0,
                    retry_at: None,
                    outbox_id: entry.id,
                    errmsg: None,
                    tokens_refused: 0,
                },
            );
            self.settle(
                entry,
                OutboxOutcome::Waits(WaitReason::NoWindow),
                NO_CONTEXT_TOKEN,
            )
            .await?;
            return Ok(Outcome::Blocked(Some(self.window_expiry(entry))));
        };
        // The peer's allowance: held back, never sent to be refused, until they write.
        let limit = self.rt.timings.replies_per_message;
        if limit > 0 {
            let (account_id, peer_id) = (self.account_id.clone(), entry.peer_id.clone());
            let sent = self
                .rt
                .store
                .call(move |s| s.replies_under_token(&account_id, &peer_id))
                .await?;
            if sent >= i64::from(limit) {
                self.refused_token.insert(
                    key.to_owned(),
                    Refused {
                        token: Some(token),
                        tries: 0,
                        retry_at: None,
                        outbox_id: entry.id,
                        errmsg: None,
                        tokens_refused: 0,
                    },
                );
                let reason = allowance_used(limit);
                self.settle(
                    entry,
                    OutboxOutcome::Waits(WaitReason::AllowanceUsed),
                    &reason,
                )
                .await?;
                return Ok(Outcome::Blocked(Some(self.window_expiry(entry))));
            }
        }
        // A scheduled message goes out only inside the reply window, never to be refused.
        if entry.due_ms.is_some() && !self.window_open(token_ms) {
            self.refused_token.insert(
                key.to_owned(),
                Refused {
                    token: Some(token),
                    tries: 0,
                    retry_at: None,
                    outbox_id: entry.id,
                    errmsg: None,
                    tokens_refused: 0,
                },
            );
            self.settle(
                entry,
                OutboxOutcome::Waits(WaitReason::WindowClosed),
                WINDOW_CLOSED,
            )
            .await?;
            return Ok(Outcome::Blocked(Some(self.window_expiry(entry))));
        }
        let mergeable = self.rt.timings.merge_short_texts
            && entry.kind == "text"
            && matches!(
                entry.state,
                OutboxState::Queued | OutboxState::WaitingForWindow
            )
            && entry.attempts == 0;
        let started = if mergeable {
            // Texts queued while the last send's interval runs go out with this one.
            self.pace_wait().await;
            let (id, now) = (entry.id, self.rt.now_ms());
            let merged = self
                .rt
                .store
                .call(move |s| s.merge_and_start_sending(id, now, super::merge::how_many))
                .await?;
            if let Some(merged) = &merged {
                self.merged.extend(merged.iter().copied());
                self.announce(entry, OutboxState::Sending, None).await?;
            }
            merged.is_some()
        } else {
            self.set_state(entry, OutboxState::Sending, None).await?
        };
        if !started {
            // Cancelled, finished or rescheduled since this pass read the outbox.
            return Ok(Outcome::Done);
        }
        // As it is now that it is being sent (an edit may have changed it before).
        let id = entry.id;
        let Some(fresh) = self.rt.store.call(move |s| s.outbox_entry(id)).await? else {
            return Ok(Outcome::Done);
        };
        let entry = &fresh;
        let attempts = u32::try_from(attempts_before + 1).unwrap_or(u32::MAX);
        let failure = match self.requests(entry).await {
            Ok(items) => self.send_pieces(entry, &token, items).await?,
            Err(failure) => Some(failure),
        };
        let Some(failure) = failure else {
            self.retry_at.remove(&entry.id);
            return Ok(Outcome::Delivered);
        };
        let reason = wire_text(&self.client, &failure.to_string());
        tracing::warn!(account_id = self.account_id, outbox_id = entry.id, error = %reason, "send failed");
        match failure {
            Failure::Wire(IlinkError::WindowClosedOrRateLimited { errmsg }) => {
                // ret -2 is a closed window or a rate limit (§5.5): the same token is
                // tried again with backoff, up to send_max_attempts times; after that
                // only the peer's next message (a new token) reopens it.
                // Also counted: under how many tokens in a row this entry was refused
                // the same way, each after the first renewed since and fresh.
                let previous = self.refused_token.get(key);
                let same_refusal = previous.is_some_and(|r| {
                    r.outbox_id == entry.id && r.errmsg.as_deref() == Some(errmsg.as_str())
                });
                let (tries, tokens_refused) = match previous {
                    Some(r) if r.token.as_deref() == Some(token.as_str()) => {
                        (r.tries + 1, if same_refusal { r.tokens_refused } else { 1 })
                    }
                    Some(r) if same_refusal && self.is_fresh(token_ms) => (1, r.tokens_refused + 1),
                    _ => (1, 1),
                };
                let retry_at = (tries < self.rt.timings.send_max_attempts)
                    .then(|| Instant::now() + self.rt.timings.send_delay(tries));
                // Refused the same way under a token the peer just renewed, even after
                // backing off: not a closed window (the token is fresh), not a burst
                // limit (it would have cleared), not a per-token quota (it was renewed).
                // The request itself is what the server will not take.
                let limit = self.rt.timings.ret2_malformed_after_fresh_tokens;
                if retry_at.is_none() && limit > 0 && tokens_refused >= limit {
                    self.refused_token.remove(key);
                    self.retry_at.remove(&entry.id);
                    let reason = format!(
                        "the server refused this message again right after the peer wrote, \
                         so the request itself is malformed ({reason})"
                    );
                    self.settle(entry, OutboxOutcome::Failed(SendFailure::Refused), &reason)
                        .await?;
                    return Ok(Outcome::Done);
                }
                self.refused_token.insert(
                    key.to_owned(),
                    Refused {
                        token: Some(token),
                        tries,
                        retry_at,
                        outbox_id: entry.id,
                        errmsg: Some(errmsg),
                        tokens_refused,
                    },
                );
                self.settle(entry, OutboxOutcome::Waits(WaitReason::Refused), &reason)
                    .await?;
                let expiry = self.window_expiry(entry);
                Ok(Outcome::Blocked(Some(
                    retry_at.map_or(expiry, |at| at.min(expiry)),
                )))
            }
            Failure::Wire(IlinkError::InvalidArguments { .. } | IlinkError::Config { .. }) => {
                self.retry_at.remove(&entry.id);
                self.settle(entry, OutboxOutcome::Failed(SendFailure::Refused), &reason)
                    .await?;
                Ok(Outcome::Done)
            }
            Failure::Permanent(_) => {
                self.retry_at.remove(&entry.id);
                self.settle(
                    entry,
                    OutboxOutcome::Failed(SendFailure::Unsendable),
                    &reason,
                )
                .await?;
                Ok(Outcome::Done)
            }
            _ if attempts >= self.rt.timings.send_max_attempts => {
                self.retry_at.remove(&entry.id);
                self.settle(entry, OutboxOutcome::Failed(SendFailure::GaveUp), &reason)
                    .await?;
                Ok(Outcome::Done)
            }
            _ => {
                let at = Instant::now() + self.rt.timings.send_delay(attempts);
                self.retry_at.insert(entry.id, (attempts_before + 1, at));
                self.set_state(entry, OutboxState::Queued, Some(&reason))
                    .await?;
                Ok(Outcome::Blocked(Some(at)))
            }
        }
    }

    /// Whether the peer's reply window, opened by their message at `token_ms`, is open.
    fn window_open(&self, token_ms: Option<i64>) -> bool {
        let window = duration_ms(self.rt.timings.window_wait_limit);
        token_ms.is_some_and(|at| self.rt.now_ms() < at.saturating_add(window))
    }

    /// Whether a token the peer renewed at `token_ms` is recent enough to rule out a
    /// closed window.
    fn is_fresh(&self, token_ms: Option<i64>) -> bool {
        let age = duration_ms(self.rt.timings.fresh_token_age);
        token_ms.is_some_and(|at| self.rt.now_ms().saturating_sub(at) <= age)
    }

    /// The items of an entry's sendmessage requests, one request each: the pieces of a
    /// split text, or a file's caption and media item (uploading the file first, once).
    async fn requests(&self, entry: &OutboxEntry) -> Result<Vec<MessageItem>, Failure> {
        let payload = &entry.payload;
        if let Some(path) = payload.get("path").and_then(|p| p.as_str()) {
            let uploaded = self.uploaded(entry, path).await?;
            let caption = payload.get("caption").and_then(|c| c.as_str());
            let mut items: Vec<MessageItem> = caption.map(text_item).into_iter().collect();
            items.push(media_item(&uploaded));
            return Ok(items);
        }
        if payload.get("text").and_then(|t| t.as_str()).is_none() {
            return Err(Failure::Permanent(format!(
                "cannot send {:?} messages",
                entry.kind
            )));
        }
        // With the texts merged into it, rebuilt from the rows: the same after a restart.
        let id = entry.id;
        let texts = self
            .rt
            .store
            .call(move |s| s.merged_texts(id))
            .await
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let text = super::merge::joined(&texts);
        // The split is deterministic, so piece n is the same text after a restart.
        Ok(split_text(&text, DEFAULT_SPLIT_LIMIT)
            .iter()
            .map(|piece| text_item(piece))
            .collect())
    }

    /// The entry's finished upload: the one kept on its row, else a new one (kept).
    async fn uploaded(&self, entry: &OutboxEntry, path: &str) -> Result<UploadedMedia, Failure> {
        let id = entry.id;
        let stored = self
            .rt
            .store
            .call(move |s| s.outbox_upload(id))
            .await
            .map_err(|e| Failure::Retry(e.to_string()))?;
        if let Some(uploaded) = stored.as_ref().and_then(outbound_media::upload_from_json) {
            return Ok(uploaded);
        }
        let root = self.rt.media_root.clone().ok_or_else(|| {
            Failure::Permanent("files are sent only by an engine with a data directory".into())
        })?;
        let file = root.join(path);
        let routed = route_path(&file)
            .await
            .map_err(|e| Failure::Permanent(format!("the staged file is unreadable: {e}")))?;
        let account_id = self.account_id.clone();
        let cdn_base = self
            .rt
            .store
            .call(move |s| s.account(&account_id))
            .await
            .map_err(|e| Failure::Retry(e.to_string()))?
            .and_then(|a| a.cdn_url)
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_CDN_BASE.to_owned());
        let cdn = CdnConfig {
            cdn_base,
            ..CdnConfig::default()
        };
        let events = self.rt.events.clone();
        let (outbox_id, account_id, peer_id) =
            (entry.id, entry.account_id.clone(), entry.peer_id.clone());
        let progress: Progress = Arc::new(move |sent, total| {
            crate::events::emit(
                &events,
                EngineEvent::UploadProgress {
                    outbox_id,
                    account_id: account_id.clone(),
                    peer_id: peer_id.clone(),
                    sent,
                    total,
                },
            );
        });
        let mut uploaded = upload_file(
            &self.client,
            &cdn,
            &file,
            &entry.peer_id,
            routed.kind,
            Some(progress),
        )
        .await
        .map_err(Failure::from)?;
        if let Some(name) = entry.payload.get("file_name").and_then(|n| n.as_str()) {
            uploaded.file_name = name.to_owned();
        }
        let json = outbound_media::upload_to_json(&uploaded);
        self.rt
            .store
            .call(move |s| s.set_outbox_upload(id, &json))
            .await
            .map_err(|e| Failure::Retry(e.to_string()))?;
        Ok(uploaded)
    }

    /// Sends the requests not yet confirmed, in order. Each piece's client_id is stored
    /// before its request and the piece marked sent on `ret == 0`, so a crash or a
    /// failure resumes at the first unconfirmed piece (repeated with the same client_id);
    /// the entry is marked delivered when the last one is. `None`: all delivered.
    async fn send_pieces(
        &mut self,
        entry: &OutboxEntry,
        token: &str,
        items: Vec<MessageItem>,
    ) -> Result<Option<Failure>, super::EngineError> {
        let id = entry.id;
        let recorded = self.rt.store.call(move |s| s.outbox_pieces(id)).await?;
        let mut last: (String, Option<String>) = (String::new(), None);
        for (piece, item) in items.into_iter().enumerate() {
            if let Some(done) = recorded.iter().find(|p| p.piece == piece && p.sent) {
                last = (done.client_id.clone(), done.server_message_id.clone());
                continue;
            }
            let fresh = new_client_id(self.rt.now_ms());
            let client_id = self
                .rt
                .store
                .call(move |s| s.begin_outbox_piece(id, piece, &fresh))
                .await?;
            let message = item_message(&entry.peer_id, token, item, client_id.clone());
            self.pace().await;
            match self.client.sendmessage(&message).await {
                Ok(server) => {
                    let (stored, token) = (server.clone(), token.to_owned());
                    self.rt
                        .store
                        .call(move |s| s.finish_outbox_piece(id, piece, stored.as_deref(), &token))
                        .await?;
                    last = (client_id, server);
                }
                Err(e) => return Ok(Some(Failure::Wire(e))),
            }
        }
        let (now, (cid, sid)) = (self.rt.now_ms(), last);
        self.rt
            .store
            .call(move |s| s.mark_outbox_delivered(id, &cid, sid.as_deref(), now))
            .await?;
        self.announce(entry, OutboxState::Delivered, None).await?;
        Ok(None)
    }

    /// Waits until the send interval has passed since this account's last send, and
    /// counts this one.
    async fn pace(&mut self) {
        self.pace_wait().await;
        self.last_send = Some(Instant::now());
    }

    /// Waits until the send interval has passed since this account's last send.
    async fn pace_wait(&self) {
        if let Some(last) = self.last_send {
            tokio::time::sleep_until(last + self.interval).await;
        }
    }

    /// When a message waiting for the reply window expires.
    fn window_expiry(&self, entry: &OutboxEntry) -> Instant {
        let limit = duration_ms(self.rt.timings.window_wait_limit);
        let left = waits_from(entry)
            .saturating_add(limit)
            .saturating_sub(self.rt.now_ms())
            .max(0);
        // Just past the limit, so the next pass sees it expired.
        Instant::now() + Duration::from_millis(left.unsigned_abs() + 1)
    }

    /// Moves the entry to `state` unless it finished meanwhile (a cancel); returns
    /// whether it moved.
    async fn set_state(
        &self,
        entry: &OutboxEntry,
        state: OutboxState,
        error: Option<&str>,
    ) -> Result<bool, super::EngineError> {
        let (id, now) = (entry.id, self.rt.now_ms());
        let stored_error = error.map(str::to_owned);
        let moved = self
            .rt
            .store
            .call(move |s| s.set_outbox_state(id, state, stored_error.as_deref(), now))
            .await?;
        if moved {
            self.announce(entry, state, error).await?;
        }
        Ok(moved)
    }

    /// Fails the entry for good, or holds it until the peer writes, unless it finished
    /// meanwhile (a cancel); returns whether it settled now.
    async fn settle(
        &self,
        entry: &OutboxEntry,
        outcome: OutboxOutcome,
        reason: &str,
    ) -> Result<bool, super::EngineError> {
        let (id, now, detail) = (entry.id, self.rt.now_ms(), reason.to_owned());
        let settled = self
            .rt
            .store
            .call(move |s| s.settle_outbox(id, outcome, &detail, now))
            .await?;
        if settled {
            self.announce(entry, outcome.state(), Some(reason)).await?;
        }
        Ok(settled)
    }

    /// Tells everyone the entry's new state, and that of the entries merged with it.
    async fn announce(
        &self,
        entry: &OutboxEntry,
        state: OutboxState,
        error: Option<&str>,
    ) -> Result<(), super::EngineError> {
        let id = entry.id;
        let group = self.rt.store.call(move |s| s.outbox_group(id)).await?;
        for member in &group {
            self.rt.emit(EngineEvent::DeliveryUpdated {
                outbox_id: member.id,
                account_id: member.account_id.clone(),
                peer_id: member.peer_id.clone(),
                message_row_id: member.message_row_id,
                state,
                error: error.map(str::to_owned),
            });
        }
        Ok(())
    }
}

/// When a message starts waiting for the peer: when it was written, or its time.
fn waits_from(entry: &OutboxEntry) -> i64 {
    entry
        .due_ms
        .map_or(entry.created_ms, |due| due.max(entry.created_ms))
}

/// `26 h`, `90 min`, `300 ms`: the largest unit that divides evenly.
fn describe_ms(ms: i64) -> String {
    const UNITS: [(i64, &str); 4] = [(3_600_000, "h"), (60_000, "min"), (1_000, "s"), (1, "ms")];
    UNITS
        .iter()
        .find(|(size, _)| ms >= *size && ms % size == 0)
        .map_or_else(
            || format!("{ms} ms"),
            |(size, unit)| format!("{} {unit}", ms / size),
        )
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A new `client_id`: `weixin-desk:<epoch ms>-<8 hex>` (docs/protocol.md §5.4).
pub(crate) fn new_client_id(now_ms: i64) -> String {
    let suffix: u32 = rand::rng().random();
    format!("weixin-desk:{now_ms}-{suffix:08x}")
}

/// A text item.
fn text_item(text: &str) -> MessageItem {
    MessageItem {
        item_type: Some(ItemType::Text),
        text_item: Some(TextItem {
            text: Some(text.to_owned()),
        }),
        ..MessageItem::default()
    }
}

/// One outbound request (§5.4): one item, FINISH, the peer's raw id, the token.
fn item_message(
    peer_id: &str,
    context_token: &str,
    item: MessageItem,
    client_id: String,
) -> WeixinMessage {
    WeixinMessage {
        from_user_id: Some(String::new()),
        to_user_id: Some(peer_id.to_owned()),
        client_id: Some(client_id),
        message_type: Some(MessageType::Bot),
        message_state: Some(MessageState::Finish),
        item_list: Some(vec![item]),
        context_token: Some(context_token.to_owned()),
        ..WeixinMessage::default()
    }
}

/// Why one delivery attempt did not finish.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The server or the connection said no.
    #[error(transparent)]
    Wire(IlinkError),
    /// Worth another attempt later.
    #[error("{0}")]
    Retry(String),
    /// Will not get better by retrying.
    #[error("{0}")]
    Permanent(String),
}

impl From<MediaError> for Failure {
    fn from(e: MediaError) -> Failure {
        match e {
            MediaError::UploadUrl(wire) => Failure::Wire(wire),
            MediaError::UploadFailed { .. } | MediaError::Network(_) | MediaError::NoUploadUrl => {
                Failure::Retry(e.to_string())
            }
            other => Failure::Permanent(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(describe_ms(24 * 3_600_000), "24 h");
        assert_eq!(describe_ms(90 * 60_000), "90 min");
        assert_eq!(describe_ms(300), "300 ms");
        assert_eq!(describe_ms(0), "0 ms");
    }

    #[test]
    fn outbound_text_has_one_item_and_a_fresh_client_id() {
        let m = item_message("Peer@im.wechat", "ctx", text_item("hi"), new_client_id(1));
        assert_eq!(m.to_user_id.as_deref(), Some("Peer@im.wechat"));
        assert_eq!(m.item_list.as_ref().unwrap().len(), 1);
        let id = m.client_id.unwrap();
        assert!(id.starts_with("weixin-desk:"), "{id}");
        assert_ne!(new_client_id(1), new_client_id(1));
    }
}
