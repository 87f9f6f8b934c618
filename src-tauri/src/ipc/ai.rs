//! AI reply commands: the provider settings (the key goes to the keyring and never comes
//! back), pause all, per-account and per-peer switches, takeover, persona and memory.

use desk_core::ai::openclaw::{agent_target, AgentTarget, DEDICATED_AGENT_CONFIG};
use desk_core::ai::{
    AccountAiSettings, AiError, ConnectionReport, GlobalAiSettings, MemoryView, PeerAiState,
    Preset, ProviderConfig,
};
use desk_core::secrets::{Secret, SecretKey};
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::state::AppState;
use crate::{ErrorCode, IpcError};

impl From<AiError> for IpcError {
    fn from(err: AiError) -> IpcError {
        let code = match &err {
            AiError::Engine(_) => ErrorCode::Storage,
            AiError::Secret(_) => ErrorCode::Secrets,
            AiError::UnknownAccount(_) => ErrorCode::NotFound,
            AiError::Invalid(_) => ErrorCode::InvalidArgument,
        };
        let problem = match &err {
            AiError::Engine(engine) => desk_core::Problem::of_engine(engine),
            AiError::Secret(secret) => desk_core::Problem::of_secret(secret),
            AiError::UnknownAccount(_) | AiError::Invalid(_) => None,
        };
        IpcError::new(code, err.to_string())
            .with_details(err.code())
            .with_problem(problem)
    }
}

/// The global AI settings, and whether an API key is stored (never the key).
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AiGlobalView {
    pub settings: GlobalAiSettings,
    pub has_api_key: bool,
    /// Each preset's defaults, from the core.
    pub presets: Vec<ProviderConfig>,
    /// The OpenClaw gateway agent the settings reach (OpenClaw preset only).
    pub agent: Option<AgentTarget>,
    /// The gateway configuration that creates the dedicated agent.
    pub dedicated_agent_config: String,
}

#[tauri::command]
#[specta::specta]
pub async fn ai_global(state: State<'_, AppState>) -> Result<AiGlobalView, IpcError> {
    let backend = state.backend()?;
    let settings = backend.ai.global_settings().await?;
    let secrets = backend.engine.secrets();
    let has_api_key = tauri::async_runtime::spawn_blocking(move || {
        let key = SecretKey::ai_api_key(desk_core::ai::provider::API_KEY_PROFILE);
        secrets.get(&key).ok().flatten().is_some()
    })
    .await
    .unwrap_or(false);
    Ok(AiGlobalView {
        agent: agent_target(&settings.provider),
        settings,
        has_api_key,
        presets: Preset::ALL
            .into_iter()
            .map(ProviderConfig::preset)
            .collect(),
        dedicated_agent_config: DEDICATED_AGENT_CONFIG.to_owned(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn set_ai_global(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: GlobalAiSettings,
) -> Result<Option<AgentTarget>, IpcError> {
    let agent = agent_target(&settings.provider);
    state.backend()?.ai.set_global_settings(settings).await?;
    crate::tray::refresh_ai(&app);
    Ok(agent)
}

/// Pauses or resumes every AI reply (also in the tray).
#[tauri::command]
#[specta::specta]
pub async fn set_ai_paused(
    app: AppHandle,
    state: State<'_, AppState>,
    paused: bool,
) -> Result<(), IpcError> {
    state.backend()?.ai.set_paused(paused).await?;
    crate::tray::refresh_ai(&app);
    Ok(())
}

/// Stores (or with `null` deletes) the provider's API key in the secret store.
#[tauri::command]
#[specta::specta]
pub async fn set_ai_key(state: State<'_, AppState>, key: Option<String>) -> Result<(), IpcError> {
    let key = key
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .map(Secret::new);
    state.backend()?.ai.set_api_key(key).await?;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn test_ai_connection(state: State<'_, AppState>) -> Result<ConnectionReport, IpcError> {
    let locale = state.locale();
    Ok(state.backend()?.ai.test_connection(locale).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn ai_account(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<AccountAiSettings, IpcError> {
    Ok(state.backend()?.ai.account_settings(&account_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_ai_account(
    state: State<'_, AppState>,
    account_id: String,
    settings: AccountAiSettings,
) -> Result<(), IpcError> {
    state
        .backend()?
        .ai
        .set_account_settings(&account_id, settings)
        .await?;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn set_ai_account_enabled(
    state: State<'_, AppState>,
    account_id: String,
    enabled: bool,
) -> Result<(), IpcError> {
    state
        .backend()?
        .ai
        .set_account_enabled(&account_id, enabled)
        .await?;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn ai_peer(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
) -> Result<PeerAiState, IpcError> {
    Ok(state
        .backend()?
        .ai
        .peer_state(&account_id, &peer_id)
        .await?)
}

/// The peer's own switch; `null` follows the account.
#[tauri::command]
#[specta::specta]
pub async fn set_ai_peer_enabled(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    enabled: Option<bool>,
) -> Result<(), IpcError> {
    state
        .backend()?
        .ai
        .set_peer_enabled(&account_id, &peer_id, enabled)
        .await?;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn set_ai_peer_persona(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    persona: Option<String>,
) -> Result<(), IpcError> {
    let persona = persona.filter(|p| !p.trim().is_empty());
    state
        .backend()?
        .ai
        .set_peer_persona(&account_id, &peer_id, persona)
        .await?;
    Ok(())
}

/// Ends a takeover: the AI answers this peer again.
#[tauri::command]
#[specta::specta]
pub async fn resume_ai_peer(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
) -> Result<(), IpcError> {
    state
        .backend()?
        .ai
        .resume_peer(&account_id, &peer_id)
        .await?;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn ai_memory(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
) -> Result<MemoryView, IpcError> {
    Ok(state.backend()?.ai.memory(&account_id, &peer_id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn set_ai_memory_summary(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    summary: String,
) -> Result<(), IpcError> {
    state
        .backend()?
        .ai
        .set_memory_summary(&account_id, &peer_id, &summary)
        .await?;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn reset_ai_memory(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
) -> Result<(), IpcError> {
    state
        .backend()?
        .ai
        .reset_memory(&account_id, &peer_id)
        .await?;
    Ok(())
}
