use std::time::Duration;

use base64::Engine as _;
use ilink_sim::{InboundMedia, KeyForm, MediaKind};
use thirtyfour::prelude::*;

use crate::harness::{enabled, Home};
use crate::sim::{launch_on, login, open_conversation, start_sim, wait_log_has};

const PEER: &str = "carol@im.wechat";
/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// Inbound text, image, file and voice appear live in the open conversation; markup in
/// a message is shown as text and never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_media_appears_live_and_markup_stays_text() {
    if !enabled("inbound_media_appears_live_and_markup_stays_text") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.inject_text(&bot.bot_id, PEER, "hello there").unwrap();
    open_conversation(&app, &bot, PEER).await;
    wait_log_has(&app, "hello there").await;

    let hostile = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>";
    sim.inject_text(&bot.bot_id, PEER, hostile).unwrap();
    wait_log_has(&app, hostile).await;
    let pwned = app
        .driver
        .execute("return window.__pwned === undefined && document.querySelectorAll(\"[data-testid='message-text'] img, [data-testid='message-text'] script\").length === 0;", vec![])
        .await
        .unwrap();
    assert_eq!(
        pwned.json(),
        &serde_json::json!(true),
        "markup was interpreted"
    );

    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .unwrap();
    sim.inject_media(
        &bot.bot_id,
        PEER,
        InboundMedia {
            kind: MediaKind::Image,
            bytes: png,
            key_form: KeyForm::HexAndRawBase64,
            full_url: false,
        },
    )
    .unwrap();
    sim.inject_media(
        &bot.bot_id,
        PEER,
        InboundMedia {
            kind: MediaKind::File {
                name: "notes.txt".into(),
            },
            bytes: b"meeting at noon".to_vec(),
            key_form: KeyForm::HexBase64,
            full_url: false,
        },
    )
    .unwrap();
    // A voice without a transcript is downloaded and played; one with a transcript
    // shows the text (the engine does not download those).
    sim.inject_media(&bot.bot_id, PEER, InboundMedia::silk_voice(None))
        .unwrap();
    sim.inject_media(
        &bot.bot_id,
        PEER,
        InboundMedia::silk_voice(Some("call me back".into())),
    )
    .unwrap();
    app.find_css("[data-testid='image-thumb'] img", Duration::from_secs(30))
        .await;
    let file = app
        .find_css("[data-testid='file-name']", Duration::from_secs(30))
        .await;
    assert_eq!(
        file.prop("textContent").await.unwrap().unwrap_or_default(),
        "notes.txt"
    );
    let voice_shown = app
        .driver
        .query(By::Css("[data-testid='voice-player']"))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await;
    if voice_shown.is_err() {
        let html = app
            .driver
            .execute("return [...document.querySelectorAll(\"[data-kind='voice']\")].map(v => v.outerHTML).join(' | ');", vec![])
            .await
            .unwrap();
        panic!("no voice player; the message reads {}", html.json());
    }
    app.wait_text_contains("voice-transcript", "call me back", Duration::from_secs(10))
        .await;
    // Both come from the data folder by URL: the picture (its thumbnail) by media://, the
    // voice note from the players' loopback stream, whose length the player reads.
    let loaded = app
        .driver
        .execute(
            r#"const img = document.querySelector("[data-testid='image-thumb'] img");
               const voice = document.querySelector("[data-testid='voice-player']");
               return new Promise((done) => {
                 const check = () => ({ img: img.src, width: img.naturalWidth, voice: voice.src,
                   duration: voice.duration, error: voice.error && [voice.error.code, voice.error.message] });
                 if (voice.readyState >= 1 || voice.error) return done(check());
                 voice.addEventListener("loadedmetadata", () => done(check()));
                 voice.addEventListener("error", () => done(check()));
                 setTimeout(() => done(check()), 10000);
               });"#,
            vec![],
        )
        .await
        .unwrap()
        .json()
        .clone();
    assert!(
        loaded["img"]
            .as_str()
            .unwrap()
            .starts_with("media://localhost/"),
        "{loaded}"
    );
    assert!(loaded["width"].as_u64().unwrap() > 0, "{loaded}");
    assert!(
        loaded["voice"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{loaded}"
    );
    assert!(loaded["duration"].as_f64().unwrap_or(0.0) > 0.0, "{loaded}");
    // The picture opens in the viewer.
    app.element("image-thumb").await.click().await.unwrap();
    app.element("image-viewer").await;
    app.screenshot("media-viewer").await;
    app.element("image-viewer").await.click().await.unwrap();
    app.wait_script(
        "return document.querySelectorAll(\"[data-testid='image-viewer']\").length;",
        serde_json::json!(0),
        Duration::from_secs(10),
    )
    .await;
    app.screenshot("conversation-media").await;
    app.quit().await;
}

