//! How new messages reach the search indexes (`messages_fts`, `messages_cjk`). One at a
//! time, each message's INSERT indexes it through the triggers. A transaction that
//! writes many holds the triggers back ([`Store::indexing_once`]) and indexes them all
//! at its end: FTS5 writes its pending terms to disk at every statement savepoint, and
//! each message INSERT opens one (its triggers write to virtual tables), so messages
//! indexed one by one leave one tiny segment per message in each index, and the
//! merging of those costs several times the insert itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, Transaction};

use crate::{CoreError, Store};

/// The SQL function the insert triggers consult: true while a transaction of this
/// connection indexes its messages itself. Every connection that writes messages must
/// have it (see [`register`]).
pub const DEFERRED_FUNCTION: &str = "search_index_deferred";

/// Registers [`DEFERRED_FUNCTION`] on a connection, answering from `deferred`.
pub fn register(conn: &Connection, deferred: Arc<AtomicBool>) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        DEFERRED_FUNCTION,
        0,
        FunctionFlags::SQLITE_UTF8,
        move |_| Ok(deferred.load(Ordering::Relaxed)),
    )
}

/// Indexes every message after row `after`, as the insert triggers would have: the
/// trigram index gets the text, the bigram index the CJK pairs (if any).
fn index_messages_after(tx: &Transaction<'_>, after: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO messages_fts(rowid, text)
         SELECT id, text FROM messages WHERE id > ?1 AND text IS NOT NULL",
    )?
    .execute([after])?;
    tx.prepare_cached(
        "INSERT INTO messages_cjk(rowid, bigrams)
         SELECT id, b FROM (SELECT id, cjk_bigrams(text) AS b FROM messages
                            WHERE id > ?1 AND text IS NOT NULL)
         WHERE b IS NOT NULL",
    )?
    .execute([after])?;
    Ok(())
}

/// Clears the flag however the write ends, so no later insert goes unindexed.
struct Held<'a>(&'a AtomicBool);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

impl Store {
    /// Runs `write` inside `tx` with the insert triggers held back, then indexes every
    /// message it added in one statement per index. Message rows get ids above the
    /// largest one (SQLite's rowid rule), so "after the largest id before" is exactly
    /// the rows `write` added; rows it rolled back to a savepoint are simply gone.
    pub(crate) fn indexing_once<T>(
        &self,
        tx: &Transaction<'_>,
        write: impl FnOnce() -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let before: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?;
        let written = {
            self.search_deferred.store(true, Ordering::Relaxed);
            let _held = Held(&self.search_deferred);
            write()?
        };
        index_messages_after(tx, before)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use ilink::models::InboundEntry;

    use crate::inbound::ReceivedEntry;
    use crate::store::accounts::tests::sample;
    use crate::store::conversations::tests::text;
    use crate::store::InboundBatch;
    use crate::Store;

    fn entries(texts: &[(u64, &str)]) -> Vec<InboundEntry> {
        texts
            .iter()
            .map(|(id, body)| {
                let message = text("p@im.wechat", *id, *id as i64, body);
                InboundEntry::Message {
                    raw: serde_json::to_string(&message).unwrap(),
                    message: Box::new(message),
                }
            })
            .collect()
    }

    fn found(store: &Store, query: &str) -> Vec<String> {
        let mut texts: Vec<String> = store
            .search(query, 10)
            .unwrap()
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        texts.sort();
        texts
    }

    #[test]
    fn a_group_commit_indexes_its_messages_once_and_later_inserts_index_themselves() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        let [one, ghost] = [
            entries(&[(1, "明天开会 meeting"), (2, "quarterly report")]),
            entries(&[(3, "明天 never stored")]),
        ]
        .map(|entries| {
            entries
                .iter()
                .map(ReceivedEntry::from_entry)
                .collect::<Vec<_>>()
        });
        let batch = |account_id, entries| InboundBatch {
            account_id,
            cursor: None,
            entries,
            now_ms: 5,
        };
        let outcomes = store
            .commit_inbound_group(&[batch("acc", &one), batch("ghost", &ghost)])
            .unwrap();
        assert!(outcomes[0].is_ok() && outcomes[1].is_err());
        assert_eq!(found(&store, "开会"), ["明天开会 meeting"]);
        assert_eq!(found(&store, "明天"), ["明天开会 meeting"]);
        assert_eq!(found(&store, "report"), ["quarterly report"]);
        // After the group, a message written on its own is indexed by the triggers.
        store
            .commit_inbound_entries("acc", None, &entries(&[(4, "明天见")]), 6)
            .unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO messages (account_id, peer_id, direction, create_time_ms,
                    item_kind, text, delivery)
                 VALUES ('acc', 'p@im.wechat', 'out', 7, 'text', 'quarterly plans', 'queued')",
                [],
            )
            .unwrap();
        assert_eq!(found(&store, "明天"), ["明天开会 meeting", "明天见"]);
        assert_eq!(
            found(&store, "quarterly"),
            ["quarterly plans", "quarterly report"]
        );
        for index in ["messages_fts", "messages_cjk"] {
            store
                .conn()
                .execute(
                    &format!("INSERT INTO {index}({index}, rank) VALUES ('integrity-check', 1)"),
                    [],
                )
                .unwrap();
        }
        // Each row is in each index once.
        let trigram_rows: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM messages_fts_docsize", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(trigram_rows, 4);
    }
}
