//! A process-lifetime secret store: the fallback when no keyring works, and a test double.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Secret, SecretError, SecretKey, SecretStore};

#[derive(Default)]
pub struct MemoryStore {
    secrets: Mutex<HashMap<SecretKey, Secret>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<SecretKey, Secret>> {
        // A panic while holding the lock cannot leave the map half-written, so a poisoned
        // lock is still safe to use.
        self.secrets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretError> {
        Ok(self.locked().get(key).cloned())
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretError> {
        self.locked().insert(key.clone(), value.clone());
        Ok(())
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretError> {
        self.locked().remove(key);
        Ok(())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.locked().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_replace_delete() {
        let store = MemoryStore::new();
        let key = SecretKey::bot_token("acc");
        assert_eq!(store.get(&key).unwrap(), None);
        store.set(&key, &Secret::new("one")).unwrap();
        store.set(&key, &Secret::new("two")).unwrap();
        assert_eq!(store.get(&key).unwrap().unwrap().expose(), "two");
        // Other keys are independent.
        assert_eq!(store.get(&SecretKey::ai_api_key("acc")).unwrap(), None);
        store.delete(&key).unwrap();
        assert_eq!(store.get(&key).unwrap(), None);
        // Deleting again is not an error.
        store.delete(&key).unwrap();
    }

    #[test]
    fn debug_shows_no_values() {
        let store = MemoryStore::new();
        store
            .set(&SecretKey::bot_token("a"), &Secret::new("hunter2"))
            .unwrap();
        let shown = format!("{store:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
