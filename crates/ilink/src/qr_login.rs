//! The QR login state machine (docs/protocol.md §3): fetch a QR, long-poll its status, follow
//! redirects, ask for verify codes, refresh expired codes, and hand back the new bot's
//! credentials.
//!
//! [`QrLogin::new`] gives a [`QrLoginHandle`] (events out, verify codes in, cancel) and
//! a [`QrLogin`] future-maker that the caller drives or spawns: this crate starts no
//! tasks of its own.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::IlinkError;
use crate::models::{QrStatus, QrStatusResponse};
use crate::secret::Secret;

/// Settings of one login, defaulting to the official client's (§3.2).
#[derive(Debug, Clone)]
pub struct QrLoginConfig {
    /// Overall deadline: 8 min. Values under 1 s are raised to 1 s.
    pub deadline: Duration,
    /// The refresh counter starts at 1 and grows on each `expired` or
    /// `verify_code_blocked`; the login fails once it exceeds this (3: at most three QR
    /// codes, the first plus two refreshes).
    pub max_refresh_count: u32,
    /// Pause after each status answer (except `need_verifycode`), on top of the
    /// server's own hold: 1 s.
    pub poll_interval: Duration,
    /// Bot tokens of locally stored accounts, newest first (at most 10 are sent), so the
    /// server can answer `binded_redirect` for a bot already bound here.
    pub local_token_list: Vec<Secret>,
    /// Scheme put before `redirect_host` (`https`; tests against a local emulator use
    /// `http`).
    pub redirect_scheme: String,
}

impl Default for QrLoginConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(480_000),
            max_refresh_count: 3,
            poll_interval: Duration::from_secs(1),
            local_token_list: Vec::new(),
            redirect_scheme: "https".to_owned(),
        }
    }
}

/// What a confirmed login yields. The token is a [`Secret`]; store it in the keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCredentials {
    /// The new bot token.
    pub token: Secret,
    /// `ilink_bot_id`, e.g. `b0f5860fdecb@im.bot`.
    pub bot_id: String,
    /// The account's API base; `None` when the server sent none (use the default host).
    pub base_url: Option<String>,
    /// The WeChat user who scanned (`…@im.wechat`), when sent.
    pub user_id: Option<String>,
}

/// Why a login ended without credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrLoginFailure {
    /// Fetching a QR code (the first or a refresh) failed.
    #[error("could not get a QR code: {0}")]
    QrFetch(IlinkError),
    /// Too many codes expired or were blocked.
    #[error("the QR code expired too many times")]
    TooManyRefreshes,
    /// The overall deadline passed.
    #[error("the login timed out")]
    Timeout,
    /// `confirmed` came without `ilink_bot_id`.
    #[error("the confirmation carried no bot id")]
    MissingBotId,
    /// `confirmed` came without `bot_token`.
    #[error("the confirmation carried no bot token")]
    MissingToken,
    /// The login was cancelled, or the handle dropped while a verify code was needed.
    #[error("the login was cancelled")]
    Cancelled,
    /// A status answer carried a non-zero `ret` or `errcode`: the server ended the login.
    #[error("the server ended the login: {}", refusal_words(.ret, .errcode, .errmsg))]
    Refused {
        /// `ret` as sent.
        ret: Option<i64>,
        /// `errcode` as sent.
        errcode: Option<i64>,
        /// `errmsg` as sent (often empty).
        errmsg: String,
    },
}

/// The reason a refusal gives, in words: the server's message if it sent one, else what
/// the code is known to mean, with the codes themselves.
fn refusal_words(ret: &Option<i64>, errcode: &Option<i64>, errmsg: &str) -> String {
    let (ret, errcode) = (*ret, *errcode);
    let codes: Vec<String> = [("ret", ret), ("errcode", errcode)]
        .into_iter()
        .filter_map(|(name, v)| v.filter(|v| *v != 0).map(|v| format!("{name} {v}")))
        .collect();
    let meaning = match errmsg.trim() {
        "" if ret == Some(-14) || errcode == Some(-14) => "the session has expired",
        "" => "no reason given",
        text => text,
    };
    format!("{meaning} ({})", codes.join(", "))
}

/// Progress of a login, in order. The last event is always one of `Confirmed`,
/// `AlreadyBound` or `Failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrLoginEvent {
    /// A QR code to show. `url` is the text to encode into the QR image (it is not an
    /// image itself) and may be shown as a link.
    QrReady {
        /// What to encode.
        url: String,
    },
    /// The phone scanned the code (once per code), or accepted the verify code.
    Scanned,
    /// The phone shows a number: submit it with [`QrLoginHandle::submit_verify_code`].
    VerifyCodeNeeded,
    /// The submitted number was wrong: submit another.
    VerifyCodeWrong,
    /// Too many wrong numbers; a new QR code follows (or the login fails).
    VerifyCodeBlocked,
    /// The login moved to another data centre; polling continues there.
    Redirected {
        /// The new host.
        host: String,
    },
    /// The code timed out; a new one follows (or the login fails).
    Expired,
    /// The `n`-th refresh happened; a `QrReady` with the new code follows.
    Refreshed {
        /// Refreshes so far, from 1.
        n: u32,
    },
    /// Done: a new bot.
    Confirmed(LoginCredentials),
    /// This bot is already bound here: success without new credentials; save nothing.
    AlreadyBound,
    /// The login ended without success.
    Failed {
        /// Why.
        reason: QrLoginFailure,
    },
}

