//! QR login (docs/protocol.md §2.1, §2.2, §3, E4–E6): `get_bot_qrcode` issues a QR; a scripted
//! scanner, driven through the control API, walks it through its statuses, and
//! `get_qrcode_status` long-polls them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Extension;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::auth;
use crate::ids;
use crate::state::{lock, BotInfo, LoggedRequest, Shared, SimError, State as SimState};
use crate::wire;

/// Where a QR stands. `Answer` is a raw answer set by a test (redirects, unknown
/// statuses, a `confirmed` without `ilink_bot_id`).
#[derive(Clone)]
pub(crate) enum QrStatus {
    Wait,
    Scanned,
    NeedVerifyCode(String),
    Blocked,
    Expired,
    Confirmed(Value),
    BindedRedirect,
    Answer(Value),
}

impl QrStatus {
    fn answer(&self) -> Value {
        match self {
            // The real server sends `"ret":0` with every status.
            QrStatus::Wait => json!({ "ret": 0, "status": "wait" }),
            QrStatus::Scanned => json!({ "ret": 0, "status": "scaned" }),
            QrStatus::NeedVerifyCode(_) => json!({ "ret": 0, "status": "need_verifycode" }),
            QrStatus::Blocked => json!({ "ret": 0, "status": "verify_code_blocked" }),
            QrStatus::Expired => json!({ "ret": 0, "status": "expired" }),
            QrStatus::Confirmed(answer) | QrStatus::Answer(answer) => answer.clone(),
            QrStatus::BindedRedirect => json!({ "ret": 0, "status": "binded_redirect" }),
        }
    }

    fn is_pending(&self) -> bool {
        matches!(
            self,
            QrStatus::Wait | QrStatus::Scanned | QrStatus::NeedVerifyCode(_)
        )
    }
}

pub(crate) struct QrSession {
    issued: Instant,
    local_tokens: Vec<String>,
    status: QrStatus,
    /// Bumped on every change; a poll is held only while nothing new is unreported.
    version: u64,
    reported: u64,
    wrong_codes: u32,
    /// Sent to the redirect host: the primary host answers `scaned_but_redirect`.
    redirected: bool,
    /// The primary host has answered `scaned_but_redirect` once already.
    redirect_told: bool,
    notify: Arc<Notify>,
}

/// Which listener a request came in on (E5: after `scaned_but_redirect` the QR is
/// answered only on the redirect host).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostRole {
    Primary,
    Redirect,
}

#[derive(Default)]
pub(crate) struct QrBook {
    sessions: HashMap<String, QrSession>,
    order: Vec<String>,
}

impl QrBook {
    fn get_mut(&mut self, qrcode: &str) -> Result<&mut QrSession, SimError> {
        self.sessions
            .get_mut(qrcode)
            .ok_or_else(|| SimError::UnknownQr(qrcode.to_owned()))
    }

    pub fn latest(&self) -> Option<String> {
        self.order.last().cloned()
    }
}

fn set_status(session: &mut QrSession, status: QrStatus) {
    session.status = status;
    session.version += 1;
    session.notify.notify_waiters();
}

/// Control actions on the state, used by [`crate::Sim`] and the `/_sim/qr` routes.
impl SimState {
    pub fn qr_scan(&mut self, qrcode: &str) -> Result<(), SimError> {
        set_status(self.qrs.get_mut(qrcode)?, QrStatus::Scanned);
        Ok(())
    }

    pub fn qr_ask_code(&mut self, qrcode: &str, code: &str) -> Result<(), SimError> {
        let session = self.qrs.get_mut(qrcode)?;
        session.wrong_codes = 0;
        set_status(session, QrStatus::NeedVerifyCode(code.to_owned()));
        Ok(())
    }

    /// The QR's session lives on the redirect host: polls on the primary host get
    /// `scaned_but_redirect` with `redirect_host`; on the redirect host it reads `scaned`
    /// and continues from there. Returns the redirect host (`ip:port`, no scheme).
    pub fn qr_redirect(&mut self, qrcode: &str) -> Result<String, SimError> {
        let session = self.qrs.get_mut(qrcode)?;
        session.redirected = true;
        set_status(session, QrStatus::Scanned);
        Ok(self.redirect_host.clone())
    }

    pub fn qr_expire(&mut self, qrcode: &str) -> Result<(), SimError> {
        set_status(self.qrs.get_mut(qrcode)?, QrStatus::Expired);
        Ok(())
    }

    pub fn qr_set_answer(&mut self, qrcode: &str, answer: Value) -> Result<(), SimError> {
        set_status(self.qrs.get_mut(qrcode)?, QrStatus::Answer(answer));
        Ok(())
    }

