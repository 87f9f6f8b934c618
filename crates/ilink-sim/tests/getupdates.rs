//! E7–E9: long-poll, cursor acknowledgement, stale tokens and the message shape.

mod common;

use std::time::{Duration, Instant};

use common::{call, poll, sim_with};
use serde_json::{json, Value};

const TWO_POW_53: u64 = 1 << 53;

fn ids(answer: &Value) -> Vec<u64> {
    answer["msgs"]
        .as_array()
        .expect("msgs")
        .iter()
        .map(|m| m["message_id"].as_u64().expect("u64 message_id"))
        .collect()
}

#[tokio::test]
async fn an_inbound_message_has_the_wire_shape() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let id = sim.inject_text(&bot.bot_id, &bot.user_id, "你好").unwrap();
    assert!(id > TWO_POW_53);

    let answer = poll(&sim, &bot.token, "").await;
    assert_eq!(answer.status, 200);
    // A bare JSON number, exact, not a string and not rounded.
    assert!(
        answer.text.contains(&format!("\"message_id\":{id}")),
        "{}",
        answer.text
    );
    let body = answer.json();
    assert_eq!(body["ret"], 0);
    assert_eq!(body["longpolling_timeout_ms"], 35000);
    let msg = &body["msgs"][0];
    assert_eq!(msg["seq"], 1);
    assert_eq!(msg["message_id"].as_u64(), Some(id));
    assert_eq!(msg["from_user_id"], bot.user_id.as_str());
    assert_eq!(msg["to_user_id"], bot.bot_id.as_str());
    assert_eq!(msg["message_type"], 1);
    assert_eq!(msg["message_state"], 2);
    assert_eq!(msg["session_id"], "");
    assert_eq!(msg["group_id"], "");
    assert!(msg["client_id"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(msg["create_time_ms"]
        .as_u64()
        .is_some_and(|t| t > 1_600_000_000_000));
    let token = msg["context_token"].as_str().unwrap();
    assert_eq!(
        sim.context_token(&bot.bot_id, &bot.user_id)
            .unwrap()
            .as_deref(),
        Some(token)
    );
    let item = &msg["item_list"][0];
    assert_eq!(item["type"], 1);
    assert_eq!(item["text_item"]["text"], "你好");
    assert_eq!(item["is_completed"], true);
    let msg_id = item["msg_id"].as_str().unwrap();
    let n: u64 = msg_id.strip_prefix("v1:").unwrap().parse().unwrap();
    assert!(n > TWO_POW_53);

    // The bot id and user id look like the real ones.
    let (hex, domain) = bot.bot_id.split_once('@').unwrap();
    assert_eq!(domain, "im.bot");
    assert!(hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(bot.user_id.ends_with("@im.wechat"));
    assert!(bot.user_id.chars().any(|c| c.is_ascii_uppercase()));
    assert!(bot.user_id.chars().any(|c| c.is_ascii_lowercase()));
}

#[tokio::test]
async fn each_message_gets_a_fresh_context_token() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    sim.inject_text(&bot.bot_id, &bot.user_id, "a").unwrap();
    sim.inject_text(&bot.bot_id, &bot.user_id, "b").unwrap();
    let body = poll(&sim, &bot.token, "").await.json();
    let t0 = body["msgs"][0]["context_token"].as_str().unwrap();
    let t1 = body["msgs"][1]["context_token"].as_str().unwrap();
    assert_ne!(t0, t1);
    assert_ne!(body["msgs"][0]["message_id"], body["msgs"][1]["message_id"]);
    assert_eq!(body["msgs"][1]["seq"], 2);
}

#[tokio::test]
async fn an_empty_poll_holds_then_returns_the_unchanged_cursor() {
    let sim = sim_with(|k| k.poll_hold_ms = 300).await;
    let bot = sim.create_bot();
    let start = Instant::now();
    let first = poll(&sim, &bot.token, "").await.json();
    assert!(start.elapsed() >= Duration::from_millis(250), "held");
    assert_eq!(first["msgs"], json!([]));
    let cursor = first["get_updates_buf"].as_str().unwrap().to_owned();
    assert!(!cursor.is_empty());
    let again = poll(&sim, &bot.token, &cursor).await.json();
    assert_eq!(again["get_updates_buf"], cursor.as_str());
}

#[tokio::test]
async fn a_held_poll_returns_early_when_a_message_arrives() {
    let sim = sim_with(|k| k.poll_hold_ms = 20_000).await;
    let bot = sim.create_bot();
    let start = Instant::now();
    let (answer, ()) = tokio::join!(poll(&sim, &bot.token, ""), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sim.inject_text(&bot.bot_id, &bot.user_id, "wake up")
            .unwrap();
    });
    assert!(start.elapsed() < Duration::from_secs(10), "returned early");
    let body = answer.json();
    assert_eq!(
        body["msgs"][0]["item_list"][0]["text_item"]["text"],
        "wake up"
    );
}

