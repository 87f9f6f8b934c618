//! Opens the secret store off the start-up path: the keyring canary can wait on an unlock
//! prompt, and the window should not.

use desk_core::secrets::open_secret_store;
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::ipc::SecretsStatusChanged;
use crate::state::AppState;

/// Keyring entries of the app live under this service name.
const SERVICE: &str = "weixin-desk";

pub fn check_in_background(app: AppHandle) {
    tauri::async_runtime::spawn_blocking(move || {
        let opened = open_secret_store(SERVICE);
        let status = opened.status.clone();
        if let Some(state) = app.try_state::<AppState>() {
            state.set_secrets(opened);
        }
        if let Err(err) = (SecretsStatusChanged { status }).emit(&app) {
            tracing::warn!(%err, "could not announce where secrets are kept");
        }
    });
}
