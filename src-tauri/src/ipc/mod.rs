//! Commands and events, declared once here. `ui/src/lib/ipc/bindings.ts` is generated
//! from these declarations (see the `bindings_are_current` test).

mod accounts;
mod ai;
mod conversations;
mod files;
mod peers;
mod save_as;

use desk_core::secrets::SecretStoreStatus;
use desk_core::views::ViewChanges;
use desk_core::{EngineEvent, Locale};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tauri_specta::Event;

use crate::launch::Mode;
use crate::state::{AppState, OpenConversation};
use crate::{tray, ErrorCode, IpcError};
use desk_core::prefs::Prefs;

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AppInfo {
    pub version: String,
    /// The data folder in use (the sandbox's while in the sandbox).
    pub data_dir: String,
    pub locale: Locale,
    pub system_locale: Option<String>,
    /// Where secrets are kept; `null` while the keyring check is still running.
    pub secrets: Option<SecretStoreStatus>,
    pub mode: Mode,
    /// Whether the engine runs (commands on accounts answer `not_ready` until then).
    pub engine_ready: bool,
    /// Why the engine could not start, if it could not.
    pub engine_error: Option<String>,
    pub prefs: Prefs,
    /// The conversation the window showed last (kept while the window is closed to the
    /// tray), for a new window to open at.
    pub open_conversation: Option<OpenConversation>,
}

/// Sent when the start-up keyring check has decided where secrets are kept.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct SecretsStatusChanged {
    pub status: SecretStoreStatus,
}

/// Sent to every window when the interface language changes.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct LocaleChanged {
    pub locale: Locale,
}

/// The engine started, failed to start, or was replaced (entering the sandbox): the
/// window reloads everything.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct BackendChanged {
    pub mode: Mode,
    pub ready: bool,
    pub error: Option<String>,
}

/// One engine event and the views it changed (built in the core): the window applies
/// `changes` in place and asks for nothing.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct EngineNotice {
    pub event: EngineEvent,
    pub changes: ViewChanges,
}

/// Open this conversation (its notification was clicked).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct ShowConversation {
    pub conversation: OpenConversation,
}

/// The window fell behind the engine and missed `missed` events: it says so and
/// reloads from the store what they touched (everything when `touched` is `null`).
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type, tauri_specta::Event)]
pub struct EngineLagged {
    pub missed: u64,
    pub touched: Option<TouchedViews>,
}

/// The accounts and conversations some missed events touched.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct TouchedViews {
    /// Every account changed (the global AI settings did): reload them all.
    pub every_account: bool,
    /// Accounts touched themselves or through one of their conversations.
    pub accounts: Vec<String>,
    pub conversations: Vec<OpenConversation>,
}

impl EngineLagged {
    pub fn new(missed: u64, touched: Option<&desk_core::event_bus::Touched>) -> EngineLagged {
        EngineLagged {
            missed,
            touched: touched.map(|t| TouchedViews {
                // The empty account id stands for every account.
                every_account: t.accounts.contains(""),
                accounts: t
                    .accounts
                    .iter()
                    .filter(|a| !a.is_empty())
                    .cloned()
                    .collect(),
                conversations: t
                    .conversations
                    .iter()
                    .map(|(account_id, peer_id)| OpenConversation {
                        account_id: account_id.clone(),
                        peer_id: peer_id.clone(),
                    })
                    .collect(),
            }),
        }
    }
}

/// Version, data folder, mode, preferences and the language to show.
#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> Result<AppInfo, IpcError> {
    let backend = state.try_backend();
    let data_dir = backend
        .as_ref()
        .map(|b| b.data_dir.root().to_owned())
        .unwrap_or_else(|| state.home().root().to_owned());
    Ok(AppInfo {
        version: desk_core::VERSION.to_owned(),
        data_dir: data_dir.to_string_lossy().into_owned(),
        locale: state.locale(),
        system_locale: state.system_locale().map(str::to_owned),
        secrets: state.secrets_status(),
        mode: state.mode(),
        engine_ready: backend.is_some(),
        engine_error: state.backend_error(),
        prefs: state.prefs(),
        open_conversation: state.open_conversation(),
    })
}

/// Saves the interface language, relabels the tray and tells every window.
#[tauri::command]
#[specta::specta]
pub fn set_locale(
    app: AppHandle,
    state: State<'_, AppState>,
    locale: Locale,
) -> Result<Locale, IpcError> {
    state.settings().save_locale(locale)?;
    tray::relabel(&app, locale);
    if let Err(err) = (LocaleChanged { locale }).emit(&app) {
        tracing::warn!(%err, "could not announce the language change");
    }
    Ok(locale)
}

/// Replaces the running engine with the sandbox (an emulator with demo chats).
#[tauri::command]
#[specta::specta]
pub async fn enter_sandbox(app: AppHandle) -> Result<(), IpcError> {
    crate::startup::enter_sandbox(app)
        .await
        .map_err(|err| IpcError::new(ErrorCode::Internal, err))
}

