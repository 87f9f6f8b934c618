//! Files picked or dropped in the window reach the engine in chunks: the webview has
//! their bytes but not their paths. Each upload is written to its own folder under
//! `<data>/incoming-uploads/`, then handed to `Engine::send_file` (which copies it into
//! the media folder) and removed. Chunks let the window show progress and cancel.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine as _;
use tauri::State;

use super::conversations::Queued;
use crate::state::AppState;
use crate::{ErrorCode, IpcError};

const FOLDER: &str = "incoming-uploads";
/// Largest chunk the window may send at once (decoded).
const MAX_CHUNK: usize = 4 * 1024 * 1024;

struct Upload {
    path: PathBuf,
    written: u64,
}

/// Uploads in progress, by id.
#[derive(Default)]
pub struct Uploads(Mutex<HashMap<String, Upload>>);

impl Uploads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Upload>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A file name safe to create: the last path component, no control characters.
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(180).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

fn io_error(what: &str, err: std::io::Error) -> IpcError {
    IpcError::new(ErrorCode::Storage, format!("cannot {what}: {err}"))
        .with_problem(desk_core::Problem::of_io(&err))
}

/// Starts an upload of a file called `name` of `size` bytes; returns its id. Refuses a
/// file over the engine's limit before any byte is copied.
#[tauri::command]
#[specta::specta]
pub fn begin_upload(
    state: State<'_, AppState>,
    uploads: State<'_, Uploads>,
    name: String,
    size: u64,
) -> Result<String, IpcError> {
    let backend = state.backend()?;
    if size > backend.max_upload_bytes {
        return Err(IpcError::new(
            ErrorCode::InvalidArgument,
            format!(
                "the file is too large to send: {size} bytes, the limit is {} bytes",
                backend.max_upload_bytes
            ),
        ));
    }
    let id = next_id();
    let dir = backend.data_dir.root().join(FOLDER).join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| io_error("prepare the upload", e))?;
    let path = dir.join(safe_name(&name));
    std::fs::File::create(&path).map_err(|e| io_error("prepare the upload", e))?;
    uploads
        .lock()
        .insert(id.clone(), Upload { path, written: 0 });
    Ok(id)
}

/// Appends a base64 chunk; returns the bytes written so far.
#[tauri::command]
#[specta::specta]
pub fn append_upload(
    uploads: State<'_, Uploads>,
    upload_id: String,
    chunk: String,
) -> Result<u64, IpcError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(chunk.as_bytes())
        .map_err(|_| IpcError::new(ErrorCode::InvalidArgument, "the chunk is not base64"))?;
    if bytes.len() > MAX_CHUNK {
        return Err(IpcError::new(
            ErrorCode::InvalidArgument,
            "the chunk is too large",
        ));
    }
    let mut map = uploads.lock();
    let upload = map
        .get_mut(&upload_id)
        .ok_or_else(|| IpcError::not_found("no such upload (cancelled?)"))?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&upload.path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| io_error("write the upload", e))?;
    upload.written += bytes.len() as u64;
    Ok(upload.written)
}

/// Hands the finished file to the engine for `peer_id`; the temporary copy goes.
#[tauri::command]
#[specta::specta]
pub async fn finish_upload(
    state: State<'_, AppState>,
    uploads: State<'_, Uploads>,
    upload_id: String,
    account_id: String,
    peer_id: String,
) -> Result<Queued, IpcError> {
    let upload = uploads
        .lock()
        .remove(&upload_id)
        .ok_or_else(|| IpcError::not_found("no such upload (cancelled?)"))?;
    let backend = state.backend()?;
    let result = backend
        .engine
        .send_file(&account_id, &peer_id, &upload.path, None)
        .await;
    remove_upload_dir(&upload.path);
    Ok(result?.into())
}

/// Drops an unfinished upload and its bytes.
#[tauri::command]
#[specta::specta]
pub fn cancel_upload(uploads: State<'_, Uploads>, upload_id: String) -> Result<bool, IpcError> {
    match uploads.lock().remove(&upload_id) {
        Some(upload) => {
            remove_upload_dir(&upload.path);
            Ok(true)
        }
        None => Ok(false),
    }
}

fn remove_upload_dir(path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        if let Err(err) = std::fs::remove_dir_all(dir) {
            tracing::warn!(%err, "could not remove a finished upload");
        }
    }
}

/// Ids unique within the process: start time plus a counter.
fn next_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", crate::backend::now_ms())
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn names_keep_only_the_last_component() {
        assert_eq!(safe_name("report.pdf"), "report.pdf");
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\\\Users\\\\a\\\\photo.jpg"), "photo.jpg");
        assert_eq!(safe_name(".hidden"), "hidden");
        assert_eq!(safe_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(safe_name(""), "file");
        assert_eq!(safe_name("/"), "file");
        assert_eq!(safe_name("会议纪要.docx"), "会议纪要.docx");
    }
}
