//! Everyday behaviour: failures in words with details on demand, a conversation list that
//! holds still under the pointer, the quick switcher, and marking an account read.

use std::time::Duration;

use thirtyfour::prelude::*;

use crate::harness::{enabled, eventually, free_port, App, Home, Launch};
use crate::sim::{
    account_item, launch_on, login, open_peer, start_sim, wait_account_status, wait_login_state,
};
use crate::x11::Display;

const ALICE: &str = "alice@im.wechat";
const BOB: &str = "bob@im.wechat";
const CAROL: &str = "carol@im.wechat";

/// The peers of the listed conversations, top to bottom.
async fn list_order(app: &App) -> Vec<String> {
    let value = app
        .driver
        .execute(
            "return [...document.querySelectorAll(\"[data-testid='conversation-item']\")].map(e => e.dataset.peer);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(value.json().clone()).unwrap_or_default()
}

/// Moves the pointer onto the account's row in the sidebar, away from the list.
async fn rest_pointer_on_sidebar(app: &App, bot: &ilink_sim::BotInfo) {
    let item = account_item(app, bot).await;
    app.driver
        .action_chain()
        .move_to_element_center(&item)
        .perform()
        .await
        .unwrap();
}

/// Waits until the list shows exactly `expected`, top to bottom.
async fn wait_order(app: &App, expected: &[&str]) {
    app.wait_script(
        "return [...document.querySelectorAll(\"[data-testid='conversation-item']\")].map(e => e.dataset.peer);",
        serde_json::json!(expected),
        Duration::from_secs(20),
    )
    .await;
}

/// A login against a server nobody listens on: the dialog says what happened and what
/// to do in the user's language, with the technical text behind Details.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_without_network_speaks_in_words() {
    if !enabled("a_login_without_network_speaks_in_words") {
        return;
    }
    for (lang, sentence, details) in [
        (
            "en_US.UTF-8",
            "Login failed: Can't reach WeChat's server. Check the internet connection, then try again.",
            "Details",
        ),
        (
            "zh_CN.UTF-8",
            "登录失败：无法连接微信服务器。请检查网络连接，然后重试。",
            "详细信息",
        ),
    ] {
        let home = Home::new();
        // A loopback port that was free a moment ago: the connection is refused.
        let closed = format!("http://127.0.0.1:{}", free_port());
        let app = App::launch_with(&home, lang, Launch::sim(&closed)).await;
        app.find_css("[data-testid='empty-add-account']", Duration::from_secs(20))
            .await
            .click()
            .await
            .unwrap();
        app.element("login-start").await.click().await.unwrap();
        wait_login_state(&app, "failed").await;
        assert_eq!(app.text_of("login-error-sentence").await.trim(), sentence);
        let disclosure = app.element("login-error-details").await;
        let summary = disclosure.find(By::Tag("summary")).await.unwrap();
        assert_eq!(summary.text().await.unwrap().trim(), details);
        // The machine words are there, but only once asked for.
        assert_eq!(disclosure.attr("open").await.unwrap(), None);
        summary.click().await.unwrap();
        let technical = disclosure.find(By::Tag("pre")).await.unwrap();
        let text = technical.text().await.unwrap();
        assert!(text.contains("could not get a QR code"), "{text}");
        app.screenshot(&format!("login-no-network-{}", &lang[..2]))
            .await;
        app.quit().await;
    }
}

