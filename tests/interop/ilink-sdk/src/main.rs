//! Drives ilink-sim with the crates.io `ilink-sdk` (2.4.x, a Rust port of the official
//! plugin), unmodified, through its own public API: QR login, receiving a text, typing,
//! a text reply, an image and a file upload, and inbound image and file downloads. The
//! emulator's phone is scripted over its `/_sim/` control API; every iLink request is
//! the SDK's own.
//!
//!   cargo run --manifest-path tests/interop/ilink-sdk/Cargo.toml -- <ilink-sim binary>
//!
//! Starts the emulator on loopback, points the SDK's API and CDN base URLs at it, and
//! exits 0 with one JSON summary line when every step passed and the emulator recorded
//! no rule violation. What the SDK does differently from docs/protocol.md is printed as
//! the emulator's notes and findings, never fixed by bending the emulator.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use ilink_sdk::api::types::{GetUpdatesReq, MessageItem, WeixinMessage};
use ilink_sdk::cdn::download::download_item_to_path;
use ilink_sdk::messaging::auth::PollOutcome;
use ilink_sdk::messaging::outbound::SendOpts;
use ilink_sdk::messaging::typing::TypingHelper;
use ilink_sdk::prelude::*;
use ilink_sdk::storage::accounts::{normalize_account_id, AccountUpdate};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SDK: &str = "ilink-sdk@2.4.11";
const REPLY: &str = "收到 — got it (ilink-sdk)";

/// The emulator's control API, beside the iLink API it serves.
struct Control {
    base: String,
    http: reqwest::Client,
}

impl Control {
    async fn call(
        &self,
        method: reqwest::Method,
        route: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}_sim/{route}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("/_sim/{route}"))?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "/_sim/{route}: {status} {text}");
        Ok(serde_json::from_str(&text)?)
    }

    async fn get(&self, route: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, route, None).await
    }

    async fn post(&self, route: &str, body: Value) -> Result<Value> {
        self.call(reqwest::Method::POST, route, Some(body)).await
    }
}

/// Starts `ilink-sim 127.0.0.1:0` and reads the API base it prints.
async fn start_sim(binary: &str) -> Result<(Child, String)> {
    let mut child = Command::new(binary)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {binary}"))?;
    let mut lines = BufReader::new(child.stdout.take().context("sim stdout")?).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(base) = line.strip_prefix("ilink-sim API base: ") {
                return Ok(base.trim().to_owned());
            }
        }
        bail!("ilink-sim exited before printing its base URL")
    })
    .await
    .context("ilink-sim did not print its base URL")??;
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, base))
}

/// Polls with the SDK's getupdates until `count` messages arrived; returns them and the
/// last cursor.
async fn receive(
    api: &WeixinApiClient,
    cursor: &mut String,
    count: usize,
) -> Result<Vec<WeixinMessage>> {
    let mut got = Vec::new();
    for _ in 0..40 {
        let answer = api
            .get_updates(
                &GetUpdatesReq {
                    sync_buf: None,
                    get_updates_buf: Some(cursor.clone()),
                },
                Some(10_000),
                None,
            )
            .await?;
        ensure!(
            answer.ret.unwrap_or(0) == 0 && answer.errcode.unwrap_or(0) == 0,
            "getupdates failed: {answer:?}"
        );
        if let Some(next) = answer.get_updates_buf.filter(|c| !c.is_empty()) {
            *cursor = next;
        }
        got.extend(answer.msgs.unwrap_or_default());
        if got.len() >= count {
            return Ok(got);
        }
    }
    bail!("only {} of {count} messages arrived", got.len())
}

fn first_item(message: &WeixinMessage) -> Result<&MessageItem> {
    message
        .item_list
        .as_ref()
        .and_then(|items| items.first())
        .context("a message without items")
}

