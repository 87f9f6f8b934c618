//! The reply loop. Inbound messages are checked against the settings, then queued per
//! memory scope: a scope runs one model call at a time (docs/architecture.md, invariant 6), and whatever
//! arrives meanwhile becomes the next turn. A run shows "typing" (kept alive, cancelled
//! at the end), streams the reply through the markdown filter into blocks, and on a
//! provider failure sends the peer a polite notice and tells the owner.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ilink::text::MarkdownFilter;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tokio_util::sync::CancellationToken;

use super::blocks::Blocks;
use super::client::{ProviderClient, StreamEvent};
use super::images::{fetch_image, image_links};
use super::policy::{self, Moment, Skip};
use super::prompt;
use super::provider::{chat_request, ChatMessage, API_KEY_PROFILE};
use super::settings::{AccountAiSettings, AiTimings, GlobalAiSettings};
use super::silence::SilenceRule;
use super::{commands, AiEvent};
use crate::redact::redact;
use crate::secrets::{Secret, SecretKey};
use crate::store::ai::{AiMemoryRow, AiMessageRow, AiPeerRow};
use crate::{CoreError, Engine, EngineError, EngineEvent, Store};

const HOUR_MS: i64 = 60 * 60 * 1000;
pub(crate) const GLOBAL_KEY: &str = "global";

/// One inbound message waiting for (or in) a run.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub row: AiMessageRow,
    /// When the AI side saw it (epoch ms), for the timing reports.
    pub received_ms: i64,
}

pub(crate) struct Shared {
    pub engine: Arc<Engine>,
    pub client: ProviderClient,
    /// For images linked in replies (refuses private hosts unless allowed).
    pub image_http: reqwest::Client,
    pub allow_private_images: bool,
    pub timings: AiTimings,
    /// The API key once read (`Some(None)`: none is stored).
    pub api_key: Mutex<Option<Option<Secret>>>,
    /// Scopes with a run under way, and what waits for their next turn.
    scopes: Mutex<HashMap<String, Vec<Inbound>>>,
    /// Accepted messages per (account, peer) in the last hour.
    rates: Mutex<HashMap<(String, String), VecDeque<i64>>>,
    /// Per scope, the newest message a turn gave a provider that keeps the conversation
    /// (the OpenClaw gateway): a silent turn has no reply to mark where the agent is.
    seen_upto: Mutex<HashMap<String, i64>>,
    pub stop: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn new(
        engine: Arc<Engine>,
        client: ProviderClient,
        image_http: reqwest::Client,
        allow_private_images: bool,
        timings: AiTimings,
    ) -> Shared {
        Shared {
            engine,
            client,
            image_http,
            allow_private_images,
            timings,
            api_key: Mutex::new(None),
            scopes: Mutex::new(HashMap::new()),
            rates: Mutex::new(HashMap::new()),
            seen_upto: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.engine.clock().now_ms()
    }

    fn emit(&self, event: AiEvent) {
        self.engine.emit_ai(event);
    }

    /// The newest message of the scope its provider has seen (0: none known).
    pub fn seen_upto(&self, scope: &str) -> i64 {
        lock(&self.seen_upto).get(scope).copied().unwrap_or(0)
    }

    fn mark_seen(&self, scope: &str, id: i64) {
        let mut seen = lock(&self.seen_upto);
        let upto = seen.entry(scope.to_owned()).or_insert(0);
        *upto = (*upto).max(id);
    }

    /// Queues an AI-side text (a reply, a notice, a command's answer).
    pub async fn send(&self, account_id: &str, peer_id: &str, text: &str) -> bool {
        match self.engine.send_ai_text(account_id, peer_id, text).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(account_id, error = %e, "cannot queue an AI message");
                false
            }
        }
    }
}

/// Reads a settings document, falling back to the defaults (and saying so) when it
/// does not parse.
pub(crate) fn parse_or_default<T: serde::de::DeserializeOwned + Default>(
    json: Option<String>,
    what: &str,
) -> T {
    match json.map(|j| serde_json::from_str(&j)) {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            tracing::warn!(what, error = %e, "unreadable AI settings: using defaults");
            T::default()
        }
        None => T::default(),
    }
}