/// While the pointer rests on the list, a message that would re-sort it only marks its
/// row: a click lands on the conversation that was under the pointer. The new order
/// applies once the pointer leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_while_messages_arrive_opens_the_conversation_aimed_at() {
    if !enabled("a_click_while_messages_arrive_opens_the_conversation_aimed_at") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", ALICE).await;
    wait_account_status(&app, &bot, "Online").await;
    for peer in [BOB, CAROL] {
        sim.add_peer(&bot.bot_id, peer).unwrap();
    }
    // The pointer starts away from the list (the dialog's button may have left it there).
    rest_pointer_on_sidebar(&app, &bot).await;
    // One after another, so the list reads newest first: carol, bob, alice.
    for (peer, expected) in [
        (ALICE, &[ALICE][..]),
        (BOB, &[BOB, ALICE][..]),
        (CAROL, &[CAROL, BOB, ALICE][..]),
    ] {
        sim.inject_text(&bot.bot_id, peer, &format!("hello from {peer}"))
            .unwrap();
        wait_order(&app, expected).await;
    }

    // The pointer rests on carol's row, at the top.
    let carol = app
        .find_css(
            &format!("[data-testid='conversation-item'][data-peer='{CAROL}'] button"),
            Duration::from_secs(10),
        )
        .await;
    app.driver
        .action_chain()
        .move_to_element_center(&carol)
        .perform()
        .await
        .unwrap();
    app.find_css(
        "[data-testid='conversation-list'][data-held='true']",
        Duration::from_secs(10),
    )
    .await;

    // Alice writes: her row would go to the top, under the pointer. It is marked instead.
    sim.inject_text(&bot.bot_id, ALICE, "are you there?")
        .unwrap();
    app.find_css(
        &format!("[data-testid='conversation-item'][data-peer='{ALICE}'] [data-testid='conversation-fresh']"),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(list_order(&app).await, [CAROL, BOB, ALICE]);
    app.screenshot("list-held-en").await;

    // A click where the pointer is opens carol, the one aimed at.
    app.driver.action_chain().click().perform().await.unwrap();
    app.find_css(
        &format!("[data-testid='conversation-pane'][data-peer='{CAROL}']"),
        Duration::from_secs(10),
    )
    .await;

    // The pointer leaves: the list takes its new order and the mark goes.
    let pane = app.element("conversation-pane").await;
    app.driver
        .action_chain()
        .move_to_element_center(&pane)
        .perform()
        .await
        .unwrap();
    // The focus the click left on carol's row does not hold the list: only keyboard
    // focus does.
    wait_order(&app, &[ALICE, CAROL, BOB]).await;
    assert!(app
        .all_css("[data-testid='conversation-fresh']")
        .await
        .is_empty());
    app.quit().await;
}

