//! Everything the emulator remembers, behind one `Arc<Mutex<…>>`. The lock is never held
//! across an `.await`; long-polls wait on a per-bot `Notify` instead.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::cdn::CdnStore;
use crate::corrupt::Corruption;
use crate::faults::FaultBook;
use crate::ids;
use crate::knobs::Knobs;
use crate::qr::QrBook;

/// The request log keeps this many entries; older ones are dropped.
const REQUEST_LOG_LIMIT: usize = 2000;

/// Errors of the control API.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SimError {
    #[error("unknown bot {0}")]
    UnknownBot(String),
    #[error("{peer} is not bound to bot {bot}")]
    UnknownPeer { bot: String, peer: String },
    #[error("unknown qrcode {0}")]
    UnknownQr(String),
    #[error("no context_token was issued for {peer} on bot {bot}")]
    NoContext { bot: String, peer: String },
    #[error("bot {bot} sent no message {message_id}")]
    UnknownSent { bot: String, message_id: u64 },
}

/// What a client gets at QR confirmation: the bot, its token and the WeChat user who
/// scanned (bound to the bot from the start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BotInfo {
    pub bot_id: String,
    pub token: String,
    pub user_id: String,
}

/// The item type a quote with no body names: one no published client knows.
pub const BODILESS_QUOTE_ITEM_TYPE: u64 = 31;

/// A bot as listed by [`crate::Sim::bots`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BotSummary {
    #[serde(flatten)]
    pub info: BotInfo,
    /// False once the token was revoked (or replaced by a new login of the same user).
    pub token_live: bool,
    pub peers: Vec<String>,
}

/// A message accepted by sendmessage, kept for test assertions.
#[derive(Debug, Clone, Serialize)]
pub struct SentMessage {
    pub message_id: u64,
    pub to_user_id: String,
    pub context_token: String,
    pub client_id: Option<String>,
    pub run_id: Option<String>,
    /// The single item, as sent.
    pub item: Value,
    /// Things a real WeChat client would show badly, e.g. `"voice not rendered"`.
    pub flags: Vec<String>,
    pub received_at_ms: u64,
}

/// One sendtyping call (E12).
#[derive(Debug, Clone, Serialize)]
pub struct TypingEvent {
    pub user_id: String,
    pub status: u8,
    pub at_ms: u64,
}

/// One notifystart (`online: true`) or notifystop call (E13).
#[derive(Debug, Clone, Serialize)]
pub struct PresenceEvent {
    pub online: bool,
    pub at_ms: u64,
}

/// One API request as received, for E2's request log.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    /// Increasing per emulator; lets a handler add notes to its own entry later.
    pub id: u64,
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    /// The parsed JSON body, or the raw text when it is not JSON.
    pub body: Value,
    /// Rule violations noticed (and, in strict mode, rejected).
    pub violations: Vec<String>,
    /// Things worth knowing that break no rule the server enforces (an unsanitised
    /// `bot_agent`, which the server uses only for observability).
    pub notes: Vec<String>,
    pub at_ms: u64,
}

impl LoggedRequest {
    pub(crate) fn new(
        endpoint: &str,
        headers: &axum::http::HeaderMap,
        body: Value,
        violations: Vec<String>,
    ) -> LoggedRequest {
        LoggedRequest {
            endpoint: endpoint.to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
            violations,
            notes: Vec::new(),
            at_ms: now_ms(),
            id: 0,
        }
    }
}

pub(crate) struct ContextToken {
    pub token: String,
    pub issued: Instant,
    pub expired: bool,
    pub replies: u32,
}

pub(crate) struct Queued {
    pub seq: u64,
    pub msg: Value,
    /// Already replayed (or decided not to be), or itself a replay (replays happen once).
    pub replayed: bool,
    /// When a poll last returned it.
    pub delivered_at: Option<Instant>,
    /// When a poll first returned it (epoch ms), for latency measurements.
    pub first_handed_out_ms: Option<f64>,
    /// A field sent in an odd shape (the `corrupt_message` knob), in every delivery.
    pub corruption: Option<Corruption>,
}

