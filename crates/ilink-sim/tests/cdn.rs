//! E14–E16: getuploadurl, the CDN upload and download, media items in sendmessage and
//! injected inbound media. Ciphertexts come from the spec's known-answer vectors
//! (§10.1), so the emulator's crypto is checked against independent values.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{call, poll, sim_with};
use ilink_sim::{BotInfo, InboundMedia, KeyForm, MediaKind, Sim, UploadUrlMode};
use serde_json::{json, Value};

const KEY_HEX: &str = "00112233445566778899aabbccddeeff";
const FILEKEY: &str = "0123456789abcdef0123456789abcdef";
const HELLO_CT: &str = "c1727c593f54b2747b5ef73976b6999c";
const HELLO_MD5: &str = "5eb63bbbe01eeed093cb22bb8f5acdc3";
const A_CT: &str = "fd73dc5d6c2b90514593708cf0f11ddc";
/// Spec §10.3.
const AES_KEY_B64_HEX: &str = "MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY=";
const AES_KEY_B64_RAW: &str = "ABEiM0RVZneImaq7zN3u/w==";

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn enc(text: &str) -> String {
    text.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

fn upload_request(bot: &BotInfo) -> Value {
    json!({
        "filekey": FILEKEY, "media_type": 1, "to_user_id": bot.user_id,
        "rawsize": 11, "rawfilemd5": HELLO_MD5, "filesize": 16,
        "no_need_thumb": true, "aeskey": KEY_HEX,
    })
}

async fn upload_param(sim: &Sim, bot: &BotInfo) -> String {
    let body = call(sim, "getuploadurl", &bot.token, upload_request(bot))
        .await
        .json();
    body["upload_param"]
        .as_str()
        .expect("upload_param")
        .to_owned()
}

async fn cdn_post(sim: &Sim, param: &str, filekey: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!(
            "{}/upload?encrypted_query_param={}&filekey={filekey}",
            sim.cdn_base_url(),
            enc(param)
        ))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Uploads "hello world" and returns the download param.
async fn upload_hello(sim: &Sim, bot: &BotInfo) -> String {
    let param = upload_param(sim, bot).await;
    let resp = cdn_post(sim, &param, FILEKEY, unhex(HELLO_CT)).await;
    assert_eq!(resp.status(), 200);
    resp.headers()["x-encrypted-param"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn media_msg(bot: &BotInfo, token: &str, item: Value) -> Value {
    json!({ "msg": {
        "to_user_id": bot.user_id, "message_type": 2, "message_state": 2,
        "context_token": token, "item_list": [item],
    }})
}

#[tokio::test]
async fn upload_download_and_send_an_image() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let download = upload_hello(&sim, &bot).await;
    assert_eq!(
        sim.cdn_plaintext(&download).as_deref(),
        Some(&b"hello world"[..])
    );

    let resp = reqwest::get(format!(
        "{}/download?encrypted_query_param={}",
        sim.cdn_base_url(),
        enc(&download)
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), unhex(HELLO_CT));

    sim.inject_text(&bot.bot_id, &bot.user_id, "send me a picture")
        .unwrap();
    let token = sim
        .context_token(&bot.bot_id, &bot.user_id)
        .unwrap()
        .unwrap();
    let image = |aes_key: &str, mid_size: Value| {
        json!({ "type": 2, "image_item": {
            "media": { "encrypt_query_param": download, "aes_key": aes_key, "encrypt_type": 1 },
            "mid_size": mid_size,
        }})
    };
    let ok = call(
        &sim,
        "sendmessage",
        &bot.token,
        media_msg(&bot, &token, image(AES_KEY_B64_HEX, json!(16))),
    )
    .await;
    assert_eq!(ok.json()["ret"], 0, "{}", ok.text);
    let raw = call(
        &sim,
        "sendmessage",
        &bot.token,
        media_msg(&bot, &token, image(AES_KEY_B64_RAW, json!(16))),
    )
    .await;
    assert_eq!(raw.json()["ret"], 0, "accepted, but flagged");
    let sent = sim.sent_messages(&bot.bot_id).unwrap();
    assert!(sent[0].flags.is_empty(), "{:?}", sent[0].flags);
    assert!(
        sent[1].flags[0].contains("undecryptable"),
        "{:?}",
        sent[1].flags
    );

    let other_key = STANDARD.encode("ffeeddccbbaa99887766554433221100");
    for (item, why) in [
        (
            image(AES_KEY_B64_HEX, json!(11)),
            "mid_size is the ciphertext length",
        ),
        (image(AES_KEY_B64_HEX, json!("16")), "mid_size is a number"),
        (image(&other_key, json!(16)), "wrong key"),
        (image("not base64!", json!(16)), "bad base64"),
        (
            json!({ "type": 2, "image_item": { "media": { "encrypt_query_param": "nope", "aes_key": AES_KEY_B64_HEX }, "mid_size": 16 } }),
            "unknown param",
        ),
    ] {
        let answer = call(
            &sim,
            "sendmessage",
            &bot.token,
            media_msg(&bot, &token, item),
        )
        .await;
        assert_eq!(
            answer.json(),
            json!({ "ret": -3, "errmsg": "invalid arguments" }),
            "{why}"
        );
        assert!(
            !sim.requests().last().unwrap().violations.is_empty(),
            "{why}"
        );
    }
}

#[tokio::test]
async fn file_and_video_items_check_their_sizes() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let download = upload_hello(&sim, &bot).await;
    sim.inject_text(&bot.bot_id, &bot.user_id, "hi").unwrap();
    let token = sim
        .context_token(&bot.bot_id, &bot.user_id)
        .unwrap()
        .unwrap();
    let media =
        json!({ "encrypt_query_param": download, "aes_key": AES_KEY_B64_HEX, "encrypt_type": 1 });
    let cases = [
        (
            json!({ "type": 4, "file_item": { "media": media, "file_name": "a.txt", "len": "11" } }),
            0,
        ),
        (
            json!({ "type": 4, "file_item": { "media": media, "file_name": "a.txt", "len": 11 } }),
            -3,
        ),
        (
            json!({ "type": 4, "file_item": { "media": media, "file_name": "a.txt", "len": "16" } }),
            -3,
        ),
        (
            json!({ "type": 5, "video_item": { "media": media, "video_size": 16 } }),
            0,
        ),
        (
            json!({ "type": 5, "video_item": { "media": media, "video_size": 11 } }),
            -3,
        ),
        (json!({ "type": 5, "video_item": { "video_size": 16 } }), -3),
    ];
    for (item, ret) in cases {
        let answer = call(
            &sim,
            "sendmessage",
            &bot.token,
            media_msg(&bot, &token, item.clone()),
        )
        .await;
        assert_eq!(answer.json()["ret"], ret, "{item}");
    }
}

#[tokio::test]
async fn getuploadurl_validates_each_field() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let changes = [
        ("filekey", json!("ABCDEF0123456789ABCDEF0123456789")),
        ("filekey", json!("0123")),
        ("media_type", json!(5)),
        ("media_type", json!(0)),
        ("to_user_id", json!("")),
        ("rawfilemd5", json!("xyz")),
        ("filesize", json!(11)),
        ("filesize", json!(32)),
        ("rawsize", json!("11")),
        ("no_need_thumb", json!(false)),
        ("aeskey", json!(AES_KEY_B64_HEX)),
        ("aeskey", Value::Null),
    ];
    for (field, value) in changes {
        let mut body = upload_request(&bot);
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value.clone();
        }
        let answer = call(&sim, "getuploadurl", &bot.token, body).await;
        assert_eq!(
            answer.json(),
            json!({ "ret": -3, "errmsg": "invalid arguments" }),
            "{field}={value}"
        );
        let logged = sim.requests().pop().unwrap();
        assert!(
            logged.violations.iter().any(|v| v.contains(field)),
            "{field}: {:?}",
            logged.violations
        );
    }
    // Spec §10.2: 0 bytes still pad to 16.
    let mut empty = upload_request(&bot);
    empty["rawsize"] = json!(0);
    empty["filesize"] = json!(16);
    assert!(call(&sim, "getuploadurl", &bot.token, empty).await.json()["upload_param"].is_string());
}