/// Everything one decision or run needs from the store.
pub(crate) struct Context {
    pub global: GlobalAiSettings,
    pub account: AccountAiSettings,
    pub peer: AiPeerRow,
    pub owner: Option<String>,
    pub peer_name: Option<String>,
}

pub(crate) async fn load_context(
    engine: &Engine,
    account_id: &str,
    peer_id: &str,
) -> Result<Option<Context>, EngineError> {
    let (a, p) = (account_id.to_owned(), peer_id.to_owned());
    engine.store().call(move |s| read_context(s, &a, &p)).await
}

fn read_context(s: &Store, a: &str, p: &str) -> Result<Option<Context>, CoreError> {
    let Some(account) = s.account(a)? else {
        return Ok(None);
    };
    Ok(Some(Context {
        global: parse_or_default(s.ai_config(GLOBAL_KEY)?, "global"),
        account: parse_or_default(s.ai_account_settings(a)?, "account"),
        peer: s.ai_peer(a, p)?,
        owner: account.user_id,
        peer_name: s.peer_display_name(a, p)?,
    }))
}

pub(crate) fn minute_of_day(now_ms: i64) -> u16 {
    use chrono::{TimeZone, Timelike};
    chrono::Local
        .timestamp_millis_opt(now_ms)
        .single()
        .map(|t| (t.hour() * 60 + t.minute()) as u16)
        .unwrap_or(0)
}

