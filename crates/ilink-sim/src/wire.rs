//! Response shapes shared by the API handlers.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// HTTP 200 with a JSON body. `u64` ids inside `Value` serialise as bare integers, so
/// values above 2^53 reach the client exactly.
pub(crate) fn ok_json(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// HTTP 200 with a JSON body already written as text.
pub(crate) fn ok_text(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `{"ret":<ret>,"errmsg":<errmsg>}` with HTTP 200, the way the API reports failures.
pub(crate) fn ret_error(ret: i64, errmsg: &str) -> Response {
    ok_json(json!({ "ret": ret, "errmsg": errmsg }))
}

/// HTTP 400 for a request the server would not even parse; the reason is in the body
/// and in `x-error-message`.
pub(crate) fn bad_request(reason: &str) -> Response {
    let header_value = reason.replace(|c: char| !c.is_ascii() || c.is_ascii_control(), "?");
    (
        StatusCode::BAD_REQUEST,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::HeaderName::from_static("x-error-message"),
                header_value,
            ),
        ],
        reason.to_owned(),
    )
        .into_response()
}
