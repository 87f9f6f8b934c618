//! Opens the secret store off the start-up path: the keyring canary can wait on an unlock
//! prompt, and the window should not.

use desk_core::secrets::{open_secret_store, OpenedSecretStore};
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::ipc::SecretsStatusChanged;
use crate::state::AppState;

/// Keyring entries of the app live under this service name.
const SERVICE: &str = "weixin-desk";

/// Runs the keyring check, records the verdict and tells the UI.
pub async fn check(app: &AppHandle) {
    let opened = tauri::async_runtime::spawn_blocking(|| open_secret_store(SERVICE))
        .await
        .unwrap_or_else(|err| OpenedSecretStore {
            store: std::sync::Arc::new(desk_core::secrets::MemoryStore::new()),
            status: desk_core::secrets::SecretStoreStatus::NotPersistent {
                reason: format!("the keyring check crashed: {err}"),
            },
        });
    let status = opened.status.clone();
    if let desk_core::secrets::SecretStoreStatus::NotPersistent { reason } = &status {
        crate::notify::secrets_not_persistent(app, reason);
    }
    if let Some(state) = app.try_state::<AppState>() {
        state.set_secrets(opened);
    }
    if let Err(err) = (SecretsStatusChanged { status }).emit(app) {
        tracing::warn!(%err, "could not announce where secrets are kept");
    }
}
