//! Inbound media jobs against ilink-sim's CDN: downloaded, decrypted and filed under the
//! data directory, voice turned into WAV, failures reported without losing anything
//! else, and unfinished jobs resumed after a restart. No timing assertions.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use desk_core::engine::{Engine, EngineConfig, EngineEvent, MediaOptions, Timings};
use desk_core::secrets::MemoryStore;
use desk_core::views::MediaFailure;
use desk_core::{DataDir, Store};
use ilink_sim::{Fault, FaultRule, InboundMedia, KeyForm, MediaKind, Sim, VideoPoster};
use tokio::sync::broadcast::Receiver;

use common::{add_bot, loopback_client, next_event, sim_with, Bot, WAIT};

fn config() -> EngineConfig {
    EngineConfig {
        client: loopback_client(),
        timings: Timings {
            poll_retry: Duration::from_millis(20),
            poll_backoff: Duration::from_millis(100),
            ..Timings::default()
        },
        ..EngineConfig::default()
    }
}

fn media_options() -> MediaOptions {
    MediaOptions {
        retry: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
        ..MediaOptions::default()
    }
}

fn media(kind: MediaKind, bytes: &[u8], key_form: KeyForm) -> InboundMedia {
    InboundMedia {
        kind,
        bytes: bytes.to_vec(),
        key_form,
        full_url: false,
    }
}

/// An engine with media on a fresh data directory, one account started on `sim`.
struct MediaWorld {
    rx: Receiver<EngineEvent>,
    engine: Engine,
    bot: Bot,
    data: DataDir,
    _tmp: tempfile::TempDir,
}

