//! Picks the secret store at start-up: the OS keyring if a canary write/read/delete
//! works, otherwise memory, with a status the UI shows (`secrets_not_persistent`).
//! Asking the keyring whether it is "available" is not enough: a locked or absent
//! collection only shows up on a real write (measured on Debian 12; docs/architecture.md, Runtime).

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{KeyringStore, MemoryStore, Secret, SecretError, SecretKey, SecretStore};

/// How long the start-up check waits for the keyring. A locked keyring may sit on an
/// unlock prompt forever; the app starts anyway, with secrets in memory.
pub const CANARY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether secrets survive a restart. Sent to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecretStoreStatus {
    /// Secrets are in the OS keyring.
    Persistent,
    /// Secrets are in memory only and are lost on exit; `reason` says why the keyring
    /// was not used.
    NotPersistent { reason: String },
}

impl SecretStoreStatus {
    /// The translation key of the warning to show, if any.
    pub fn warning_key(&self) -> Option<&'static str> {
        match self {
            SecretStoreStatus::Persistent => None,
            SecretStoreStatus::NotPersistent { .. } => Some("secrets_not_persistent"),
        }
    }
}

/// The store to use and what the user should be told about it.
pub struct OpenedSecretStore {
    pub store: Arc<dyn SecretStore>,
    pub status: SecretStoreStatus,
}

/// The OS keyring under `service` if it really stores secrets, else memory.
pub fn open_secret_store(service: &str) -> OpenedSecretStore {
    let candidate =
        KeyringStore::system(service).map(|store| Arc::new(store) as Arc<dyn SecretStore>);
    choose_secret_store(candidate, CANARY_TIMEOUT)
}

/// Checks `candidate` with a canary and falls back to memory if it fails or does not
/// answer within `timeout`.
pub fn choose_secret_store(
    candidate: Result<Arc<dyn SecretStore>, SecretError>,
    timeout: Duration,
) -> OpenedSecretStore {
    let verdict = candidate
        .and_then(|store| canary_with_timeout(Arc::clone(&store), timeout).map(|()| store));
    match verdict {
        Ok(store) => OpenedSecretStore {
            store,
            status: SecretStoreStatus::Persistent,
        },
        Err(error) => {
            tracing::warn!(%error, "keyring unusable; secrets are kept in memory only");
            OpenedSecretStore {
                store: Arc::new(MemoryStore::new()),
                status: SecretStoreStatus::NotPersistent {
                    reason: error.to_string(),
                },
            }
        }
    }
}

fn canary_with_timeout(store: Arc<dyn SecretStore>, timeout: Duration) -> Result<(), SecretError> {
    let (done, verdict) = mpsc::channel();
    // On a timeout the thread is left blocked in the keyring call; it holds nothing else.
    std::thread::Builder::new()
        .name("keyring-canary".into())
        .spawn(move || {
            let _ = done.send(canary(store.as_ref()));
        })
        .map_err(|e| SecretError::Backend(format!("cannot start the keyring check: {e}")))?;
    verdict
        .recv_timeout(timeout)
        .unwrap_or(Err(SecretError::TimedOut(timeout)))
}