/// Enter sends; the emulator receives the text. With the reply window closed the
/// message waits, and goes out when the peer writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_text_and_a_closed_window_flushes_when_the_peer_writes() {
    if !enabled("send_text_and_a_closed_window_flushes_when_the_peer_writes") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.inject_text(&bot.bot_id, PEER, "are you open today?")
        .unwrap();
    open_conversation(&app, &bot, PEER).await;
    wait_log_has(&app, "are you open today?").await;

    let input = app.element("composer-input").await;
    input.send_keys("Yes, until 6").await.unwrap();
    input.send_keys(Key::Shift + Key::Enter).await.unwrap();
    input.send_keys("see you" + Key::Enter).await.unwrap();
    wait_log_has(&app, "Yes, until 6\nsee you").await;
    crate::harness::eventually(Duration::from_secs(20), "the emulator got the text", || {
        sim.sent_messages(&bot.bot_id)
            .unwrap()
            .iter()
            .any(|m| m.item["text_item"]["text"] == "Yes, until 6\nsee you")
    })
    .await;
    app.find_css(
        "[data-delivery='delivered'] [data-testid='delivery-state']",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(input.value().await.unwrap().unwrap_or_default(), "");

    sim.expire_context(&bot.bot_id, PEER).unwrap();
    input
        .send_keys("one more thing" + Key::Enter)
        .await
        .unwrap();
    // The row's state and its words come from the same view; wait for both rather
    // than read the words at the instant the attribute first matches.
    app.wait_script(
        r#"const e = document.querySelector("[data-delivery='waiting_for_window'] [data-testid='delivery-state']");
           return e ? e.textContent : null;"#,
        serde_json::json!("Waiting for them to write"),
        Duration::from_secs(30),
    )
    .await;
    // The refusal shows in the header too.
    app.wait_text("window-state", "Waiting for them to write")
        .await;
    app.screenshot("waiting-for-window").await;
    let sent_before = sim.sent_messages(&bot.bot_id).unwrap().len();
    sim.inject_text(&bot.bot_id, PEER, "ok?").unwrap();
    crate::harness::eventually(
        Duration::from_secs(30),
        "the waiting message went out",
        || {
            sim.sent_messages(&bot.bot_id)
                .unwrap()
                .iter()
                .skip(sent_before)
                .any(|m| m.item["text_item"]["text"] == "one more thing")
        },
    )
    .await;
    app.wait_script(
        "return document.querySelectorAll(\"[data-delivery='waiting_for_window']\").length;",
        serde_json::json!(0),
        Duration::from_secs(20),
    )
    .await;
    app.quit().await;
}

