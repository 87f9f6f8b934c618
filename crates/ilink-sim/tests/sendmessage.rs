//! E10: sendmessage checks in the spec's order, and the success shape.

mod common;

use std::time::Duration;

use common::{call, sim_with};
use ilink_sim::{BotInfo, Sim};
use serde_json::{json, Value};

const TWO_POW_53: u64 = 1 << 53;

fn text_msg(to: &str, token: Option<&str>) -> Value {
    let mut msg = json!({
        "from_user_id": "",
        "to_user_id": to,
        "client_id": "openclaw-weixin:1700000000000-a1b2c3d4",
        "message_type": 2,
        "message_state": 2,
        "item_list": [{ "type": 1, "text_item": { "text": "hi" } }],
        "run_id": "5f0c6a43-3b0e-4f7e-9d7a-2b1f3c4d5e6f",
    });
    if let Some(token) = token {
        msg["context_token"] = json!(token);
    }
    msg
}

/// A bot whose user has written once, and that user's context_token.
async fn ready() -> (Sim, BotInfo, String) {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    sim.inject_text(&bot.bot_id, &bot.user_id, "hello").unwrap();
    let token = sim
        .context_token(&bot.bot_id, &bot.user_id)
        .unwrap()
        .unwrap();
    (sim, bot, token)
}

async fn send(sim: &Sim, bot: &BotInfo, msg: Value) -> Value {
    let answer = call(sim, "sendmessage", &bot.token, json!({ "msg": msg })).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()
}

fn invalid() -> Value {
    json!({ "ret": -3, "errmsg": "invalid arguments" })
}

fn prepare_failed() -> Value {
    json!({ "ret": -2, "errmsg": "prepare failed" })
}

#[tokio::test]
async fn success_returns_a_bare_message_id_above_2_pow_53_and_stores_the_message() {
    let (sim, bot, token) = ready().await;
    let answer = call(
        &sim,
        "sendmessage",
        &bot.token,
        json!({ "msg": text_msg(&bot.user_id, Some(&token)) }),
    )
    .await;
    let body = answer.json();
    assert_eq!(body["ret"], 0);
    let id = body["message_id"].as_u64().expect("a number");
    assert!(id > TWO_POW_53);
    // Bare digits in the raw text: no quotes, no exponent, no rounding.
    assert!(
        answer.text.contains(&format!("\"message_id\":{id}")),
        "{}",
        answer.text
    );

    let sent = sim.sent_messages(&bot.bot_id).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message_id, id);
    assert_eq!(sent[0].to_user_id, bot.user_id);
    assert_eq!(sent[0].context_token, token);
    assert_eq!(sent[0].item["text_item"]["text"], "hi");
    assert_eq!(
        sent[0].run_id.as_deref(),
        Some("5f0c6a43-3b0e-4f7e-9d7a-2b1f3c4d5e6f")
    );
    assert!(sent[0].flags.is_empty());

    let second = send(&sim, &bot, text_msg(&bot.user_id, Some(&token))).await;
    assert_ne!(second["message_id"], body["message_id"]);
}

#[tokio::test]
async fn missing_msg_or_unbound_recipient_is_invalid() {
    let (sim, bot, token) = ready().await;
    let answer = call(&sim, "sendmessage", &bot.token, json!({})).await;
    assert_eq!(answer.json(), invalid());
    let answer = call(&sim, "sendmessage", &bot.token, json!({ "msg": "hi" })).await;
    assert_eq!(answer.json(), invalid());

    // Case matters (docs/protocol.md §5.5), and so does the raw id without prefixes.
    for to in [
        bot.user_id.to_lowercase(),
        format!("user:{}", bot.user_id),
        "stranger@im.wechat".to_owned(),
        String::new(),
    ] {
        assert_eq!(
            send(&sim, &bot, text_msg(&to, Some(&token))).await,
            invalid(),
            "{to}"
        );
    }
    let mut msg = text_msg(&bot.user_id, Some(&token));
    msg.as_object_mut().unwrap().remove("to_user_id");
    assert_eq!(send(&sim, &bot, msg).await, invalid());
    assert!(sim.sent_messages(&bot.bot_id).unwrap().is_empty());
}

#[tokio::test]
async fn exactly_one_item_is_required() {
    let (sim, bot, token) = ready().await;
    let item = json!({ "type": 1, "text_item": { "text": "x" } });
    for items in [json!([]), json!([item.clone(), item]), Value::Null] {
        let mut msg = text_msg(&bot.user_id, Some(&token));
        if items.is_null() {
            msg.as_object_mut().unwrap().remove("item_list");
        } else {
            msg["item_list"] = items;
        }
        assert_eq!(send(&sim, &bot, msg).await, invalid());
    }
}

#[tokio::test]
async fn a_missing_context_token_is_invalid_or_silently_dropped() {
    let (sim, bot, _) = ready().await;
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, None)).await,
        invalid()
    );
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(""))).await,
        invalid()
    );

    sim.update_knobs(|k| k.missing_context_token_empty_body = true);
    let answer = call(
        &sim,
        "sendmessage",
        &bot.token,
        json!({ "msg": text_msg(&bot.user_id, None) }),
    )
    .await;
    assert_eq!((answer.status, answer.text.as_str()), (200, ""));
    assert!(sim.sent_messages(&bot.bot_id).unwrap().is_empty());
}