/// How a login ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrLoginOutcome {
    /// New credentials.
    Confirmed(LoginCredentials),
    /// Already bound to this installation.
    AlreadyBound,
    /// No success.
    Failed(QrLoginFailure),
}

/// The caller's side of a running login.
#[derive(Debug)]
pub struct QrLoginHandle {
    events: mpsc::UnboundedReceiver<QrLoginEvent>,
    codes: mpsc::UnboundedSender<String>,
    cancel: CancellationToken,
}

impl QrLoginHandle {
    /// The next event; `None` after the final one.
    pub async fn next_event(&mut self) -> Option<QrLoginEvent> {
        self.events.recv().await
    }

    /// Sends the number shown on the phone, after [`QrLoginEvent::VerifyCodeNeeded`] or
    /// [`QrLoginEvent::VerifyCodeWrong`].
    pub fn submit_verify_code(&self, code: &str) {
        // A finished login no longer listens; nothing to do then.
        let _ = self.codes.send(code.trim().to_owned());
    }

    /// Stops the login; it ends with [`QrLoginFailure::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// A token that cancels this login when fired.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// A login ready to run. Drive it with [`QrLogin::run`] (e.g. in `tokio::spawn`).
#[derive(Debug)]
pub struct QrLogin {
    client: Client,
    config: QrLoginConfig,
    events: mpsc::UnboundedSender<QrLoginEvent>,
    codes: mpsc::UnboundedReceiver<String>,
    cancel: CancellationToken,
}

impl QrLogin {
    /// Prepares a login. `client` must point at the fixed login host
    /// ([`crate::client::DEFAULT_API_BASE`], or an emulator); it needs no token.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), ilink::IlinkError> {
    /// use ilink::qr_login::{QrLogin, QrLoginConfig, QrLoginEvent, QrLoginOutcome};
    /// use ilink::{Client, ClientConfig};
    ///
    /// let client = Client::new(ClientConfig::default(), None)?;
    /// let (login, mut handle) = QrLogin::new(client, QrLoginConfig::default());
    /// let running = tokio::spawn(login.run());
    /// while let Some(event) = handle.next_event().await {
    ///     match event {
    ///         QrLoginEvent::QrReady { url } => println!("scan: {url}"),
    ///         // Ask the user for the number on the phone.
    ///         QrLoginEvent::VerifyCodeNeeded => handle.submit_verify_code("12"),
    ///         other => println!("{other:?}"),
    ///     }
    /// }
    /// match running.await.expect("the login task") {
    ///     QrLoginOutcome::Confirmed(creds) => println!("new bot {}", creds.bot_id),
    ///     QrLoginOutcome::AlreadyBound => println!("already bound here"),
    ///     QrLoginOutcome::Failed(reason) => println!("login failed: {reason}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(client: Client, config: QrLoginConfig) -> (QrLogin, QrLoginHandle) {
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let (code_tx, code_rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let login = QrLogin {
            client,
            config,
            events: event_tx,
            codes: code_rx,
            cancel: cancel.clone(),
        };
        let handle = QrLoginHandle {
            events: event_rx,
            codes: code_tx,
            cancel,
        };
        (login, handle)
    }

    /// Runs the login to its end, sending every event, the final one included.
    pub async fn run(mut self) -> QrLoginOutcome {
        let deadline = Instant::now() + self.config.deadline.max(Duration::from_secs(1));
        let cancel = self.cancel.clone();
        let events = self.events.clone();
        let outcome = tokio::select! {
            () = cancel.cancelled() => QrLoginOutcome::Failed(QrLoginFailure::Cancelled),
            () = tokio::time::sleep_until(deadline) => {
                QrLoginOutcome::Failed(QrLoginFailure::Timeout)
            }
            outcome = self.drive() => outcome,
        };
        let last = match &outcome {
            QrLoginOutcome::Confirmed(creds) => QrLoginEvent::Confirmed(creds.clone()),
            QrLoginOutcome::AlreadyBound => QrLoginEvent::AlreadyBound,
            QrLoginOutcome::Failed(reason) => QrLoginEvent::Failed {
                reason: reason.clone(),
            },
        };
        let _ = events.send(last);
        outcome
    }

    fn emit(&self, event: QrLoginEvent) {
        // Nobody listening is fine: the outcome is also returned.
        let _ = self.events.send(event);
    }

