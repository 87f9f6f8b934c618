//! The conversation list of an account, and its unread counts.

use rusqlite::params;
use serde::Serialize;

use super::peers::shown_name;
use crate::{CoreError, Store};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    pub account_id: String,
    pub peer_id: String,
    /// The name the peer is shown by: the owner's (`alias`), else one a server gave.
    pub display_name: Option<String>,
    /// The owner's own name for the peer (store/peers.rs).
    pub alias: Option<String>,
    /// The owner's note on the peer.
    pub note: Option<String>,
    pub last_activity_ms: i64,
    pub unread_count: i64,
    /// The newest message's text, for the list's preview line.
    pub last_text: Option<String>,
    /// The newest message's kind, for a media placeholder when there is no text.
    pub last_item_kind: Option<String>,
    /// When the peer's latest context token arrived (the reply window opens then).
    pub context_seen_ms: Option<i64>,
    /// Messages sent under that token so far.
    pub replies_under_token: i64,
}

const CONVERSATION_QUERY: &str = concat!(
    "SELECT c.account_id, c.peer_id, ",
    shown_name!(),
    ", c.last_activity_ms, c.unread_count, last.text, last.item_kind, ct.last_seen_ms,
        p.alias, p.note, COALESCE(ct.replies, 0)
     FROM conversations c
     JOIN peers p ON p.account_id = c.account_id AND p.peer_id = c.peer_id
     LEFT JOIN context_tokens ct ON ct.account_id = c.account_id AND ct.peer_id = c.peer_id
     LEFT JOIN messages last ON last.id = (
         SELECT m.id FROM messages m
         WHERE m.account_id = c.account_id AND m.peer_id = c.peer_id
         ORDER BY m.create_time_ms DESC, m.id DESC LIMIT 1)
     WHERE c.account_id = ?1 AND (?2 IS NULL OR c.peer_id = ?2)
     ORDER BY c.last_activity_ms DESC, c.peer_id"
);

fn summary_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConversationSummary> {
    Ok(ConversationSummary {
        account_id: r.get(0)?,
        peer_id: r.get(1)?,
        display_name: r.get(2)?,
        last_activity_ms: r.get(3)?,
        unread_count: r.get(4)?,
        last_text: r.get(5)?,
        last_item_kind: r.get(6)?,
        context_seen_ms: r.get(7)?,
        alias: r.get(8)?,
        note: r.get(9)?,
        replies_under_token: r.get(10)?,
    })
}

/// A conversation with unread messages, for the tray's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadConversation {
    pub account_id: String,
    pub peer_id: String,
    /// The name the peer is shown by (`null`: the id).
    pub display_name: Option<String>,
    pub unread_count: i64,
}

