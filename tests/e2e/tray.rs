use std::process::Command;
use std::time::Duration;

use crate::harness::{enabled, eventually, App, Home, APP_BINARY};
use crate::x11::Display;

const TITLE: &str = "Weixin Desk";
const PEER: &str = "pia@im.wechat";

/// An account (no token: it shows paused) with a conversation, in the app's store
/// before it starts.
fn seed_conversation(home: &Home) {
    let dir = desk_core::DataDir::at(home.data.join("weixin-desk")).unwrap();
    let store = desk_core::Store::open(&dir.database()).unwrap();
    store
        .upsert_account(
            &desk_core::store::AccountUpsert {
                account_id: "shop-im-bot".into(),
                bot_id: "shop@im.bot".into(),
                base_url: "http://127.0.0.1:9/".into(),
                alias: Some("Shop".into()),
                user_id: None,
                cdn_url: None,
                route_tag: None,
            },
            1,
        )
        .unwrap();
    let message: ilink::models::WeixinMessage = serde_json::from_value(serde_json::json!({
        "message_id": 7, "from_user_id": PEER, "create_time_ms": 1_700_000_000_000i64,
        "item_list": [{"type": 1, "text_item": {"text": "see you at the shop"}}]
    }))
    .unwrap();
    store
        .commit_inbound_batch("shop-im-bot", None, &[message], 1_700_000_000_000)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_hides_to_tray_and_a_second_launch_brings_it_back() {
    if !enabled("closing_hides_to_tray_and_a_second_launch_brings_it_back") {
        return;
    }
    let home = Home::new();
    seed_conversation(&home);
    let app = App::launch(&home, "en_US.UTF-8").await;
    let display = Display::open();
    // The user is in a conversation when the window goes to the tray.
    crate::sim::open_peer(&app, PEER).await;
    crate::sim::wait_log_has(&app, "see you at the shop").await;
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
    // In the tray no web process is left: the window and its WebKit processes are gone,
    // the app process runs on.
    eventually(Duration::from_secs(10), "WebKit's processes end", || {
        web_processes() == 0
    })
    .await;
    assert!(app_running(), "the app ended with its window");

    // A second launch hands over to the running instance, which builds its window again.
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
    assert!(web_processes() > 0, "the new window has its web process");
    // The settings that keep the window light reach the web process the app started.
    let environment = web_process_environment();
    for setting in [
        "WEBKIT_DISABLE_COMPOSITING_MODE=1",
        "GDK_GL=disable",
        "WEBKIT_DISABLE_DMABUF_RENDERER=1",
        "JSC_useJIT=0",
        "MALLOC_ARENA_MAX=2",
    ] {
        assert!(
            environment.iter().any(|entry| entry == setting),
            "the web process runs without {setting}"
        );
    }
    follow_new_window(&app).await;
    // The new window opens where the user left: the same conversation, its newest
    // message in view.
    app.find_css(
        &format!("[data-testid='conversation-pane'][data-peer='{PEER}']"),
        Duration::from_secs(20),
    )
    .await;
    crate::sim::wait_log_has(&app, "see you at the shop").await;
    app.wait_ready().await;
    app.screenshot("shown-again").await;
    app.quit().await;
}

/// The app's processes (their /proc folders) by name (one app runs at a time in these
/// tests).
fn processes_named_at(prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            std::fs::read_to_string(path.join("comm"))
                .map(|name| name.trim().starts_with(prefix))
                .unwrap_or(false)
        })
        .collect()
}

fn processes_named(prefix: &str) -> usize {
    processes_named_at(prefix).len()
}

/// The environment a web process of the app started with.
fn web_process_environment() -> Vec<String> {
    let process = processes_named_at("WebKitWebProces")
        .pop()
        .expect("a web process");
    let bytes = std::fs::read(process.join("environ")).expect("its environment");
    bytes
        .split(|b| *b == 0)
        .map(|entry| String::from_utf8_lossy(entry).into_owned())
        .collect()
}

pub fn web_processes() -> usize {
    processes_named("WebKitWebProces")
}

fn app_running() -> bool {
    processes_named("weixin-desk") > 0
}

/// The WebDriver session follows the window the app built again.
pub async fn follow_new_window(app: &App) {
    let mut last = String::new();
    for _ in 0..100 {
        match app.driver.windows().await {
            Ok(handles) if !handles.is_empty() => {
                let handle = handles.last().unwrap().clone();
                if app.driver.switch_to_window(handle).await.is_ok()
                    && app.driver.execute("return 1;", vec![]).await.is_ok()
                {
                    return;
                }
            }
            Ok(_) => last = "no window handles".into(),
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the session did not reach the new window: {last}");
}
