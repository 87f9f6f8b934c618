//! One HTTP exchange: send with a timeout, read a capped body, and turn reqwest's
//! failures into [`IlinkError`]s. Endpoint semantics live in `mod.rs`.

use std::error::Error as _;
use std::time::Duration;

use reqwest::StatusCode;

use crate::error::{IlinkError, NetworkKind};

/// Status and body of a finished exchange.
pub(super) struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Sends the request and reads the body. `timeout` bounds the wait for the headers and,
/// separately, the body read. Non-2xx statuses are returned, not turned into errors.
pub(super) async fn exchange(
    request: reqwest::RequestBuilder,
    timeout: Option<Duration>,
    max_bytes: usize,
) -> Result<Reply, IlinkError> {
    let mut response = with_timeout(timeout, request.send())
        .await?
        .map_err(classify)?;
    let status = response.status();
    let body = with_timeout(timeout, async {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(IlinkError::Decode {
                    message: format!("response body larger than {max_bytes} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    })
    .await??;
    Ok(Reply { status, body })
}

async fn with_timeout<F: std::future::Future>(
    timeout: Option<Duration>,
    future: F,
) -> Result<F::Output, IlinkError> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .map_err(|_| IlinkError::Timeout),
        None => Ok(future.await),
    }
}

/// Maps a reqwest failure to the §1.6 classes. The URL is dropped (QR status URLs carry
/// the QR id and verify code), and so is anything else reqwest would add about it.
pub(crate) fn classify(err: reqwest::Error) -> IlinkError {
    if err.is_timeout() {
        return IlinkError::Timeout;
    }
    let is_connect = err.is_connect();
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    let lower = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    let kind = if has(&[
        "dns error",
        "failed to lookup",
        "name or service",
        "no such host",
    ]) {
        NetworkKind::Dns
    } else if has(&["certificate", "tls", "ssl", "handshake", "unknownissuer"]) {
        NetworkKind::Tls
    } else if is_connect
        || has(&[
            "connection refused",
            "connection reset",
            "unreachable",
            "broken pipe",
            "connection closed",
        ])
    {
        NetworkKind::Tcp
    } else {
        NetworkKind::Unknown
    };
    IlinkError::Network { kind, message }
}

/// The first 200 characters of a body, for error texts.
pub(super) fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}
