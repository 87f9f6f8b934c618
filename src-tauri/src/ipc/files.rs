//! Files to send. Dropped files come as paths from Tauri's own drag-and-drop events and
//! picked ones from the native open dialog the shell shows: either way the window
//! hands over paths (to `send_file`) and never reads a file. A picture pasted into the
//! composer is read by the shell from the system clipboard, written as a PNG under
//! `<data>/incoming-uploads/`, sent (the engine copies it) and removed.

use std::path::PathBuf;

use tauri::{AppHandle, Manager, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_dialog::DialogExt;

use super::conversations::Queued;
use crate::state::AppState;
use crate::{ErrorCode, IpcError};

const STAGING: &str = "incoming-uploads";

/// Asks which files to send with the desktop's open dialog; their paths, or none when
/// the user cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_files(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<Vec<String>, IpcError> {
    let title = crate::i18n::text(state.locale(), "composer.attach");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file().set_title(title);
    if let Some(window) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&window);
    }
    dialog.pick_files(move |picked| drop(tx.send(picked)));
    let picked = rx.await.ok().flatten().unwrap_or_default();
    Ok(picked
        .into_iter()
        .filter_map(|file| file.into_path().ok())
        .map(|path| path.to_string_lossy().into_owned())
        .collect())
}

/// Sends the picture on the system clipboard to a peer; `null` when the clipboard
/// holds no picture.
#[tauri::command]
#[specta::specta]
pub async fn send_pasted_picture(
    app: AppHandle,
    state: State<'_, AppState>,
    account_id: String,
    peer_id: String,
) -> Result<Option<Queued>, IpcError> {
    let backend = state.backend()?;
    let Ok(image) = app.clipboard().read_image() else {
        return Ok(None);
    };
    let (width, height, rgba) = (image.width(), image.height(), image.rgba().to_vec());
    let png = tokio::task::spawn_blocking(move || {
        desk_core::picture::png_from_rgba(width, height, &rgba)
    })
    .await
    .map_err(|err| IpcError::new(ErrorCode::Internal, err.to_string()))?
    .map_err(|err| {
        IpcError::new(
            ErrorCode::InvalidArgument,
            format!("the pasted picture: {err}"),
        )
    })?;
    let staged = stage(backend.data_dir.root().join(STAGING), &png)?;
    let name = format!("pasted-{}.png", crate::backend::now_ms());
    let sent = backend
        .engine
        .send_file(&account_id, &peer_id, &staged, Some(&name))
        .await;
    if let Err(err) = std::fs::remove_file(&staged) {
        tracing::warn!(%err, "could not remove a pasted picture's staging copy");
    }
    Ok(Some(sent?.into()))
}

/// Writes `bytes` to a fresh owner-only file in `folder`.
fn stage(folder: PathBuf, bytes: &[u8]) -> Result<PathBuf, IpcError> {
    let io = |what: &str, err: std::io::Error| {
        IpcError::new(ErrorCode::Storage, format!("cannot {what}: {err}"))
            .with_problem(desk_core::Problem::of_io(&err))
    };
    std::fs::create_dir_all(&folder).map_err(|e| io("create the staging folder", e))?;
    let mut file = tempfile::Builder::new()
        .prefix("pasted-")
        .suffix(".png")
        .tempfile_in(&folder)
        .map_err(|e| io("create a staging file", e))?;
    std::io::Write::write_all(&mut file, bytes).map_err(|e| io("write the picture", e))?;
    let (_, path) = file.keep().map_err(|e| io("keep the picture", e.error))?;
    Ok(path)
}
