//! Media upload and download (docs/protocol.md §2.6, §2.9, §7, E14–E16): `getuploadurl` reserves an
//! upload slot, the CDN `/c2c/upload` checks the ciphertext against it byte for byte, and
//! `/c2c/download` serves stored blobs.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::auth::{self, StaleShape};
use crate::crypto;
use crate::state::{lock, LoggedRequest, Shared, State as SimState};
use crate::wire;

/// Which URL fields getuploadurl returns (E14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadUrlMode {
    /// `upload_param` only: the client builds the CDN URL itself.
    Param,
    /// `upload_full_url` only.
    FullUrl,
    /// Both; the client must prefer `upload_full_url`.
    Both,
}

pub(crate) struct UploadSlot {
    filekey: String,
    key: [u8; 16],
    rawsize: u64,
    rawfilemd5: String,
    filesize: u64,
    expires: Instant,
}

/// A stored ciphertext and what it decrypts with.
#[derive(Clone)]
pub(crate) struct Blob {
    pub ciphertext: Vec<u8>,
    /// `None` for an unencrypted inbound image (stored as plain bytes).
    pub key: Option<[u8; 16]>,
    pub rawsize: u64,
}

#[derive(Default)]
pub(crate) struct CdnStore {
    uploads: HashMap<String, UploadSlot>,
    pub blobs: HashMap<String, Blob>,
}

impl CdnStore {
    /// Stores a blob under a new download id and returns the id.
    pub fn put_blob(&mut self, blob: Blob) -> String {
        let id = opaque_id();
        self.blobs.insert(id.clone(), blob);
        id
    }
}

/// Opaque ids that always contain `+`, `/` and `=`, so a client that forgets to
/// percent-encode them (docs/protocol.md §1.1) fails here as it would against the real CDN.
fn opaque_id() -> String {
    let mut bytes = vec![0xfb, 0xef, 0xff];
    bytes.extend((0..17).map(|_| rand::random::<u8>()));
    STANDARD.encode(bytes)
}

/// `encodeURIComponent`: keep `A–Z a–z 0–9 - _ . ! ~ * ' ( )`, escape the rest.
pub(crate) fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn cdn_base(state: &SimState) -> String {
    format!("{}c2c", state.base_url)
}

pub(crate) fn api_routes() -> Router<Shared> {
    Router::new().route("/ilink/bot/getuploadurl", post(getuploadurl))
}

