//! What showing media costs the window's web process (release app, window open at a
//! conversation): a 60 MiB video's preview and a conversation of 50 phone-sized
//! pictures, each against the same window at a conversation of text.

use std::process::Command;
use std::time::{Duration, Instant};

use desk_core::Store;
use ilink_sim::{InboundMedia, KeyForm, MediaKind};

use crate::app::{app_fleet, binary, write_prefs, Launched, Plan, MEMORY, WARM_UP};
use crate::cli::Running;
use crate::figure::{Figure, Target};
use crate::fleet::Fleet;
use crate::idle::MIB;
use crate::procfs;

const TEXT_PEER: &str = "words@im.wechat";
const VIDEO_PEER: &str = "film@im.wechat";
const PICTURES_PEER: &str = "photos@im.wechat";
const PICTURES: usize = 50;

pub async fn previews(plan: &Plan) -> Result<Vec<Figure>, String> {
    let app = binary()?;
    let fleet = app_fleet(1).await?;
    let bot = fleet.bots[0].clone();
    for peer in [TEXT_PEER, VIDEO_PEER, PICTURES_PEER] {
        fleet
            .sim
            .add_peer(&bot.bot_id, peer)
            .map_err(|e| e.to_string())?;
    }
    fleet
        .sim
        .inject_text(&bot.bot_id, TEXT_PEER, "just words")
        .map_err(|e| e.to_string())?;
    fleet
        .sim
        .inject_media(&bot.bot_id, VIDEO_PEER, media(MediaKind::Video, video()?))
        .map_err(|e| e.to_string())?;
    for n in 0..PICTURES {
        fleet
            .sim
            .inject_media(
                &bot.bot_id,
                PICTURES_PEER,
                media(MediaKind::Image, phone_picture(n as u32 + 1)),
            )
            .map_err(|e| e.to_string())?;
    }
    download_all(&fleet, 1 + PICTURES)?;
    write_prefs(fleet.data(), false)?;

    let mut figures = Vec::new();
    let baseline = web_process(&app, &fleet, TEXT_PEER, plan.runs).await?;
    for (peer, what, limit) in [
        // The log shows a video's poster; the player (GStreamer) starts when played.
        (
            VIDEO_PEER,
            "previewing a 60 MiB video (its poster, the player on demand)",
            30.0,
        ),
        (
            PICTURES_PEER,
            "a conversation of 50 phone-sized pictures",
            40.0,
        ),
    ] {
        let shown = web_process(&app, &fleet, peer, plan.runs).await?;
        let mut grows = Figure::new(
            MEMORY,
            format!("Web process, {what}: PSS over a text conversation"),
            "MiB",
        )
        .target(Target::AtMost(limit));
        grows.samples = shown
            .iter()
            .zip(&baseline)
            .map(|(with, without)| (with - without) / MIB)
            .collect();
        figures.push(grows);
    }
    Ok(figures)
}

fn media(kind: MediaKind, bytes: Vec<u8>) -> InboundMedia {
    InboundMedia {
        kind,
        bytes,
        key_form: KeyForm::HexBase64,
        full_url: false,
    }
}

/// The web process's PSS (bytes) once the window has shown `peer`'s conversation, one
/// sample per run.
async fn web_process(
    app: &std::path::Path,
    fleet: &Fleet,
    peer: &str,
    runs: usize,
) -> Result<Vec<f64>, String> {
    let account = ilink::account_id::normalize(&fleet.bots[0].bot_id);
    let store = Store::open(
        &desk_core::DataDir::at(fleet.data())
            .map_err(|e| e.to_string())?
            .database(),
    )
    .map_err(|e| e.to_string())?;
    store
        .save_open_conversation(Some((&account, peer)))
        .map_err(|e| e.to_string())?;
    drop(store);
    let mut samples = Vec::new();
    for _ in 0..runs {
        let running = Launched::start(app, fleet, false)?;
        tokio::time::sleep(WARM_UP).await;
        let web: Vec<u32> = procfs::tree(running.pid())
            .into_iter()
            .filter(|pid| procfs::name(*pid).is_some_and(|n| n.starts_with("WebKitWebProces")))
            .collect();
        if web.is_empty() {
            return Err("the window has no web process".into());
        }
        samples.push(
            web.iter()
                .map(|pid| procfs::pss(*pid).unwrap_or(0))
                .sum::<u64>() as f64,
        );
        drop(running);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(samples)
}

/// Runs the CLI until `count` media files are saved in the store.
fn download_all(fleet: &Fleet, count: usize) -> Result<(), String> {
    let running = Running::start(&fleet.cli, fleet.data(), &fleet.url)?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let database = desk_core::DataDir::at(fleet.data())
        .map_err(|e| e.to_string())?
        .database();
    let account = ilink::account_id::normalize(&fleet.bots[0].bot_id);
    loop {
        let store = Store::open(&database).map_err(|e| e.to_string())?;
        let mut ready = 0;
        for peer in [VIDEO_PEER, PICTURES_PEER] {
            let page = store
                .conversation_page(&account, peer, None, 500)
                .map_err(|e| e.to_string())?;
            ready += page
                .messages
                .iter()
                .filter(|m| m.media_state == "ready")
                .count();
        }
        if ready >= count {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("only {ready} of {count} media files downloaded"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(running);
    Ok(())
}

/// A real VP8/WebM video of about 60 MiB, made with GStreamer (which ./dev installs).
fn video() -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("long.webm");
    let status = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "pattern=snow",
            "num-buffers=1290",
            "!",
        ])
        .args(["video/x-raw,width=320,height=240,framerate=25/1", "!"])
        .args([
            "vp8enc",
            "deadline=1",
            "target-bitrate=10000000",
            "end-usage=cbr",
            "!",
        ])
        .args(["webmmux", "!", "filesink"])
        .arg(format!("location={}", path.display()))
        .status()
        .map_err(|e| format!("gst-launch-1.0: {e} (./dev setup installs it)"))?;
    if !status.success() {
        return Err("GStreamer could not make the video".into());
    }
    std::fs::read(&path).map_err(|e| e.to_string())
}

/// A noisy 12-megapixel JPEG (4032×3024), as a phone takes.
fn phone_picture(seed: u32) -> Vec<u8> {
    let (w, h) = (4032u32, 3024u32);
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let pixels: Vec<u8> = (0..w * h * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state & 0xff) as u8
        })
        .collect();
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 60)
        .encode(&pixels, w, h, image::ExtendedColorType::Rgb8)
        .expect("encode a JPEG");
    out.into_inner()
}
