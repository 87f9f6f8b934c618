//! Reading the message log: a conversation page by page (newest first, keyset paging) and
//! full-text search.

use rusqlite::{params, Row};
use serde::Serialize;

use crate::{CoreError, Store};

/// One stored message as the UI shows it. The CDN reference and raw JSON stay in the
/// database: they are for the media and reprocessing pipelines, not for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub account_id: String,
    pub peer_id: String,
    /// `in` or `out`.
    pub direction: String,
    pub server_message_id: Option<String>,
    pub client_id: Option<String>,
    pub seq: Option<i64>,
    pub create_time_ms: i64,
    /// `text`, `image`, `voice`, `file`, `video`, `tool_call_start`, `tool_call_result`,
    /// `none` or `unknown`.
    pub item_kind: String,
    pub text: Option<String>,
    pub media_file_name: Option<String>,
    pub media_size: Option<i64>,
    pub media_path: Option<String>,
    /// `none`, `pending`, `ready` or `failed`.
    pub media_state: String,
    pub quote_server_id: Option<String>,
    pub quote_text: Option<String>,
    /// The stored message the quote refers to (`messages.id`), when the log holds it.
    pub quote_message_id: Option<i64>,
    /// `received`, `queued`, `sending`, `waiting_for_window`, `delivered` or `failed`.
    pub delivery: String,
    pub error: Option<String>,
    pub ai_generated: bool,
}

/// Where the next (older) page starts: the last message of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageCursor {
    pub create_time_ms: i64,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessagePage {
    /// Newest first.
    pub messages: Vec<StoredMessage>,
    /// Set when older messages may remain.
    pub older: Option<PageCursor>,
}

const MESSAGE_COLUMNS: &str = "m.id, m.account_id, m.peer_id, m.direction, \
    m.server_message_id, m.client_id, m.seq, m.create_time_ms, m.item_kind, m.text, \
    m.media_file_name, m.media_size, m.media_path, m.media_state, m.quote_server_id, \
    m.quote_text, m.delivery, m.error, m.ai_generated, m.quote_message_id";

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        id: row.get(0)?,
        account_id: row.get(1)?,
        peer_id: row.get(2)?,
        direction: row.get(3)?,
        server_message_id: row.get(4)?,
        client_id: row.get(5)?,
        seq: row.get(6)?,
        create_time_ms: row.get(7)?,
        item_kind: row.get(8)?,
        text: row.get(9)?,
        media_file_name: row.get(10)?,
        media_size: row.get(11)?,
        media_path: row.get(12)?,
        media_state: row.get(13)?,
        quote_server_id: row.get(14)?,
        quote_text: row.get(15)?,
        delivery: row.get(16)?,
        error: row.get(17)?,
        ai_generated: row.get(18)?,
        quote_message_id: row.get(19)?,
    })
}

/// Search terms shorter than this many characters cannot use the trigram index.
const TRIGRAM: usize = 3;

