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

/// A quote of a bot's send with no body (E9), and a request shape refused with ret -2
/// and no errmsg, both driven over HTTP.
#[tokio::test]
async fn bodiless_quotes_and_a_refused_shape_over_http() {
    let sim = sim_with(|_| {}).await;
    let (_, bot) = control(&sim, "POST", "bots", None).await;
    let bot_id = bot["bot_id"].as_str().unwrap().to_owned();
    let token = bot["token"].as_str().unwrap().to_owned();
    let user = bot["user_id"].as_str().unwrap().to_owned();
    control(
        &sim,
        "POST",
        &format!("bots/{bot_id}/inject"),
        Some(json!({ "peer_id": user, "text": "hi" })),
    )
    .await;
    let polled = poll(&sim, &token, "").await.json();
    let cursor = polled["get_updates_buf"].as_str().unwrap().to_owned();
    let ctx = polled["msgs"][0]["context_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = |text: &str| {
        json!({ "msg": {
            "to_user_id": user, "message_type": 2, "message_state": 2, "context_token": ctx,
            "item_list": [{ "type": 1, "text_item": { "text": text } }]
        }})
    };
    let sent = call(&sim, "sendmessage", &token, send("the plan"))
        .await
        .json();
    let quoted = sent["message_id"].as_u64().unwrap();

    let (status, _) = control(
        &sim,
        "POST",
        "knobs",
        Some(json!({ "refuse_shape_with_ret2": { "text_contains": "<odd>" } })),
    )
    .await;
    assert_eq!(status, 200);
    let refused = call(&sim, "sendmessage", &token, send("an <odd> one"))
        .await
        .json();
    assert_eq!(refused, json!({ "ret": -2 }), "ret -2 and no errmsg");

    for with_id in [false, true] {
        let (status, _) = control(
            &sim,
            "POST",
            &format!("bots/{bot_id}/quote_bodiless"),
            Some(json!({ "peer_id": user, "text": "this one",
                         "quoted_message_id": quoted, "with_id": with_id })),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (_, log) = control(&sim, "GET", &format!("bots/{bot_id}/sent"), None).await;
    let taken_at = log[0]["received_at_ms"].as_u64().unwrap();
    let polled = poll(&sim, &token, &cursor).await.json();
    let refs: Vec<&Value> = polled["msgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["item_list"][0]["ref_msg"])
        .collect();
    assert_eq!(refs.len(), 2);
    for reference in &refs {
        let item = &reference["message_item"];
        assert_eq!(item["type"], ilink_sim::BODILESS_QUOTE_ITEM_TYPE);
        assert_eq!(item["create_time_ms"].as_u64(), Some(taken_at));
        assert!(item.get("text_item").is_none() && item.get("msg_id").is_none());
    }
    assert!(refs[0].get("svr_id").is_none());
    assert_eq!(refs[1]["svr_id"].as_u64(), Some(quoted));

    let (status, _) = control(
        &sim,
        "POST",
        &format!("bots/{bot_id}/quote_bodiless"),
        Some(json!({ "peer_id": user, "text": "?", "quoted_message_id": 1 })),
    )
    .await;
    assert_eq!(status, 404, "a send the bot never made");
}
