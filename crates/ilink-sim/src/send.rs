//! `ilink/bot/sendmessage` (docs/protocol.md §2.5, §5.4, E10). The checks run in the order E10 lists,
//! so a request with several faults gets the error of the first one.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::auth::{self, StaleShape};
use crate::cdn::CdnStore;
use crate::knobs::SendResponse;
use crate::state::{lock, now_ms, SentMessage, Shared, State as SimState};
use crate::wire;

const INVALID_ARGUMENTS: &str = "invalid arguments";
const PREPARE_FAILED: &str = "prepare failed";

/// Why a send was refused: the wire answer, and a reason for the request log.
enum Refusal {
    /// `ret`, `errmsg` (left out of the answer when empty) and the log's reason.
    Ret(i64, String, String),
    /// HTTP 200 with an empty body (the `missing_context_token_empty_body` knob).
    EmptyBody(String),
}

fn invalid(reason: impl Into<String>) -> Refusal {
    Refusal::Ret(-3, INVALID_ARGUMENTS.to_owned(), reason.into())
}

fn prepare_failed(reason: impl Into<String>) -> Refusal {
    Refusal::Ret(-2, PREPARE_FAILED.to_owned(), reason.into())
}

pub(crate) async fn sendmessage(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authed =
        match auth::authenticate(&shared, "sendmessage", &headers, &body, StaleShape::Other) {
            Ok(authed) => authed,
            Err(rejection) => return rejection.into_response(),
        };
    let mut state = lock(&shared);
    let knobs = state.knobs.clone();
    let tool_call = is_tool_call(&authed.body);
    match accept(&mut state, &authed.bot_id, &authed.body) {
        // Live reports show tool-call progress items answered without an id.
        Ok(_) if tool_call && knobs.tool_calls_without_message_id => {
            wire::ok_json(json!({ "ret": 0 }))
        }
        Ok(message_id) => match knobs.send_response {
            SendResponse::MessageId => wire::ok_json(json!({ "ret": 0, "message_id": message_id })),
            SendResponse::MessageIdOnly => wire::ok_json(json!({ "message_id": message_id })),
            SendResponse::EmptyObject => wire::ok_json(json!({})),
            SendResponse::RetErrmsg => wire::ok_json(json!({ "ret": 0, "errmsg": "" })),
            SendResponse::EmptyBody => StatusCode::OK.into_response(),
        },
        Err(Refusal::Ret(ret, errmsg, reason)) => {
            state.note(authed.log_id, [reason]);
            if errmsg.is_empty() {
                wire::ok_json(json!({ "ret": ret }))
            } else {
                wire::ret_error(ret, &errmsg)
            }
        }
        Err(Refusal::EmptyBody(reason)) => {
            state.note(authed.log_id, [reason]);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "",
            )
                .into_response()
        }
    }
}

/// Whether the one item sent is a tool-call progress item (type 11 or 12).
fn is_tool_call(body: &Value) -> bool {
    body.pointer("/msg/item_list/0/type")
        .and_then(Value::as_i64)
        .is_some_and(|t| t == 11 || t == 12)
}

/// E10 steps 2–7 in order; on success the message is stored and its id returned.
fn accept(state: &mut SimState, bot_id: &str, body: &Value) -> Result<u64, Refusal> {
    let knobs = state.knobs.clone();
    let message_id = state.fresh_id();
    let Some(msg) = body.get("msg").and_then(Value::as_object) else {
        return Err(invalid("msg missing or not an object"));
    };
    let to_user = msg.get("to_user_id").and_then(Value::as_str).unwrap_or("");
    let Some(bot) = state.bots.get_mut(bot_id) else {
        return Err(invalid("bot vanished"));
    };
    // Case-sensitive on purpose: the wire ids are mixed case (docs/protocol.md §5.5, I #243).
    if !bot.peers.iter().any(|p| p == to_user) {
        return Err(invalid(format!(
            "to_user_id {to_user:?} is not bound to this bot"
        )));
    }
    let item = match msg.get("item_list").and_then(Value::as_array) {
        Some(items) if items.len() == 1 => items[0].clone(),
        Some(items) => {
            return Err(invalid(format!(
                "item_list has {} items, not 1",
                items.len()
            )))
        }
        None => return Err(invalid("item_list missing")),
    };
    let context_token = match msg.get("context_token").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ if knobs.missing_context_token_empty_body => {
            return Err(Refusal::EmptyBody(
                "context_token missing; dropped silently".into(),
            ))
        }
        _ => return Err(invalid("context_token missing")),
    };
    let Some(ctx) = bot.contexts.get_mut(to_user) else {
        return Err(prepare_failed(
            "no context_token was ever issued for this user",
        ));
    };
    if ctx.token != context_token {
        return Err(prepare_failed(
            "context_token is not the latest for this user",
        ));
    }
    if ctx.expired || ctx.issued.elapsed() >= Duration::from_millis(knobs.reply_window_ms) {
        return Err(prepare_failed("reply window closed"));
    }
    let item_type = item.get("type").and_then(Value::as_u64);
    let counts = knobs.quota_counts_tool_calls || !matches!(item_type, Some(11 | 12));
    if let Some(quota) = knobs.reply_quota {
        if counts && ctx.replies >= quota {
            return Err(prepare_failed(format!("reply quota of {quota} used up")));
        }
    }
    // Bursts (docs/protocol.md §1.6): a per-(bot, peer) window, separate from the token's quota.
    if let Some(limit) = knobs.send_rate_limit {
        let window = Duration::from_millis(limit.window_ms);
        let log = bot.send_log.entry(to_user.to_owned()).or_default();
        while log.front().is_some_and(|at| at.elapsed() >= window) {
            log.pop_front();
        }
        if log.len() >= limit.max as usize {
            return Err(prepare_failed(format!(
                "send rate limit: {} sends per {} ms to this user",
                limit.max, limit.window_ms
            )));
        }
    }
    // A request shape the server will not take, refused like a closed window
    // (docs/protocol.md §1.6: ret -2 also means a malformed request).
    if let Some(shape) = &knobs.refuse_shape_with_ret2 {
        let text = item.pointer("/text_item/text").and_then(Value::as_str);
        if text.is_some_and(|t| t.contains(&shape.text_contains)) {
            return Err(Refusal::Ret(
                -2,
                shape.errmsg.clone(),
                format!(
                    "refused with ret -2 by the refuse_shape_with_ret2 knob (text contains {:?})",
                    shape.text_contains
                ),
            ));
        }
    }
    if msg.get("message_type").and_then(Value::as_u64) != Some(2)
        || msg.get("message_state").and_then(Value::as_u64) != Some(2)
    {
        return Err(invalid("message_type and message_state must both be 2"));
    }
    let flags = item_flags(&item, &state.cdn).map_err(invalid)?;
    if counts {
        ctx.replies += 1;
    }
    if knobs.send_rate_limit.is_some() {
        bot.send_log
            .entry(to_user.to_owned())
            .or_default()
            .push_back(std::time::Instant::now());
    }
    bot.sent.push(SentMessage {
        message_id,
        to_user_id: to_user.to_owned(),
        context_token,
        client_id: msg
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        run_id: msg.get("run_id").and_then(Value::as_str).map(str::to_owned),
        item,
        flags,
        received_at_ms: now_ms(),
    });
    Ok(message_id)
}