pub(crate) struct Bot {
    pub info: BotInfo,
    /// Creation order (bots are never removed, so the count at creation is unique).
    pub created: usize,
    pub token_live: bool,
    /// Users allowed as `to_user_id`; the scanning user is first.
    pub peers: Vec<String>,
    pub contexts: HashMap<String, ContextToken>,
    pub queue: Vec<Queued>,
    /// Highest seq a cursor has acknowledged.
    pub acked: u64,
    pub sent: Vec<SentMessage>,
    /// Accepted send times per peer, kept while a send rate limit is on.
    pub send_log: HashMap<String, VecDeque<Instant>>,
    pub tickets: HashMap<String, String>,
    pub typing: Vec<TypingEvent>,
    pub presence: Vec<PresenceEvent>,
    pub notify: Arc<Notify>,
}

impl Bot {
    pub fn last_seq(&self) -> u64 {
        self.queue.last().map_or(0, |q| q.seq)
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub knobs: Knobs,
    pub bots: HashMap<String, Bot>,
    /// Live token → bot id. Revoked tokens are removed, so they look unknown (-14).
    pub tokens: HashMap<String, String>,
    pub issued_ids: HashSet<u64>,
    pub requests: VecDeque<LoggedRequest>,
    next_request_id: u64,
    pub qrs: QrBook,
    pub faults: FaultBook,
    pub cdn: CdnStore,
    /// Our own API base, handed out as `baseurl` at QR confirmation (E1).
    pub base_url: String,
    /// `ip:port` of the second listener, handed out as `redirect_host` (E5).
    pub redirect_host: String,
    /// getupdates requests being served right now (most of them parked).
    pub polls_in_flight: usize,
    /// The demo's users while `--demo` runs (`GET /_sim/demo`), else empty.
    pub demo_peers: Vec<crate::demo::DemoPeer>,
    /// The replay draws and the `replay_seed` they started from.
    replay_rng: Option<(u64, StdRng)>,
}

pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the state. A panic while locked cannot leave it half-written in a way that
/// matters to a test double, so a poisoned lock is simply taken over.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl State {
    pub fn new(knobs: Knobs, base_url: String, redirect_host: String) -> State {
        State {
            knobs,
            base_url,
            redirect_host,
            ..State::default()
        }
    }

    /// Whether to replay a message (`replay_probability`), from the RNG of
    /// `replay_seed`, restarted when that knob changes.
    pub fn draw_replay(&mut self) -> bool {
        let seed = self.knobs.replay_seed;
        let probability = self.knobs.replay_probability.clamp(0.0, 1.0);
        let rng = match &mut self.replay_rng {
            Some((current, rng)) if *current == seed => rng,
            slot => &mut slot.insert((seed, StdRng::seed_from_u64(seed))).1,
        };
        rng.random::<f64>() < probability
    }

    /// A u64 id above 2^53 never issued before by this emulator.
    pub fn fresh_id(&mut self) -> u64 {
        loop {
            let id = ids::wire_id();
            if self.issued_ids.insert(id) {
                return id;
            }
        }
    }

    pub fn create_bot(&mut self) -> BotInfo {
        self.create_bot_for(None)
    }

    /// A new bot bound to `user`, or to a new user.
    pub fn create_bot_for(&mut self, user: Option<String>) -> BotInfo {
        let mut bot_id = ids::bot_id();
        while self.bots.contains_key(&bot_id) {
            bot_id = ids::bot_id();
        }
        let info = BotInfo {
            token: ids::bot_token(&bot_id),
            user_id: user.unwrap_or_else(ids::user_id),
            bot_id: bot_id.clone(),
        };
        self.tokens.insert(info.token.clone(), bot_id.clone());
        self.bots.insert(
            bot_id,
            Bot {
                info: info.clone(),
                created: self.bots.len(),
                token_live: true,
                peers: vec![info.user_id.clone()],
                contexts: HashMap::new(),
                queue: Vec::new(),
                acked: 0,
                sent: Vec::new(),
                send_log: HashMap::new(),
                tickets: HashMap::new(),
                typing: Vec::new(),
                presence: Vec::new(),
                notify: Arc::new(Notify::new()),
            },
        );
        info
    }

    /// All bots, oldest first.
    pub fn bot_list(&self) -> Vec<BotSummary> {
        let mut bots: Vec<BotSummary> = self
            .bots
            .values()
            .map(|b| BotSummary {
                info: b.info.clone(),
                token_live: b.token_live,
                peers: b.peers.clone(),
            })
            .collect();
        bots.sort_by_key(|b| self.bots.get(&b.info.bot_id).map(|bot| bot.created));
        bots
    }

