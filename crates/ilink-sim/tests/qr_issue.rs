use ilink_sim::{Sim, SimConfig};
use serde_json::Value;

#[tokio::test]
async fn issues_a_qr_code_over_post_and_legacy_get() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}ilink/bot/get_bot_qrcode?bot_type=3", sim.base_url());

    let post: Value = http
        .post(&url)
        .json(&serde_json::json!({ "local_token_list": ["t1"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let qrcode = post["qrcode"].as_str().unwrap();
    assert_eq!(qrcode.len(), 32);
    assert!(qrcode.bytes().all(|b| b.is_ascii_hexdigit()));
    let img = post["qrcode_img_content"].as_str().unwrap();
    assert!(img.contains(&format!("qrcode={qrcode}")), "{img}");

    let get: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_ne!(get["qrcode"], post["qrcode"], "each QR is new");
}

#[tokio::test]
async fn bot_type_is_required() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}ilink/bot/get_bot_qrcode", sim.base_url()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn health_probe_answers() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let body: Value = reqwest::get(format!("{}_sim/health", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["ok"], true);
}

#[tokio::test]
async fn a_malformed_token_list_is_rejected() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let resp = reqwest::Client::new()
        .post(format!(
            "{}ilink/bot/get_bot_qrcode?bot_type=3",
            sim.base_url()
        ))
        .json(&serde_json::json!({ "local_token_list": "not-a-list" }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
}
