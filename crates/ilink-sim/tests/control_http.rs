//! The `/_sim/` JSON control routes drive the same state as the Rust methods.

mod common;

use common::{call, poll, sim_with};
use serde_json::{json, Value};

async fn control(
    sim: &ilink_sim::Sim,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let url = format!("{}_sim/{path}", sim.base_url());
    let req = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    };
    let req = match body {
        Some(body) => req.json(&body),
        None => req,
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_whole_exchange_driven_over_http() {
    let sim = sim_with(|_| {}).await;
    let (status, bot) = control(&sim, "POST", "bots", None).await;
    assert_eq!(status, 200);
    let bot_id = bot["bot_id"].as_str().unwrap().to_owned();
    let token = bot["token"].as_str().unwrap().to_owned();

    let (status, _) = control(
        &sim,
        "POST",
        &format!("bots/{bot_id}/peers"),
        Some(json!({ "peer_id": "Pal@im.wechat" })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, injected) = control(
        &sim,
        "POST",
        &format!("bots/{bot_id}/inject"),
        Some(json!({ "peer_id": "Pal@im.wechat", "text": "hey" })),
    )
    .await;
    assert_eq!(status, 200);
    let id = injected["message_id"].as_u64().unwrap();

    let polled = poll(&sim, &token, "").await.json();
    assert_eq!(polled["msgs"][0]["message_id"].as_u64(), Some(id));
    let ctx = polled["msgs"][0]["context_token"].as_str().unwrap();
    let msg = json!({
        "to_user_id": "Pal@im.wechat", "message_type": 2, "message_state": 2,
        "context_token": ctx, "item_list": [{ "type": 1, "text_item": { "text": "yo" } }]
    });
    assert_eq!(
        call(&sim, "sendmessage", &token, json!({ "msg": msg }))
            .await
            .json()["ret"],
        0
    );

    let (_, sent) = control(&sim, "GET", &format!("bots/{bot_id}/sent"), None).await;
    assert_eq!(sent[0]["item"]["text_item"]["text"], "yo");
    assert_eq!(sent[0]["to_user_id"], "Pal@im.wechat");

    let (status, _) = control(
        &sim,
        "POST",
        &format!("bots/{bot_id}/expire_context"),
        Some(json!({ "peer_id": "Pal@im.wechat" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        call(&sim, "sendmessage", &token, json!({ "msg": msg }))
            .await
            .json()["ret"],
        -2
    );

    let (status, _) = control(&sim, "POST", &format!("bots/{bot_id}/revoke"), None).await;
    assert_eq!(status, 200);
    assert_eq!(poll(&sim, &token, "").await.json()["errcode"], -14);

    let (_, log) = control(&sim, "GET", "requests", None).await;
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["endpoint"] == "sendmessage"));
    let (_, typing) = control(&sim, "GET", &format!("bots/{bot_id}/typing"), None).await;
    assert_eq!(typing, json!([]));
    let (_, presence) = control(&sim, "GET", &format!("bots/{bot_id}/presence"), None).await;
    assert_eq!(presence, json!([]));
}

#[tokio::test]
async fn knobs_can_be_patched() {
    let sim = sim_with(|_| {}).await;
    let (status, knobs) = control(
        &sim,
        "POST",
        "knobs",
        Some(json!({ "reply_quota": 10, "poll_hold_ms": 100 })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(knobs["reply_quota"], 10);
    assert_eq!(
        knobs["strict_headers"], true,
        "untouched knobs keep their values"
    );
    assert_eq!(sim.knobs().reply_quota, Some(10));
    assert_eq!(sim.knobs().poll_hold_ms, 100);

    let (status, _) = control(&sim, "POST", "knobs", Some(json!({ "no_such_knob": 1 }))).await;
    assert_eq!(status, 400);
    let (status, _) = control(
        &sim,
        "POST",
        "knobs",
        Some(json!({ "poll_hold_ms": "soon" })),
    )
    .await;
    assert_eq!(status, 400);
    let (_, knobs) = control(&sim, "GET", "knobs", None).await;
    assert_eq!(knobs["poll_hold_ms"], 100);
}

#[tokio::test]
async fn control_errors_are_clear() {
    let sim = sim_with(|_| {}).await;
    let (status, body) = control(&sim, "POST", "bots/nobody@im.bot/revoke", None).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("unknown bot"));

    let bot = sim.create_bot();
    let (status, body) = control(
        &sim,
        "POST",
        &format!("bots/{}/inject", bot.bot_id),
        Some(json!({ "peer_id": "Unbound@im.wechat", "text": "x" })),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("not bound"),
        "{body}"
    );
    let (status, _) = control(
        &sim,
        "POST",
        &format!("bots/{}/inject", bot.bot_id),
        Some(json!({ "text": "x" })),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = control(
        &sim,
        "POST",
        &format!("bots/{}/expire_context", bot.bot_id),
        Some(json!({ "peer_id": bot.user_id })),
    )
    .await;
    assert_eq!(status, 404, "no context issued yet");
}

#[tokio::test]
async fn bots_are_listed_oldest_first_with_their_state() {
    let sim = sim_with(|_| {}).await;
    let first = sim.create_bot();
    let second = sim.create_bot();
    sim.revoke_token(&first.bot_id).unwrap();
    let (status, list) = control(&sim, "GET", "bots", None).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["bot_id"], first.bot_id.as_str());
    assert_eq!(list[0]["token_live"], false);
    assert_eq!(list[1]["bot_id"], second.bot_id.as_str());
    assert_eq!(list[1]["token_live"], true);
    assert_eq!(list[1]["peers"], json!([second.user_id]));
    assert_eq!(sim.bots().len(), 2);
}
