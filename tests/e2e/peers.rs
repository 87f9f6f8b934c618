//! The owner's names for peers in the real window: named inline in the conversation
//! header (the first message offered as a hint), the name in the conversation list at
//! once and in the notification of the peer's next message; the context menu's note.

use std::time::Duration;

use thirtyfour::prelude::*;

use crate::harness::{enabled, eventually, App, Home, Launch};
use crate::notifications::MockDaemon;
use crate::sim::{login, open_conversation, start_sim, wait_log_has};
use crate::x11::Display;

const PEER: &str = "o9cq80aa@im.wechat";

/// Logs in, lets PEER write once and opens the conversation.
async fn with_a_new_peer(app: &App, sim: &ilink_sim::Sim, first: &str) -> ilink_sim::BotInfo {
    let bot = login(app, sim, "Shop", "owner@im.wechat").await;
    sim.add_peer(&bot.bot_id, PEER).unwrap();
    sim.inject_text(&bot.bot_id, PEER, first).unwrap();
    open_conversation(app, &bot, PEER).await;
    wait_log_has(app, first).await;
    bot
}

/// Starts naming in the header and waits for the first message's hint.
async fn start_naming(app: &App, first: &str) -> WebElement {
    app.element("peer-rename").await.click().await.unwrap();
    let input = app
        .find_css("[data-testid='peer-name-input']", Duration::from_secs(10))
        .await;
    app.wait_text_contains("peer-name-hint", first, Duration::from_secs(10))
        .await;
    input
}

/// Waits until the list's row for PEER reads `expected`.
async fn wait_list_name(app: &App, expected: &str) {
    app.wait_script(
        &format!(
            "const e = document.querySelector(\"[data-testid='conversation-item'][data-peer='{PEER}'] [data-testid='conversation-name']\"); return e ? e.textContent : null;"
        ),
        serde_json::json!(expected),
        Duration::from_secs(10),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_peer_shows_by_name_in_the_list_and_its_next_notification() {
    if !enabled("a_renamed_peer_shows_by_name_in_the_list_and_its_next_notification") {
        return;
    }
    let daemon = MockDaemon::start();
    let sim = start_sim().await;
    let home = Home::new();
    let app = App::launch_with(&home, "en_US.UTF-8", Launch::sim(&sim.base_url())).await;
    let first = "Hi, I ordered the blue teapot";
    let bot = with_a_new_peer(&app, &sim, first).await;
    wait_list_name(&app, PEER).await;

    let input = start_naming(&app, first).await;
    input.send_keys("Wang Teapot").await.unwrap();
    app.screenshot("peer-rename-en").await;
    input.send_keys(Key::Enter).await.unwrap();
    app.wait_text("conversation-title", "Wang Teapot").await;
    wait_list_name(&app, "Wang Teapot").await;
    app.wait_text("peer-id", PEER).await;

    // A note from the row's menu (the one a right click opens).
    app.find_css(
        &format!(
            "[data-testid='conversation-item'][data-peer='{PEER}'] [data-testid='conversation-menu-button']"
        ),
        Duration::from_secs(10),
    )
    .await
    .click()
    .await
    .unwrap();
    app.find_css("[data-testid='conversation-menu']", Duration::from_secs(10))
        .await;
    app.screenshot("peer-menu-en").await;
    app.element("conversation-menu-note")
        .await
        .click()
        .await
        .unwrap();
    let note = app
        .find_css("[data-testid='peer-note-input']", Duration::from_secs(10))
        .await;
    note.send_keys("Wholesale, invoices monthly").await.unwrap();
    app.element("peer-note-save").await.click().await.unwrap();
    app.wait_text("peer-note", "Wholesale, invoices monthly")
        .await;
    app.screenshot("peer-named-en").await;

    // Hidden, the peer's next message is notified under the name.
    let display = Display::open();
    assert!(display.request_close("Weixin Desk") > 0);
    eventually(Duration::from_secs(10), "the window is hidden", || {
        !display.any_visible("Weixin Desk")
    })
    .await;
    sim.inject_text(&bot.bot_id, PEER, "is it shipped yet?")
        .unwrap();
    eventually(Duration::from_secs(20), "the message is notified", || {
        daemon.calls().contains("is it shipped yet?")
    })
    .await;
    let calls = daemon.calls();
    let notify = calls
        .lines()
        .find(|l| l.contains("Notify") && l.contains("is it shipped yet?"))
        .unwrap();
    assert!(
        notify.contains("Wang Teapot"),
        "the title names the peer: {notify}"
    );
    // The name stayed on this machine.
    let sent = sim.sent_messages(&bot.bot_id).unwrap();
    assert!(
        sent.iter()
            .all(|m| !m.item.to_string().contains("Wang Teapot")),
        "{sent:?}"
    );
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_a_peer_in_chinese() {
    if !enabled("naming_a_peer_in_chinese") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = App::launch_with(&home, "zh_CN.UTF-8", Launch::sim(&sim.base_url())).await;
    let first = "你好，我订的青花茶壶发货了吗？";
    with_a_new_peer(&app, &sim, first).await;
    let input = start_naming(&app, first).await;
    input.send_keys("王小明（茶壶）").await.unwrap();
    app.screenshot("peer-rename-zh").await;
    input.send_keys(Key::Enter).await.unwrap();
    app.wait_text("conversation-title", "王小明（茶壶）").await;
    wait_list_name(&app, "王小明（茶壶）").await;
    app.element("peer-add-note").await.click().await.unwrap();
    let note = app
        .find_css("[data-testid='peer-note-input']", Duration::from_secs(10))
        .await;
    note.send_keys("批发客户，月结").await.unwrap();
    app.element("peer-note-save").await.click().await.unwrap();
    app.wait_text("peer-note", "批发客户，月结").await;
    app.screenshot("peer-named-zh").await;
    app.quit().await;
}
