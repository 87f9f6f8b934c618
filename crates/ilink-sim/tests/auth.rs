//! E3: header, envelope and token checks, shown on notifystart (every authenticated
//! endpoint shares them).

mod common;

use common::{envelope, good_headers, post_raw, sim_with};
use reqwest::header::HeaderValue;
use serde_json::{json, Value};

fn body() -> Vec<u8> {
    envelope(json!({})).to_string().into_bytes()
}

#[tokio::test]
async fn a_well_formed_request_passes() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let answer = post_raw(&sim, "msg/notifystart", good_headers(&bot.token), body()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json(), json!({ "ret": 0, "errmsg": "" }));
    assert!(sim.requests().last().unwrap().violations.is_empty());
}

/// Each case removes or breaks one header; all of them are HTTP 400 in strict mode.
#[tokio::test]
async fn strict_mode_rejects_each_bad_header() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("authorizationtype", None, "AuthorizationType"),
        ("authorizationtype", Some("bearer"), "AuthorizationType"),
        ("authorization", Some("Basic abc"), "Authorization"),
        ("authorization", Some("Bearer "), "Authorization"),
        ("ilink-app-id", None, "iLink-App-Id"),
        ("ilink-app-id", Some(""), "iLink-App-Id"),
        ("ilink-app-clientversion", None, "ClientVersion"),
        ("ilink-app-clientversion", Some("2.4.9"), "ClientVersion"),
        (
            "ilink-app-clientversion",
            Some("4294967296"),
            "ClientVersion",
        ),
        ("x-wechat-uin", None, "X-WECHAT-UIN"),
        ("x-wechat-uin", Some("12345"), "X-WECHAT-UIN"),
        ("x-wechat-uin", Some("YWJj"), "X-WECHAT-UIN"),
        ("x-wechat-uin", Some("MTIzNDU2Nzg5MDE="), "X-WECHAT-UIN"),
        ("content-type", Some("text/plain"), "Content-Type"),
    ];
    for (name, value, expect) in cases {
        let mut headers = good_headers(&bot.token);
        match value {
            None => {
                headers.remove(*name);
            }
            Some(v) => {
                headers.insert(*name, HeaderValue::from_str(v).unwrap());
            }
        }
        let answer = post_raw(&sim, "msg/notifystart", headers, body()).await;
        assert_eq!(answer.status, 400, "{name}={value:?}: {}", answer.text);
        assert!(answer.text.contains(expect), "{name}: {}", answer.text);
        assert!(answer.headers.contains_key("x-error-message"));
    }
    assert!(sim.presence_events(&bot.bot_id).unwrap().is_empty());
}

#[tokio::test]
async fn strict_mode_rejects_a_bad_envelope() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let bodies: Vec<(Value, &str)> = vec![
        (json!({}), "base_info missing"),
        (
            json!({ "base_info": "2.4.9" }),
            "base_info must be an object",
        ),
        (json!({ "base_info": {} }), "channel_version"),
        (
            json!({ "base_info": { "channel_version": "" } }),
            "channel_version",
        ),
    ];
    for (body, expect) in bodies {
        let answer = post_raw(
            &sim,
            "msg/notifystart",
            good_headers(&bot.token),
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(answer.text.contains(expect), "{body}: {}", answer.text);
    }
    let ok = json!({ "base_info": { "channel_version": "2.4.9", "bot_agent": "MyBot/1.2.0 (built on linux)" } });
    let answer = post_raw(
        &sim,
        "msg/notifystart",
        good_headers(&bot.token),
        ok.to_string().into_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn a_bad_bot_agent_is_noted_in_every_mode_and_refused_only_on_request() {
    let bad = [
        json!({ "base_info": { "channel_version": "2.4.9", "bot_agent": "My Bot" } }),
        json!({ "base_info": { "channel_version": "2.4.9", "bot_agent": 7 } }),
    ];
    for strict in [true, false] {
        let sim = sim_with(|k| k.strict_headers = strict).await;
        let bot = sim.create_bot();
        for body in &bad {
            let answer = post_raw(
                &sim,
                "msg/notifystart",
                good_headers(&bot.token),
                body.to_string().into_bytes(),
            )
            .await;
            assert_eq!(
                answer.status, 200,
                "strict={strict} {body}: {}",
                answer.text
            );
            let logged = sim.requests().pop().unwrap();
            assert!(logged.violations.is_empty(), "{:?}", logged.violations);
            assert!(
                logged.notes.iter().any(|n| n.contains("bot_agent")),
                "{:?}",
                logged.notes
            );
        }
    }
    let sim = sim_with(|k| k.reject_bad_bot_agent = true).await;
    let bot = sim.create_bot();
    for body in &bad {
        let answer = post_raw(
            &sim,
            "msg/notifystart",
            good_headers(&bot.token),
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(answer.text.contains("bot_agent"), "{}", answer.text);
    }
}

#[tokio::test]
async fn a_path_with_a_double_slash_is_a_logged_violation_not_a_silent_404() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    // A client joining the base (which ends in `/`) with `/ilink/bot/getupdates`.
    let resp = reqwest::Client::new()
        .post(format!("{}/ilink/bot/getupdates", sim.base_url()))
        .headers(good_headers(&bot.token))
        .body(r#"{"get_updates_buf":""}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(resp.headers().contains_key("x-error-message"));
    let text = resp.text().await.unwrap();
    assert!(text.contains("//"), "{text}");
    let logged = sim.requests().pop().expect("logged");
    assert!(
        logged
            .violations
            .iter()
            .any(|v| v.contains("contains `//`")),
        "{:?}",
        logged.violations
    );
    assert_eq!(logged.body["get_updates_buf"], "");
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_rejected_even_when_lenient() {
    let sim = sim_with(|k| k.strict_headers = false).await;
    let bot = sim.create_bot();
    for body in [&b"{not json"[..], b"[1,2]", b""] {
        let answer = post_raw(
            &sim,
            "msg/notifystart",
            good_headers(&bot.token),
            body.to_vec(),
        )
        .await;
        assert_eq!(answer.status, 400, "{:?}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn lenient_mode_serves_and_records_header_problems() {
    let sim = sim_with(|k| k.strict_headers = false).await;
    let bot = sim.create_bot();
    let mut headers = good_headers(&bot.token);
    headers.remove("ilink-app-id");
    headers.insert("x-wechat-uin", HeaderValue::from_static("not-base64!"));
    let answer = post_raw(&sim, "msg/notifystart", headers, body()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let logged = sim.requests().pop().unwrap();
    assert_eq!(logged.endpoint, "msg/notifystart");
    assert_eq!(logged.violations.len(), 2, "{:?}", logged.violations);

    // AuthorizationType stays mandatory in lenient mode.
    let mut headers = good_headers(&bot.token);
    headers.remove("authorizationtype");
    assert_eq!(
        post_raw(&sim, "msg/notifystart", headers, body())
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn missing_unknown_and_revoked_tokens_get_session_timeout() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let want = json!({ "ret": -14, "errcode": -14, "errmsg": "session timeout" });

    let mut headers = good_headers(&bot.token);
    headers.remove("authorization");
    let answer = post_raw(&sim, "msg/notifystart", headers, body()).await;
    assert_eq!((answer.status, answer.json()), (200, want.clone()));

    let answer = post_raw(&sim, "msg/notifystart", good_headers("nope"), body()).await;
    assert_eq!(answer.json(), want);

    sim.revoke_token(&bot.bot_id).unwrap();
    let answer = post_raw(&sim, "msg/notifystart", good_headers(&bot.token), body()).await;
    assert_eq!(answer.json(), want);
}
