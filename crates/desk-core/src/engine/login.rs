//! QR login orchestration (docs/protocol.md §3): runs [`ilink::qr_login`] against the login
//! host, forwards its progress as [`EngineEvent::LoginProgress`] (never the token), and
//! on `confirmed` stores the token in the secret store, the account in SQLite, replaces
//! stale accounts of the same WeChat user (§3.3 step 4) and starts the new account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ilink::client::DEFAULT_API_BASE;
use ilink::media::DEFAULT_CDN_BASE;
use ilink::qr_login::{LoginCredentials, QrLogin, QrLoginConfig, QrLoginEvent, QrLoginOutcome};
use ilink::{Client, ClientConfig, Secret};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::lifecycle;
use super::manager::AccountManager;
use super::shared::Runtime;
use super::EngineError;
use crate::events::{EngineEvent, LoginState};
use crate::secrets::SecretKey;
use crate::store::{AccountUpsert, STATUS_REPLACED};

/// How a login is run. The default logs in against the official host with the official
/// timings.
#[derive(Debug, Clone, Default)]
pub struct LoginOptions {
    /// The login host; `None` means the official one. Set it for a self-hosted backend
    /// or the emulator.
    pub api_base: Option<String>,
    /// The CDN base stored with the new account; `None` means the official one.
    pub cdn_base: Option<String>,
    /// An alias for the new account (an existing alias is kept when `None`).
    pub alias: Option<String>,
    /// `SKRouteTag` for a backend that routes by it: sent with the login's requests and
    /// stored with the account, whose client sends it on every call.
    pub route_tag: Option<String>,
    /// Deadline, refresh limit, poll interval and redirect scheme. Its
    /// `local_token_list` is ignored: the engine fills it from the stored accounts.
    pub qr: QrLoginConfig,
}

impl LoginOptions {
    /// The route tag, if a non-blank one is set.
    fn route_tag(&self) -> Option<String> {
        self.route_tag
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }
}

/// The caller's side of a running login. Dropping it does not cancel the login: the
/// engine keeps it by id ([`crate::Engine::submit_login_code`],
/// [`crate::Engine::cancel_login`]).
#[derive(Debug)]
pub struct LoginHandle {
    id: String,
    control: LoginControl,
    outcome: oneshot::Receiver<LoginState>,
}

impl LoginHandle {
    /// The id its [`EngineEvent::LoginProgress`] events carry.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends the number shown on the phone.
    pub fn submit_verify_code(&self, code: &str) {
        self.control.submit(code);
    }

    /// Stops the login; it ends with [`LoginState::Cancelled`].
    pub fn cancel(&self) {
        self.control.cancel.cancel();
    }

    /// Waits for the login's final state (also sent as an event).
    pub async fn finished(self) -> LoginState {
        self.outcome.await.unwrap_or(LoginState::Cancelled)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LoginControl {
    codes: mpsc::UnboundedSender<String>,
    cancel: CancellationToken,
}

impl LoginControl {
    fn submit(&self, code: &str) {
        let _ = self.codes.send(code.to_owned());
    }
}

/// The logins in progress, by id.
#[derive(Default)]
pub(crate) struct Logins {
    running: Mutex<HashMap<String, LoginControl>>,
}

impl Logins {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LoginControl>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// False if no such login runs.
    pub fn submit(&self, login_id: &str, code: &str) -> bool {
        self.lock().get(login_id).map(|c| c.submit(code)).is_some()
    }

    /// False if no such login runs.
    pub fn cancel(&self, login_id: &str) -> bool {
        self.lock()
            .get(login_id)
            .map(|c| c.cancel.cancel())
            .is_some()
    }
}

impl Drop for Logins {
    fn drop(&mut self) {
        for control in self.lock().values() {
            control.cancel.cancel();
        }
    }
}

/// Starts a login task and returns its handle.
pub(crate) async fn start(
    rt: Arc<Runtime>,
    accounts: Arc<AccountManager>,
    logins: Arc<Logins>,
    options: LoginOptions,
) -> Result<LoginHandle, EngineError> {
    let api_base = options
        .api_base
        .clone()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API_BASE.to_owned());
    let client = Client::new(
        ClientConfig {
            api_base: api_base.clone(),
            route_tag: options.route_tag(),
            ..rt.client_config.clone()
        },
        None,
    )?;
    let mut qr_config = options.qr.clone();
    qr_config.local_token_list = local_tokens(&rt).await?;
    let (login, qr_handle) = QrLogin::new(client, qr_config);
    let id = format!("login-{:016x}", rand::random::<u64>());
    let (codes_tx, codes_rx) = mpsc::unbounded_channel();
    let control = LoginControl {
        codes: codes_tx,
        cancel: qr_handle.cancellation_token(),
    };
    logins.lock().insert(id.clone(), control.clone());
    let (outcome_tx, outcome_rx) = oneshot::channel();
    let task = LoginTask {
        rt,
        accounts,
        id: id.clone(),
        api_base,
        options,
    };
    let span = tracing::info_span!("login", login_id = id);
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let last = task.run(login, qr_handle, codes_rx).await;
            logins.lock().remove(&task.id);
            task.emit(last.clone());
            let _ = outcome_tx.send(last);
        },
        span,
    ));
    Ok(LoginHandle {
        id,
        control,
        outcome: outcome_rx,
    })
}

