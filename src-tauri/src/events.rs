//! Forwards the engine's event stream to the window as `EngineNotice`s that carry the
//! views each event changed (built in the core), and keeps the tray's counts in step.

use desk_core::event_bus::{EventFollower, Followed};
use desk_core::views::ViewChanges;
use desk_core::EngineEvent;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Manager};
use tauri_specta::Event;

use crate::backend::Backend;
use crate::ipc::{EngineLagged, EngineNotice};
use crate::state::AppState;
use crate::{notify, tray, window};

pub fn forward(app: AppHandle, mut receiver: EventFollower) -> JoinHandle<()> {
    tauri::async_runtime::spawn(async move {
        while let Some(followed) = receiver.recv().await {
            match followed {
                Followed::Event(event) => {
                    let touches_tray = matches!(
                        event,
                        EngineEvent::MessageReceived { .. }
                            | EngineEvent::AccountStatusChanged { .. }
                            | EngineEvent::AccountRemoved { .. }
                            | EngineEvent::AccountRenamed { .. }
                            | EngineEvent::AccountReplaced { .. }
                            | EngineEvent::PeerChanged { .. }
                    );
                    let changes = changes_for(&app, &event).await;
                    notify::on_event(&app, &event, &changes);
                    if let EngineEvent::Ai {
                        event:
                            desk_core::ai::AiEvent::SettingsChanged {
                                account_id: None, ..
                            },
                    } = &event
                    {
                        tray::refresh_ai(&app);
                    }
                    if let Err(err) = (EngineNotice { event, changes }).emit(&app) {
                        tracing::warn!(%err, "could not forward an engine event");
                    }
                    if touches_tray {
                        refresh_tray(&app);
                    }
                }
                Followed::Missed { count, touched } => {
                    // The store has everything: the window says so and reloads what the
                    // missed events touched instead of replaying them.
                    tracing::warn!(count, "the window fell behind the engine's events");
                    let _ = EngineLagged::new(count, touched.as_ref()).emit(&app);
                    refresh_tray(&app);
                }
            }
        }
    })
}

/// The views `event` changed. A message into the conversation the user is looking at
/// is read at once, so its view already says so.
async fn changes_for(app: &AppHandle, event: &EngineEvent) -> ViewChanges {
    let Some(state) = app.try_state::<AppState>() else {
        return ViewChanges::default();
    };
    let Some(backend) = state.try_backend() else {
        return ViewChanges::default();
    };
    if let EngineEvent::MessageReceived {
        account_id,
        peer_id,
        ..
    } = event
    {
        let seen = state
            .open_conversation()
            .is_some_and(|open| open.is(account_id, peer_id))
            && window::is_focused(app);
        if seen {
            read_now(&backend, account_id, peer_id).await;
        }
    }
    match backend.views.changes_for(event).await {
        Ok(changes) => changes,
        Err(err) => {
            tracing::warn!(%err, "could not read what an engine event changed");
            ViewChanges::default()
        }
    }
}

async fn read_now(backend: &Backend, account_id: &str, peer_id: &str) {
    if let Err(err) = backend.views.mark_read(account_id, peer_id).await {
        tracing::warn!(%err, "could not mark the open conversation read");
    }
}

/// Recomputes the tray's unread total, account lines and unread conversations from
/// the store.
pub fn refresh_tray(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(backend) = app.try_state::<AppState>().and_then(|s| s.try_backend()) else {
            return;
        };
        let read = async {
            let accounts = backend.views.accounts().await?;
            let unread = backend
                .views
                .unread_conversations(tray::UNREAD_LINES)
                .await?;
            Ok::<_, desk_core::EngineError>((accounts, unread))
        };
        match read.await {
            Ok((accounts, unread)) => tray::show_accounts(&app, &accounts, &unread),
            Err(err) => tracing::warn!(%err, "could not count unread messages"),
        }
    });
}
