//! `ilink/bot/sendmessage` (spec §2.5, §5.4, E10). The checks run in the order E10 lists,
//! so a request with several faults gets the error of the first one.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::auth::{self, StaleShape};
use crate::state::{lock, now_ms, SentMessage, Shared};
use crate::wire;

const INVALID_ARGUMENTS: &str = "invalid arguments";
const PREPARE_FAILED: &str = "prepare failed";

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
    let Some(msg) = authed.body.get("msg").and_then(Value::as_object) else {
        return wire::ret_error(-3, INVALID_ARGUMENTS);
    };
    let to_user = msg.get("to_user_id").and_then(Value::as_str).unwrap_or("");

    let mut state = lock(&shared);
    let knobs = state.knobs.clone();
    let message_id = state.fresh_id();
    let Ok(bot) = state.bot_mut(&authed.bot_id) else {
        return auth::stale(StaleShape::Other, true);
    };
    // Case-sensitive on purpose: the wire ids are mixed case (spec §5.5, I #243).
    if !bot.peers.iter().any(|p| p == to_user) {
        return wire::ret_error(-3, INVALID_ARGUMENTS);
    }
    let item = match msg.get("item_list").and_then(Value::as_array) {
        Some(items) if items.len() == 1 => items[0].clone(),
        _ => return wire::ret_error(-3, INVALID_ARGUMENTS),
    };
    let context_token = match msg.get("context_token").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ if knobs.missing_context_token_empty_body => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "",
            )
                .into_response();
        }
        _ => return wire::ret_error(-3, INVALID_ARGUMENTS),
    };
    let Some(ctx) = bot.contexts.get_mut(to_user) else {
        return wire::ret_error(-2, PREPARE_FAILED);
    };
    let window = Duration::from_millis(knobs.reply_window_ms);
    if ctx.token != context_token || ctx.expired || ctx.issued.elapsed() >= window {
        return wire::ret_error(-2, PREPARE_FAILED);
    }
    let item_type = item.get("type").and_then(Value::as_u64);
    let counts = knobs.quota_counts_tool_calls || !matches!(item_type, Some(11 | 12));
    if let Some(quota) = knobs.reply_quota {
        if counts && ctx.replies >= quota {
            return wire::ret_error(-2, PREPARE_FAILED);
        }
    }
    if msg.get("message_type").and_then(Value::as_u64) != Some(2)
        || msg.get("message_state").and_then(Value::as_u64) != Some(2)
    {
        return wire::ret_error(-3, INVALID_ARGUMENTS);
    }
    let flags = match item_flags(&item) {
        Ok(flags) => flags,
        Err(()) => return wire::ret_error(-3, INVALID_ARGUMENTS),
    };
    if counts {
        ctx.replies += 1;
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
    wire::ok_json(json!({ "ret": 0, "message_id": message_id }))
}

/// Checks the item's `type` against its payload field (spec §5.1, §5.2). `Ok` carries
/// notes for things WeChat accepts but shows badly.
fn item_flags(item: &Value) -> Result<Vec<String>, ()> {
    let payload = match item.get("type").and_then(Value::as_u64) {
        Some(1) => "text_item",
        Some(2) => "image_item",
        Some(3) => "voice_item",
        Some(4) => "file_item",
        Some(5) => "video_item",
        Some(11) => "tool_call_start_item",
        Some(12) => "tool_call_result_item",
        _ => return Err(()),
    };
    let Some(body) = item.get(payload).and_then(Value::as_object) else {
        return Err(());
    };
    let mut flags = Vec::new();
    match payload {
        "text_item" if !body.get("text").is_some_and(Value::is_string) => return Err(()),
        // Reported accepted but never rendered (spec §7.2, I #215).
        "voice_item" => flags.push("voice not rendered".to_owned()),
        "image_item" | "file_item" | "video_item" => {
            flags.push("media not checked against the CDN".to_owned());
        }
        _ => {}
    }
    Ok(flags)
}