/// A send the server refuses, one the owner discards while it waits for the reply
/// window, and a received file the CDN no longer has say why they failed in the
/// window's language; the server's own words are behind the line's hover text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sends_and_downloads_say_why_in_both_languages() {
    if !enabled("failed_sends_and_downloads_say_why_in_both_languages") {
        return;
    }
    for (lang, refused, details, cancelled, gone, shot) in [
        (
            "zh_CN.UTF-8",
            "发送失败：微信拒收了这条消息",
            "详细信息：the server rejected the request as invalid (ret -3): invalid arguments",
            "发送失败：已取消",
            "下载失败：微信服务器上已没有这个文件",
            "send-failed-zh",
        ),
        (
            "en_US.UTF-8",
            "Failed: WeChat refused this message",
            "Details: the server rejected the request as invalid (ret -3): invalid arguments",
            "Failed: cancelled",
            "Could not download: the file is no longer on WeChat's server",
            "send-failed-en",
        ),
    ] {
        let sim = start_sim().await;
        let home = Home::new();
        let app = crate::harness::App::launch_with(
            &home,
            lang,
            crate::harness::Launch::sim(&sim.base_url()),
        )
        .await;
        let bot = login(&app, &sim, "Shop", PEER).await;
        sim.inject_text(&bot.bot_id, PEER, "are you open today?")
            .unwrap();
        open_conversation(&app, &bot, PEER).await;
        wait_log_has(&app, "are you open today?").await;

        sim.inject_fault("c2c/download", ilink_sim::Fault::Status { status: 404 });
        sim.inject_media(
            &bot.bot_id,
            PEER,
            InboundMedia {
                kind: MediaKind::File {
                    name: "menu.pdf".into(),
                },
                bytes: b"%PDF-1.4 lunch".to_vec(),
                key_form: KeyForm::HexBase64,
                full_url: false,
            },
        )
        .unwrap();
        app.wait_script(
            &format!(
                r#"const e = document.querySelector("[data-testid='media-failed']");
                   return e !== null && e.textContent.trim().startsWith({});"#,
                serde_json::json!(gone)
            ),
            serde_json::json!(true),
            Duration::from_secs(30),
        )
        .await;
        let download = app
            .find_css("[data-testid='media-failed']", Duration::from_secs(5))
            .await;
        let hover = download.attr("title").await.unwrap().unwrap_or_default();
        assert!(hover.contains("404"), "{hover}");

        sim.inject_fault(
            "sendmessage",
            ilink_sim::Fault::Json {
                body: serde_json::json!({"ret": -3, "errmsg": "invalid arguments"}),
            },
        );
        let input = app.element("composer-input").await;
        input.send_keys("Yes, until 6" + Key::Enter).await.unwrap();
        let line = failed_line(&app, refused).await;
        assert_eq!(line.attr("title").await.unwrap().as_deref(), Some(details));

        sim.expire_context(&bot.bot_id, PEER).unwrap();
        input
            .send_keys("one more thing" + Key::Enter)
            .await
            .unwrap();
        app.find_css(
            "[data-delivery='waiting_for_window'] [data-testid='discard']",
            Duration::from_secs(30),
        )
        .await
        .click()
        .await
        .unwrap();
        let line = failed_line(&app, cancelled).await;
        // The details would only repeat the sentence.
        assert_eq!(line.attr("title").await.unwrap().unwrap_or_default(), "");
        app.screenshot(shot).await;
        app.quit().await;
    }
}

/// The delivery line of a failed message that reads `words`, once it does.
async fn failed_line(app: &crate::harness::App, words: &str) -> WebElement {
    let script = format!(
        r#"return [...document.querySelectorAll("[data-delivery='failed'] [data-testid='delivery-state']")]
             .some((e) => e.textContent === {});"#,
        serde_json::json!(words)
    );
    app.wait_script(&script, serde_json::json!(true), Duration::from_secs(30))
        .await;
    for line in app
        .all_css("[data-delivery='failed'] [data-testid='delivery-state']")
        .await
    {
        if line.text().await.unwrap() == words {
            return line;
        }
    }
    panic!("no failed message reads {words:?}");
}

/// Search across conversations finds a message and jumps to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_and_jumps_to_a_message() {
    if !enabled("search_finds_and_jumps_to_a_message") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.add_peer(&bot.bot_id, "dave@im.wechat").unwrap();
    sim.inject_text(&bot.bot_id, PEER, "the invoice number is 7731")
        .unwrap();
    sim.inject_text(&bot.bot_id, "dave@im.wechat", "lunch?")
        .unwrap();
    sim.inject_text(&bot.bot_id, PEER, "thanks").unwrap();
    app.find_css(
        "[data-testid='conversation-item'][data-peer='dave@im.wechat']",
        Duration::from_secs(20),
    )
    .await;
    app.element("open-search").await.click().await.unwrap();
    app.element("search-input")
        .await
        .send_keys("invoice")
        .await
        .unwrap();
    let result = app
        .find_css("[data-testid='search-result']", Duration::from_secs(10))
        .await;
    assert_eq!(app.all_css("[data-testid='search-result']").await.len(), 1);
    assert!(result
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default()
        .contains("the invoice number is 7731"));
    app.screenshot("search").await;
    result.click().await.unwrap();
    let focused = app
        .find_css(
            &format!("[data-testid='conversation-pane'][data-peer='{PEER}'] .message.focused"),
            Duration::from_secs(10),
        )
        .await;
    assert!(focused
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default()
        .contains("the invoice number is 7731"));
    app.quit().await;
}