    pub fn bot_mut(&mut self, bot: &str) -> Result<&mut Bot, SimError> {
        self.bots
            .get_mut(bot)
            .ok_or_else(|| SimError::UnknownBot(bot.to_owned()))
    }

    pub fn bot(&self, bot: &str) -> Result<&Bot, SimError> {
        self.bots
            .get(bot)
            .ok_or_else(|| SimError::UnknownBot(bot.to_owned()))
    }

    /// The bot a live token belongs to.
    pub fn bot_for_token(&self, token: &str) -> Option<&str> {
        self.tokens.get(token).map(String::as_str)
    }

    pub fn add_peer(&mut self, bot: &str, peer: &str) -> Result<(), SimError> {
        let bot = self.bot_mut(bot)?;
        if !bot.peers.iter().any(|p| p == peer) {
            bot.peers.push(peer.to_owned());
        }
        Ok(())
    }

    /// Queues an inbound text from `peer` (E9). Returns the message_id.
    pub fn inject_text(&mut self, bot_id: &str, peer: &str, text: &str) -> Result<u64, SimError> {
        self.inject_items(
            bot_id,
            peer,
            vec![json!({ "type": 1, "text_item": { "text": text } })],
        )
    }

    /// Queues an inbound message from `peer` carrying `items`, with the envelope of E9
    /// filled in: seq, a message_id above 2^53, a fresh context_token, and per item
    /// `msg_id` `"v1:<u64>"`, `is_completed` and timestamps unless the item sets them.
    /// Wakes any long-poll of that bot. Returns the message_id.
    pub fn inject_items(
        &mut self,
        bot_id: &str,
        peer: &str,
        items: Vec<Value>,
    ) -> Result<u64, SimError> {
        let message_id = self.fresh_id();
        let item_ids: Vec<u64> = items.iter().map(|_| self.fresh_id()).collect();
        let bot = self.bot(bot_id)?;
        if !bot.peers.iter().any(|p| p == peer) {
            return Err(SimError::UnknownPeer {
                bot: bot_id.to_owned(),
                peer: peer.to_owned(),
            });
        }
        let corruption = self.next_corruption();
        let bot = self.bot_mut(bot_id)?;
        let context_token = ids::random_b64(48);
        bot.contexts.insert(
            peer.to_owned(),
            ContextToken {
                token: context_token.clone(),
                issued: Instant::now(),
                expired: false,
                replies: 0,
            },
        );
        let seq = bot.last_seq() + 1;
        let now = now_ms();
        let items: Vec<Value> = items
            .into_iter()
            .zip(item_ids)
            .map(|(mut item, id)| {
                if let Value::Object(fields) = &mut item {
                    fields.entry("create_time_ms").or_insert(json!(now));
                    fields.entry("update_time_ms").or_insert(json!(now));
                    fields.entry("is_completed").or_insert(json!(true));
                    fields.entry("msg_id").or_insert(json!(format!("v1:{id}")));
                }
                item
            })
            .collect();
        let msg = json!({
            "seq": seq,
            "message_id": message_id,
            "from_user_id": peer,
            "to_user_id": bot_id,
            "client_id": format!("wx-sim-{}", ids::random_hex(8)),
            "create_time_ms": now,
            "update_time_ms": now,
            "session_id": "",
            "group_id": "",
            "message_type": 1,
            "message_state": 2,
            "context_token": context_token,
            "item_list": items,
        });
        bot.queue.push(Queued {
            seq,
            msg,
            replayed: false,
            delivered_at: None,
            first_handed_out_ms: None,
            corruption,
        });
        bot.notify.notify_waiters();
        Ok(message_id)
    }

