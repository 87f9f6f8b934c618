//! Reading the message log: a conversation page by page (newest first, keyset paging) and
//! full-text search.

use rusqlite::{params, Row};
use serde::Serialize;

use super::cjk;
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
    /// Set on every quoting message: the quoted item's kind (an `item_kind` word), even
    /// when the quote carried no body or id.
    pub quote_kind: Option<String>,
    /// The quoted item's own time, when the quote gave it.
    pub quote_time_ms: Option<i64>,
    /// `received`, `queued`, `sending`, `waiting_for_window`, `delivered` or `failed`.
    pub delivery: String,
    pub error: Option<String>,
    /// A failed send's `SendFailure` word.
    pub failure: Option<String>,
    /// A failed download's `MediaFailure` word, and its details (for a saved file:
    /// why it is not in the usual form).
    pub media_failure: Option<String>,
    pub media_error: Option<String>,
    pub ai_generated: bool,
}

/// Where the next (older) page starts: the last message of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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
    m.quote_text, m.delivery, m.error, m.ai_generated, m.quote_message_id, m.quote_kind, \
    m.quote_time_ms, m.failure, m.media_failure, m.media_error";

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
        quote_kind: row.get(20)?,
        quote_time_ms: row.get(21)?,
        failure: row.get(22)?,
        media_failure: row.get(23)?,
        media_error: row.get(24)?,
    })
}

/// Search terms shorter than this many characters cannot use the trigram index.
const TRIGRAM: usize = 3;

