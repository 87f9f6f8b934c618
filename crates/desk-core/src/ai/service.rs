//! The AI replies' public API, for the desktop shell and the CLI: start beside an
//! engine, settings at every level, takeover, memory, the API key and "test connection".

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::client::{ConnectionReport, ProviderClient};
use super::openclaw::gateway_session_key;
use super::policy::enabled_for;
use super::prompt::{history_filter, history_messages, scope_key, session_key, unseen_by_agent};
use super::provider::API_KEY_PROFILE;
use super::runner::{self, parse_or_default, Shared, GLOBAL_KEY};
use super::settings::{AccountAiSettings, AiTimings, GlobalAiSettings};
use super::{AiError, AiEvent};
use crate::secrets::{Secret, SecretKey};
use crate::store::ai::AiPeerRow;
use crate::{Engine, Locale};

/// How the AI service is built.
#[derive(Debug, Clone)]
pub struct AiConfig {
    pub timings: AiTimings,
    /// Reach providers through the system proxy (off for loopback tests).
    pub use_system_proxy: bool,
    /// Let image links in replies point at loopback or private addresses (off: a model
    /// cannot make the app fetch from the owner's network).
    pub allow_private_image_hosts: bool,
}

impl Default for AiConfig {
    fn default() -> Self {
        AiConfig {
            timings: AiTimings::default(),
            use_system_proxy: true,
            allow_private_image_hosts: false,
        }
    }
}

/// A peer's AI state as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PeerAiState {
    /// The peer's own switch (`None`: follows the account).
    pub enabled: Option<bool>,
    /// Whether the peer gets replies now, all levels considered except takeover.
    pub effective: bool,
    pub persona: Option<String>,
    /// Set while the owner's manual reply keeps the AI quiet (epoch ms).
    pub takeover_until_ms: Option<i64>,
}

/// What the model is given for a conversation: the scope, the owner's editable summary
/// and the history that would be sent with the next turn, for the active preset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemoryView {
    pub scope_key: String,
    pub summary: String,
    /// The earlier messages the next turn carries. For a provider that keeps the
    /// conversation (the OpenClaw gateway) only those its agent has not seen: since its
    /// last reply (the peer's messages it was not asked about, the owner's manual
    /// replies).
    pub history: Vec<MemoryLine>,
    /// The gateway session that holds the rest of the conversation (OpenClaw only).
    pub gateway_session: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MemoryLine {
    /// `user` or `assistant`.
    pub role: String,
    pub text: String,
}

/// The running AI replies. Dropping it (or [`AiService::shutdown`]) stops them.
pub struct AiService {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for AiService {
    fn drop(&mut self) {
        self.shared.stop.cancel();
        self.task.abort();
    }
}

impl AiService {
    /// Starts listening to `engine`'s events (from now on). Inside a tokio runtime.
    pub fn start(engine: Arc<Engine>, config: AiConfig) -> AiService {
        let rx = engine.subscribe();
        let client = ProviderClient::new(config.use_system_proxy);
        let images =
            super::images::image_client(config.allow_private_image_hosts, config.use_system_proxy);
        let shared = Arc::new(Shared::new(
            engine,
            client,
            images,
            config.allow_private_image_hosts,
            config.timings,
        ));
        let task = tokio::spawn(runner::run_events(Arc::clone(&shared), rx));
        AiService { shared, task }
    }

    /// Stops the AI: no new runs; runs under way end at their next step.
    pub fn shutdown(&self) {
        self.shared.stop.cancel();
    }

    fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    pub async fn global_settings(&self) -> Result<GlobalAiSettings, AiError> {
        Ok(self
            .engine()
            .store()
            .call(|s| Ok(parse_or_default(s.ai_config(GLOBAL_KEY)?, "global")))
            .await?)
    }

    pub async fn set_global_settings(&self, settings: GlobalAiSettings) -> Result<(), AiError> {
        let provider = &settings.provider;
        if !provider.extra_body.trim().is_empty() && provider.extra_body_value().is_none() {
            return Err(AiError::Invalid(
                "extra body fields must be a JSON object, e.g. {\"temperature\": 0.3}".into(),
            ));
        }
        if !(provider.base_url.starts_with("http://") || provider.base_url.starts_with("https://"))
        {
            return Err(AiError::Invalid(format!(
                "the provider address must start with http:// or https:// (got {:?})",
                provider.base_url
            )));
        }
        if !super::settings::SPLIT_LIMIT_RANGE.contains(&settings.split_limit) {
            return Err(AiError::Invalid(format!(
                "the longest message must be {} to {} characters (got {})",
                super::settings::SPLIT_LIMIT_RANGE.start(),
                super::settings::SPLIT_LIMIT_RANGE.end(),
                settings.split_limit
            )));
        }
        let json = serde_json::to_string(&settings).map_err(|e| AiError::Invalid(e.to_string()))?;
        self.engine()
            .store()
            .call(move |s| s.set_ai_config(GLOBAL_KEY, &json))
            .await?;
        self.changed(None, None);
        Ok(())
    }