#[tokio::test]
async fn the_cursor_acknowledges_and_the_empty_cursor_redelivers() {
    let sim = sim_with(|k| k.poll_hold_ms = 200).await;
    let bot = sim.create_bot();
    let a = sim.inject_text(&bot.bot_id, &bot.user_id, "a").unwrap();
    let b = sim.inject_text(&bot.bot_id, &bot.user_id, "b").unwrap();

    let first = poll(&sim, &bot.token, "").await.json();
    assert_eq!(ids(&first), vec![a, b]);
    let c1 = first["get_updates_buf"].as_str().unwrap().to_owned();

    // Not acknowledged yet: "" gives the same messages again, same ids.
    let replay = poll(&sim, &bot.token, "").await.json();
    assert_eq!(ids(&replay), vec![a, b]);

    // Polling with c1 acknowledges a and b; nothing is left after them.
    let after = poll(&sim, &bot.token, &c1).await.json();
    assert_eq!(ids(&after), Vec::<u64>::new());
    assert_eq!(after["get_updates_buf"], c1.as_str());
    let empty = poll(&sim, &bot.token, "").await.json();
    assert_eq!(ids(&empty), Vec::<u64>::new());

    // A new message comes after c1, and stays unacknowledged until a later cursor.
    let c = sim.inject_text(&bot.bot_id, &bot.user_id, "c").unwrap();
    let next = poll(&sim, &bot.token, &c1).await.json();
    assert_eq!(ids(&next), vec![c]);
    let c2 = next["get_updates_buf"].as_str().unwrap().to_owned();
    assert_ne!(c2, c1);
    assert_eq!(ids(&poll(&sim, &bot.token, "").await.json()), vec![c]);
    // A client that lost its last commit and resends c1 is served from c1 again.
    assert_eq!(ids(&poll(&sim, &bot.token, &c1).await.json()), vec![c]);
    assert_eq!(
        ids(&poll(&sim, &bot.token, &c2).await.json()),
        Vec::<u64>::new()
    );
    assert_eq!(
        ids(&poll(&sim, &bot.token, "").await.json()),
        Vec::<u64>::new()
    );
}

#[tokio::test]
async fn a_foreign_or_garbled_cursor_counts_as_empty_and_is_logged() {
    let sim = sim_with(|k| k.poll_hold_ms = 200).await;
    let one = sim.create_bot();
    let two = sim.create_bot();
    sim.inject_text(&two.bot_id, &two.user_id, "x").unwrap();
    let foreign = poll(&sim, &one.token, "").await.json()["get_updates_buf"]
        .as_str()
        .unwrap()
        .to_owned();
    for cursor in [foreign.as_str(), "%%%not base64", "aGVsbG8="] {
        let body = poll(&sim, &two.token, cursor).await.json();
        assert_eq!(body["msgs"].as_array().unwrap().len(), 1, "{cursor}");
        let logged = sim.requests().pop().unwrap();
        assert!(
            logged
                .violations
                .iter()
                .any(|v| v.contains("get_updates_buf")),
            "{:?}",
            logged.violations
        );
    }
    let bad_type = call(
        &sim,
        "getupdates",
        &two.token,
        json!({ "get_updates_buf": 5 }),
    )
    .await;
    assert_eq!(bad_type.status, 400);
}

