//! The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows) behind [`SecretStore`]. The credential store is injectable so tests can hand it
//! one that fails, without pretending to be the real Secret Service.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};

use super::{Secret, SecretError, SecretKey, SecretStore};

pub struct KeyringStore {
    backend: Arc<CredentialStore>,
    service: String,
}

impl KeyringStore {
    /// The platform keyring, filed under `service`. Fails if the platform store cannot be
    /// initialised (for example, no D-Bus session); it may still be locked or absent, which
    /// only a real write shows (see [`super::open_secret_store`]).
    pub fn system(service: &str) -> Result<KeyringStore, SecretError> {
        // keyring v1 picks and installs the platform store once per process.
        if let Err(e) = keyring::Entry::store_status() {
            return Err(SecretError::Unavailable(describe(e)));
        }
        let backend = keyring_core::get_default_store().ok_or_else(|| {
            SecretError::Unavailable("no platform credential store is installed".into())
        })?;
        Ok(KeyringStore::with_backend(backend, service))
    }

    /// Uses the given credential store.
    pub fn with_backend(backend: Arc<CredentialStore>, service: &str) -> KeyringStore {
        KeyringStore {
            backend,
            service: service.to_owned(),
        }
    }

    fn entry(&self, key: &SecretKey) -> Result<Entry, SecretError> {
        Entry::new_in_store(&self.backend, &self.service, key.as_str())
            .map_err(|e| to_secret_error(e, key))
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretError> {
        match self.entry(key)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(to_secret_error(e, key)),
        }
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretError> {
        self.entry(key)?
            .set_password(value.expose())
            .map_err(|e| to_secret_error(e, key))
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(to_secret_error(e, key)),
        }
    }
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// Maps keyring errors onto ours. The variants that carry stored bytes (`BadEncoding`,
/// `BadDataFormat`) are reduced to the key so no secret reaches a message.
fn to_secret_error(error: KeyringError, key: &SecretKey) -> SecretError {
    let key = key.to_string();
    match error {
        KeyringError::NoStorageAccess(e) => SecretError::Unavailable(e.to_string()),
        KeyringError::NoDefaultStore => {
            SecretError::Unavailable("no platform credential store is installed".into())
        }
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            SecretError::NotText { key }
        }
        KeyringError::Ambiguous(_) => SecretError::Ambiguous { key },
        other => SecretError::Backend(describe(&other)),
    }
}

/// Text for a keyring error that cannot hold secret bytes.
fn describe(error: &KeyringError) -> String {
    match error {
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            "stored data is not in the expected format".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::any::Any;
    use std::collections::HashMap;

    use keyring_core::api::CredentialStoreApi;

    use super::*;

    /// A credential store that refuses everything, as a locked or broken keyring does.
    pub(crate) struct RefusingBackend;

    impl CredentialStoreApi for RefusingBackend {
        fn vendor(&self) -> String {
            "refusing test store".into()
        }
        fn id(&self) -> String {
            "refusing".into()
        }
        fn build(
            &self,
            _service: &str,
            _user: &str,
            _modifiers: Option<&HashMap<&str, &str>>,
        ) -> keyring_core::Result<Entry> {
            Err(KeyringError::NoStorageAccess(
                "collection is locked (test)".into(),
            ))
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    /// keyring-core's in-process store: real entry semantics, no persistence.
    fn in_process() -> KeyringStore {
        let backend: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        KeyringStore::with_backend(backend, "weixin-desk-test")
    }

    #[test]
    fn round_trips_through_a_credential_store() {
        let store = in_process();
        let key = SecretKey::bot_token("acc");
        assert_eq!(store.get(&key).unwrap(), None);
        store.set(&key, &Secret::new("tok-1")).unwrap();
        assert_eq!(store.get(&key).unwrap().unwrap().expose(), "tok-1");
        store.set(&key, &Secret::new("tok-2")).unwrap();
        assert_eq!(store.get(&key).unwrap().unwrap().expose(), "tok-2");
        store.delete(&key).unwrap();
        assert_eq!(store.get(&key).unwrap(), None);
        store.delete(&key).unwrap();
    }

    #[test]
    fn a_refusing_backend_gives_typed_errors() {
        let store = KeyringStore::with_backend(Arc::new(RefusingBackend), "svc");
        let key = SecretKey::bot_token("acc");
        for result in [
            store.get(&key).map(|_| ()),
            store.set(&key, &Secret::new("v")),
            store.delete(&key),
        ] {
            assert!(
                matches!(&result, Err(SecretError::Unavailable(m)) if m.contains("locked")),
                "{result:?}"
            );
        }
    }

    #[test]
    fn undecodable_values_are_reported_without_their_bytes() {
        let err = to_secret_error(
            KeyringError::BadEncoding(b"hunter2\xff".to_vec()),
            &SecretKey::bot_token("a"),
        );
        assert_eq!(
            err,
            SecretError::NotText {
                key: "account/a/bot-token".into()
            }
        );
        assert!(!err.to_string().contains("hunter2"));
    }
}