impl Store {
    /// One logged message by its row id.
    pub fn message(&self, id: i64) -> Result<Option<StoredMessage>, CoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?1"
        ))?;
        let mut rows = stmt.query_map([id], message_from_row)?;
        Ok(rows.next().transpose()?)
    }

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
    ///
    /// Terms of 3+ characters use the trigram index, two CJK characters the bigram
    /// index (both exact for those terms); anything shorter is a LIKE filter.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<StoredMessage>, CoreError> {
        self.search_in(query, &SearchScope::default(), limit)
    }

    /// [`Store::search`] within one account, one peer, or one conversation: the scope is
    /// part of the query, so a match older than any number of newer matches elsewhere
    /// is still found.
    pub fn search_in(
        &self,
        query: &str,
        scope: &SearchScope,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, CoreError> {
        let terms = SearchTerms::parse(query);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        if !scope.is_everything() {
            // The conversation index leads with (account, peer): SQLite walks the scope
            // newest first and checks each row against the full-text hits.
            return self.run_search(&terms, SearchPlan::Scoped, scope, limit);
        }
        let scope = &SearchScope::default();
        if terms.indexes().next().is_none() {
            // Only LIKE terms: the newest messages first, which is enough for common
            // words; a full scan when they hold fewer than a page of hits.
            let newest = self.run_search(&terms, SearchPlan::NewestWindow, scope, limit)?;
            if newest.len() == limit {
                return Ok(newest);
            }
            return self.run_search(&terms, SearchPlan::FullScan, scope, limit);
        }
        // Many hits: walk the messages newest first and stop after a page. Few: fetch
        // every hit by id and sort them.
        let hits = self.fewest_index_hits(&terms)?;
        let messages: i64 =
            self.conn()
                .query_row("SELECT coalesce(max(id), 0) FROM messages", [], |r| {
                    r.get(0)
                })?;
        let expected_walk = (limit as i64).saturating_mul(messages) / hits.max(1);
        let plan = if hits >= limit as i64 && expected_walk <= NEWEST_WINDOW {
            SearchPlan::NewestFirst
        } else {
            SearchPlan::IndexHits
        };
        self.run_search(&terms, plan, scope, limit)
    }

    /// The smallest number of rows one index matches: at least the number of hits.
    fn fewest_index_hits(&self, terms: &SearchTerms<'_>) -> Result<i64, CoreError> {
        let mut fewest = i64::MAX;
        for (table, query) in terms.indexes() {
            let count: i64 = self.conn().query_row(
                &format!("SELECT count(*) FROM {table} WHERE {table} MATCH ?1"),
                [&query],
                |r| r.get(0),
            )?;
            fewest = fewest.min(count);
        }
        Ok(fewest)
    }

    fn run_search(
        &self,
        terms: &SearchTerms<'_>,
        plan: SearchPlan,
        scope: &SearchScope,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, CoreError> {
        let (sql, values) = search_sql(terms, plan, scope);
        let mut stmt = self.conn().prepare(&sql)?;
        let mut bound: Vec<&dyn rusqlite::ToSql> =
            values.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
        let limit = limit as i64;
        bound.push(&limit);
        let rows = stmt.query_map(bound.as_slice(), message_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A search's SQL and its values but the last, the limit.
fn search_sql(
    terms: &SearchTerms<'_>,
    plan: SearchPlan,
    scope: &SearchScope,
) -> (String, Vec<String>) {
    let mut sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages m");
    let mut conditions = Vec::new();
    let mut values: Vec<String> = Vec::new();
    match plan {
        SearchPlan::IndexHits => {
            // Not the time index: walking it and probing the index for each row
            // is what this plan is for avoiding.
            sql.push_str(" NOT INDEXED");
            for (table, query) in terms.indexes() {
                sql.push_str(&format!(" JOIN {table} ON {table}.rowid = m.id"));
                conditions.push(format!("{table} MATCH ?"));
                values.push(query);
            }
        }
        SearchPlan::NewestFirst | SearchPlan::Scoped => {
            if plan == SearchPlan::NewestFirst {
                sql.push_str(" INDEXED BY messages_by_time");
            }
            for (table, query) in terms.indexes() {
                conditions.push(format!(
                    "m.id IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)"
                ));
                values.push(query);
            }
        }
        SearchPlan::NewestWindow => conditions.push(format!(
            "m.id IN (SELECT id FROM messages INDEXED BY messages_by_time
                          ORDER BY create_time_ms DESC, id DESC LIMIT {NEWEST_WINDOW})"
        )),
        // The table in rowid order beats the time index's random lookups when the
        // whole table has to be read.
        SearchPlan::FullScan => sql.push_str(" NOT INDEXED"),
    }
    if let Some(account_id) = &scope.account_id {
        conditions.push("m.account_id = ?".to_owned());
        values.push(account_id.clone());
    }
    if let Some(peer_id) = &scope.peer_id {
        conditions.push("m.peer_id = ?".to_owned());
        values.push(peer_id.clone());
    }
    for term in &terms.scan {
        conditions.push("m.text LIKE ? ESCAPE '\\'".to_owned());
        values.push(format!("%{}%", escape_like(term)));
    }
    sql.push_str(" WHERE ");
    sql.push_str(&conditions.join(" AND "));
    sql.push_str(" ORDER BY m.create_time_ms DESC, m.id DESC LIMIT ?");
    (sql, values)
}

/// How many of the newest messages a search reads before it gives up on stopping early.
const NEWEST_WINDOW: i64 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchPlan {
    /// Every row the indexes match, sorted (few hits).
    IndexHits,
    /// The time index newest first, each row checked against the indexes' hits.
    NewestFirst,
    /// Only the newest [`NEWEST_WINDOW`] messages (LIKE terms alone).
    NewestWindow,
    /// Every message (LIKE terms alone, when the window held too few hits).
    FullScan,
    /// One account's or peer's messages newest first, by the conversation index.
    Scoped,
}

/// Which messages a search looks at: everything, one account, one peer (across
/// accounts, ids compared case-insensitively) or one conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchScope {
    pub account_id: Option<String>,
    pub peer_id: Option<String>,
}

impl SearchScope {
    pub fn is_everything(&self) -> bool {
        self.account_id.is_none() && self.peer_id.is_none()
    }
}

/// A query's terms by what can answer them.
struct SearchTerms<'q> {
    /// 3+ characters: the trigram index.
    trigram: Vec<&'q str>,
    /// Two CJK characters: the bigram index.
    bigram: Vec<&'q str>,
    /// One character, or two that are not both CJK: LIKE.
    scan: Vec<&'q str>,
}

impl<'q> SearchTerms<'q> {
    fn parse(query: &'q str) -> Self {
        let mut terms = SearchTerms {
            trigram: Vec::new(),
            bigram: Vec::new(),
            scan: Vec::new(),
        };
        for term in query.split_whitespace() {
            if term.chars().count() >= TRIGRAM {
                terms.trigram.push(term);
            } else if cjk::is_bigram_term(term) {
                terms.bigram.push(term);
            } else {
                terms.scan.push(term);
            }
        }
        terms
    }

    fn is_empty(&self) -> bool {
        self.trigram.is_empty() && self.bigram.is_empty() && self.scan.is_empty()
    }

    /// The FTS5 tables to consult and the query for each.
    fn indexes(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        [
            ("messages_fts", &self.trigram),
            ("messages_cjk", &self.bigram),
        ]
        .into_iter()
        .filter(|(_, terms)| !terms.is_empty())
        .map(|(table, terms)| (table, phrases(terms)))
    }
}

/// An FTS5 query requiring every term, each a quoted phrase so FTS5 syntax in user
/// input is plain text.
fn phrases(terms: &[&str]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
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

#[cfg(test)]
mod cjk_search_tests {
    use ilink::models::WeixinMessage;
    use proptest::prelude::*;

    use super::*;
    use crate::store::accounts::tests::sample;

    fn text_message(peer: &str, id: u64, time: i64, text: &str) -> WeixinMessage {
        serde_json::from_value(serde_json::json!({
            "message_id": id, "from_user_id": peer, "create_time_ms": time,
            "item_list": [{"type": 1, "text_item": {"text": text}}]
        }))
        .unwrap()
    }

    fn store_with(texts: &[&str]) -> Store {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        let batch: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| text_message("p", i as u64 + 1, i as i64 + 1, t))
            .collect();
        store.commit_inbound_batch("acc", None, &batch, 0).unwrap();
        store
    }

    fn texts(store: &Store, query: &str) -> Vec<String> {
        store
            .search(query, 100)
            .unwrap()
            .into_iter()
            .map(|m| m.text.unwrap())
            .collect()
    }

    #[test]
    fn a_narrowed_search_finds_an_old_match_behind_a_thousand_newer_ones_elsewhere() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        store.upsert_account(&sample("other"), 0).unwrap();
        // The oldest match is Alice's on "acc"; 1,000 newer ones follow for other
        // peers and on the other account. Each query form is tried: trigram (3+
        // characters), CJK bigram, and a short LIKE-only term.
        for (i, text) in ["invoice 发票 ok", "chatter"].iter().enumerate() {
            let first = text_message("alice@im.wechat", i as u64 + 1, i as i64 + 1, text);
            store
                .commit_inbound_batch("acc", None, &[first], 0)
                .unwrap();
        }
        for (account, base) in [("acc", 10_000u64), ("other", 20_000)] {
            let batch: Vec<_> = (0..500u64)
                .map(|i| {
                    let peer = if account == "other" {
                        "alice@im.wechat"
                    } else {
                        "bob@im.wechat"
                    };
                    text_message(peer, base + i, (base + i) as i64, "invoice 发票 ok again")
                })
                .collect();
            store
                .commit_inbound_batch(account, None, &batch, 0)
                .unwrap();
        }
        let scopes = [
            SearchScope {
                account_id: Some("acc".into()),
                peer_id: Some("ALICE@im.wechat".into()),
            },
            SearchScope {
                account_id: None,
                peer_id: Some("alice@im.wechat".into()),
            },
            SearchScope {
                account_id: Some("acc".into()),
                peer_id: None,
            },
        ];
        for query in ["invoice", "发票", "ok"] {
            assert_eq!(store.search(query, 10).unwrap().len(), 10);
            let one = store.search_in(query, &scopes[0], 10).unwrap();
            assert_eq!(one.len(), 1, "{query}: {one:?}");
            assert_eq!(one[0].text.as_deref(), Some("invoice 发票 ok"));
            let peer = store.search_in(query, &scopes[1], 1_000).unwrap();
            assert_eq!(peer.len(), 501, "{query}");
            assert!(peer.iter().all(|m| m.peer_id == "alice@im.wechat"));
            assert_eq!(peer.last().unwrap().account_id, "acc", "oldest last");
            let account = store.search_in(query, &scopes[2], 1_000).unwrap();
            assert_eq!(account.len(), 501, "{query}");
            assert!(account.iter().all(|m| m.account_id == "acc"));
        }
    }

    /// Rows of the bigram index holding `pair`, straight from the index.
    fn indexed(store: &Store, pair: &str) -> Vec<i64> {
        store
            .conn()
            .prepare("SELECT rowid FROM messages_cjk WHERE messages_cjk MATCH ?1 ORDER BY rowid")
            .unwrap()
            .query_map([format!("\"{pair}\"")], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn two_character_words_in_chinese_japanese_and_korean() {
        let store = store_with(&[
            "明天开会，记得带报告",
            "东京へ行きます",
            "안녕하세요 friends",
            "开 会 apart",
            "会开 reversed",
            "Meeting 明天 at 3pm",
        ]);
        assert_eq!(texts(&store, "开会"), ["明天开会，记得带报告"]);
        assert_eq!(texts(&store, "报告 开会"), ["明天开会，记得带报告"]);
        assert_eq!(texts(&store, "行き"), ["东京へ行きます"]);
        assert_eq!(texts(&store, "녕하"), ["안녕하세요 friends"]);
        assert_eq!(
            texts(&store, "明天"),
            ["Meeting 明天 at 3pm", "明天开会，记得带报告"]
        );
        // Mixed terms: every one must match, whatever index serves it.
        assert_eq!(texts(&store, "明天 meeting"), ["Meeting 明天 at 3pm"]);
        assert_eq!(texts(&store, "明天 3"), ["Meeting 明天 at 3pm"]);
        assert_eq!(texts(&store, "明天 带报告"), ["明天开会，记得带报告"]);
        assert_eq!(texts(&store, "明天 friends"), Vec::<String>::new());
        // A pair across punctuation or a space is not a substring.
        assert_eq!(texts(&store, "会，"), ["明天开会，记得带报告"]);
        assert_eq!(texts(&store, "会记"), Vec::<String>::new());
        assert_eq!(texts(&store, "会开"), ["会开 reversed"]);
    }

    #[test]
    fn edits_and_deletes_keep_the_bigram_index_current() {
        let store = store_with(&["明天开会", "没有中文 only"]);
        assert_eq!(indexed(&store, "开会"), [1]);
        store
            .conn()
            .execute("UPDATE messages SET text = '周末报告' WHERE id = 1", [])
            .unwrap();
        assert!(texts(&store, "开会").is_empty());
        assert_eq!(indexed(&store, "开会"), Vec::<i64>::new());
        assert_eq!(texts(&store, "报告"), ["周末报告"]);
        store
            .conn()
            .execute("UPDATE messages SET text = 'plain' WHERE id = 1", [])
            .unwrap();
        assert!(texts(&store, "报告").is_empty());
        store
            .conn()
            .execute("UPDATE messages SET text = '报告好了' WHERE id = 1", [])
            .unwrap();
        assert_eq!(texts(&store, "报告"), ["报告好了"]);
        store
            .conn()
            .execute("DELETE FROM messages WHERE id = 1", [])
            .unwrap();
        assert!(texts(&store, "报告").is_empty());
        assert_eq!(indexed(&store, "报告"), Vec::<i64>::new());
        assert_eq!(texts(&store, "中文"), ["没有中文 only"]);
    }

    #[test]
    fn removing_an_account_empties_its_part_of_the_index() {
        let store = store_with(&["明天开会"]);
        store.upsert_account(&sample("other"), 0).unwrap();
        store
            .commit_inbound_batch("other", None, &[text_message("q", 9, 9, "开会吗")], 0)
            .unwrap();
        assert_eq!(indexed(&store, "开会").len(), 2);
        assert!(store.delete_account("acc").unwrap());
        assert_eq!(texts(&store, "开会"), ["开会吗"]);
        assert_eq!(indexed(&store, "开会").len(), 1);
        assert!(indexed(&store, "明天").is_empty());
    }

    fn plan_of(store: &Store, query: &str, plan: SearchPlan) -> String {
        plan_in(store, query, plan, &SearchScope::default())
    }

    fn plan_in(store: &Store, query: &str, plan: SearchPlan, scope: &SearchScope) -> String {
        let (sql, mut values) = search_sql(&SearchTerms::parse(query), plan, scope);
        values.push("50".to_owned());
        let steps: Vec<String> = store
            .conn()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(rusqlite::params_from_iter(&values), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        steps.join("; ")
    }

    #[test]
    fn each_plan_reads_what_it_is_meant_to() {
        let store = store_with(&["明天开会"]);
        // Few hits: driven by the FTS index, rows fetched by id, then sorted.
        let hits = plan_of(&store, "开会 invoice x", SearchPlan::IndexHits);
        assert!(hits.starts_with("SCAN messages_"), "{hits}");
        assert!(!hits.contains("messages_by_time"), "{hits}");
        assert!(hits.contains("INTEGER PRIMARY KEY"), "{hits}");
        // Many hits: the time index, newest first, no sort.
        let newest = plan_of(&store, "开会 报告", SearchPlan::NewestFirst);
        assert!(
            newest.starts_with("SCAN m USING INDEX messages_by_time"),
            "{newest}"
        );
        assert!(!newest.contains("TEMP B-TREE FOR ORDER BY"), "{newest}");
        let window = plan_of(&store, "x", SearchPlan::NewestWindow);
        assert!(window.contains("messages_by_time"), "{window}");
        let scan = plan_of(&store, "x", SearchPlan::FullScan);
        assert!(scan.starts_with("SCAN m"), "{scan}");
        assert!(!scan.contains("messages_by_time"), "{scan}");
        // One conversation: its own index, newest first, no sort.
        let conversation = SearchScope {
            account_id: Some("acc".into()),
            peer_id: Some("p".into()),
        };
        let scoped = plan_in(&store, "开会 invoice x", SearchPlan::Scoped, &conversation);
        assert!(
            scoped.starts_with("SEARCH m USING INDEX messages_by_conversation"),
            "{scoped}"
        );
        assert!(!scoped.contains("TEMP B-TREE"), "{scoped}");
        // Conversation paging keeps its own index.
        let page: String = store
            .conn()
            .query_row(
                "EXPLAIN QUERY PLAN SELECT m.id FROM messages m
                 WHERE m.account_id = 'acc' AND m.peer_id = 'p'
                   AND (NULL IS NULL OR (m.create_time_ms, m.id) < (NULL, NULL))
                 ORDER BY m.create_time_ms DESC, m.id DESC LIMIT 50",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(page.contains("messages_by_conversation"), "{page}");
    }

    /// Characters chosen so random texts share pairs often: CJK of three scripts, case
    /// pairs, separators (ASCII, CJK and ideographic space) and FTS5/LIKE syntax.
    const ALPHABET: &[char] = &[
        '开', '会', '报', '告', '明', '天', '東', '京', 'ー', 'の', '안', '녕', 'a', 'A', 'b', 'N',
        'e', 'R', 'o', ' ', '\u{3000}', '，', '"', '*', ':', '-', '(', ')', '%', '_', '^', '+',
    ];

    fn text_strategy(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(ALPHABET), 0..max)
            .prop_map(|cs| cs.into_iter().collect())
    }

    fn term_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::collection::vec(proptest::sample::select(ALPHABET), 1..5)
                .prop_map(|cs| cs.into_iter().filter(|c| !c.is_whitespace()).collect()),
            1 => proptest::sample::select(&["NEAR", "OR", "AND", "NOT", "\"\"", "开会*", "a:b"][..])
                .prop_map(str::to_owned),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn search_is_a_case_insensitive_substring_filter(
            messages in proptest::collection::vec(text_strategy(14), 1..12),
            terms in proptest::collection::vec(term_strategy(), 0..3),
            picks in proptest::collection::vec(
                (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1..4usize, any::<bool>()),
                0..3,
            ),
        ) {
            let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
            let store = store_with(&refs);
            // Terms cut from the messages, so searches hit: a substring, or (skipping a
            // character) a pair that appears only across a separator or not at all.
            let mut terms = terms;
            for (message, start, len, skip) in picks {
                let chars: Vec<char> = messages[message.index(messages.len())].chars().collect();
                if chars.is_empty() {
                    continue;
                }
                let start = start.index(chars.len());
                let term: String = if skip && start + 2 < chars.len() {
                    [chars[start], chars[start + 2]].into_iter().collect()
                } else {
                    chars[start..(start + len).min(chars.len())].iter().collect()
                };
                terms.push(term);
            }
            let query = terms.join(" ");
            let stored: Vec<(i64, Option<String>)> = store
                .conn()
                .prepare("SELECT id, text FROM messages ORDER BY create_time_ms DESC, id DESC")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let wanted: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
            let expected: Vec<i64> = if wanted.is_empty() {
                Vec::new()
            } else {
                stored
                    .iter()
                    .filter(|(_, text)| {
                        text.as_deref().is_some_and(|t| {
                            let t = t.to_lowercase();
                            wanted.iter().all(|w| t.contains(w.as_str()))
                        })
                    })
                    .map(|(id, _)| *id)
                    .collect()
            };
            // A short page walks the messages newest first; a long one takes every hit.
            for limit in [1, 3, 100] {
                let found: Vec<i64> =
                    store.search(&query, limit).unwrap().iter().map(|m| m.id).collect();
                let wanted: Vec<i64> = expected.iter().copied().take(limit).collect();
                prop_assert_eq!(found, wanted, "query {:?} limit {} over {:?}", query, limit, stored);
            }
        }
    }
}
