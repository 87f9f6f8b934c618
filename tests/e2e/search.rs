//! Search narrowed to one conversation in the real window: the store answers the
//! narrowed query itself, so an old match behind many newer ones elsewhere is found.

use std::time::Duration;

use desk_core::store::AccountUpsert;
use desk_core::{DataDir, Store};
use ilink::models::WeixinMessage;

use crate::harness::{enabled, App, Home};

const ACCOUNT: &str = "searchbot-im-bot";
const OLD: &str = "dora@im.wechat";
const BUSY: &str = "erin@im.wechat";
const NEWER: u64 = 1_200;

fn text_message(peer: &str, id: u64, text: &str) -> WeixinMessage {
    serde_json::from_value(serde_json::json!({
        "message_id": 30_000_000_000u64 + id,
        "from_user_id": peer,
        "create_time_ms": 1_700_000_000_000i64 + id as i64 * 1_000,
        "message_type": 1,
        "item_list": [{ "type": 1, "text_item": { "text": text } }],
    }))
    .expect("a valid text message")
}

fn seed(home: &Home) {
    let dir = DataDir::at(home.data.join("weixin-desk")).expect("data dir");
    let store = Store::open(&dir.database()).expect("store");
    store
        .upsert_account(
            &AccountUpsert {
                account_id: ACCOUNT.into(),
                bot_id: "searchbot@im.bot".into(),
                base_url: "http://127.0.0.1:9/".into(),
                alias: Some("Shop".into()),
                user_id: None,
                cdn_url: None,
                route_tag: None,
            },
            1_700_000_000_000,
        )
        .expect("account");
    let old = [text_message(OLD, 0, "the invoice from last year")];
    store
        .commit_inbound_batch(ACCOUNT, None, &old, 1_700_000_000_000)
        .expect("old");
    let newer: Vec<_> = (1..=NEWER)
        .map(|i| text_message(BUSY, i, &format!("invoice number {i}")))
        .collect();
    store
        .commit_inbound_batch(ACCOUNT, None, &newer, 1_700_000_000_000)
        .expect("newer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowed_search_finds_a_match_older_than_a_thousand_newer_ones_elsewhere() {
    if !enabled("a_narrowed_search_finds_a_match_older_than_a_thousand_newer_ones_elsewhere") {
        return;
    }
    let home = Home::new();
    seed(&home);
    let app = App::launch(&home, "en_US.UTF-8").await;
    crate::sim::open_peer(&app, OLD).await;
    app.element("open-search").await.click().await.unwrap();
    app.element("search-here").await.click().await.unwrap();
    app.element("search-input")
        .await
        .send_keys("invoice")
        .await
        .unwrap();
    app.wait_script(
        r#"return [...document.querySelectorAll("[data-testid='search-result']")]
             .map((e) => e.textContent.includes("the invoice from last year"));"#,
        serde_json::json!([true]),
        Duration::from_secs(20),
    )
    .await;
    app.screenshot("search-narrowed").await;

    // Everywhere: the newest matches, from the busy conversation.
    app.element("search-here").await.click().await.unwrap();
    app.wait_script(
        r#"const r = [...document.querySelectorAll("[data-testid='search-result']")];
           return r.length > 1 && r.every((e) => !e.textContent.includes("last year"));"#,
        serde_json::json!(true),
        Duration::from_secs(20),
    )
    .await;
    app.quit().await;
}
