use std::process::Command;
use std::time::Duration;

use crate::harness::{enabled, eventually, App, Home, APP_BINARY};
use crate::x11::Display;

const TITLE: &str = "Weixin Desk";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_hides_to_tray_and_a_second_launch_brings_it_back() {
    if !enabled("closing_hides_to_tray_and_a_second_launch_brings_it_back") {
        return;
    }
    let home = Home::new();
    let app = App::launch(&home, "en_US.UTF-8").await;
    let display = Display::open();
    eventually(Duration::from_secs(10), "the window is on screen", || {
        display.any_visible(TITLE)
    })
    .await;

    assert!(
        display.request_close(TITLE) > 0,
        "found the window to close"
    );
    eventually(Duration::from_secs(10), "the window is hidden", || {
        !display.any_visible(TITLE)
    })
    .await;

    // The process keeps running: the page still answers scripts.
    let answer = app.driver.execute("return 40 + 2;", vec![]).await.unwrap();
    assert_eq!(answer.json(), &serde_json::json!(42));

    // A second launch hands over to the running instance, which shows its window.
    let mut second = Command::new(APP_BINARY)
        .envs(home.env("en_US.UTF-8"))
        .spawn()
        .expect("second launch");
    eventually(Duration::from_secs(20), "the second launch exits", || {
        matches!(second.try_wait(), Ok(Some(_)))
    })
    .await;
    eventually(Duration::from_secs(10), "the window is back", || {
        display.any_visible(TITLE)
    })
    .await;
    app.wait_ready().await;
    app.screenshot("shown-again").await;
    app.quit().await;
}
