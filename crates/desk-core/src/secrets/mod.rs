//! Secrets (bot tokens, AI API keys) live only in the OS keyring or an encrypted file,
//! behind [`SecretStore`]
//! (docs/architecture.md, invariant 4). Nothing here ever writes a secret to SQLite, a log or an
//! error message; values travel as [`Secret`], whose `Debug` and `Display` print `***`.

mod file_store;
mod keyring_store;
mod memory;
mod open;

pub use file_store::{FileKey, FileStore, CREDENTIAL_NAME, SECRETS_FILE_NAME};
pub use ilink::Secret;
pub use keyring_store::KeyringStore;
pub use memory::MemoryStore;
pub use open::{
    choose_secret_store, open_secret_store, OpenedSecretStore, SecretStoreStatus, CANARY_TIMEOUT,
};

/// The keyring service name every Weixin Desk secret is filed under.
pub const DEFAULT_SERVICE: &str = "weixin-desk";

/// Names one secret within the store's service. Built only through the constructors, so
/// every kind of secret has one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretKey(String);

impl SecretKey {
    /// The iLink bot token of one account (by its normalised account id).
    pub fn bot_token(account_id: &str) -> SecretKey {
        SecretKey(format!("account/{account_id}/bot-token"))
    }

    /// The API key of one AI provider profile.
    pub fn ai_api_key(profile: &str) -> SecretKey {
        SecretKey(format!("ai/{profile}/api-key"))
    }

    /// A throwaway key for checking that the keyring really stores things.
    pub(crate) fn canary() -> SecretKey {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        SecretKey(format!("canary/{}-{nanos}", std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key as [`SecretKey::as_str`] spells it (as a store lists it), if it names one
    /// of the kinds above.
    pub fn parse(text: &str) -> Option<SecretKey> {
        let known = |rest: &str, suffix: &str| {
            rest.strip_suffix(suffix)
                .is_some_and(|owner| !owner.is_empty() && !owner.contains('/'))
        };
        let ok = text
            .strip_prefix("account/")
            .is_some_and(|rest| known(rest, "/bot-token"))
            || text
                .strip_prefix("ai/")
                .is_some_and(|rest| known(rest, "/api-key"));
        ok.then(|| SecretKey(text.to_owned()))
    }
}

impl std::fmt::Display for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a secret store can fail. Messages name the key, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No keyring could be reached, or it refused access (locked, no D-Bus session).
    #[error("the keyring is not available: {0}")]
    Unavailable(String),
    /// The keyring answered with a failure.
    #[error("the keyring failed: {0}")]
    Backend(String),
    /// The stored value is not UTF-8 text (written by something else).
    #[error("the secret stored for {key} is not text")]
    NotText { key: String },
    /// Several keyring items match one key (written by something else).
    #[error("the keyring holds several secrets for {key}")]
    Ambiguous { key: String },
    /// The keyring did not answer the start-up check in time.
    #[error("the keyring did not answer within {0:?}")]
    TimedOut(std::time::Duration),
    /// The secrets file does not open with the key or passphrase given.
    #[error("wrong key for the secrets file: {0}")]
    WrongKey(String),
    /// The secrets file is damaged or not a secrets file; it is left as it is.
    #[error("the secrets file is damaged: {0}")]
    Corrupt(String),
    /// No key for the secrets file was found or readable.
    #[error("no key for the secrets file: {0}")]
    NoKey(String),
    /// A key file others can read (or that belongs to someone else) is refused.
    #[error("the key file is not private: {0}")]
    KeyFileNotPrivate(String),
}

/// Get, set and delete secrets by key. Implementations are shared across threads.
///
/// Keyring calls may block on D-Bus; from async code, call them on a blocking thread.
pub trait SecretStore: Send + Sync {
    /// The secret, or `None` if none is stored under `key`.
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretError>;
    /// Stores `value` under `key`, replacing any previous value.
    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretError>;
    /// Removes the secret under `key`; removing a missing secret succeeds.
    fn delete(&self, key: &SecretKey) -> Result<(), SecretError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_by_kind_and_owner() {
        assert_eq!(
            SecretKey::bot_token("b0f5-im-bot").as_str(),
            "account/b0f5-im-bot/bot-token"
        );
        assert_eq!(
            SecretKey::ai_api_key("default").as_str(),
            "ai/default/api-key"
        );
        assert_ne!(SecretKey::bot_token("x"), SecretKey::ai_api_key("x"));
    }

    #[test]
    fn keys_parse_back_only_as_their_kinds() {
        for key in [
            SecretKey::bot_token("b0f5-im-bot"),
            SecretKey::ai_api_key("default"),
        ] {
            assert_eq!(SecretKey::parse(key.as_str()), Some(key));
        }
        for text in [
            "",
            "account//bot-token",
            "account/a/b/bot-token",
            "canary/1",
            "ai/x",
        ] {
            assert_eq!(SecretKey::parse(text), None, "{text}");
        }
    }

    #[test]
    fn errors_never_carry_values() {
        let e = SecretError::NotText {
            key: SecretKey::bot_token("a").to_string(),
        };
        assert_eq!(
            e.to_string(),
            "the secret stored for account/a/bot-token is not text"
        );
    }
}
