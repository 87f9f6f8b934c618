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

pub use crate::events::AiEvent;
pub use client::{ConnectionCheck, ConnectionReport, ProviderClient, ProviderError};
pub use images::FetchedImage;
pub use provider::{Preset, ProviderConfig};
pub use service::{
    account_enabled_in, peer_state_in, AccountAi, AiConfig, AiService, MemoryLine, MemoryView,
    PeerAiState,
};
pub use settings::{
    AccountAiSettings, AiTimings, GlobalAiSettings, MemoryScope, ProviderTimeouts, QuietHours,
};

#[allow(unused_imports)]
use crate::Engine;

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
