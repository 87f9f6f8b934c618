//! Optional server behaviours from E7 and E10: replays, empty cursors and the
//! alternative sendmessage success bodies.

mod common;

use std::time::Duration;

use common::{call, poll, sim_with};
use ilink_sim::SendResponse;
use serde_json::json;

#[tokio::test]
async fn a_message_is_replayed_once_with_the_same_id() {
    let sim = sim_with(|k| {
        k.poll_hold_ms = 10_000;
        k.replay_after_ms = Some(200);
    })
    .await;
    let bot = sim.create_bot();
    let id = sim.inject_text(&bot.bot_id, &bot.user_id, "once").unwrap();
    let first = poll(&sim, &bot.token, "").await.json();
    assert_eq!(first["msgs"][0]["seq"], 1);
    let cursor = first["get_updates_buf"].as_str().unwrap().to_owned();

    let replay = poll(&sim, &bot.token, &cursor).await.json();
    assert_eq!(replay["msgs"][0]["message_id"].as_u64(), Some(id));
    assert_eq!(replay["msgs"][0]["seq"], 2);
    let cursor = replay["get_updates_buf"].as_str().unwrap().to_owned();

    // Only once: the next poll holds and comes back empty.
    sim.update_knobs(|k| k.poll_hold_ms = 600);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        poll(&sim, &bot.token, &cursor).await.json()["msgs"],
        json!([])
    );
}

#[tokio::test]
async fn the_cursor_can_be_left_empty() {
    let sim = sim_with(|k| {
        k.poll_hold_ms = 100;
        k.empty_cursor = true;
    })
    .await;
    let bot = sim.create_bot();
    sim.inject_text(&bot.bot_id, &bot.user_id, "x").unwrap();
    let body = poll(&sim, &bot.token, "").await.json();
    assert_eq!(body["get_updates_buf"], "");
    assert_eq!(body["msgs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn alternative_sendmessage_success_bodies() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    sim.inject_text(&bot.bot_id, &bot.user_id, "hi").unwrap();
    let token = sim
        .context_token(&bot.bot_id, &bot.user_id)
        .unwrap()
        .unwrap();
    let msg = json!({ "msg": {
        "to_user_id": bot.user_id, "message_type": 2, "message_state": 2,
        "context_token": token, "item_list": [{ "type": 1, "text_item": { "text": "ok" } }],
    }});
    for (mode, want) in [
        (SendResponse::EmptyObject, "{}"),
        (SendResponse::RetErrmsg, r#"{"errmsg":"","ret":0}"#),
        (SendResponse::EmptyBody, ""),
    ] {
        sim.update_knobs(|k| k.send_response = mode);
        let answer = call(&sim, "sendmessage", &bot.token, msg.clone()).await;
        assert_eq!(answer.status, 200);
        if want.starts_with('{') {
            assert_eq!(
                answer.json(),
                serde_json::from_str::<serde_json::Value>(want).unwrap()
            );
        } else {
            assert_eq!(answer.text, want);
        }
    }
    assert_eq!(
        sim.sent_messages(&bot.bot_id).unwrap().len(),
        3,
        "all stored"
    );
}
