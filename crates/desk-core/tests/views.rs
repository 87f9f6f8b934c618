//! The views the window shows, built in the core from a real store: unread totals,
//! the reply window from the engine's own timing, names, mutes, outbox ids, and the
//! changes one engine event carries.

use std::sync::Arc;
use std::time::Duration;

use desk_core::engine::{EngineConfig, EngineEvent};
use desk_core::secrets::MemoryStore;
use desk_core::store::AccountUpsert;
use desk_core::views::{Delivery, Direction, ItemKind, NoLinks, Views};
use desk_core::{Engine, Store};
use ilink::models::WeixinMessage;

const HOUR_MS: i64 = 3_600_000;

fn text(peer: &str, id: u64, time: i64, body: &str) -> WeixinMessage {
    serde_json::from_value(serde_json::json!({
        "message_id": id, "from_user_id": peer, "create_time_ms": time,
        "context_token": format!("ctx-{id}"),
        "item_list": [{"type": 1, "text_item": {"text": body}}]
    }))
    .unwrap()
}

fn account(id: &str) -> AccountUpsert {
    AccountUpsert {
        account_id: id.into(),
        bot_id: format!("{id}@im.bot"),
        base_url: "http://127.0.0.1:1/".into(),
        alias: None,
        user_id: None,
        cdn_url: None,
        route_tag: None,
    }
}

/// An engine (not started) on a store holding two accounts: "acc" with three unread
/// messages from two peers, "quiet" with none.
fn world() -> (Arc<Engine>, Views, i64) {
    let store = Store::open_in_memory().unwrap();
    store.upsert_account(&account("acc"), 0).unwrap();
    store.upsert_account(&account("quiet"), 0).unwrap();
    // Messages from a moment ago, so that the owner's reply sorts after them.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 10_000;
    store
        .commit_inbound_batch(
            "acc",
            None,
            &[
                text("amy@im.wechat", 1, now - 3000, "first"),
                text("amy@im.wechat", 2, now - 2000, "second"),
                text("ben@im.wechat", 3, now - 1000, "hello"),
            ],
            now,
        )
        .unwrap();
    store
        .name_peer("acc", "amy@im.wechat", Some("Amy"), now)
        .unwrap();
    store
        .update_prefs(|p| p.set_muted("acc", "BEN@im.wechat", true))
        .unwrap();
    let mut config = EngineConfig::default();
    config.timings.window_wait_limit = Duration::from_millis(HOUR_MS as u64);
    let engine = Arc::new(Engine::new(store, Arc::new(MemoryStore::new()), config));
    let views = Views::new(Arc::clone(&engine), Arc::new(NoLinks));
    (engine, views, now)
}

