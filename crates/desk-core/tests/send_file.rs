//! Sending files against ilink-sim: staged copy and outbox row first, upload to the
//! emulator's CDN with progress, the item kind chosen by content, caption before media,
//! hostile names sanitised, the size cap, and no second upload when only the send failed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use desk_core::engine::{Engine, EngineConfig, EngineError, EngineEvent, Timings};
use desk_core::secrets::MemoryStore;
use desk_core::store::OutboxState;
use desk_core::{DataDir, Store};
use ilink_sim::{Fault, Sim};
use tokio::sync::broadcast::Receiver;

use common::{add_bot, loopback_client, next_event, received, sim_with, Bot};

const PEER: &str = "alice@im.wechat";

struct Setup {
    sim: Sim,
    engine: Engine,
    rx: Receiver<EngineEvent>,
    bot_id: String,
    account_id: String,
    data: DataDir,
    _dir: tempfile::TempDir,
}

/// An engine with a data directory, one account on the sim and a peer who wrote once.
async fn setup(max_upload_bytes: u64) -> Setup {
    let sim = sim_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::at(dir.path().join("data")).unwrap();
    let store = Store::open(&data.database()).unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let Bot {
        bot_id, account_id, ..
    } = add_bot(&sim, &store, &secrets, &[PEER]);
    let config = EngineConfig {
        client: loopback_client(),
        timings: Timings {
            poll_retry: Duration::from_millis(20),
            send_retry: Duration::from_millis(20),
            send_retry_max: Duration::from_millis(100),
            ..Timings::default()
        },
        max_upload_bytes,
        ..EngineConfig::default()
    };
    let engine = Engine::new_in(store, &data, secrets, config);
    let mut rx = engine.subscribe();
    engine.accounts().start(&account_id).await.unwrap();
    sim.inject_text(&bot_id, PEER, "send me the pictures")
        .unwrap();
    next_event(&mut rx, received(&account_id)).await;
    Setup {
        sim,
        engine,
        rx,
        bot_id,
        account_id,
        data,
        _dir: dir,
    }
}

fn delivered(outbox: i64) -> impl FnMut(&EngineEvent) -> bool {
    move |e| {
        matches!(e, EngineEvent::DeliveryUpdated { outbox_id, state: OutboxState::Delivered, .. }
            if *outbox_id == outbox)
    }
}

/// PNG magic then enough bytes for several upload chunks (256 KiB each).
fn png_bytes() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..700_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    bytes
}