fn local_date(now_ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_millis_opt(now_ms)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Follows the engine's events until stopped.
pub(crate) async fn run_events(shared: Arc<Shared>, mut rx: Receiver<EngineEvent>) {
    loop {
        let event = tokio::select! {
            biased;
            () = shared.stop.cancelled() => return,
            event = rx.recv() => event,
        };
        match event {
            Ok(EngineEvent::MessageReceived {
                account_id,
                peer_id,
                message_row_id,
                ..
            }) => {
                let received_ms = shared.now_ms();
                // In arrival order, one at a time (runs themselves are spawned), so a
                // burst coalesces in the order the peer wrote it.
                if let Err(e) =
                    on_inbound(&shared, &account_id, &peer_id, message_row_id, received_ms).await
                {
                    tracing::warn!(account_id, error = %e, "AI: inbound not handled");
                }
            }
            Ok(EngineEvent::DeliveryUpdated {
                account_id,
                peer_id,
                message_row_id: Some(row_id),
                state: crate::store::OutboxState::Queued,
                ..
            }) => {
                if let Err(e) = on_owner_send(&shared, &account_id, &peer_id, row_id).await {
                    tracing::warn!(account_id, error = %e, "AI: takeover not recorded");
                }
            }
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "AI: fell behind the engine's events");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// A manual send from the owner (not written by the AI) starts a takeover.
async fn on_owner_send(
    shared: &Shared,
    account_id: &str,
    peer_id: &str,
    row_id: i64,
) -> Result<(), EngineError> {
    let now = shared.now_ms();
    let (a, p) = (account_id.to_owned(), peer_id.to_owned());
    let until = shared
        .engine
        .store()
        .call(move |s| {
            let Some(row) = s.ai_message(row_id)? else {
                return Ok(None);
            };
            if row.ai_generated || row.direction != "out" {
                return Ok(None);
            }
            let account: AccountAiSettings =
                parse_or_default(s.ai_account_settings(&a)?, "account");
            if account.takeover_minutes == 0 {
                return Ok(None);
            }
            let until = now + i64::from(account.takeover_minutes) * 60_000;
            let mut peer = s.ai_peer(&a, &p)?;
            peer.takeover_until_ms = Some(until);
            s.set_ai_peer(&a, &p, &peer)?;
            Ok(Some(until))
        })
        .await?;
    if let Some(until_ms) = until {
        tracing::info!(
            account_id,
            "AI: owner replied by hand, AI paused for this peer"
        );
        shared.emit(AiEvent::TakeoverStarted {
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
            until_ms,
        });
    }
    Ok(())
}

async fn on_inbound(
    shared: &Arc<Shared>,
    account_id: &str,
    peer_id: &str,
    row_id: i64,
    received_ms: i64,
) -> Result<(), EngineError> {
    // One store call for the message and every setting that decides about it.
    let (a, p) = (account_id.to_owned(), peer_id.to_owned());
    let found = shared
        .engine
        .store()
        .call(move |s| {
            let Some(row) = s.ai_message(row_id)?.filter(|r| r.direction == "in") else {
                return Ok(None);
            };
            Ok(read_context(s, &a, &p)?.map(|ctx| (row, ctx)))
        })
        .await?;
    let Some((row, ctx)) = found else {
        return Ok(());
    };
    let inbound = Inbound { row, received_ms };
    let from_owner = ctx
        .owner
        .as_deref()
        .is_some_and(|o| o.eq_ignore_ascii_case(peer_id));
    if from_owner && commands::handle(shared, &ctx, &inbound).await {
        return Ok(());
    }
    let now = shared.now_ms();
    let rate_key = (account_id.to_owned(), peer_id.to_lowercase());
    let runs_last_hour = {
        let mut rates = lock(&shared.rates);
        let times = rates.entry(rate_key.clone()).or_default();
        while times.front().is_some_and(|t| *t <= now - HOUR_MS) {
            times.pop_front();
        }
        times.len()
    };
    let moment = Moment {
        peer_id,
        now_ms: now,
        minute_of_day: minute_of_day(now),
        runs_last_hour: Some(runs_last_hour),
    };
    if let Err(skip) = policy::decide(&ctx.global, &ctx.account, &ctx.peer, moment) {
        forget_refused(shared, &ctx, account_id, peer_id, skip, inbound.row.id);
        skipped(shared, account_id, peer_id, skip);
        return Ok(());
    }
    lock(&shared.rates)
        .entry(rate_key)
        .or_default()
        .push_back(now);
    let scope = prompt::scope_key(ctx.account.memory_scope, account_id, peer_id);
    {
        let mut scopes = lock(&shared.scopes);
        if let Some(pending) = scopes.get_mut(&scope) {
            pending.push(inbound);
            let waiting = pending.len() as u32;
            drop(scopes);
            shared.emit(AiEvent::Queued {
                account_id: account_id.to_owned(),
                peer_id: peer_id.to_owned(),
                waiting,
            });
            return Ok(());
        }
        scopes.insert(scope.clone(), Vec::new());
    }
    tokio::spawn(run_scope(Arc::clone(shared), scope, vec![inbound], ctx));
    Ok(())
}

/// Messages refused because they would have reached the gateway's main agent never
/// reach it later either, not even as context once the owner confirms it: the gateway
/// counts them as seen.
fn forget_refused(
    shared: &Shared,
    ctx: &Context,
    account_id: &str,
    peer_id: &str,
    skip: Skip,
    upto_id: i64,
) {
    if skip == Skip::MainAgentUnconfirmed {
        let scope = prompt::scope_key(ctx.account.memory_scope, account_id, peer_id);
        shared.mark_seen(&scope, upto_id);
    }
}

fn skipped(shared: &Shared, account_id: &str, peer_id: &str, skip: Skip) {
    tracing::debug!(account_id, reason = skip.as_str(), "AI: no reply");
    shared.emit(AiEvent::Skipped {
        account_id: account_id.to_owned(),
        peer_id: peer_id.to_owned(),
        reason: skip.as_str().to_owned(),
    });
}

/// Runs a scope's turns until nothing waits. Pending messages of one (account, peer)
/// form a turn; other peers sharing the scope get their own turns, in arrival order.
async fn run_scope(shared: Arc<Shared>, scope: String, mut batch: Vec<Inbound>, ctx: Context) {
    // Frees the scope even if a turn panics, so it can never stay "running" forever.
    struct Release<'a>(&'a Shared, &'a str);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                lock(&self.0.scopes).remove(self.1);
            }
        }
    }
    let _release = Release(&shared, &scope);
    // The first turn was decided just now; later ones re-read the settings.
    let mut decided = Some(ctx);
    loop {
        run_turn(&shared, &scope, batch, decided.take()).await;
        let mut scopes = lock(&shared.scopes);
        let Some(pending) = scopes.get_mut(&scope) else {
            return;
        };
        if pending.is_empty() || shared.stop.is_cancelled() {
            scopes.remove(&scope);
            return;
        }
        let first = (
            &pending[0].row.account_id,
            pending[0].row.peer_id.to_lowercase(),
        );
        let (account, peer) = (first.0.clone(), first.1);
        let (next, rest): (Vec<Inbound>, Vec<Inbound>) = pending
            .drain(..)
            .partition(|i| i.row.account_id == account && i.row.peer_id.to_lowercase() == peer);
        *pending = rest;
        batch = next;
        batch.sort_by_key(|i| i.row.id);
    }
}

