//! The reply loop. Inbound messages are checked against the settings, then queued per
//! memory scope: a scope runs one model call at a time (docs/architecture.md, invariant
//! 6), and whatever arrives meanwhile becomes the next turn. A run shows "typing" (kept
//! alive, cancelled at the end), streams the reply through the markdown filter into
//! blocks, and on a provider failure sends the peer a polite notice and tells the owner.
//!
//! By job: this module holds the state the jobs share and the context a turn reads;
//! `schedule` follows the engine's events and queues turns per scope; `turn` runs one
//! model call and sends its reply; `typing` keeps the typing indicator alive. The
//! owner's debug report is built in `ai::commands`.

mod schedule;
mod turn;
mod typing;

pub(crate) use schedule::run_events;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ilink::text::MarkdownFilter;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
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
#[derive(Clone)]
pub(crate) struct Context {
    pub global: GlobalAiSettings,
    pub account: AccountAiSettings,
    pub peer: AiPeerRow,
    pub owner: Option<String>,
    /// The name the peer is shown by (the owner's, else the server's).
    pub peer_name: Option<String>,
    /// The owner's note on the peer.
    pub peer_note: Option<String>,
}

impl Context {
    /// Whether `peer_id` is the account's owner (whose messages may be commands).
    pub fn is_owner(&self, peer_id: &str) -> bool {
        self.owner
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case(peer_id))
    }
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
    let card = s.peer_card(a, p)?;
    Ok(Some(Context {
        global: parse_or_default(s.ai_config(GLOBAL_KEY)?, "global"),
        account: parse_or_default(s.ai_account_settings(a)?, "account"),
        peer: s.ai_peer(a, p)?,
        owner: account.user_id,
        peer_name: card.as_ref().and_then(|c| c.display_name.clone()),
        peer_note: card.and_then(|c| c.note),
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
