//! Commands and events, declared once here. `ui/src/lib/ipc/bindings.ts` is generated
//! from these declarations (see the `bindings_are_current` test).

use desk_core::secrets::SecretStoreStatus;
use desk_core::Locale;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tauri_specta::Event;

use crate::state::AppState;
use crate::{tray, IpcError};

#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub locale: Locale,
    pub system_locale: Option<String>,
    /// Where secrets are kept; `null` while the keyring check is still running.
    pub secrets: Option<SecretStoreStatus>,
}

/// Sent when the start-up keyring check has decided where secrets are kept.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct SecretsStatusChanged {
    pub status: SecretStoreStatus,
}

/// Sent to every window when the interface language changes.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct LocaleChanged {
    pub locale: Locale,
}

/// Version, data folder and the language to show.
#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> Result<AppInfo, IpcError> {
    Ok(AppInfo {
        version: desk_core::VERSION.to_owned(),
        data_dir: state.data_dir().root().to_string_lossy().into_owned(),
        locale: state.locale(),
        system_locale: state.system_locale().map(str::to_owned),
        secrets: state.secrets_status(),
    })
}

/// Saves the interface language, relabels the tray and tells every window.
#[tauri::command]
#[specta::specta]
pub fn set_locale(
    app: AppHandle,
    state: State<'_, AppState>,
    locale: Locale,
) -> Result<Locale, IpcError> {
    state.store().save_locale(locale)?;
    tray::relabel(&app, locale);
    if let Err(err) = (LocaleChanged { locale }).emit(&app) {
        tracing::warn!(%err, "could not announce the language change");
    }
    Ok(locale)
}

pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![app_info, set_locale])
        .events(tauri_specta::collect_events![
            LocaleChanged,
            SecretsStatusChanged
        ])
}

/// Renders the TypeScript bindings for the UI.
pub fn render_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder()
        .export(
            specta_typescript::Typescript::default()
                .header("// Generated from src-tauri/src/ipc.rs by `./dev bindings`. Do not edit.\n// @ts-nocheck"),
            path,
        )
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed bindings must be what the Rust declarations produce.
    /// `UPDATE_BINDINGS=1` rewrites them instead of failing.
    #[test]
    fn bindings_are_current() {
        let committed =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/ipc/bindings.ts");
        let dir = tempfile::tempdir().unwrap();
        let fresh_path = dir.path().join("bindings.ts");
        render_bindings(&fresh_path).unwrap();
        let fresh = std::fs::read_to_string(&fresh_path).unwrap();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&committed, &fresh).unwrap();
            return;
        }
        let current = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            current == fresh,
            "ui/src/lib/ipc/bindings.ts is out of date with src-tauri/src/ipc.rs; run `./dev bindings`"
        );
    }
}
