//! E2: one-shot faults answer the next request to their endpoint, then normal service
//! resumes.

mod common;

use std::time::{Duration, Instant};

use common::{call, poll, sim_with};
use ilink_sim::{Fault, FaultRule};
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

fn config_body(
    sim: &ilink_sim::Sim,
    bot: &ilink_sim::BotInfo,
) -> (String, reqwest::header::HeaderMap, String) {
    (
        format!("{}ilink/bot/getconfig", sim.base_url()),
        common::good_headers(&bot.token),
        common::envelope(json!({ "ilink_user_id": bot.user_id })).to_string(),
    )
}

#[tokio::test]
async fn reset_closes_the_connection_without_an_answer() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let (url, headers, body) = config_body(&sim, &bot);
    let http = reqwest::Client::new();
    sim.inject_fault("getconfig", Fault::Reset);
    let err = http
        .post(&url)
        .headers(headers.clone())
        .body(body.clone())
        .send()
        .await
        .expect_err("no response on a reset");
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");
    // The next request (a new connection) is served.
    let ok = http
        .post(&url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(sim.fault_hits()[0].fault, Fault::Reset);
}

#[tokio::test]
async fn hang_holds_until_the_client_gives_up_or_the_cap() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let (url, headers, body) = config_body(&sim, &bot);
    sim.inject_fault("getconfig", Fault::Hang { max_ms: 20_000 });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = impatient
        .post(&url)
        .headers(headers.clone())
        .body(body.clone())
        .send()
        .await
        .expect_err("hangs");
    assert!(err.is_timeout(), "{err:?}");

    // A patient client: the cap ends the hang by closing the connection.
    sim.inject_fault("getconfig", Fault::Hang { max_ms: 300 });
    let start = Instant::now();
    let err = reqwest::Client::new()
        .post(&url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .expect_err("closed at the cap");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(start.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn truncated_json_wrong_content_type_and_more() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let fields = json!({ "ilink_user_id": bot.user_id });

    sim.inject_fault("getconfig", Fault::TruncatedJson);
    let cut = call(&sim, "getconfig", &bot.token, fields.clone()).await;
    assert_eq!(cut.status, 200);
    assert!(cut.text.starts_with("{\""), "{:?}", cut.text);
    assert!(serde_json::from_str::<serde_json::Value>(&cut.text).is_err());
    let whole = call(&sim, "getconfig", &bot.token, fields.clone()).await;
    assert_eq!(whole.json()["ret"], 0);
    assert!(cut.text.len() <= whole.text.len() / 2 + 1);

    sim.inject_fault("getconfig", Fault::WrongContentType);
    let html = call(&sim, "getconfig", &bot.token, fields.clone()).await;
    assert_eq!(html.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        html.json()["ret"],
        0,
        "the body itself is the normal answer"
    );

    sim.inject_fault("getconfig", Fault::Status { status: 503 });
    assert_eq!(
        call(&sim, "getconfig", &bot.token, fields.clone())
            .await
            .status,
        503
    );
    sim.inject_fault("getconfig", Fault::EmptyBody);
    let empty = call(&sim, "getconfig", &bot.token, fields.clone()).await;
    assert_eq!((empty.status, empty.text.as_str()), (200, ""));
    sim.inject_fault("getconfig", Fault::MalformedJson);
    let bad = call(&sim, "getconfig", &bot.token, fields).await;
    assert!(serde_json::from_str::<serde_json::Value>(&bad.text).is_err());
}

/// What a client observes for one request, as a short label.
async fn outcome(
    http: &reqwest::Client,
    url: &str,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> String {
    match http
        .post(url)
        .headers(headers.clone())
        .body(body.to_owned())
        .send()
        .await
    {
        Err(err) if err.is_timeout() => "timeout".into(),
        Err(_) => "connection error".into(),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            let json = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            format!("{status} json={json}")
        }
    }
}

#[tokio::test]
async fn seeded_rules_give_the_same_outcomes_for_the_same_seed() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let (url, headers, body) = config_body(&sim, &bot);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let rules: Vec<FaultRule> = serde_json::from_value(json!([
        { "endpoint": "getconfig", "probability": 0.10, "fault": { "kind": "status", "status": 500 } },
        { "endpoint": "getconfig", "probability": 0.10, "fault": { "kind": "reset" } },
        { "endpoint": "*", "probability": 0.10, "fault": { "kind": "malformed_json" } },
        { "endpoint": "sendmessage", "probability": 1.0, "fault": { "kind": "empty_body" } },
    ]))
    .unwrap();
    let mut runs = Vec::new();
    for seed in [42, 42, 43] {
        sim.clear_faults();
        sim.set_fault_rules(seed, rules.clone());
        let mut seen = Vec::new();
        for _ in 0..50 {
            seen.push(outcome(&http, &url, &headers, &body).await);
        }
        runs.push(seen);
    }
    assert_eq!(runs[0], runs[1], "same seed, same outcomes");
    assert_ne!(runs[0], runs[2], "another seed, other outcomes");
    let faulted = runs[0].iter().filter(|o| *o != "200 json=true").count();
    assert!(
        (3..=30).contains(&faulted),
        "{faulted} of 50 faulted: {:?}",
        runs[0]
    );
    assert!(runs[0].iter().any(|o| o == "200 json=true"));
    assert_eq!(
        sim.fault_hits().len(),
        runs[2].iter().filter(|o| *o != "200 json=true").count()
    );
}

#[tokio::test]
async fn rules_over_http() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let http = reqwest::Client::new();
    let faults = format!("{}_sim/faults", sim.base_url());
    let resp = http
        .post(&faults)
        .json(&json!({ "seed": 5, "rules": [
            { "endpoint": "getconfig", "probability": 1.0, "fault": { "kind": "status", "status": 502 } },
            { "endpoint": "getconfig", "probability": 0.5, "fault": { "kind": "delay", "ms": 1 } },
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let fields = json!({ "ilink_user_id": bot.user_id });
    assert_eq!(
        call(&sim, "getconfig", &bot.token, fields.clone())
            .await
            .status,
        502
    );
    let listed: serde_json::Value = http
        .get(&faults)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["seed"], 5);
    assert_eq!(listed["rules"].as_array().unwrap().len(), 2);
    assert_eq!(listed["hits"][0]["fault"]["status"], 502);
    let bad = http
        .post(&faults)
        .json(&json!({ "seed": 1, "rules": [{ "endpoint": "x", "probability": 1.0, "fault": { "kind": "nope" } }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(http.delete(&faults).send().await.unwrap().status(), 200);
    assert_eq!(
        call(&sim, "getconfig", &bot.token, fields).await.status,
        200
    );
}
