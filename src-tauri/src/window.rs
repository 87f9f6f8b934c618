//! The main window. Hiding it to the tray (its close button, the tray's Hide) destroys
//! it, and with it WebKit's web and network processes, while the engine, the tray and
//! notifications go on in this one process. Show builds it again from its
//! configuration; the page reopens the conversation the shell remembers
//! (`AppState::open_conversation`), scrolled to the newest message.

use tauri::{AppHandle, Manager, WebviewWindowBuilder, Window, WindowEvent};

use tauri_specta::Event;

use crate::ipc::ShowConversation;
use crate::state::{AppState, OpenConversation};
use crate::tray;

const MAIN: &str = "main";

pub fn on_event(window: &Window, event: &WindowEvent) {
    if window.label() == MAIN && matches!(event, WindowEvent::Destroyed) {
        refresh_tray(window.app_handle());
    }
}

pub fn is_visible(app: &AppHandle) -> bool {
    app.get_webview_window(MAIN)
        .and_then(|w| w.is_visible().ok())
        .unwrap_or(false)
}

/// Whether the user is looking at the window (shown and focused).
pub fn is_focused(app: &AppHandle) -> bool {
    app.get_webview_window(MAIN)
        .map(|w| w.is_visible().unwrap_or(false) && w.is_focused().unwrap_or(false))
        .unwrap_or(false)
}

/// The window's title, when the window is built (a rebuilt window gets it from the
/// tray refresh that follows).
pub fn set_title(app: &AppHandle, title: &str) {
    if let Some(window) = app.get_webview_window(MAIN) {
        if window.title().ok().as_deref() != Some(title) {
            if let Err(err) = window.set_title(title) {
                tracing::warn!(%err, "could not set the window title");
            }
        }
    }
}

/// Brings the window up, building it when it is gone.
pub fn show(app: &AppHandle) {
    match app.get_webview_window(MAIN) {
        Some(window) => {
            let _ = window.unminimize();
            if let Err(err) = window.show() {
                tracing::warn!(%err, "could not show the window");
            }
            let _ = window.set_focus();
            refresh_tray(app);
        }
        None => {
            // Built off the event loop's thread: the builder waits for that loop.
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(err) = build(&app) {
                    tracing::warn!(%err, "could not open the window");
                }
                refresh_tray(&app);
            });
        }
    }
}

/// At start-up (in `setup`): the window is built at once, beside the engine starting.
pub fn open_at_start(app: &AppHandle) {
    if let Err(err) = build(app) {
        tracing::warn!(%err, "could not open the window");
    }
}

fn build(app: &AppHandle) -> tauri::Result<()> {
    if app.get_webview_window(MAIN).is_some() {
        return Ok(());
    }
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == MAIN) else {
        return Ok(());
    };
    let window = WebviewWindowBuilder::from_config(app, config)?.build()?;
    let _ = window.set_focus();
    Ok(())
}

/// Opens the window at a conversation (a notification was clicked): a new window opens
/// at the remembered one, an open window is told to switch.
pub fn open_at(app: &AppHandle, conversation: OpenConversation) {
    if let Some(state) = app.try_state::<AppState>() {
        state.set_open_conversation(Some(conversation.clone()));
    }
    if app.get_webview_window(MAIN).is_some() {
        if let Err(err) = (ShowConversation { conversation }).emit(app) {
            tracing::warn!(%err, "could not switch the window's conversation");
        }
    }
    show(app);
}

/// Hides the window to the tray: it is destroyed, the app keeps running.
pub fn hide(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        if let Err(err) = window.destroy() {
            tracing::warn!(%err, "could not close the window");
        }
    }
    refresh_tray(app);
}

pub fn toggle(app: &AppHandle) {
    if is_visible(app) {
        hide(app);
    } else {
        show(app);
    }
}

fn refresh_tray(app: &AppHandle) {
    if let Some(state) = app.try_state::<AppState>() {
        tray::relabel(app, state.locale());
    }
}
