//! The main window: closing hides it to the tray; the tray and a second launch bring it back.

use tauri::{AppHandle, Manager, Window, WindowEvent};

use crate::state::AppState;
use crate::tray;

const MAIN: &str = "main";

pub fn on_event(window: &Window, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if window.label() == MAIN {
            api.prevent_close();
            if let Err(err) = window.hide() {
                tracing::warn!(%err, "could not hide the window");
            }
            refresh_tray(window.app_handle());
        }
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

pub fn set_title(app: &AppHandle, title: &str) {
    if let Some(window) = app.get_webview_window(MAIN) {
        if window.title().ok().as_deref() != Some(title) {
            if let Err(err) = window.set_title(title) {
                tracing::warn!(%err, "could not set the window title");
            }
        }
    }
}

pub fn show(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.unminimize();
        if let Err(err) = window.show() {
            tracing::warn!(%err, "could not show the window");
        }
        let _ = window.set_focus();
    }
    refresh_tray(app);
}

pub fn toggle(app: &AppHandle) {
    match app.get_webview_window(MAIN) {
        Some(window) if is_visible(app) => {
            if let Err(err) = window.hide() {
                tracing::warn!(%err, "could not hide the window");
            }
            refresh_tray(app);
        }
        _ => show(app),
    }
}

fn refresh_tray(app: &AppHandle) {
    if let Some(state) = app.try_state::<AppState>() {
        tray::relabel(app, state.locale());
    }
}
