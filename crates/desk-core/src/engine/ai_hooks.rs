//! What the AI replies need from the engine: sending AI-written text (marked
//! `ai_generated`), typing indicators with the peer's ticket, and events.

use std::sync::Arc;

use ilink::models::TypingStatus;

use super::{Clock, Engine, EngineError, EngineEvent};
use crate::ai::AiEvent;
use crate::store::{OutboundDraft, OutboxEntry, OutboxState};

impl Engine {
    /// Queues a text the AI wrote; like [`Engine::send_text`], but the log row is
    /// marked `ai_generated` (so it never counts as the owner taking over).
    pub async fn send_ai_text(
        &self,
        account_id: &str,
        peer_id: &str,
        text: &str,
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
            ai_generated: true,
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

    /// Sends a typing indicator (start or cancel) to a peer of a running account, only
    /// if a typing ticket is held for them (ILINK.md §6.2). Returns whether one was sent.
    pub async fn send_typing(
        &self,
        account_id: &str,
        peer_id: &str,
        typing: bool,
    ) -> Result<bool, EngineError> {
        let Some(ticket) = self.accounts.typing_ticket(account_id, peer_id) else {
            return Ok(false);
        };
        let Some(client) = self.accounts.client(account_id) else {
            return Ok(false);
        };
        let status = if typing {
            TypingStatus::Typing
        } else {
            TypingStatus::Cancel
        };
        client.sendtyping(peer_id, &ticket, status).await?;
        Ok(true)
    }

    /// Announces an AI event on the engine's stream.
    pub fn emit_ai(&self, event: AiEvent) {
        self.rt.emit(EngineEvent::Ai { event });
    }

    /// The engine's clock (injectable for tests).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.rt.clock)
    }
}

impl Engine {
    /// The secret store (AI API keys live there too).
    pub fn secrets(&self) -> Arc<dyn crate::secrets::SecretStore> {
        Arc::clone(&self.rt.secrets)
    }

    /// The data directory media files are saved under, if the engine has one.
    pub fn media_root(&self) -> Option<std::path::PathBuf> {
        self.rt.media_root.clone()
    }
}
