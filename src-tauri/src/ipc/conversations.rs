//! Conversation commands: the list, log pages, sending, delivery actions, search and
//! media.

use desk_core::store::{OutboxEntry, PageCursor, SearchScope};
use desk_core::views::{ConversationView, MessagePageView, SearchView, ViewChanges};
use serde::Serialize;
use tauri::State;

use crate::state::{AppState, OpenConversation};
use crate::{ErrorCode, IpcError};

/// Largest page the window may ask for.
const MAX_PAGE: u32 = 500;
/// Largest media file handed to the window in one piece.
const MAX_SEARCH_RESULTS: u32 = 200;

/// The account's conversations, most recently active first.
#[tauri::command]
#[specta::specta]
pub async fn list_conversations(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<Vec<ConversationView>, IpcError> {
    Ok(state.backend()?.views.conversations(&account_id).await?)
}

/// One page of a conversation, newest first, older than `before` (or the newest).
#[tauri::command]
#[specta::specta]
pub async fn conversation_page(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    before: Option<PageCursor>,
    limit: u32,
) -> Result<MessagePageView, IpcError> {
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    Ok(state
        .backend()?
        .views
        .page(&account_id, &peer_id, before, limit)
        .await?)
}

/// Tells the shell which conversation the window shows (`null`: none). Its inbound
/// messages are marked read as they arrive while the window has focus, so the window
/// needs no call per message.
#[tauri::command]
#[specta::specta]
pub fn set_open_conversation(state: State<'_, AppState>, open: Option<OpenConversation>) {
    state.set_open_conversation(open);
}

/// Clears a conversation's unread count; the changed conversation and account.
#[tauri::command]
#[specta::specta]
pub async fn mark_read(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
) -> Result<ViewChanges, IpcError> {
    let changes = state
        .backend()?
        .views
        .mark_read(&account_id, &peer_id)
        .await?;
    crate::events::refresh_tray(&app);
    Ok(changes)
}

/// Clears the unread count of every conversation of the account; the changed account.
#[tauri::command]
#[specta::specta]
pub async fn mark_account_read(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    account_id: String,
) -> Result<ViewChanges, IpcError> {
    let changes = state
        .backend()?
        .views
        .mark_account_read(&account_id)
        .await?;
    crate::events::refresh_tray(&app);
    Ok(changes)
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct Queued {
    pub outbox_id: i64,
    pub message_row_id: Option<i64>,
}

impl From<OutboxEntry> for Queued {
    fn from(entry: OutboxEntry) -> Queued {
        Queued {
            outbox_id: entry.id,
            message_row_id: entry.message_row_id,
        }
    }
}

/// Queues a text: it is in the store before this returns, and delivered by the
/// account's sender (state changes arrive as `delivery_updated` events).
#[tauri::command]
#[specta::specta]
pub async fn send_text(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    text: String,
) -> Result<Queued, IpcError> {
    let entry = state
        .backend()?
        .engine
        .send_text(&account_id, &peer_id, &text)
        .await?;
    Ok(entry.into())
}

/// Sends a file from disk (a path the desktop gave, e.g. a drop).
#[tauri::command]
#[specta::specta]
pub async fn send_file(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    path: String,
) -> Result<Queued, IpcError> {
    let entry = state
        .backend()?
        .engine
        .send_file(&account_id, &peer_id, std::path::Path::new(&path), None)
        .await?;
    Ok(entry.into())
}

/// Send later: queues a text that goes out at `due_ms` (epoch ms), not before, and
/// then only while the reply window is open and the allowance lasts. It shows in the
/// conversation's `scheduled` list until it goes out.
#[tauri::command]
#[specta::specta]
pub async fn send_text_at(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    text: String,
    due_ms: i64,
) -> Result<Queued, IpcError> {
    let entry = state
        .backend()?
        .engine
        .send_text_at(&account_id, &peer_id, &text, due_ms)
        .await?;
    Ok(entry.into())
}

/// Send later for a file from disk (a path the open dialog gave).
#[tauri::command]
#[specta::specta]
pub async fn send_file_at(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    path: String,
    due_ms: i64,
) -> Result<Queued, IpcError> {
    let entry = state
        .backend()?
        .engine
        .send_file_at(
            &account_id,
            &peer_id,
            std::path::Path::new(&path),
            None,
            due_ms,
        )
        .await?;
    Ok(entry.into())
}

/// Changes a scheduled message's text (a file's caption) and/or time while it waits;
/// the conversation's change arrives as a `delivery_updated` event.
#[tauri::command]
#[specta::specta]
pub async fn edit_scheduled(
    state: State<'_, AppState>,
    outbox_id: i64,
    text: Option<String>,
    due_ms: Option<i64>,
) -> Result<(), IpcError> {
    state
        .backend()?
        .engine
        .edit_scheduled(outbox_id, desk_core::store::ScheduleEdit { text, due_ms })
        .await?;
    Ok(())
}

/// Tries a failed or waiting message again.
#[tauri::command]
#[specta::specta]
pub async fn retry_outbound(state: State<'_, AppState>, outbox_id: i64) -> Result<bool, IpcError> {
    Ok(state.backend()?.engine.retry_outbound(outbox_id).await?)
}

/// Downloads a received message's failed media again; false if it had not failed.
#[tauri::command]
#[specta::specta]
pub async fn retry_media(state: State<'_, AppState>, message_id: i64) -> Result<bool, IpcError> {
    Ok(state.backend()?.engine.retry_media(message_id).await?)
}

/// Gives up on a message that is not delivered yet.
#[tauri::command]
#[specta::specta]
pub async fn discard_outbound(
    state: State<'_, AppState>,
    outbox_id: i64,
) -> Result<bool, IpcError> {
    Ok(state.backend()?.engine.cancel_outbound(outbox_id).await?)
}

/// The JSON text a received message arrived as, for "Copy raw" on a message this
/// version cannot show; `null` for a message that has none (outbound ones).
#[tauri::command]
#[specta::specta]
pub async fn message_raw(
    state: State<'_, AppState>,
    message_id: i64,
) -> Result<Option<String>, IpcError> {
    Ok(state
        .backend()?
        .engine
        .store()
        .call(move |s| s.message_raw_json(message_id))
        .await?)
}

/// Full-text search across every conversation, or one account's, or one conversation;
/// with the peers whose name, note or id matches.
#[tauri::command]
#[specta::specta]
pub async fn search_messages(
    state: State<'_, AppState>,
    query: String,
    account_id: Option<String>,
    peer_id: Option<String>,
    limit: u32,
) -> Result<SearchView, IpcError> {
    let limit = limit.clamp(1, MAX_SEARCH_RESULTS) as usize;
    let scope = SearchScope {
        account_id,
        peer_id,
    };
    Ok(state.backend()?.views.search(&query, scope, limit).await?)
}

/// Opens a saved file with the desktop's default application, or shows its folder.
#[tauri::command]
#[specta::specta]
pub fn open_media(state: State<'_, AppState>, path: String, reveal: bool) -> Result<(), IpcError> {
    let backend = state.backend()?;
    let file = inside_data_dir(backend.data_dir.root(), &path)?;
    let target = if reveal {
        file.parent().map(ToOwned::to_owned).unwrap_or(file)
    } else {
        file
    };
    std::process::Command::new("xdg-open")
        .arg(&target)
        .spawn()
        .map(drop)
        .map_err(|err| IpcError::new(ErrorCode::Internal, format!("cannot open it: {err}")))
}

/// Mutes or unmutes a conversation's notifications; the changed conversation.
#[tauri::command]
#[specta::specta]
pub async fn set_muted(
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
    muted: bool,
) -> Result<Option<ConversationView>, IpcError> {
    state
        .update_prefs(|p| p.set_muted(&account_id, &peer_id, muted))
        .map_err(|err| IpcError::new(ErrorCode::Storage, err.to_string()))?;
    Ok(state
        .backend()?
        .views
        .conversation(&account_id, &peer_id)
        .await?)
}

/// `path`, resolved, if it lies inside `root`; the window never reads other files.
pub(super) fn inside_data_dir(
    root: &std::path::Path,
    path: &str,
) -> Result<std::path::PathBuf, IpcError> {
    let outside = || IpcError::new(ErrorCode::InvalidArgument, "not a file of this app");
    let file = std::fs::canonicalize(path).map_err(|_| outside())?;
    let root = std::fs::canonicalize(root).map_err(|_| outside())?;
    if file.starts_with(&root) {
        Ok(file)
    } else {
        Err(outside())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_data_folder_are_served() {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("media/a.png");
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::write(&inside, b"x").unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        assert!(inside_data_dir(root.path(), inside.to_str().unwrap()).is_ok());
        let escape = format!("{}/media/../../{}", root.path().display(), "etc/passwd");
        assert!(inside_data_dir(root.path(), &escape).is_err());
        assert!(inside_data_dir(root.path(), outside.path().to_str().unwrap()).is_err());
        assert!(inside_data_dir(root.path(), "/no/such/file").is_err());
    }
}
