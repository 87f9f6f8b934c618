//! The test control surface over HTTP, under `/_sim/` (E2). It mirrors the Rust methods
//! on [`crate::Sim`], so tests in other languages (and the app's sandbox) can drive it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::{Fault, FaultRule};
use crate::knobs::Knobs;
use crate::media::InboundMedia;
use crate::state::{lock, Shared, SimError};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/bots", post(create_bot).get(list_bots))
        .route("/_sim/bots/{bot}/peers", post(add_peer))
        .route("/_sim/bots/{bot}/inject", post(inject_text))
        .route("/_sim/bots/{bot}/inject_items", post(inject_items))
        .route("/_sim/bots/{bot}/inject_media", post(inject_media))
        .route("/_sim/bots/{bot}/quote_bodiless", post(quote_bodiless))
        .route("/_sim/bots/{bot}/sent", get(sent))
        .route("/_sim/bots/{bot}/expire_context", post(expire_context))
        .route("/_sim/bots/{bot}/revoke", post(revoke))
        .route("/_sim/bots/{bot}/typing", get(typing))
        .route("/_sim/bots/{bot}/presence", get(presence))
        .route("/_sim/bots/{bot}/rotate_ticket", post(rotate_ticket))
        .route("/_sim/qr/latest", get(qr_latest))
        .route("/_sim/qr/{qrcode}/scan", post(qr_scan))
        .route("/_sim/qr/{qrcode}/verify_code", post(qr_verify_code))
        .route("/_sim/qr/{qrcode}/confirm", post(qr_confirm))
        .route("/_sim/qr/{qrcode}/expire", post(qr_expire))
        .route("/_sim/qr/{qrcode}/redirect", post(qr_redirect))
        .route("/_sim/qr/{qrcode}/answer", post(qr_answer))
        .route(
            "/_sim/faults",
            post(add_fault).get(get_faults).delete(clear_faults),
        )
        .route("/_sim/knobs", get(get_knobs).post(set_knobs))
        .route("/_sim/requests", get(requests))
        .route("/_sim/demo", get(demo))
        .route("/_sim/stats", get(stats))
}

#[derive(Deserialize)]
struct PeerBody {
    peer_id: String,
}

#[derive(Deserialize)]
struct InjectBody {
    peer_id: String,
    text: String,
}

#[derive(Deserialize)]
struct UserBody {
    user_id: String,
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|err| {
        Box::new(control_error(
            StatusCode::BAD_REQUEST,
            &format!("bad JSON body: {err}"),
        ))
    })
}

fn control_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn answer(result: Result<Value, SimError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(err) => control_error(StatusCode::NOT_FOUND, &err.to_string()),
    }
}

fn to_value<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

async fn health() -> Json<Value> {
    Json(json!({ "ok": true, "version": env!("CARGO_PKG_VERSION") }))
}

async fn create_bot(State(shared): State<Shared>) -> Response {
    answer(Ok(to_value(lock(&shared).create_bot())))
}

async fn add_peer(State(shared): State<Shared>, Path(bot): Path<String>, body: Bytes) -> Response {
    let body: PeerBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .add_peer(&bot, &body.peer_id)
            .map(|()| json!({ "ok": true })),
    )
}

async fn inject_text(
    State(shared): State<Shared>,
    Path(bot): Path<String>,
    body: Bytes,
) -> Response {
    let body: InjectBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .inject_text(&bot, &body.peer_id, &body.text)
            .map(|id| json!({ "message_id": id })),
    )
}

async fn sent(State(shared): State<Shared>, Path(bot): Path<String>) -> Response {
    answer(lock(&shared).bot(&bot).map(|b| to_value(&b.sent)))
}

async fn expire_context(
    State(shared): State<Shared>,
    Path(bot): Path<String>,
    body: Bytes,
) -> Response {
    let body: PeerBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .expire_context(&bot, &body.peer_id)
            .map(|()| json!({ "ok": true })),
    )
}