/// The bot tokens of the stored accounts, newest first, at most
/// [`ilink::client::MAX_LOCAL_TOKENS`] (§3.1 `binded_redirect`).
async fn local_tokens(rt: &Runtime) -> Result<Vec<Secret>, EngineError> {
    let ids = rt
        .store
        .call(|s| s.newest_account_ids(usize::MAX >> 1))
        .await?;
    let secrets = Arc::clone(&rt.secrets);
    tokio::task::spawn_blocking(move || {
        let mut tokens = Vec::new();
        for id in ids {
            if tokens.len() >= ilink::client::MAX_LOCAL_TOKENS {
                break;
            }
            match secrets.get(&SecretKey::bot_token(&id)) {
                Ok(Some(t)) if !t.expose().trim().is_empty() => tokens.push(t),
                Ok(_) => {}
                Err(e) => tracing::warn!(account_id = id, error = %e, "cannot read a token"),
            }
        }
        tokens
    })
    .await
    .map_err(|_| EngineError::TaskFailed)
}

struct LoginTask {
    rt: Arc<Runtime>,
    accounts: Arc<AccountManager>,
    id: String,
    api_base: String,
    options: LoginOptions,
}

impl LoginTask {
    fn emit(&self, state: LoginState) {
        self.rt.emit(EngineEvent::LoginProgress {
            login_id: self.id.clone(),
            state,
        });
    }

    async fn run(
        &self,
        login: QrLogin,
        mut handle: ilink::qr_login::QrLoginHandle,
        mut codes: mpsc::UnboundedReceiver<String>,
    ) -> LoginState {
        let running = tokio::spawn(login.run());
        let mut codes_open = true;
        loop {
            tokio::select! {
                event = handle.next_event() => match event.and_then(progress) {
                    Some(state) => self.emit(state),
                    None => break,
                },
                code = codes.recv(), if codes_open => match code {
                    Some(code) => handle.submit_verify_code(&code),
                    None => codes_open = false,
                },
            }
        }
        let outcome = match running.await {
            Ok(outcome) => outcome,
            Err(_) => {
                return LoginState::Failed {
                    reason: "the login task ended unexpectedly".to_owned(),
                    problem: Some(crate::Problem::Other),
                }
            }
        };
        match outcome {
            QrLoginOutcome::Confirmed(creds) => match self.confirmed(creds).await {
                Ok(state) => state,
                Err(e) => {
                    tracing::error!(error = %e, "cannot save the new account");
                    LoginState::Failed {
                        reason: format!("cannot save the new account: {e}"),
                        problem: crate::Problem::of_engine(&e),
                    }
                }
            },
            QrLoginOutcome::AlreadyBound => LoginState::AlreadyBound,
            QrLoginOutcome::Failed(ilink::qr_login::QrLoginFailure::Cancelled) => {
                LoginState::Cancelled
            }
            QrLoginOutcome::Failed(failure) => {
                // The server's `errmsg`, redacted like every text from the wire.
                let reason = crate::redact::redact(&failure.to_string(), &[]);
                let problem = crate::Problem::of_login(&failure);
                tracing::info!(?problem, %reason, "the login failed");
                LoginState::Failed { reason, problem }
            }
        }
    }

