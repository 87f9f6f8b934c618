//! Every API endpoint through [`ilink::Client`] against the strict emulator over loopback
//! (docs/protocol.md §1.6, §1.7, §2, §5.5): ids kept exact, the cursor, the send outcomes, typing and
//! presence, the getupdates timeout, HTTP faults, and that the emulator's request log
//! finds nothing wrong with what the client sent.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ilink::client::{Client, ClientConfig, Timeouts};
use ilink::models::{
    GetUploadUrlRequest, InboundEntry, ItemType, MessageItem, MessageState, MessageType, QrStatus,
    TextItem, TypingStatus, UpdatesBatch, UploadMediaType, WeixinMessage,
};
use ilink::{IlinkError, Secret};
use ilink_sim::{BotInfo, Fault, Knobs, Sim, SimConfig};
use tokio_util::sync::CancellationToken;

/// A guard against hangs only; nothing here measures speed.
const PATIENCE: Duration = Duration::from_secs(20);

/// 2^53: ids above it do not survive a trip through `f64`.
const F64_EXACT_LIMIT: u64 = 1 << 53;

async fn sim_with(change: impl FnOnce(&mut Knobs)) -> Sim {
    let mut knobs = Knobs {
        poll_hold_ms: 300,
        qr_hold_ms: 300,
        ..Knobs::default()
    };
    change(&mut knobs);
    Sim::start(SimConfig {
        knobs,
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

async fn sim() -> Sim {
    sim_with(|_| {}).await
}

fn client_with(sim: &Sim, token: Option<&str>, timeouts: Timeouts) -> Client {
    Client::new(
        ClientConfig {
            api_base: sim.base_url(),
            use_system_proxy: false,
            timeouts,
            ..ClientConfig::default()
        },
        token.map(|t| Secret::new(t.to_owned())),
    )
    .expect("client")
}

fn client(sim: &Sim, bot: &BotInfo) -> Client {
    client_with(sim, Some(&bot.token), Timeouts::default())
}

async fn poll(client: &Client, cursor: &str) -> Result<UpdatesBatch, IlinkError> {
    tokio::time::timeout(
        PATIENCE,
        client.getupdates(cursor, &CancellationToken::new()),
    )
    .await
    .expect("getupdates answers in time")
}

/// Polls until a message arrives (the sim answers at once when one is queued).
async fn receive(client: &Client, cursor: &str) -> (WeixinMessage, String) {
    let response = poll(client, cursor).await.expect("getupdates succeeds");
    let cursor = response.get_updates_buf.clone().expect("a cursor");
    let mut msgs = response.into_messages();
    assert_eq!(msgs.len(), 1, "exactly the injected message");
    assert!(!cursor.is_empty());
    (msgs.remove(0), cursor)
}

/// An outbound text reply as the official client builds it (§5.4).
fn text_reply(to: &str, context_token: Option<&str>, text: &str) -> WeixinMessage {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    WeixinMessage {
        from_user_id: Some(String::new()),
        to_user_id: Some(to.to_owned()),
        client_id: Some(format!("weixin-desk:{now}-{:08x}", rand_u32())),
        message_type: Some(MessageType::Bot),
        message_state: Some(MessageState::Finish),
        item_list: Some(vec![MessageItem {
            item_type: Some(ItemType::Text),
            text_item: Some(TextItem {
                text: Some(text.to_owned()),
            }),
            ..MessageItem::default()
        }]),
        context_token: context_token.map(str::to_owned),
        ..WeixinMessage::default()
    }
}

fn rand_u32() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos()
}

/// Every logged request is clean, except for the notes in `expected` (the reasons the
/// sim records when it refuses a send on purpose), each of which must appear.
fn assert_no_violations(sim: &Sim, expected: &[&str]) {
    let requests = sim.requests();
    assert!(!requests.is_empty(), "the sim logged the requests");
    for note in expected {
        assert!(
            requests
                .iter()
                .any(|r| r.violations.iter().any(|v| v == note)),
            "the sim noted {note:?}"
        );
    }
    for request in requests {
        for violation in &request.violations {
            assert!(
                expected.contains(&violation.as_str()),
                "{} request broke a rule: {violation} (all: {:?})",
                request.endpoint,
                request.violations
            );
        }
    }
}

#[tokio::test]
async fn getupdates_keeps_big_ids_exact_and_the_cursor_advances() {
    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    let id = sim.inject_text(&bot.bot_id, &bot.user_id, "hello").unwrap();
    assert!(id > F64_EXACT_LIMIT, "the sim issues ids above 2^53");
    let (msg, cursor) = receive(&client, "").await;
    assert_eq!(msg.message_id.as_deref(), Some(id.to_string().as_str()));
    assert_eq!(msg.from_user_id.as_deref(), Some(bot.user_id.as_str()));
    assert_eq!(msg.message_type, Some(MessageType::User));
    let item = &msg.item_list.as_ref().unwrap()[0];
    assert_eq!(item.item_type, Some(ItemType::Text));
    assert_eq!(
        item.text_item.as_ref().unwrap().text.as_deref(),
        Some("hello")
    );
    let item_id = item.msg_id.as_deref().expect("item msg_id");
    let digits = item_id.strip_prefix("v1:").expect("v1: prefix");
    assert!(digits.parse::<u64>().unwrap() > F64_EXACT_LIMIT);
    assert_eq!(
        msg.context_token,
        sim.context_token(&bot.bot_id, &bot.user_id).unwrap()
    );
    // The server's hold replaced the configured default.
    assert_eq!(client.longpoll_hold(), Duration::from_millis(35_000));

    // Nothing new: the sim holds, then answers empty with the same cursor.
    let response = poll(&client, &cursor).await.unwrap();
    assert!(response.msgs.is_empty());
    assert_eq!(response.get_updates_buf.as_deref(), Some(cursor.as_str()));

    // The next message comes alone under the advanced cursor.
    let second = sim.inject_text(&bot.bot_id, &bot.user_id, "again").unwrap();
    let (msg, next_cursor) = receive(&client, &cursor).await;
    assert_eq!(msg.message_id, Some(second.to_string()));
    assert_ne!(next_cursor, cursor);

    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn a_parked_poll_is_woken_by_an_inbound_message() {
    let sim = sim_with(|k| k.poll_hold_ms = 15_000).await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    let started = Instant::now();
    let pending = tokio::spawn(async move { poll(&client, "").await });
    while sim.polls_in_flight() == 0 {
        assert!(started.elapsed() < PATIENCE, "the poll reached the sim");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let id = sim.inject_text(&bot.bot_id, &bot.user_id, "wake").unwrap();
    let response = pending.await.unwrap().unwrap();
    let msgs = response.into_messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].message_id, Some(id.to_string()));
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "answered before the hold ran out"
    );
    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn sendmessage_with_the_context_token_returns_the_server_id() {
    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    sim.inject_text(&bot.bot_id, &bot.user_id, "ping").unwrap();
    let (inbound, _) = receive(&client, "").await;
    let reply = text_reply(
        inbound.from_user_id.as_deref().unwrap(),
        inbound.context_token.as_deref(),
        "pong",
    );
    let server_id = client
        .sendmessage(&reply)
        .await
        .expect("send succeeds")
        .expect("the sim returns message_id");
    assert!(server_id.parse::<u64>().unwrap() > F64_EXACT_LIMIT);

    let sent = sim.sent_messages(&bot.bot_id).unwrap();
    assert_eq!(sent.len(), 1);
    let sent = &sent[0];
    assert_eq!(sent.message_id.to_string(), server_id);
    assert_eq!(sent.to_user_id, bot.user_id);
    assert_eq!(
        Some(sent.context_token.as_str()),
        inbound.context_token.as_deref()
    );
    assert_eq!(sent.client_id, reply.client_id);
    assert_eq!(sent.run_id, None);
    assert_eq!(sent.item["type"], 1);
    assert_eq!(sent.item["text_item"]["text"], "pong");
    assert!(sent.flags.is_empty(), "{:?}", sent.flags);

    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn sendmessage_without_a_context_token_is_invalid_arguments() {
    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    sim.inject_text(&bot.bot_id, &bot.user_id, "ping").unwrap();
    receive(&client, "").await;
    let err = client
        .sendmessage(&text_reply(&bot.user_id, None, "pong"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        IlinkError::InvalidArguments {
            errmsg: "invalid arguments".into()
        }
    );
    assert!(sim.sent_messages(&bot.bot_id).unwrap().is_empty());
    assert_no_violations(&sim, &["context_token missing"]);
}

#[tokio::test]
async fn sendmessage_after_the_window_closed_is_typed_and_a_new_inbound_reopens_it() {
    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    sim.inject_text(&bot.bot_id, &bot.user_id, "ping").unwrap();
    let (inbound, cursor) = receive(&client, "").await;
    sim.expire_context(&bot.bot_id, &bot.user_id).unwrap();
    let err = client
        .sendmessage(&text_reply(
            &bot.user_id,
            inbound.context_token.as_deref(),
            "too late",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        IlinkError::WindowClosedOrRateLimited {
            errmsg: "prepare failed".into()
        }
    );
    assert!(sim.sent_messages(&bot.bot_id).unwrap().is_empty());

    // Only a new inbound message renews the window (§5.5), with a new token.
    sim.inject_text(&bot.bot_id, &bot.user_id, "again").unwrap();
    let (fresh, _) = receive(&client, &cursor).await;
    assert_ne!(fresh.context_token, inbound.context_token);
    client
        .sendmessage(&text_reply(
            &bot.user_id,
            fresh.context_token.as_deref(),
            "now",
        ))
        .await
        .expect("the fresh token works");
    assert_eq!(sim.sent_messages(&bot.bot_id).unwrap().len(), 1);

    assert_no_violations(&sim, &["reply window closed"]);
}

#[tokio::test]
async fn a_revoked_token_is_stale_for_getupdates_and_sendmessage() {
    let sim = sim_with(|k| k.poll_hold_ms = 15_000).await;
    let bot = sim.create_bot();
    let client = std::sync::Arc::new(client(&sim, &bot));

    // A poll in flight returns -14 at once when the token goes.
    let parked = {
        let client = client.clone();
        tokio::spawn(async move { poll(&client, "").await })
    };
    let started = Instant::now();
    while sim.polls_in_flight() == 0 {
        assert!(started.elapsed() < PATIENCE, "the poll reached the sim");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.revoke_token(&bot.bot_id).unwrap();
    assert_eq!(parked.await.unwrap().unwrap_err(), IlinkError::StaleToken);

    // And so does every later one, and the other endpoints.
    assert_eq!(poll(&client, "").await.unwrap_err(), IlinkError::StaleToken);
    let err = client
        .sendmessage(&text_reply(&bot.user_id, Some("ctx"), "hi"))
        .await
        .unwrap_err();
    assert_eq!(err, IlinkError::StaleToken);
    assert_eq!(
        client.getconfig(&bot.user_id, None).await.unwrap_err(),
        IlinkError::StaleToken
    );
    assert!(!sim.bots()[0].token_live);

    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn stale_answer_with_ret_also_reads_as_stale() {
    let sim = sim_with(|k| k.stale_includes_ret = true).await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);
    sim.revoke_token(&bot.bot_id).unwrap();
    assert_eq!(poll(&client, "").await.unwrap_err(), IlinkError::StaleToken);
}

#[tokio::test]
async fn getconfig_hands_out_a_ticket_that_sendtyping_uses() {
    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    sim.inject_text(&bot.bot_id, &bot.user_id, "ping").unwrap();
    let (inbound, _) = receive(&client, "").await;
    let config = client
        .getconfig(&bot.user_id, inbound.context_token.as_deref())
        .await
        .expect("getconfig succeeds");
    let ticket = config.typing_ticket.expect("a typing ticket");
    assert!(!ticket.is_empty());
    // The ticket is stable per peer.
    let again = client.getconfig(&bot.user_id, None).await.unwrap();
    assert_eq!(again.typing_ticket.as_deref(), Some(ticket.as_str()));

    client
        .sendtyping(&bot.user_id, &ticket, TypingStatus::Typing)
        .await
        .expect("typing");
    client
        .sendtyping(&bot.user_id, &ticket, TypingStatus::Cancel)
        .await
        .expect("cancel");
    let events = sim.typing_events(&bot.bot_id).unwrap();
    let seen: Vec<(&str, u8)> = events
        .iter()
        .map(|e| (e.user_id.as_str(), e.status))
        .collect();
    assert_eq!(seen, [(bot.user_id.as_str(), 1), (bot.user_id.as_str(), 2)]);

    // A rotated-out ticket is refused with a non-zero ret, and nothing is recorded.
    let rotated = sim.rotate_typing_ticket(&bot.bot_id, &bot.user_id).unwrap();
    assert_ne!(rotated, ticket);
    let err = client
        .sendtyping(&bot.user_id, &ticket, TypingStatus::Typing)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IlinkError::ServerError { ret: Some(-2), .. }),
        "{err:?}"
    );
    assert_eq!(sim.typing_events(&bot.bot_id).unwrap().len(), 2);

    // getconfig without a user: ret -2 `ilink_user_id required` (§1.6).
    let err = client.getconfig("", None).await.unwrap_err();
    assert_eq!(
        err,
        IlinkError::ServerError {
            ret: Some(-2),
            errcode: None,
            errmsg: "ilink_user_id required".into()
        }
    );

    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn notifystart_and_notifystop_are_recorded_in_order() {
    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    client.notifystart().await.expect("notifystart");
    client.notifystop().await.expect("notifystop");
    let online: Vec<bool> = sim
        .presence_events(&bot.bot_id)
        .unwrap()
        .iter()
        .map(|e| e.online)
        .collect();
    assert_eq!(online, [true, false]);
    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn an_odd_field_makes_only_its_message_undecodable_and_keeps_every_text_exact() {
    let sim = sim_with(|_| {}).await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);
    sim.update_knobs(|k| {
        k.corrupt_message = Some(ilink_sim::CorruptMessage {
            shape: ilink_sim::Corruption::NegativeSize,
            after: 1,
        })
    });
    let ids = sim
        .inject_texts_together(&bot.bot_id, &bot.user_id, &["one", "two", "three"])
        .unwrap();
    let batch = poll(&client, "").await.unwrap();
    assert_eq!(batch.msgs.len(), 3, "one batch");
    let InboundEntry::Undecodable { raw, error } = &batch.msgs[1] else {
        panic!("the negative size is not read: {:?}", batch.msgs[1]);
    };
    assert!(raw.contains(r#""mid_size":-2048"#), "{raw}");
    assert!(
        raw.contains(&format!(r#""message_id":{}"#, ids[1])),
        "{raw}"
    );
    assert!(error.contains("negative"), "{error}");
    let texts: Vec<_> = batch
        .messages()
        .map(|m| {
            m.item_list.as_ref().unwrap()[0]
                .text_item
                .clone()
                .unwrap()
                .text
        })
        .collect();
    assert_eq!(texts, [Some("one".to_owned()), Some("three".to_owned())]);
    for entry in &batch.msgs {
        // Each text is the exact slice of the body: it decodes back to the same message.
        let again: serde_json::Value = serde_json::from_str(entry.raw()).unwrap();
        assert_eq!(again["from_user_id"], bot.user_id.as_str());
    }
    assert!(!batch.get_updates_buf.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn an_empty_poll_held_exactly_the_advertised_time_still_arrives_with_its_cursor() {
    // The server holds exactly as long as it advertises (and as the client assumes
    // from the start): only the client's margin lets the answer in.
    let sim = sim_with(|k| {
        k.poll_hold_ms = 1_000;
        k.longpolling_timeout_ms = 1_000;
    })
    .await;
    let bot = sim.create_bot();
    let client = client_with(
        &sim,
        Some(&bot.token),
        Timeouts {
            getupdates: Duration::from_millis(1_000),
            ..Timeouts::default()
        },
    );
    assert_eq!(
        client.longpoll_timeout(),
        Duration::from_millis(1_000) + ilink::DEFAULT_LONGPOLL_MARGIN
    );
    let mut cursor = String::new();
    for _ in 0..2 {
        let response = poll(&client, &cursor).await.unwrap();
        assert!(response.msgs.is_empty());
        // The server's own answer: the client's timeout stand-in carries no hold and
        // hands back the cursor it was given.
        assert_eq!(response.longpolling_timeout_ms, Some(1_000));
        let next = response.get_updates_buf.expect("a cursor");
        assert!(
            !next.is_empty(),
            "the server's cursor, not the empty one sent"
        );
        cursor = next;
        assert_eq!(client.longpoll_hold(), Duration::from_millis(1_000));
    }
    // The cursor works: a message arrives under it.
    let id = sim.inject_text(&bot.bot_id, &bot.user_id, "after").unwrap();
    let (msg, _) = receive(&client, &cursor).await;
    assert_eq!(msg.message_id, Some(id.to_string()));
}

#[tokio::test]
async fn a_client_side_getupdates_timeout_is_an_empty_success_with_the_same_cursor() {
    let sim = sim_with(|k| k.poll_hold_ms = 15_000).await;
    let bot = sim.create_bot();

    // A real cursor first, from a client that has seen one message.
    sim.inject_text(&bot.bot_id, &bot.user_id, "first").unwrap();
    let (_, cursor) = receive(&client(&sim, &bot), "").await;

    let impatient = client_with(
        &sim,
        Some(&bot.token),
        Timeouts {
            getupdates: Duration::from_millis(300),
            ..Timeouts::default()
        },
    );
    let started = Instant::now();
    let response = poll(&impatient, &cursor)
        .await
        .expect("a timeout is success");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the client gave up long before the sim's 15 s hold"
    );
    assert_eq!(response.status.ret, Some(0));
    assert!(response.msgs.is_empty());
    assert_eq!(response.get_updates_buf.as_deref(), Some(cursor.as_str()));
    // No server answer arrived, so the configured hold still applies.
    assert_eq!(impatient.longpoll_hold(), Duration::from_millis(300));

    // The cursor still works: a later message arrives under it.
    let id = sim
        .inject_text(&bot.bot_id, &bot.user_id, "second")
        .unwrap();
    let (msg, _) = receive(&impatient, &cursor).await;
    assert_eq!(msg.message_id, Some(id.to_string()));

    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn injected_5xx_faults_surface_as_http_status_errors() {
    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);
    sim.inject_text(&bot.bot_id, &bot.user_id, "ping").unwrap();
    let (inbound, _) = receive(&client, "").await;
    let context = inbound.context_token.as_deref();

    fn status_of(result: Result<impl std::fmt::Debug, IlinkError>) -> u16 {
        match result {
            Err(IlinkError::HttpStatus { status, body }) => {
                assert_eq!(body, "", "the sim's fault has an empty body");
                status
            }
            other => panic!("expected an HTTP status error, got {other:?}"),
        }
    }

    sim.inject_fault("getupdates", Fault::Status { status: 500 });
    assert_eq!(status_of(poll(&client, "").await), 500);
    sim.inject_fault("sendmessage", Fault::Status { status: 502 });
    assert_eq!(
        status_of(
            client
                .sendmessage(&text_reply(&bot.user_id, context, "x"))
                .await
        ),
        502
    );
    sim.inject_fault("getconfig", Fault::Status { status: 503 });
    assert_eq!(
        status_of(client.getconfig(&bot.user_id, context).await),
        503
    );
    sim.inject_fault("sendtyping", Fault::Status { status: 504 });
    assert_eq!(
        status_of(
            client
                .sendtyping(&bot.user_id, "t", TypingStatus::Typing)
                .await
        ),
        504
    );
    sim.inject_fault("msg/notifystart", Fault::Status { status: 500 });
    assert_eq!(status_of(client.notifystart().await), 500);
    sim.inject_fault("msg/notifystop", Fault::Status { status: 500 });
    assert_eq!(status_of(client.notifystop().await), 500);
    sim.inject_fault("getuploadurl", Fault::Status { status: 500 });
    assert_eq!(
        status_of(client.getuploadurl(&upload_request(&bot.user_id)).await),
        500
    );
    sim.inject_fault("get_bot_qrcode", Fault::Status { status: 500 });
    assert_eq!(status_of(client.get_bot_qrcode(&[]).await), 500);
    let err = IlinkError::HttpStatus {
        status: 500,
        body: String::new(),
    };
    assert_eq!(err.network_label(), Some("unknown"));

    // The faults were one-shot: the same calls succeed now.
    client
        .sendmessage(&text_reply(&bot.user_id, context, "ok"))
        .await
        .expect("send after the fault");
    client
        .notifystart()
        .await
        .expect("notifystart after the fault");
    assert_eq!(sim.sent_messages(&bot.bot_id).unwrap().len(), 1);

    assert_no_violations(&sim, &[]);
}

fn upload_request(to: &str) -> GetUploadUrlRequest {
    use md5::Digest;
    let plain = b"hello, cdn";
    GetUploadUrlRequest {
        filekey: Some("00112233445566778899aabbccddeeff".into()),
        media_type: Some(UploadMediaType::File),
        to_user_id: Some(to.to_owned()),
        rawsize: Some(plain.len() as u64),
        rawfilemd5: Some(hex::encode(md5::Md5::digest(plain))),
        filesize: Some((plain.len() as u64 / 16 + 1) * 16),
        no_need_thumb: Some(true),
        aeskey: Some("000102030405060708090a0b0c0d0e0f".into()),
        ..GetUploadUrlRequest::default()
    }
}

#[tokio::test]
async fn getuploadurl_hands_out_an_upload_param_and_a_full_url() {
    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    let response = client
        .getuploadurl(&upload_request(&bot.user_id))
        .await
        .expect("getuploadurl succeeds");
    let param = response.upload_param.expect("upload_param (default mode)");
    assert!(!param.is_empty());
    let full = response
        .upload_full_url
        .expect("upload_full_url (default mode)");
    assert!(
        full.starts_with(&sim.cdn_base_url()),
        "the emulator's own CDN, never the real one: {full}"
    );
    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn qr_endpoints_issue_and_confirm_a_login() {
    let sim = sim().await;
    let client = client_with(&sim, None, Timeouts::default());

    let qr = client.get_bot_qrcode(&[]).await.expect("a QR code");
    let qrcode = qr.qrcode.expect("qrcode");
    assert_eq!(sim.latest_qrcode().as_deref(), Some(qrcode.as_str()));
    assert!(qr
        .qrcode_img_content
        .as_deref()
        .is_some_and(|url| url.contains(&qrcode)));

    let status = client.get_qrcode_status(&qrcode, None).await.unwrap();
    assert_eq!(status.status, Some(QrStatus::Wait));
    sim.scan_qr(&qrcode).unwrap();
    let status = client.get_qrcode_status(&qrcode, None).await.unwrap();
    assert_eq!(status.status, Some(QrStatus::Scaned));
    let bot = sim.confirm_qr(&qrcode, None).unwrap().expect("a new bot");
    let status = client.get_qrcode_status(&qrcode, None).await.unwrap();
    assert_eq!(status.status, Some(QrStatus::Confirmed));
    assert_eq!(status.bot_token.as_deref(), Some(bot.token.as_str()));
    assert_eq!(status.ilink_bot_id.as_deref(), Some(bot.bot_id.as_str()));
    assert_eq!(status.ilink_user_id.as_deref(), Some(bot.user_id.as_str()));

    // The confirmed credentials work on the account's base.
    let account = client_with(&sim, Some(&bot.token), Timeouts::default())
        .with_api_base(status.baseurl.as_deref().unwrap_or_default())
        .unwrap();
    account.notifystart().await.expect("the new token is live");

    assert_no_violations(&sim, &[]);
}

#[tokio::test]
async fn an_id_only_partial_quote_resolves_against_the_received_message() {
    use ilink::quote::resolve_partial_quote;
    use serde_json::json;

    let sim = sim().await;
    let bot = sim.create_bot();
    let client = client(&sim, &bot);

    let quoted_id = sim
        .inject_text(&bot.bot_id, &bot.user_id, "你好，世界。你好，朋友。")
        .unwrap();
    let (quoted, cursor) = receive(&client, "").await;
    // A newer WeChat client sends only the id (as a number) and the selected part;
    // `startindex` 0 style zero values may be left out.
    sim.inject_items(
        &bot.bot_id,
        &bot.user_id,
        vec![json!({
            "type": 1,
            "text_item": {"text": "这句"},
            "ref_msg": {
                "svr_id": quoted_id,
                "partial_text": {"start": "你好", "startindex": 1, "end": "。"}
            }
        })],
    )
    .unwrap();
    let (quoting, _) = receive(&client, &cursor).await;
    let items = quoting.item_list.unwrap();
    let ref_msg = items[0].ref_msg.as_ref().expect("ref_msg");
    // The id survives exactly, so it finds the quoted message (the quote-store key).
    assert_eq!(ref_msg.svr_id, quoted.message_id);
    let full_text = quoted.item_list.unwrap()[0]
        .text_item
        .as_ref()
        .unwrap()
        .text
        .clone()
        .unwrap();
    let partial = ref_msg.partial_text.as_ref().expect("partial_text");
    assert_eq!(
        resolve_partial_quote(&full_text, partial),
        Some("你好，朋友。")
    );
}