async fn revoke(State(shared): State<Shared>, Path(bot): Path<String>) -> Response {
    answer(
        lock(&shared)
            .revoke_token(&bot)
            .map(|()| json!({ "ok": true })),
    )
}

async fn typing(State(shared): State<Shared>, Path(bot): Path<String>) -> Response {
    answer(lock(&shared).bot(&bot).map(|b| to_value(&b.typing)))
}

async fn presence(State(shared): State<Shared>, Path(bot): Path<String>) -> Response {
    answer(lock(&shared).bot(&bot).map(|b| to_value(&b.presence)))
}

async fn rotate_ticket(
    State(shared): State<Shared>,
    Path(bot): Path<String>,
    body: Bytes,
) -> Response {
    let body: UserBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .rotate_ticket(&bot, &body.user_id)
            .map(|t| json!({ "typing_ticket": t })),
    )
}

async fn get_knobs(State(shared): State<Shared>) -> Response {
    answer(Ok(to_value(&lock(&shared).knobs)))
}

/// Takes any subset of the knob fields; the others keep their current values.
async fn set_knobs(State(shared): State<Shared>, body: Bytes) -> Response {
    let patch: Value = match parse(&body) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    let Value::Object(patch) = patch else {
        return control_error(StatusCode::BAD_REQUEST, "knobs must be a JSON object");
    };
    let mut state = lock(&shared);
    let mut merged = to_value(&state.knobs);
    if let Value::Object(current) = &mut merged {
        current.extend(patch);
    }
    match serde_json::from_value::<Knobs>(merged) {
        Ok(knobs) => {
            state.knobs = knobs;
            answer(Ok(to_value(&state.knobs)))
        }
        Err(err) => control_error(StatusCode::BAD_REQUEST, &format!("bad knobs: {err}")),
    }
}

async fn requests(State(shared): State<Shared>) -> Response {
    answer(Ok(to_value(&lock(&shared).requests)))
}

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

#[derive(Deserialize, Default)]
struct ConfirmBody {
    user_id: Option<String>,
}

async fn qr_latest(State(shared): State<Shared>) -> Response {
    answer(Ok(json!({ "qrcode": lock(&shared).qrs.latest() })))
}

async fn qr_scan(State(shared): State<Shared>, Path(qrcode): Path<String>) -> Response {
    answer(
        lock(&shared)
            .qr_scan(&qrcode)
            .map(|()| json!({ "ok": true })),
    )
}

async fn qr_verify_code(
    State(shared): State<Shared>,
    Path(qrcode): Path<String>,
    body: Bytes,
) -> Response {
    let body: CodeBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .qr_ask_code(&qrcode, &body.code)
            .map(|()| json!({ "ok": true })),
    )
}

/// The body is optional: `{}` or nothing confirms as a new user.
async fn qr_confirm(
    State(shared): State<Shared>,
    Path(qrcode): Path<String>,
    body: Bytes,
) -> Response {
    let body: ConfirmBody = if body.is_empty() {
        ConfirmBody::default()
    } else {
        match parse(&body) {
            Ok(b) => b,
            Err(resp) => return *resp,
        }
    };
    answer(
        lock(&shared)
            .qr_confirm(&qrcode, body.user_id.as_deref())
            .map(|bot| json!({ "bot": bot })),
    )
}

async fn qr_expire(State(shared): State<Shared>, Path(qrcode): Path<String>) -> Response {
    answer(
        lock(&shared)
            .qr_expire(&qrcode)
            .map(|()| json!({ "ok": true })),
    )
}

async fn qr_answer(
    State(shared): State<Shared>,
    Path(qrcode): Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .qr_set_answer(&qrcode, body)
            .map(|()| json!({ "ok": true })),
    )
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FaultBody {
    /// `{"endpoint","fault"}`: one one-shot fault.
    OneShot { endpoint: String, fault: Fault },
    /// `{"seed", "rules": [{"endpoint","probability","fault"}]}`: replaces the rules.
    Rules {
        #[serde(default)]
        seed: u64,
        rules: Vec<FaultRule>,
    },
}

