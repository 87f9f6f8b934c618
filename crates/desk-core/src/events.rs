//! Everything the engine tells its observers, in one leaf module: the engine's and the
//! AI replies' events, account status and login state. `engine/` and `ai/` emit them
//! and depend on this module, never the other way round. Forwarded by the desktop
//! shell to the window and tray, printed by the CLI. Events never carry secrets: no
//! bot tokens, no cursors, no context tokens.

use serde::{Deserialize, Serialize};

use crate::store::OutboxState;

/// How many events a slow subscriber may fall behind before it misses some (it then
/// gets `RecvError::Lagged` and should reload from the store; an
/// [`crate::event_bus::EventFollower`] is also told what the missed events touched).
pub const EVENT_CAPACITY: usize = 4096;

/// Where one account's poller stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AccountStatus {
    /// Starting: notifystart and the first poll are under way.
    Connecting,
    /// The last long-poll succeeded.
    Online,
    /// Polls fail; the next try is at `until_ms` (epoch ms). `attempt` counts the
    /// consecutive failures.
    BackingOff { attempt: u32, until_ms: i64 },
    /// The server said -14 (docs/protocol.md §4): polling pauses until `until_ms`, then resumes
    /// with the same cursor. A new QR login replaces the token.
    StaleToken { until_ms: i64 },
    /// Enabled, but the account cannot run (no bot token in the secret store).
    Paused { reason: String },
    /// Not polling: stopped, disabled, or never started.
    Stopped,
}

impl AccountStatus {
    /// The name stored in `accounts.status` (`offline` when stopped, as for a new
    /// account).
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountStatus::Connecting => "connecting",
            AccountStatus::Online => "online",
            AccountStatus::BackingOff { .. } => "backing_off",
            AccountStatus::StaleToken { .. } => "stale_token",
            AccountStatus::Paused { .. } => "paused",
            AccountStatus::Stopped => "offline",
        }
    }
}

/// Everything the engine tells its observers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A new inbound message was committed to the store (after the transaction).
    MessageReceived {
        account_id: String,
        peer_id: String,
        /// `messages.id` of the stored row.
        message_row_id: i64,
        /// `text`, `image`, `voice`, `file`, `video` … as stored.
        item_kind: String,
        /// The start of the body text (at most [`PREVIEW_CHARS`] characters), for
        /// notifications; the full text is in the store.
        preview: Option<String>,
    },
    /// An account's poller changed state.
    AccountStatusChanged {
        account_id: String,
        status: AccountStatus,
    },
    /// An outbound message changed state.
    DeliveryUpdated {
        outbox_id: i64,
        account_id: String,
        peer_id: String,
        /// `messages.id` of the outbound log row.
        message_row_id: Option<i64>,
        state: OutboxState,
        /// Why it waits or failed, if it does.
        error: Option<String>,
    },
    /// A file being sent is uploading: `sent` of `total` (encrypted) bytes have gone to
    /// the CDN. Starts over from zero when an upload is retried.
    UploadProgress {
        outbox_id: i64,
        account_id: String,
        peer_id: String,
        sent: u64,
        total: u64,
    },
    /// The database failed its integrity check (run once in the background after the
    /// accounts start): SQLite's own words, for the owner to act on (restore a backup).
    StoreDamaged { detail: String },
    /// A QR login moved on ([`crate::Engine::start_login`]). Carries no token.
    LoginProgress { login_id: String, state: LoginState },
    /// A login by the same WeChat user replaced this account (docs/protocol.md §3.3 step 4): it
    /// is disabled, its token deleted, its log kept.
    AccountReplaced {
        account_id: String,
        replaced_by: String,
    },
    /// The account was removed; `kept_log` says whether its messages stayed.
    AccountRemoved { account_id: String, kept_log: bool },
    /// An inbound message's media is saved. `path` is absolute (the store keeps it
    /// relative to the data directory); `note` says why it is not in the usual form
    /// (voice kept in its codec because it could not be turned into WAV).
    MediaReady {
        account_id: String,
        peer_id: String,
        message_row_id: i64,
        path: String,
        /// `image`, `video`, `file` or `voice`.
        kind: String,
        mime: String,
        note: Option<String>,
    },
    /// An inbound message's media could not be saved (the message itself is kept).
    MediaFailed {
        account_id: String,
        peer_id: String,
        message_row_id: i64,
        kind: String,
        /// Why, for the window's sentence; `reason` has the details.
        failure: crate::views::MediaFailure,
        reason: String,
    },
    /// The account's alias changed (`None`: cleared).
    AccountRenamed {
        account_id: String,
        alias: Option<String>,
    },
    /// The owner named a peer or changed its note (kept in the store only, never sent
    /// to WeChat).
    PeerChanged { account_id: String, peer_id: String },
    /// Something happened in the AI replies (runs, failures, takeover).
    Ai { event: AiEvent },
}

