//! Account commands: list, QR login, import from OpenClaw, rename, enable/disable,
//! remove.

use tauri::State;

use crate::state::AppState;
use crate::IpcError;
use desk_core::openclaw_import::{ImportOutcome, OpenClawScan, StateFolder};
use desk_core::views::AccountView;

/// Every stored account with its live status and unread total.
#[tauri::command]
#[specta::specta]
pub async fn list_accounts(state: State<'_, AppState>) -> Result<Vec<AccountView>, IpcError> {
    Ok(state.backend()?.views.accounts().await?)
}

/// Starts a QR login; progress arrives as `EngineNotice` events of type
/// `login_progress` carrying the returned id.
#[tauri::command]
#[specta::specta]
pub async fn start_login(
    state: State<'_, AppState>,
    alias: Option<String>,
) -> Result<String, IpcError> {
    let backend = state.backend()?;
    let alias = alias.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
    let handle = backend
        .engine
        .start_login(backend.login_options(alias, &state.prefs().backend))
        .await?;
    Ok(handle.id().to_owned())
}

/// Sends the digits shown on the phone to a running login.
#[tauri::command]
#[specta::specta]
pub fn submit_login_code(
    state: State<'_, AppState>,
    login_id: String,
    code: String,
) -> Result<(), IpcError> {
    let code = code.trim();
    if code.is_empty() || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(IpcError::new(
            crate::ErrorCode::InvalidArgument,
            "the code is the digits shown on the phone",
        ));
    }
    if state.backend()?.engine.submit_login_code(&login_id, code) {
        Ok(())
    } else {
        Err(IpcError::not_found("this login is no longer running"))
    }
}

/// Cancels a running login; a login that already ended is fine.
#[tauri::command]
#[specta::specta]
pub fn cancel_login(state: State<'_, AppState>, login_id: String) -> Result<bool, IpcError> {
    Ok(state.backend()?.engine.cancel_login(&login_id))
}

/// The login QR code as an SVG element (`desk_core::qr::svg`), drawn on this machine:
/// the login URL never leaves it, and the window only embeds the picture.
#[tauri::command]
#[specta::specta]
pub fn qr_svg(text: String) -> Result<String, IpcError> {
    desk_core::qr::svg(&text).ok_or_else(|| {
        IpcError::new(
            crate::ErrorCode::InvalidArgument,
            "the login link is too long for a QR code",
        )
    })
}

/// Sets the alias; a blank one clears it.
#[tauri::command]
#[specta::specta]
pub async fn rename_account(
    state: State<'_, AppState>,
    account_id: String,
    alias: String,
) -> Result<(), IpcError> {
    let backend = state.backend()?;
    backend.engine.rename_account(&account_id, &alias).await?;
    Ok(())
}

/// Enables (starts) or disables (stops) an account.
#[tauri::command]
#[specta::specta]
pub async fn set_account_enabled(
    state: State<'_, AppState>,
    account_id: String,
    enabled: bool,
) -> Result<(), IpcError> {
    let backend = state.backend()?;
    backend
        .engine
        .accounts()
        .set_enabled(&account_id, enabled)
        .await?;
    Ok(())
}

/// Removes an account; with `keep_log` its messages stay readable.
#[tauri::command]
#[specta::specta]
pub async fn remove_account(
    state: State<'_, AppState>,
    account_id: String,
    keep_log: bool,
) -> Result<(), IpcError> {
    let backend = state.backend()?;
    backend.engine.remove_account(&account_id, keep_log).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_svg_is_the_cores_picture_and_refuses_overlong_links() {
        let url = "https://liteapp.weixin.qq.com/q/abc?qrcode=1";
        let svg = qr_svg(url.into()).unwrap();
        assert_eq!(Some(svg), desk_core::qr::svg(url));
        let err = qr_svg("x".repeat(8000)).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidArgument);
    }
}

/// The OpenClaw Weixin plugin's state folder: `state_dir` if given, else where the
/// plugin keeps it (`OPENCLAW_STATE_DIR`, else `~/.openclaw`).
fn openclaw_folder(state_dir: Option<String>) -> Result<StateFolder, IpcError> {
    match state_dir
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
    {
        Some(dir) => Ok(StateFolder::at(dir)),
        None => StateFolder::from_env().ok_or_else(|| {
            IpcError::new(
                crate::ErrorCode::InvalidArgument,
                "no home folder to look in; give the OpenClaw state folder",
            )
        }),
    }
}

/// The WeChat accounts in the OpenClaw Weixin plugin's state folder, what an import
/// would bring of each (or why it cannot), and signs of a gateway still running.
#[tauri::command]
#[specta::specta]
pub async fn scan_openclaw(
    state: State<'_, AppState>,
    state_dir: Option<String>,
) -> Result<OpenClawScan, IpcError> {
    let folder = openclaw_folder(state_dir)?;
    let locale = state.locale();
    Ok(state
        .backend()?
        .engine
        .scan_openclaw(folder, locale)
        .await?)
}

/// Imports the chosen accounts from the plugin's folder (each whole or not at all) and
/// starts them; the window shows the one-poller warning before it asks.
#[tauri::command]
#[specta::specta]
pub async fn import_openclaw(
    state: State<'_, AppState>,
    state_dir: Option<String>,
    account_ids: Vec<String>,
) -> Result<Vec<ImportOutcome>, IpcError> {
    let folder = openclaw_folder(state_dir)?;
    let locale = state.locale();
    Ok(state
        .backend()?
        .engine
        .import_openclaw(folder, account_ids, locale)
        .await?)
}