    /// §3.3: token to the secret store, account merged into the store, stale accounts
    /// of the same user replaced, the new account (re)started.
    async fn confirmed(&self, creds: LoginCredentials) -> Result<LoginState, EngineError> {
        let account_id = ilink::account_id::normalize(&creds.bot_id);
        let secrets = Arc::clone(&self.rt.secrets);
        let (key, token) = (SecretKey::bot_token(&account_id), creds.token.clone());
        tokio::task::spawn_blocking(move || secrets.set(&key, &token))
            .await
            .map_err(|_| EngineError::TaskFailed)??;
        let upsert = AccountUpsert {
            account_id: account_id.clone(),
            bot_id: creds.bot_id.clone(),
            base_url: creds
                .base_url
                .clone()
                .unwrap_or_else(|| self.api_base.clone()),
            alias: self.options.alias.clone(),
            user_id: creds.user_id.clone(),
            cdn_url: Some(
                self.options
                    .cdn_base
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_CDN_BASE.to_owned()),
            ),
            route_tag: self.options.route_tag(),
        };
        let (now, user_id, id) = (self.rt.now_ms(), creds.user_id.clone(), account_id.clone());
        let stale = self
            .rt
            .store
            .call(move |s| {
                let mut upsert = upsert;
                let named = s.account(&upsert.account_id)?.and_then(|a| a.alias);
                if upsert.alias.is_none() && named.is_none() {
                    upsert.alias = Some(s.next_default_alias()?);
                }
                s.upsert_account(&upsert, now)?;
                s.set_account_enabled(&upsert.account_id, true, now)?;
                match user_id {
                    Some(user) => s.accounts_bound_to_user(&user, &id),
                    None => Ok(Vec::new()),
                }
            })
            .await?;
        let mut replaced = Vec::new();
        for old in stale {
            match lifecycle::retire(&self.rt, &self.accounts, &old, STATUS_REPLACED).await {
                Ok(true) => {
                    tracing::info!(account_id = old, "replaced by a new login");
                    self.rt.emit(EngineEvent::AccountReplaced {
                        account_id: old.clone(),
                        replaced_by: account_id.clone(),
                    });
                    replaced.push(old);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(account_id = old, error = %e, "cannot replace"),
            }
        }
        // A running account holds the old token: restart it with the new one.
        self.accounts.stop(&account_id).await;
        self.accounts.start(&account_id).await?;
        Ok(LoginState::Confirmed {
            account_id,
            bot_id: creds.bot_id,
            user_id: creds.user_id,
            replaced,
        })
    }
}

/// The UI's view of a login event; `None` for the final ones (the task reports those
/// after acting on them).
fn progress(event: QrLoginEvent) -> Option<LoginState> {
    Some(match event {
        QrLoginEvent::QrReady { url } => LoginState::QrReady { url },
        QrLoginEvent::Scanned => LoginState::Scanned,
        QrLoginEvent::VerifyCodeNeeded => LoginState::VerifyCodeNeeded,
        QrLoginEvent::VerifyCodeWrong => LoginState::VerifyCodeWrong,
        QrLoginEvent::VerifyCodeBlocked => LoginState::VerifyCodeBlocked,
        QrLoginEvent::Redirected { host } => LoginState::Redirected { host },
        QrLoginEvent::Expired => LoginState::Expired,
        QrLoginEvent::Refreshed { n } => LoginState::Refreshed { n },
        QrLoginEvent::Confirmed(_) | QrLoginEvent::AlreadyBound | QrLoginEvent::Failed { .. } => {
            return None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_serialise_tagged_and_final_ones_are_marked() {
        let s = LoginState::Confirmed {
            account_id: "b-im-bot".into(),
            bot_id: "b@im.bot".into(),
            user_id: None,
            replaced: vec!["old".into()],
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["state"], "confirmed");
        assert_eq!(serde_json::from_value::<LoginState>(json).unwrap(), s);
        assert!(s.is_final() && LoginState::Cancelled.is_final());
        assert!(!LoginState::Scanned.is_final());
        assert_eq!(
            serde_json::to_value(LoginState::VerifyCodeNeeded).unwrap(),
            serde_json::json!({"state": "verify_code_needed"})
        );
    }
}