async fn run_turn(
    shared: &Arc<Shared>,
    scope: &str,
    mut batch: Vec<Inbound>,
    decided: Option<Context>,
) {
    let Some(first) = batch.first() else { return };
    let (account_id, peer_id) = (first.row.account_id.clone(), first.row.peer_id.clone());
    let ctx = match decided {
        Some(ctx) => ctx,
        None => {
            let ctx = match load_context(&shared.engine, &account_id, &peer_id).await {
                Ok(Some(ctx)) => ctx,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(account_id, error = %e, "AI: cannot load settings");
                    return;
                }
            };
            // Settings may have changed while the turn waited (a takeover, a pause).
            let now = shared.now_ms();
            let moment = Moment {
                peer_id: &peer_id,
                now_ms: now,
                minute_of_day: minute_of_day(now),
                runs_last_hour: None,
            };
            if let Err(skip) = policy::decide(&ctx.global, &ctx.account, &ctx.peer, moment) {
                let newest = batch.iter().map(|i| i.row.id).max().unwrap_or(0);
                forget_refused(shared, &ctx, &account_id, &peer_id, skip, newest);
                skipped(shared, &account_id, &peer_id, skip);
                return;
            }
            ctx
        }
    };
    shared.emit(AiEvent::RunStarted {
        account_id: account_id.clone(),
        peer_id: peer_id.clone(),
        inbound: batch.len() as u32,
    });
    let dispatched_ms = shared.now_ms();
    let typing = Typing::start(shared, &account_id, &peer_id);
    if ctx.global.provider.vision {
        await_images(shared, &mut batch).await;
    }
    let outcome = reply(shared, scope, &ctx, &batch).await;
    typing.stop().await;
    match outcome {
        Ok(Replied::Sent { sent, dropped }) => shared.emit(AiEvent::RunFinished {
            account_id: account_id.clone(),
            peer_id: peer_id.clone(),
            messages_sent: sent,
            dropped_chars: dropped,
        }),
        Ok(Replied::Silent(reason)) => {
            tracing::info!(account_id, reason, "AI: chose not to answer");
            shared.emit(AiEvent::NoReply {
                account_id: account_id.clone(),
                peer_id: peer_id.clone(),
                reason,
            });
        }
        Err(reason) => {
            let key = lock(&shared.api_key).clone().flatten();
            let reason = redact(&reason, key.as_ref().map(Secret::expose).as_slice());
            tracing::warn!(account_id, error = %reason, "AI: the provider failed");
            let notice = ctx.account.error_notice.as_deref().map(str::trim);
            // Stopping the app is not the provider's failure: no notice then.
            let notice = notice.filter(|n| !n.is_empty() && !shared.stop.is_cancelled());
            let notice_sent = match notice {
                Some(text) => shared.send(&account_id, &peer_id, text).await,
                None => false,
            };
            shared.emit(AiEvent::RunFailed {
                account_id: account_id.clone(),
                peer_id: peer_id.clone(),
                reason,
                notice_sent,
            });
        }
    }
    if ctx.account.debug {
        let Some(last) = batch.last() else { return };
        let report =
            commands::debug_report(&last.row, last.received_ms, dispatched_ms, shared.now_ms());
        shared.send(&account_id, &peer_id, &report).await;
    }
}