async fn media_world(sim: &Sim, options: MediaOptions) -> MediaWorld {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::at(tmp.path()).unwrap();
    let store = Store::open(&data.database()).unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let bot = add_bot(sim, &store, &secrets, &[]);
    let engine = Engine::new_in_with_media(store, &data, secrets, config(), options);
    let rx = engine.subscribe();
    engine.accounts().start(&bot.account_id).await.unwrap();
    MediaWorld {
        rx,
        engine,
        bot,
        data,
        _tmp: tmp,
    }
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-not-really-an-image-but-png-magic";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_file_and_voice_are_saved_decrypted_and_a_wrong_key_fails_alone() {
    let sim = sim_with(|_| {}).await;
    let MediaWorld {
        engine,
        bot,
        mut rx,
        data,
        _tmp,
    } = media_world(&sim, media_options()).await;

    let report: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let injected = [
        media(MediaKind::Image, PNG, KeyForm::HexAndRawBase64),
        media(
            MediaKind::File {
                name: "../../secret/report.pdf".into(),
            },
            &report,
            KeyForm::HexBase64,
        ),
        InboundMedia::silk_voice(None),
        media(
            MediaKind::File {
                name: "dedupe-bug.txt".into(),
            },
            b"never readable",
            KeyForm::Mismatched,
        ),
        media(MediaKind::Image, PNG, KeyForm::Unencrypted),
    ];
    let n = injected.len();
    for m in injected {
        sim.inject_media(&bot.bot_id, &bot.user_id, m).unwrap();
    }
    // Messages arrive in the order they were sent; media results in any order.
    let mut rows = Vec::new();
    let mut results = HashMap::new();
    while rows.len() < n || results.len() < n {
        let e = next_event(&mut rx, |e| {
            matches!(
                e,
                EngineEvent::MessageReceived { .. }
                    | EngineEvent::MediaReady { .. }
                    | EngineEvent::MediaFailed { .. }
            )
        })
        .await;
        match &e {
            EngineEvent::MessageReceived { message_row_id, .. } => rows.push(*message_row_id),
            EngineEvent::MediaReady { message_row_id, .. }
            | EngineEvent::MediaFailed { message_row_id, .. } => {
                results.insert(*message_row_id, e.clone());
            }
            _ => unreachable!(),
        }
    }
    let ready = |row: i64| match &results[&row] {
        EngineEvent::MediaReady {
            path,
            kind,
            mime,
            note,
            account_id,
            peer_id,
            ..
        } => {
            assert_eq!((account_id, peer_id), (&bot.account_id, &bot.user_id));
            (path.clone(), kind.clone(), mime.clone(), note.clone())
        }
        other => panic!("expected MediaReady for {row}, got {other:?}"),
    };
    let media_dir = data.root().join("media").join(&bot.account_id);

    let (path, kind, mime, note) = ready(rows[0]);
    assert_eq!(
        (kind.as_str(), mime.as_str(), note),
        ("image", "image/png", None)
    );
    assert_eq!(std::fs::read(&path).unwrap(), PNG);
    assert!(Path::new(&path).starts_with(&media_dir), "{path}");
    assert!(path.ends_with(".png"), "{path}");

    let (path, kind, mime, _) = ready(rows[1]);
    assert_eq!((kind.as_str(), mime.as_str()), ("file", "application/pdf"));
    assert_eq!(std::fs::read(&path).unwrap(), report);
    assert_eq!(Path::new(&path).file_name().unwrap(), "report.pdf");
    assert!(Path::new(&path).starts_with(&media_dir), "{path}");

    let (path, kind, mime, note) = ready(rows[2]);
    assert_eq!(
        (kind.as_str(), mime.as_str(), note),
        ("voice", "audio/wav", None)
    );
    let wav = std::fs::read(&path).unwrap();
    assert!(wav.starts_with(b"RIFF") && wav.len() > 44, "a WAV file");

    match &results[&rows[3]] {
        EngineEvent::MediaFailed {
            reason,
            kind,
            failure,
            ..
        } => {
            assert_eq!(kind, "file");
            assert_eq!(*failure, MediaFailure::Damaged);
            assert!(reason.contains("decrypt"), "{reason}");
        }
        other => panic!("expected MediaFailed, got {other:?}"),
    }
    let (path, ..) = ready(rows[4]);
    assert_eq!(std::fs::read(&path).unwrap(), PNG, "unencrypted image");

    // The store agrees, and the failed one left no file behind.
    let ids = rows.clone();
    let stored = engine
        .store()
        .call(move |s| {
            ids.iter()
                .map(|id| s.message_media(*id).map(|m| m.unwrap()))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .unwrap();
    let states: Vec<&str> = stored.iter().map(|m| m.state.as_str()).collect();
    assert_eq!(states, ["ready", "ready", "ready", "failed", "ready"]);
    assert!(stored[3].error.as_deref().unwrap().contains("decrypt"));
    assert_eq!(
        data.root().join(stored[1].path.as_deref().unwrap()),
        Path::new(&ready(rows[1]).0)
    );
    let mut files = Vec::new();
    for month in std::fs::read_dir(&media_dir).unwrap() {
        for f in std::fs::read_dir(month.unwrap().path()).unwrap() {
            files.push(f.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(
        !files
            .iter()
            .any(|f| f.contains("download") || f.contains("dedupe")),
        "{files:?}"
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_queued_without_a_media_worker_are_resumed_after_a_restart() {
    let sim = sim_with(|_| {}).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::at(tmp.path()).unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let bot = {
        let store = Store::open(&data.database()).unwrap();
        add_bot(&sim, &store, &secrets, &[])
    };
    let row = {
        // An engine without a data directory stores the message and its job only.
        let engine = Engine::new(
            Store::open(&data.database()).unwrap(),
            secrets.clone(),
            config(),
        );
        let mut rx = engine.subscribe();
        engine.accounts().start(&bot.account_id).await.unwrap();
        sim.inject_media(
            &bot.bot_id,
            &bot.user_id,
            media(
                MediaKind::File {
                    name: "later.txt".into(),
                },
                b"resumed",
                KeyForm::HexBase64,
            ),
        )
        .unwrap();
        let e = next_event(&mut rx, |e| {
            matches!(e, EngineEvent::MessageReceived { .. })
        })
        .await;
        engine.shutdown().await;
        let EngineEvent::MessageReceived { message_row_id, .. } = e else {
            unreachable!()
        };
        message_row_id
    };

    // The next engine downloads it without any account running.
    let engine = Engine::new_in_with_media(
        Store::open(&data.database()).unwrap(),
        &data,
        secrets,
        config(),
        media_options(),
    );
    // (Polled in the store: the event may go out before a subscriber could exist.)
    let media = tokio::time::timeout(WAIT, async {
        loop {
            let m = engine
                .store()
                .call(move |s| s.message_media(row))
                .await
                .unwrap()
                .unwrap();
            if m.state != "pending" {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the job was not resumed");
    assert_eq!(media.state, "ready", "{media:?}");
    let path = data.root().join(media.path.unwrap());
    assert_eq!(std::fs::read(path).unwrap(), b"resumed");
    engine.shutdown().await;
}

/// Runs one injected media message through an engine with `options` and returns its
/// result event.
async fn one_result(
    sim: &Sim,
    options: MediaOptions,
    m: InboundMedia,
) -> (EngineEvent, DataDir, tempfile::TempDir) {
    let MediaWorld {
        engine,
        bot,
        mut rx,
        data,
        _tmp,
    } = media_world(sim, options).await;
    sim.inject_media(&bot.bot_id, &bot.user_id, m).unwrap();
    let e = next_event(&mut rx, |e| {
        matches!(
            e,
            EngineEvent::MediaReady { .. } | EngineEvent::MediaFailed { .. }
        )
    })
    .await;
    engine.shutdown().await;
    (e, data, _tmp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_trouble_is_retried_and_hopeless_downloads_fail_with_a_reason() {
    let sim = sim_with(|_| {}).await;
    let file = |name: &str, bytes: &[u8]| {
        media(
            MediaKind::File { name: name.into() },
            bytes,
            KeyForm::HexBase64,
        )
    };

    // A 503 and a dropped connection, then the CDN serves it.
    sim.inject_fault("c2c/download", Fault::Status { status: 503 });
    sim.inject_fault("c2c/download", Fault::Reset);
    let (e, _, _tmp) = one_result(&sim, media_options(), file("a.txt", b"third time lucky")).await;
    let EngineEvent::MediaReady { path, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(std::fs::read(path).unwrap(), b"third time lucky");
    let hits = sim.fault_hits();
    assert_eq!(hits.len(), 2, "{hits:?}");

    // Retries run out.
    for _ in 0..2 {
        sim.inject_fault("c2c/download", Fault::Status { status: 500 });
    }
    let few = MediaOptions {
        max_attempts: 2,
        ..media_options()
    };
    let (e, _, _tmp) = one_result(&sim, few, file("b.txt", b"x")).await;
    let EngineEvent::MediaFailed {
        reason, failure, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(reason.contains("500"), "{reason}");
    assert_eq!(*failure, MediaFailure::Unreachable);

    // A 4xx is not retried.
    sim.inject_fault("c2c/download", Fault::Status { status: 404 });
    let (e, _, _tmp) = one_result(&sim, media_options(), file("c.txt", b"x")).await;
    let EngineEvent::MediaFailed {
        reason, failure, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(reason.contains("404"), "{reason}");
    assert_eq!(*failure, MediaFailure::Gone);

    // Over the size cap.
    let small = MediaOptions {
        max_bytes: 100,
        ..media_options()
    };
    let (e, data, _tmp) = one_result(&sim, small, file("big.bin", &[7u8; 1000])).await;
    let EngineEvent::MediaFailed {
        reason, failure, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!(reason.contains("limit"), "{reason}");
    assert_eq!(*failure, MediaFailure::TooLarge);
    let leftovers: Vec<_> = walk(&data.root().join("media"));
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_that_does_not_decode_is_kept_raw_with_its_codec_noted() {
    let sim = sim_with(|_| {}).await;
    let garbage = b"#!SILK_V3 but not really".to_vec();
    let voice = media(
        MediaKind::Voice { text: None },
        &garbage,
        KeyForm::HexBase64,
    );
    let (e, _, _tmp) = one_result(&sim, media_options(), voice).await;
    let EngineEvent::MediaReady {
        path,
        kind,
        mime,
        note,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((kind.as_str(), mime.as_str()), ("voice", "audio/silk"));
    assert!(path.ends_with(".silk"), "{path}");
    assert!(note.as_deref().unwrap().contains("SILK"), "{note:?}");
    assert_eq!(std::fs::read(path).unwrap(), garbage);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The kinds the first test does not cover: a video (saved, decrypted), a voice with the
/// server's transcript (its text stored), a tool-call item and a text quoting media.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_transcribed_voice_and_tool_items_are_stored_by_kind() {
    let sim = sim_with(|_| {}).await;
    let MediaWorld {
        engine,
        bot,
        mut rx,
        _tmp,
        ..
    } = media_world(&sim, media_options()).await;

    // An MP4 header (ftyp box) and some payload.
    let mut video = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    video.extend((0..40_000u32).map(|i| (i % 239) as u8));
    sim.inject_media(
        &bot.bot_id,
        &bot.user_id,
        media(MediaKind::Video, &video, KeyForm::HexBase64),
    )
    .unwrap();
    sim.inject_media(
        &bot.bot_id,
        &bot.user_id,
        InboundMedia::silk_voice(Some("see you at five".into())),
    )
    .unwrap();
    sim.inject_items(
        &bot.bot_id,
        &bot.user_id,
        vec![serde_json::json!({"type": 11, "tool_call_start_item": {"tool_name": "search"}})],
    )
    .unwrap();
    sim.inject_items(
        &bot.bot_id,
        &bot.user_id,
        vec![
            serde_json::json!({"type": 1, "text_item": {"text": "this one"},
            "ref_msg": {"title": "", "message_item": {"type": 2}}}),
        ],
    )
    .unwrap();

    let mut rows = Vec::new();
    let mut video_path = None;
    while rows.len() < 4 || video_path.is_none() {
        match next_event(&mut rx, |e| {
            matches!(
                e,
                EngineEvent::MessageReceived { .. }
                    | EngineEvent::MediaReady { .. }
                    | EngineEvent::MediaFailed { .. }
            )
        })
        .await
        {
            EngineEvent::MessageReceived {
                message_row_id,
                item_kind,
                ..
            } => rows.push((message_row_id, item_kind)),
            EngineEvent::MediaReady { kind, path, .. } if kind == "video" => {
                video_path = Some(path)
            }
            EngineEvent::MediaReady { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    let kinds: Vec<&str> = rows.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds, ["video", "voice", "tool_call_start", "text"]);
    let video_path = std::path::PathBuf::from(video_path.unwrap());
    assert_eq!(std::fs::read(&video_path).unwrap(), video);
    // The poster the server sent is beside it, decoded and re-encoded, before the video
    // was announced ready.
    let poster = desk_core::thumbnail::thumbnail_path(&video_path);
    let made = image::open(&poster).unwrap();
    assert_eq!((made.width(), made.height()), (320, 180));
    assert_ne!(std::fs::read(&poster).unwrap(), ilink_sim::VIDEO_POSTER);
    #[cfg(unix)]
    assert_eq!(mode(&poster), 0o600);
    let account = bot.account_id.clone();
    let peer = bot.user_id.clone();
    let stored = engine
        .store()
        .call(move |s| s.conversation_page(&account, &peer, None, 10))
        .await
        .unwrap()
        .messages;
    let by_id = |id: i64| stored.iter().find(|m| m.id == id).unwrap();
    assert_eq!(by_id(rows[1].0).text.as_deref(), Some("see you at five"));
    assert_eq!(by_id(rows[3].0).text.as_deref(), Some("this one"));
    assert_eq!(by_id(rows[3].0).quote_text.as_deref(), Some("[图片]"));
    engine.shutdown().await;
}

/// A video whose poster is no picture, or that has none, is ready all the same, with no
/// poster and nothing temporary left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_without_a_usable_poster_is_ready_without_one() {
    for poster in [VideoPoster::Damaged, VideoPoster::Missing] {
        let sim = sim_with(|k| k.video_poster = poster).await;
        let MediaWorld {
            engine,
            bot,
            mut rx,
            data,
            _tmp,
        } = media_world(&sim, media_options()).await;
        let video = report(20_000);
        sim.inject_media(
            &bot.bot_id,
            &bot.user_id,
            media(MediaKind::Video, &video, KeyForm::HexBase64),
        )
        .unwrap();
        let e = next_event(&mut rx, |e| {
            matches!(
                e,
                EngineEvent::MediaReady { .. } | EngineEvent::MediaFailed { .. }
            )
        })
        .await;
        let EngineEvent::MediaReady { path, .. } = e else {
            panic!("{poster:?}: {e:?}");
        };
        let path = std::path::PathBuf::from(path);
        assert_eq!(std::fs::read(&path).unwrap(), video, "{poster:?}");
        let beside: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            beside,
            [path.file_name().unwrap().to_string_lossy().into_owned()],
            "{poster:?}"
        );
        assert_eq!(data.sweep_media_temporaries(), 0);
        engine.shutdown().await;
    }
}

fn report(n: u32) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn file_media(name: &str, bytes: &[u8]) -> InboundMedia {
    media(
        MediaKind::File { name: name.into() },
        bytes,
        KeyForm::HexBase64,
    )
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Invariant 9: a download cut at a block boundary with no Content-Length to tell, and
/// one whose bytes changed on the way, are failures with their reason, never ready; the
/// owner's retry then fetches the real file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_or_corrupt_downloads_fail_with_the_reason_and_can_be_retried() {
    let sim = sim_with(|_| {}).await;
    let few = MediaOptions {
        max_attempts: 2,
        ..media_options()
    };
    let MediaWorld {
        engine,
        bot,
        mut rx,
        data,
        _tmp,
    } = media_world(&sim, few).await;
    let body = report(5000);
    let cases = [
        (
            Fault::CutAtBlock,
            "ended after 2496 bytes; the message announced 5000",
        ),
        (Fault::CorruptBody, "MD5"),
    ];
    for (i, (fault, expected)) in cases.into_iter().enumerate() {
        // Every attempt gets the same fault.
        sim.inject_fault("c2c/download", fault.clone());
        sim.inject_fault("c2c/download", fault.clone());
        sim.inject_media(
            &bot.bot_id,
            &bot.user_id,
            file_media(&format!("r{i}.bin"), &body),
        )
        .unwrap();
        let e = next_event(&mut rx, |e| {
            matches!(
                e,
                EngineEvent::MediaReady { .. } | EngineEvent::MediaFailed { .. }
            )
        })
        .await;
        let EngineEvent::MediaFailed {
            reason,
            message_row_id,
            ..
        } = &e
        else {
            panic!("{fault:?} must not be ready: {e:?}")
        };
        assert!(reason.contains("does not match the message"), "{reason}");
        assert!(reason.contains(expected), "{reason}");
        let row = *message_row_id;
        let stored = engine
            .store()
            .call(move |s| s.message_media(row))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.state, "failed");
        assert_eq!(stored.error.as_deref(), Some(reason.as_str()));
        assert!(walk(&data.root().join("media")).is_empty(), "nothing kept");

        // The owner retries; the CDN now serves the real bytes.
        assert!(engine.retry_media(row).await.unwrap());
        assert!(!engine.retry_media(row).await.unwrap(), "already pending");
        let e = next_event(&mut rx, |e| {
            matches!(
                e,
                EngineEvent::MediaReady { .. } | EngineEvent::MediaFailed { .. }
            )
        })
        .await;
        let EngineEvent::MediaReady { path, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(std::fs::read(path).unwrap(), body);
        std::fs::remove_file(path).unwrap();
        assert!(!engine.retry_media(row).await.unwrap(), "ready");
    }
    assert_eq!(sim.fault_hits().len(), 4);
    engine.shutdown().await;
}

/// Invariant 9: a full disk during a download is not a failure of the download. The job
/// waits without using up attempts and the file arrives once space is freed, with no
/// restart; it is owner-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_waits_and_the_file_arrives_when_space_is_freed() {
    let sim = sim_with(|_| {}).await;
    let budget = desk_core::engine::WriteBudget::new(1000);
    let options = MediaOptions {
        max_attempts: 2,
        local_retry: Duration::from_millis(20),
        write_budget: Some(budget.clone()),
        ..media_options()
    };
    let MediaWorld {
        engine,
        bot,
        mut rx,
        _tmp,
        ..
    } = media_world(&sim, options).await;
    // Counts the downloads: a rule that delays each by nothing is logged per hit.
    sim.set_fault_rules(
        0,
        vec![FaultRule {
            endpoint: "c2c/download".into(),
            probability: 1.0,
            fault: Fault::Delay { ms: 0 },
        }],
    );
    let body = report(5000);
    sim.inject_media(&bot.bot_id, &bot.user_id, file_media("big.bin", &body))
        .unwrap();
    let e = next_event(&mut rx, |e| {
        matches!(e, EngineEvent::MessageReceived { .. })
    })
    .await;
    let EngineEvent::MessageReceived { message_row_id, .. } = e else {
        unreachable!()
    };
    let row = message_row_id;
    // Several tries hit the full disk (more than max_attempts), and the job is still
    // pending with no attempt used.
    let downloads = || sim.fault_hits().len();
    tokio::time::timeout(WAIT, async {
        while downloads() < 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the job stopped trying");
    let (job, error, media) = engine
        .store()
        .call(move |s| {
            Ok::<_, desk_core::CoreError>((
                s.media_job(row)?,
                s.media_job_error(row)?,
                s.message_media(row)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(job.expect("still queued").attempts, 0);
    assert!(error.unwrap().contains("No space left"), "a real ENOSPC");
    assert_eq!(media.unwrap().state, "pending");

    budget.set(u64::MAX);
    let e = next_event(&mut rx, |e| {
        matches!(
            e,
            EngineEvent::MediaReady { .. } | EngineEvent::MediaFailed { .. }
        )
    })
    .await;
    let EngineEvent::MediaReady { path, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(std::fs::read(path).unwrap(), body);
    #[cfg(unix)]
    assert_eq!(mode(Path::new(path)), 0o600, "owner-only");
    let dir = Path::new(path).parent().unwrap();
    let names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["big.bin"], "no temporary left");
    engine.shutdown().await;
}

/// What a killed run leaves (a download in progress, a partial thumbnail, an earlier
/// version's temporaries) is swept at start; files that only look similar are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporaries_left_by_a_killed_run_are_swept_at_start() {
    let sim = sim_with(|_| {}).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::at(tmp.path()).unwrap();
    let month = data.root().join("media").join("acc").join("2024-01");
    std::fs::create_dir_all(&month).unwrap();
    let leftovers = [
        ".file-9.download",
        "photo.png.thumb.jpg.part",
        "image-3 (2).download",
        "video-4.download.part",
    ];
    for name in leftovers.iter().chain(&["notes.part", "photo.png"]) {
        std::fs::write(month.join(name), b"x").unwrap();
    }
    let store = Store::open(&data.database()).unwrap();
    let secrets = Arc::new(MemoryStore::new());
    let bot = add_bot(&sim, &store, &secrets, &[]);
    let engine = Engine::new_in_with_media(store, &data, secrets, config(), media_options());
    let mut rx = engine.subscribe();
    engine.accounts().start(&bot.account_id).await.unwrap();
    // The sweep runs before any download: once one is done, it is too.
    sim.inject_media(&bot.bot_id, &bot.user_id, file_media("a.txt", b"after"))
        .unwrap();
    let e = next_event(&mut rx, |e| {
        matches!(
            e,
            EngineEvent::MediaReady { .. } | EngineEvent::MediaFailed { .. }
        )
    })
    .await;
    assert!(matches!(e, EngineEvent::MediaReady { .. }), "{e:?}");
    let mut left: Vec<_> = std::fs::read_dir(&month)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["notes.part", "photo.png"]);
    engine.shutdown().await;
}