#[tokio::test]
async fn the_upload_url_mode_decides_the_fields() {
    let sim = sim_with(|k| k.upload_url_mode = UploadUrlMode::Both).await;
    let bot = sim.create_bot();
    let both = call(&sim, "getuploadurl", &bot.token, upload_request(&bot))
        .await
        .json();
    let param = both["upload_param"].as_str().unwrap();
    let full = both["upload_full_url"].as_str().unwrap();
    assert_eq!(
        full,
        format!(
            "{}/upload?encrypted_query_param={}&filekey={FILEKEY}",
            sim.cdn_base_url(),
            enc(param)
        )
    );
    let resp = reqwest::Client::new()
        .post(full)
        .body(unhex(HELLO_CT))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    sim.update_knobs(|k| k.upload_url_mode = UploadUrlMode::FullUrl);
    let full_only = call(&sim, "getuploadurl", &bot.token, upload_request(&bot))
        .await
        .json();
    assert!(full_only.get("upload_param").is_none());
    assert!(full_only["upload_full_url"].is_string());
}

#[tokio::test]
async fn bad_uploads_get_400_with_a_reason() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let param = upload_param(&sim, &bot).await;
    let cases: Vec<(String, &str, Vec<u8>, &str)> = vec![
        ("bogus".to_owned(), FILEKEY, unhex(HELLO_CT), "unknown"),
        (
            param.clone(),
            "ffffffffffffffffffffffffffffffff",
            unhex(HELLO_CT),
            "filekey",
        ),
        (
            param.clone(),
            FILEKEY,
            unhex(&format!("{HELLO_CT}{A_CT}")),
            "expected filesize",
        ),
        (
            param.clone(),
            FILEKEY,
            unhex(&HELLO_CT[..30]),
            "expected filesize",
        ),
        // "a" encrypted with the same key: valid padding, but 1 byte, not 11.
        (param.clone(), FILEKEY, unhex(A_CT), "rawsize"),
    ];
    for (param, filekey, body, reason) in cases {
        let resp = cdn_post(&sim, &param, filekey, body).await;
        assert_eq!(resp.status(), 400, "{reason}");
        let header = resp.headers()["x-error-message"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(header.contains(reason), "{header}");
        assert!(resp.headers().get("x-encrypted-param").is_none());
    }

    // A param sent without percent-encoding arrives mangled ('+' reads as a space).
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/upload?encrypted_query_param={param}&filekey={FILEKEY}",
            sim.cdn_base_url()
        ))
        .body(unhex(HELLO_CT))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // The declared MD5 must match the plaintext.
    let mut wrong_md5 = upload_request(&bot);
    wrong_md5["rawfilemd5"] = json!("00000000000000000000000000000000");
    let p = call(&sim, "getuploadurl", &bot.token, wrong_md5)
        .await
        .json()["upload_param"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = cdn_post(&sim, &p, FILEKEY, unhex(HELLO_CT)).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers()["x-error-message"]
        .to_str()
        .unwrap()
        .contains("MD5"));

    // Expired params are refused.
    sim.update_knobs(|k| k.upload_param_ttl_ms = 0);
    let p = upload_param(&sim, &bot).await;
    assert_eq!(
        cdn_post(&sim, &p, FILEKEY, unhex(HELLO_CT)).await.status(),
        400
    );

    // PUT is served, with a note in the request log.
    sim.update_knobs(|k| k.upload_param_ttl_ms = 60_000);
    let p = upload_param(&sim, &bot).await;
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/upload?encrypted_query_param={}&filekey={FILEKEY}",
            sim.cdn_base_url(),
            enc(&p)
        ))
        .body(unhex(HELLO_CT))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(sim.requests().last().unwrap().violations[0].contains("PUT"));
}

