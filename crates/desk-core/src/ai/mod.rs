//! AI replies: an OpenAI-compatible provider answers peers on the owner's behalf. The
//! service runs beside the [`Engine`]: it listens to its events, decides who gets a
//! reply, runs one model call per memory scope at a time (later messages coalesce into
//! the next turn), streams the answer through the markdown filter into message blocks
//! and sends them with the engine's outbox marked `ai_generated`.

pub mod blocks;
pub mod client;
mod commands;
pub mod images;
pub mod openclaw;
pub mod policy;
pub mod prompt;
pub mod provider;
mod runner;
mod service;
pub mod settings;
pub mod silence;
pub mod sse;

use serde::{Deserialize, Serialize};

pub use client::{ConnectionCheck, ConnectionReport, ProviderClient, ProviderError};
pub use images::FetchedImage;
pub use provider::{Preset, ProviderConfig};
pub use service::{
    account_enabled_in, peer_state_in, AiConfig, AiService, MemoryLine, MemoryView, PeerAiState,
};
pub use settings::{
    AccountAiSettings, AiTimings, GlobalAiSettings, MemoryScope, ProviderTimeouts, QuietHours,
};

#[allow(unused_imports)]
use crate::Engine;

/// What the AI replies tell the owner, as [`crate::EngineEvent::Ai`].
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

/// How the AI settings API fails.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    #[error(transparent)]
    Engine(#[from] crate::EngineError),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("no account {0:?}")]
    UnknownAccount(String),
    #[error("invalid AI setting: {0}")]
    Invalid(String),
}

impl AiError {
    /// A stable code for the IPC error's `code` field.
    pub fn code(&self) -> &'static str {
        match self {
            AiError::Engine(_) => "ai_engine",
            AiError::Secret(_) => "ai_secret_store",
            AiError::UnknownAccount(_) => "unknown_account",
            AiError::Invalid(_) => "invalid_ai_setting",
        }
    }
}

impl From<crate::CoreError> for AiError {
    fn from(e: crate::CoreError) -> AiError {
        AiError::Engine(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineEvent;

    #[test]
    fn errors_have_stable_codes_and_plain_messages() {
        let e = AiError::Invalid("quiet hours are minutes 0–1439".into());
        assert_eq!(e.code(), "invalid_ai_setting");
        assert_eq!(
            e.to_string(),
            "invalid AI setting: quiet hours are minutes 0–1439"
        );
        assert_eq!(
            AiError::UnknownAccount("x".into()).code(),
            "unknown_account"
        );
    }

    #[test]
    fn ai_events_travel_inside_engine_events_with_their_own_tag() {
        let event = EngineEvent::Ai {
            event: AiEvent::RunFailed {
                account_id: "a".into(),
                peer_id: "p".into(),
                reason: "the provider answered HTTP 500: busy".into(),
                notice_sent: true,
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "ai", "event": {"kind": "run_failed", "account_id": "a",
                "peer_id": "p", "reason": "the provider answered HTTP 500: busy",
                "notice_sent": true}})
        );
        assert_eq!(serde_json::from_value::<EngineEvent>(json).unwrap(), event);
    }
}
