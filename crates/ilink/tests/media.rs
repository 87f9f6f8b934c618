//! CDN media against the emulator (docs/protocol.md §7, E14–E16): uploads checked byte for byte by
//! the emulator, sendmessage of the items, and downloads of every key encoding.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ilink::client::{Client, ClientConfig};
use ilink::media::{
    download_item, download_key, download_to_file, download_url, items, media_of, route_media,
    upload_file, CdnConfig, MediaError, MediaKey, OutboundKind, Progress,
};
use ilink::models::{ItemType, MessageItem, MessageState, MessageType, WeixinMessage};
use ilink::Secret;
use ilink_sim::{
    BotInfo, Fault, InboundMedia, KeyForm, Knobs, MediaKind, Sim, SimConfig, UploadUrlMode,
};
use tokio_util::sync::CancellationToken;

struct Setup {
    sim: Sim,
    bot: BotInfo,
    client: Client,
    cdn: CdnConfig,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let sim = Sim::start(SimConfig {
        knobs: Knobs {
            poll_hold_ms: 300,
            ..Knobs::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("sim starts");
    let bot = sim.create_bot();
    let client = Client::new(
        ClientConfig {
            api_base: sim.base_url(),
            use_system_proxy: false,
            ..ClientConfig::default()
        },
        Some(Secret::new(bot.token.clone())),
    )
    .expect("client");
    let cdn = CdnConfig {
        cdn_base: sim.cdn_base_url(),
        chunk_size: 4096,
        ..CdnConfig::default()
    };
    Setup {
        sim,
        bot,
        client,
        cdn,
        dir: tempfile::tempdir().expect("temp dir"),
    }
}

/// Deterministic bytes that do not repeat with the AES block size.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn write(dir: &Path, name: &str, head: &[u8], len: usize) -> (PathBuf, Vec<u8>) {
    let mut bytes = head.to_vec();
    bytes.extend(noise(len.saturating_sub(head.len()), len as u32));
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("write");
    (path, bytes)
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const MP4: &[u8] = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom";
const PDF: &[u8] = b"%PDF-1.7\n";

fn outbound(to: &str, context_token: &str, item: MessageItem) -> WeixinMessage {
    WeixinMessage {
        from_user_id: Some(String::new()),
        to_user_id: Some(to.to_owned()),
        client_id: Some(format!("weixin-desk:test-{}", rand::random::<u32>())),
        message_type: Some(MessageType::Bot),
        message_state: Some(MessageState::Finish),
        item_list: Some(vec![item]),
        context_token: Some(context_token.to_owned()),
        ..WeixinMessage::default()
    }
}

/// The user writes first, so the bot has a context_token to reply with.
fn context_token(s: &Setup) -> String {
    s.sim
        .inject_text(&s.bot.bot_id, &s.bot.user_id, "send me something")
        .unwrap();
    s.sim
        .context_token(&s.bot.bot_id, &s.bot.user_id)
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn upload_and_send_image_video_and_file_byte_for_byte() {
    let s = setup().await;
    let token = context_token(&s);
    let cases = [
        ("photo.png", PNG, 70_001, OutboundKind::Image, "image_item"),
        ("clip.mp4", MP4, 4096, OutboundKind::Video, "video_item"),
        ("report.pdf", PDF, 33, OutboundKind::File, "file_item"),
        // The extension lies: PNG bytes named .txt go out as an image.
        ("actually.txt", PNG, 16, OutboundKind::Image, "image_item"),
    ];
    for (name, head, len, kind, field) in cases {
        let (path, bytes) = write(s.dir.path(), name, head, len);
        let routed = route_media(name, &bytes[..bytes.len().min(8192)]);
        assert_eq!(routed.kind, kind, "{name}");

        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = calls.clone();
        let progress: Progress =
            Arc::new(move |sent, total| sink.lock().unwrap().push((sent, total)));
        let uploaded = upload_file(
            &s.client,
            &s.cdn,
            &path,
            &s.bot.user_id,
            routed.kind,
            Some(progress),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(uploaded.rawsize, bytes.len() as u64);
        assert_eq!(uploaded.filesize, (bytes.len() as u64 / 16 + 1) * 16);
        assert_eq!(
            s.sim.cdn_plaintext(&uploaded.download_param).as_deref(),
            Some(&bytes[..]),
            "{name}: the CDN decrypts what was sent"
        );
        let calls = calls.lock().unwrap().clone();
        assert_eq!(
            calls.last(),
            Some(&(uploaded.filesize, uploaded.filesize)),
            "{name}"
        );
        assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));

        let item = items::media_item(&uploaded);
        s.client
            .sendmessage(&outbound(&s.bot.user_id, &token, item))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let sent = s.sim.sent_messages(&s.bot.bot_id).unwrap();
        let last = sent.last().unwrap();
        assert!(last.flags.is_empty(), "{name}: {:?}", last.flags);
        let param = last.item[field]["media"]["encrypt_query_param"]
            .as_str()
            .unwrap();
        assert_eq!(s.sim.cdn_plaintext(param).as_deref(), Some(&bytes[..]));
        if kind == OutboundKind::File {
            assert_eq!(last.item[field]["file_name"], name);
        }
    }
    let violations: Vec<_> = s
        .sim
        .requests()
        .into_iter()
        .flat_map(|r| r.violations)
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test]
async fn a_multi_megabyte_file_streams_up_and_back_down() {
    let s = setup().await;
    let cdn = CdnConfig {
        chunk_size: 64 * 1024,
        ..s.cdn.clone()
    };
    let (path, bytes) = write(s.dir.path(), "big.pdf", PDF, 3 * 1024 * 1024 + 5);
    let uploaded = upload_file(
        &s.client,
        &cdn,
        &path,
        &s.bot.user_id,
        OutboundKind::File,
        None,
    )
    .await
    .expect("upload");
    assert_eq!(
        s.sim.cdn_plaintext(&uploaded.download_param).as_deref(),
        Some(&bytes[..])
    );
    let token = context_token(&s);
    s.client
        .sendmessage(&outbound(
            &s.bot.user_id,
            &token,
            items::media_item(&uploaded),
        ))
        .await
        .expect("send");
    // What the peer received, downloaded the way an inbound item would be.
    let sent = s.sim.sent_messages(&s.bot.bot_id).unwrap();
    let item: MessageItem = serde_json::from_value(sent[0].item.clone()).unwrap();
    let dest = s.dir.path().join("big-back.pdf");
    let got = download_item(&s.client, &cdn, &item, &dest)
        .await
        .expect("download");
    assert_eq!(got.size, bytes.len() as u64);
    assert!(std::fs::read(&dest).unwrap() == bytes);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only from the first byte");
    }
}

#[tokio::test]
async fn upload_prefers_the_full_url_and_handles_an_empty_file() {
    let s = setup().await;
    for mode in [UploadUrlMode::FullUrl, UploadUrlMode::Both] {
        s.sim.update_knobs(|k| k.upload_url_mode = mode);
        // The param-built URL would go to a CDN base that does not exist.
        let cdn = CdnConfig {
            cdn_base: "http://127.0.0.1:9/nowhere".to_owned(),
            ..s.cdn.clone()
        };
        let (path, bytes) = write(s.dir.path(), "empty.bin", b"", 0);
        let uploaded = upload_file(
            &s.client,
            &cdn,
            &path,
            &s.bot.user_id,
            OutboundKind::File,
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(uploaded.filesize, 16);
        assert_eq!(s.sim.cdn_plaintext(&uploaded.download_param), Some(bytes));
    }
}

#[tokio::test]
async fn upload_retries_server_errors_but_not_client_errors() {
    let s = setup().await;
    let (path, bytes) = write(s.dir.path(), "a.pdf", PDF, 5000);
    let upload = || {
        upload_file(
            &s.client,
            &s.cdn,
            &path,
            &s.bot.user_id,
            OutboundKind::File,
            None,
        )
    };

    // A 500 and a 200 without x-encrypted-param, then success on the third try.
    s.sim
        .inject_fault("c2c/upload", Fault::Status { status: 500 });
    s.sim.inject_fault("c2c/upload", Fault::EmptyBody);
    let uploaded = upload().await.expect("third attempt succeeds");
    assert_eq!(s.sim.cdn_plaintext(&uploaded.download_param), Some(bytes));

    for _ in 0..3 {
        s.sim
            .inject_fault("c2c/upload", Fault::Status { status: 502 });
    }
    match upload().await {
        Err(MediaError::UploadFailed { attempts: 3, last }) => {
            assert!(last.contains("502"), "{last}")
        }
        other => panic!("expected UploadFailed, got {other:?}"),
    }

    // A 4xx is final: had it been retried, the next attempt would have succeeded.
    s.sim
        .inject_fault("c2c/upload", Fault::Status { status: 403 });
    match upload().await {
        Err(MediaError::UploadRejected { status: 403, .. }) => {}
        other => panic!("expected UploadRejected, got {other:?}"),
    }
    upload().await.expect("no leftover fault");
}

#[tokio::test]
async fn the_cdn_reason_for_a_rejected_upload_is_reported() {
    let s = setup().await;
    let (path, _) = write(s.dir.path(), "a.pdf", PDF, 100);
    // An expired upload slot: the emulator answers 400 with x-error-message.
    s.sim.update_knobs(|k| k.upload_param_ttl_ms = 0);
    match upload_file(
        &s.client,
        &s.cdn,
        &path,
        &s.bot.user_id,
        OutboundKind::File,
        None,
    )
    .await
    {
        Err(MediaError::UploadRejected {
            status: 400,
            message,
        }) => {
            assert!(message.contains("expired"), "{message}")
        }
        other => panic!("expected UploadRejected, got {other:?}"),
    }
}

/// Injects media, fetches the inbound message and returns its single item.
async fn inbound_item(
    s: &Setup,
    kind: MediaKind,
    bytes: &[u8],
    key_form: KeyForm,
    full_url: bool,
) -> MessageItem {
    s.sim
        .inject_media(
            &s.bot.bot_id,
            &s.bot.user_id,
            InboundMedia {
                kind,
                bytes: bytes.to_vec(),
                key_form,
                full_url,
            },
        )
        .unwrap();
    let updates = s
        .client
        .getupdates("", &CancellationToken::new())
        .await
        .expect("getupdates");
    // The emulator's cursor "" means everything unacknowledged: take the newest.
    let msg = updates.into_messages().pop().expect("a message");
    msg.item_list.unwrap_or_default().pop().expect("an item")
}

#[tokio::test]
async fn download_every_key_encoding() {
    let s = setup().await;
    let cases = [
        (
            MediaKind::Image,
            KeyForm::HexAndRawBase64,
            false,
            ItemType::Image,
        ),
        (MediaKind::Image, KeyForm::RawBase64, true, ItemType::Image),
        (MediaKind::Image, KeyForm::HexBase64, false, ItemType::Image),
        (
            MediaKind::Image,
            KeyForm::Unencrypted,
            true,
            ItemType::Image,
        ),
        (MediaKind::Video, KeyForm::HexBase64, true, ItemType::Video),
        (
            MediaKind::File {
                name: "r.pdf".into(),
            },
            KeyForm::HexBase64,
            false,
            ItemType::File,
        ),
        (
            MediaKind::Voice { text: None },
            KeyForm::HexBase64,
            false,
            ItemType::Voice,
        ),
    ];
    for (i, (kind, key_form, full_url, item_type)) in cases.into_iter().enumerate() {
        let bytes = noise(1000 + i * 37, i as u32 + 1);
        let item = inbound_item(&s, kind, &bytes, key_form, full_url).await;
        assert_eq!(item.item_type, Some(item_type));
        let dest = s.dir.path().join(format!("in-{i}"));
        let got = download_item(&s.client, &s.cdn, &item, &dest)
            .await
            .unwrap_or_else(|e| panic!("case {i} {key_form:?}: {e}"));
        assert_eq!(got.size, bytes.len() as u64);
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            bytes,
            "case {i} {key_form:?}"
        );
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn a_download_over_the_cap_stops_and_leaves_nothing() {
    let s = setup().await;
    let bytes = noise(50_000, 7);
    let item = inbound_item(&s, MediaKind::Video, &bytes, KeyForm::HexBase64, false).await;
    let url = download_url(&s.cdn.cdn_base, media_of(&item).unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    for limit in [10_000, 49_999] {
        let cdn = CdnConfig {
            max_download_bytes: limit,
            ..s.cdn.clone()
        };
        let dest = out.path().join("big.mp4");
        match download_to_file(&s.client, &cdn, &url, download_key(&item).unwrap(), &dest).await {
            Err(MediaError::TooLarge { limit: l }) => assert_eq!(l, limit),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert!(
            leftovers(out.path()).is_empty(),
            "{:?}",
            leftovers(out.path())
        );
    }
    // Exactly at the cap is fine.
    let cdn = CdnConfig {
        max_download_bytes: 50_000,
        ..s.cdn.clone()
    };
    let dest = out.path().join("ok.mp4");
    download_to_file(&s.client, &cdn, &url, download_key(&item).unwrap(), &dest)
        .await
        .unwrap();
    assert_eq!(std::fs::read(dest).unwrap(), bytes);
}

#[tokio::test]
async fn a_mismatched_key_is_a_clear_error_and_leaves_nothing() {
    let s = setup().await;
    let out = tempfile::tempdir().unwrap();
    // A random wrong key still passes the padding check about once in 256 tries (the
    // content is then garbage, as with any unchecked cipher), so try a few blobs: every
    // failure must be WrongKey, and at least one must fail.
    let mut failures = 0;
    for i in 0..4u32 {
        let bytes = noise(3000, 9 + i);
        let item = inbound_item(
            &s,
            MediaKind::File {
                name: "dup.zip".into(),
            },
            &bytes,
            KeyForm::Mismatched,
            false,
        )
        .await;
        let url = download_url(&s.cdn.cdn_base, media_of(&item).unwrap()).unwrap();
        let dest = out.path().join(format!("dup-{i}.zip"));
        match download_to_file(&s.client, &s.cdn, &url, download_key(&item).unwrap(), &dest).await {
            Err(err) => {
                assert!(matches!(err, MediaError::WrongKey), "{err}");
                assert!(err.to_string().contains("wrong key"));
                assert!(!dest.exists());
                failures += 1;
            }
            Ok(got) => assert_ne!(std::fs::read(got.path).unwrap(), bytes),
        }
    }
    assert!(failures > 0);
    let part_files: Vec<_> = leftovers(out.path())
        .into_iter()
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(part_files.is_empty(), "{part_files:?}");
}

/// A CDN that streams without Content-Length, so the cap can only act mid-stream.
#[tokio::test]
async fn the_cap_also_holds_without_a_content_length() {
    use axum::body::Body;
    use axum::routing::get;

    let app = axum::Router::new().route(
        "/c2c/download",
        get(|| async {
            let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![7u8; 1024]));
            Body::from_stream(futures_util::stream::iter(chunks))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = Client::new(
        ClientConfig {
            api_base: format!("http://{addr}/"),
            use_system_proxy: false,
            ..ClientConfig::default()
        },
        None,
    )
    .unwrap();
    let cdn = CdnConfig {
        max_download_bytes: 10_000,
        ..CdnConfig::default()
    };
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/c2c/download?encrypted_query_param=x");
    let dest = out.path().join("stream.jpg");
    match download_to_file(&client, &cdn, &url, MediaKey::Unencrypted, &dest).await {
        Err(MediaError::TooLarge { limit: 10_000 }) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(leftovers(out.path()).is_empty());
    // With room, the same stream arrives whole.
    let cdn = CdnConfig::default();
    let got = download_to_file(&client, &cdn, &url, MediaKey::Unencrypted, &dest)
        .await
        .unwrap();
    assert_eq!(got.size, 64 * 1024);
    server.abort();
}

#[tokio::test]
async fn an_unknown_download_param_is_an_http_error() {
    let s = setup().await;
    let url = format!("{}/download?encrypted_query_param=nope", s.cdn.cdn_base);
    let dest = s.dir.path().join("x");
    match download_to_file(&s.client, &s.cdn, &url, MediaKey::Unencrypted, &dest).await {
        Err(MediaError::DownloadStatus { status: 500 }) => {}
        other => panic!("expected DownloadStatus, got {other:?}"),
    }
    assert!(!dest.exists());
}

/// A download dropped halfway (cancelled) leaves no partial file.
#[tokio::test]
async fn a_cancelled_download_leaves_nothing() {
    use axum::body::Body;
    use axum::routing::get;
    use futures_util::StreamExt;

    // One chunk, then the connection stalls.
    let app = axum::Router::new().route(
        "/stall",
        get(|| async {
            let first = futures_util::stream::iter([Ok::<_, std::io::Error>(vec![1u8; 4096])]);
            Body::from_stream(first.chain(futures_util::stream::pending()))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = Client::new(
        ClientConfig {
            api_base: format!("http://{addr}/"),
            use_system_proxy: false,
            ..ClientConfig::default()
        },
        None,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("stalled.jpg");
    let part = out.path().join("stalled.jpg.part");
    let url = format!("http://{addr}/stall");
    let task = {
        let dest = dest.clone();
        tokio::spawn(async move {
            download_to_file(
                &client,
                &CdnConfig::default(),
                &url,
                MediaKey::Unencrypted,
                &dest,
            )
            .await
        })
    };
    // Wait (bounded) until the first bytes are on disk.
    for _ in 0..200 {
        if std::fs::metadata(&part).is_ok_and(|m| m.len() > 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(part.exists(), "the download started");
    task.abort();
    let _ = task.await;
    assert!(
        leftovers(out.path()).is_empty(),
        "{:?}",
        leftovers(out.path())
    );
    server.abort();
}