#[tokio::test]
async fn unknown_downloads_are_500_with_an_empty_body() {
    let sim = sim_with(|_| {}).await;
    let resp = reqwest::get(format!(
        "{}/download?encrypted_query_param=nope",
        sim.cdn_base_url()
    ))
    .await
    .unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn injected_media_carries_its_key_in_the_chosen_form() {
    let sim = sim_with(|k| k.poll_hold_ms = 100).await;
    let bot = sim.create_bot();
    let bytes = b"\x89PNG fake image bytes".to_vec();
    let inject = |kind: MediaKind, key_form: KeyForm, full_url: bool| {
        sim.inject_media(
            &bot.bot_id,
            &bot.user_id,
            InboundMedia {
                kind,
                bytes: bytes.clone(),
                key_form,
                full_url,
            },
        )
        .unwrap()
    };
    inject(MediaKind::Image, KeyForm::HexAndRawBase64, true);
    inject(MediaKind::Image, KeyForm::Unencrypted, false);
    inject(
        MediaKind::File {
            name: "r.pdf".into(),
        },
        KeyForm::HexBase64,
        false,
    );
    inject(
        MediaKind::Voice {
            text: Some("你好".into()),
        },
        KeyForm::HexBase64,
        false,
    );
    let msgs = poll(&sim, &bot.token, "").await.json()["msgs"].clone();

    let image = &msgs[0]["item_list"][0];
    assert_eq!(image["type"], 2);
    let hex_key = image["image_item"]["aeskey"].as_str().unwrap();
    let raw = STANDARD
        .decode(image["image_item"]["media"]["aes_key"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, unhex(hex_key));
    let full_url = image["image_item"]["media"]["full_url"].as_str().unwrap();
    let param = image["image_item"]["media"]["encrypt_query_param"]
        .as_str()
        .unwrap();
    let ciphertext = reqwest::get(full_url).await.unwrap().bytes().await.unwrap();
    assert_eq!(ciphertext.len(), 32, "padded");
    assert_eq!(image["image_item"]["mid_size"], 32);
    assert_eq!(sim.cdn_plaintext(param), Some(bytes.clone()));

    let plain = &msgs[1]["item_list"][0]["image_item"];
    assert!(plain.get("aeskey").is_none() && plain["media"].get("aes_key").is_none());
    let url = format!(
        "{}/download?encrypted_query_param={}",
        sim.cdn_base_url(),
        enc(plain["media"]["encrypt_query_param"].as_str().unwrap())
    );
    assert_eq!(
        reqwest::get(url)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        bytes
    );

    let file = &msgs[2]["item_list"][0]["file_item"];
    assert_eq!(file["file_name"], "r.pdf");
    assert_eq!(file["len"], bytes.len().to_string());
    let key = STANDARD
        .decode(file["media"]["aes_key"].as_str().unwrap())
        .unwrap();
    assert!(key.len() == 32 && key.iter().all(u8::is_ascii_hexdigit));

    assert_eq!(msgs[3]["item_list"][0]["voice_item"]["text"], "你好");
}

#[tokio::test]
async fn arbitrary_items_get_the_inbound_envelope() {
    let sim = sim_with(|k| k.poll_hold_ms = 100).await;
    let bot = sim.create_bot();
    let first = sim
        .inject_text(&bot.bot_id, &bot.user_id, "original")
        .unwrap();
    let quote =
        json!({ "type": 1, "text_item": { "text": "this" }, "ref_msg": { "svr_id": first } });
    sim.inject_items(&bot.bot_id, &bot.user_id, vec![quote])
        .unwrap();
    let answer = poll(&sim, &bot.token, "").await;
    assert!(
        answer.text.contains(&format!("\"svr_id\":{first}")),
        "a bare number"
    );
    let item = &answer.json()["msgs"][1]["item_list"][0];
    assert_eq!(item["is_completed"], true);
    assert!(item["msg_id"].as_str().unwrap().starts_with("v1:"));
}

#[tokio::test]
async fn large_uploads_reach_the_checks() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let raw = 3 * 1024 * 1024 - 1;
    let mut request = upload_request(&bot);
    request["rawsize"] = json!(raw);
    request["filesize"] = json!(raw + 1);
    let param = call(&sim, "getuploadurl", &bot.token, request).await.json()["upload_param"]
        .as_str()
        .unwrap()
        .to_owned();
    // Not a real ciphertext, so it fails — but on our checks, not on a body limit (413).
    let resp = cdn_post(&sim, &param, FILEKEY, vec![0u8; raw + 1]).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().contains_key("x-error-message"));
}

