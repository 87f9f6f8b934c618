//! E11–E13: getconfig, sendtyping, notifystart and notifystop.

mod common;

use common::{call, sim_with};
use serde_json::json;

#[tokio::test]
async fn getconfig_requires_ilink_user_id() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    for fields in [
        json!({}),
        json!({ "ilink_user_id": "" }),
        json!({ "ilink_user_id": 5 }),
    ] {
        let answer = call(&sim, "getconfig", &bot.token, fields).await;
        assert_eq!(
            answer.json(),
            json!({ "ret": -2, "errmsg": "ilink_user_id required" })
        );
    }
}

#[tokio::test]
async fn the_typing_ticket_is_stable_per_user_until_rotated() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let ask = |user: String| {
        let sim = &sim;
        let token = bot.token.clone();
        async move {
            let body = call(
                sim,
                "getconfig",
                &token,
                json!({ "ilink_user_id": user, "context_token": "t" }),
            )
            .await
            .json();
            assert_eq!(body["ret"], 0);
            body["typing_ticket"].as_str().unwrap().to_owned()
        }
    };
    let first = ask(bot.user_id.clone()).await;
    assert_eq!(ask(bot.user_id.clone()).await, first);
    assert_ne!(ask("Other@im.wechat".to_owned()).await, first);
    let rotated = sim.rotate_typing_ticket(&bot.bot_id, &bot.user_id).unwrap();
    assert_ne!(rotated, first);
    assert_eq!(ask(bot.user_id.clone()).await, rotated);
}

#[tokio::test]
async fn sendtyping_checks_the_ticket_and_status_and_logs_each_call() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let ticket = call(
        &sim,
        "getconfig",
        &bot.token,
        json!({ "ilink_user_id": bot.user_id }),
    )
    .await
    .json()["typing_ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let typing = |user: &str, ticket: &str, status: serde_json::Value| json!({ "ilink_user_id": user, "typing_ticket": ticket, "status": status });

    for status in [1, 1, 2] {
        let answer = call(
            &sim,
            "sendtyping",
            &bot.token,
            typing(&bot.user_id, &ticket, json!(status)),
        )
        .await;
        assert_eq!(answer.json(), json!({ "ret": 0 }));
    }
    let events = sim.typing_events(&bot.bot_id).unwrap();
    assert_eq!(
        events.iter().map(|e| e.status).collect::<Vec<_>>(),
        vec![1, 1, 2]
    );
    assert!(events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert!(events.iter().all(|e| e.user_id == bot.user_id));

    let invalid = json!({ "ret": -3, "errmsg": "invalid arguments" });
    for bad in [
        typing(&bot.user_id, &ticket, json!(3)),
        typing(&bot.user_id, &ticket, json!("1")),
        json!({ "ilink_user_id": bot.user_id, "status": 1 }),
        json!({ "typing_ticket": ticket, "status": 1 }),
    ] {
        assert_eq!(
            call(&sim, "sendtyping", &bot.token, bad).await.json(),
            invalid
        );
    }
    let wrong_ticket = json!({ "ret": -2, "errmsg": "invalid typing_ticket" });
    for bad in [
        typing(&bot.user_id, "forged", json!(1)),
        typing("Other@im.wechat", &ticket, json!(1)),
    ] {
        assert_eq!(
            call(&sim, "sendtyping", &bot.token, bad).await.json(),
            wrong_ticket
        );
    }
    sim.rotate_typing_ticket(&bot.bot_id, &bot.user_id).unwrap();
    assert_eq!(
        call(
            &sim,
            "sendtyping",
            &bot.token,
            typing(&bot.user_id, &ticket, json!(2))
        )
        .await
        .json(),
        wrong_ticket
    );
    assert_eq!(sim.typing_events(&bot.bot_id).unwrap().len(), 3);
}

#[tokio::test]
async fn notify_start_and_stop_record_presence() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    for endpoint in ["msg/notifystart", "msg/notifystop"] {
        let answer = call(&sim, endpoint, &bot.token, json!({})).await;
        assert_eq!(answer.json(), json!({ "ret": 0, "errmsg": "" }));
    }
    let events = sim.presence_events(&bot.bot_id).unwrap();
    assert_eq!(
        events.iter().map(|e| e.online).collect::<Vec<_>>(),
        vec![true, false]
    );
}
