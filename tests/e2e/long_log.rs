//! A 100,000-message conversation in the real window: it opens at its newest messages,
//! scrolling up pages older ones in, and only the rows near the viewport are in the page.

use std::time::{Duration, Instant};

use desk_core::store::AccountUpsert;
use desk_core::{DataDir, Store};
use ilink::models::WeixinMessage;

use crate::harness::{enabled, App, Home};

const ACCOUNT: &str = "longbot-im-bot";
const PEER: &str = "dora@im.wechat";
const TOTAL: usize = 100_000;
/// Rows that fit a window plus the log's overscan, with slack; far below one page (80).
const MAX_RENDERED: u64 = 70;

fn text_message(index: usize) -> WeixinMessage {
    serde_json::from_value(serde_json::json!({
        "message_id": 20_000_000_000u64 + index as u64,
        "from_user_id": PEER,
        "create_time_ms": 1_700_000_000_000i64 + index as i64 * 1_000,
        "message_type": 1,
        "item_list": [{ "type": 1, "text_item": { "text": format!("message {index}") } }],
    }))
    .expect("a valid text message")
}

/// Writes the account and its conversation into the app's data directory.
fn seed(home: &Home) {
    let started = Instant::now();
    let dir = DataDir::at(home.data.join("weixin-desk")).expect("data dir");
    let store = Store::open(&dir.database()).expect("store");
    store
        .upsert_account(
            &AccountUpsert {
                account_id: ACCOUNT.into(),
                bot_id: "longbot@im.bot".into(),
                base_url: "http://127.0.0.1:9/".into(),
                alias: Some("Archive".into()),
                user_id: None,
                cdn_url: None,
                route_tag: None,
            },
            1_700_000_000_000,
        )
        .expect("account");
    let batch_size = 2_000;
    for first in (0..TOTAL).step_by(batch_size) {
        let batch: Vec<_> = (first..first + batch_size).map(text_message).collect();
        store
            .commit_inbound_batch(ACCOUNT, None, &batch, 1_700_000_000_000)
            .expect("batch");
    }
    eprintln!("seeded {TOTAL} messages in {:?}", started.elapsed());
}

const LOG_STATE: &str = r#"
    const log = document.querySelector("[data-testid='message-log']");
    if (!log) return null;
    const ids = [...log.querySelectorAll("[data-testid='message']")].map((e) => Number(e.dataset.messageId));
    return { loaded: Number(log.dataset.count), rendered: ids.length, min: Math.min(...ids), max: Math.max(...ids),
             top: log.scrollTop, bottomGap: log.scrollHeight - log.scrollTop - log.clientHeight };
"#;

async fn log_state(app: &App) -> serde_json::Value {
    app.driver
        .execute(LOG_STATE, vec![])
        .await
        .expect("log state")
        .json()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100k_conversation_opens_at_the_bottom_and_pages_up_virtualised() {
    if !enabled("a_100k_conversation_opens_at_the_bottom_and_pages_up_virtualised") {
        return;
    }
    let home = Home::new();
    seed(&home);
    let app = App::launch(&home, "en_US.UTF-8").await;
    crate::sim::open_peer(&app, PEER).await;
    // The newest message is shown, at the bottom of the log.
    app.wait_script(
        r#"const t = [...document.querySelectorAll("[data-testid='message-text']")].map((e) => e.textContent);
           return t.includes("message 99999");"#,
        serde_json::json!(true),
        Duration::from_secs(20),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let state = log_state(&app).await;
    assert_eq!(state["loaded"], 80, "{state}");
    assert!(
        state["bottomGap"].as_f64().unwrap() < 2.0,
        "not at the bottom: {state}"
    );
    assert!(
        state["rendered"].as_u64().unwrap() <= MAX_RENDERED,
        "{state}"
    );

    // Scrolling to the top pages older messages in, again and again; the page keeps
    // only a bounded number of rows.
    let mut loaded = 80;
    let mut oldest_seen = state["min"].as_u64().unwrap();
    for _ in 0..12 {
        app.driver
            .execute(
                r#"document.querySelector("[data-testid='message-log']").scrollTop = 0;"#,
                vec![],
            )
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = log_state(&app).await;
            if state["loaded"].as_u64().unwrap() > loaded {
                break;
            }
            assert!(Instant::now() < deadline, "no older page came in: {state}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Let the rows it brings be measured and laid out.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let state = log_state(&app).await;
        loaded = state["loaded"].as_u64().unwrap();
        assert!(
            state["rendered"].as_u64().unwrap() <= MAX_RENDERED,
            "{state}"
        );
        oldest_seen = oldest_seen.min(state["min"].as_u64().unwrap());
    }
    assert!(loaded >= 13 * 80, "only {loaded} loaded");
    app.driver
        .execute(
            r#"document.querySelector("[data-testid='message-log']").scrollTop = 0;"#,
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let state = log_state(&app).await;
    oldest_seen = oldest_seen.min(state["min"].as_u64().unwrap());
    // Row ids follow the seeding order: the oldest rendered is at least 12 pages back.
    assert!(
        oldest_seen <= (TOTAL as u64) - 12 * 80,
        "the oldest rendered row is {oldest_seen}: {state}"
    );
    assert!(
        state["rendered"].as_u64().unwrap() <= MAX_RENDERED,
        "{state}"
    );
    app.screenshot("long-log-paged-up").await;
    app.quit().await;
}