/// Decrypts AES-128-ECB with PKCS#7 padding.
fn ecb_decrypt(key: &[u8], data: &[u8]) -> Vec<u8> {
    use aes::cipher::generic_array::GenericArray;
    use aes::cipher::{BlockDecrypt, KeyInit};
    let cipher = aes::Aes128::new(GenericArray::from_slice(key));
    let mut out = data.to_vec();
    for block in out.chunks_exact_mut(16) {
        cipher.decrypt_block(GenericArray::from_mut_slice(block));
    }
    let pad = *out.last().unwrap() as usize;
    assert!((1..=16).contains(&pad));
    out.truncate(out.len() - pad);
    out
}

#[tokio::test]
async fn injected_voice_is_real_silk_that_decrypts_from_the_cdn() {
    let sim = sim_with(|k| k.poll_hold_ms = 100).await;
    let bot = sim.create_bot();
    sim.inject_media(
        &bot.bot_id,
        &bot.user_id,
        InboundMedia::silk_voice(Some("语音".into())),
    )
    .unwrap();
    // Over HTTP, without bytes: the sim's clip, no transcript.
    let resp = reqwest::Client::new()
        .post(format!("{}_sim/bots/{}/inject_media", sim.base_url(), bot.bot_id))
        .json(&json!({ "peer_id": bot.user_id, "kind": "voice", "key_form": "hex_base64", "full_url": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let msgs = poll(&sim, &bot.token, "").await.json()["msgs"].clone();
    assert_eq!(msgs.as_array().unwrap().len(), 2);
    for (i, msg) in msgs.as_array().unwrap().iter().enumerate() {
        let voice = &msg["item_list"][0]["voice_item"];
        assert_eq!(voice["encode_type"], 6);
        assert_eq!(voice["sample_rate"], 24000);
        assert_eq!(voice["playtime"], 1500);
        assert_eq!(voice.get("text").is_some(), i == 0);
        let key = hex::decode(
            STANDARD
                .decode(voice["media"]["aes_key"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let param = voice["media"]["encrypt_query_param"].as_str().unwrap();
        let url = format!(
            "{}/download?encrypted_query_param={}",
            sim.cdn_base_url(),
            enc(param)
        );
        let resp = reqwest::get(url).await.unwrap();
        assert_eq!(resp.status(), 200);
        let silk = ecb_decrypt(&key, &resp.bytes().await.unwrap());
        assert!(silk.starts_with(b"\x02#!SILK_V3"));
        assert_eq!(silk, ilink_sim::silk_voice_clip());
        let pcm = silk_codec::decode_silk(&silk, 24_000).unwrap();
        assert_eq!(pcm.len(), 24_000 * 3 / 2 * 2, "1.5 s of 16-bit samples");
    }
    assert_eq!(
        msgs[1]["item_list"][0]["voice_item"]["media"]["full_url"]
            .as_str()
            .map(|u| u.contains("/download?")),
        Some(true)
    );
}
