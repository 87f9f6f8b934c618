//! A picture pasted from the system clipboard is sent (the shell reads the clipboard;
//! the page never has the bytes). Dropped files: `messages.rs`.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{enabled, Home};
use crate::sim::{launch_on, login, open_conversation, start_sim, wait_log_has};

const PEER: &str = "iris@im.wechat";
/// A small PNG, as a screenshot tool would put on the clipboard.
fn png() -> Vec<u8> {
    let picture =
        image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Kinds of the items the emulator received for the peer (`file`, `image`, …).
fn sent_kinds(sim: &ilink_sim::Sim, bot: &str) -> Vec<String> {
    sim.sent_messages(bot)
        .unwrap()
        .into_iter()
        .filter(|m| m.to_user_id == PEER)
        .map(|m| match m.item["type"].as_u64() {
            Some(1) => "text".to_owned(),
            Some(2) => "image".to_owned(),
            Some(4) => "file".to_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Ctrl+V into the composer, from the keyboard through the X server.
async fn paste(app: &crate::harness::App) {
    app.element("composer-input").await.click().await.unwrap();
    let display = crate::x11::Display::open();
    if let Some((window, _)) = display
        .windows_titled("Weixin Desk")
        .into_iter()
        .find(|(_, visible)| *visible)
    {
        display.focus(window);
    }
    display.key(u32::from(b'v'), &[crate::x11::CONTROL_L]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_picture_is_sent() {
    if !enabled("a_pasted_picture_is_sent") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.inject_text(&bot.bot_id, PEER, "send me the price list")
        .unwrap();
    open_conversation(&app, &bot, PEER).await;
    wait_log_has(&app, "send me the price list").await;

    // Text on the clipboard pastes as text (WebKitGTK lists no types for it either).
    let mut xclip = Command::new("xclip")
        .args(["-selection", "clipboard"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("xclip (./dev setup installs it)");
    std::io::Write::write_all(xclip.stdin.as_mut().unwrap(), b"plain words").unwrap();
    drop(xclip.stdin.take());
    assert!(xclip.wait().unwrap().success());
    paste(&app).await;
    app.wait_script(
        "return document.querySelector(\"[data-testid='composer-input']\").value;",
        serde_json::json!("plain words"),
        Duration::from_secs(10),
    )
    .await;
    app.driver
        .execute(
            "const box = document.querySelector(\"[data-testid='composer-input']\"); \
             box.value = ''; box.dispatchEvent(new Event('input')); return 1;",
            vec![],
        )
        .await
        .unwrap();

    // A picture on the clipboard (xclip keeps serving it), pasted into the composer.
    let picture = home.tmp.join("copied.png");
    std::fs::write(&picture, png()).unwrap();
    let status = Command::new("xclip")
        .args(["-selection", "clipboard", "-t", "image/png", "-i"])
        .arg(&picture)
        .stdout(Stdio::null())
        .status()
        .expect("xclip (./dev setup installs it)");
    assert!(status.success());
    app.driver
        .execute(
            "window.__pasted = null; document.addEventListener('paste', (e) => \
             { window.__pasted = [...(e.clipboardData?.types ?? [])]; }, true); return 1;",
            vec![],
        )
        .await
        .unwrap();
    paste(&app).await;
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        while !sent_kinds(&sim, &bot.bot_id).contains(&"image".to_owned()) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    if waited.is_err() {
        let pasted = app
            .driver
            .execute("return window.__pasted;", vec![])
            .await
            .unwrap();
        let error = app
            .driver
            .execute("return document.querySelector(\"[data-testid='action-error']\")?.textContent ?? null;", vec![])
            .await
            .unwrap();
        panic!(
            "no picture reached the emulator; the paste carried {:?}, the window says {:?}",
            pasted.json(),
            error.json()
        );
    }
    app.find_css("[data-testid='image-thumb'] img", Duration::from_secs(30))
        .await;
    app.quit().await;
    let _ = Command::new("pkill")
        .args(["-f", "xclip -selection clipboard"])
        .status();
}
