use std::time::Duration;

use crate::harness::{enabled, Home};
use crate::sim::{launch_on, login, open_conversation, wait_log_has};

const OPEN: &str = "olive@im.wechat";
const OTHER: &str = "bruno@im.wechat";

/// Counts every command the window invokes from now on (`window.__invokes`), where the
/// IPC leaves the page: a `fetch` to the `ipc:` scheme, or the webview's message
/// handler when fetch is not used.
const COUNT_INVOKES: &str = r#"
    window.__invokes = [];
    if (!window.__counting) {
        window.__counting = true;
        const fetch = window.fetch.bind(window);
        window.fetch = (input, init) => {
            const url = String(input instanceof Request ? input.url : input);
            if (url.startsWith("ipc:") || url.startsWith("http://ipc.localhost")) {
                window.__invokes.push(decodeURIComponent(url.split("/").pop()));
            }
            return fetch(input, init);
        };
        const ipc = window.ipc;
        if (ipc && typeof ipc.postMessage === "function") {
            const post = ipc.postMessage.bind(ipc);
            try {
                ipc.postMessage = (message) => {
                    try { window.__invokes.push(JSON.parse(message).cmd); } catch { window.__invokes.push("?"); }
                    return post(message);
                };
            } catch {}
        }
    }
    return true;
"#;

/// Inbound messages, into the open conversation and into another one, reach the window
/// as pushed views: it shows both and calls nothing back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_messages_cost_the_window_no_calls() {
    if !enabled("inbound_messages_cost_the_window_no_calls") {
        return;
    }
    let sim = crate::sim::start_sim().await;
    let home = Home::new();
    let app = launch_on(&sim, &home).await;
    let bot = login(&app, &sim, "Shop", OPEN).await;
    sim.add_peer(&bot.bot_id, OTHER).unwrap();
    sim.inject_text(&bot.bot_id, OPEN, "first").unwrap();
    sim.inject_text(&bot.bot_id, OTHER, "earlier").unwrap();
    open_conversation(&app, &bot, OPEN).await;
    wait_log_has(&app, "first").await;
    // Let the opening calls (page, mark read, open conversation) finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.driver.execute(COUNT_INVOKES, vec![]).await.unwrap();

    for n in 0..5 {
        sim.inject_text(&bot.bot_id, OPEN, &format!("open {n}"))
            .unwrap();
        sim.inject_text(&bot.bot_id, OTHER, &format!("background {n}"))
            .unwrap();
    }
    wait_log_has(&app, "open 4").await;
    app.wait_script(
        &format!(
            "return document.querySelector(\"[data-testid='conversation-item'][data-peer='{OTHER}'] \
             [data-testid='conversation-unread']\")?.textContent ?? null;"
        ),
        serde_json::json!("6"),
        Duration::from_secs(20),
    )
    .await;
    // The background conversation moved to the top with its last message.
    app.wait_script(
        "return document.querySelector(\"[data-testid='conversation-item']\")?.dataset.peer ?? null;",
        serde_json::json!(OTHER),
        Duration::from_secs(10),
    )
    .await;
    let invokes = app
        .driver
        .execute("return window.__invokes;", vec![])
        .await
        .unwrap();
    assert_eq!(
        invokes.json(),
        &serde_json::json!([]),
        "the window called back for inbound messages"
    );
    // The count sees the window's calls: opening the other conversation reads its page.
    crate::sim::open_peer(&app, OTHER).await;
    let invokes = app
        .driver
        .execute("return window.__invokes;", vec![])
        .await
        .unwrap();
    assert!(
        invokes.json().to_string().contains("conversation_page"),
        "calls are not counted: {invokes:?}"
    );
    app.quit().await;
}
