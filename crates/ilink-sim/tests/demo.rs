//! The `--demo` timeline, run in-process with a short tick: every kind of message
//! arrives through getupdates, media decrypts from the CDN, and QR logins confirm
//! themselves.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, KeyInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{poll, sim_with};
use ilink_sim::{demo_peers, DemoConfig, Sim};
use serde_json::Value;

/// Plain AES-128-ECB + PKCS#7 decryption, as a client does it (docs/protocol.md §7.3).
fn decrypt(key: &[u8], data: &[u8]) -> Vec<u8> {
    let cipher = aes::Aes128::new(GenericArray::from_slice(key));
    let mut out = data.to_vec();
    for block in out.chunks_exact_mut(16) {
        cipher.decrypt_block(GenericArray::from_mut_slice(block));
    }
    let pad = usize::from(*out.last().expect("non-empty"));
    out.truncate(out.len() - pad);
    out
}

async fn download(sim: &Sim, param: &str) -> Vec<u8> {
    let url = reqwest::Url::parse_with_params(
        &format!("{}/download", sim.cdn_base_url()),
        [("encrypted_query_param", param)],
    )
    .expect("url");
    let resp = reqwest::get(url).await.expect("download");
    assert_eq!(resp.status().as_u16(), 200);
    resp.bytes().await.expect("body").to_vec()
}

/// A short label for the kind of an inbound message.
fn kind(msg: &Value) -> String {
    let item = &msg["item_list"][0];
    match item["type"].as_u64() {
        Some(1) if item.get("ref_msg").is_some() => "quote".into(),
        Some(1) => "text".into(),
        Some(2) => "image".into(),
        Some(3) if item["voice_item"].get("text").is_some() => "voice+text".into(),
        Some(3) => "voice".into(),
        Some(4) => "file".into(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn the_demo_timeline_delivers_every_kind_of_message() {
    let mut sim = sim_with(|k| k.poll_hold_ms = 200).await;
    let bot = sim.start_demo(DemoConfig {
        tick: Duration::from_millis(40),
        login_step_ms: 100,
    });
    let peers: BTreeSet<String> = demo_peers().iter().map(|p| p.user_id.into()).collect();
    assert!(demo_peers().iter().any(|p| p.display_name == "王小明"));
    assert!(demo_peers().iter().any(|p| p.display_name == "Alice Chen"));

    let mut cursor = String::new();
    let mut msgs: Vec<Value> = Vec::new();
    let wanted: BTreeSet<String> = ["text", "image", "file", "voice", "voice+text", "quote"]
        .map(String::from)
        .into();
    let start = Instant::now();
    loop {
        let answer = poll(&sim, &bot.token, &cursor).await.json();
        cursor = answer["get_updates_buf"].as_str().unwrap().to_owned();
        msgs.extend(answer["msgs"].as_array().unwrap().iter().cloned());
        let seen: BTreeSet<String> = msgs.iter().map(kind).collect();
        if wanted.is_subset(&seen) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "only {seen:?}");
    }
    for msg in &msgs {
        assert!(
            peers.contains(msg["from_user_id"].as_str().unwrap()),
            "{msg}"
        );
    }

    // The picture is a real PNG behind the hex key.
    let image = msgs.iter().find(|m| kind(m) == "image").unwrap();
    let image_item = &image["item_list"][0]["image_item"];
    let key = hex::decode(image_item["aeskey"].as_str().unwrap()).unwrap();
    let param = image_item["media"]["encrypt_query_param"].as_str().unwrap();
    let png = decrypt(&key, &download(&sim, param).await);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 1000, "a few KB: {}", png.len());

    // The file carries base64-of-hex, its name and length.
    let file = msgs.iter().find(|m| kind(m) == "file").unwrap();
    let file_item = &file["item_list"][0]["file_item"];
    let key_hex = STANDARD
        .decode(file_item["media"]["aes_key"].as_str().unwrap())
        .unwrap();
    let key = hex::decode(key_hex).unwrap();
    let param = file_item["media"]["encrypt_query_param"].as_str().unwrap();
    let body = decrypt(&key, &download(&sim, param).await);
    assert_eq!(file_item["len"], body.len().to_string());
    assert_eq!(file_item["file_name"], "meeting-notes.txt");

    // Voice: one with a transcript, one without; both real SILK v3 (Tencent variant)
    // of their playtime.
    let voice = msgs.iter().find(|m| kind(m) == "voice+text").unwrap();
    assert!(voice["item_list"][0]["voice_item"]["text"]
        .as_str()
        .unwrap()
        .contains("开会"));
    for wanted in ["voice+text", "voice"] {
        let voice = msgs.iter().find(|m| kind(m) == wanted).unwrap();
        let item = &voice["item_list"][0]["voice_item"];
        assert_eq!(item["encode_type"], 6);
        let key = hex::decode(
            STANDARD
                .decode(item["media"]["aes_key"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let param = item["media"]["encrypt_query_param"].as_str().unwrap();
        let silk = decrypt(&key, &download(&sim, param).await);
        assert!(silk.starts_with(b"\x02#!SILK_V3"), "{wanted}");
        let pcm = silk_codec::decode_silk(&silk, 24_000).unwrap();
        let ms = pcm.len() as u64 / 2 * 1000 / 24_000;
        assert_eq!(item["playtime"].as_u64(), Some(ms), "{wanted}");
    }

    // The quote names the earlier message by id and embeds it.
    let quote = msgs.iter().find(|m| kind(m) == "quote").unwrap();
    let ref_msg = &quote["item_list"][0]["ref_msg"];
    let svr_id = ref_msg["svr_id"].as_str().unwrap();
    let quoted = msgs
        .iter()
        .find(|m| m["message_id"].as_u64().map(|id| id.to_string()).as_deref() == Some(svr_id))
        .expect("svr_id names an earlier message");
    assert_eq!(
        ref_msg["message_item"]["text_item"]["text"],
        quoted["item_list"][0]["text_item"]["text"]
    );

    // The demo bot's user and the sandbox route.
    let demo: Value = reqwest::get(format!("{}_sim/demo", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(demo["running"], true);
    assert_eq!(demo["peers"].as_array().unwrap().len(), demo_peers().len());
    assert_eq!(sim.bots()[0].info, bot);
}

#[tokio::test]
async fn a_demo_qr_login_confirms_by_itself_and_gets_the_timeline() {
    let mut sim = sim_with(|k| k.qr_hold_ms = 200).await;
    sim.start_demo(DemoConfig {
        tick: Duration::from_millis(40),
        login_step_ms: 100,
    });
    let issued: Value = reqwest::Client::new()
        .get(format!(
            "{}ilink/bot/get_bot_qrcode?bot_type=3",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let qrcode = issued["qrcode"].as_str().unwrap();
    let start = Instant::now();
    let token = loop {
        let status: Value = reqwest::get(format!(
            "{}ilink/bot/get_qrcode_status?qrcode={qrcode}",
            sim.base_url()
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        if status["status"] == "confirmed" {
            break status["bot_token"].as_str().unwrap().to_owned();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{status}");
    };
    let start = Instant::now();
    loop {
        let answer = poll(&sim, &token, "").await.json();
        let from_demo = answer["msgs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| demo_peers().iter().any(|p| m["from_user_id"] == p.user_id));
        if from_demo {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{answer}");
    }
}
