//! Send later in the real window against ilink-sim: a text scheduled from the composer
//! shows in the conversation's Scheduled strip, then goes out at its time (not before)
//! and leaves the strip; in Chinese, the dialog and the strip, and a cancel.

use std::time::Duration;

use crate::harness::{enabled, eventually, App, Home, Launch};
use crate::sim::{launch_on, login, open_conversation, start_sim, wait_log_has};

const PEER: &str = "dora@im.wechat";

/// Sets the dialog's time to `secs` seconds from the window's now, in its local time,
/// and returns that time (epoch ms).
async fn set_due_in(app: &App, secs: i64) -> i64 {
    let value = app
        .driver
        .execute(
            r#"const at = new Date(Date.now() + arguments[0] * 1000);
               const two = (n) => String(n).padStart(2, "0");
               const value = `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}T${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
               const input = document.querySelector("[data-testid='later-when']");
               Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(input, value);
               input.dispatchEvent(new Event("input", { bubbles: true }));
               return Math.floor(at.getTime() / 1000) * 1000;"#,
            vec![serde_json::json!(secs)],
        )
        .await
        .unwrap();
    value.json().as_i64().expect("the due time")
}

/// Types `text` in the composer and opens Send later with it.
async fn open_send_later(app: &App, text: &str) {
    app.element("composer-input")
        .await
        .send_keys(text)
        .await
        .unwrap();
    app.element("composer-later").await.click().await.unwrap();
    app.find_css("[data-testid='send-later-dialog']", Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_scheduled_in_the_composer_is_listed_then_delivered_at_its_time() {
    if !enabled("a_text_scheduled_in_the_composer_is_listed_then_delivered_at_its_time") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", PEER).await;
    sim.inject_text(&bot.bot_id, PEER, "remind me tonight?")
        .unwrap();
    open_conversation(&app, &bot, PEER).await;
    wait_log_has(&app, "remind me tonight?").await;

    open_send_later(&app, "Your reminder, as promised").await;
    app.screenshot("send-later-dialog").await;
    let due = set_due_in(&app, 20).await;
    app.element("later-submit").await.click().await.unwrap();
    // The dialog closes and the composer is empty; the strip lists it.
    app.wait_script(
        "return document.querySelector(\"[data-testid='send-later-dialog']\") === null;",
        serde_json::json!(true),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        app.element("composer-input")
            .await
            .value()
            .await
            .unwrap()
            .unwrap_or_default(),
        ""
    );
    app.wait_text_contains("scheduled-toggle", "Scheduled (1)", Duration::from_secs(10))
        .await;
    app.element("scheduled-toggle").await.click().await.unwrap();
    app.wait_text_contains(
        "scheduled-text",
        "Your reminder, as promised",
        Duration::from_secs(10),
    )
    .await;
    app.screenshot("send-later-scheduled").await;

    eventually(
        Duration::from_secs(90),
        "the scheduled text went out",
        || {
            sim.sent_messages(&bot.bot_id)
                .unwrap()
                .iter()
                .any(|m| m.item["text_item"]["text"] == "Your reminder, as promised")
        },
    )
    .await;
    let sent = sim.sent_messages(&bot.bot_id).unwrap();
    assert_eq!(sent.len(), 1, "once");
    assert!(sent[0].received_at_ms >= due as u64, "not before its time");
    // Delivered in the log, gone from the strip.
    app.find_css(
        "[data-delivery='delivered'] [data-testid='delivery-state']",
        Duration::from_secs(20),
    )
    .await;
    app.wait_script(
        "return document.querySelector(\"[data-testid='scheduled-strip']\") === null;",
        serde_json::json!(true),
        Duration::from_secs(20),
    )
    .await;
    app.screenshot("send-later-delivered").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_later_in_chinese_is_shown_and_cancelled() {
    if !enabled("send_later_in_chinese_is_shown_and_cancelled") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = App::launch_with(&home, "zh_CN.UTF-8", Launch::sim(&sim.base_url())).await;
    let bot = login(&app, &sim, "茶叶店", PEER).await;
    sim.inject_text(&bot.bot_id, PEER, "明天早上提醒我一下")
        .unwrap();
    open_conversation(&app, &bot, PEER).await;
    wait_log_has(&app, "明天早上提醒我一下").await;

    open_send_later(&app, "早上好，这是您要的提醒").await;
    app.screenshot("send-later-dialog-zh").await;
    set_due_in(&app, 3 * 3600).await;
    app.element("later-submit").await.click().await.unwrap();
    app.wait_text_contains("scheduled-toggle", "定时消息（1）", Duration::from_secs(10))
        .await;
    app.element("scheduled-toggle").await.click().await.unwrap();
    app.wait_text_contains("scheduled-text", "早上好", Duration::from_secs(10))
        .await;
    app.screenshot("send-later-scheduled-zh").await;

    app.element("scheduled-cancel").await.click().await.unwrap();
    app.wait_script(
        "return document.querySelector(\"[data-testid='scheduled-strip']\") === null;",
        serde_json::json!(true),
        Duration::from_secs(20),
    )
    .await;
    app.find_css("[data-delivery='failed']", Duration::from_secs(10))
        .await;
    assert!(sim.sent_messages(&bot.bot_id).unwrap().is_empty());
    app.screenshot("send-later-cancelled-zh").await;
    app.quit().await;
}