impl Store {
    /// Conversations of every account with unread messages, most recently active
    /// first, at most `limit`.
    pub fn unread_conversations(&self, limit: usize) -> Result<Vec<UnreadConversation>, CoreError> {
        let mut stmt = self.conn().prepare_cached(concat!(
            "SELECT c.account_id, c.peer_id, ",
            shown_name!(),
            ", c.unread_count
             FROM conversations c
             JOIN peers p ON p.account_id = c.account_id AND p.peer_id = c.peer_id
             WHERE c.unread_count > 0
             ORDER BY c.last_activity_ms DESC, c.account_id, c.peer_id LIMIT ?1"
        ))?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok(UnreadConversation {
                account_id: r.get(0)?,
                peer_id: r.get(1)?,
                display_name: r.get(2)?,
                unread_count: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The account's conversations, most recently active first.
    pub fn list_conversations(
        &self,
        account_id: &str,
    ) -> Result<Vec<ConversationSummary>, CoreError> {
        let mut stmt = self.conn().prepare_cached(CONVERSATION_QUERY)?;
        let rows = stmt.query_map(params![account_id, None::<&str>], summary_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One conversation (the peer id matches case-insensitively).
    pub fn conversation(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<Option<ConversationSummary>, CoreError> {
        let mut stmt = self.conn().prepare_cached(CONVERSATION_QUERY)?;
        let mut rows = stmt.query_map(params![account_id, peer_id], summary_from_row)?;
        Ok(rows.next().transpose()?)
    }

    /// Gives a peer the name a server (or the emulator's demo) knows it by; the
    /// owner's own name (`Store::set_peer_alias`) still wins. Kept here only, never
    /// sent to WeChat; `None` clears it. The peer need not have written yet.
    pub fn name_peer(
        &self,
        account_id: &str,
        peer_id: &str,
        name: Option<&str>,
        now_ms: i64,
    ) -> Result<(), CoreError> {
        self.conn().execute(
            "INSERT INTO peers (account_id, peer_id, display_name, first_seen_ms, last_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT(account_id, peer_id) DO UPDATE SET display_name = excluded.display_name",
            params![account_id, peer_id, name, now_ms],
        )?;
        Ok(())
    }

    /// Clears the unread count; false if there is no such conversation.
    pub fn mark_conversation_read(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<bool, CoreError> {
        let changed = self.conn().execute(
            "UPDATE conversations SET unread_count = 0 WHERE account_id = ?1 AND peer_id = ?2",
            params![account_id, peer_id],
        )?;
        Ok(changed > 0)
    }

    /// Clears the unread count of every conversation of the account, in one statement;
    /// returns how many conversations had unread messages.
    pub fn mark_account_read(&self, account_id: &str) -> Result<usize, CoreError> {
        let changed = self.conn().execute(
            "UPDATE conversations SET unread_count = 0 WHERE account_id = ?1 AND unread_count > 0",
            params![account_id],
        )?;
        Ok(changed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ilink::models::WeixinMessage;

    use super::*;
    use crate::store::accounts::tests::sample;

    /// A text message from `peer`, as getupdates would carry it.
    pub(crate) fn text(peer: &str, id: u64, time: i64, body: &str) -> WeixinMessage {
        serde_json::from_value(serde_json::json!({
            "message_id": id, "from_user_id": peer, "create_time_ms": time,
            "item_list": [{"type": 1, "text_item": {"text": body}}]
        }))
        .unwrap()
    }

    #[test]
    fn lists_by_activity_with_previews_and_clears_unread() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        store
            .commit_inbound_batch(
                "acc",
                None,
                &[
                    text("a", 1, 100, "first"),
                    text("b", 2, 300, "bee"),
                    text("a", 3, 200, "second"),
                ],
                0,
            )
            .unwrap();
        let list = store.list_conversations("acc").unwrap();
        let summary: Vec<_> = list
            .iter()
            .map(|c| (c.peer_id.as_str(), c.unread_count, c.last_text.as_deref()))
            .collect();
        assert_eq!(summary, [("b", 1, Some("bee")), ("a", 2, Some("second"))]);

        assert!(store.mark_conversation_read("acc", "A").unwrap());
        assert!(!store.mark_conversation_read("acc", "nobody").unwrap());
        let a = &store.list_conversations("acc").unwrap()[1];
        assert_eq!((a.peer_id.as_str(), a.unread_count), ("a", 0));
        assert!(store.list_conversations("other").unwrap().is_empty());
    }

    #[test]
    fn marks_a_whole_account_read_and_leaves_others_alone() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        store.upsert_account(&sample("other"), 0).unwrap();
        let batch = [
            text("a", 1, 100, "x"),
            text("b", 2, 200, "y"),
            text("b", 3, 300, "z"),
        ];
        store.commit_inbound_batch("acc", None, &batch, 0).unwrap();
        store
            .commit_inbound_batch("other", None, &[text("c", 4, 400, "w")], 0)
            .unwrap();
        assert_eq!(store.mark_account_read("acc").unwrap(), 2);
        let unread = |account| {
            store
                .list_conversations(account)
                .unwrap()
                .iter()
                .map(|c| c.unread_count)
                .sum::<i64>()
        };
        assert_eq!(unread("acc"), 0);
        assert_eq!(unread("other"), 1);
        store.set_peer_alias("other", "c", "Cat").unwrap();
        let lines = store.unread_conversations(5).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (
                lines[0].account_id.as_str(),
                lines[0].display_name.as_deref(),
                lines[0].unread_count
            ),
            ("other", Some("Cat"), 1)
        );
        assert_eq!(store.mark_account_read("acc").unwrap(), 0);
    }
}
