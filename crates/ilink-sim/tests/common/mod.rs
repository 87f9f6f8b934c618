//! A tiny hand-written client for the tests: it sends exactly what the official client
//! sends (docs/protocol.md §1.2, §1.5), and lets each test break one thing at a time.
#![allow(dead_code)]

use ilink_sim::{Knobs, Sim, SimConfig};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

pub async fn sim_with(change: impl FnOnce(&mut Knobs)) -> Sim {
    let mut knobs = Knobs {
        poll_hold_ms: 300,
        ..Knobs::default()
    };
    change(&mut knobs);
    Sim::start(SimConfig {
        knobs,
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// The headers of a well-behaved client holding `token`.
pub fn good_headers(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("header value"),
        );
    };
    set("content-type", "application/json");
    set("authorizationtype", "ilink_bot_token");
    set("authorization", &format!("Bearer {token}"));
    set("x-wechat-uin", "MTIzNDU=");
    set("ilink-app-id", "bot");
    set("ilink-app-clientversion", "132105");
    h
}

/// `fields` plus the `base_info` every authenticated body carries.
pub fn envelope(fields: Value) -> Value {
    let mut body = fields;
    body["base_info"] = json!({ "channel_version": "2.4.9", "bot_agent": "OpenClaw" });
    body
}

pub struct Answer {
    pub status: u16,
    pub text: String,
    pub headers: HeaderMap,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.text))
    }
}

pub async fn post_raw(sim: &Sim, endpoint: &str, headers: HeaderMap, body: Vec<u8>) -> Answer {
    let resp = reqwest::Client::new()
        .post(format!("{}ilink/bot/{endpoint}", sim.base_url()))
        .headers(headers)
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body read");
    Answer {
        status,
        text,
        headers,
    }
}

/// A well-formed authenticated POST of `envelope(fields)`.
pub async fn call(sim: &Sim, endpoint: &str, token: &str, fields: Value) -> Answer {
    post_raw(
        sim,
        endpoint,
        good_headers(token),
        envelope(fields).to_string().into_bytes(),
    )
    .await
}

pub async fn poll(sim: &Sim, token: &str, cursor: &str) -> Answer {
    call(
        sim,
        "getupdates",
        token,
        json!({ "get_updates_buf": cursor }),
    )
    .await
}