/// Ctrl+K opens the quick switcher; typing filters conversations of every account and
/// Enter opens the first match; Esc closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_k_switches_conversation_across_accounts() {
    if !enabled("ctrl_k_switches_conversation_across_accounts") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let shop = login(&app, &sim, "Shop", ALICE).await;
    let desk = login(&app, &sim, "Desk", BOB).await;
    wait_account_status(&app, &shop, "Online").await;
    wait_account_status(&app, &desk, "Online").await;
    sim.inject_text(&shop.bot_id, ALICE, "from the shop")
        .unwrap();
    sim.inject_text(&desk.bot_id, BOB, "from the desk").unwrap();
    // The shop's list is open; bob writes to the other account.
    account_item(&app, &shop)
        .await
        .find(By::Css("[data-testid='account-select']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    open_peer(&app, ALICE).await;

    let ctrl_k = || async {
        app.driver
            .action_chain()
            .key_down(Key::Control)
            .send_keys("k")
            .key_up(Key::Control)
            .perform()
            .await
            .unwrap();
    };
    ctrl_k().await;
    let input = app.element("switcher-input").await;
    input.send_keys("bob").await.unwrap();
    app.wait_script(
        "return [...document.querySelectorAll(\"[data-testid='switcher-item']\")].map(e => e.dataset.peer);",
        serde_json::json!([BOB]),
        Duration::from_secs(10),
    )
    .await;
    app.screenshot("quick-switcher-en").await;
    input.send_keys(Key::Enter).await.unwrap();
    app.find_css(
        &format!("[data-testid='conversation-pane'][data-peer='{BOB}']"),
        Duration::from_secs(10),
    )
    .await;
    let desk_id = ilink::account_id::normalize(&desk.bot_id);
    app.find_css(
        &format!("[data-testid='account-item'][data-account='{desk_id}'][aria-selected='true']"),
        Duration::from_secs(10),
    )
    .await;
    assert!(app
        .all_css("[data-testid='quick-switcher']")
        .await
        .is_empty());

    // Esc closes it without going anywhere.
    ctrl_k().await;
    app.element("switcher-input")
        .await
        .send_keys(Key::Escape)
        .await
        .unwrap();
    app.wait_script(
        "return document.querySelector(\"[data-testid='quick-switcher']\") === null;",
        serde_json::json!(true),
        Duration::from_secs(10),
    )
    .await;
    app.quit().await;
}

/// "Mark all as read" in the account's menu clears every unread conversation of that
/// account; the window title carries the unread total until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_all_as_read_clears_the_account_and_the_title_count() {
    if !enabled("mark_all_as_read_clears_the_account_and_the_title_count") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", ALICE).await;
    wait_account_status(&app, &bot, "Online").await;
    sim.add_peer(&bot.bot_id, BOB).unwrap();
    sim.inject_text(&bot.bot_id, ALICE, "one").unwrap();
    sim.inject_text(&bot.bot_id, ALICE, "two").unwrap();
    sim.inject_text(&bot.bot_id, BOB, "three").unwrap();
    let id = ilink::account_id::normalize(&bot.bot_id);
    let unread = format!(
        "const e = document.querySelector(\"[data-account='{id}'] [data-testid='account-unread']\"); return e ? e.textContent : null;"
    );
    app.wait_script(&unread, serde_json::json!("3"), Duration::from_secs(20))
        .await;
    let display = Display::open();
    eventually(Duration::from_secs(20), "the title counts 3 unread", || {
        display
            .visible_titles()
            .iter()
            .any(|t| t == "(3) Weixin Desk")
    })
    .await;

    let item = account_item(&app, &bot).await;
    item.find(By::Css("[data-testid='account-menu']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    app.screenshot("account-menu-en").await;
    app.element("menu-mark-all-read")
        .await
        .click()
        .await
        .unwrap();
    app.wait_script(&unread, serde_json::Value::Null, Duration::from_secs(20))
        .await;
    assert!(app
        .all_css("[data-testid='conversation-unread']")
        .await
        .is_empty());
    eventually(Duration::from_secs(20), "the title drops the count", || {
        display.visible_titles().iter().any(|t| t == "Weixin Desk")
    })
    .await;
    app.quit().await;
}

/// The changed screens in Chinese: the held list with a marked row and the day labels,
/// the account menu, and the quick switcher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyday_screens_in_chinese() {
    if !enabled("everyday_screens_in_chinese") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = App::launch_with(&home, "zh_CN.UTF-8", Launch::sim(&sim.base_url())).await;
    let bot = login(&app, &sim, "小店 · 前台客服", ALICE).await;
    let id = ilink::account_id::normalize(&bot.bot_id);
    app.find_css(
        &format!("[data-account='{id}'][data-status='status.online']"),
        Duration::from_secs(30),
    )
    .await;
    sim.add_peer(&bot.bot_id, BOB).unwrap();
    rest_pointer_on_sidebar(&app, &bot).await;
    sim.inject_text(&bot.bot_id, ALICE, "你好，今天营业吗？")
        .unwrap();
    wait_order(&app, &[ALICE]).await;
    sim.inject_text(&bot.bot_id, BOB, "我想订两份").unwrap();
    wait_order(&app, &[BOB, ALICE]).await;
    let bob = app
        .find_css(
            &format!("[data-testid='conversation-item'][data-peer='{BOB}'] button"),
            Duration::from_secs(10),
        )
        .await;
    app.driver
        .action_chain()
        .move_to_element_center(&bob)
        .perform()
        .await
        .unwrap();
    sim.inject_text(&bot.bot_id, ALICE, "在吗？").unwrap();
    app.find_css(
        &format!("[data-testid='conversation-item'][data-peer='{ALICE}'] [data-testid='conversation-fresh']"),
        Duration::from_secs(20),
    )
    .await;
    app.screenshot("list-held-zh").await;

    rest_pointer_on_sidebar(&app, &bot).await;
    account_item(&app, &bot)
        .await
        .find(By::Css("[data-testid='account-menu']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    app.element("menu-mark-all-read").await;
    app.screenshot("account-menu-zh").await;
    app.element("account-menu").await.click().await.unwrap();

    app.driver
        .action_chain()
        .key_down(Key::Control)
        .send_keys("k")
        .key_up(Key::Control)
        .perform()
        .await
        .unwrap();
    app.element("switcher-input").await;
    app.find_css("[data-testid='switcher-item']", Duration::from_secs(10))
        .await;
    app.screenshot("quick-switcher-zh").await;
    app.quit().await;
}
