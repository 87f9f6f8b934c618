//! How long the window waits to open a conversation of 100,000 messages: the store
//! calls behind `conversation_page` (first page, then the next older page) and
//! `list_conversations`. Prints figures; asserts nothing about time.
//!
//! cargo bench --bench log_page

use std::time::Instant;

use desk_core::Store;
use ilink::models::WeixinMessage;

const MESSAGES: u64 = 100_000;
const BATCH: u64 = 1_000;
const PAGE: usize = 80;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.sqlite3")).expect("store");
    store
        .upsert_account(
            &desk_core::store::AccountUpsert {
                account_id: "bench-im-bot".into(),
                bot_id: "bench@im.bot".into(),
                base_url: "http://127.0.0.1:1/".into(),
                ..Default::default()
            },
            0,
        )
        .expect("account");
    let fill = Instant::now();
    for start in (0..MESSAGES).step_by(BATCH as usize) {
        let batch: Vec<WeixinMessage> = (start..start + BATCH)
            .map(|i| {
                serde_json::from_value(serde_json::json!({
                    "message_id": 1_000_000 + i,
                    "from_user_id": "peer@im.wechat",
                    "create_time_ms": 1_700_000_000_000i64 + i as i64 * 1000,
                    "item_list": [{"type": 1, "text_item": {"text": format!("message number {i} with some words")}}]
                }))
                .expect("message")
            })
            .collect();
        store
            .commit_inbound_batch("bench-im-bot", None, &batch, 0)
            .expect("commit");
    }
    println!("filled {MESSAGES} messages in {:?}", fill.elapsed());

    for round in 0..3 {
        let t = Instant::now();
        let page = store
            .conversation_page("bench-im-bot", "peer@im.wechat", None, PAGE)
            .expect("page");
        let first = t.elapsed();
        let t = Instant::now();
        let older = store
            .conversation_page("bench-im-bot", "peer@im.wechat", page.older, PAGE)
            .expect("older page");
        let second = t.elapsed();
        let t = Instant::now();
        let list = store.list_conversations("bench-im-bot").expect("list");
        let listed = t.elapsed();
        let t = Instant::now();
        let hits = store.search("number 99999", 100).expect("search");
        let searched = t.elapsed();
        assert_eq!(page.messages.len() + older.messages.len(), 2 * PAGE);
        assert_eq!(list[0].unread_count, MESSAGES as i64);
        assert!(!hits.is_empty());
        println!(
            "round {round}: first page {first:?}, older page {second:?}, conversation list {listed:?}, search {searched:?}"
        );
    }
}
