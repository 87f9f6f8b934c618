//! A test-owned emulator and the steps most tests share: logging in through the real
//! dialog, opening a conversation.

use std::time::Duration;

use ilink_sim::{BotInfo, Knobs, Sim, SimConfig};
use thirtyfour::prelude::*;

use crate::harness::{App, Home, Launch};

/// An emulator with short holds, so the app notices changes within a second.
pub async fn start_sim() -> Sim {
    Sim::start(SimConfig {
        knobs: Knobs {
            poll_hold_ms: 400,
            qr_hold_ms: 200,
            ..Knobs::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("start ilink-sim")
}

pub async fn launch_on(sim: &Sim, home: &Home) -> App {
    App::launch_with(home, "en_US.UTF-8", Launch::sim(&sim.base_url())).await
}

/// Waits until the login dialog shows `state` (its `data-state`).
pub async fn wait_login_state(app: &App, state: &str) {
    app.find_css(
        &format!("[data-testid='login-state'][data-state='{state}']"),
        Duration::from_secs(20),
    )
    .await;
}

/// Opens the dialog and starts a login named `alias`; returns the QR code id.
pub async fn begin_login(app: &App, sim: &Sim, alias: &str) -> String {
    let add = app
        .find_css(
            "[data-testid='add-account'], [data-testid='empty-add-account']",
            Duration::from_secs(20),
        )
        .await;
    add.click().await.unwrap();
    app.element("login-alias")
        .await
        .send_keys(alias)
        .await
        .unwrap();
    app.element("login-start").await.click().await.unwrap();
    wait_login_state(app, "qr_ready").await;
    sim.latest_qrcode().expect("the app asked for a QR code")
}

/// A full login through the dialog, confirmed on the "phone" as `user`.
pub async fn login(app: &App, sim: &Sim, alias: &str, user: &str) -> BotInfo {
    let qr = begin_login(app, sim, alias).await;
    sim.scan_qr(&qr).unwrap();
    wait_login_state(app, "scanned").await;
    let bot = sim.confirm_qr(&qr, Some(user)).unwrap().expect("a new bot");
    wait_login_state(app, "confirmed").await;
    app.element("login-close").await.click().await.unwrap();
    bot
}

/// The sidebar entry of the account named `alias`.
pub async fn account_item(app: &App, bot: &BotInfo) -> WebElement {
    let id = ilink::account_id::normalize(&bot.bot_id);
    app.find_css(
        &format!("[data-testid='account-item'][data-account='{id}']"),
        Duration::from_secs(20),
    )
    .await
}

/// Waits until the account's status reads `expected`.
pub async fn wait_account_status(app: &App, bot: &BotInfo, expected: &str) {
    let id = ilink::account_id::normalize(&bot.bot_id);
    app.wait_script(
        &format!(
            "const e = document.querySelector(\"[data-account='{id}'] [data-testid='account-status']\"); return e ? e.textContent : null;"
        ),
        serde_json::json!(expected),
        Duration::from_secs(30),
    )
    .await;
}

/// Selects the account and opens its conversation with `peer`.
pub async fn open_conversation(app: &App, bot: &BotInfo, peer: &str) {
    account_item(app, bot)
        .await
        .find(By::Css("[data-testid='account-select']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    open_peer(app, peer).await;
}

/// Opens the listed conversation with `peer` (of the selected account).
pub async fn open_peer(app: &App, peer: &str) {
    app.find_css(
        &format!("[data-testid='conversation-item'][data-peer='{peer}'] button"),
        // Generous: a loaded machine can take a while to store and list a new message.
        Duration::from_secs(60),
    )
    .await
    .click()
    .await
    .unwrap();
    app.find_css(
        &format!("[data-testid='conversation-pane'][data-peer='{peer}']"),
        Duration::from_secs(10),
    )
    .await;
}

/// Texts of the open log's messages, oldest first.
pub async fn log_texts(app: &App) -> Vec<String> {
    let value = app
        .driver
        .execute(
            "return [...document.querySelectorAll(\"[data-testid='message']\")].map(m => { const t = m.querySelector(\"[data-testid='message-text']\"); return t ? t.textContent : ''; });",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(value.json().clone()).unwrap_or_default()
}

/// Waits until the open log contains a message with exactly `text`.
pub async fn wait_log_has(app: &App, text: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let texts = log_texts(app).await;
        if texts.iter().any(|t| t == text) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log never showed {text:?}; it has {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