    /// The phone confirms. With `user` naming a WeChat user who already owns a bot:
    /// if that bot's live token was in the QR's `local_token_list` the answer is
    /// `binded_redirect` and `None` is returned (E4); otherwise the old bot's token is
    /// revoked and a new bot is minted for the same user (E6).
    pub fn qr_confirm(
        &mut self,
        qrcode: &str,
        user: Option<&str>,
    ) -> Result<Option<BotInfo>, SimError> {
        let local_tokens = self.qrs.get_mut(qrcode)?.local_tokens.clone();
        let previous: Vec<(String, String)> = match user {
            None => Vec::new(),
            Some(user) => self
                .bots
                .values()
                .filter(|b| b.token_live && b.info.user_id == user)
                .map(|b| (b.info.bot_id.clone(), b.info.token.clone()))
                .collect(),
        };
        if previous.iter().any(|(_, t)| local_tokens.contains(t)) {
            set_status(self.qrs.get_mut(qrcode)?, QrStatus::BindedRedirect);
            return Ok(None);
        }
        for (bot_id, _) in &previous {
            self.revoke_token(bot_id)?;
        }
        let info = self.create_bot_for(user.map(str::to_owned));
        // Without a trailing slash, as the real server sends `https://ilinkai.weixin.qq.com`:
        // a client that joins strings must add its own.
        let answer = json!({
            "ret": 0,
            "status": "confirmed",
            "bot_token": info.token,
            "ilink_bot_id": info.bot_id,
            "baseurl": self.base_url.trim_end_matches('/'),
            "ilink_user_id": info.user_id,
        });
        set_status(self.qrs.get_mut(qrcode)?, QrStatus::Confirmed(answer));
        Ok(Some(info))
    }
}

#[derive(Deserialize)]
struct BotTypeQuery {
    bot_type: Option<String>,
}

#[derive(Deserialize)]
struct StatusQuery {
    qrcode: Option<String>,
    verify_code: Option<String>,
}

/// The POST body of get_bot_qrcode.
#[derive(Deserialize)]
struct QrRequest {
    #[serde(default)]
    local_token_list: Vec<String>,
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/ilink/bot/get_bot_qrcode",
            get(issue_legacy_get).post(issue_post),
        )
        .route("/ilink/bot/get_qrcode_status", get(status))
}

async fn issue_legacy_get(
    State(shared): State<Shared>,
    headers: HeaderMap,
    query: Query<BotTypeQuery>,
) -> Response {
    let notes = header_notes(&headers, false);
    let logged = json!({ "bot_type": query.bot_type });
    lock(&shared).log_request(LoggedRequest::new(
        "get_bot_qrcode",
        &headers,
        logged,
        notes,
    ));
    issue(&shared, query, Vec::new())
}

async fn issue_post(
    State(shared): State<Shared>,
    headers: HeaderMap,
    query: Query<BotTypeQuery>,
    body: Bytes,
) -> Response {
    let parsed: Result<QrRequest, _> = serde_json::from_slice(&body);
    let mut notes = header_notes(&headers, true);
    if let Err(err) = &parsed {
        notes.push(format!("bad get_bot_qrcode body: {err}"));
    }
    // Tokens are secrets of the client; the log keeps only how many there were.
    let logged = json!({
        "bot_type": query.bot_type,
        "local_token_list_len": parsed.as_ref().map_or(0, |r| r.local_token_list.len()),
    });
    lock(&shared).log_request(LoggedRequest::new(
        "get_bot_qrcode",
        &headers,
        logged,
        notes,
    ));
    match parsed {
        Ok(request) => issue(&shared, query, request.local_token_list),
        Err(err) => wire::bad_request(&format!("bad get_bot_qrcode body: {err}")),
    }
}

/// QR calls are never rejected for headers (legacy clients sent none), but what the
/// official client would have sent is checked and noted in the request log.
fn header_notes(headers: &HeaderMap, is_post: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if auth::header(headers, "ilink-app-id") != Some("bot") {
        notes.push("iLink-App-Id missing or not \"bot\"".to_owned());
    }
    if !auth::header(headers, "ilink-app-clientversion").is_some_and(auth::is_decimal_u32) {
        notes.push("iLink-App-ClientVersion missing or not a decimal uint32".to_owned());
    }
    if is_post {
        if auth::header(headers, "authorizationtype") != Some("ilink_bot_token") {
            notes.push("AuthorizationType missing or not ilink_bot_token".to_owned());
        }
        if !auth::header(headers, "x-wechat-uin").is_some_and(auth::is_valid_uin) {
            notes.push("X-WECHAT-UIN missing or not base64 of 1-10 decimal digits".to_owned());
        }
    }
    notes
}

fn issue(
    shared: &Shared,
    Query(query): Query<BotTypeQuery>,
    local_tokens: Vec<String>,
) -> Response {
    if query.bot_type.as_deref().is_none_or(str::is_empty) {
        return wire::bad_request("bot_type is required");
    }
    let qrcode = ids::random_hex(16);
    let url = format!("https://liteapp.weixin.qq.com/q/sim?qrcode={qrcode}&bot_type=3");
    let mut state = lock(shared);
    state.qrs.order.push(qrcode.clone());
    state.qrs.sessions.insert(
        qrcode.clone(),
        QrSession {
            issued: Instant::now(),
            local_tokens,
            status: QrStatus::Wait,
            version: 1,
            reported: 0,
            wrong_codes: 0,
            redirected: false,
            redirect_told: false,
            notify: Arc::new(Notify::new()),
        },
    );
    if let Some(step_ms) = state.knobs.auto_login_ms {
        let greeting = state.knobs.auto_login_greeting.clone();
        tokio::spawn(auto_login(
            shared.clone(),
            qrcode.clone(),
            step_ms,
            greeting,
        ));
    }
    wire::ok_json(json!({ "qrcode": qrcode, "qrcode_img_content": url, "ret": 0 }))
}

