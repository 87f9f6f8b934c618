//! Which secret store the CLI uses (`--secrets`), and bot tokens handed over on stdin.
//!
//! Tokens never come from the command line (other users can read argv) and are never
//! written to disk in plaintext: they go to the OS keyring, or stay in this process's
//! memory.

use std::io::Read;
use std::sync::Arc;

use clap::ValueEnum;
use desk_core::secrets::{
    choose_secret_store, open_secret_store, KeyringStore, MemoryStore, Secret, SecretError,
    SecretKey, SecretStore, SecretStoreStatus, CANARY_TIMEOUT, DEFAULT_SERVICE,
};

use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretsMode {
    /// The OS keyring if a test write works, else memory (with a warning).
    Auto,
    /// The OS keyring, or fail.
    Keyring,
    /// This process's memory only: tokens are forgotten when the command ends.
    Memory,
}

/// The store a command uses and whether its secrets outlive the process.
pub struct Secrets {
    pub store: Arc<dyn SecretStore>,
    pub persistent: bool,
}

/// Opens the store for `mode`, printing a warning on stderr when `auto` falls back to
/// memory.
pub fn open(mode: SecretsMode) -> Result<Secrets, CliError> {
    match mode {
        SecretsMode::Memory => Ok(Secrets {
            store: Arc::new(MemoryStore::new()),
            persistent: false,
        }),
        SecretsMode::Auto => {
            let opened = open_secret_store(DEFAULT_SERVICE);
            let persistent = match &opened.status {
                SecretStoreStatus::Persistent => true,
                SecretStoreStatus::NotPersistent { reason } => {
                    eprintln!(
                        "warning: the OS keyring is not usable ({reason}); bot tokens are \
                         kept in memory only and are forgotten when this command ends"
                    );
                    false
                }
            };
            Ok(Secrets {
                store: opened.store,
                persistent,
            })
        }
        SecretsMode::Keyring => {
            let candidate = KeyringStore::system(DEFAULT_SERVICE)
                .map(|store| Arc::new(store) as Arc<dyn SecretStore>);
            let opened = choose_secret_store(candidate, CANARY_TIMEOUT);
            match opened.status {
                SecretStoreStatus::Persistent => Ok(Secrets {
                    store: opened.store,
                    persistent: true,
                }),
                SecretStoreStatus::NotPersistent { reason } => {
                    Err(CliError::Secret(SecretError::Unavailable(reason)))
                }
            }
        }
    }
}

/// Reads a bot token from stdin (all of it, surrounding whitespace trimmed).
pub fn read_token_from_stdin() -> Result<Secret, CliError> {
    let mut found = read_secrets_from_stdin(&["the token"])?;
    Ok(found.remove(0))
}

/// Reads one secret per line from stdin, in the order `names` gives (each one line
/// without spaces; blank lines are skipped).
pub fn read_secrets_from_stdin(names: &[&str]) -> Result<Vec<Secret>, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::Usage(format!("cannot read {} from stdin: {e}", names[0])))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        let what = names[0].trim_start_matches("the ");
        return Err(CliError::Usage(format!("no {what} on stdin")));
    }
    if lines.len() != names.len() {
        let wanted = names.join(", then ");
        return Err(CliError::Usage(format!(
            "stdin must hold {} line(s): {wanted}",
            names.len()
        )));
    }
    let mut found = Vec::with_capacity(names.len());
    for (line, name) in lines.into_iter().zip(names) {
        if line.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CliError::Usage(format!(
                "{name} on stdin must be one line without spaces"
            )));
        }
        found.push(Secret::new(line.to_owned()));
    }
    Ok(found)
}

/// A store that answers one secret (an account's bot token, the AI provider's key) from
/// a value given for this process (`--token-stdin`, `--ai-key-stdin`) and passes
/// everything else to `base`. The given value is never written anywhere.
pub struct WithGivenSecret {
    key: SecretKey,
    token: Secret,
    base: Arc<dyn SecretStore>,
}

impl WithGivenSecret {
    pub fn new(key: SecretKey, value: Secret, base: Arc<dyn SecretStore>) -> WithGivenSecret {
        WithGivenSecret {
            key,
            token: value,
            base,
        }
    }

    /// An account's bot token.
    pub fn bot_token(
        account_id: &str,
        token: Secret,
        base: Arc<dyn SecretStore>,
    ) -> WithGivenSecret {
        WithGivenSecret::new(SecretKey::bot_token(account_id), token, base)
    }
}

impl SecretStore for WithGivenSecret {
    fn get(&self, key: &SecretKey) -> Result<Option<Secret>, SecretError> {
        if *key == self.key {
            return Ok(Some(self.token.clone()));
        }
        self.base.get(key)
    }

    fn set(&self, key: &SecretKey, value: &Secret) -> Result<(), SecretError> {
        self.base.set(key, value)
    }

    fn delete(&self, key: &SecretKey) -> Result<(), SecretError> {
        self.base.delete(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_given_token_answers_only_its_own_key() {
        let base = Arc::new(MemoryStore::new());
        base.set(&SecretKey::bot_token("b"), &Secret::new("base-b"))
            .unwrap();
        let store = WithGivenSecret::bot_token("a", Secret::new("given"), base.clone());
        let get = |id: &str| {
            store
                .get(&SecretKey::bot_token(id))
                .unwrap()
                .map(|s| s.expose().to_owned())
        };
        assert_eq!(get("a").as_deref(), Some("given"));
        assert_eq!(get("b").as_deref(), Some("base-b"));
        assert_eq!(get("c"), None);
        // Nothing was copied into the base store.
        assert_eq!(base.get(&SecretKey::bot_token("a")).unwrap(), None);
    }
}