#[tokio::main]
async fn main() -> Result<()> {
    let binary = std::env::args()
        .nth(1)
        .context("usage: ilink-sdk-interop <path to the ilink-sim binary>")?;
    // The SDK keeps accounts, cursors and its quote cache here, not in the user's home.
    let scratch = std::env::temp_dir().join(format!("ilink-sdk-interop-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    std::env::set_var("OPENCLAW_STATE_DIR", &scratch);
    let outcome = run(&binary, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    let summary = outcome?;
    println!("{summary}");
    Ok(())
}

async fn run(binary: &str, scratch: &std::path::Path) -> Result<Value> {
    let (_sim, base) = start_sim(binary).await?;
    let base = if base.ends_with('/') {
        base
    } else {
        format!("{base}/")
    };
    let cdn_base = format!("{base}c2c");
    let control = Control {
        base: base.clone(),
        http: reqwest::Client::new(),
    };
    let mut steps = Vec::new();
    let mut findings = Vec::new();
    control
        .post("knobs", json!({ "poll_hold_ms": 500, "qr_hold_ms": 300 }))
        .await?;

    // 1. QR login with the SDK's own flow; the emulator's phone scans and confirms.
    let anonymous = WeixinApiClient::new(WeixinApiOptions::new(base.clone()))?;
    let login = QrLogin::new(&anonymous);
    let started = login.start(None).await?;
    let latest = control.get("qr/latest").await?;
    ensure!(
        latest["qrcode"] == started.qrcode.as_str(),
        "the SDK shows the sim's QR"
    );
    control
        .post(&format!("qr/{}/scan", started.qrcode), json!({}))
        .await?;
    let confirmed = control
        .post(&format!("qr/{}/confirm", started.qrcode), json!({}))
        .await?;
    let waited = login
        .wait(
            &started.session_key,
            Duration::from_secs(30),
            |_| async { Ok(String::new()) },
            |_| async {},
        )
        .await?;
    ensure!(waited.connected, "login: {}", waited.message);
    let session = waited.session.context("a confirmed login has a session")?;
    ensure!(
        session.bot_id == confirmed["bot"]["bot_id"],
        "the confirmed bot"
    );
    // E1: the base URL comes back without a trailing slash, as from the real server.
    ensure!(
        session.base_url == base.trim_end_matches('/'),
        "baseurl {} points at the sim",
        session.base_url
    );
    let user = session.user_id.clone();
    steps.push(json!({ "step": "qr login", "bot_id": session.bot_id }));

    // The SDK's account store and client, with both base URLs on the emulator.
    let account_id = normalize_account_id(&session.bot_id);
    WeixinClient::save_and_load(
        &account_id,
        AccountUpdate {
            token: Some(session.token.clone()),
            base_url: Some(session.base_url.clone()),
            user_id: Some(user.clone()),
        },
    )
    .await?;
    let client = WeixinClientBuilder::new()
        .account_id(&account_id)
        .base_url(base.clone())
        .cdn_base_url(cdn_base.clone())
        .build()
        .await?;
    let api = client.api();
    client.notify_start().await?;
    let bot_path = format!("bots/{}", session.bot_id);

    // 2. Receive a text.
    let text_id = control
        .post(
            &format!("{bot_path}/inject"),
            json!({ "peer_id": user, "text": "你好 from the sim" }),
        )
        .await?["message_id"]
        .as_u64()
        .context("message_id")?;
    let mut cursor = String::new();
    let inbound = receive(api, &mut cursor, 1).await?;
    let text = &inbound[0];
    ensure!(
        text.message_id.as_deref() == Some(text_id.to_string().as_str()),
        "the message id stays exact above 2^53: {:?} vs {text_id}",
        text.message_id
    );
    ensure!(text.from_user_id.as_deref() == Some(user.as_str()));
    let body =
        ilink_sdk::messaging::context::body_from_items(text.item_list.as_deref().unwrap_or(&[]));
    ensure!(body == "你好 from the sim", "text body {body:?}");
    let context_token = text.context_token.clone().context("a context token")?;
    steps.push(json!({ "step": "receive text", "message_id": text.message_id }));

    // 3. Typing: getconfig's ticket, then start and stop.
    let config = api.get_config(&user, Some(&context_token)).await?;
    ensure!(config.is_ok(), "getconfig: {config:?}");
    let ticket = config.typing_ticket.clone().unwrap_or_default();
    let typing = TypingHelper::new(api, user.clone(), ticket);
    ensure!(typing.enabled(), "a typing ticket");
    typing.start().await?;
    typing.stop().await?;
    let typed = control.get(&format!("{bot_path}/typing")).await?;
    let statuses: Vec<u64> = typed
        .as_array()
        .context("typing list")?
        .iter()
        .filter_map(|t| t["status"].as_u64())
        .collect();
    ensure!(statuses == [1, 2], "typing start then cancel: {typed}");
    steps.push(json!({ "step": "typing" }));

    // 4. Reply with the latest context token.
    let opts = SendOpts {
        context_token: Some(context_token.clone()),
        run_id: None,
    };
    let sender = client.sender();
    let reply = sender.send_text(&user, REPLY, &opts).await?;
    ensure!(
        reply.server_message_id.is_some(),
        "sendmessage returned message_id"
    );
    steps.push(json!({ "step": "reply", "server_message_id": reply.server_message_id }));

    // 5. An image and a file, uploaded to the CDN and sent.
    let image: Vec<u8> = (0..333u32).map(|i| ((i * 7) & 0xff) as u8).collect();
    sender
        .send_image_bytes(&user, &image, "png", "", &opts, &cdn_base)
        .await
        .context("image upload and send")?;
    let file = "interop upload ✓ ilink-sdk\n".repeat(100).into_bytes();
    sender
        .send_bytes(&user, &file, "report.txt", "the report", &opts, &cdn_base)
        .await
        .context("file upload and send")?;
    let sent = control.get(&format!("{bot_path}/sent")).await?;
    let sent = sent.as_array().context("sent list")?;
    let of_type = |t: u64| sent.iter().filter(|m| m["item"]["type"] == t).count();
    ensure!(
        sent.iter().any(|m| m["item"]["text_item"]["text"] == REPLY
            && m["context_token"] == context_token.as_str()),
        "the reply was accepted with the token: {sent:?}"
    );
    ensure!(
        of_type(2) == 1 && of_type(4) == 1,
        "one image and one file: {sent:?}"
    );
    ensure!(
        sent.iter()
            .any(|m| m["item"]["text_item"]["text"] == "the report"),
        "the caption goes first as its own text"
    );
    steps.push(json!({ "step": "upload image and file", "sent": sent.len() }));

    // 6. Inbound image (hex key + raw base64) and file (base64 of hex, full_url)
    //    downloaded and decrypted by the SDK.
    let inbound_image: Vec<u8> = (0..4000u32).map(|i| ((i * 13) & 0xff) as u8).collect();
    let inbound_file = "第一行 first line\n".repeat(40).into_bytes();
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    control
        .post(
            &format!("{bot_path}/inject_media"),
            json!({ "peer_id": user, "kind": "image", "bytes": b64(&inbound_image),
                    "key_form": "hex_and_raw_base64", "full_url": false }),
        )
        .await?;
    control
        .post(
            &format!("{bot_path}/inject_media"),
            json!({ "peer_id": user, "kind": "file", "name": "notes.txt",
                    "bytes": b64(&inbound_file), "key_form": "hex_base64", "full_url": true }),
        )
        .await?;
    let media = receive(api, &mut cursor, 2).await?;
    let downloads = scratch.join("downloads");
    for (message, want, label) in [
        (&media[0], &inbound_image, "image"),
        (&media[1], &inbound_file, "file"),
    ] {
        let (path, _mime) =
            download_item_to_path(first_item(message)?, &cdn_base, &downloads, label)
                .await?
                .with_context(|| format!("the SDK saved no {label}"))?;
        let got = std::fs::read(&path)?;
        ensure!(
            got == *want,
            "the inbound {label} decrypts to what was sent"
        );
    }
    steps.push(json!({ "step": "download image and file" }));

    // 7. The cursor acknowledged everything: the next poll comes back empty.
    let again = api
        .get_updates(
            &GetUpdatesReq {
                sync_buf: None,
                get_updates_buf: Some(cursor.clone()),
            },
            Some(10_000),
            None,
        )
        .await?;
    ensure!(
        again.msgs.unwrap_or_default().is_empty(),
        "nothing redelivered"
    );
    client.notify_stop().await?;
    steps.push(json!({ "step": "cursor and notifystop" }));

    // Finding: after `scaned_but_redirect` the SDK keeps polling the first host (it
    // records the redirect base but polls through its own client), so a login the
    // server moved never confirms; the emulator answers as docs/protocol.md §3.1 says
    // and notes the repeated poll.
    let moved = QrLogin::new(&anonymous);
    let second = moved.start(None).await?;
    control
        .post(&format!("qr/{}/redirect", second.qrcode), json!({}))
        .await?;
    let mut still_waiting = true;
    for _ in 0..3 {
        still_waiting &= matches!(
            moved.poll(&second.session_key).await?,
            PollOutcome::Continue
        );
    }
    moved.remove(&second.session_key);
    if still_waiting {
        findings
            .push("scaned_but_redirect: the SDK does not move its status polls to redirect_host");
    }

    // Every request the SDK made passed every rule the emulator enforces.
    let requests = control.get("requests").await?;
    let requests = requests.as_array().context("request log")?;
    for endpoint in [
        "get_bot_qrcode",
        "get_qrcode_status",
        "getupdates",
        "sendmessage",
        "getuploadurl",
        "c2c/upload",
        "getconfig",
        "sendtyping",
        "msg/notifystart",
        "msg/notifystop",
    ] {
        ensure!(
            requests.iter().any(|r| r["endpoint"] == endpoint),
            "no {endpoint} request logged"
        );
    }
    let violations: Vec<&Value> = requests
        .iter()
        .filter(|r| r["violations"].as_array().is_some_and(|v| !v.is_empty()))
        .collect();
    let mut notes: Vec<String> = requests
        .iter()
        .flat_map(|r| r["notes"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    notes.sort();
    notes.dedup();
    ensure!(violations.is_empty(), "rule violations: {violations:#?}");
    Ok(json!({
        "ok": true,
        "sdk": SDK,
        "bot_id": session.bot_id,
        "steps": steps,
        "notes": notes,
        "findings": findings,
    }))
}
