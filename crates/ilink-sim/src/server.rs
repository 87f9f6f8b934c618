use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;
use tower::ServiceExt;

use axum::routing::post;
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::demo::{self, DemoConfig};
use crate::faults::{ConnKill, Fault, FaultHit, FaultRule};
use crate::knobs::Knobs;
use crate::media::InboundMedia;
use crate::qr::HostRole;
use crate::state::{
    lock, BotInfo, BotSummary, LoggedRequest, PresenceEvent, SentMessage, Shared, SimError, State,
    TypingEvent,
};
use crate::{account, cdn, control, faults, qr, send, updates};

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen. Port 0 picks a free port (what tests use).
    pub addr: SocketAddr,
    /// Initial behaviour switches; they can be changed while running.
    pub knobs: Knobs,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            knobs: Knobs::default(),
        }
    }
}

/// A running emulator. Dropping it stops the server.
///
/// The control methods act on the same state the HTTP API serves, so a test can set up
/// bots and messages and then assert on what a client sent, without any HTTP.
pub struct Sim {
    addr: SocketAddr,
    shared: Shared,
    tasks: Vec<JoinHandle<()>>,
}

impl Sim {
    /// Binds the listener and serves in the background on the current tokio runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        // The "other data centre" for scaned_but_redirect: same server, own port.
        let redirect_listener = TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?;
        let redirect_addr = redirect_listener.local_addr()?;
        let base_url = format!("http://{addr}/");
        let shared: Shared = Arc::new(Mutex::new(State::new(
            config.knobs,
            base_url,
            redirect_addr.to_string(),
        )));
        let app = Router::new()
            .route("/ilink/bot/getupdates", post(updates::getupdates))
            .route("/ilink/bot/sendmessage", post(send::sendmessage))
            .route("/ilink/bot/getconfig", post(account::getconfig))
            .route("/ilink/bot/sendtyping", post(account::sendtyping))
            .route("/ilink/bot/msg/notifystart", post(account::notifystart))
            .route("/ilink/bot/msg/notifystop", post(account::notifystop))
            .merge(qr::routes())
            .merge(cdn::api_routes())
            .merge(cdn::cdn_routes())
            .route_layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                faults::layer,
            ))
            .merge(control::routes())
            .fallback(unknown_path)
            .with_state(shared.clone());
        let primary = app.clone().layer(Extension(HostRole::Primary));
        let redirect = app.layer(Extension(HostRole::Redirect));
        let tasks = vec![
            tokio::spawn(serve(listener, primary)),
            tokio::spawn(serve(redirect_listener, redirect)),
        ];
        Ok(Sim {
            addr,
            shared,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL a client should use, with a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// A new bot as if a QR login had just been confirmed: id, live token, and the
    /// scanning user, already bound as a peer.
    pub fn create_bot(&self) -> BotInfo {
        lock(&self.shared).create_bot()
    }

    /// Every bot, oldest first, with whether its token is still live.
    pub fn bots(&self) -> Vec<BotSummary> {
        lock(&self.shared).bot_list()
    }

    /// Binds another WeChat user to the bot, so it may message and be messaged.
    pub fn add_peer(&self, bot: &str, peer: &str) -> Result<(), SimError> {
        lock(&self.shared).add_peer(bot, peer)
    }

    /// Queues an inbound text from a bound peer, with a fresh context_token, and wakes
    /// the bot's long-poll. Returns the message_id (above 2^53).
    pub fn inject_text(&self, bot: &str, peer: &str, text: &str) -> Result<u64, SimError> {
        lock(&self.shared).inject_text(bot, peer, text)
    }

    /// Queues an inbound message with arbitrary items (quotes, tool items, anything a
    /// test needs); the envelope, ids and context_token are filled in as for text.
    pub fn inject_items(
        &self,
        bot: &str,
        peer: &str,
        items: Vec<serde_json::Value>,
    ) -> Result<u64, SimError> {
        lock(&self.shared).inject_items(bot, peer, items)
    }

    /// Queues a text quoting the bot's sent message `quoted_message_id` with no body:
    /// an unknown item type and the quoted send's time, plus its id only if `with_id`.
    pub fn inject_bodiless_quote(
        &self,
        bot: &str,
        peer: &str,
        text: &str,
        quoted_message_id: u64,
        with_id: bool,
    ) -> Result<u64, SimError> {
        lock(&self.shared).inject_bodiless_quote(bot, peer, text, quoted_message_id, with_id)
    }

    /// Queues several inbound texts from one peer at once: a poll parked or arriving
    /// later gets them in one batch. Returns their message_ids in order.
    pub fn inject_texts_together(
        &self,
        bot: &str,
        peer: &str,
        texts: &[&str],
    ) -> Result<Vec<u64>, SimError> {
        let mut state = lock(&self.shared);
        texts
            .iter()
            .map(|text| state.inject_text(bot, peer, text))
            .collect()
    }

    /// Encrypts `media`, stores it on the emulator's CDN and queues an inbound message
    /// carrying it (E16).
    pub fn inject_media(
        &self,
        bot: &str,
        peer: &str,
        media: InboundMedia,
    ) -> Result<u64, SimError> {
        lock(&self.shared).inject_media(bot, peer, media)
    }

    /// The plaintext behind a CDN download param (from an upload's
    /// `x-encrypted-param`, or a sent item's `encrypt_query_param`).
    pub fn cdn_plaintext(&self, download_param: &str) -> Option<Vec<u8>> {
        lock(&self.shared).cdn_plaintext(download_param)
    }

    /// The CDN base URL (`<base>c2c`), where `/upload` and `/download` live.
    pub fn cdn_base_url(&self) -> String {
        format!("{}c2c", self.base_url())
    }

    /// What sendmessage accepted for this bot, oldest first.
    pub fn sent_messages(&self, bot: &str) -> Result<Vec<SentMessage>, SimError> {
        lock(&self.shared).bot(bot).map(|b| b.sent.clone())
    }

    /// When a poll first handed out each of `bot`'s messages: message_id → epoch ms
    /// (fractional). Messages not handed out yet are missing. For latency benchmarks.
    pub fn handed_out(&self, bot: &str) -> Result<HashMap<u64, f64>, SimError> {
        lock(&self.shared).bot(bot).map(|b| {
            let mut times = HashMap::new();
            for queued in &b.queue {
                let id = queued.msg["message_id"].as_u64();
                if let (Some(id), Some(at)) = (id, queued.first_handed_out_ms) {
                    times.entry(id).or_insert(at);
                }
            }
            times
        })
    }

    /// The latest context_token issued for (bot, peer), if any.
    pub fn context_token(&self, bot: &str, peer: &str) -> Result<Option<String>, SimError> {
        lock(&self.shared)
            .bot(bot)
            .map(|b| b.contexts.get(peer).map(|c| c.token.clone()))
    }

    /// Closes the reply window of (bot, peer) now: replies get ret -2 until the peer
    /// writes again.
    pub fn expire_context(&self, bot: &str, peer: &str) -> Result<(), SimError> {
        lock(&self.shared).expire_context(bot, peer)
    }

    /// Makes the bot's token stale: getupdates answers errcode -14 from now on (a poll
    /// in flight returns at once), and other endpoints reject it.
    pub fn revoke_token(&self, bot: &str) -> Result<(), SimError> {
        lock(&self.shared).revoke_token(bot)
    }

    /// Issues a new typing ticket for (bot, user); the old one stops working.
    pub fn rotate_typing_ticket(&self, bot: &str, user: &str) -> Result<String, SimError> {
        lock(&self.shared).rotate_ticket(bot, user)
    }

    /// Every accepted sendtyping call, oldest first.
    pub fn typing_events(&self, bot: &str) -> Result<Vec<TypingEvent>, SimError> {
        lock(&self.shared).bot(bot).map(|b| b.typing.clone())
    }

    /// Every notifystart/notifystop call, oldest first.
    pub fn presence_events(&self, bot: &str) -> Result<Vec<PresenceEvent>, SimError> {
        lock(&self.shared).bot(bot).map(|b| b.presence.clone())
    }

    /// The recent API requests with headers, bodies and the rule violations seen.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared).requests.iter().cloned().collect()
    }

    /// How many getupdates requests are being served right now (held or answering).
    pub fn polls_in_flight(&self) -> usize {
        lock(&self.shared).polls_in_flight
    }

    pub fn knobs(&self) -> Knobs {
        lock(&self.shared).knobs.clone()
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        lock(&self.shared).knobs = knobs;
    }

    /// The most recently issued QR code, if any.
    pub fn latest_qrcode(&self) -> Option<String> {
        lock(&self.shared).qrs.latest()
    }

    /// The simulated phone scans the QR: `scaned`.
    pub fn scan_qr(&self, qrcode: &str) -> Result<(), SimError> {
        lock(&self.shared).qr_scan(qrcode)
    }

    /// The phone shows `code`: `need_verifycode` until a poll carries it.
    pub fn ask_verify_code(&self, qrcode: &str, code: &str) -> Result<(), SimError> {
        lock(&self.shared).qr_ask_code(qrcode, code)
    }

    /// The user confirms on the phone, as `user` (an existing WeChat user id) or as a
    /// new user. Returns the new bot, or `None` when the answer is `binded_redirect`
    /// because that user's live bot token was in the QR's `local_token_list`. An
    /// earlier bot of the same user has its token revoked.
    pub fn confirm_qr(
        &self,
        qrcode: &str,
        user: Option<&str>,
    ) -> Result<Option<BotInfo>, SimError> {
        lock(&self.shared).qr_confirm(qrcode, user)
    }

    /// Moves the QR's login to the redirect host (E5): the normal host answers
    /// `scaned_but_redirect` with `redirect_host`, the redirect host continues with
    /// `scaned`. Returns that host as `ip:port`; it speaks plain HTTP, so the client
    /// needs its test-only scheme override (it always prepends `https://`).
    pub fn redirect_qr(&self, qrcode: &str) -> Result<String, SimError> {
        lock(&self.shared).qr_redirect(qrcode)
    }

    /// The QR times out: `expired`.
    pub fn expire_qr(&self, qrcode: &str) -> Result<(), SimError> {
        lock(&self.shared).qr_expire(qrcode)
    }

    /// Answers polls of this QR with `answer` verbatim from now on, e.g.
    /// `{"status":"scaned_but_redirect","redirect_host":"…"}`, an unknown status, or a
    /// `confirmed` without `ilink_bot_id`.
    pub fn set_qr_answer(&self, qrcode: &str, answer: serde_json::Value) -> Result<(), SimError> {
        lock(&self.shared).qr_set_answer(qrcode, answer)
    }

    /// Queues a one-shot fault for the next request to `endpoint` (`getupdates`,
    /// `sendmessage`, `msg/notifystart`, `get_qrcode_status`, …). Several queued
    /// faults apply to successive requests.
    pub fn inject_fault(&self, endpoint: &str, fault: Fault) {
        lock(&self.shared).faults.push(endpoint, fault);
    }

    /// Replaces the probabilistic fault rules and restarts their RNG from `seed`: each
    /// request to a rule's endpoint (or any, for `"*"`) gets its fault with the rule's
    /// probability. Same seed and same request order, same faults. One-shot faults
    /// still come first.
    pub fn set_fault_rules(&self, seed: u64, rules: Vec<FaultRule>) {
        lock(&self.shared).faults.set_rules(seed, rules);
    }

    /// Drops all queued one-shot faults, the rules and the hit log.
    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }

    /// Every fault that fired (one-shot or rule), oldest first.
    pub fn fault_hits(&self) -> Vec<FaultHit> {
        lock(&self.shared).faults.hits.iter().cloned().collect()
    }

    /// Starts the sandbox scenario (`ilink-sim --demo`): QR logins confirm themselves
    /// after `login_step_ms` twice, and the demo peers write to every live bot, one
    /// message per `tick` (text, picture, file, voice with and without transcript,
    /// quote). Also creates one bot right away and returns it, for clients that skip
    /// the QR login. Runs until the sim is dropped.
    pub fn start_demo(&mut self, config: DemoConfig) -> BotInfo {
        let bot = self.create_bot();
        self.tasks.push(demo::start(self.shared.clone(), config));
        bot
    }

    /// Changes some knobs in place, e.g. `sim.update_knobs(|k| k.poll_hold_ms = 200)`.
    pub fn update_knobs(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut lock(&self.shared).knobs);
    }
}