    /// The global pause.
    pub async fn set_paused(&self, paused: bool) -> Result<(), AiError> {
        let mut settings = self.global_settings().await?;
        settings.paused = paused;
        self.set_global_settings(settings).await
    }

    /// Stores (or with `None` deletes) the provider's API key in the secret store.
    pub async fn set_api_key(&self, key: Option<Secret>) -> Result<(), AiError> {
        let secrets = self.engine().secrets();
        let name = SecretKey::ai_api_key(API_KEY_PROFILE);
        let key = key.filter(|k| !k.expose().trim().is_empty());
        let stored = key.clone();
        // Forget the cached key first: a failed write must not leave the old one in use.
        *self
            .shared
            .api_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        tokio::task::spawn_blocking(move || match stored {
            Some(k) => secrets.set(&name, &k),
            None => secrets.delete(&name),
        })
        .await
        .map_err(|_| AiError::Engine(crate::EngineError::TaskFailed))??;
        *self
            .shared
            .api_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key);
        Ok(())
    }

    /// Forgets the cached API key: the next turn reads it from the secret store again
    /// (for a key changed there by another process, e.g. the CLI's `ai provider`).
    pub fn reload_api_key(&self) {
        *self
            .shared
            .api_key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    pub async fn account_settings(&self, account_id: &str) -> Result<AccountAiSettings, AiError> {
        let id = account_id.to_owned();
        let found = self
            .engine()
            .store()
            .call(move |s| {
                if s.account(&id)?.is_none() {
                    return Ok(None);
                }
                Ok(Some(parse_or_default(
                    s.ai_account_settings(&id)?,
                    "account",
                )))
            })
            .await?;
        found.ok_or_else(|| AiError::UnknownAccount(account_id.to_owned()))
    }

    pub async fn set_account_settings(
        &self,
        account_id: &str,
        settings: AccountAiSettings,
    ) -> Result<(), AiError> {
        if let Some(q) = settings.quiet_hours {
            if q.start_minute >= 1440 || q.end_minute >= 1440 {
                return Err(AiError::Invalid("quiet hours are minutes 0–1439".into()));
            }
        }
        let (id, json) = (
            account_id.to_owned(),
            serde_json::to_string(&settings).map_err(|e| AiError::Invalid(e.to_string()))?,
        );
        let saved = self
            .engine()
            .store()
            .call(move |s| s.set_ai_account_settings(&id, &json))
            .await?;
        if !saved {
            return Err(AiError::UnknownAccount(account_id.to_owned()));
        }
        self.changed(Some(account_id), None);
        Ok(())
    }

    fn changed(&self, account_id: Option<&str>, peer_id: Option<&str>) {
        self.engine().emit_ai(AiEvent::SettingsChanged {
            account_id: account_id.map(str::to_owned),
            peer_id: peer_id.map(str::to_owned),
        });
    }

    /// The account's default switch.
    pub async fn set_account_enabled(
        &self,
        account_id: &str,
        enabled: bool,
    ) -> Result<(), AiError> {
        let mut settings = self.account_settings(account_id).await?;
        settings.enabled = enabled;
        self.set_account_settings(account_id, settings).await
    }

    pub async fn peer_state(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<PeerAiState, AiError> {
        self.account_settings(account_id).await?;
        let (a, p) = (account_id.to_owned(), peer_id.to_owned());
        let now = self.shared.now_ms();
        Ok(self
            .engine()
            .store()
            .call(move |s| peer_state_in(s, &a, &p, now))
            .await?)
    }

    async fn change_peer(
        &self,
        account_id: &str,
        peer_id: &str,
        change: impl FnOnce(&mut AiPeerRow) + Send + 'static,
    ) -> Result<(), AiError> {
        let (a, p) = (account_id.to_owned(), peer_id.to_owned());
        let saved = self
            .engine()
            .store()
            .call(move |s| {
                let mut row = s.ai_peer(&a, &p)?;
                change(&mut row);
                s.set_ai_peer(&a, &p, &row)
            })
            .await?;
        if !saved {
            return Err(AiError::UnknownAccount(account_id.to_owned()));
        }
        self.changed(Some(account_id), Some(peer_id));
        Ok(())
    }

    /// The peer's own switch; `None` follows the account's default.
    pub async fn set_peer_enabled(
        &self,
        account_id: &str,
        peer_id: &str,
        enabled: Option<bool>,
    ) -> Result<(), AiError> {
        self.change_peer(account_id, peer_id, move |r| r.enabled = enabled)
            .await
    }

    /// The peer's persona; `None` uses the account's.
    pub async fn set_peer_persona(
        &self,
        account_id: &str,
        peer_id: &str,
        persona: Option<String>,
    ) -> Result<(), AiError> {
        let persona = persona.filter(|p| !p.trim().is_empty());
        self.change_peer(account_id, peer_id, move |r| r.persona = persona)
            .await
    }

    /// Ends a takeover: the AI answers this peer again.
    pub async fn resume_peer(&self, account_id: &str, peer_id: &str) -> Result<(), AiError> {
        self.change_peer(account_id, peer_id, |r| r.takeover_until_ms = None)
            .await?;
        self.engine().emit_ai(AiEvent::TakeoverEnded {
            account_id: account_id.to_owned(),
            peer_id: peer_id.to_owned(),
        });
        Ok(())
    }

    async fn scope_of(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<(String, AccountAiSettings), AiError> {
        let account = self.account_settings(account_id).await?;
        Ok((
            scope_key(account.memory_scope, account_id, peer_id),
            account,
        ))
    }

    /// The memory the next turn with this peer would use.
    pub async fn memory(&self, account_id: &str, peer_id: &str) -> Result<MemoryView, AiError> {
        let (scope, account) = self.scope_of(account_id, peer_id).await?;
        let global = self.global_settings().await?;
        let filter = history_filter(account.memory_scope, account_id, peer_id);
        let key = scope.clone();
        let limit = global.history_messages as usize;
        let keeps_history = global.provider.keeps_history();
        let seen_upto = self.shared.seen_upto(&scope);
        let notice = account.error_notice.clone();
        let (memory, rows) = self
            .engine()
            .store()
            .call(move |s| {
                let memory = s.ai_memory(&key)?;
                let rows = if keeps_history {
                    let rows =
                        s.ai_history(&filter, memory.reset_after_id, i64::MAX, limit + 32)?;
                    unseen_by_agent(rows, seen_upto, notice.as_deref())
                } else {
                    s.ai_history(&filter, memory.reset_after_id, i64::MAX, limit)?
                };
                Ok((memory, rows))
            })
            .await?;
        let gateway_session = keeps_history.then(|| {
            gateway_session_key(
                &global.provider,
                &session_key(&scope, memory.reset_after_id),
            )
        });
        let history = history_messages(&rows, global.history_messages, global.history_tokens)
            .into_iter()
            .map(|m| MemoryLine {
                role: m.role.to_owned(),
                text: m.text,
            })
            .collect();
        Ok(MemoryView {
            scope_key: scope,
            summary: memory.summary,
            history,
            gateway_session,
        })
    }

    /// Replaces the summary sent with every turn of this peer's scope.
    pub async fn set_memory_summary(
        &self,
        account_id: &str,
        peer_id: &str,
        summary: &str,
    ) -> Result<(), AiError> {
        let (scope, _) = self.scope_of(account_id, peer_id).await?;
        let (summary, now) = (summary.to_owned(), self.shared.now_ms());
        self.engine()
            .store()
            .call(move |s| s.set_ai_summary(&scope, &summary, now))
            .await?;
        Ok(())
    }

    /// Forgets the scope's memory (the message log stays).
    pub async fn reset_memory(&self, account_id: &str, peer_id: &str) -> Result<(), AiError> {
        let (scope, _) = self.scope_of(account_id, peer_id).await?;
        let now = self.shared.now_ms();
        self.engine()
            .store()
            .call(move |s| s.reset_ai_memory(&scope, now))
            .await?;
        Ok(())
    }

    /// Checks the configured provider: auth, model list, a one-token reply; the report
    /// in `locale`.
    pub async fn test_connection(&self, locale: Locale) -> Result<ConnectionReport, AiError> {
        let global = self.global_settings().await?;
        let key = runner::api_key(&self.shared).await;
        Ok(self
            .shared
            .client
            .test_connection(&global.provider, key, Duration::from_secs(20), locale)
            .await)
    }
}

/// The settings above a peer that its AI state depends on (global pause, the
/// account's switch), read once for every peer of a list.
pub struct AccountAi {
    global: GlobalAiSettings,
    account: AccountAiSettings,
}

impl AccountAi {
    pub fn read(s: &crate::Store, account_id: &str) -> Result<AccountAi, crate::CoreError> {
        Ok(AccountAi {
            global: parse_or_default(s.ai_config(GLOBAL_KEY)?, "global"),
            account: parse_or_default(s.ai_account_settings(account_id)?, "account"),
        })
    }

    /// A peer's AI state (the views read it in the same store call as their list).
    pub fn peer_state(
        &self,
        s: &crate::Store,
        account_id: &str,
        peer_id: &str,
        now_ms: i64,
    ) -> Result<PeerAiState, crate::CoreError> {
        let peer = s.ai_peer(account_id, peer_id)?;
        Ok(PeerAiState {
            enabled: peer.enabled,
            effective: !self.global.paused && enabled_for(&self.account, &peer),
            persona: peer.persona,
            takeover_until_ms: peer.takeover_until_ms.filter(|until| *until > now_ms),
        })
    }
}

/// A peer's AI state read from the store in one call.
pub fn peer_state_in(
    s: &crate::Store,
    account_id: &str,
    peer_id: &str,
    now_ms: i64,
) -> Result<PeerAiState, crate::CoreError> {
    AccountAi::read(s, account_id)?.peer_state(s, account_id, peer_id, now_ms)
}

/// Whether the account's AI replies are on by default (its own switch).
pub fn account_enabled_in(s: &crate::Store, account_id: &str) -> Result<bool, crate::CoreError> {
    let account: AccountAiSettings =
        parse_or_default(s.ai_account_settings(account_id)?, "account");
    Ok(account.enabled)
}
