//! "Save as…" for received files: the shell asks where with the desktop's native save
//! dialog and copies the file there. The window never gets a dialog or file-system
//! permission of its own: it names one of the app's files, the shell does the rest.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use tauri::{Manager, State};
use tauri_plugin_dialog::DialogExt;

use super::conversations::inside_data_dir;
use crate::state::AppState;
use crate::{ErrorCode, IpcError};

/// Asks where to save `path` (a file of this app), offering `suggested_name`, and copies
/// it there. Returns where it was saved, or `null` when the user cancelled.
#[tauri::command]
#[specta::specta]
pub async fn save_media_as(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    path: String,
    suggested_name: Option<String>,
) -> Result<Option<String>, IpcError> {
    let backend = state.backend()?;
    let source = inside_data_dir(backend.data_dir.root(), &path)?;
    let name = suggested_name
        .as_deref()
        .and_then(safe_file_name)
        .or_else(|| {
            source
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "file".to_owned());
    let title = crate::i18n::text(state.locale(), "log.saveAs");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file().set_title(title).set_file_name(name);
    if let Some(window) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&window);
    }
    dialog.save_file(move |picked| drop(tx.send(picked)));
    let Some(picked) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let target = picked
        .into_path()
        .map_err(|_| IpcError::new(ErrorCode::InvalidArgument, "not a local folder"))?;
    let saved = tokio::task::spawn_blocking(move || copy_into(&source, &target))
        .await
        .map_err(|err| IpcError::new(ErrorCode::Internal, err.to_string()))??;
    Ok(Some(saved.to_string_lossy().into_owned()))
}

/// A name as the sender gave it, reduced to a plain file name (no folders, no `..`).
fn safe_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?.trim();
    (!base.is_empty() && base != "." && base != "..").then(|| base.to_owned())
}

/// Copies `source` to `target` through a temporary file beside it, so the target is
/// either the old file or the complete copy, never half of one.
fn copy_into(source: &Path, target: &Path) -> Result<PathBuf, IpcError> {
    let failed = |err: std::io::Error| {
        IpcError::new(ErrorCode::Storage, format!("cannot save the file: {err}"))
            .with_problem(desk_core::Problem::of_io(&err))
    };
    let folder = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(folder).map_err(failed)?;
    let mut reader = std::fs::File::open(source).map_err(failed)?;
    std::io::copy(&mut reader, temp.as_file_mut()).map_err(failed)?;
    temp.as_file_mut().flush().map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(target).map_err(|err| failed(err.error))?;
    Ok(target.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_whole_file_and_replaces_an_existing_one() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("media/report.pdf");
        std::fs::create_dir_all(source.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&source, &bytes).unwrap();
        let target = dir.path().join("Downloads/report copy.pdf");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, b"an older file").unwrap();
        let saved = copy_into(&source, &target).unwrap();
        assert_eq!(saved, target);
        assert_eq!(std::fs::read(&target).unwrap(), bytes);
        // Nothing but the saved file is left in the folder.
        let left: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1);
    }

    #[test]
    fn a_missing_folder_is_a_clear_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("a.txt");
        std::fs::write(&source, b"x").unwrap();
        let err = copy_into(&source, &dir.path().join("no/such/folder/a.txt")).unwrap_err();
        assert!(
            err.message.contains("cannot save the file"),
            "{}",
            err.message
        );
        assert!(!dir.path().join("no").exists());
    }

    #[test]
    fn suggested_names_lose_their_folders() {
        assert_eq!(safe_file_name("notes.txt").as_deref(), Some("notes.txt"));
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(safe_file_name("a\\b\\c.doc").as_deref(), Some("c.doc"));
        assert_eq!(safe_file_name("dir/"), None);
        assert_eq!(safe_file_name(".."), None);
    }
}