/// The CDN carries no iLink headers and no auth (docs/protocol.md §1.2).
pub(crate) fn cdn_routes() -> Router<Shared> {
    Router::new()
        .route(
            "/c2c/upload",
            post(upload)
                .put(upload)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/c2c/download", get(download))
}

/// axum's default 2 MB body limit would turn real media into 413s. The real CDN's limit
/// is unknown (docs/protocol.md §11 q5); this one is above the client's 100 MiB media cap.
const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

fn is_lower_hex32(value: Option<&Value>) -> bool {
    value.and_then(Value::as_str).is_some_and(|s| {
        s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Everything wrong with a getuploadurl body (E14), in field order.
fn upload_request_problems(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if !is_lower_hex32(body.get("filekey")) {
        problems.push("filekey must be 32 lowercase hex chars".to_owned());
    }
    if !body
        .get("media_type")
        .and_then(Value::as_u64)
        .is_some_and(|t| (1..=4).contains(&t))
    {
        problems.push("media_type must be 1, 2, 3 or 4".to_owned());
    }
    if body
        .get("to_user_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        problems.push("to_user_id missing".to_owned());
    }
    if !is_lower_hex32(body.get("rawfilemd5")) {
        problems.push("rawfilemd5 must be 32 lowercase hex chars".to_owned());
    }
    match (
        body.get("rawsize").and_then(Value::as_u64),
        body.get("filesize").and_then(Value::as_u64),
    ) {
        (Some(raw), Some(file)) if file == crypto::padded_size(raw) => {}
        (Some(raw), Some(file)) => problems.push(format!(
            "filesize {file} != (rawsize/16+1)*16 = {}",
            crypto::padded_size(raw)
        )),
        _ => problems.push("rawsize and filesize must be numbers".to_owned()),
    }
    if body.get("no_need_thumb") != Some(&Value::Bool(true)) {
        problems.push("no_need_thumb must be true".to_owned());
    }
    if !is_lower_hex32(body.get("aeskey")) {
        problems.push("aeskey must be the 16-byte key as 32 lowercase hex chars".to_owned());
    }
    problems
}

async fn getuploadurl(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let authed =
        match auth::authenticate(&shared, "getuploadurl", &headers, &body, StaleShape::Other) {
            Ok(authed) => authed,
            Err(rejection) => return rejection.into_response(),
        };
    let problems = upload_request_problems(&authed.body);
    let mut state = lock(&shared);
    if !problems.is_empty() {
        state.note(authed.log_id, problems);
        return wire::ret_error(-3, "invalid arguments");
    }
    let text = |key: &str| {
        authed
            .body
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let number = |key: &str| authed.body.get(key).and_then(Value::as_u64).unwrap_or(0);
    let mut key = [0u8; 16];
    if hex::decode_to_slice(text("aeskey"), &mut key).is_err() {
        return wire::ret_error(-3, "invalid arguments");
    }
    let filekey = text("filekey");
    let ttl = Duration::from_millis(state.knobs.upload_param_ttl_ms);
    let mode = state.knobs.upload_url_mode;
    let param = opaque_id();
    let full_url = format!(
        "{}/upload?encrypted_query_param={}&filekey={}",
        cdn_base(&state),
        encode_component(&param),
        encode_component(&filekey)
    );
    state.cdn.uploads.insert(
        param.clone(),
        UploadSlot {
            filekey,
            key,
            rawsize: number("rawsize"),
            rawfilemd5: text("rawfilemd5"),
            filesize: number("filesize"),
            expires: Instant::now() + ttl,
        },
    );
    let mut answer = Map::new();
    if mode != UploadUrlMode::FullUrl {
        answer.insert("upload_param".into(), json!(param));
    }
    if mode != UploadUrlMode::Param {
        answer.insert("upload_full_url".into(), json!(full_url));
    }
    wire::ok_json(Value::Object(answer))
}

fn cdn_error(status: StatusCode, reason: &str) -> Response {
    let mut response = (status, reason.to_owned()).into_response();
    if let Ok(value) = HeaderValue::from_str(reason) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-error-message"), value);
    }
    response
}

async fn upload(
    State(shared): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut state = lock(&shared);
    let mut notes = Vec::new();
    if method == Method::PUT {
        notes.push("PUT used for upload; the official client POSTs".to_owned());
    }
    let verdict = check_upload(&state, &query, &body);
    if let Err(reason) = &verdict {
        notes.push(reason.clone());
    }
    let logged_body = json!({ "len": body.len(), "query": query });
    state.log_request(LoggedRequest::new(
        "c2c/upload",
        &headers,
        logged_body,
        notes,
    ));
    match verdict {
        Err(reason) => cdn_error(StatusCode::BAD_REQUEST, &reason),
        Ok(blob) => {
            let id = state.cdn.put_blob(blob);
            let mut response = StatusCode::OK.into_response();
            if let Ok(value) = HeaderValue::from_str(&id) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static("x-encrypted-param"), value);
            }
            response
        }
    }
}

/// E15's checks, in order; the first failure is the reason.
fn check_upload(
    state: &SimState,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<Blob, String> {
    let param = query
        .get("encrypted_query_param")
        .ok_or("encrypted_query_param missing")?;
    let slot = state
        .cdn
        .uploads
        .get(param)
        .filter(|slot| Instant::now() < slot.expires)
        .ok_or("unknown or expired encrypted_query_param")?;
    if query.get("filekey") != Some(&slot.filekey) {
        return Err("filekey does not match the one given to getuploadurl".to_owned());
    }
    if body.len() as u64 != slot.filesize || !body.len().is_multiple_of(16) {
        return Err(format!(
            "body is {} bytes, expected filesize {}",
            body.len(),
            slot.filesize
        ));
    }
    let plain = crypto::decrypt(&slot.key, body)?;
    if plain.len() as u64 != slot.rawsize {
        return Err(format!(
            "plaintext is {} bytes, expected rawsize {}",
            plain.len(),
            slot.rawsize
        ));
    }
    if crypto::md5_hex(&plain) != slot.rawfilemd5 {
        return Err("plaintext MD5 does not match rawfilemd5".to_owned());
    }
    Ok(Blob {
        ciphertext: body.to_vec(),
        key: Some(slot.key),
        rawsize: slot.rawsize,
    })
}

/// Unknown ids get HTTP 500 with an empty body, like the real CDN (docs/protocol.md §1.6).
async fn download(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = lock(&shared);
    let blob = query
        .get("encrypted_query_param")
        .and_then(|id| state.cdn.blobs.get(id));
    let Some(blob) = blob else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = Bytes::from(blob.ciphertext.clone());
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
        (header::CONTENT_LENGTH, body.len().to_string()),
    ];
    match state.knobs.cdn_download_bytes_per_sec {
        Some(rate) => (StatusCode::OK, headers, throttled(body, rate)).into_response(),
        None => (StatusCode::OK, headers, body).into_response(),
    }
}

/// `body` streamed at about `rate` bytes a second (a slow link), in pieces of a tenth
/// of a second's worth.
fn throttled(body: Bytes, rate: u64) -> axum::body::Body {
    let piece = usize::try_from(rate / 10).unwrap_or(usize::MAX).max(1);
    let stream = futures_util::stream::unfold(body, move |mut rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let chunk = rest.split_to(piece.min(rest.len()));
        Some((Ok::<_, std::convert::Infallible>(chunk), rest))
    });
    axum::body::Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec §10.6.
    #[test]
    fn percent_encoding() {
        assert_eq!(encode_component("ab+/cd=="), "ab%2B%2Fcd%3D%3D");
        assert_eq!(encode_component("A-z_0.!~*'()"), "A-z_0.!~*'()");
    }

    #[test]
    fn opaque_ids_need_escaping() {
        let id = opaque_id();
        assert!(
            id.contains('+') && id.contains('/') && id.ends_with('='),
            "{id}"
        );
    }
}
