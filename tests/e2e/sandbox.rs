use std::time::Duration;

use thirtyfour::prelude::*;

use crate::harness::{enabled, App, Home, Launch};

/// `--sandbox`: the demo server runs inside the app, its bot is online, the demo chats
/// arrive, everything is labelled and lives in a separate folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_flag_runs_the_demo_in_its_own_folder() {
    if !enabled("sandbox_flag_runs_the_demo_in_its_own_folder") {
        return;
    }
    let home = Home::new();
    let mut launch = Launch::args(&["--sandbox"]);
    launch
        .env
        .push(("WEIXIN_DESK_SANDBOX_TICK_MS", "250".to_owned()));
    let app = App::launch_with(&home, "en_US.UTF-8", launch).await;
    app.wait_text("mode-badge", "Sandbox").await;
    app.wait_text("account-name", "Demo bot").await;
    app.wait_script(
        "const e = document.querySelector(\"[data-testid='account-status']\"); return e && e.textContent;",
        serde_json::json!("Online"),
        Duration::from_secs(30),
    )
    .await;
    // The three demo people write (fast here), each shown by name.
    app.wait_script(
        "return [...document.querySelectorAll(\"[data-testid='conversation-name']\")].map(e => e.textContent).sort();",
        serde_json::json!(["Alice Chen", "李娜 (Lina)", "王小明"]),
        Duration::from_secs(30),
    )
    .await;
    // 王小明 sends a picture early in the timeline: it is downloaded, decrypted and
    // shown in the open conversation.
    app.find_css(
        "[data-testid='conversation-item'][data-peer='o9cq8WangXiaoMing7TqLr2Zx@im.wechat'] button",
        Duration::from_secs(10),
    )
    .await
    .click()
    .await
    .unwrap();
    app.find_css("[data-testid='image-thumb'] img", Duration::from_secs(30))
        .await;
    app.screenshot("sandbox-conversation").await;

    app.element("open-settings").await.click().await.unwrap();
    let dir = app.text_of("data-dir").await;
    assert!(
        dir.ends_with("weixin-desk-sandbox"),
        "the sandbox has its own folder: {dir}"
    );
    assert_eq!(app.text_of("settings-mode").await.trim(), "Sandbox");
    app.quit().await;
    // The user's own database has no sandbox account.
    let own = desk_core::Store::open(&home.data.join("weixin-desk/weixin-desk.sqlite3")).unwrap();
    assert!(own.list_accounts().unwrap().is_empty());
    let sandbox =
        desk_core::Store::open(&home.data.join("weixin-desk-sandbox/weixin-desk.sqlite3")).unwrap();
    assert_eq!(sandbox.list_accounts().unwrap().len(), 1);
}

/// The empty screen's link switches the running app to the sandbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_the_sandbox_link_enters_the_demo() {
    if !enabled("try_the_sandbox_link_enters_the_demo") {
        return;
    }
    let home = Home::new();
    let app = App::launch(&home, "en_US.UTF-8").await;
    app.wait_text("empty-title", "Nothing here yet").await;
    app.element("add-account").await;
    app.screenshot("empty-screen").await;
    app.element("try-sandbox").await.click().await.unwrap();
    app.wait_text("mode-badge", "Sandbox").await;
    app.wait_text("account-name", "Demo bot").await;
    let link = app
        .driver
        .find_all(By::Css("[data-testid='try-sandbox']"))
        .await
        .unwrap();
    assert!(link.is_empty(), "no sandbox link inside the sandbox");
    app.quit().await;
}

/// A dark system theme gives the dark palette (the CSS follows `prefers-color-scheme`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dark_system_theme_gives_the_dark_palette() {
    if !enabled("dark_system_theme_gives_the_dark_palette") {
        return;
    }
    let home = Home::new();
    let mut launch = Launch::args(&["--sandbox"]);
    launch.env.push(("GTK_THEME", "Adwaita:dark".to_owned()));
    let app = App::launch_with(&home, "zh_CN.UTF-8", launch).await;
    app.wait_text("mode-badge", "沙盒").await;
    let dark = app
        .driver
        .execute(
            "return [matchMedia('(prefers-color-scheme: dark)').matches, getComputedStyle(document.querySelector('.main')).backgroundColor];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        dark.json(),
        &serde_json::json!([true, "rgb(23, 24, 26)"]),
        "dark theme not followed"
    );
    app.find_css(
        "[data-testid='conversation-item'] button",
        Duration::from_secs(30),
    )
    .await
    .click()
    .await
    .unwrap();
    app.find_css("[data-testid='message']", Duration::from_secs(10))
        .await;
    app.screenshot("sandbox-dark-zh").await;
    app.quit().await;
}
