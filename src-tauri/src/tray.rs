//! The tray icon. Linux delivers no tray click events, so every action is in the menu.

use desk_core::Locale;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::{i18n, window};

const TOGGLE_ID: &str = "toggle-window";
const QUIT_ID: &str = "quit";

/// The menu items whose labels change with language and window visibility.
struct TrayItems {
    toggle: MenuItem<tauri::Wry>,
    quit: MenuItem<tauri::Wry>,
}

pub fn create(app: &AppHandle, locale: Locale) -> tauri::Result<()> {
    let toggle = MenuItem::with_id(app, TOGGLE_ID, "", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT_ID, "", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&toggle, &PredefinedMenuItem::separator(app)?, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main")
        .menu(&menu)
        .tooltip(i18n::text(locale, "tray.tooltip"))
        .on_menu_event(|app, event| match event.id().as_ref() {
            TOGGLE_ID => window::toggle(app),
            QUIT_ID => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    app.manage(TrayItems { toggle, quit });
    relabel(app, locale);
    Ok(())
}

/// Rewrites the labels for `locale` and the window's current visibility.
pub fn relabel(app: &AppHandle, locale: Locale) {
    let Some(items) = app.try_state::<TrayItems>() else {
        return;
    };
    let toggle_key = if window::is_visible(app) {
        "tray.hide"
    } else {
        "tray.show"
    };
    let results = [
        items.toggle.set_text(i18n::text(locale, toggle_key)),
        items.quit.set_text(i18n::text(locale, "tray.quit")),
    ];
    for err in results.into_iter().filter_map(Result::err) {
        tracing::warn!(%err, "could not relabel the tray menu");
    }
}