/// For a vision model: waits (bounded by `media_wait`) until the turn's inbound images
/// are downloaded or given up on, then re-reads their rows (with the saved path).
async fn await_images(shared: &Shared, batch: &mut [Inbound]) {
    let pending = |b: &[Inbound]| -> Vec<i64> {
        b.iter()
            .filter(|i| i.row.item_kind == "image" && i.row.media_state == "pending")
            .map(|i| i.row.id)
            .collect()
    };
    if pending(batch).is_empty() {
        return;
    }
    // Subscribe before re-reading, so a download finishing in between is not missed.
    let mut rx = shared.engine.subscribe();
    let deadline = tokio::time::Instant::now() + shared.timings.media_wait;
    loop {
        let ids = pending(batch);
        if ids.is_empty() {
            return;
        }
        let rows = shared
            .engine
            .store()
            .call(move |s| {
                ids.iter()
                    .map(|id| s.ai_message(*id))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await;
        let Ok(rows) = rows else { return };
        for row in rows.into_iter().flatten() {
            if let Some(item) = batch.iter_mut().find(|i| i.row.id == row.id) {
                item.row = row;
            }
        }
        if pending(batch).is_empty() {
            return;
        }
        loop {
            let event = tokio::select! {
                () = tokio::time::sleep_until(deadline) => return,
                event = rx.recv() => event,
            };
            match event {
                Ok(EngineEvent::MediaReady { .. } | EngineEvent::MediaFailed { .. })
                | Err(RecvError::Lagged(_)) => break,
                Ok(_) => {}
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// The provider's API key: read once from the secret store (on a blocking thread, as
/// the keyring may wait on D-Bus), then kept in memory until it is set again.
pub(crate) async fn api_key(shared: &Shared) -> Option<Secret> {
    if let Some(cached) = lock(&shared.api_key).clone() {
        return cached;
    }
    let secrets = shared.engine.secrets();
    let read =
        tokio::task::spawn_blocking(move || secrets.get(&SecretKey::ai_api_key(API_KEY_PROFILE)))
            .await;
    match read {
        Ok(Ok(key)) => {
            *lock(&shared.api_key) = Some(key.clone());
            key
        }
        Ok(Err(e)) => {
            // Not cached: the keyring may come back.
            tracing::warn!(error = %e, "AI: cannot read the API key");
            None
        }
        Err(_) => None,
    }
}

/// The messages a turn sends, and the scope's session key.
pub(crate) async fn build_messages(
    engine: &Engine,
    scope: &str,
    ctx: &Context,
    batch: &[Inbound],
    seen_upto: i64,
) -> Result<(Vec<ChatMessage>, String), EngineError> {
    let (account_id, peer_id) = (&batch[0].row.account_id, &batch[0].row.peer_id);
    let batch_ids: Vec<i64> = batch.iter().map(|i| i.row.id).collect();
    let newest = batch_ids.iter().copied().max().unwrap_or(i64::MAX);
    let filter = prompt::history_filter(ctx.account.memory_scope, account_id, peer_id);
    let (scope_key, limit) = (scope.to_owned(), ctx.global.history_messages as usize);
    let keeps_history = ctx.global.provider.keeps_history();
    let notice = ctx.account.error_notice.clone();
    let (memory, rows): (AiMemoryRow, Vec<AiMessageRow>) = engine
        .store()
        .call(move |s| {
            let memory = s.ai_memory(&scope_key)?;
            // Everything said in the scope except this turn's messages and inbound
            // ones waiting for later turns; replies stored after this turn's first
            // message (answers to the previous turn) are history too.
            let slack = limit + batch_ids.len() + 32;
            let rows: Vec<AiMessageRow> = s
                .ai_history(&filter, memory.reset_after_id, i64::MAX, slack)?
                .into_iter()
                .filter(|r| !batch_ids.contains(&r.id))
                .filter(|r| !(r.direction == "in" && r.id > newest))
                .collect();
            // A provider that keeps the conversation gets only what it has not seen.
            let rows = if keeps_history {
                prompt::unseen_by_agent(rows, seen_upto, notice.as_deref())
            } else {
                rows
            };
            Ok((memory, rows.into_iter().take(limit).collect()))
        })
        .await?;
    let mut messages = Vec::new();
    let persona = ctx.peer.persona.as_deref().unwrap_or(&ctx.account.persona);
    let now = engine.clock().now_ms();
    let name = ctx.peer_name.as_deref().unwrap_or(peer_id);
    let persona = prompt::render_persona(persona, name, &local_date(now));
    if !persona.trim().is_empty() {
        messages.push(ChatMessage::new("system", persona));
    }
    if !memory.summary.trim().is_empty() {
        messages.push(ChatMessage::new(
            "system",
            format!("对话摘要（之前的内容）：\n{}", memory.summary),
        ));
    }
    messages.extend(prompt::history_messages(
        &rows,
        ctx.global.history_messages,
        ctx.global.history_tokens,
    ));
    let root: Option<PathBuf> = engine.media_root();
    let rows: Vec<AiMessageRow> = batch.iter().map(|i| i.row.clone()).collect();
    messages.push(prompt::user_turn(
        &rows,
        ctx.global.provider.vision,
        |path| {
            let root = root.as_ref()?;
            let full = root.join(path);
            // Only files under the data directory.
            if !full.starts_with(root) || path.contains("..") {
                return None;
            }
            std::fs::read(full).ok()
        },
    ));
    Ok((messages, prompt::session_key(scope, memory.reset_after_id)))
}

/// How a run ended well.
enum Replied {
    /// Messages sent, characters dropped over the cap.
    Sent { sent: u32, dropped: u32 },
    /// The AI chose not to answer, and how that showed.
    Silent(String),
}

/// Streams one reply and sends it; says what was sent (or that the AI chose silence),
/// or why it failed.
async fn reply(
    shared: &Arc<Shared>,
    scope: &str,
    ctx: &Context,
    batch: &[Inbound],
) -> Result<Replied, String> {
    let (account_id, peer_id) = (&batch[0].row.account_id, &batch[0].row.peer_id);
    let newest = batch.iter().map(|i| i.row.id).max().unwrap_or(0);
    let (messages, session_key) =
        build_messages(&shared.engine, scope, ctx, batch, shared.seen_upto(scope))
            .await
            .map_err(|e| e.to_string())?;
    let config = &ctx.global.provider;
    let request = chat_request(config, &messages, &session_key, Some(peer_id), None);
    let key = api_key(shared).await;
    let t = &shared.timings;
    let limits = t.for_preset(config.preset);
    let silence = SilenceRule::new(config, &ctx.global.silence_token);
    let mut stream = shared
        .client
        .stream(config, key, request, limits.first_byte, limits.stall);
    let mut filter = MarkdownFilter::new();
    let split_limit = ctx.global.split_limit as usize;
    let mut blocks = Blocks::new(t.block_min_chars, split_limit, t.max_messages);
    let mut raw = String::new();
    // Nothing is sent while the reply may still be the silence token.
    let mut held = true;
    let mut sent = 0u32;
    let started = tokio::time::Instant::now();
    let deadline = started + limits.run;
    let every = t.still_working_every.max(Duration::from_millis(10));
    let mut still_working = tokio::time::interval_at(started + every, every);
    // `Some(why)`: the AI chose silence.
    let silent = loop {
        let event = tokio::select! {
            biased;
            () = shared.stop.cancelled() => return Err("the app is stopping".into()),
            () = tokio::time::sleep_until(deadline) => {
                return Err(format!("no complete reply within {:?}", limits.run));
            }
            event = stream.events.recv() => event,
            () = tokio::time::sleep(t.block_idle), if !blocks.is_empty() => {
                for block in blocks.flush_idle() {
                    sent += u32::from(shared.send(account_id, peer_id, &block).await);
                }
                continue;
            }
            _ = still_working.tick() => {
                shared.emit(AiEvent::StillWorking {
                    account_id: account_id.clone(),
                    peer_id: peer_id.clone(),
                    elapsed_ms: started.elapsed().as_millis() as u64,
                });
                continue;
            }
        };
        match event {
            Some(StreamEvent::Text(text)) => {
                raw.push_str(&text);
                if held && silence.undecided(&raw) {
                    continue;
                }
                let piece = if held { raw.clone() } else { text };
                held = false;
                for block in blocks.push(&filter.push(&piece)) {
                    sent += u32::from(shared.send(account_id, peer_id, &block).await);
                }
            }
            Some(StreamEvent::Done { .. }) => {
                if held && silence.is_silent(&raw) {
                    break Some(if raw.trim().is_empty() {
                        "the reply was empty".to_owned()
                    } else {
                        format!("the reply was the silence token {:?}", raw.trim())
                    });
                }
                if held {
                    // A beginning of the token that went on no further: a reply after all.
                    for block in blocks.push(&filter.push(&raw)) {
                        sent += u32::from(shared.send(account_id, peer_id, &block).await);
                    }
                }
                break None;
            }
            Some(StreamEvent::Failed(e)) if held && silence.is_silent_failure(&e) => {
                break Some(format!("the gateway reported a turn without a reply ({e})"));
            }
            Some(StreamEvent::Failed(e)) => return Err(e.to_string()),
            None => return Err("the provider stream ended unexpectedly".into()),
        }
    };
    drop(stream);
    if config.keeps_history() {
        shared.mark_seen(scope, newest);
    }
    if let Some(reason) = silent {
        return Ok(Replied::Silent(reason));
    }
    blocks.push(&filter.finish());
    let (rest, dropped) = blocks.finish();
    for block in rest {
        sent += u32::from(shared.send(account_id, peer_id, &block).await);
    }
    if dropped > 0 {
        tracing::info!(
            account_id,
            dropped_chars = dropped,
            "AI: the reply exceeded the message cap; the rest was cut"
        );
    }
    send_images(shared, account_id, peer_id, &raw).await;
    Ok(Replied::Sent {
        sent,
        dropped: dropped as u32,
    })
}

async fn send_images(shared: &Shared, account_id: &str, peer_id: &str, raw: &str) {
    let links = image_links(raw);
    if links.is_empty() {
        return;
    }
    for url in links {
        let fetched = fetch_image(
            &shared.image_http,
            &url,
            shared.timings.image_max_bytes,
            shared.timings.stall_timeout,
            shared.allow_private_images,
        )
        .await;
        let image = match fetched {
            Ok(image) => image,
            Err(e) => {
                tracing::warn!(account_id, error = %e, "AI: reply image not fetched");
                continue;
            }
        };
        let name = image.file_name();
        if let Err(e) = shared
            .engine
            .send_ai_image(account_id, peer_id, &name, image.bytes)
            .await
        {
            tracing::warn!(account_id, error = %e, "AI: reply image not queued");
        }
    }
}

/// The typing indicator of one run: started at once, re-sent every keepalive, cancelled
/// at the end — only when the peer has a typing ticket. Gives up after 3 failures.
struct Typing {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<bool>,
    shared: Arc<Shared>,
    account_id: String,
    peer_id: String,
}

impl Typing {
    fn start(shared: &Arc<Shared>, account_id: &str, peer_id: &str) -> Typing {
        let stop = CancellationToken::new();
        let (s, a, p, c) = (
            Arc::clone(shared),
            account_id.to_owned(),
            peer_id.to_owned(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            let keepalive = s.timings.typing_keepalive;
            let (mut started, mut failures) = (false, 0);
            // The poller fetches a new peer's ticket just after announcing the message:
            // without one yet, look again in the cache soon (no network), then less often.
            let mut no_ticket_wait = Duration::from_millis(25);
            loop {
                let wait = match s.engine.send_typing(&a, &p, true).await {
                    Ok(true) => {
                        started = true;
                        failures = 0;
                        keepalive
                    }
                    Ok(false) => {
                        let wait = no_ticket_wait.min(keepalive);
                        no_ticket_wait *= 2;
                        wait
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::debug!(account_id = a, error = %e, "typing failed");
                        if failures >= 3 {
                            return started;
                        }
                        keepalive
                    }
                };
                tokio::select! {
                    () = c.cancelled() => return started,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        });
        Typing {
            stop,
            task,
            shared: Arc::clone(shared),
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
        }
    }

    /// Stops the keepalive, then cancels (after any start still on the wire).
    async fn stop(self) {
        self.stop.cancel();
        let started = self.task.await.unwrap_or(false);
        if started {
            if let Err(e) = self
                .shared
                .engine
                .send_typing(&self.account_id, &self.peer_id, false)
                .await
            {
                tracing::debug!(account_id = self.account_id, error = %e, "typing cancel failed");
            }
        }
    }
}
