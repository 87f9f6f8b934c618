//! The owner's names and notes for peers: kept in the store only, never sent to WeChat.
//! A change comes back as the changed conversation, and the engine's `PeerChanged`
//! event carries it too (the notification and tray read names from the store).

use desk_core::store::PeerCard;
use desk_core::views::ConversationView;
use tauri::State;

use crate::state::AppState;
use crate::IpcError;

/// Gives a peer the owner's name (blank clears it); the changed conversation.
#[tauri::command]
#[specta::specta]
pub async fn rename_peer(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    name: String,
) -> Result<Option<ConversationView>, IpcError> {
    let backend = state.backend()?;
    backend
        .engine
        .rename_peer(&account_id, &peer_id, &name)
        .await?;
    Ok(backend.views.conversation(&account_id, &peer_id).await?)
}

/// Sets the owner's note on a peer (blank clears it); the changed conversation.
#[tauri::command]
#[specta::specta]
pub async fn set_peer_note(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    note: String,
) -> Result<Option<ConversationView>, IpcError> {
    let backend = state.backend()?;
    backend
        .engine
        .set_peer_note(&account_id, &peer_id, &note)
        .await?;
    Ok(backend.views.conversation(&account_id, &peer_id).await?)
}

/// A peer as the owner knows it, with its first message as a hint while naming.
#[tauri::command]
#[specta::specta]
pub async fn peer_details(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
) -> Result<Option<PeerCard>, IpcError> {
    Ok(state.backend()?.views.peer(&account_id, &peer_id).await?)
}