#[tokio::test]
async fn a_revoked_token_gets_errcode_minus_14_without_ret() {
    let sim = sim_with(|k| k.poll_hold_ms = 20_000).await;
    let bot = sim.create_bot();
    let start = Instant::now();
    // A poll in flight is answered as soon as the token goes stale.
    let (answer, ()) = tokio::join!(poll(&sim, &bot.token, ""), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sim.revoke_token(&bot.bot_id).unwrap();
    });
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({ "errcode": -14, "errmsg": "session timeout" })
    );
    let again = poll(&sim, &bot.token, "").await;
    assert_eq!(
        again.json(),
        json!({ "errcode": -14, "errmsg": "session timeout" })
    );
    assert!(!again.text.contains("\"ret\""));
}

#[tokio::test]
async fn unknown_tokens_get_minus_14_and_ret_can_be_added() {
    let sim = sim_with(|k| k.poll_hold_ms = 200).await;
    let answer = poll(&sim, "no-such-token", "").await;
    assert_eq!(
        answer.json(),
        json!({ "errcode": -14, "errmsg": "session timeout" })
    );
    sim.update_knobs(|k| k.stale_includes_ret = true);
    assert_eq!(
        poll(&sim, "no-such-token", "").await.json(),
        json!({ "ret": -14, "errcode": -14, "errmsg": "session timeout" })
    );
}

#[tokio::test]
async fn the_advertised_timeout_follows_the_knob() {
    let sim = sim_with(|k| {
        k.poll_hold_ms = 100;
        k.longpolling_timeout_ms = 4000;
    })
    .await;
    let bot = sim.create_bot();
    assert_eq!(
        poll(&sim, &bot.token, "").await.json()["longpolling_timeout_ms"],
        4000
    );
}

#[tokio::test]
async fn polls_in_flight_counts_held_polls_and_forgets_abandoned_ones() {
    let sim = sim_with(|k| k.poll_hold_ms = 10_000).await;
    let bot = sim.create_bot();
    assert_eq!(sim.polls_in_flight(), 0);
    let token = bot.token.clone();
    let base = sim.base_url();
    let held = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{base}ilink/bot/getupdates"))
            .headers(common::good_headers(&token))
            .body(common::envelope(json!({ "get_updates_buf": "" })).to_string())
            .send()
            .await
    });
    let start = std::time::Instant::now();
    while sim.polls_in_flight() != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "poll never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats: serde_json::Value = reqwest::get(format!("{}_sim/stats", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["polls_in_flight"], 1);
    assert_eq!(stats["bots"], 1);

    // The client gives up: the server notices the closed connection and lets go.
    held.abort();
    while sim.polls_in_flight() != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "abandoned poll still counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_first_hand_out_time_is_recorded_once_per_message() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let id = sim.inject_text(&bot.bot_id, &bot.user_id, "timed").unwrap();
    assert!(sim.handed_out(&bot.bot_id).unwrap().is_empty());

    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1_000.0;
    assert_eq!(ids(&poll(&sim, &bot.token, "").await.json()), [id]);
    let first = sim.handed_out(&bot.bot_id).unwrap()[&id];
    assert!(first >= before, "{first} < {before}");

    // Not acknowledged, so handed out again: the first time stays.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(ids(&poll(&sim, &bot.token, "").await.json()), [id]);
    assert_eq!(sim.handed_out(&bot.bot_id).unwrap()[&id], first);
}
