//! The small per-account endpoints: getconfig (E11), sendtyping (E12) and
//! msg/notifystart, msg/notifystop (E13).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::auth::{self, Authed, Rejection, StaleShape};
use crate::state::{lock, now_ms, PresenceEvent, Shared, TypingEvent};
use crate::wire;

fn authenticate(
    shared: &Shared,
    endpoint: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Authed, Rejection> {
    auth::authenticate(shared, endpoint, headers, body, StaleShape::Other)
}

fn non_empty_str<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(crate) async fn getconfig(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authed = match authenticate(&shared, "getconfig", &headers, &body) {
        Ok(authed) => authed,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(user) = non_empty_str(&authed.body, "ilink_user_id") else {
        return wire::ret_error(-2, "ilink_user_id required");
    };
    match lock(&shared).ticket(&authed.bot_id, user) {
        Ok(ticket) => wire::ok_json(json!({ "ret": 0, "typing_ticket": ticket })),
        Err(_) => auth::stale(StaleShape::Other, true),
    }
}

pub(crate) async fn sendtyping(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authed = match authenticate(&shared, "sendtyping", &headers, &body) {
        Ok(authed) => authed,
        Err(rejection) => return rejection.into_response(),
    };
    let user = non_empty_str(&authed.body, "ilink_user_id");
    let ticket = non_empty_str(&authed.body, "typing_ticket");
    let status = authed.body.get("status").and_then(Value::as_u64);
    let (Some(user), Some(ticket), Some(status @ (1 | 2))) = (user, ticket, status) else {
        return wire::ret_error(-3, "invalid arguments");
    };
    let mut state = lock(&shared);
    let Ok(bot) = state.bot_mut(&authed.bot_id) else {
        return auth::stale(StaleShape::Other, true);
    };
    // Only a ticket that getconfig issued for this very (bot, user) is good.
    if bot.tickets.get(user).map(String::as_str) != Some(ticket) {
        return wire::ret_error(-2, "invalid typing_ticket");
    }
    bot.typing.push(TypingEvent {
        user_id: user.to_owned(),
        status: status as u8,
        at_ms: now_ms(),
    });
    wire::ok_json(json!({ "ret": 0 }))
}

pub(crate) async fn notifystart(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    presence(&shared, "msg/notifystart", &headers, &body, true)
}

pub(crate) async fn notifystop(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    presence(&shared, "msg/notifystop", &headers, &body, false)
}

fn presence(
    shared: &Shared,
    endpoint: &str,
    headers: &HeaderMap,
    body: &[u8],
    online: bool,
) -> Response {
    let authed = match authenticate(shared, endpoint, headers, body) {
        Ok(authed) => authed,
        Err(rejection) => return rejection.into_response(),
    };
    let mut state = lock(shared);
    let Ok(bot) = state.bot_mut(&authed.bot_id) else {
        return auth::stale(StaleShape::Other, true);
    };
    bot.presence.push(PresenceEvent {
        online,
        at_ms: now_ms(),
    });
    wire::ok_json(json!({ "ret": 0, "errmsg": "" }))
}
