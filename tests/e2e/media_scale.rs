//! Media at full size in the real window: a 60 MiB video streams, plays and seeks
//! without being read whole; a conversation of 50 phone-sized pictures scrolls on
//! thumbnails.

use std::process::Command;
use std::time::Duration;

use ilink_sim::{InboundMedia, KeyForm, MediaKind};

use crate::harness::{enabled, Home};
use crate::sim::{launch_on, login, open_conversation};

const PEER: &str = "vera@im.wechat";
const MIB: usize = 1024 * 1024;

/// A real VP8/WebM video of about 60 MiB (noise frames do not compress), made with
/// GStreamer, which `./dev` installs.
fn sixty_mib_video(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("long.webm");
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
        .expect("gst-launch-1.0 is missing: run ./dev setup");
    assert!(status.success(), "GStreamer could not make the test video");
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 55 * MIB, "the video is {} bytes", bytes.len());
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixty_mib_video_streams_plays_and_seeks() {
    if !enabled("a_sixty_mib_video_streams_plays_and_seeks") {
        return;
    }
    let sim = crate::sim::start_sim().await;
    let home = Home::new();
    let video = sixty_mib_video(&home.tmp);
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.inject_text(&bot.bot_id, PEER, "a long clip").unwrap();
    open_conversation(&app, &bot, PEER).await;
    sim.inject_media(
        &bot.bot_id,
        PEER,
        InboundMedia {
            kind: MediaKind::Video,
            bytes: video,
            key_form: KeyForm::HexBase64,
            full_url: false,
        },
    )
    .unwrap();
    // The log shows the poster the server sent (made into a thumbnail); no player, and so
    // no decoder, until it is asked for.
    let poster = app
        .find_css("[data-testid='video-poster'] img", Duration::from_secs(120))
        .await;
    let poster_src = poster.attr("src").await.unwrap().unwrap_or_default();
    assert!(poster_src.contains(".thumb.jpg"), "{poster_src}");
    app.wait_script(
        "const img = document.querySelector(\"[data-testid='video-poster'] img\");
         return img.complete && img.naturalWidth;",
        serde_json::json!(320),
        Duration::from_secs(20),
    )
    .await;
    assert!(app.all_css("video").await.is_empty());
    app.screenshot("video-poster").await;
    app.element("video-poster").await.click().await.unwrap();
    app.find_css("[data-testid='video-player']", Duration::from_secs(10))
        .await;
    let played = app
        .driver
        .execute(
            r#"const video = document.querySelector("[data-testid='video-player']");
               video.muted = true;
               const report = (stage) => ({ stage, src: video.src, duration: video.duration,
                 time: video.currentTime, ready: video.readyState,
                 error: video.error && [video.error.code, video.error.message] });
               return new Promise((done) => {
                 setTimeout(() => done(report("timeout")), 60000);
                 video.addEventListener("error", () => done(report("error")));
                 const seek = () => {
                   video.addEventListener("seeked", () => done(report("seeked")), { once: true });
                   video.currentTime = video.duration * 0.8;
                 };
                 const start = () => {
                   video.play().catch(() => {});
                   if (video.currentTime > 0) return seek();
                   video.addEventListener("timeupdate", () => { if (video.currentTime > 0) seek(); }, { once: false });
                 };
                 if (video.readyState >= 1) start();
                 else video.addEventListener("loadedmetadata", start, { once: true });
               });"#,
            vec![],
        )
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(played["stage"], "seeked", "{played}");
    let duration = played["duration"].as_f64().unwrap();
    // 1,290 frames at 25 per second.
    assert!((50.0..53.0).contains(&duration), "{played}");
    let time = played["time"].as_f64().unwrap();
    assert!((time - duration * 0.8).abs() < 2.0, "{played}");
    assert!(
        played["src"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{played}"
    );
    app.quit().await;
}

/// A noisy phone-sized JPEG (a different one each time).
fn phone_picture(seed: u32) -> Vec<u8> {
    let (w, h) = (1512, 2016);
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
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
        .encode(&pixels, w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_pictures_scroll_on_thumbnails() {
    if !enabled("fifty_pictures_scroll_on_thumbnails") {
        return;
    }
    let sim = crate::sim::start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    for n in 0..50 {
        sim.inject_media(
            &bot.bot_id,
            PEER,
            InboundMedia {
                kind: MediaKind::Image,
                bytes: phone_picture(n + 1),
                key_form: KeyForm::HexAndRawBase64,
                full_url: false,
            },
        )
        .unwrap();
    }
    open_conversation(&app, &bot, PEER).await;
    // Every picture arrives and is shown by its thumbnail, top to bottom of the log.
    let thumbs_of_all = r#"
        const log = document.querySelector("[data-testid='message-log']");
        const seen = new Map();
        const settle = (img) => img.complete ? null : Promise.race([
          new Promise((r) => { img.addEventListener("load", r); img.addEventListener("error", r); }),
          new Promise((r) => setTimeout(r, 1500)),
        ]);
        return new Promise(async (done) => {
          for (let y = log.scrollHeight; y >= -300; y -= 250) {
            log.scrollTop = y;
            await new Promise((r) => setTimeout(r, 50));
            const imgs = [...document.querySelectorAll("[data-testid='image-thumb'] img")];
            await Promise.all(imgs.map(settle));
            imgs.forEach((img) => seen.set(img.closest("[data-message-id]")?.dataset.messageId ?? img.src,
              { src: img.src, width: img.naturalWidth, complete: img.complete }));
          }
          done([...seen.values()]);
        });"#;
    // On a timeout the counts are in the message.
    app.wait_script(
        "const pending = document.querySelectorAll(\"[data-testid='media-pending']\").length;
         const thumbs = document.querySelectorAll(\"[data-testid='image-thumb']\").length;
         return pending === 0 && thumbs > 0 ? true : { pending, thumbs };",
        serde_json::json!(true),
        Duration::from_secs(180),
    )
    .await;
    let mut shown = serde_json::Value::Null;
    for _ in 0..20 {
        shown = app
            .driver
            .execute(thumbs_of_all, vec![])
            .await
            .unwrap()
            .json()
            .clone();
        if shown.as_array().map(Vec::len).unwrap_or(0) >= 50 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let shown = shown.as_array().cloned().unwrap_or_default();
    assert_eq!(shown.len(), 50, "pictures seen while scrolling: {shown:?}");
    for picture in &shown {
        let src = picture["src"].as_str().unwrap();
        assert!(src.ends_with(".thumb.jpg"), "not a thumbnail: {picture}");
        let width = picture["width"].as_u64().unwrap();
        assert!((1..=480).contains(&width), "{picture}");
    }
    app.quit().await;
}
