//! E2: one-shot faults answer the next request to their endpoint, then normal service
//! resumes.

mod common;

use std::time::{Duration, Instant};

use common::{call, poll, sim_with};
use ilink_sim::Fault;
use serde_json::json;

#[tokio::test]
async fn each_fault_kind_hits_one_request() {
    let sim = sim_with(|k| k.poll_hold_ms = 100).await;
    let bot = sim.create_bot();

    sim.inject_fault("getupdates", Fault::Status { status: 524 });
    assert_eq!(poll(&sim, &bot.token, "").await.status, 524);
    assert_eq!(
        poll(&sim, &bot.token, "").await.json()["ret"],
        0,
        "one-shot"
    );

    sim.inject_fault("getupdates", Fault::MalformedJson);
    let answer = poll(&sim, &bot.token, "").await;
    assert_eq!(answer.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&answer.text).is_err());

    sim.inject_fault("getupdates", Fault::SessionTimeout);
    assert_eq!(
        poll(&sim, &bot.token, "").await.json(),
        json!({ "errcode": -14, "errmsg": "session timeout" })
    );

    sim.inject_fault("sendmessage", Fault::EmptyBody);
    let answer = call(&sim, "sendmessage", &bot.token, json!({})).await;
    assert_eq!((answer.status, answer.text.as_str()), (200, ""));

    sim.inject_fault("msg/notifystart", Fault::Json { body: json!({}) });
    assert_eq!(
        call(&sim, "msg/notifystart", &bot.token, json!({}))
            .await
            .json(),
        json!({})
    );
    assert_eq!(
        call(&sim, "msg/notifystart", &bot.token, json!({}))
            .await
            .json(),
        json!({ "ret": 0, "errmsg": "" })
    );
}

#[tokio::test]
async fn a_delay_then_normal_service() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    sim.inject_fault("getconfig", Fault::Delay { ms: 300 });
    let start = Instant::now();
    let answer = call(
        &sim,
        "getconfig",
        &bot.token,
        json!({ "ilink_user_id": bot.user_id }),
    )
    .await;
    assert!(start.elapsed() >= Duration::from_millis(250));
    assert_eq!(answer.json()["ret"], 0);
}

#[tokio::test]
async fn faults_queue_up_and_can_be_set_over_http() {
    let sim = sim_with(|_| {}).await;
    let url = format!("{}ilink/bot/get_qrcode_status?qrcode=abc", sim.base_url());
    let http = reqwest::Client::new();
    for status in [500, 524] {
        let resp = http
            .post(format!("{}_sim/faults", sim.base_url()))
            .json(&json!({ "endpoint": "get_qrcode_status", "fault": { "kind": "status", "status": status } }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(http.get(&url).send().await.unwrap().status(), 500);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 524);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    let bad = http
        .post(format!("{}_sim/faults", sim.base_url()))
        .json(&json!({ "endpoint": "getupdates", "fault": { "kind": "explode" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn cdn_upload_faults() {
    let sim = sim_with(|_| {}).await;
    let url = format!(
        "{}/upload?encrypted_query_param=x&filekey=y",
        sim.cdn_base_url()
    );
    let http = reqwest::Client::new();
    sim.inject_fault("c2c/upload", Fault::Status { status: 500 });
    sim.inject_fault("c2c/upload", Fault::Status { status: 403 });
    sim.inject_fault("c2c/upload", Fault::EmptyBody);
    assert_eq!(http.post(&url).send().await.unwrap().status(), 500);
    assert_eq!(http.post(&url).send().await.unwrap().status(), 403);
    let no_header = http.post(&url).send().await.unwrap();
    assert_eq!(no_header.status(), 200);
    assert!(no_header.headers().get("x-encrypted-param").is_none());
    // Then the real checks again: this param is unknown.
    assert_eq!(http.post(&url).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn a_missing_cursor_is_served_but_noted() {
    let sim = sim_with(|k| k.poll_hold_ms = 100).await;
    let bot = sim.create_bot();
    let answer = call(&sim, "getupdates", &bot.token, json!({})).await;
    assert_eq!(answer.json()["ret"], 0);
    let logged = sim.requests().pop().unwrap();
    assert!(logged.violations[0].contains("get_updates_buf missing"));
}
