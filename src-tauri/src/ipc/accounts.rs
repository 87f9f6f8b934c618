//! Account commands: list, QR login, rename, enable/disable, remove.

use serde::Serialize;
use tauri::State;

use super::views::{self, AccountView};
use crate::state::AppState;
use crate::IpcError;

/// Every stored account with its live status and unread total.
#[tauri::command]
#[specta::specta]
pub async fn list_accounts(state: State<'_, AppState>) -> Result<Vec<AccountView>, IpcError> {
    let backend = state.backend()?;
    views::account_views(&backend).await
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

/// A QR code as modules, drawn by the window: the login URL never leaves the machine.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct QrMatrix {
    /// Modules per side.
    pub size: u32,
    /// `size * size` characters, row by row: `1` dark, `0` light.
    pub modules: String,
}

#[tauri::command]
#[specta::specta]
pub fn qr_matrix(text: String) -> Result<QrMatrix, IpcError> {
    let qr = qrcodegen::QrCode::encode_text(&text, qrcodegen::QrCodeEcc::Medium).map_err(|_| {
        IpcError::new(
            crate::ErrorCode::InvalidArgument,
            "the login link is too long for a QR code",
        )
    })?;
    let size = qr.size();
    let mut modules = String::with_capacity((size * size) as usize);
    for y in 0..size {
        for x in 0..size {
            modules.push(if qr.get_module(x, y) { '1' } else { '0' });
        }
    }
    Ok(QrMatrix {
        size: size as u32,
        modules,
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
    fn qr_matrix_is_square_and_encodes_the_text() {
        let qr = qr_matrix("https://liteapp.weixin.qq.com/q/abc?qrcode=1".into()).unwrap();
        assert!(qr.size >= 21);
        assert_eq!(qr.modules.len(), (qr.size * qr.size) as usize);
        // Finder pattern: the top-left 7 modules of the first row are dark.
        assert_eq!(&qr.modules[..7], "1111111");
        assert!(qr.modules.chars().all(|c| c == '0' || c == '1'));
        let other = qr_matrix("https://liteapp.weixin.qq.com/q/abd?qrcode=1".into()).unwrap();
        assert_ne!(qr.modules, other.modules);
    }
}