/// Files dropped on the conversation (drop events injected into the page): an overlay
/// while dragging, a line per file with progress, a clear error for an empty one, and
/// the emulator's CDN holds exactly the dropped bytes after decryption.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_files_are_sent_with_progress_and_arrive_intact() {
    if !enabled("dropped_files_are_sent_with_progress_and_arrive_intact") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.inject_text(&bot.bot_id, PEER, "send me the report")
        .unwrap();
    open_conversation(&app, &bot, PEER).await;
    wait_log_has(&app, "send me the report").await;

    // About 1.4 MB, dragged with an empty file from another program (a real XDND drop:
    // the app gets their paths, the page never reads them).
    let line = "quarterly numbers, row after row\n";
    let body: String = line.repeat(1_400_000 / line.len());
    let report = home.tmp.join("report.txt");
    let empty = home.tmp.join("empty.txt");
    std::fs::write(&report, &body).unwrap();
    std::fs::write(&empty, b"").unwrap();
    let drag = crate::xdnd::Drag::begin("Weixin Desk", &[&report, &empty]);
    app.find_css("[data-testid='drop-overlay']", Duration::from_secs(10))
        .await;
    app.screenshot("drop-overlay").await;
    tokio::task::spawn_blocking(move || drag.drop())
        .await
        .unwrap();
    app.find_css(
        "[data-testid='upload-item'][data-name='report.txt'][data-phase='sent']",
        Duration::from_secs(60),
    )
    .await;
    let empty = app
        .find_css(
            "[data-testid='upload-item'][data-name='empty.txt'] [data-testid='upload-error']",
            Duration::from_secs(10),
        )
        .await;
    assert!(
        empty
            .prop("textContent")
            .await
            .unwrap()
            .unwrap_or_default()
            .contains("the file is empty"),
        "the engine's refusal is shown"
    );
    app.screenshot("dropped-files").await;

    let sent = sim.sent_messages(&bot.bot_id).unwrap();
    let file = sent
        .iter()
        .find(|m| m.item["file_item"]["file_name"] == "report.txt")
        .unwrap_or_else(|| panic!("no file item was sent: {sent:?}"));
    let param = file.item["file_item"]["media"]["encrypt_query_param"]
        .as_str()
        .unwrap();
    assert_eq!(sim.cdn_plaintext(param).unwrap(), body.as_bytes());
    // The log shows the sent file as a card.
    app.find_css(
        "[data-direction='out'][data-kind='file'] [data-testid='file-name']",
        Duration::from_secs(10),
    )
    .await;
    app.quit().await;
}

/// A quote with no body (an unknown item type, only the quoted item's time: what WeChat
/// can send when a user quotes the bot) shows the quoted message found by that time, or
/// "Quoted a message" with what is known.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_with_no_body_show_what_is_known() {
    if !enabled("quotes_with_no_body_show_what_is_known") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.inject_text(&bot.bot_id, PEER, "what is the plan?")
        .unwrap();
    open_conversation(&app, &bot, PEER).await;
    wait_log_has(&app, "what is the plan?").await;
    let input = app.element("composer-input").await;
    input.send_keys("lunch at noon" + Key::Enter).await.unwrap();
    crate::harness::eventually(Duration::from_secs(20), "the emulator got the text", || {
        !sim.sent_messages(&bot.bot_id).unwrap().is_empty()
    })
    .await;
    app.find_css(
        "[data-delivery='delivered'] [data-testid='delivery-state']",
        Duration::from_secs(20),
    )
    .await;
    let quoted = sim.sent_messages(&bot.bot_id).unwrap()[0].message_id;
    sim.inject_bodiless_quote(&bot.bot_id, PEER, "this one", quoted, false)
        .unwrap();
    wait_log_has(&app, "this one").await;
    app.wait_script(
        r#"const q = [...document.querySelectorAll("[data-testid='message-quote']")];
           return q.map(e => e.textContent.includes("lunch at noon") && !e.dataset.quoted);"#,
        serde_json::json!([true]),
        Duration::from_secs(10),
    )
    .await;
    sim.inject_items(
        &bot.bot_id,
        PEER,
        vec![serde_json::json!({
            "type": 1, "text_item": { "text": "that old one" },
            "ref_msg": { "message_item": { "type": 31, "create_time_ms": 1_000_000 } }
        })],
    )
    .unwrap();
    wait_log_has(&app, "that old one").await;
    let trace = app
        .find_css("[data-quoted='trace']", Duration::from_secs(10))
        .await;
    let words = trace.text().await.unwrap();
    assert!(words.contains("Quoted a message"), "{words}");
    assert!(words.contains("1970"), "{words}");
    app.screenshot("quote-with-no-body").await;
    app.quit().await;
}
