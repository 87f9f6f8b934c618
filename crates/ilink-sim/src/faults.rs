//! Fault injection (E2). Two sources, checked in this order for each API or CDN request:
//!
//! - **one-shot faults**: a queued fault answers (or delays) the next request to its
//!   endpoint instead of the normal handler;
//! - **fault rules**: per endpoint (or `"*"`), a fault that hits each request with a
//!   probability, drawn from a seeded RNG (`StdRng::seed_from_u64`), so a run with the
//!   same seed and the same request order sees the same faults.
//!
//! Every fault that fires is recorded (`Sim::fault_hits`, `GET /_sim/faults`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::state::{lock, now_ms, Shared};
use crate::wire;

/// How long a [`Fault::Hang`] holds at most when the rule does not say.
pub const DEFAULT_HANG_CAP_MS: u64 = 60_000;

/// The fault log keeps this many hits.
const HIT_LOG_LIMIT: usize = 2000;

fn default_hang_cap() -> u64 {
    DEFAULT_HANG_CAP_MS
}

/// What to do to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this HTTP status and an empty body (e.g. 500, 503, 524).
    Status { status: u16 },
    /// Wait this long, then serve the request normally.
    Delay { ms: u64 },
    /// Never answer: hold the request until the client gives up, but at most `max_ms`
    /// (default 60 s, so held requests cannot pile up forever); then close the
    /// connection without a response.
    Hang {
        #[serde(default = "default_hang_cap")]
        max_ms: u64,
    },
    /// Close the TCP connection without sending any response (the client sees a
    /// connection error, e.g. "connection closed before message completed").
    Reset,
    /// HTTP 200 with a body that is not valid JSON.
    MalformedJson,
    /// The normal answer, cut in half (the request is served; `Content-Length` matches
    /// the cut body, so only the JSON is broken).
    TruncatedJson,
    /// The normal answer with `Content-Type: text/html; charset=utf-8`.
    WrongContentType,
    /// HTTP 200 with an empty body.
    EmptyBody,
    /// HTTP 200 with this JSON body, e.g. `{}` or `{"ret":-1}`.
    Json { body: Value },
    /// The stale-token answer `{"errcode":-14,"errmsg":"session timeout"}` (E8 "on demand").
    SessionTimeout,
    /// The normal answer without `Content-Length`, its body ending cleanly after the
    /// last whole 16-byte block of its first half (at least one block kept): a CDN
    /// download cut short at a block boundary, which only the announced length reveals.
    CutAtBlock,
    /// The normal answer with its first byte flipped (length unchanged): wrong bytes,
    /// which only the announced MD5 reveals.
    CorruptBody,
}

impl Fault {
    /// The serde tag, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Status { .. } => "status",
            Fault::Delay { .. } => "delay",
            Fault::Hang { .. } => "hang",
            Fault::Reset => "reset",
            Fault::MalformedJson => "malformed_json",
            Fault::TruncatedJson => "truncated_json",
            Fault::WrongContentType => "wrong_content_type",
            Fault::EmptyBody => "empty_body",
            Fault::Json { .. } => "json",
            Fault::SessionTimeout => "session_timeout",
            Fault::CutAtBlock => "cut_at_block",
            Fault::CorruptBody => "corrupt_body",
        }
    }
}

/// A fault that hits requests to `endpoint` with probability `probability`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// An endpoint key as for one-shot faults (`getupdates`, `c2c/upload`, …), or `"*"`
    /// for every API and CDN endpoint.
    pub endpoint: String,
    /// Chance in `[0, 1]` per request; values outside are clamped.
    pub probability: f64,
    pub fault: Fault,
}

/// One fault that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultHit {
    pub endpoint: String,
    pub fault: Fault,
    /// A queued one-shot fault (else a rule).
    pub one_shot: bool,
    pub at_ms: u64,
}

/// Queued one-shot faults, the rules and their RNG, and the hit log.
pub(crate) struct FaultBook {
    pub queued: HashMap<String, VecDeque<Fault>>,
    pub rules: Vec<FaultRule>,
    pub seed: u64,
    rng: StdRng,
    pub hits: VecDeque<FaultHit>,
}

impl Default for FaultBook {
    fn default() -> Self {
        FaultBook {
            queued: HashMap::new(),
            rules: Vec::new(),
            seed: 0,
            rng: StdRng::seed_from_u64(0),
            hits: VecDeque::new(),
        }
    }
}