/// The sandbox's phone: scans after one step, confirms as a new user after another,
/// then (optionally) writes to the new bot so the app has a conversation to show.
/// Stops quietly if a test or the client moved the QR elsewhere meanwhile.
async fn auto_login(shared: Shared, qrcode: String, step_ms: u64, greeting: Option<String>) {
    let step = Duration::from_millis(step_ms);
    tokio::time::sleep(step).await;
    if lock(&shared).qr_scan(&qrcode).is_err() {
        return;
    }
    tokio::time::sleep(step).await;
    let mut state = lock(&shared);
    let still_scanned = state
        .qrs
        .sessions
        .get(&qrcode)
        .is_some_and(|s| matches!(s.status, QrStatus::Scanned));
    if !still_scanned {
        return;
    }
    if let Ok(Some(bot)) = state.qr_confirm(&qrcode, None) {
        tracing::info!(bot = bot.bot_id, "auto-login confirmed a QR");
        if let Some(text) = greeting {
            let _ = state.inject_text(&bot.bot_id, &bot.user_id, &text);
        }
    }
}

async fn status(
    State(shared): State<Shared>,
    Extension(role): Extension<HostRole>,
    headers: HeaderMap,
    Query(query): Query<StatusQuery>,
) -> Response {
    let log_id = {
        // The verify code is a secret of the user; the log says only whether one came.
        let logged = json!({ "qrcode": query.qrcode, "verify_code": query.verify_code.is_some() });
        let notes = header_notes(&headers, false);
        lock(&shared).log_request(LoggedRequest::new(
            "get_qrcode_status",
            &headers,
            logged,
            notes,
        ))
    };
    let Some(qrcode) = query.qrcode.filter(|q| !q.is_empty()) else {
        return wire::bad_request("qrcode is required");
    };
    // The verify code counts once per request, on the first look.
    let mut verify_code = query.verify_code;
    let (hold, lifetime, max_wrong) = {
        let state = lock(&shared);
        (
            Duration::from_millis(state.knobs.qr_hold_ms),
            Duration::from_millis(state.knobs.qr_lifetime_ms),
            state.knobs.verify_code_attempts,
        )
    };
    let deadline = Instant::now() + hold;
    // An unknown QR (never issued, or from before a restart) reads as expired.
    let unknown = || wire::ok_json(json!({ "ret": 0, "status": "expired" }));
    loop {
        let notify = match lock(&shared).qrs.sessions.get(&qrcode) {
            Some(session) => session.notify.clone(),
            None => return unknown(),
        };
        let notified = notify.notified();
        tokio::pin!(notified);
        // Registered before looking, so a change made while we look is not lost.
        notified.as_mut().enable();
        let wake_at = {
            let mut state = lock(&shared);
            let redirect_host = state.redirect_host.clone();
            let Ok(session) = state.qrs.get_mut(&qrcode) else {
                return unknown();
            };
            if session.redirected && role == HostRole::Primary {
                // Told once, a client moves to the redirect host (docs/protocol.md §3.1).
                let told_before = std::mem::replace(&mut session.redirect_told, true);
                if told_before {
                    state.add_note(
                        log_id,
                        "polled the first host again after scaned_but_redirect; the status \
                         is on redirect_host (docs/protocol.md §3.1)"
                            .to_owned(),
                    );
                }
                return wire::ok_json(json!({
                    "ret": 0,
                    "status": "scaned_but_redirect",
                    "redirect_host": redirect_host,
                }));
            }
            let expires_at = session.issued + lifetime;
            if session.status.is_pending() && Instant::now() >= expires_at {
                set_status(session, QrStatus::Expired);
            }
            // Right code → scaned; wrong → need_verifycode again at once; too many
            // wrong → verify_code_blocked.
            let expected = match &session.status {
                QrStatus::NeedVerifyCode(expected) => Some(expected.clone()),
                _ => None,
            };
            if let (Some(expected), Some(code)) = (expected, verify_code.take()) {
                if code == expected {
                    set_status(session, QrStatus::Scanned);
                } else {
                    session.wrong_codes += 1;
                    if session.wrong_codes >= max_wrong {
                        set_status(session, QrStatus::Blocked);
                    } else {
                        session.reported = session.version;
                        return wire::ok_json(session.status.answer());
                    }
                }
            }
            if session.version > session.reported || Instant::now() >= deadline {
                session.reported = session.version;
                return wire::ok_json(session.status.answer());
            }
            if session.status.is_pending() {
                deadline.min(expires_at)
            } else {
                deadline
            }
        };
        let _ = tokio::time::timeout_at(wake_at, notified).await;
    }
}
