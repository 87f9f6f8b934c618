//! E4–E6: the QR status long-poll and the scripted scanner.

mod common;

use std::time::{Duration, Instant};

use common::{poll, sim_with};
use ilink_sim::Sim;
use serde_json::{json, Value};

async fn issue(sim: &Sim, local_tokens: &[&str]) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!(
            "{}ilink/bot/get_bot_qrcode?bot_type=3",
            sim.base_url()
        ))
        .json(&json!({ "local_token_list": local_tokens }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let qrcode = body["qrcode"].as_str().unwrap().to_owned();
    assert_eq!(sim.latest_qrcode().as_deref(), Some(qrcode.as_str()));
    qrcode
}

async fn status(sim: &Sim, qrcode: &str, verify_code: Option<&str>) -> Value {
    let mut url = format!(
        "{}ilink/bot/get_qrcode_status?qrcode={qrcode}",
        sim.base_url()
    );
    if let Some(code) = verify_code {
        url.push_str(&format!("&verify_code={code}"));
    }
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn scan_verify_and_confirm() {
    let sim = sim_with(|k| k.qr_hold_ms = 20_000).await;
    let qrcode = issue(&sim, &[]).await;
    // A new QR answers `wait` at once (nothing reported yet).
    assert_eq!(
        status(&sim, &qrcode, None).await,
        json!({ "ret": 0, "status": "wait" })
    );

    // The next poll is held until the phone scans.
    let start = Instant::now();
    let (scanned, ()) = tokio::join!(status(&sim, &qrcode, None), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sim.scan_qr(&qrcode).unwrap();
    });
    assert!(start.elapsed() < Duration::from_secs(10), "returned early");
    assert_eq!(scanned["status"], "scaned");

    sim.ask_verify_code(&qrcode, "42").unwrap();
    assert_eq!(
        status(&sim, &qrcode, None).await["status"],
        "need_verifycode"
    );
    assert_eq!(
        status(&sim, &qrcode, Some("41")).await["status"],
        "need_verifycode"
    );
    assert_eq!(status(&sim, &qrcode, Some("42")).await["status"], "scaned");

    let bot = sim.confirm_qr(&qrcode, None).unwrap().unwrap();
    let confirmed = status(&sim, &qrcode, None).await;
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["bot_token"], bot.token.as_str());
    assert_eq!(confirmed["ilink_bot_id"], bot.bot_id.as_str());
    assert_eq!(confirmed["ilink_user_id"], bot.user_id.as_str());
    assert_eq!(confirmed["ret"], 0, "as the real server sends it");
    assert_eq!(
        confirmed["baseurl"],
        sim.base_url().trim_end_matches('/'),
        "never a real host, and no trailing slash, as the real server"
    );

    sim.update_knobs(|k| k.poll_hold_ms = 100);
    assert_eq!(poll(&sim, &bot.token, "").await.json()["ret"], 0);
}

#[tokio::test]
async fn too_many_wrong_codes_block_the_qr() {
    let sim = sim_with(|k| k.verify_code_attempts = 2).await;
    let qrcode = issue(&sim, &[]).await;
    sim.ask_verify_code(&qrcode, "1234").unwrap();
    assert_eq!(
        status(&sim, &qrcode, Some("0000")).await["status"],
        "need_verifycode"
    );
    assert_eq!(
        status(&sim, &qrcode, Some("1111")).await["status"],
        "verify_code_blocked"
    );
}

#[tokio::test]
async fn a_qr_expires_after_its_lifetime_or_on_demand() {
    let sim = sim_with(|k| {
        k.qr_lifetime_ms = 300;
        k.qr_hold_ms = 20_000;
    })
    .await;
    let qrcode = issue(&sim, &[]).await;
    // "wait" first unless this machine is slow enough that the QR already expired.
    let first = status(&sim, &qrcode, None).await["status"].clone();
    let start = Instant::now();
    if first == "wait" {
        assert_eq!(status(&sim, &qrcode, None).await["status"], "expired");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the hold ends at expiry"
        );
    } else {
        assert_eq!(first, "expired");
    }

    sim.update_knobs(|k| k.qr_lifetime_ms = 300_000);
    let other = issue(&sim, &[]).await;
    sim.expire_qr(&other).unwrap();
    assert_eq!(status(&sim, &other, None).await["status"], "expired");
    assert!(sim.confirm_qr("no-such-qr", None).is_err());
}

#[tokio::test]
async fn binding_the_same_user_again_redirects_or_revokes() {
    let sim = sim_with(|k| k.poll_hold_ms = 100).await;
    let first = issue(&sim, &[]).await;
    let old = sim.confirm_qr(&first, None).unwrap().unwrap();

    // The same installation (its token is in local_token_list): binded_redirect.
    let again = issue(&sim, &["other-token", &old.token]).await;
    assert_eq!(sim.confirm_qr(&again, Some(&old.user_id)).unwrap(), None);
    assert_eq!(
        status(&sim, &again, None).await,
        json!({ "ret": 0, "status": "binded_redirect" })
    );
    assert_eq!(
        poll(&sim, &old.token, "").await.json()["ret"],
        0,
        "still live"
    );

    // Another installation: a new bot for the same user, and the old token goes stale.
    let elsewhere = issue(&sim, &[]).await;
    let new = sim
        .confirm_qr(&elsewhere, Some(&old.user_id))
        .unwrap()
        .unwrap();
    assert_eq!(new.user_id, old.user_id);
    assert_ne!(new.bot_id, old.bot_id);
    assert_eq!(poll(&sim, &old.token, "").await.json()["errcode"], -14);
    assert_eq!(poll(&sim, &new.token, "").await.json()["ret"], 0);
}