impl Store {
    /// Up to `limit` messages of one conversation older than `before` (or the newest),
    /// newest first. The peer id matches case-insensitively.
    pub fn conversation_page(
        &self,
        account_id: &str,
        peer_id: &str,
        before: Option<PageCursor>,
        limit: usize,
    ) -> Result<MessagePage, CoreError> {
        let limit = limit.max(1);
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             WHERE m.account_id = ?1 AND m.peer_id = ?2
               AND (?3 IS NULL OR (m.create_time_ms, m.id) < (?3, ?4))
             ORDER BY m.create_time_ms DESC, m.id DESC
             LIMIT ?5"
        ))?;
        let messages: Vec<StoredMessage> = stmt
            .query_map(
                params![
                    account_id,
                    peer_id,
                    before.map(|c| c.create_time_ms),
                    before.map(|c| c.id),
                    limit as i64
                ],
                message_from_row,
            )?
            .collect::<Result<_, _>>()?;
        let older = (messages.len() == limit)
            .then(|| messages.last())
            .flatten()
            .map(|m| PageCursor {
                create_time_ms: m.create_time_ms,
                id: m.id,
            });
        Ok(MessagePage { messages, older })
    }

    /// Messages of every account whose text contains every whitespace-separated term of
    /// `query` (case-insensitive substrings, Chinese or not), newest first.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<StoredMessage>, CoreError> {
        let terms: Vec<&str> = query.split_whitespace().collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let (long, short): (Vec<&str>, Vec<&str>) = terms
            .into_iter()
            .partition(|t| t.chars().count() >= TRIGRAM);
        let mut sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages m");
        let mut conditions = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if !long.is_empty() {
            sql.push_str(" JOIN messages_fts f ON f.rowid = m.id");
            conditions.push("messages_fts MATCH ?".to_owned());
            // Each term as a quoted phrase, so FTS5 syntax in user input is plain text.
            values.push(
                long.iter()
                    .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            );
        }
        for term in short {
            // Too short for trigrams: a scan, which is fine at one person's message volume.
            conditions.push("m.text LIKE ? ESCAPE '\\'".to_owned());
            values.push(format!("%{}%", escape_like(term)));
        }
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
        sql.push_str(" ORDER BY m.create_time_ms DESC, m.id DESC LIMIT ?");
        let mut stmt = self.conn().prepare(&sql)?;
        let mut bound: Vec<&dyn rusqlite::ToSql> =
            values.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        let limit = limit as i64;
        bound.push(&limit);
        let rows = stmt.query_map(bound.as_slice(), message_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn escape_like(term: &str) -> String {
    let mut escaped = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use ilink::models::WeixinMessage;

    use super::*;
    use crate::store::accounts::tests::sample;

    fn text_message(peer: &str, id: u64, time: i64, text: &str) -> WeixinMessage {
        serde_json::from_value(serde_json::json!({
            "message_id": id, "from_user_id": peer, "create_time_ms": time,
            "item_list": [{"type": 1, "text_item": {"text": text}}]
        }))
        .unwrap()
    }

    fn store_with(messages: &[WeixinMessage]) -> Store {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        store
            .commit_inbound_batch("acc", None, messages, 0)
            .unwrap();
        store
    }

    #[test]
    fn pages_newest_first_without_gaps_or_repeats() {
        // Two messages share a timestamp: the id breaks the tie.
        let batch: Vec<_> = (1..=7)
            .map(|i| {
                text_message(
                    "Peer@im.wechat",
                    i,
                    1_000 + (i as i64 / 2),
                    &format!("m{i}"),
                )
            })
            .collect();
        let store = store_with(&batch);
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .conversation_page("acc", "peer@IM.wechat", before, 3)
                .unwrap();
            seen.extend(page.messages.iter().map(|m| m.text.clone().unwrap()));
            match page.older {
                Some(c) => before = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, ["m7", "m6", "m5", "m4", "m3", "m2", "m1"]);
        let other = store.conversation_page("acc", "nobody", None, 3).unwrap();
        assert!(other.messages.is_empty() && other.older.is_none());
    }

    #[test]
    fn search_finds_chinese_and_english_substrings() {
        let store = store_with(&[
            text_message("a", 1, 1, "你好世界，今天天气很好"),
            text_message("a", 2, 2, "Hello World from Rust"),
            text_message("b", 3, 3, "世界杯 and world cup"),
            text_message("b", 4, 4, "100% sure_thing"),
        ]);
        let texts = |q: &str| -> Vec<String> {
            store
                .search(q, 10)
                .unwrap()
                .into_iter()
                .map(|m| m.text.unwrap())
                .collect()
        };
        assert_eq!(texts("今天天气"), ["你好世界，今天天气很好"]);
        // Two-character Chinese words are below the trigram size and still found.
        assert_eq!(
            texts("世界"),
            ["世界杯 and world cup", "你好世界，今天天气很好"]
        );
        assert_eq!(
            texts("WORLD"),
            ["世界杯 and world cup", "Hello World from Rust"]
        );
        assert_eq!(texts("orl rust"), ["Hello World from Rust"]);
        assert_eq!(texts("世界 cup"), ["世界杯 and world cup"]);
        // FTS and LIKE syntax in the query is plain text.
        assert_eq!(texts("\"OR\" NEAR("), Vec::<String>::new());
        assert_eq!(texts("0%"), ["100% sure_thing"]);
        assert_eq!(texts("e_t"), ["100% sure_thing"]);
        assert_eq!(texts("   "), Vec::<String>::new());
        assert_eq!(store.search("world", 1).unwrap().len(), 1);
    }

    #[test]
    fn search_follows_edits_and_deletes() {
        let store = store_with(&[text_message("a", 1, 1, "original words")]);
        store
            .conn()
            .execute("UPDATE messages SET text = 'replacement text'", [])
            .unwrap();
        assert!(store.search("original", 10).unwrap().is_empty());
        assert_eq!(store.search("replacement", 10).unwrap().len(), 1);
        store.conn().execute("DELETE FROM messages", []).unwrap();
        assert!(store.search("replacement", 10).unwrap().is_empty());
        // The external-content index agrees with its table.
        store
            .conn()
            .execute(
                "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)",
                [],
            )
            .unwrap();
    }
}