impl FaultBook {
    pub fn push(&mut self, endpoint: &str, fault: Fault) {
        self.queued
            .entry(endpoint.trim_start_matches('/').to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Replaces the rules and restarts the RNG from `seed`.
    pub fn set_rules(&mut self, seed: u64, rules: Vec<FaultRule>) {
        self.seed = seed;
        self.rng = StdRng::seed_from_u64(seed);
        self.rules = rules
            .into_iter()
            .map(|mut rule| {
                rule.endpoint = rule.endpoint.trim_start_matches('/').to_owned();
                rule
            })
            .collect();
    }

    /// Drops queued faults, rules and the hit log.
    pub fn clear(&mut self) {
        let seed = self.seed;
        *self = FaultBook::default();
        self.set_rules(seed, Vec::new());
    }

    /// The fault for one request to `key`, if any. Each rule for the endpoint draws one
    /// number, in rule order, until one hits.
    fn pick(&mut self, key: &str) -> Option<Fault> {
        let (fault, one_shot) =
            if let Some(fault) = self.queued.get_mut(key).and_then(VecDeque::pop_front) {
                (fault, true)
            } else {
                let mut picked = None;
                for rule in &self.rules {
                    if rule.endpoint != key && rule.endpoint != "*" {
                        continue;
                    }
                    let draw: f64 = self.rng.random();
                    if draw < rule.probability.clamp(0.0, 1.0) {
                        picked = Some(rule.fault.clone());
                        break;
                    }
                }
                (picked?, false)
            };
        if self.hits.len() >= HIT_LOG_LIMIT {
            self.hits.pop_front();
        }
        self.hits.push_back(FaultHit {
            endpoint: key.to_owned(),
            fault: fault.clone(),
            one_shot,
            at_ms: now_ms(),
        });
        Some(fault)
    }
}

/// Put into every request's extensions by the server's connection loop: waking it
/// drops the connection (no response is written).
#[derive(Clone)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// The key a request path is filed under: `/ilink/bot/getupdates` → `getupdates`,
/// `/ilink/bot/msg/notifystart` → `msg/notifystart`, `/c2c/upload` → `c2c/upload`.
pub(crate) fn endpoint_key(path: &str) -> String {
    let path = path.trim_start_matches('/');
    path.strip_prefix("ilink/bot/").unwrap_or(path).to_owned()
}

pub(crate) async fn layer(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let key = endpoint_key(request.uri().path());
    let Some(fault) = lock(&shared).faults.pick(&key) else {
        return next.run(request).await;
    };
    tracing::debug!(endpoint = key, ?fault, "injecting fault");
    let kill = request.extensions().get::<ConnKill>().cloned();
    match fault {
        Fault::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(request).await
        }
        Fault::Hang { max_ms } => {
            // The client giving up closes the connection, and hyper drops this future.
            tokio::time::sleep(Duration::from_millis(max_ms)).await;
            drop_connection(kill).await
        }
        Fault::Reset => drop_connection(kill).await,
        Fault::Status { status } => {
            // Read the request first, as a server does: answering mid-upload would make
            // the client see a broken pipe instead of the status, depending on timing.
            let _ = axum::body::to_bytes(request.into_body(), usize::MAX).await;
            StatusCode::from_u16(status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
        Fault::MalformedJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"ret\":0,\"msgs\":[",
        )
            .into_response(),
        Fault::TruncatedJson => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            let cut = bytes.slice(..bytes.len() / 2);
            Response::from_parts(parts, Body::from(cut))
        }
        Fault::CutAtBlock => {
            let (mut parts, bytes) = served(next, request).await;
            parts.headers.remove(header::CONTENT_LENGTH);
            let cut = (bytes.len() / 2 / 16 * 16).max(16).min(bytes.len());
            Response::from_parts(parts, Body::from(bytes.slice(..cut)))
        }
        Fault::CorruptBody => {
            let (parts, bytes) = served(next, request).await;
            let mut bytes = bytes.to_vec();
            if let Some(first) = bytes.first_mut() {
                *first ^= 0xff;
            }
            Response::from_parts(parts, Body::from(bytes))
        }
        Fault::WrongContentType => {
            let mut response = next.run(request).await;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        Fault::EmptyBody => StatusCode::OK.into_response(),
        Fault::Json { body } => wire::ok_json(body),
        Fault::SessionTimeout => {
            wire::ok_json(json!({ "errcode": -14, "errmsg": "session timeout" }))
        }
    }
}

/// The normal answer, its body read whole.
async fn served(next: Next, request: Request) -> (axum::http::response::Parts, axum::body::Bytes) {
    let (parts, body) = next.run(request).await.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

/// Has the connection loop close this request's connection, and never answers.
async fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(ConnKill(notify)) => {
            notify.notify_one();
            std::future::pending::<Response>().await
        }
        // Not served by the sim's own loop: the nearest thing is a bare 502.
        None => StatusCode::BAD_GATEWAY.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(endpoint_key("/ilink/bot/getupdates"), "getupdates");
        assert_eq!(endpoint_key("/ilink/bot/msg/notifystop"), "msg/notifystop");
        assert_eq!(endpoint_key("/c2c/upload"), "c2c/upload");
    }

    #[test]
    fn rules_are_deterministic_per_seed() {
        let rule = FaultRule {
            endpoint: "*".into(),
            probability: 0.3,
            fault: Fault::Reset,
        };
        let run = |seed| {
            let mut book = FaultBook::default();
            book.set_rules(seed, vec![rule.clone()]);
            (0..200)
                .map(|_| book.pick("getupdates").is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|hit| **hit).count();
        assert!((30..=90).contains(&hits), "{hits} of 200 at p=0.3");
    }

    #[test]
    fn one_shot_faults_come_first_and_are_logged() {
        let mut book = FaultBook::default();
        book.set_rules(
            1,
            vec![FaultRule {
                endpoint: "getupdates".into(),
                probability: 1.0,
                fault: Fault::EmptyBody,
            }],
        );
        book.push("getupdates", Fault::Reset);
        assert_eq!(book.pick("getupdates"), Some(Fault::Reset));
        assert_eq!(book.pick("getupdates"), Some(Fault::EmptyBody));
        assert_eq!(book.pick("sendmessage"), None);
        assert_eq!(book.hits.len(), 2);
        assert!(book.hits[0].one_shot && !book.hits[1].one_shot);
    }
}
