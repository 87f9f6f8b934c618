//! Which secret store the CLI uses (`--secrets`), and bot tokens handed over on stdin.
//!
//! Tokens never come from the command line (other users can read argv) and are never
//! written to disk in plaintext: they go to the OS keyring, to the encrypted secrets
//! file (desk_core::secrets::FileStore), or stay in this process's memory.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::ValueEnum;
use desk_core::secrets::{
    choose_secret_store, open_secret_store, FileKey, FileStore, KeyringStore, MemoryStore, Secret,
    SecretError, SecretKey, SecretStore, SecretStoreStatus, CANARY_TIMEOUT, CREDENTIAL_NAME,
    DEFAULT_SERVICE, SECRETS_FILE_NAME,
};
use desk_core::DataDir;

use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretsMode {
    /// The secrets file if the data folder has one; else the OS keyring if a test write
    /// works; else the secrets file if a key is at hand; else memory (with a warning).
    Auto,
    /// The OS keyring, or fail.
    Keyring,
    /// The encrypted secrets file in the data folder, or fail.
    File,
    /// This process's memory only: tokens are forgotten when the command ends.
    Memory,
}

/// The store a command uses and whether its secrets outlive the process.
pub struct Secrets {
    pub store: Arc<dyn SecretStore>,
    pub persistent: bool,
}

/// What `--secrets`, `--secrets-key-file` and the data folder say about the store.
pub struct SecretsChoice<'a> {
    pub mode: SecretsMode,
    pub data_dir: &'a DataDir,
    pub key_file: Option<&'a Path>,
}

impl SecretsChoice<'_> {
    pub fn file_path(&self) -> PathBuf {
        self.data_dir.root().join(SECRETS_FILE_NAME)
    }
}

/// Opens the store the choice names, saying once on stderr which one `auto` fell back
/// to.
pub fn open(choice: &SecretsChoice<'_>) -> Result<Secrets, CliError> {
    match choice.mode {
        SecretsMode::Memory => Ok(Secrets {
            store: Arc::new(MemoryStore::new()),
            persistent: false,
        }),
        SecretsMode::Keyring => Ok(Secrets {
            store: open_keyring()?,
            persistent: true,
        }),
        SecretsMode::File => Ok(Secrets {
            store: Arc::new(open_file(choice)?),
            persistent: true,
        }),
        SecretsMode::Auto => {
            // Once a data folder has a secrets file, that is where its secrets are.
            if choice.file_path().exists() {
                return Ok(Secrets {
                    store: Arc::new(open_file(choice)?),
                    persistent: true,
                });
            }
            let opened = open_secret_store(DEFAULT_SERVICE);
            let reason = match opened.status {
                SecretStoreStatus::Persistent => {
                    return Ok(Secrets {
                        store: opened.store,
                        persistent: true,
                    })
                }
                SecretStoreStatus::NotPersistent { reason } => reason,
            };
            if let Some(key) = find_key(choice, true)? {
                let file = FileStore::open(choice.file_path(), key)?;
                eprintln!(
                    "note: the OS keyring is not usable ({reason}); secrets are kept \
                     encrypted in {}",
                    file.path().display()
                );
                return Ok(Secrets {
                    store: Arc::new(file),
                    persistent: true,
                });
            }
            eprintln!(
                "warning: the OS keyring is not usable ({reason}) and no key for a secrets \
                 file was given (--secrets-key-file); bot tokens are kept in memory only \
                 and are forgotten when this command ends"
            );
            Ok(Secrets {
                store: opened.store,
                persistent: false,
            })
        }
    }
}

/// The OS keyring if a test write, read and delete work.
pub fn open_keyring() -> Result<Arc<dyn SecretStore>, CliError> {
    let candidate =
        KeyringStore::system(DEFAULT_SERVICE).map(|store| Arc::new(store) as Arc<dyn SecretStore>);
    let opened = choose_secret_store(candidate, CANARY_TIMEOUT);
    match opened.status {
        SecretStoreStatus::Persistent => Ok(opened.store),
        SecretStoreStatus::NotPersistent { reason } => {
            Err(CliError::Secret(SecretError::Unavailable(reason)))
        }
    }
}

/// The secrets file, opened with the first key found (or a clear error).
pub fn open_file(choice: &SecretsChoice<'_>) -> Result<FileStore, CliError> {
    let path = choice.file_path();
    let key = find_key(choice, false)?.ok_or_else(|| {
        SecretError::NoKey(format!(
            "{} needs its key: run under systemd with the credential {CREDENTIAL_NAME}, \
             give --secrets-key-file PATH, or run on a terminal to type the passphrase",
            path.display()
        ))
    })?;
    Ok(FileStore::open(path, key)?)
}

/// The key, in order: the service manager's credential, `--secrets-key-file`, the
/// user's key file (`~/.config/weixin-desk/secrets.key`) if it exists, a passphrase
/// typed on the terminal. `None` when there is none of these, or when `optional` and
/// the passphrase was left empty (`auto` then keeps secrets in memory).
fn find_key(choice: &SecretsChoice<'_>, optional: bool) -> Result<Option<FileKey>, CliError> {
    if let Some(key) = FileKey::from_credentials_directory()? {
        return Ok(Some(key));
    }
    if let Some(path) = choice.key_file {
        return Ok(Some(FileKey::from_key_file(path)?));
    }
    // The one `service install --user` made, if there is one.
    if let Some(path) = crate::commands::service::default_key_file().filter(|p| p.exists()) {
        return Ok(Some(FileKey::from_key_file(&path)?));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let new = !choice.file_path().exists();
    let prompt_error = |e: std::io::Error| CliError::io("cannot read the passphrase", e);
    let prompt = if optional {
        "the OS keyring is not usable; a passphrase for an encrypted secrets file \
         (Enter alone: keep secrets in memory only): "
    } else {
        "passphrase for the secrets file: "
    };
    let phrase = Secret::new(rpassword::prompt_password(prompt).map_err(prompt_error)?);
    if phrase.expose().is_empty() {
        if optional {
            return Ok(None);
        }
        return Err(CliError::Usage("an empty passphrase is not a key".into()));
    }
    if new {
        let again =
            rpassword::prompt_password("the same passphrase again: ").map_err(prompt_error)?;
        if again != phrase.expose() {
            return Err(CliError::Usage("the two passphrases differ".into()));
        }
    }
    Ok(Some(FileKey::Passphrase(phrase)))
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
