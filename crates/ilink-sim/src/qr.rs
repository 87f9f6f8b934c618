//! `ilink/bot/get_bot_qrcode` (spec §2.1, E4): POST with a `local_token_list` body, or the
//! legacy GET; `bot_type` is required.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct BotTypeQuery {
    bot_type: Option<String>,
}

/// The POST body. `local_token_list` must be a list of strings when present; what the
/// emulator does with it (answering `binded_redirect`) comes with the status endpoint.
#[derive(Deserialize)]
struct QrRequest {
    #[serde(default, rename = "local_token_list")]
    _local_token_list: Vec<String>,
}

pub(crate) fn routes() -> Router {
    Router::new().route(
        "/ilink/bot/get_bot_qrcode",
        get(issue_legacy_get).post(issue_post),
    )
}

async fn issue_legacy_get(query: Query<BotTypeQuery>) -> Response {
    issue(query)
}

async fn issue_post(query: Query<BotTypeQuery>, _body: Json<QrRequest>) -> Response {
    issue(query)
}

fn issue(Query(query): Query<BotTypeQuery>) -> Response {
    if query.bot_type.as_deref().is_none_or(str::is_empty) {
        return (StatusCode::BAD_REQUEST, "bot_type is required").into_response();
    }
    let qrcode = random_hex32();
    let url = format!("https://liteapp.weixin.qq.com/q/sim?qrcode={qrcode}&bot_type=3");
    Json(json!({ "qrcode": qrcode, "qrcode_img_content": url, "ret": 0 })).into_response()
}

fn random_hex32() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
