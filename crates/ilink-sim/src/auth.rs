//! Header, body-envelope and token checks shared by every authenticated POST (docs/protocol.md §1.2,
//! §1.5, E3). Each request is also written to the request log with what was wrong.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::agent;
use crate::state::{lock, LoggedRequest, Shared};
use crate::wire;

/// How an endpoint answers a stale or unknown token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StaleShape {
    /// getupdates: `{"errcode":-14,"errmsg":"session timeout"}`, `ret` absent (E8).
    Getupdates,
    /// Other endpoints (docs/protocol.md §11 q3 leaves this open): `ret` and `errcode` both -14, so
    /// a client that checks only `ret` (sendmessage ≥2.4.6) still sees a failure.
    Other,
}

/// Why a request was not served; turned into the answer with `into_response`.
pub(crate) enum Rejection {
    /// HTTP 400 with the problems found.
    BadRequest(String),
    /// The token is missing, unknown or revoked.
    Stale { shape: StaleShape, with_ret: bool },
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::BadRequest(reason) => wire::bad_request(&reason),
            Rejection::Stale { shape, with_ret } => stale(shape, with_ret),
        }
    }
}

pub(crate) struct Authed {
    /// This request's entry in the request log.
    pub log_id: u64,
    pub bot_id: String,
    pub token: String,
    pub body: Value,
}

/// Runs the checks in order: headers and envelope, then the token.
pub(crate) fn authenticate(
    shared: &Shared,
    endpoint: &str,
    headers: &HeaderMap,
    body: &[u8],
    shape: StaleShape,
) -> Result<Authed, Rejection> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let mut fatal = Vec::new();
    let mut strict_only = Vec::new();

    match header(headers, "authorizationtype") {
        Some("ilink_bot_token") => {}
        Some(other) => fatal.push(format!(
            "AuthorizationType must be ilink_bot_token, got {other:?}"
        )),
        None => fatal.push("AuthorizationType header missing".to_owned()),
    }
    let token = match header(headers, "authorization") {
        None => None,
        Some(value) => match value.strip_prefix("Bearer ").map(str::trim) {
            Some(token) if !token.is_empty() => Some(token.to_owned()),
            _ => {
                fatal.push("Authorization must be `Bearer <token>`".to_owned());
                None
            }
        },
    };
    if !parsed.as_ref().is_some_and(Value::is_object) {
        fatal.push("body is not a JSON object".to_owned());
    }

    if !header(headers, "content-type").is_some_and(|v| v.starts_with("application/json")) {
        strict_only.push("Content-Type must be application/json".to_owned());
    }
    match header(headers, "ilink-app-id") {
        Some("bot") => {}
        Some(other) => strict_only.push(format!("iLink-App-Id must be \"bot\", got {other:?}")),
        None => strict_only.push("iLink-App-Id header missing".to_owned()),
    }
    match header(headers, "ilink-app-clientversion") {
        Some(v) if is_decimal_u32(v) => {}
        Some(other) => strict_only.push(format!(
            "iLink-App-ClientVersion must be a decimal uint32, got {other:?}"
        )),
        None => strict_only.push("iLink-App-ClientVersion header missing".to_owned()),
    }
    match header(headers, "x-wechat-uin") {
        Some(v) if is_valid_uin(v) => {}
        Some(other) => strict_only.push(format!(
            "X-WECHAT-UIN must be base64 of 1-10 decimal digits, got {other:?}"
        )),
        None => strict_only.push("X-WECHAT-UIN header missing".to_owned()),
    }
    let mut agent_notes = Vec::new();
    if let Some(body) = parsed.as_ref().filter(|b| b.is_object()) {
        strict_only.extend(base_info_problems(body));
        agent_notes.extend(bot_agent_problems(body));
    }

    let mut state = lock(shared);
    let logged_body = parsed
        .clone()
        .unwrap_or_else(|| Value::String(String::from_utf8_lossy(body).into_owned()));
    let violations = fatal.iter().chain(&strict_only).cloned().collect();
    let mut entry = LoggedRequest::new(endpoint, headers, logged_body, violations);
    entry.notes.clone_from(&agent_notes);
    let log_id = state.log_request(entry);
    let refuse_agent = state.knobs.reject_bad_bot_agent && !agent_notes.is_empty();
    if !fatal.is_empty() || (state.knobs.strict_headers && !strict_only.is_empty()) || refuse_agent
    {
        let refused_agent = if refuse_agent {
            agent_notes
        } else {
            Vec::new()
        };
        let all: Vec<String> = fatal
            .into_iter()
            .chain(strict_only)
            .chain(refused_agent)
            .collect();
        tracing::debug!(endpoint, problems = ?all, "rejected request");
        return Err(Rejection::BadRequest(all.join("; ")));
    }
    if !strict_only.is_empty() {
        tracing::warn!(endpoint, problems = ?strict_only, "lenient mode let a bad request through");
    }

    let bot_id = token
        .as_deref()
        .and_then(|t| state.bot_for_token(t))
        .map(str::to_owned);
    match (bot_id, token, parsed) {
        (Some(bot_id), Some(token), Some(body)) => Ok(Authed {
            log_id,
            bot_id,
            token,
            body,
        }),
        _ => Err(Rejection::Stale {
            shape,
            with_ret: state.knobs.stale_includes_ret,
        }),
    }
}