async fn add_fault(State(shared): State<Shared>, body: Bytes) -> Response {
    let body: FaultBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let mut state = lock(&shared);
    match body {
        FaultBody::OneShot { endpoint, fault } => state.faults.push(&endpoint, fault),
        FaultBody::Rules { seed, rules } => state.faults.set_rules(seed, rules),
    }
    answer(Ok(json!({ "ok": true })))
}

/// `{"seed","rules","queued":{endpoint:[fault]},"hits":[…]}`.
async fn get_faults(State(shared): State<Shared>) -> Response {
    let state = lock(&shared);
    answer(Ok(json!({
        "seed": state.faults.seed,
        "rules": to_value(&state.faults.rules),
        "queued": to_value(&state.faults.queued),
        "hits": to_value(&state.faults.hits),
    })))
}

async fn clear_faults(State(shared): State<Shared>) -> Response {
    lock(&shared).faults.clear();
    answer(Ok(json!({ "ok": true })))
}

#[derive(Deserialize)]
struct ItemsBody {
    peer_id: String,
    item_list: Vec<Value>,
}

#[derive(Deserialize)]
struct MediaBody {
    peer_id: String,
    #[serde(flatten)]
    media: InboundMedia,
}

async fn inject_items(
    State(shared): State<Shared>,
    Path(bot): Path<String>,
    body: Bytes,
) -> Response {
    let body: ItemsBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .inject_items(&bot, &body.peer_id, body.item_list)
            .map(|id| json!({ "message_id": id })),
    )
}

#[derive(Deserialize)]
struct BodilessQuoteBody {
    peer_id: String,
    text: String,
    /// The bot's sent message to quote.
    quoted_message_id: u64,
    #[serde(default)]
    with_id: bool,
}

/// Body: `{"peer_id", "text", "quoted_message_id", "with_id"?}`: a text quoting a sent
/// message with no body (E9).
async fn quote_bodiless(
    State(shared): State<Shared>,
    Path(bot): Path<String>,
    body: Bytes,
) -> Response {
    let body: BodilessQuoteBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .inject_bodiless_quote(
                &bot,
                &body.peer_id,
                &body.text,
                body.quoted_message_id,
                body.with_id,
            )
            .map(|id| json!({ "message_id": id })),
    )
}

/// Body: `{"peer_id", "kind": "image"|"video"|"file"|"voice", "name"?, "text"?,
/// "bytes": base64, "key_form": …, "full_url": bool}`.
async fn inject_media(
    State(shared): State<Shared>,
    Path(bot): Path<String>,
    body: Bytes,
) -> Response {
    let body: MediaBody = match parse(&body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    answer(
        lock(&shared)
            .inject_media(&bot, &body.peer_id, body.media)
            .map(|id| json!({ "message_id": id })),
    )
}

async fn qr_redirect(State(shared): State<Shared>, Path(qrcode): Path<String>) -> Response {
    answer(
        lock(&shared)
            .qr_redirect(&qrcode)
            .map(|host| json!({ "redirect_host": host })),
    )
}

/// `{"running", "peers": [{"user_id", "display_name"}]}`: iLink has no display names,
/// so a sandbox UI can take them from here.
async fn demo(State(shared): State<Shared>) -> Response {
    let state = lock(&shared);
    answer(Ok(json!({
        "running": !state.demo_peers.is_empty(),
        "peers": to_value(&state.demo_peers),
    })))
}

/// Counters for benchmarks and sanity checks.
async fn stats(State(shared): State<Shared>) -> Response {
    let state = lock(&shared);
    answer(Ok(json!({
        "polls_in_flight": state.polls_in_flight,
        "bots": state.bots.len(),
        "cdn_blobs": state.cdn.blobs.len(),
        "requests_logged": state.requests.len(),
    })))
}

async fn list_bots(State(shared): State<Shared>) -> Response {
    answer(Ok(to_value(lock(&shared).bot_list())))
}