fn count_requests(sim: &Sim, endpoint: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.endpoint.contains(endpoint))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_with_a_caption_reaches_the_emulator_byte_for_byte() {
    let mut s = setup(desk_core::engine::DEFAULT_MAX_UPLOAD_BYTES).await;
    let src = s._dir.path().join("holiday photo.png");
    let bytes = png_bytes();
    std::fs::write(&src, &bytes).unwrap();

    let entry = s
        .engine
        .send_file(&s.account_id, PEER, &src, Some("  from the beach "))
        .await
        .unwrap();
    assert_eq!(entry.kind, "image");
    // The original may go away: the staged copy is what is sent.
    std::fs::remove_file(&src).unwrap();

    let mut progress = Vec::new();
    let done = next_event(&mut s.rx, |e| {
        if let EngineEvent::UploadProgress {
            outbox_id,
            sent,
            total,
            ..
        } = e
        {
            if *outbox_id == entry.id {
                progress.push((*sent, *total));
            }
        }
        delivered(entry.id)(e)
    })
    .await;
    assert!(matches!(done, EngineEvent::DeliveryUpdated { .. }));
    let padded = ilink::crypto::padded_size(bytes.len() as u64);
    assert!(progress.len() >= 3, "{progress:?}");
    assert_eq!(progress.last(), Some(&(padded, padded)));
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));

    let sent = s.sim.sent_messages(&s.bot_id).unwrap();
    assert_eq!(sent.len(), 2, "caption, then the image");
    assert_eq!(sent[0].item["text_item"]["text"], "from the beach");
    let image = &sent[1].item;
    assert_eq!(image["type"], 2);
    assert_eq!(image["image_item"]["mid_size"], padded);
    assert!(sent[1].flags.is_empty(), "{:?}", sent[1].flags);
    let param = image["image_item"]["media"]["encrypt_query_param"]
        .as_str()
        .unwrap();
    assert_eq!(s.sim.cdn_plaintext(param).unwrap(), bytes);
    // The recipient's key (base64 of the hex key) is the one the CDN blob was sealed with.
    let aes_key = image["image_item"]["media"]["aes_key"].as_str().unwrap();
    ilink::crypto::parse_media_key(aes_key).unwrap();

    // The log row shows the caption and points at the saved copy.
    let (account, id) = (s.account_id.clone(), entry.message_row_id.unwrap());
    let rows = s
        .engine
        .store()
        .call(move |st| st.conversation_page(&account, PEER, None, 10))
        .await
        .unwrap();
    let row = rows.messages.iter().find(|m| m.id == id).unwrap();
    assert_eq!(row.item_kind, "image");
    assert_eq!(row.text.as_deref(), Some("from the beach"));
    assert_eq!(row.delivery, "delivered");
    assert_eq!(row.media_state, "ready");
    let saved = s.data.root().join(row.media_path.as_deref().unwrap());
    assert!(saved.starts_with(s.data.root().join("media")));
    assert_eq!(std::fs::read(saved).unwrap(), bytes);
    s.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_file_goes_as_a_file_item_under_its_sanitised_name() {
    let mut s = setup(desk_core::engine::DEFAULT_MAX_UPLOAD_BYTES).await;
    // A bell, a right-to-left override and leading dots in the name on disk.
    let src = s._dir.path().join("..re\u{7}port\u{202e}.txt");
    std::fs::write(&src, b"quarterly figures\n").unwrap();
    let entry = s
        .engine
        .send_file(&s.account_id, PEER, &src, None)
        .await
        .unwrap();
    assert_eq!(entry.kind, "file");
    next_event(&mut s.rx, delivered(entry.id)).await;
    let sent = s.sim.sent_messages(&s.bot_id).unwrap();
    assert_eq!(sent.len(), 1, "no caption, one request");
    let file = &sent[0].item["file_item"];
    assert_eq!(sent[0].item["type"], 4);
    assert_eq!(file["file_name"], "report.txt");
    assert_eq!(file["len"], "18");
    let param = file["media"]["encrypt_query_param"].as_str().unwrap();
    assert_eq!(
        s.sim.cdn_plaintext(param).unwrap(),
        b"quarterly figures\n".to_vec()
    );
    s.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_over_the_cap_empty_or_missing_are_refused_and_nothing_is_queued() {
    let s = setup(1024).await;
    let big = s._dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 1025]).unwrap();
    let err = s
        .engine
        .send_file(&s.account_id, PEER, &big, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::FileTooLarge {
                size: 1025,
                limit: 1024
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("too large"), "{err}");
    let empty = s._dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        s.engine.send_file(&s.account_id, PEER, &empty, None).await,
        Err(EngineError::EmptyFile(_))
    ));
    let missing = s._dir.path().join("nope.txt");
    let err = s
        .engine
        .send_file(&s.account_id, PEER, &missing, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope.txt"), "{err}");
    let account = s.account_id.clone();
    let unfinished = s
        .engine
        .store()
        .call(move |st| st.unfinished_outbox(&account))
        .await
        .unwrap();
    assert!(unfinished.is_empty());
    assert!(!s.data.root().join("media").exists(), "no staged leftovers");
    assert_eq!(count_requests(&s.sim, "getuploadurl"), 0);
    s.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_fails_after_the_upload_is_retried_without_uploading_again() {
    let mut s = setup(desk_core::engine::DEFAULT_MAX_UPLOAD_BYTES).await;
    let src = s._dir.path().join("notes.pdf");
    std::fs::write(&src, b"%PDF-1.4 not really").unwrap();
    s.sim
        .inject_fault("sendmessage", Fault::Status { status: 500 });
    let entry = s
        .engine
        .send_file(&s.account_id, PEER, &src, None)
        .await
        .unwrap();
    next_event(&mut s.rx, delivered(entry.id)).await;
    assert_eq!(count_requests(&s.sim, "getuploadurl"), 1);
    assert_eq!(count_requests(&s.sim, "c2c/upload"), 1);
    let sent = s.sim.sent_messages(&s.bot_id).unwrap();
    assert_eq!(sent.len(), 1);
    let param = sent[0].item["file_item"]["media"]["encrypt_query_param"]
        .as_str()
        .unwrap();
    assert_eq!(
        s.sim.cdn_plaintext(param).unwrap(),
        b"%PDF-1.4 not really".to_vec()
    );
    s.engine.shutdown().await;
}