pub(crate) fn stale(shape: StaleShape, with_ret: bool) -> Response {
    let body = if shape == StaleShape::Other || with_ret {
        json!({ "ret": -14, "errcode": -14, "errmsg": "session timeout" })
    } else {
        json!({ "errcode": -14, "errmsg": "session timeout" })
    };
    wire::ok_json(body)
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn is_decimal_u32(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u32>().is_ok()
}

/// Spec §1.3: base64 (with padding) of a uint32 written in decimal.
pub(crate) fn is_valid_uin(value: &str) -> bool {
    let Ok(decoded) = STANDARD.decode(value) else {
        return false;
    };
    (1..=10).contains(&decoded.len()) && decoded.iter().all(u8::is_ascii_digit)
}

fn base_info_problems(body: &Value) -> Vec<String> {
    let Some(info) = body.get("base_info") else {
        return vec!["base_info missing".to_owned()];
    };
    let Some(info) = info.as_object() else {
        return vec!["base_info must be an object".to_owned()];
    };
    let mut problems = Vec::new();
    match info.get("channel_version") {
        Some(Value::String(v)) if !v.is_empty() => {}
        _ => {
            problems.push("base_info.channel_version missing or not a non-empty string".to_owned())
        }
    }
    problems
}

/// What is wrong with `base_info.bot_agent`: a note, not a violation (the server uses
/// it only for observability), unless `reject_bad_bot_agent` asks to refuse it.
fn bot_agent_problems(body: &Value) -> Option<String> {
    match body.get("base_info")?.get("bot_agent")? {
        Value::String(a) if agent::is_sanitised(a) => None,
        other => Some(format!(
            "base_info.bot_agent {other} does not follow the sanitising rules"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec §10.4.
    #[test]
    fn uin_vectors() {
        for ok in ["MA==", "MTIzNDU=", "MzczNTkyODU1OQ==", "NDI5NDk2NzI5NQ=="] {
            assert!(is_valid_uin(ok), "{ok}");
        }
        // "12345" unpadded, "abc", "" and 11 digits.
        for bad in ["MTIzNDU", "YWJj", "", "MTIzNDU2Nzg5MDE="] {
            assert!(!is_valid_uin(bad), "{bad}");
        }
    }

    #[test]
    fn client_version_is_a_decimal_u32() {
        assert!(is_decimal_u32("132105"));
        assert!(is_decimal_u32("0"));
        assert!(!is_decimal_u32("4294967296"));
        assert!(!is_decimal_u32("+1"));
        assert!(!is_decimal_u32(""));
    }
}