#[tokio::test]
async fn accounts_conversations_and_pages_are_finished_views() {
    let (engine, views, now) = world();
    let accounts = views.accounts().await.unwrap();
    let unread: Vec<_> = accounts
        .iter()
        .map(|a| (a.account_id.as_str(), a.unread))
        .collect();
    assert_eq!(unread, [("acc", 3), ("quiet", 0)]);

    let list = views.conversations("acc").await.unwrap();
    let rows: Vec<_> = list
        .iter()
        .map(|c| {
            (
                c.peer_id.as_str(),
                c.display_name.as_deref(),
                c.unread_count,
                c.muted,
                c.last_item_kind,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ben@im.wechat", None, 1, true, Some(ItemKind::Text)),
            ("amy@im.wechat", Some("Amy"), 2, false, Some(ItemKind::Text)),
        ]
    );
    // The reply window closes the engine's window after the peer's last message.
    assert_eq!(list[1].window_closes_ms, Some(now - 2000 + HOUR_MS));

    let queued = engine
        .send_text("acc", "amy@im.wechat", "on my way")
        .await
        .unwrap();
    let page = views.page("acc", "amy@im.wechat", None, 10).await.unwrap();
    let shown: Vec<_> = page
        .messages
        .iter()
        .map(|m| (m.direction, m.delivery, m.outbox_id, m.text.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            (
                Direction::Out,
                Delivery::Queued,
                Some(queued.id),
                Some("on my way")
            ),
            (Direction::In, Delivery::Received, None, Some("second")),
            (Direction::In, Delivery::Received, None, Some("first")),
        ]
    );
    assert_eq!(page.older, None);

    // Taken by the server without a message id: accepted, not shown as delivered.
    let id = queued.id;
    engine
        .store()
        .call(move |s| s.mark_outbox_delivered(id, "cid-1", None, now))
        .await
        .unwrap();
    let sent = &views
        .page("acc", "amy@im.wechat", None, 1)
        .await
        .unwrap()
        .messages[0];
    assert_eq!(sent.delivery, Delivery::Accepted);
    engine
        .store()
        .call(move |s| s.mark_outbox_delivered(id, "cid-1", Some("7001"), now))
        .await
        .unwrap();
    let sent = &views
        .page("acc", "amy@im.wechat", None, 1)
        .await
        .unwrap()
        .messages[0];
    assert_eq!(sent.delivery, Delivery::Delivered);
}

#[tokio::test]
async fn an_event_carries_what_it_changed_and_reading_updates_both_counts() {
    let (_engine, views, _) = world();
    let page = views.page("acc", "amy@im.wechat", None, 1).await.unwrap();
    let newest = page.messages[0].id;
    let changes = views
        .changes_for(&EngineEvent::MessageReceived {
            account_id: "acc".into(),
            peer_id: "AMY@im.wechat".into(),
            message_row_id: newest,
            item_kind: "text".into(),
            preview: Some("second".into()),
        })
        .await
        .unwrap();
    assert_eq!(changes.message.as_ref().map(|m| m.id), Some(newest));
    let conversation = changes.conversation.unwrap();
    assert_eq!(
        (conversation.peer_id.as_str(), conversation.unread_count),
        ("amy@im.wechat", 2)
    );
    assert_eq!(changes.accounts.len(), 1);
    assert_eq!(changes.accounts[0].unread, 3);

    let read = views.mark_read("acc", "amy@im.wechat").await.unwrap();
    assert_eq!(read.conversation.unwrap().unread_count, 0);
    assert_eq!(read.accounts[0].unread, 1);

    // Events that change no view carry nothing.
    let none = views
        .changes_for(&EngineEvent::UploadProgress {
            outbox_id: 1,
            account_id: "acc".into(),
            peer_id: "amy@im.wechat".into(),
            sent: 1,
            total: 2,
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let removed = views
        .changes_for(&EngineEvent::AccountRemoved {
            account_id: "quiet".into(),
            kept_log: false,
        })
        .await
        .unwrap();
    assert_eq!(removed.removed_account.as_deref(), Some("quiet"));
}

#[tokio::test]
async fn marking_an_account_read_clears_all_its_conversations() {
    let (_engine, views, _) = world();
    let changes = views.mark_account_read("acc").await.unwrap();
    assert_eq!(changes.accounts.len(), 1);
    assert_eq!(
        (
            changes.accounts[0].account_id.as_str(),
            changes.accounts[0].unread
        ),
        ("acc", 0)
    );
    let listed = views.conversations("acc").await.unwrap();
    assert!(listed.iter().all(|c| c.unread_count == 0), "{listed:?}");
    assert_eq!(
        views.mark_account_read("quiet").await.unwrap().accounts[0].unread,
        0
    );
}

#[tokio::test]
async fn naming_a_peer_pushes_its_conversation_and_search_finds_it_by_name() {
    let (engine, views, _) = world();
    let mut events = engine.subscribe();
    // The owner's name wins over the name the demo gave; the note comes along.
    engine
        .rename_peer("acc", "amy@im.wechat", "Amy Teapot")
        .await
        .unwrap();
    let event = events.recv().await.unwrap();
    assert_eq!(
        event,
        EngineEvent::PeerChanged {
            account_id: "acc".into(),
            peer_id: "amy@im.wechat".into()
        }
    );
    let changes = views.changes_for(&event).await.unwrap();
    let pushed = changes.conversation.unwrap();
    assert_eq!(pushed.display_name.as_deref(), Some("Amy Teapot"));
    assert_eq!(pushed.alias.as_deref(), Some("Amy Teapot"));
    engine
        .set_peer_note("acc", "ben@im.wechat", "buys wholesale")
        .await
        .unwrap();
    let event = events.recv().await.unwrap();
    let pushed = views
        .changes_for(&event)
        .await
        .unwrap()
        .conversation
        .unwrap();
    assert_eq!(pushed.note.as_deref(), Some("buys wholesale"));
    assert_eq!(pushed.display_name, None);

    // Search: the peer by its name (no message says it), hits with their peer's name.
    let found = views
        .search("teapot", Default::default(), 10)
        .await
        .unwrap();
    let peers: Vec<_> = found.peers.iter().map(|p| p.peer_id.as_str()).collect();
    assert_eq!(peers, ["amy@im.wechat"]);
    assert!(found.messages.is_empty());
    let found = views.search("first", Default::default(), 10).await.unwrap();
    assert_eq!(found.messages.len(), 1);
    assert_eq!(found.messages[0].peer_name.as_deref(), Some("Amy Teapot"));
    let found = views
        .search("wholesale", Default::default(), 10)
        .await
        .unwrap();
    assert_eq!(found.peers[0].peer_id, "ben@im.wechat");

    // Clearing falls back to the demo's name; an unknown peer is refused.
    engine
        .rename_peer("acc", "AMY@im.wechat", " ")
        .await
        .unwrap();
    let amy = views
        .conversation("acc", "amy@im.wechat")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (amy.display_name.as_deref(), amy.alias),
        (Some("Amy"), None)
    );
    assert!(engine
        .rename_peer("acc", "nobody@im.wechat", "X")
        .await
        .is_err());
    let card = views.peer("acc", "amy@im.wechat").await.unwrap().unwrap();
    assert_eq!(card.first_text.as_deref(), Some("first"));
}

/// A scheduled message shows in its conversation's `scheduled` list (in the list of
/// conversations too) and carries its time on its log row; once cancelled it leaves
/// the list, and the event's changes say so.
#[tokio::test]
async fn scheduled_messages_are_listed_in_their_conversation_and_timed_on_their_row() {
    let (engine, views, now) = world();
    let due = now + 2 * HOUR_MS;
    let entry = engine
        .send_text_at("acc", "amy@im.wechat", "see you at noon", due)
        .await
        .unwrap();
    let amy = views
        .conversation("acc", "amy@im.wechat")
        .await
        .unwrap()
        .unwrap();
    let [scheduled] = &amy.scheduled[..] else {
        panic!("{:?}", amy.scheduled)
    };
    assert_eq!(scheduled.outbox_id, entry.id);
    assert_eq!(scheduled.due_ms, due);
    assert_eq!(scheduled.text.as_deref(), Some("see you at noon"));
    assert_eq!(scheduled.kind, ItemKind::Text);
    assert_eq!(scheduled.reason, None);
    let listed = views.conversations("acc").await.unwrap();
    let counts: Vec<(String, usize)> = listed
        .iter()
        .map(|c| (c.peer_id.clone(), c.scheduled.len()))
        .collect();
    assert!(
        counts.contains(&("amy@im.wechat".to_owned(), 1)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&("ben@im.wechat".to_owned(), 0)),
        "{counts:?}"
    );
    let page = views.page("acc", "amy@im.wechat", None, 10).await.unwrap();
    let row = page
        .messages
        .iter()
        .find(|m| m.outbox_id == Some(entry.id))
        .unwrap();
    assert_eq!((row.due_ms, row.delivery), (Some(due), Delivery::Queued));

    let mut rx = engine.subscribe();
    assert!(engine.cancel_outbound(entry.id).await.unwrap());
    let event = rx.recv().await.unwrap();
    let changes = views.changes_for(&event).await.unwrap();
    assert!(changes.conversation.unwrap().scheduled.is_empty());
    assert_eq!(changes.message.unwrap().delivery, Delivery::Failed);
}
