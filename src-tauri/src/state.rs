//! What the shell keeps between commands: the user's data folder and settings store,
//! the secret store, the launch mode and the running backend (engine).

use std::sync::{Arc, Mutex, MutexGuard};

use desk_core::secrets::{OpenedSecretStore, SecretStore, SecretStoreStatus};
use desk_core::{CoreError, DataDir, Locale, Store};

use crate::backend::Backend;
use crate::error::{ErrorCode, IpcError};
use crate::launch::Mode;
use desk_core::prefs::Prefs;

pub struct AppState {
    home: DataDir,
    /// Interface settings (language); always the user's own database, also in the
    /// sandbox, so the chosen language follows the user.
    settings: Mutex<Store>,
    system_locale: Option<String>,
    /// Empty until the keyring check at start-up has finished.
    secrets: Mutex<Option<OpenedSecretStore>>,
    mode: Mutex<Mode>,
    backend: Mutex<Option<Arc<Backend>>>,
    /// Why the backend could not start, for the UI.
    backend_error: Mutex<Option<String>>,
    /// The conversation the window shows (account, peer), if any.
    open_conversation: Mutex<Option<OpenConversation>>,
}

/// The conversation on screen: its inbound messages are read as they arrive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct OpenConversation {
    pub account_id: String,
    pub peer_id: String,
}

impl OpenConversation {
    pub fn is(&self, account_id: &str, peer_id: &str) -> bool {
        self.account_id == account_id && self.peer_id.eq_ignore_ascii_case(peer_id)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves SQLite consistent (transactions roll back).
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    /// Opens the per-user data directory and its store.
    pub fn open(mode: Mode) -> Result<AppState, CoreError> {
        let home = DataDir::default_for_user()?;
        let settings = Store::open(&home.database())?;
        crate::prefs::import_legacy(home.root(), &settings);
        let open_conversation =
            settings
                .saved_open_conversation()
                .unwrap_or_default()
                .map(|(account_id, peer_id)| OpenConversation {
                    account_id,
                    peer_id,
                });
        Ok(AppState {
            home,
            settings: Mutex::new(settings),
            system_locale: sys_locale::get_locale(),
            secrets: Mutex::new(None),
            mode: Mutex::new(mode),
            backend: Mutex::new(None),
            backend_error: Mutex::new(None),
            open_conversation: Mutex::new(open_conversation),
        })
    }

    pub fn open_conversation(&self) -> Option<OpenConversation> {
        lock(&self.open_conversation).clone()
    }

    /// Remembers the conversation on screen, also for the next start.
    pub fn set_open_conversation(&self, open: Option<OpenConversation>) {
        let mut current = lock(&self.open_conversation);
        if *current == open {
            return;
        }
        let saved = self.settings().save_open_conversation(
            open.as_ref()
                .map(|o| (o.account_id.as_str(), o.peer_id.as_str())),
        );
        if let Err(err) = saved {
            tracing::warn!(%err, "could not save the open conversation");
        }
        *current = open;
    }

    pub fn set_secrets(&self, opened: OpenedSecretStore) {
        *lock(&self.secrets) = Some(opened);
    }

    /// Whether secrets will survive a restart; `None` while the keyring is being checked.
    pub fn secrets_status(&self) -> Option<SecretStoreStatus> {
        lock(&self.secrets)
            .as_ref()
            .map(|opened| opened.status.clone())
    }

    pub fn secret_store(&self) -> Option<Arc<dyn SecretStore>> {
        lock(&self.secrets)
            .as_ref()
            .map(|opened| Arc::clone(&opened.store))
    }

    /// The user's own data folder (not the sandbox's).
    pub fn home(&self) -> &DataDir {
        &self.home
    }

    pub fn mode(&self) -> Mode {
        lock(&self.mode).clone()
    }

    pub fn system_locale(&self) -> Option<&str> {
        self.system_locale.as_deref()
    }

    pub fn settings(&self) -> MutexGuard<'_, Store> {
        lock(&self.settings)
    }

    /// The language to show: the saved choice, else the system's.
    pub fn locale(&self) -> Locale {
        let saved = self.settings().saved_locale().ok().flatten();
        Locale::resolve(saved, self.system_locale())
    }

    /// The shared preferences, read from the store each time: the CLI may change them
    /// while the app runs.
    pub fn prefs(&self) -> Prefs {
        self.settings().prefs().unwrap_or_default()
    }

    /// Changes the preferences in the store.
    pub fn update_prefs(&self, change: impl FnOnce(&mut Prefs)) -> Result<Prefs, CoreError> {
        self.settings().update_prefs(change)
    }

    /// Puts a started backend in place and returns the one it replaces.
    pub fn install_backend(&self, backend: Arc<Backend>) -> Option<Arc<Backend>> {
        *lock(&self.mode) = backend.mode.clone();
        *lock(&self.backend_error) = None;
        lock(&self.backend).replace(backend)
    }

    pub fn set_backend_error(&self, error: String) {
        *lock(&self.backend_error) = Some(error);
    }

    pub fn backend_error(&self) -> Option<String> {
        lock(&self.backend_error).clone()
    }

    pub fn try_backend(&self) -> Option<Arc<Backend>> {
        lock(&self.backend).clone()
    }

    /// The running backend, or a `not_ready` error while it starts.
    pub fn backend(&self) -> Result<Arc<Backend>, IpcError> {
        self.try_backend()
            .ok_or_else(|| match self.backend_error() {
                Some(reason) => IpcError::new(ErrorCode::NotReady, reason),
                None => IpcError::new(ErrorCode::NotReady, "the engine is still starting"),
            })
    }
}