/// Writes, reads back and deletes a throwaway secret.
fn canary(store: &dyn SecretStore) -> Result<(), SecretError> {
    let key = SecretKey::canary();
    let value = Secret::new(format!("canary-{}", key.as_str()));
    store.set(&key, &value)?;
    let read = store.get(&key);
    let deleted = store.delete(&key);
    match read? {
        Some(back) if back == value => {}
        _ => {
            return Err(SecretError::Backend(
                "a test secret did not read back as written".into(),
            ))
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::keyring_store::tests::RefusingBackend;

    /// A store that accepts writes but forgets them, like a misconfigured keyring.
    struct ForgetfulStore;

    impl SecretStore for ForgetfulStore {
        fn get(&self, _: &SecretKey) -> Result<Option<Secret>, SecretError> {
            Ok(None)
        }
        fn set(&self, _: &SecretKey, _: &Secret) -> Result<(), SecretError> {
            Ok(())
        }
        fn delete(&self, _: &SecretKey) -> Result<(), SecretError> {
            Ok(())
        }
    }

    /// A store that never answers, like a keyring waiting on an unlock prompt.
    struct HangingStore;

    impl SecretStore for HangingStore {
        fn get(&self, _: &SecretKey) -> Result<Option<Secret>, SecretError> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(None)
        }
        fn set(&self, _: &SecretKey, _: &Secret) -> Result<(), SecretError> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(())
        }
        fn delete(&self, _: &SecretKey) -> Result<(), SecretError> {
            Ok(())
        }
    }

    fn assert_memory_fallback(opened: &OpenedSecretStore, reason_part: &str) {
        match &opened.status {
            SecretStoreStatus::NotPersistent { reason } => {
                assert!(reason.contains(reason_part), "{reason}")
            }
            other => panic!("expected a fallback, got {other:?}"),
        }
        assert_eq!(opened.status.warning_key(), Some("secrets_not_persistent"));
        // The fallback works.
        let key = SecretKey::ai_api_key("p");
        opened.store.set(&key, &Secret::new("k")).unwrap();
        assert_eq!(opened.store.get(&key).unwrap().unwrap().expose(), "k");
    }

    #[test]
    fn a_working_store_is_kept_and_the_canary_cleans_up() {
        let memory = Arc::new(MemoryStore::new());
        let opened = choose_secret_store(Ok(memory.clone()), Duration::from_secs(5));
        assert_eq!(opened.status, SecretStoreStatus::Persistent);
        assert_eq!(opened.status.warning_key(), None);
        assert_eq!(format!("{memory:?}"), "MemoryStore { len: 0 }");
    }

    #[test]
    fn a_refusing_keyring_falls_back_to_memory() {
        let keyring = KeyringStore::with_backend(Arc::new(RefusingBackend), "svc");
        let opened = choose_secret_store(Ok(Arc::new(keyring)), Duration::from_secs(5));
        assert_memory_fallback(&opened, "locked");
    }

    #[test]
    fn a_keyring_that_cannot_start_falls_back_to_memory() {
        let opened = choose_secret_store(
            Err(SecretError::Unavailable("no D-Bus session".into())),
            Duration::from_secs(5),
        );
        assert_memory_fallback(&opened, "no D-Bus session");
    }

    #[test]
    fn a_keyring_that_forgets_falls_back_to_memory() {
        let opened = choose_secret_store(Ok(Arc::new(ForgetfulStore)), Duration::from_secs(5));
        assert_memory_fallback(&opened, "did not read back");
    }

    #[test]
    fn a_keyring_that_never_answers_falls_back_to_memory() {
        let opened = choose_secret_store(Ok(Arc::new(HangingStore)), Duration::from_millis(50));
        assert_memory_fallback(&opened, "did not answer");
    }

    #[test]
    fn status_serialises_for_the_ui() {
        assert_eq!(
            serde_json::to_value(SecretStoreStatus::Persistent).unwrap(),
            serde_json::json!({"kind": "persistent"})
        );
        assert_eq!(
            serde_json::to_value(SecretStoreStatus::NotPersistent {
                reason: "locked".into()
            })
            .unwrap(),
            serde_json::json!({"kind": "not_persistent", "reason": "locked"})
        );
    }

    /// The real OS keyring. Runs only when `WEIXIN_DESK_KEYRING_TEST=1` (the e2e session
    /// provides an unlocked gnome-keyring); otherwise it says it skipped.
    #[test]
    fn real_keyring_round_trip() {
        if std::env::var("WEIXIN_DESK_KEYRING_TEST").as_deref() != Ok("1") {
            eprintln!("skipped: set WEIXIN_DESK_KEYRING_TEST=1 to test the real keyring");
            return;
        }
        let opened = open_secret_store("weixin-desk-test");
        assert_eq!(opened.status, SecretStoreStatus::Persistent);
        let key = SecretKey::bot_token(&format!("test-{}", std::process::id()));
        opened.store.set(&key, &Secret::new("real-token")).unwrap();
        // A second handle on the same service sees it: it is in the keyring, not in us.
        let again = KeyringStore::system("weixin-desk-test").unwrap();
        assert_eq!(again.get(&key).unwrap().unwrap().expose(), "real-token");
        opened.store.delete(&key).unwrap();
        assert_eq!(again.get(&key).unwrap(), None);
    }
}