    /// Queues a text from `peer` that quotes one of the bot's sent messages the way a
    /// newer WeChat can when a user quotes a bot (E9): the quoted item has an item type
    /// no client knows, no body and no `msg_id`, only its time (when the server took
    /// the send); `svr_id` is added only if `with_id`.
    pub fn inject_bodiless_quote(
        &mut self,
        bot_id: &str,
        peer: &str,
        text: &str,
        quoted_message_id: u64,
        with_id: bool,
    ) -> Result<u64, SimError> {
        let quoted = self
            .bot(bot_id)?
            .sent
            .iter()
            .find(|m| m.message_id == quoted_message_id)
            .ok_or_else(|| SimError::UnknownSent {
                bot: bot_id.to_owned(),
                message_id: quoted_message_id,
            })?;
        let mut reference = json!({
            "message_item": {
                "type": BODILESS_QUOTE_ITEM_TYPE,
                "create_time_ms": quoted.received_at_ms,
            },
        });
        if with_id {
            reference["svr_id"] = json!(quoted_message_id);
        }
        let item = json!({ "type": 1, "text_item": { "text": text }, "ref_msg": reference });
        self.inject_items(bot_id, peer, vec![item])
    }

    /// Queues `msg` again under a new seq, unchanged otherwise (same message_id, same
    /// odd field if it had one).
    pub fn replay(&mut self, bot_id: &str, mut msg: Value, corruption: Option<Corruption>) {
        let Some(bot) = self.bots.get_mut(bot_id) else {
            return;
        };
        let seq = bot.last_seq() + 1;
        msg["seq"] = json!(seq);
        bot.queue.push(Queued {
            seq,
            msg,
            replayed: true,
            delivered_at: None,
            first_handed_out_ms: None,
            corruption,
        });
        bot.notify.notify_waiters();
    }

    /// Counts down the `corrupt_message` knob: the odd shape for the message being
    /// queued, if it is the one; the knob clears itself once used.
    fn next_corruption(&mut self) -> Option<Corruption> {
        let plan = self.knobs.corrupt_message.as_mut()?;
        if plan.after > 0 {
            plan.after -= 1;
            return None;
        }
        let shape = plan.shape;
        self.knobs.corrupt_message = None;
        Some(shape)
    }

    pub fn expire_context(&mut self, bot_id: &str, peer: &str) -> Result<(), SimError> {
        let bot = self.bot_mut(bot_id)?;
        match bot.contexts.get_mut(peer) {
            Some(ctx) => {
                ctx.expired = true;
                Ok(())
            }
            None => Err(SimError::NoContext {
                bot: bot_id.to_owned(),
                peer: peer.to_owned(),
            }),
        }
    }

    /// Makes the bot's token stale: every later call with it gets -14, and a long-poll
    /// in flight is woken to say so.
    pub fn revoke_token(&mut self, bot_id: &str) -> Result<(), SimError> {
        let bot = self
            .bots
            .get_mut(bot_id)
            .ok_or_else(|| SimError::UnknownBot(bot_id.to_owned()))?;
        bot.token_live = false;
        self.tokens.remove(&bot.info.token);
        bot.notify.notify_waiters();
        Ok(())
    }

    /// The typing ticket of (bot, user), minted on first use and then stable (E11).
    pub fn ticket(&mut self, bot_id: &str, user: &str) -> Result<String, SimError> {
        let bot = self.bot_mut(bot_id)?;
        Ok(bot
            .tickets
            .entry(user.to_owned())
            .or_insert_with(|| ids::random_b64(24))
            .clone())
    }

    pub fn rotate_ticket(&mut self, bot_id: &str, user: &str) -> Result<String, SimError> {
        let bot = self.bot_mut(bot_id)?;
        let ticket = ids::random_b64(24);
        bot.tickets.insert(user.to_owned(), ticket.clone());
        Ok(ticket)
    }

    /// Appends to the request log and returns the entry's id.
    pub fn log_request(&mut self, mut entry: LoggedRequest) -> u64 {
        self.next_request_id += 1;
        entry.id = self.next_request_id;
        if self.requests.len() >= REQUEST_LOG_LIMIT {
            self.requests.pop_front();
        }
        self.requests.push_back(entry);
        self.next_request_id
    }

    /// Adds a note (no rule broken, worth knowing) to a request's log entry.
    pub fn add_note(&mut self, log_id: u64, note: String) {
        if let Some(entry) = self.requests.iter_mut().rev().find(|e| e.id == log_id) {
            entry.notes.push(note);
        }
    }

    /// Adds problems found after the checks of `auth` to that request's log entry
    /// (concurrent requests may have been logged since).
    pub fn note(&mut self, log_id: u64, problems: impl IntoIterator<Item = String>) {
        if let Some(entry) = self.requests.iter_mut().rev().find(|e| e.id == log_id) {
            entry.violations.extend(problems);
        }
    }
}