/// Where a login stands, as the UI shows it. No secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoginState {
    /// A QR code to show: `url` is the text to encode.
    QrReady { url: String },
    /// The phone scanned the code (or accepted the verify code).
    Scanned,
    /// The phone shows a number: submit it.
    VerifyCodeNeeded,
    /// The submitted number was wrong: submit another.
    VerifyCodeWrong,
    /// Too many wrong numbers; a new QR code follows (or the login fails).
    VerifyCodeBlocked,
    /// The login moved to another data centre.
    Redirected { host: String },
    /// The code timed out; a new one follows (or the login fails).
    Expired,
    /// The `n`-th new QR code.
    Refreshed { n: u32 },
    /// Done: the account is stored and starting. `replaced` lists the accounts of the
    /// same WeChat user that it replaced.
    Confirmed {
        account_id: String,
        bot_id: String,
        user_id: Option<String>,
        replaced: Vec<String>,
    },
    /// This bot is already bound to this installation: nothing new was saved.
    AlreadyBound,
    /// The login was cancelled.
    Cancelled,
    /// The login ended without success: `reason` is the technical text, `problem` the
    /// kind a person is told about, when it has one.
    Failed {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "specta", specta(optional))]
        problem: Option<crate::Problem>,
    },
}

impl LoginState {
    /// Whether this is the last state of a login.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            LoginState::Confirmed { .. }
                | LoginState::AlreadyBound
                | LoginState::Cancelled
                | LoginState::Failed { .. }
        )
    }
}

/// What the AI replies tell the owner, as [`EngineEvent::Ai`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AiEvent {
    /// A model call began for these coalesced inbound messages.
    RunStarted {
        account_id: String,
        peer_id: String,
        inbound: u32,
    },
    /// A message arrived while its scope had a run under way: it waits for the next
    /// turn, with `waiting` messages in all.
    Queued {
        account_id: String,
        peer_id: String,
        waiting: u32,
    },
    /// The reply went out (`dropped_chars` did not fit the message cap).
    RunFinished {
        account_id: String,
        peer_id: String,
        messages_sent: u32,
        dropped_chars: u32,
    },
    /// A run is still waiting for its reply after `elapsed_ms` (sent every
    /// [`AiTimings::still_working_every`] while a long turn runs).
    StillWorking {
        account_id: String,
        peer_id: String,
        elapsed_ms: u64,
    },
    /// The AI chose not to answer (an empty reply, the silence token, or the gateway
    /// reporting a turn without a reply): nothing was sent, no notice either.
    NoReply {
        account_id: String,
        peer_id: String,
        reason: String,
    },
    /// The provider failed; `notice_sent` says whether the peer got the polite notice.
    RunFailed {
        account_id: String,
        peer_id: String,
        reason: String,
        notice_sent: bool,
    },
    /// A message got no AI reply, and why.
    Skipped {
        account_id: String,
        peer_id: String,
        reason: String,
    },
    /// The owner replied by hand: the AI is quiet for this peer until `until_ms`.
    TakeoverStarted {
        account_id: String,
        peer_id: String,
        until_ms: i64,
    },
    /// The owner gave the conversation back to the AI.
    TakeoverEnded { account_id: String, peer_id: String },
    /// AI settings changed (from the API or an owner's command): reload them.
    /// `account_id`/`peer_id` say whose (none: the global settings).
    SettingsChanged {
        account_id: Option<String>,
        peer_id: Option<String>,
    },
    /// An owner's slash command was handled.
    CommandHandled { account_id: String, command: String },
}

/// Longest `preview` in [`EngineEvent::MessageReceived`].
pub const PREVIEW_CHARS: usize = 140;

pub(crate) fn preview(text: Option<&str>) -> Option<String> {
    text.map(|t| t.chars().take(PREVIEW_CHARS).collect())
}

/// The sending half, cloned into every task.
pub(crate) type EventSender = std::sync::Arc<crate::event_bus::EventBus>;

pub(crate) fn emit(events: &EventSender, event: EngineEvent) {
    events.emit(event);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_forms_are_tagged() {
        let e = EngineEvent::AccountStatusChanged {
            account_id: "a".into(),
            status: AccountStatus::BackingOff {
                attempt: 2,
                until_ms: 5,
            },
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "account_status_changed", "account_id": "a",
                "status": {"state": "backing_off", "attempt": 2, "until_ms": 5}})
        );
        let d = EngineEvent::DeliveryUpdated {
            outbox_id: 1,
            account_id: "a".into(),
            peer_id: "p".into(),
            message_row_id: Some(3),
            state: OutboxState::WaitingForWindow,
            error: None,
        };
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["state"], "waiting_for_window");
        assert_eq!(serde_json::from_value::<EngineEvent>(json).unwrap(), d);
    }
}