#[tokio::test]
async fn raw_answers_and_unknown_qrs() {
    let sim = sim_with(|k| k.qr_hold_ms = 200).await;
    let qrcode = issue(&sim, &[]).await;
    for answer in [
        json!({ "status": "scaned_but_redirect", "redirect_host": "127.0.0.1:9" }),
        json!({ "status": "some_new_status" }),
        json!({ "status": "confirmed", "bot_token": "t", "baseurl": "" }),
    ] {
        sim.set_qr_answer(&qrcode, answer.clone()).unwrap();
        assert_eq!(status(&sim, &qrcode, None).await, answer);
    }
    assert_eq!(
        status(&sim, "0123", None).await,
        json!({ "ret": 0, "status": "expired" })
    );
    let resp = reqwest::get(format!("{}ilink/bot/get_qrcode_status", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn the_qr_script_can_be_driven_over_http() {
    let sim = sim_with(|k| k.qr_hold_ms = 200).await;
    let qrcode = issue(&sim, &[]).await;
    let http = reqwest::Client::new();
    let control = |path: String| http.post(format!("{}_sim/qr/{qrcode}/{path}", sim.base_url()));
    assert_eq!(control("scan".into()).send().await.unwrap().status(), 200);
    assert_eq!(status(&sim, &qrcode, None).await["status"], "scaned");
    let resp = control("confirm".into()).send().await.unwrap();
    let bot: Value = resp.json().await.unwrap();
    let confirmed = status(&sim, &qrcode, None).await;
    assert_eq!(confirmed["bot_token"], bot["bot"]["token"]);
    let latest: Value = http
        .get(format!("{}_sim/qr/latest", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(latest["qrcode"], qrcode.as_str());
}

#[tokio::test]
async fn a_redirected_qr_is_answered_only_on_the_redirect_host() {
    let sim = sim_with(|k| k.qr_hold_ms = 200).await;
    let qrcode = issue(&sim, &[]).await;
    let host = sim.redirect_qr(&qrcode).unwrap();
    assert_ne!(format!("http://{host}/"), sim.base_url());
    let on_primary = status(&sim, &qrcode, None).await;
    assert_eq!(
        on_primary,
        json!({ "ret": 0, "status": "scaned_but_redirect", "redirect_host": host })
    );
    let on_redirect = |sim_host: String| {
        let qrcode = qrcode.clone();
        async move {
            reqwest::get(format!(
                "http://{sim_host}/ilink/bot/get_qrcode_status?qrcode={qrcode}"
            ))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
        }
    };
    assert_eq!(on_redirect(host.clone()).await["status"], "scaned");
    let bot = sim.confirm_qr(&qrcode, None).unwrap().unwrap();
    let confirmed = on_redirect(host.clone()).await;
    assert_eq!(confirmed["ilink_bot_id"], bot.bot_id.as_str());
    // The primary host still only redirects.
    assert_eq!(
        status(&sim, &qrcode, None).await["status"],
        "scaned_but_redirect"
    );
    // Asking the first host again after being told is noted, not refused: the first
    // answer carries no note, the later one does.
    let polls: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == "get_qrcode_status")
        .collect();
    let noted: Vec<bool> = polls.iter().map(|r| !r.notes.is_empty()).collect();
    assert_eq!(noted, [false, false, false, true]);
    assert!(
        polls[3].notes[0].contains("redirect_host"),
        "{:?}",
        polls[3].notes
    );
}

#[tokio::test]
async fn qr_calls_are_logged_without_secrets() {
    let sim = sim_with(|k| k.qr_hold_ms = 100).await;
    let qrcode = issue(&sim, &["secret-token"]).await;
    status(&sim, &qrcode, Some("1234")).await;
    let log = sim.requests();
    let issued = log.iter().find(|r| r.endpoint == "get_bot_qrcode").unwrap();
    assert_eq!(issued.body["local_token_list_len"], 1);
    assert!(!issued.body.to_string().contains("secret-token"));
    // reqwest's bare POST sends none of the iLink headers: noted, not rejected.
    assert!(issued.violations.iter().any(|v| v.contains("iLink-App-Id")));
    let polled = log
        .iter()
        .find(|r| r.endpoint == "get_qrcode_status")
        .unwrap();
    assert_eq!(polled.body["verify_code"], true);
    assert!(!polled.body.to_string().contains("1234"));
}

#[tokio::test]
async fn auto_login_confirms_by_itself_and_greets() {
    let sim = sim_with(|k| {
        k.qr_hold_ms = 20_000;
        k.poll_hold_ms = 100;
        k.auto_login_ms = Some(100);
        k.auto_login_greeting = Some("hello".to_owned());
    })
    .await;
    let qrcode = issue(&sim, &[]).await;
    let mut seen = Vec::new();
    let start = Instant::now();
    let confirmed = loop {
        let answer = status(&sim, &qrcode, None).await;
        seen.push(answer["status"].as_str().unwrap().to_owned());
        if answer["status"] == "confirmed" {
            break answer;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{seen:?}");
    };
    // "scaned" may be skipped by a slow poller; the order of what was seen must hold.
    assert!(
        seen.iter()
            .all(|s| ["wait", "scaned", "confirmed"].contains(&s.as_str())),
        "{seen:?}"
    );
    let token = confirmed["bot_token"].as_str().unwrap();
    let msgs = poll(&sim, token, "").await.json()["msgs"].clone();
    assert_eq!(msgs[0]["item_list"][0]["text_item"]["text"], "hello");
    assert_eq!(msgs[0]["from_user_id"], confirmed["ilink_user_id"]);
}
