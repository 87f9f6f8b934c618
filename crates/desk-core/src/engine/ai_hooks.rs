//! What the AI replies need from the engine: sending AI-written text (marked
//! `ai_generated`), typing indicators with the peer's ticket, and events.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ilink::models::TypingStatus;
use ilink::Client;
use rand::Rng;

use super::typing::TypingTickets;
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
    /// A start fetches the peer's ticket first when the cache says it is due (§6.1): the
    /// first time the peer is typed to, then once within a day.
    pub async fn send_typing(
        &self,
        account_id: &str,
        peer_id: &str,
        typing: bool,
    ) -> Result<bool, EngineError> {
        let (Some(client), Some(tickets)) = (
            self.accounts.client(account_id),
            self.accounts.typing_tickets(account_id),
        ) else {
            return Ok(false);
        };
        if typing {
            self.refresh_typing_ticket(&client, &tickets, account_id, peer_id)
                .await;
        }
        let ticket = lock(&tickets).ticket(peer_id).map(str::to_owned);
        let Some(ticket) = ticket else {
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

    /// Calls getconfig for the peer's ticket, with their latest context token, if the
    /// cache says it is due; a failure is kept in the cache (it retries later).
    async fn refresh_typing_ticket(
        &self,
        client: &Client,
        tickets: &Mutex<TypingTickets>,
        account_id: &str,
        peer_id: &str,
    ) {
        if !lock(tickets).due(peer_id, self.rt.now_ms()) {
            return;
        }
        let (a, p) = (account_id.to_owned(), peer_id.to_owned());
        let token = match self.rt.store.call(move |s| s.context_token(&a, &p)).await {
            Ok(token) => token.map(|(token, _)| token),
            Err(e) => {
                tracing::debug!(account_id, error = %e, "cannot read the context token");
                None
            }
        };
        let result = client.getconfig(peer_id, token.as_deref()).await;
        let now_ms = self.rt.now_ms();
        let mut cache = lock(tickets);
        match result {
            Ok(config) => {
                let random = rand::rng().random::<f64>();
                cache.on_success(peer_id, config.typing_ticket, now_ms, random);
            }
            Err(e) => {
                tracing::debug!(account_id, error = %e, "getconfig failed");
                cache.on_failure(peer_id, now_ms);
            }
        }
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

fn lock(tickets: &Mutex<TypingTickets>) -> MutexGuard<'_, TypingTickets> {
    tickets.lock().unwrap_or_else(PoisonError::into_inner)
}
