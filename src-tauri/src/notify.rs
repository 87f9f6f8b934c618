//! Desktop notifications: inbound messages while the window is hidden or unfocused
//! (unless the peer is muted or "do not disturb" is on), and account problems. A click
//! on a message's notification opens the window at its conversation.

use desk_core::engine::AccountStatus;
use desk_core::views::ViewChanges;
use desk_core::EngineEvent;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::i18n;
use crate::state::{AppState, OpenConversation};
use crate::window;

/// `changes` are the views the event changed (the peer's name comes from there).
pub fn on_event(app: &AppHandle, event: &EngineEvent, changes: &ViewChanges) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let prefs = state.prefs();
    if prefs.do_not_disturb {
        return;
    }
    let locale = state.locale();
    match event {
        EngineEvent::MessageReceived {
            account_id,
            peer_id,
            item_kind,
            preview,
            ..
        } => {
            if !prefs.notifications
                || window::is_focused(app)
                || prefs.is_muted(account_id, peer_id)
            {
                return;
            }
            let title = changes
                .conversation
                .as_ref()
                .and_then(|c| c.display_name.clone())
                .unwrap_or_else(|| peer_id.clone());
            let body = match preview.as_deref().filter(|p| !p.trim().is_empty()) {
                Some(text) => text.to_owned(),
                None => i18n::text(locale, &format!("kind.{item_kind}")),
            };
            let conversation = OpenConversation {
                account_id: account_id.clone(),
                peer_id: peer_id.clone(),
            };
            show_message(app, &title, &body, conversation);
        }
        EngineEvent::AccountStatusChanged {
            account_id,
            status: AccountStatus::StaleToken { .. },
        } => {
            let body = i18n::text_with(locale, "notify.tokenStale", &[("account", account_id)]);
            show(app, &i18n::text(locale, "app.name"), &body);
        }
        _ => {}
    }
}

/// Tells the user that secrets will not survive a restart.
pub fn secrets_not_persistent(app: &AppHandle, reason: &str) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    if state.prefs().do_not_disturb {
        return;
    }
    let locale = state.locale();
    // The sentence says what to do; the keyring's own words go to the log only.
    tracing::info!(reason, "secrets are kept in memory only");
    let body = desk_core::Problem::KeyringUnavailable.sentence(locale);
    show(app, &i18n::text(locale, "app.name"), &body);
}

fn show(app: &AppHandle, title: &str, body: &str) {
    if let Err(err) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(%err, "could not show a notification");
    }
}

/// How many message notifications may wait for a click at once (one thread each);
/// beyond that they show without the click action.
#[cfg(target_os = "linux")]
const MAX_WAITING: usize = 16;

#[cfg(target_os = "linux")]
static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A message's notification; clicking it opens that conversation. Through the
/// notification server directly (the notification plugin reports no clicks on Linux).
#[cfg(target_os = "linux")]
fn show_message(app: &AppHandle, title: &str, body: &str, conversation: OpenConversation) {
    use std::sync::atomic::Ordering;
    if WAITING.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
        WAITING.fetch_sub(1, Ordering::SeqCst);
        show(app, title, body);
        return;
    }
    let Some(locale) = app.try_state::<AppState>().map(|s| s.locale()) else {
        WAITING.fetch_sub(1, Ordering::SeqCst);
        return;
    };
    let mut notification = notify_rust::Notification::new();
    notification
        .appname(&i18n::text(locale, "app.name"))
        .summary(title)
        .body(body)
        .action("default", &i18n::text(locale, "notify.open"));
    let app = app.clone();
    std::thread::spawn(move || {
        match notification.show() {
            Ok(handle) => handle.wait_for_action(|action| {
                if action == "default" {
                    window::open_at(&app, conversation);
                }
            }),
            Err(err) => tracing::warn!(%err, "could not show a notification"),
        }
        WAITING.fetch_sub(1, Ordering::SeqCst);
    });
}

#[cfg(not(target_os = "linux"))]
fn show_message(app: &AppHandle, title: &str, body: &str, _conversation: OpenConversation) {
    show(app, title, body);
}
