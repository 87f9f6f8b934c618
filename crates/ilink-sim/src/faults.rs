//! One-shot fault injection (E2): a queued fault answers (or delays) the next request to
//! its endpoint instead of the normal handler, so tests can exercise client retries,
//! timeouts and parsing.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::state::{lock, Shared};
use crate::wire;

/// What to do to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this HTTP status and an empty body (e.g. 500, 524).
    Status { status: u16 },
    /// Wait this long, then serve the request normally.
    Delay { ms: u64 },
    /// HTTP 200 with a body that is not valid JSON.
    MalformedJson,
    /// HTTP 200 with an empty body.
    EmptyBody,
    /// HTTP 200 with this JSON body, e.g. `{}` or `{"ret":-1}`.
    Json { body: Value },
    /// The stale-token answer `{"errcode":-14,"errmsg":"session timeout"}` (E8 "on demand").
    SessionTimeout,
}

/// Queued faults per endpoint key.
pub(crate) type FaultQueue = HashMap<String, VecDeque<Fault>>;

/// The key a request path is filed under: `/ilink/bot/getupdates` → `getupdates`,
/// `/ilink/bot/msg/notifystart` → `msg/notifystart`, `/c2c/upload` → `c2c/upload`.
pub(crate) fn endpoint_key(path: &str) -> String {
    let path = path.trim_start_matches('/');
    path.strip_prefix("ilink/bot/").unwrap_or(path).to_owned()
}

pub(crate) async fn layer(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let key = endpoint_key(request.uri().path());
    let fault = lock(&shared)
        .faults
        .get_mut(&key)
        .and_then(VecDeque::pop_front);
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    tracing::debug!(endpoint = key, ?fault, "injecting fault");
    match fault {
        Fault::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(request).await
        }
        Fault::Status { status } => StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        Fault::MalformedJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"ret\":0,\"msgs\":[",
        )
            .into_response(),
        Fault::EmptyBody => StatusCode::OK.into_response(),
        Fault::Json { body } => wire::ok_json(body),
        Fault::SessionTimeout => {
            wire::ok_json(json!({ "errcode": -14, "errmsg": "session timeout" }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::endpoint_key;

    #[test]
    fn keys() {
        assert_eq!(endpoint_key("/ilink/bot/getupdates"), "getupdates");
        assert_eq!(endpoint_key("/ilink/bot/msg/notifystop"), "msg/notifystop");
        assert_eq!(endpoint_key("/c2c/upload"), "c2c/upload");
    }
}
