//! The tray icon. Linux delivers no tray click events, so every action is in the menu:
//! Show/Hide, the unread total, the conversations with unread messages (by the name
//! the owner gave the peer; a click opens it), one status line per account, Quit. The
//! menu is rebuilt when the language, the window's visibility, the accounts or a
//! peer's name change.

use std::sync::Mutex;

use desk_core::engine::AccountStatus;
use desk_core::Locale;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::{i18n, window};
use desk_core::views::{AccountView, UnreadConversation};

use crate::state::OpenConversation;

const TRAY_ID: &str = "main";
const TOGGLE_ID: &str = "toggle-window";
const QUIT_ID: &str = "quit";
const AI_ID: &str = "toggle-ai";
/// A conversation line's id is this prefix and its place in the list.
const OPEN_PREFIX: &str = "open-conversation-";
/// How many conversations with unread messages the menu names.
pub const UNREAD_LINES: usize = 5;

/// The last account list and unread conversations the tray showed.
#[derive(Default)]
struct TrayAccounts(Mutex<(Vec<AccountView>, Vec<UnreadConversation>)>);

/// Whether all AI replies are paused, as last read.
#[derive(Default)]
struct TrayAiPaused(Mutex<bool>);

pub fn create(app: &AppHandle, locale: Locale) -> tauri::Result<()> {
    app.manage(TrayAccounts::default());
    app.manage(TrayAiPaused::default());
    let menu = build_menu(app, locale, &[], &[])?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .menu(&menu)
        .tooltip(i18n::text(locale, "tray.tooltip"))
        .on_menu_event(|app, event| match event.id().as_ref() {
            TOGGLE_ID => window::toggle(app),
            AI_ID => toggle_ai(app),
            QUIT_ID => app.exit(0),
            other => {
                if let Some(place) = other.strip_prefix(OPEN_PREFIX) {
                    open_unread(app, place);
                }
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Opens the conversation of the unread line at `place`.
fn open_unread(app: &AppHandle, place: &str) {
    let line = app.try_state::<TrayAccounts>().and_then(|s| {
        let shown = s.0.lock().unwrap_or_else(|p| p.into_inner());
        place
            .parse::<usize>()
            .ok()
            .and_then(|i| shown.1.get(i).cloned())
    });
    if let Some(line) = line {
        window::open_at(
            app,
            OpenConversation {
                account_id: line.account_id,
                peer_id: line.peer_id,
            },
        );
    }
}

/// Rebuilds the menu for `locale` and the window's current visibility. The work runs on
/// the main thread: Tauri's tray handle wraps a single-threaded `Rc`, which another
/// thread must not even clone (engine events arrive on the runtime's threads).
pub fn relabel(app: &AppHandle, locale: Locale) {
    let handle = app.clone();
    if let Err(err) = app.run_on_main_thread(move || relabel_here(&handle, locale)) {
        tracing::warn!(%err, "could not update the tray");
    }
}

fn relabel_here(app: &AppHandle, locale: Locale) {
    let (accounts, unread) = app
        .try_state::<TrayAccounts>()
        .map(|s| s.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
        .unwrap_or_default();
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    match build_menu(app, locale, &accounts, &unread) {
        Ok(menu) => {
            if let Err(err) = tray.set_menu(Some(menu)) {
                tracing::warn!(%err, "could not update the tray menu");
            }
            let total: i64 = accounts.iter().map(|a| a.unread).sum();
            let tooltip = unread_line(locale, total);
            let _ = tray.set_tooltip(Some(format!(
                "{} — {tooltip}",
                i18n::text(locale, "tray.tooltip")
            )));
            show_unread_total(app, &tray, locale, total);
        }
        Err(err) => tracing::warn!(%err, "could not build the tray menu"),
    }
}

/// The unread total on the tray icon (a red dot) and in the window title.
fn show_unread_total(app: &AppHandle, tray: &tauri::tray::TrayIcon, locale: Locale, total: i64) {
    if let Some(icon) = app.default_window_icon() {
        if let Err(err) = tray.set_icon(Some(crate::unread::tray_icon(icon, total))) {
            tracing::warn!(%err, "could not update the tray icon");
        }
    }
    window::set_title(
        app,
        &crate::unread::title(&i18n::text(locale, "app.name"), total),
    );
}

/// Shows a new account list (status lines and unread total) and the conversations
/// with unread messages.
pub fn show_accounts(app: &AppHandle, accounts: &[AccountView], unread: &[UnreadConversation]) {
    if let Some(state) = app.try_state::<TrayAccounts>() {
        *state.0.lock().unwrap_or_else(|p| p.into_inner()) = (accounts.to_vec(), unread.to_vec());
    }
    if let Some(state) = app.try_state::<crate::state::AppState>() {
        relabel(app, state.locale());
    }
}

fn build_menu(
    app: &AppHandle,
    locale: Locale,
    accounts: &[AccountView],
    unread: &[UnreadConversation],
) -> tauri::Result<Menu<tauri::Wry>> {
    let toggle_key = if window::is_visible(app) {
        "tray.hide"
    } else {
        "tray.show"
    };
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(
        app,
        TOGGLE_ID,
        i18n::text(locale, toggle_key),
        true,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let total: i64 = accounts.iter().map(|a| a.unread).sum();
    menu.append(&MenuItem::new(
        app,
        unread_line(locale, total),
        false,
        None::<&str>,
    )?)?;
    for (place, line) in unread.iter().enumerate() {
        menu.append(&MenuItem::with_id(
            app,
            format!("{OPEN_PREFIX}{place}"),
            unread_conversation_line(locale, line),
            true,
            None::<&str>,
        )?)?;
    }
    for account in accounts {
        menu.append(&MenuItem::new(
            app,
            account_line(locale, account),
            false,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    let paused = app
        .try_state::<TrayAiPaused>()
        .map(|p| *p.0.lock().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or(false);
    let ai_key = if paused {
        "tray.resumeAi"
    } else {
        "tray.pauseAi"
    };
    menu.append(&MenuItem::with_id(
        app,
        AI_ID,
        i18n::text(locale, ai_key),
        true,
        None::<&str>,
    )?)?;
    menu.append(&MenuItem::with_id(
        app,
        QUIT_ID,
        i18n::text(locale, "tray.quit"),
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// Reads whether AI replies are paused and relabels the menu.
pub fn refresh_ai(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(state) = app.try_state::<crate::state::AppState>() else {
            return;
        };
        let Some(backend) = state.try_backend() else {
            return;
        };
        if let Ok(settings) = backend.ai.global_settings().await {
            if let Some(flag) = app.try_state::<TrayAiPaused>() {
                *flag.0.lock().unwrap_or_else(|e| e.into_inner()) = settings.paused;
            }
            relabel(&app, state.locale());
        }
    });
}

/// "Pause all AI" / "Resume AI" from the tray.
fn toggle_ai(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let Some(backend) = app
            .try_state::<crate::state::AppState>()
            .and_then(|s| s.try_backend())
        else {
            return;
        };
        let paused = match backend.ai.global_settings().await {
            Ok(settings) => settings.paused,
            Err(err) => {
                tracing::warn!(%err, "could not read the AI settings");
                return;
            }
        };
        if let Err(err) = backend.ai.set_paused(!paused).await {
            tracing::warn!(%err, "could not pause the AI");
        }
        refresh_ai(&app);
    });
}

fn unread_line(locale: Locale, total: i64) -> String {
    i18n::text_with(locale, "tray.unread", &[("count", &total.to_string())])
}

/// "Name: 2 unread": the peer by the owner's name for it, else its id.
pub fn unread_conversation_line(locale: Locale, line: &UnreadConversation) -> String {
    let name = line.display_name.as_deref().unwrap_or(&line.peer_id);
    let count = line.unread_count.to_string();
    i18n::text_with(
        locale,
        "tray.unreadFrom",
        &[("name", name), ("count", &count)],
    )
}

/// "Alias: Online", with the account id when there is no alias.
pub fn account_line(locale: Locale, account: &AccountView) -> String {
    let name = account.alias.as_deref().unwrap_or(&account.account_id);
    format!("{name}: {}", i18n::text(locale, status_key(account)))
}

/// The translation key of an account's state, as the sidebar shows it too.
pub fn status_key(account: &AccountView) -> &'static str {
    if !account.enabled {
        return match account.lifecycle.as_str() {
            "removed" => "status.removed",
            "replaced" => "status.replaced",
            _ => "status.disabled",
        };
    }
    match account.status {
        AccountStatus::Connecting => "status.connecting",
        AccountStatus::Online => "status.online",
        AccountStatus::BackingOff { .. } => "status.backingOff",
        AccountStatus::StaleToken { .. } => "status.tokenStale",
        AccountStatus::Paused { .. } => "status.paused",
        AccountStatus::Stopped => "status.offline",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(enabled: bool, lifecycle: &str, status: AccountStatus) -> AccountView {
        AccountView {
            account_id: "bot-im-bot".into(),
            bot_id: "bot@im.bot".into(),
            alias: None,
            user_id: None,
            base_url: "http://127.0.0.1:1/".into(),
            enabled,
            lifecycle: lifecycle.into(),
            status,
            unread: 0,
            undecodable: 0,
            ai_enabled: false,
        }
    }

    #[test]
    fn lines_name_the_account_and_its_state_in_both_languages() {
        let online = account(true, "online", AccountStatus::Online);
        assert_eq!(account_line(Locale::En, &online), "bot-im-bot: Online");
        assert_eq!(account_line(Locale::ZhCn, &online), "bot-im-bot: 在线");
        let mut named = account(true, "online", AccountStatus::StaleToken { until_ms: 1 });
        named.alias = Some("Shop".into());
        assert_eq!(
            account_line(Locale::En, &named),
            "Shop: Scan again to reconnect"
        );
        let line = UnreadConversation {
            account_id: "bot-im-bot".into(),
            peer_id: "o9cq80@im.wechat".into(),
            display_name: Some("王小明".into()),
            unread_count: 2,
        };
        assert_eq!(
            unread_conversation_line(Locale::En, &line),
            "王小明: 2 unread"
        );
        assert_eq!(
            unread_conversation_line(Locale::ZhCn, &line),
            "王小明：2 条未读"
        );
        let unnamed = UnreadConversation {
            display_name: None,
            ..line
        };
        assert_eq!(
            unread_conversation_line(Locale::En, &unnamed),
            "o9cq80@im.wechat: 2 unread"
        );
        // A name is shown as written, even one that looks like a placeholder.
        let odd = UnreadConversation {
            display_name: Some("{count}".into()),
            ..unnamed
        };
        assert_eq!(
            unread_conversation_line(Locale::En, &odd),
            "{count}: 2 unread"
        );
        let removed = account(false, "removed", AccountStatus::Stopped);
        assert_eq!(status_key(&removed), "status.removed");
        assert_eq!(unread_line(Locale::En, 3), "Unread: 3");
        // Every state has a text in both catalogs.
        for key in [
            "status.connecting",
            "status.online",
            "status.backingOff",
            "status.tokenStale",
            "status.paused",
            "status.offline",
            "status.disabled",
            "status.removed",
            "status.replaced",
        ] {
            assert_ne!(i18n::text(Locale::En, key), key);
            assert_ne!(
                i18n::text(Locale::ZhCn, key),
                i18n::text(Locale::En, key),
                "{key}"
            );
        }
    }
}
