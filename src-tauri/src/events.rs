//! Forwards the engine's event stream to the window (as typed `EngineNotice` events)
//! and keeps the tray's counts in step.

use desk_core::EngineEvent;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Manager};
use tauri_specta::Event;
use tokio::sync::broadcast::{error::RecvError, Receiver};

use crate::ipc::{EngineLagged, EngineNotice, MediaUrls};
use crate::state::AppState;
use crate::{notify, tray};

pub fn forward(app: AppHandle, mut receiver: Receiver<EngineEvent>) -> JoinHandle<()> {
    tauri::async_runtime::spawn(async move {
        loop {
            match receiver.recv().await {
                Ok(event) => {
                    let touches_tray = matches!(
                        event,
                        EngineEvent::MessageReceived { .. }
                            | EngineEvent::AccountStatusChanged { .. }
                            | EngineEvent::AccountRemoved { .. }
                            | EngineEvent::AccountRenamed { .. }
                            | EngineEvent::AccountReplaced { .. }
                    );
                    notify::on_event(&app, &event);
                    if let EngineEvent::Ai {
                        event:
                            desk_core::ai::AiEvent::SettingsChanged {
                                account_id: None, ..
                            },
                    } = &event
                    {
                        tray::refresh_ai(&app);
                    }
                    let media = media_urls(&app, &event);
                    if let Err(err) = (EngineNotice { event, media }).emit(&app) {
                        tracing::warn!(%err, "could not forward an engine event");
                    }
                    if touches_tray {
                        refresh_tray(&app);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    // The store has everything: the UI reloads instead of replaying.
                    tracing::warn!(missed, "the window fell behind the engine's events");
                    let _ = (EngineLagged { missed }).emit(&app);
                    refresh_tray(&app);
                }
                Err(RecvError::Closed) => break,
            }
        }
    })
}

/// A downloaded file's URLs, for the window to show it without asking.
fn media_urls(app: &AppHandle, event: &EngineEvent) -> Option<MediaUrls> {
    let EngineEvent::MediaReady { path, .. } = event else {
        return None;
    };
    let backend = app.try_state::<AppState>()?.try_backend()?;
    let (media_url, thumb_url) = backend.media_urls(path);
    Some(MediaUrls {
        media_url,
        thumb_url,
    })
}

/// Recomputes the tray's unread total and account lines from the store.
pub fn refresh_tray(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(backend) = app.try_state::<AppState>().and_then(|s| s.try_backend()) else {
            return;
        };
        match crate::ipc::views::account_views(&backend).await {
            Ok(accounts) => tray::show_accounts(&app, &accounts),
            Err(err) => tracing::warn!(message = %err.message, "could not count unread messages"),
        }
    });
}
