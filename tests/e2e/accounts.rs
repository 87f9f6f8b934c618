use std::time::Duration;

use thirtyfour::prelude::*;

use crate::harness::{enabled, Home};
use crate::sim::{
    account_item, begin_login, launch_on, login, start_sim, wait_account_status, wait_login_state,
};

/// The whole QR login in the real dialog: the QR is drawn from the server's URL, the
/// phone scans, asks for a code, a wrong code is refused in words, the right one logs in
/// and the new account polls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_with_a_verify_code() {
    if !enabled("qr_login_with_a_verify_code") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let qr = begin_login(&app, &sim, "Front desk").await;
    // Drawn here, from the URL the server gave (it names the QR code).
    let drawn = app
        .element("login-qr")
        .await
        .attr("data-qr-text")
        .await
        .unwrap()
        .unwrap();
    assert!(
        drawn.contains(&qr),
        "QR encodes the server's URL: {drawn} / {qr}"
    );
    app.find_css("[data-testid='login-qr-svg'] path", Duration::from_secs(10))
        .await;
    assert_eq!(
        app.text_of("login-state").await.trim(),
        "Scan this code with WeChat on your phone."
    );
    app.screenshot("login-qr").await;

    sim.scan_qr(&qr).unwrap();
    wait_login_state(&app, "scanned").await;
    sim.ask_verify_code(&qr, "4821").unwrap();
    wait_login_state(&app, "verify_code_needed").await;
    app.element("login-code")
        .await
        .send_keys("1111")
        .await
        .unwrap();
    app.element("login-code-submit")
        .await
        .click()
        .await
        .unwrap();
    wait_login_state(&app, "verify_code_wrong").await;
    assert_eq!(
        app.text_of("login-state").await.trim(),
        "That code was wrong. Enter the digits shown on your phone again."
    );
    app.screenshot("login-wrong-code").await;
    app.element("login-code")
        .await
        .send_keys("4821")
        .await
        .unwrap();
    app.element("login-code-submit")
        .await
        .click()
        .await
        .unwrap();
    wait_login_state(&app, "scanned").await;
    let bot = sim
        .confirm_qr(&qr, Some("owner@im.wechat"))
        .unwrap()
        .unwrap();
    wait_login_state(&app, "confirmed").await;
    app.element("login-close").await.click().await.unwrap();

    let item = account_item(&app, &bot).await;
    let name = item
        .find(By::Css("[data-testid='account-name']"))
        .await
        .unwrap();
    assert_eq!(
        name.prop("textContent").await.unwrap().unwrap_or_default(),
        "Front desk"
    );
    wait_account_status(&app, &bot, "Online").await;
    app.quit().await;
}

/// Two accounts online at once; inbound messages arrive live and unread counts follow;
/// a stale token asks for a new scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_online_with_live_unread_counts_and_a_stale_token() {
    if !enabled("two_accounts_online_with_live_unread_counts_and_a_stale_token") {
        return;
    }
    let sim = start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let shop = login(&app, &sim, "Shop", "alice@im.wechat").await;
    let desk = login(&app, &sim, "Desk", "bob@im.wechat").await;
    wait_account_status(&app, &shop, "Online").await;
    wait_account_status(&app, &desk, "Online").await;

    sim.inject_text(&shop.bot_id, "alice@im.wechat", "one")
        .unwrap();
    sim.inject_text(&shop.bot_id, "alice@im.wechat", "two")
        .unwrap();
    sim.inject_text(&desk.bot_id, "bob@im.wechat", "three")
        .unwrap();
    let unread_of = |bot: &ilink_sim::BotInfo| {
        let id = ilink::account_id::normalize(&bot.bot_id);
        format!(
            "const e = document.querySelector(\"[data-account='{id}'] [data-testid='account-unread']\"); return e ? e.textContent : null;"
        )
    };
    app.wait_script(
        &unread_of(&shop),
        serde_json::json!("2"),
        Duration::from_secs(20),
    )
    .await;
    app.wait_script(
        &unread_of(&desk),
        serde_json::json!("1"),
        Duration::from_secs(20),
    )
    .await;
    app.screenshot("two-accounts").await;

    sim.revoke_token(&desk.bot_id).unwrap();
    wait_account_status(&app, &desk, "Scan again to reconnect").await;
    let scan_again = account_item(&app, &desk)
        .await
        .find(By::Css("[data-testid='scan-again']"))
        .await
        .unwrap();
    scan_again.click().await.unwrap();
    app.element("login-dialog").await;
    let alias = app.element("login-alias").await.value().await.unwrap();
    assert_eq!(
        alias.as_deref(),
        Some("Desk"),
        "a new scan keeps the account's name"
    );
    app.screenshot("token-stale").await;
    app.quit().await;
}
