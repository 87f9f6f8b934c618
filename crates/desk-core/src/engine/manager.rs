//! The account manager: one poller task, one sender task and one cancel token per
//! running account. Bot tokens come from the [`SecretStore`](crate::secrets::SecretStore),
//! never from SQLite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ilink::{Client, ClientConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::poller::Poller;
use super::sender::{Sender, SenderWake};
use super::shared::Runtime;
use super::typing::TypingTickets;
use super::EngineError;
use crate::events::{AccountStatus, EngineEvent};
use crate::secrets::SecretKey;

struct Running {
    cancel: CancellationToken,
    sender_wake: Arc<SenderWake>,
    /// The account's typing tickets (§6.1), fetched by `Engine::send_typing`.
    typing: Arc<Mutex<TypingTickets>>,
    /// For calls beside the poller and sender (typing indicators).
    client: Arc<Client>,
    tasks: Vec<JoinHandle<()>>,
}

pub struct AccountManager {
    rt: Arc<Runtime>,
    running: Mutex<HashMap<String, Running>>,
}

impl AccountManager {
    pub(crate) fn new(rt: Arc<Runtime>) -> AccountManager {
        AccountManager {
            rt,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the account's tasks are running.
    pub fn is_running(&self, account_id: &str) -> bool {
        self.running().contains_key(account_id)
    }

    /// Starts polling and sending for one account (a no-op if it runs already). Without
    /// a stored bot token the account is `Paused` and this fails with `MissingToken`.
    pub async fn start(&self, account_id: &str) -> Result<(), EngineError> {
        if self.is_running(account_id) {
            return Ok(());
        }
        let id = account_id.to_owned();
        let account = self
            .rt
            .store
            .call(move |s| s.account(&id))
            .await?
            .ok_or_else(|| EngineError::UnknownAccount(account_id.to_owned()))?;
        let secrets = Arc::clone(&self.rt.secrets);
        let key = SecretKey::bot_token(account_id);
        let token = tokio::task::spawn_blocking(move || secrets.get(&key))
            .await
            .map_err(|_| EngineError::TaskFailed)??;
        let Some(token) = token.filter(|t| !t.expose().trim().is_empty()) else {
            self.rt
                .set_status(
                    account_id,
                    AccountStatus::Paused {
                        reason: "no bot token stored: log in again".to_owned(),
                    },
                )
                .await;
            return Err(EngineError::MissingToken(account_id.to_owned()));
        };
        let config = ClientConfig {
            api_base: account.base_url.clone(),
            route_tag: account.route_tag.clone(),
            ..self.rt.client_config.clone()
        };
        let client = Arc::new(Client::new(config, Some(token))?);
        let cancel = CancellationToken::new();
        let sender_wake = Arc::new(SenderWake::default());
        let typing = Arc::new(Mutex::new(TypingTickets::new()));
        let poller = Poller {
            rt: Arc::clone(&self.rt),
            account_id: account_id.to_owned(),
            client: Arc::clone(&client),
            cancel: cancel.clone(),
            sender_wake: Arc::clone(&sender_wake),
        };
        let sender = Sender::new(
            Arc::clone(&self.rt),
            account_id.to_owned(),
            Arc::clone(&client),
            cancel.clone(),
            Arc::clone(&sender_wake),
        );
        let mut running = self.running();
        if running.contains_key(account_id) {
            // Started concurrently by another caller while we read the token.
            return Ok(());
        }
        let span = tracing::info_span!("account", account_id);
        let tasks = vec![
            tokio::spawn(poller.run().instrument(span.clone())),
            tokio::spawn(sender.run().instrument(span)),
        ];
        running.insert(
            account_id.to_owned(),
            Running {
                cancel,
                sender_wake,
                typing,
                client,
                tasks,
            },
        );
        Ok(())
    }

    /// Stops an account: the in-flight long-poll is aborted at once; returns when its
    /// tasks have ended (after notifystop, which has its own timeout).
    pub async fn stop(&self, account_id: &str) {
        let running = self.running().remove(account_id);
        let Some(running) = running else {
            return;
        };
        running.cancel.cancel();
        for task in running.tasks {
            let _ = task.await;
        }
        self.rt.set_status(account_id, AccountStatus::Stopped).await;
    }

    /// Stops every account.
    pub async fn stop_all(&self) {
        let ids: Vec<String> = self.running().keys().cloned().collect();
        for id in ids {
            self.stop(&id).await;
        }
    }

    /// Starts every enabled account; returns the ones that could not start and why.
    pub async fn start_enabled(&self) -> Result<Vec<(String, EngineError)>, EngineError> {
        self.check_store_once();
        let accounts = self.rt.store.call(|s| s.list_accounts()).await?;
        let mut failed = Vec::new();
        for account in accounts.into_iter().filter(|a| a.enabled) {
            if let Err(e) = self.start(&account.account_id).await {
                tracing::warn!(account_id = account.account_id, error = %e, "account not started");
                failed.push((account.account_id, e));
            }
        }
        Ok(failed)
    }

    /// Checks the database's integrity in the background, once per engine; a damaged
    /// database is announced (`StoreDamaged`) and logged, never silently used.
    fn check_store_once(&self) {
        use std::sync::atomic::Ordering;
        let Some(path) = self.rt.store.path() else {
            return;
        };
        if self.rt.integrity_checked.swap(true, Ordering::SeqCst) {
            return;
        }
        let rt = Arc::clone(&self.rt);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = crate::Store::check_integrity_of(&path) {
                let detail = e.to_string();
                tracing::error!(error = %detail, "the database failed its integrity check");
                rt.emit(EngineEvent::StoreDamaged { detail });
            }
        });
    }