/// Saves the window's preferences (notifications, start-up).
#[tauri::command]
#[specta::specta]
pub fn set_prefs(state: State<'_, AppState>, prefs: Prefs) -> Result<Prefs, IpcError> {
    let backend = prefs
        .backend
        .clone()
        .cleaned()
        .map_err(|err| IpcError::new(ErrorCode::InvalidArgument, err))?;
    let send_interval_ms = desk_core::prefs::checked_send_interval(prefs.send_interval_ms)
        .map_err(|err| IpcError::new(ErrorCode::InvalidArgument, err))?;
    let prefs = Prefs {
        backend,
        send_interval_ms,
        ..prefs
    };
    let saved = state
        .update_prefs(|p| {
            // Mutes are changed per conversation, never overwritten from here.
            let muted = std::mem::take(&mut p.muted);
            *p = Prefs { muted, ..prefs };
        })
        .map_err(|err| IpcError::new(ErrorCode::Storage, err.to_string()))?;
    crate::autostart::apply(saved.autostart);
    Ok(saved)
}

include!("command_list.rs");

macro_rules! specta_commands {
    ($($command:tt)*) => {
        tauri_specta::collect_commands![$($command)*]
    };
}

macro_rules! command_paths {
    ($($command:tt)*) => {
        stringify!($($command)*)
    };
}

/// Every command's name (the last segment of its path), from the one list.
pub fn command_names() -> Vec<&'static str> {
    app_commands!(command_paths)
        .split(',')
        .filter_map(|path| path.rsplit("::").next())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect()
}

pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(app_commands!(specta_commands))
        .events(tauri_specta::collect_events![
            LocaleChanged,
            SecretsStatusChanged,
            BackendChanged,
            EngineNotice,
            EngineLagged,
            ShowConversation
        ])
}

/// Renders the TypeScript bindings for the UI. 64-bit integers become `number`: the
/// ones that cross (row ids, epoch milliseconds, counters) stay below 2^53.
pub fn render_bindings(path: &std::path::Path) -> Result<(), String> {
    specta_builder()
        .export(
            specta_typescript::Typescript::default()
                .bigint(specta_typescript::BigIntExportBehavior::Number)
                .header("// Generated from src-tauri/src/ipc by `./dev bindings`. Do not edit.\n// @ts-nocheck"),
            path,
        )
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the window is told after a lag: the count, the touched accounts and
    /// conversations, "every account" for the global settings, or nothing to go by.
    #[test]
    fn a_lag_tells_the_window_what_to_read_again() {
        let mut touched = desk_core::event_bus::Touched::default();
        touched.accounts.extend(["a".to_owned(), "b".to_owned()]);
        touched
            .conversations
            .insert(("a".to_owned(), "Alice@im.wechat".to_owned()));
        let json = serde_json::to_value(EngineLagged::new(7, Some(&touched))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"missed": 7, "touched": {
                "every_account": false,
                "accounts": ["a", "b"],
                "conversations": [{"account_id": "a", "peer_id": "Alice@im.wechat"}],
            }})
        );
        touched.accounts.insert(String::new());
        let lagged = EngineLagged::new(1, Some(&touched));
        let views = lagged.touched.unwrap();
        assert!(views.every_account);
        assert_eq!(views.accounts, ["a", "b"]);
        assert_eq!(EngineLagged::new(9, None).touched, None);
    }

    /// The committed bindings must be what the Rust declarations produce.
    /// `UPDATE_BINDINGS=1` rewrites them instead of failing.
    #[test]
    fn bindings_are_current() {
        let committed =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/lib/ipc/bindings.ts");
        let dir = tempfile::tempdir().unwrap();
        let fresh_path = dir.path().join("bindings.ts");
        render_bindings(&fresh_path).unwrap();
        let fresh = std::fs::read_to_string(&fresh_path).unwrap();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&committed, &fresh).unwrap();
            return;
        }
        let current = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            current == fresh,
            "ui/src/lib/ipc/bindings.ts is out of date with src-tauri/src/ipc; run `./dev bindings`"
        );
    }

    /// Each command is a permission of the generated `app-commands` set, which is what
    /// the window's capability grants, and each is in the bindings.
    #[test]
    fn every_command_is_declared_and_granted() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let names = command_names();
        assert!(names.len() > 40, "the list reads as {names:?}");
        assert!(names.contains(&"list_accounts") && names.contains(&"app_info"));
        let set = std::fs::read_to_string(root.join("permissions/app-commands.toml")).unwrap();
        for name in &names {
            let permission = format!("\"allow-{}\"", name.replace('_', "-"));
            assert!(set.contains(&permission), "{permission} not in the set");
        }
        let caps = std::fs::read_to_string(root.join("src-tauri/capabilities/main.json")).unwrap();
        assert!(
            caps.contains("\"app-commands\""),
            "the window is not granted the set"
        );
        let bindings = std::fs::read_to_string(root.join("ui/src/lib/ipc/bindings.ts")).unwrap();
        for name in &names {
            assert!(
                bindings.contains(&format!("\"{name}\"")),
                "{name} missing from the bindings"
            );
        }
    }
}
