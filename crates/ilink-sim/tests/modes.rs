//! Optional server behaviours from E7 and E10: replays, empty cursors and the
//! alternative sendmessage success bodies.

mod common;

use std::time::Duration;

use common::{call, poll, sim_with};
use ilink_sim::{SendRateLimit, SendResponse};
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
        (SendResponse::MessageIdOnly, "message_id"),
        (SendResponse::EmptyObject, "{}"),
        (SendResponse::RetErrmsg, r#"{"errmsg":"","ret":0}"#),
        (SendResponse::EmptyBody, ""),
    ] {
        sim.update_knobs(|k| k.send_response = mode);
        let answer = call(&sim, "sendmessage", &bot.token, msg.clone()).await;
        assert_eq!(answer.status, 200);
        if want == "message_id" {
            let body = answer.json();
            assert!(body.get("ret").is_none(), "{body}");
            assert!(body["message_id"].as_u64().unwrap() > 1 << 53, "{body}");
        } else if want.starts_with('{') {
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
        4,
        "all stored"
    );
}

#[tokio::test]
async fn tool_call_items_can_be_answered_without_a_message_id() {
    let sim = sim_with(|k| k.tool_calls_without_message_id = true).await;
    let bot = sim.create_bot();
    sim.inject_text(&bot.bot_id, &bot.user_id, "hi").unwrap();
    let token = sim
        .context_token(&bot.bot_id, &bot.user_id)
        .unwrap()
        .unwrap();
    let send = |item: serde_json::Value| {
        json!({ "msg": {
            "to_user_id": bot.user_id, "message_type": 2, "message_state": 2,
            "context_token": token, "item_list": [item],
        }})
    };
    let tool = send(json!({ "type": 11, "is_completed": false,
        "tool_call_start_item": { "tool_name": "search", "tool_call_id": "c1" } }));
    let answer = call(&sim, "sendmessage", &bot.token, tool).await.json();
    assert_eq!(answer, json!({ "ret": 0 }));
    let text = send(json!({ "type": 1, "text_item": { "text": "done" } }));
    let answer = call(&sim, "sendmessage", &bot.token, text).await.json();
    assert!(
        answer["message_id"].is_u64(),
        "texts keep their id: {answer}"
    );
    assert_eq!(sim.sent_messages(&bot.bot_id).unwrap().len(), 2);
}