/// Serves `app` on `listener`, one HTTP/1.1 connection task per client. Each request
/// carries a [`ConnKill`] so a fault can drop its connection without any response.
async fn serve(listener: TcpListener, app: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!(%err, "ilink-sim accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let conn_kill = ConnKill(kill.clone());
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(conn_kill.clone());
                    app.clone().oneshot(request.map(axum::body::Body::new))
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(err) = result {
                        tracing::trace!(%err, "connection ended with an error");
                    }
                }
                () = kill.notified() => {
                    tracing::debug!("connection dropped by an injected fault");
                }
            }
        });
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Any path the server does not serve: logged as a violation (a client that joins a base
/// ending in `/` with a path starting with `/` asks for `//ilink/bot/…`), and answered 404
/// with the reason in the body and in `x-error-message`, never silently.
async fn unknown_path(
    axum::extract::State(shared): axum::extract::State<Shared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path();
    let reason = if path.contains("//") {
        format!(
            "{method} {path}: the path contains `//` (a base URL ending in `/` joined with \
             a path starting with `/`?); no such endpoint"
        )
    } else {
        format!("{method} {path}: no such endpoint")
    };
    let logged_body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    let endpoint = path.trim_start_matches('/');
    lock(&shared).log_request(LoggedRequest::new(
        endpoint,
        &headers,
        logged_body,
        vec![reason.clone()],
    ));
    tracing::warn!(%reason, "request to an unknown path");
    let header_value = reason.replace(|c: char| !c.is_ascii() || c.is_ascii_control(), "?");
    (
        axum::http::StatusCode::NOT_FOUND,
        [(
            axum::http::header::HeaderName::from_static("x-error-message"),
            header_value,
        )],
        reason,
    )
        .into_response()
}