/// Checks the item's `type` against its payload field (docs/protocol.md §5.1, §5.2), and media
/// against the CDN (E10). `Ok` carries notes for things WeChat accepts but shows badly;
/// `Err` says what is wrong.
fn item_flags(item: &Value, cdn: &CdnStore) -> Result<Vec<String>, String> {
    let payload = match item.get("type").and_then(Value::as_u64) {
        Some(1) => "text_item",
        Some(2) => "image_item",
        Some(3) => "voice_item",
        Some(4) => "file_item",
        Some(5) => "video_item",
        Some(11) => "tool_call_start_item",
        Some(12) => "tool_call_result_item",
        other => return Err(format!("item type {other:?} is not 1-5, 11 or 12")),
    };
    let Some(body) = item.get(payload).and_then(Value::as_object) else {
        return Err(format!("{payload} missing for this item type"));
    };
    match payload {
        "text_item" if !body.get("text").is_some_and(Value::is_string) => {
            Err("text_item.text missing".to_owned())
        }
        // Reported accepted but never rendered (docs/protocol.md §7.2, I #215).
        "voice_item" => Ok(vec!["voice not rendered".to_owned()]),
        "image_item" | "file_item" | "video_item" => media_flags(payload, body, cdn),
        _ => Ok(Vec::new()),
    }
}

/// E10's media rules: the param names an uploaded blob, `aes_key` is base64 of the key's
/// hex text, and the sizes match.
fn media_flags(
    payload: &str,
    body: &Map<String, Value>,
    cdn: &CdnStore,
) -> Result<Vec<String>, String> {
    let media = body
        .get("media")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{payload}.media missing"))?;
    let param = media
        .get("encrypt_query_param")
        .and_then(Value::as_str)
        .ok_or("media.encrypt_query_param missing")?;
    let blob = cdn
        .blobs
        .get(param)
        .ok_or("media.encrypt_query_param names no uploaded file")?;
    let key = blob
        .key
        .ok_or("media.encrypt_query_param names an unencrypted blob")?;
    let aes_key = media
        .get("aes_key")
        .and_then(Value::as_str)
        .ok_or("media.aes_key missing")?;
    let decoded = STANDARD
        .decode(aes_key)
        .map_err(|_| "media.aes_key is not base64".to_owned())?;
    let mut flags = Vec::new();
    if decoded.len() == 32 && decoded.iter().all(u8::is_ascii_hexdigit) {
        if hex::decode(&decoded).ok().as_deref() != Some(&key[..]) {
            return Err("media.aes_key is not the key the file was uploaded with".to_owned());
        }
    } else if decoded.len() == 16 {
        if decoded != key {
            return Err("media.aes_key is not the key the file was uploaded with".to_owned());
        }
        flags.push(
            "undecryptable on client: aes_key is base64 of the raw key, not of its hex".to_owned(),
        );
    } else {
        return Err("media.aes_key must be base64 of the key's 32 hex chars".to_owned());
    }
    let cipher_len = blob.ciphertext.len() as u64;
    let (field, want) = match payload {
        "image_item" => ("mid_size", json!(cipher_len)),
        "video_item" => ("video_size", json!(cipher_len)),
        _ => ("len", json!(blob.rawsize.to_string())),
    };
    if body.get(field) != Some(&want) {
        return Err(format!("{payload}.{field} must be {want}"));
    }
    Ok(flags)
}
