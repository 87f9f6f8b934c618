//! What the AI replies need from the engine: sending AI-written text (marked
//! `ai_generated`), typing indicators with the peer's ticket, and events.

use std::sync::Arc;

use ilink::models::TypingStatus;

use super::{Clock, Engine, EngineError, EngineEvent};
use crate::ai::AiEvent;
use crate::store::OutboxEntry;

impl Engine {
    /// Queues a text the AI wrote; like [`Engine::send_text`], but the log row is
    /// marked `ai_generated` (so it never counts as the owner taking over).
    pub async fn send_ai_text(
        &self,
        account_id: &str,
        peer_id: &str,
        text: &str,
    ) -> Result<OutboxEntry, EngineError> {
        self.queue_text(account_id, peer_id, text, true, None).await
    }

    /// Queues an image a reply linked (already fetched), marked `ai_generated`: the
    /// bytes go to a temporary file in the data directory, which [`Engine::send_file`]'s
    /// path copies under its sanitised `name` and removes here afterwards.
    pub async fn send_ai_image(
        &self,
        account_id: &str,
        peer_id: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<OutboxEntry, EngineError> {
        let root = self.rt.media_root.clone().ok_or(EngineError::NoDataDir)?;
        let name = crate::media_path::sanitize_file_name(name);
        let scratch = tokio::task::spawn_blocking(move || ScratchFile::write(&root, &name, &bytes))
            .await
            .map_err(|_| EngineError::TaskFailed)?
            .map_err(|e| EngineError::FileUnreadable {
                path: "a reply image".to_owned(),
                reason: e.to_string(),
            })?;
        let queued = self
            .queue_file(account_id, peer_id, &scratch.path, None, true, None)
            .await;
        drop(scratch);
        queued
    }

    /// Sends a typing indicator (start or cancel) to a peer of a running account, only
    /// if a typing ticket is held for them (docs/protocol.md §6.2). Returns whether one was sent.
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

/// A file in its own folder under `<data>/tmp/`, removed with the folder when dropped.
struct ScratchFile {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl ScratchFile {
    fn write(root: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<ScratchFile> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let unique = format!(
            "ai-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let dir = root.join("tmp").join(unique);
        std::fs::create_dir_all(&dir)?;
        let scratch = ScratchFile {
            path: dir.join(name),
            dir,
        };
        std::fs::write(&scratch.path, bytes)?;
        Ok(scratch)
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