    async fn fetch_qr(&self) -> Result<String, QrLoginFailure> {
        let tokens: Vec<String> = self
            .config
            .local_token_list
            .iter()
            .map(|t| t.expose().to_owned())
            .collect();
        let response = self
            .client
            .get_bot_qrcode(&tokens)
            .await
            .map_err(QrLoginFailure::QrFetch)?;
        let qrcode = response.qrcode.unwrap_or_default();
        let url = response
            .qrcode_img_content
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| qrcode.clone());
        self.emit(QrLoginEvent::QrReady { url });
        Ok(qrcode)
    }

    /// The state machine without deadline and cancellation (those wrap it in `run`).
    async fn drive(&mut self) -> QrLoginOutcome {
        let mut qrcode = match self.fetch_qr().await {
            Ok(q) => q,
            Err(failure) => return QrLoginOutcome::Failed(failure),
        };
        let mut refreshes = 1u32;
        // Set by a redirect; kept across refreshes (§3.2).
        let mut redirected: Option<(String, Client)> = None;
        let mut scanned_shown = false;
        let mut pending_code: Option<String> = None;
        loop {
            let poller = redirected.as_ref().map_or(&self.client, |(_, c)| c);
            let answer = poller
                .get_qrcode_status(&qrcode, pending_code.as_deref())
                .await
                // Timeouts, network errors, non-2xx and bad bodies all count as `wait`.
                .unwrap_or_else(|_| QrStatusResponse::wait());
            let mut pause = true;
            let refused = |v: Option<i64>| v.is_some_and(|v| v != 0);
            if refused(answer.api.ret) || refused(answer.api.errcode) {
                // Not a status to wait on: polling on would only run into the deadline.
                return QrLoginOutcome::Failed(QrLoginFailure::Refused {
                    ret: answer.api.ret,
                    errcode: answer.api.errcode,
                    errmsg: answer.api.errmsg.clone().unwrap_or_default(),
                });
            }
            match answer.status.clone() {
                Some(QrStatus::Scaned) => {
                    if pending_code.take().is_some() || !scanned_shown {
                        self.emit(QrLoginEvent::Scanned);
                    }
                    scanned_shown = true;
                }
                Some(QrStatus::ScanedButRedirect) => {
                    if let Some(host) = answer.redirect_host.filter(|h| !h.trim().is_empty()) {
                        let host = host.trim().to_owned();
                        if redirected.as_ref().is_none_or(|(h, _)| *h != host) {
                            let base = format!("{}://{host}", self.config.redirect_scheme);
                            // A host that makes no URL is ignored: keep polling here.
                            if let Ok(client) = self.client.with_api_base(&base) {
                                self.emit(QrLoginEvent::Redirected { host: host.clone() });
                                redirected = Some((host, client));
                            }
                        }
                    }
                }
                Some(QrStatus::NeedVerifycode) => {
                    self.emit(if pending_code.take().is_some() {
                        QrLoginEvent::VerifyCodeWrong
                    } else {
                        QrLoginEvent::VerifyCodeNeeded
                    });
                    match self.codes.recv().await {
                        Some(code) => pending_code = Some(code),
                        None => return QrLoginOutcome::Failed(QrLoginFailure::Cancelled),
                    }
                    pause = false;
                }
                Some(status @ (QrStatus::Expired | QrStatus::VerifyCodeBlocked)) => {
                    pending_code = None;
                    self.emit(if status == QrStatus::Expired {
                        QrLoginEvent::Expired
                    } else {
                        QrLoginEvent::VerifyCodeBlocked
                    });
                    refreshes += 1;
                    if refreshes > self.config.max_refresh_count {
                        return QrLoginOutcome::Failed(QrLoginFailure::TooManyRefreshes);
                    }
                    self.emit(QrLoginEvent::Refreshed { n: refreshes - 1 });
                    qrcode = match self.fetch_qr().await {
                        Ok(q) => q,
                        Err(failure) => return QrLoginOutcome::Failed(failure),
                    };
                    scanned_shown = false;
                }
                Some(QrStatus::BindedRedirect) => return QrLoginOutcome::AlreadyBound,
                Some(QrStatus::Confirmed) => return confirmed(answer),
                // `wait`, unknown statuses and none at all: poll again.
                _ => {}
            }
            if pause {
                tokio::time::sleep(self.config.poll_interval).await;
            }
        }
    }
}

fn confirmed(answer: QrStatusResponse) -> QrLoginOutcome {
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let Some(bot_id) = non_empty(answer.ilink_bot_id) else {
        return QrLoginOutcome::Failed(QrLoginFailure::MissingBotId);
    };
    let Some(token) = non_empty(answer.bot_token) else {
        return QrLoginOutcome::Failed(QrLoginFailure::MissingToken);
    };
    QrLoginOutcome::Confirmed(LoginCredentials {
        token: Secret::new(token),
        bot_id,
        base_url: non_empty(answer.baseurl),
        user_id: non_empty(answer.ilink_user_id),
    })
}