/// Injects `n` texts, takes them in one poll, waits for the replays and returns the
/// texts that came back a second time (sorted).
async fn replayed_texts(seed: u64, probability: f64, n: usize) -> Vec<String> {
    let sim = sim_with(|k| {
        k.poll_hold_ms = 300;
        k.replay_after_ms = Some(100);
        k.replay_probability = probability;
        k.replay_seed = seed;
    })
    .await;
    let bot = sim.create_bot();
    for i in 0..n {
        sim.inject_text(&bot.bot_id, &bot.user_id, &format!("m{i}"))
            .unwrap();
    }
    let first = poll(&sim, &bot.token, "").await.json();
    assert_eq!(first["msgs"].as_array().unwrap().len(), n);
    let mut cursor = first["get_updates_buf"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut texts = Vec::new();
    loop {
        let body = poll(&sim, &bot.token, &cursor).await.json();
        let msgs = body["msgs"].as_array().unwrap().clone();
        if msgs.is_empty() {
            break;
        }
        for m in msgs {
            texts.push(
                m["item_list"][0]["text_item"]["text"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        cursor = body["get_updates_buf"].as_str().unwrap().to_owned();
    }
    // Replays due at the same moment may be queued in any order.
    texts.sort();
    texts
}

#[tokio::test]
async fn replays_follow_a_seeded_probability() {
    let a = replayed_texts(9, 0.5, 30).await;
    let b = replayed_texts(9, 0.5, 30).await;
    assert_eq!(a, b, "same seed, same messages replayed");
    assert!(
        (4..=26).contains(&a.len()),
        "{} of 30 replayed at p=0.5",
        a.len()
    );
    assert_eq!(replayed_texts(9, 0.0, 5).await, Vec::<String>::new());
    assert_eq!(replayed_texts(9, 1.0, 5).await.len(), 5);
}

#[tokio::test]
async fn unacknowledged_messages_are_redelivered_after_a_stall() {
    let sim = sim_with(|k| {
        k.poll_hold_ms = 200;
        k.redeliver_unacked_after_ms = Some(800);
    })
    .await;
    let bot = sim.create_bot();
    let id = sim
        .inject_text(&bot.bot_id, &bot.user_id, "ack me")
        .unwrap();
    let first = poll(&sim, &bot.token, "").await.json();
    assert_eq!(first["msgs"][0]["message_id"].as_u64(), Some(id));
    let stale_cursor = first["get_updates_buf"].as_str().unwrap().to_owned();

    // The client stalls (never sends that cursor). Right away, "" gets nothing: the
    // message is in flight.
    assert_eq!(poll(&sim, &bot.token, "").await.json()["msgs"], json!([]));

    // After the stall time the same message comes again, same id and seq.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let again = poll(&sim, &bot.token, "").await.json();
    assert_eq!(again["msgs"][0]["message_id"].as_u64(), Some(id));
    assert_eq!(again["msgs"][0]["seq"], first["msgs"][0]["seq"]);
    assert!(sim
        .requests()
        .iter()
        .any(|r| r.violations.iter().any(|v| v.contains("redelivered 1"))));

    // A held poll wakes when the message falls due again.
    sim.update_knobs(|k| k.poll_hold_ms = 10_000);
    let start = std::time::Instant::now();
    let woken = poll(&sim, &bot.token, "").await.json();
    assert_eq!(woken["msgs"][0]["message_id"].as_u64(), Some(id));
    assert!(start.elapsed() < Duration::from_secs(5));

    // Acknowledged with the cursor: never again.
    sim.update_knobs(|k| k.poll_hold_ms = 200);
    assert_eq!(
        poll(&sim, &bot.token, &stale_cursor).await.json()["msgs"],
        json!([])
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(poll(&sim, &bot.token, "").await.json()["msgs"], json!([]));
}

#[tokio::test]
async fn without_the_stall_knob_an_empty_cursor_gets_unacknowledged_messages_at_once() {
    let sim = sim_with(|k| k.poll_hold_ms = 200).await;
    let bot = sim.create_bot();
    let id = sim.inject_text(&bot.bot_id, &bot.user_id, "x").unwrap();
    for _ in 0..2 {
        let body = poll(&sim, &bot.token, "").await.json();
        assert_eq!(body["msgs"][0]["message_id"].as_u64(), Some(id));
    }
}

#[tokio::test]
async fn a_send_rate_limit_per_peer_answers_ret_minus_2() {
    let sim = sim_with(|k| {
        k.send_rate_limit = Some(SendRateLimit {
            max: 2,
            window_ms: 1000,
        });
    })
    .await;
    let bot = sim.create_bot();
    let other = "o9cqOtherPeer@im.wechat";
    sim.add_peer(&bot.bot_id, other).unwrap();
    let send = |peer: String| {
        let sim = &sim;
        let bot = &bot;
        async move {
            let token = sim.context_token(&bot.bot_id, &peer).unwrap().unwrap();
            call(sim, "sendmessage", &bot.token, json!({ "msg": {
                "to_user_id": peer, "message_type": 2, "message_state": 2,
                "context_token": token, "item_list": [{ "type": 1, "text_item": { "text": "r" } }],
            }}))
            .await
            .json()
        }
    };
    sim.inject_text(&bot.bot_id, &bot.user_id, "hi").unwrap();
    sim.inject_text(&bot.bot_id, other, "hi").unwrap();
    assert_eq!(send(bot.user_id.clone()).await["ret"], 0);
    assert_eq!(send(bot.user_id.clone()).await["ret"], 0);
    let limited = send(bot.user_id.clone()).await;
    assert_eq!(limited, json!({ "ret": -2, "errmsg": "prepare failed" }));
    // A fresh context_token does not help: the limit is per peer, not per token.
    sim.inject_text(&bot.bot_id, &bot.user_id, "again").unwrap();
    assert_eq!(send(bot.user_id.clone()).await["ret"], -2);
    // Another peer has its own window.
    assert_eq!(send(other.to_owned()).await["ret"], 0);
    let logged = sim.requests();
    assert!(logged
        .iter()
        .any(|r| r.violations.iter().any(|v| v.contains("send rate limit"))));
    // After the window, sends pass again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(bot.user_id.clone()).await["ret"], 0);
    assert_eq!(sim.sent_messages(&bot.bot_id).unwrap().len(), 4);
}
