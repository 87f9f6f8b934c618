use thirtyfour::prelude::*;

use crate::harness::{enabled, App, Home};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_screen_renders_in_english() {
    if !enabled("first_screen_renders_in_english") {
        return;
    }
    let home = Home::new();
    let app = App::launch(&home, "en_US.UTF-8").await;
    assert_eq!(app.driver.title().await.unwrap(), "Weixin Desk");
    app.wait_text("accounts-title", "Accounts").await;
    assert_eq!(app.text_of("brand").await, "Weixin Desk");
    assert_eq!(app.text_of("empty-title").await, "Nothing here yet");
    assert!(app
        .text_of("accounts-empty")
        .await
        .contains("No accounts yet"));
    app.screenshot("first-screen-en").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_system_locale_then_switching_persists() {
    if !enabled("chinese_system_locale_then_switching_persists") {
        return;
    }
    let home = Home::new();
    let app = App::launch(&home, "zh_CN.UTF-8").await;
    app.wait_text("accounts-title", "账号").await;
    assert_eq!(app.text_of("empty-title").await, "这里还什么都没有");
    let lang = app
        .driver
        .find(By::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(lang.as_deref(), Some("zh-CN"));
    // Chinese is drawn with real glyphs, not the missing-glyph box: without a CJK font
    // two different characters paint the same box.
    let drawn = app
        .driver
        .execute(
            r#"const font = getComputedStyle(document.body).fontFamily;
               const paint = (text) => {
                 const c = document.createElement("canvas");
                 c.width = 96; c.height = 64;
                 const g = c.getContext("2d");
                 g.font = `48px ${font}`;
                 g.fillText(text, 4, 52);
                 return g.getImageData(0, 0, 96, 64).data;
               };
               const inked = (d) => d.filter((v, i) => i % 4 === 3 && v > 0).length;
               const a = paint("微"), b = paint("信");
               return { same: a.every((v, i) => v === b[i]), inkA: inked(a), inkB: inked(b) };"#,
            vec![],
        )
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(
        drawn["same"], false,
        "微 and 信 drawn alike (boxes): {drawn}"
    );
    assert!(drawn["inkA"].as_u64().unwrap() > 50, "{drawn}");
    app.screenshot("first-screen-zh").await;

    // Switch at runtime in Settings (the one language selector): the UI changes without
    // a reload.
    app.element("open-settings").await.click().await.unwrap();
    let select = app.element("settings-language").await;
    select
        .find(By::Css("option[value='en']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    app.wait_text("accounts-title", "Accounts").await;
    app.screenshot("switched-to-en").await;
    app.quit().await;

    // The choice outlives the process, even though the system still says Chinese.
    let app = App::launch(&home, "zh_CN.UTF-8").await;
    app.wait_text("accounts-title", "Accounts").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_show_backend_data() {
    if !enabled("settings_show_backend_data") {
        return;
    }
    let home = Home::new();
    let app = App::launch(&home, "en_US.UTF-8").await;
    app.element("open-settings").await.click().await.unwrap();
    let expected_dir = home.data.join("weixin-desk");
    app.wait_text("data-dir", expected_dir.to_str().unwrap())
        .await;
    assert_eq!(app.text_of("app-version").await, env!("CARGO_PKG_VERSION"));
    // The session's unlocked gnome-keyring passed the app's canary check.
    app.wait_text("secrets-status", "System keyring").await;
    assert!(app
        .driver
        .find_all(By::Css("[data-testid='secrets-banner']"))
        .await
        .unwrap()
        .is_empty());
    assert!(
        expected_dir.join("weixin-desk.sqlite3").is_file(),
        "the backend created its database where it says"
    );
    app.screenshot("settings").await;
    app.element("close-settings").await.click().await.unwrap();
    app.element("empty-state").await;
    app.quit().await;
}