#[tokio::test]
async fn only_the_latest_live_context_token_works() {
    let (sim, bot, old) = ready().await;
    sim.inject_text(&bot.bot_id, &bot.user_id, "again").unwrap();
    let latest = sim
        .context_token(&bot.bot_id, &bot.user_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&old))).await,
        prepare_failed()
    );
    // The request log says why.
    let logged = sim.requests().pop().unwrap();
    assert!(
        logged.violations[0].contains("not the latest"),
        "{:?}",
        logged.violations
    );
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some("made-up"))).await,
        prepare_failed()
    );
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&latest))).await["ret"],
        0
    );

    sim.expire_context(&bot.bot_id, &bot.user_id).unwrap();
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&latest))).await,
        prepare_failed()
    );
    // Only a new inbound message reopens the window.
    sim.inject_text(&bot.bot_id, &bot.user_id, "back").unwrap();
    let fresh = sim
        .context_token(&bot.bot_id, &bot.user_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&fresh))).await["ret"],
        0
    );
}

#[tokio::test]
async fn a_peer_that_never_wrote_has_no_window() {
    let (sim, bot, token) = ready().await;
    sim.add_peer(&bot.bot_id, "Friend123@im.wechat").unwrap();
    // Another peer's token does not open this peer's window.
    assert_eq!(
        send(&sim, &bot, text_msg("Friend123@im.wechat", Some(&token))).await,
        prepare_failed()
    );
}

#[tokio::test]
async fn the_reply_window_closes_after_its_ttl() {
    let (sim, bot, token) = ready().await;
    sim.update_knobs(|k| k.reply_window_ms = 50);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&token))).await,
        prepare_failed()
    );
}

#[tokio::test]
async fn the_reply_quota_is_per_context_token() {
    let (sim, bot, token) = ready().await;
    sim.update_knobs(|k| k.reply_quota = Some(2));
    for _ in 0..2 {
        assert_eq!(
            send(&sim, &bot, text_msg(&bot.user_id, Some(&token))).await["ret"],
            0
        );
    }
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&token))).await,
        prepare_failed()
    );
    sim.inject_text(&bot.bot_id, &bot.user_id, "more").unwrap();
    let fresh = sim
        .context_token(&bot.bot_id, &bot.user_id)
        .unwrap()
        .unwrap();
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&fresh))).await["ret"],
        0
    );
}

#[tokio::test]
async fn tool_call_items_can_be_left_out_of_the_quota() {
    let (sim, bot, token) = ready().await;
    sim.update_knobs(|k| {
        k.reply_quota = Some(1);
        k.quota_counts_tool_calls = false;
    });
    let mut tool = text_msg(&bot.user_id, Some(&token));
    tool["item_list"] = json!([{
        "type": 11, "is_completed": false,
        "tool_call_start_item": { "tool_name": "search", "tool_call_id": "c1" }
    }]);
    for _ in 0..3 {
        assert_eq!(send(&sim, &bot, tool.clone()).await["ret"], 0);
    }
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&token))).await["ret"],
        0
    );
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&token))).await,
        prepare_failed()
    );
}

#[tokio::test]
async fn message_type_state_and_item_payload_are_checked() {
    let (sim, bot, token) = ready().await;
    let base = text_msg(&bot.user_id, Some(&token));
    let mut cases = Vec::new();
    for (key, value) in [("message_type", json!(1)), ("message_state", json!(1))] {
        let mut msg = base.clone();
        msg[key] = value;
        cases.push(msg);
    }
    let mut no_type = base.clone();
    no_type.as_object_mut().unwrap().remove("message_type");
    cases.push(no_type);
    for item in [
        json!({ "type": 7, "text_item": { "text": "x" } }),
        json!({ "type": 1 }),
        json!({ "type": 1, "text_item": {} }),
        json!({ "type": 2, "text_item": { "text": "x" } }),
        json!({ "text_item": { "text": "x" } }),
    ] {
        let mut msg = base.clone();
        msg["item_list"] = json!([item]);
        cases.push(msg);
    }
    for msg in cases {
        assert_eq!(send(&sim, &bot, msg.clone()).await, invalid(), "{msg}");
    }
    assert!(sim.sent_messages(&bot.bot_id).unwrap().is_empty());

    let mut voice = base.clone();
    voice["item_list"] = json!([{ "type": 3, "voice_item": { "encode_type": 6 } }]);
    assert_eq!(send(&sim, &bot, voice).await["ret"], 0);
    let sent = sim.sent_messages(&bot.bot_id).unwrap();
    assert_eq!(sent[0].flags, vec!["voice not rendered".to_owned()]);
}

/// When several things are wrong, the first check in E10's order decides.
#[tokio::test]
async fn checks_run_in_the_spec_order() {
    let (sim, bot, token) = ready().await;
    // Unbound recipient (step 2) beats a stale token (step 5).
    sim.expire_context(&bot.bot_id, &bot.user_id).unwrap();
    assert_eq!(
        send(&sim, &bot, text_msg("Stranger@im.wechat", Some(&token))).await,
        invalid()
    );
    // Two items (step 3) beat a stale token.
    let mut two = text_msg(&bot.user_id, Some(&token));
    two["item_list"] = json!([
        { "type": 1, "text_item": { "text": "a" } },
        { "type": 1, "text_item": { "text": "b" } }
    ]);
    assert_eq!(send(&sim, &bot, two).await, invalid());
    // A stale token (step 5) beats a wrong message_type (step 7).
    let mut wrong_type = text_msg(&bot.user_id, Some(&token));
    wrong_type["message_type"] = json!(1);
    assert_eq!(send(&sim, &bot, wrong_type).await, prepare_failed());
}

#[tokio::test]
async fn a_revoked_bot_token_cannot_send() {
    let (sim, bot, token) = ready().await;
    sim.revoke_token(&bot.bot_id).unwrap();
    assert_eq!(
        send(&sim, &bot, text_msg(&bot.user_id, Some(&token))).await,
        json!({ "ret": -14, "errcode": -14, "errmsg": "session timeout" })
    );
}
