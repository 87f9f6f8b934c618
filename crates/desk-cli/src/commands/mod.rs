//! The commands, and what they share: the data directory, the secret-store choice and
//! the emulator switch.

pub mod accounts;
pub mod ai;
pub mod history;
pub mod import_openclaw;
pub mod login;
pub mod media;
pub mod peers;
pub mod run;
pub mod scheduled;
pub mod secrets;
pub mod send;
pub mod service;
pub mod settings;
pub mod status;

use desk_core::store::Account;
use desk_core::{DataDir, EngineConfig, Store};

use crate::error::CliError;
use crate::secrets::{Secrets, SecretsChoice, SecretsMode};

pub struct Context {
    pub data_dir: DataDir,
    pub secrets: SecretsMode,
    /// `--secrets-key-file PATH`.
    pub secrets_key_file: Option<std::path::PathBuf>,
    /// `--sim URL`.
    pub sim: Option<String>,
}

impl Context {
    pub fn secrets_choice(&self) -> SecretsChoice<'_> {
        SecretsChoice {
            mode: self.secrets,
            data_dir: &self.data_dir,
            key_file: self.secrets_key_file.as_deref(),
        }
    }

    /// The secret store `--secrets` names.
    pub fn open_secrets(&self) -> Result<Secrets, CliError> {
        crate::secrets::open(&self.secrets_choice())
    }

    pub fn store(&self) -> Result<Store, CliError> {
        Ok(Store::open(&self.data_dir.database())?)
    }

    /// The engine's configuration; an emulator on loopback is reached without proxies.
    pub fn engine_config(&self) -> EngineConfig {
        let mut config = EngineConfig::default();
        if self.sim.is_some() {
            config.client.use_system_proxy = false;
        }
        // Only tests set it: a tiny channel makes the event printer fall behind.
        if let Some(capacity) = std::env::var(EVENT_CAPACITY_VAR)
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.event_capacity = capacity;
        }
        config
    }

    /// Whether `run`/`send` may use this account: always without `--sim`; with it, only
    /// accounts filed under the emulator's URL.
    pub fn may_use(&self, account: &Account) -> bool {
        match &self.sim {
            None => true,
            Some(url) => same_url(url, &account.base_url),
        }
    }

    /// Refuses an account that `--sim` rules out, with the reason.
    pub fn check_may_use(&self, account: &Account) -> Result<(), CliError> {
        if self.may_use(account) {
            return Ok(());
        }
        Err(CliError::Usage(format!(
            "account {} talks to {}, not to the emulator given with --sim; its token is not \
             sent there (drop --sim to use it)",
            account.account_id, account.base_url
        )))
    }
}

pub fn same_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

/// The lock file `run` and `send` hold while they run the engine.
pub const ENGINE_LOCK_FILE: &str = "weixin-desk-cli.lock";

/// How many events the engine's channel holds, when set (tests only).
pub const EVENT_CAPACITY_VAR: &str = "WEIXIN_DESK_EVENT_CAPACITY";

/// Held while this process runs the engine, so that two CLI processes never poll the
/// same accounts at once. Released when dropped (or when the process ends).
pub struct EngineLock(#[allow(dead_code)] std::fs::File);

impl Context {
    pub fn lock_engine(&self) -> Result<EngineLock, CliError> {
        let path = self.data_dir.root().join(ENGINE_LOCK_FILE);
        let what = || format!("cannot use the lock file {}", path.display());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CliError::io(what(), e))?;
        match file.try_lock() {
            Ok(()) => Ok(EngineLock(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(CliError::Busy),
            Err(std::fs::TryLockError::Error(e)) => Err(CliError::io(what(), e)),
        }
    }
}

/// A multi-threaded runtime for the engine's commands.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// The account named `id`, as stored or as a bot id (`…@im.bot`).
pub fn resolve_account(store: &Store, id: &str) -> Result<Account, CliError> {
    if let Some(account) = store.account(id)? {
        return Ok(account);
    }
    store
        .account(&ilink::account_id::normalize(id))?
        .ok_or_else(|| CliError::Usage(format!("no account {id:?} (see `accounts`)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_match_without_the_trailing_slash() {
        assert!(same_url("http://127.0.0.1:9/", "http://127.0.0.1:9"));
        assert!(!same_url(
            "http://127.0.0.1:9/",
            "https://ilinkai.weixin.qq.com"
        ));
    }
}
