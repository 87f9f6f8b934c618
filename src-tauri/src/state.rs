//! What the shell keeps between commands: the engine's store and where it lives.

use std::sync::{Mutex, MutexGuard};

use desk_core::secrets::{OpenedSecretStore, SecretStoreStatus};
use desk_core::{CoreError, DataDir, Locale, Store};

pub struct AppState {
    data_dir: DataDir,
    store: Mutex<Store>,
    system_locale: Option<String>,
    /// Empty until the keyring check at start-up has finished.
    secrets: Mutex<Option<OpenedSecretStore>>,
}

impl AppState {
    /// Opens the per-user data directory and its store.
    pub fn open() -> Result<AppState, CoreError> {
        let data_dir = DataDir::default_for_user()?;
        let store = Store::open(&data_dir.database())?;
        Ok(AppState {
            data_dir,
            store: Mutex::new(store),
            system_locale: sys_locale::get_locale(),
            secrets: Mutex::new(None),
        })
    }

    pub fn set_secrets(&self, opened: OpenedSecretStore) {
        *self.secrets.lock().unwrap_or_else(|p| p.into_inner()) = Some(opened);
    }

    /// Whether secrets will survive a restart; `None` while the keyring is being checked.
    pub fn secrets_status(&self) -> Option<SecretStoreStatus> {
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|opened| opened.status.clone())
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    pub fn system_locale(&self) -> Option<&str> {
        self.system_locale.as_deref()
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The language to show: the saved choice, else the system's.
    pub fn locale(&self) -> Locale {
        let saved = self.store().saved_locale().ok().flatten();
        Locale::resolve(saved, self.system_locale())
    }
}
