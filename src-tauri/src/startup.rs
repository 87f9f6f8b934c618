//! Brings the engine up after the window is shown: the keyring check first (the
//! engine reads bot tokens from it), then the backend for the launch mode. The sandbox
//! keeps its secrets in memory and does not wait for the keyring.

use std::sync::Arc;

use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::backend::Backend;
use crate::ipc::BackendChanged;
use crate::launch::Mode;
use crate::state::AppState;
use crate::{events, secrets};

pub fn begin(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let Some(mode) = app.try_state::<AppState>().map(|s| s.mode()) else {
            return;
        };
        if mode == Mode::Sandbox {
            let sandbox = tauri::async_runtime::spawn(enter_sandbox(app.clone()));
            secrets::check(&app).await;
            if let Ok(Err(err)) = sandbox.await {
                tracing::error!(%err, "the sandbox did not start");
            }
            return;
        }
        secrets::check(&app).await;
        let result = {
            let state = app.state::<AppState>();
            match state.secret_store() {
                Some(store) => {
                    Backend::open(mode, state.home().clone(), store, &state.prefs().backend)
                }
                None => Err("the secret store is not open".to_owned()),
            }
        };
        match result {
            Ok(backend) => run(&app, backend).await,
            Err(err) => fail(&app, err),
        }
    });
}

/// Stops whatever runs and starts the sandbox in its place.
pub async fn enter_sandbox(app: AppHandle) -> Result<(), String> {
    let home = app.state::<AppState>().home().clone();
    match Backend::sandbox(&home).await {
        Ok(backend) => {
            run(&app, backend).await;
            Ok(())
        }
        Err(err) => {
            fail(&app, err.clone());
            Err(err)
        }
    }
}

fn fail(app: &AppHandle, err: String) {
    tracing::error!(%err, "the engine did not start");
    app.state::<AppState>().set_backend_error(err);
    announce(app);
}

/// Forwards the backend's events, puts it in place, stops the one it replaces and
/// starts the enabled accounts.
async fn run(app: &AppHandle, backend: Backend) {
    let backend = Arc::new(backend);
    // Subscribed before anything starts, so no event is missed.
    let receiver = backend.engine.follow();
    backend.set_forwarder(events::forward(app.clone(), receiver));
    let previous = app
        .state::<AppState>()
        .install_backend(Arc::clone(&backend));
    if let Some(previous) = previous {
        previous.stop().await;
    }
    announce(app);
    match backend.engine.accounts().start_enabled().await {
        Ok(failures) => {
            for (account, err) in failures {
                tracing::warn!(%account, %err, "an account did not start");
            }
        }
        Err(err) => tracing::error!(%err, "could not start the accounts"),
    }
    events::refresh_tray(app);
    crate::tray::refresh_ai(app);
}

fn announce(app: &AppHandle) {
    let state = app.state::<AppState>();
    let event = BackendChanged {
        mode: state.mode(),
        ready: state.try_backend().is_some(),
        error: state.backend_error(),
    };
    if let Err(err) = event.emit(app) {
        tracing::warn!(%err, "could not announce the engine");
    }
}
