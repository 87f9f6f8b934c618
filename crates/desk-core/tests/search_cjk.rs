//! Chinese search through the public store API on a database file shared by two
//! connections, as the app and a CLI command share it: whichever one writes, the other
//! finds two-character words, and removing the account takes them out of the index.

use desk_core::store::AccountUpsert;
use desk_core::Store;
use ilink::models::WeixinMessage;

fn account(id: &str) -> AccountUpsert {
    AccountUpsert {
        account_id: id.into(),
        bot_id: format!("{id}@im.bot"),
        base_url: "http://127.0.0.1:9/".into(),
        alias: None,
        user_id: None,
        cdn_url: None,
        route_tag: None,
    }
}

fn text_message(id: u64, time: i64, text: &str) -> WeixinMessage {
    serde_json::from_value(serde_json::json!({
        "message_id": id, "from_user_id": "peer@im.wechat", "create_time_ms": time,
        "item_list": [{"type": 1, "text_item": {"text": text}}]
    }))
    .unwrap()
}

fn texts(store: &Store, query: &str, limit: usize) -> Vec<String> {
    store
        .search(query, limit)
        .unwrap()
        .into_iter()
        .map(|m| m.text.unwrap())
        .collect()
}

#[test]
fn two_connections_share_the_bigram_index_and_removal_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let app = Store::open(&db).unwrap();
    let cli = Store::open(&db).unwrap();
    app.upsert_account(&account("a"), 0).unwrap();
    cli.upsert_account(&account("b"), 0).unwrap();
    // Enough hits that a short page walks the messages newest first.
    let older: Vec<_> = (1..=40)
        .map(|i| text_message(i, i as i64, &format!("第{i}次 明天开会")))
        .collect();
    app.commit_inbound_batch("a", None, &older, 0).unwrap();
    cli.commit_inbound_batch(
        "b",
        None,
        &[
            text_message(100, 100, "报告写好了，明天开会讨论"),
            text_message(101, 101, "東京で会議します"),
        ],
        0,
    )
    .unwrap();

    assert_eq!(texts(&app, "开会 报告", 10), ["报告写好了，明天开会讨论"]);
    assert_eq!(texts(&app, "会議", 10), ["東京で会議します"]);
    assert_eq!(
        texts(&cli, "开会", 3),
        [
            "报告写好了，明天开会讨论",
            "第40次 明天开会",
            "第39次 明天开会"
        ]
    );
    assert_eq!(texts(&cli, "开会 40", 10), ["第40次 明天开会"]);
    assert_eq!(app.search("开会", 100).unwrap().len(), 41);

    assert!(cli.delete_account("a").unwrap());
    assert_eq!(texts(&app, "开会", 100), ["报告写好了，明天开会讨论"]);
    assert!(texts(&app, "次", 100).is_empty());
    app.check_integrity().unwrap();
}