    /// Enables (and starts) or disables (and stops) an account; remembered in the store.
    pub async fn set_enabled(&self, account_id: &str, enabled: bool) -> Result<(), EngineError> {
        let (id, now) = (account_id.to_owned(), self.rt.now_ms());
        if !self
            .rt
            .store
            .call(move |s| s.set_account_enabled(&id, enabled, now))
            .await?
        {
            return Err(EngineError::UnknownAccount(account_id.to_owned()));
        }
        if enabled {
            self.start(account_id).await
        } else {
            self.stop(account_id).await;
            Ok(())
        }
    }

    /// One account's status (`Stopped` if it never ran).
    pub fn status(&self, account_id: &str) -> AccountStatus {
        self.rt.status(account_id)
    }

    /// Every account's status that the engine has seen.
    pub fn statuses(&self) -> HashMap<String, AccountStatus> {
        self.rt.statuses()
    }

    /// The typing ticket held for a peer of a running account (§6.1), if any. Typing
    /// indicators are sent only with one.
    pub fn typing_ticket(&self, account_id: &str, peer_id: &str) -> Option<String> {
        let tickets = self.typing_tickets(account_id)?;
        let cache = tickets.lock().unwrap_or_else(PoisonError::into_inner);
        cache.ticket(peer_id).map(str::to_owned)
    }

    /// A running account's typing-ticket cache.
    pub(crate) fn typing_tickets(&self, account_id: &str) -> Option<Arc<Mutex<TypingTickets>>> {
        self.running()
            .get(account_id)
            .map(|r| Arc::clone(&r.typing))
    }

    pub(crate) fn wake_all_senders(&self) {
        for running in self.running().values() {
            running.sender_wake.now();
        }
    }

    /// The client of a running account.
    pub(crate) fn client(&self, account_id: &str) -> Option<Arc<Client>> {
        self.running()
            .get(account_id)
            .map(|r| Arc::clone(&r.client))
    }

    /// Tells an account's sender to look at its outbox again.
    pub(crate) fn wake_sender(&self, account_id: &str) {
        if let Some(running) = self.running().get(account_id) {
            running.sender_wake.now();
        }
    }
}

impl Drop for AccountManager {
    fn drop(&mut self) {
        for running in self.running().values() {
            running.cancel.cancel();
        }
    }
}
