//! The AI replies' tables: settings documents, per-peer overrides and takeover, per-scope
//! memory, and the reads the reply loop needs from the message log. API keys are never
//! here (they live in the secret store).

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Row};

use crate::{CoreError, Store};

/// A peer's own AI settings; every `None` means "the account's default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AiPeerRow {
    pub enabled: Option<bool>,
    pub persona: Option<String>,
    /// The owner replied by hand: the AI stays quiet for this peer until then (epoch ms).
    pub takeover_until_ms: Option<i64>,
}

/// One scope's memory: the owner's summary and where the last reset cut the history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AiMemoryRow {
    pub summary: String,
    /// Only messages with a larger `messages.id` are history.
    pub reset_after_id: i64,
}

/// Where a logged inbound message belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedInbound {
    pub id: i64,
    pub account_id: String,
    pub peer_id: String,
}

/// A logged message as the reply loop reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiMessageRow {
    pub id: i64,
    pub account_id: String,
    pub peer_id: String,
    /// `in` or `out`.
    pub direction: String,
    pub create_time_ms: i64,
    pub item_kind: String,
    pub text: Option<String>,
    pub quote_text: Option<String>,
    /// Set on every quoting message, also when the quote had no text to show.
    pub quote_kind: Option<String>,
    /// Relative to the data directory, once the media is saved.
    pub media_path: Option<String>,
    pub media_mime: Option<String>,
    /// `none`, `pending`, `ready` or `failed`.
    pub media_state: String,
    pub ai_generated: bool,
    pub delivery: String,
}

/// Which conversations a history read covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryFilter {
    /// One account's conversation with one peer.
    AccountPeer { account_id: String, peer_id: String },
    /// One peer, across accounts.
    Peer { peer_id: String },
    /// Every conversation.
    All,
}

const ROW_COLUMNS: &str = "id, account_id, peer_id, direction, create_time_ms, item_kind, \
    text, quote_text, media_path, media_mime, ai_generated, delivery, media_state, quote_kind";

fn message_row(row: &Row<'_>) -> rusqlite::Result<AiMessageRow> {
    Ok(AiMessageRow {
        id: row.get(0)?,
        account_id: row.get(1)?,
        peer_id: row.get(2)?,
        direction: row.get(3)?,
        create_time_ms: row.get(4)?,
        item_kind: row.get(5)?,
        text: row.get(6)?,
        quote_text: row.get(7)?,
        media_path: row.get(8)?,
        media_mime: row.get(9)?,
        ai_generated: row.get(10)?,
        delivery: row.get(11)?,
        media_state: row.get(12)?,
        quote_kind: row.get(13)?,
    })
}

impl Store {
    /// A settings document (JSON text) by key.
    pub fn ai_config(&self, key: &str) -> Result<Option<String>, CoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM ai_config WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_ai_config(&self, key: &str, json: &str) -> Result<(), CoreError> {
        self.conn().execute(
            "INSERT INTO ai_config (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, json],
        )?;
        Ok(())
    }

    /// An account's AI settings document, if any was saved.
    pub fn ai_account_settings(&self, account_id: &str) -> Result<Option<String>, CoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT settings FROM ai_accounts WHERE account_id = ?1")?
            .query_row([account_id], |r| r.get(0))
            .optional()?)
    }

    /// Saves an account's AI settings; false if there is no such account.
    pub fn set_ai_account_settings(&self, account_id: &str, json: &str) -> Result<bool, CoreError> {
        if self.account(account_id)?.is_none() {
            return Ok(false);
        }
        self.conn().execute(
            "INSERT INTO ai_accounts (account_id, settings) VALUES (?1, ?2)
             ON CONFLICT(account_id) DO UPDATE SET settings = excluded.settings",
            params![account_id, json],
        )?;
        Ok(true)
    }

    pub fn ai_peer(&self, account_id: &str, peer_id: &str) -> Result<AiPeerRow, CoreError> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT enabled, persona, takeover_until_ms FROM ai_peers
                 WHERE account_id = ?1 AND peer_id = ?2",
            )?
            .query_row(params![account_id, peer_id], |r| {
                Ok(AiPeerRow {
                    enabled: r.get(0)?,
                    persona: r.get(1)?,
                    takeover_until_ms: r.get(2)?,
                })
            })
            .optional()?
            .unwrap_or_default())
    }

    /// Writes a peer's overrides; false if there is no such account.
    pub fn set_ai_peer(
        &self,
        account_id: &str,
        peer_id: &str,
        row: &AiPeerRow,
    ) -> Result<bool, CoreError> {
        if self.account(account_id)?.is_none() {
            return Ok(false);
        }
        self.conn().execute(
            "INSERT INTO ai_peers (account_id, peer_id, enabled, persona, takeover_until_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(account_id, peer_id) DO UPDATE SET enabled = excluded.enabled,
                persona = excluded.persona, takeover_until_ms = excluded.takeover_until_ms",
            params![
                account_id,
                peer_id,
                row.enabled,
                row.persona,
                row.takeover_until_ms
            ],
        )?;
        Ok(true)
    }

    pub fn ai_memory(&self, scope_key: &str) -> Result<AiMemoryRow, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT summary, reset_after_id FROM ai_memory WHERE scope_key = ?1",
                [scope_key],
                |r| {
                    Ok(AiMemoryRow {
                        summary: r.get(0)?,
                        reset_after_id: r.get(1)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    pub fn set_ai_summary(
        &self,
        scope_key: &str,
        summary: &str,
        now_ms: i64,
    ) -> Result<(), CoreError> {
        self.conn().execute(
            "INSERT INTO ai_memory (scope_key, summary, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(scope_key) DO UPDATE SET summary = excluded.summary,
                updated_ms = excluded.updated_ms",
            params![scope_key, summary, now_ms],
        )?;
        Ok(())
    }

    /// Forgets a scope: its summary is cleared and every message logged so far stops
    /// being history (the log itself is kept).
    pub fn reset_ai_memory(&self, scope_key: &str, now_ms: i64) -> Result<(), CoreError> {
        self.conn().execute(
            "INSERT INTO ai_memory (scope_key, summary, reset_after_id, updated_ms)
             VALUES (?1, '', (SELECT COALESCE(MAX(id), 0) FROM messages), ?2)
             ON CONFLICT(scope_key) DO UPDATE SET summary = '',
                reset_after_id = excluded.reset_after_id, updated_ms = excluded.updated_ms",
            params![scope_key, now_ms],
        )?;
        Ok(())
    }

    /// One message, if it exists ([`Store::ai_messages`] for one id).
    pub fn ai_message(&self, message_row_id: i64) -> Result<Option<AiMessageRow>, CoreError> {
        Ok(self.ai_messages(&[message_row_id])?.remove(&message_row_id))
    }

    /// The messages behind `message_row_ids` that exist, by id, in one query (the reply
    /// loop reads a burst's messages with it).
    pub fn ai_messages(
        &self,
        message_row_ids: &[i64],
    ) -> Result<HashMap<i64, AiMessageRow>, CoreError> {
        if message_row_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = serde_json::to_string(message_row_ids).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM messages WHERE id IN (SELECT value FROM json_each(?1))"
        ))?;
        let rows = stmt.query_map([ids], |r| message_row(r).map(|row| (row.id, row)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest message's id (0 for an empty log).
    pub fn last_message_id(&self) -> Result<i64, CoreError> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
                r.get(0)
            })?)
    }

    /// Up to `limit` inbound messages with `id > after_id`, oldest first. The reply
    /// loop reads back with it what it missed while behind the engine's events.
    pub fn inbound_after(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<LoggedInbound>, CoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, account_id, peer_id FROM messages
             WHERE id > ?1 AND direction = 'in' ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![after_id, limit as i64], |r| {
                Ok(LoggedInbound {
                    id: r.get(0)?,
                    account_id: r.get(1)?,
                    peer_id: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Up to `limit` messages of `filter` with `after_id < id < before_id`, newest first.
    /// Failed sends are left out (the peer never saw them).
    pub fn ai_history(
        &self,
        filter: &HistoryFilter,
        after_id: i64,
        before_id: i64,
        limit: usize,
    ) -> Result<Vec<AiMessageRow>, CoreError> {
        let (account, peer) = match filter {
            HistoryFilter::AccountPeer {
                account_id,
                peer_id,
            } => (Some(account_id.as_str()), Some(peer_id.as_str())),
            HistoryFilter::Peer { peer_id } => (None, Some(peer_id.as_str())),
            HistoryFilter::All => (None, None),
        };
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM messages
             WHERE id > ?1 AND id < ?2 AND delivery != 'failed'
               AND (?3 IS NULL OR account_id = ?3) AND (?4 IS NULL OR peer_id = ?4)
             ORDER BY id DESC LIMIT ?5"
        ))?;
        let rows = stmt
            .query_map(
                params![after_id, before_id, account, peer, limit as i64],
                message_row,
            )?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AccountUpsert, OutboundDraft};

    fn store_with_account() -> Store {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_account(
                &AccountUpsert {
                    account_id: "acc".into(),
                    bot_id: "b".into(),
                    base_url: "http://x".into(),
                    alias: None,
                    user_id: None,
                    cdn_url: None,
                    route_tag: None,
                },
                1,
            )
            .unwrap();
        store
    }

    fn send(store: &Store, peer: &str, text: &str) -> i64 {
        store
            .enqueue_outbound(
                &OutboundDraft {
                    account_id: "acc".into(),
                    peer_id: peer.into(),
                    kind: "text".into(),
                    text: Some(text.into()),
                    payload: serde_json::json!({ "text": text }),
                    ai_generated: true,
                    due_ms: None,
                },
                5,
            )
            .unwrap()
            .message_row_id
            .unwrap()
    }

    #[test]
    fn reset_cuts_history_and_keeps_the_log() {
        let store = store_with_account();
        let first = send(&store, "p", "one");
        store.set_ai_summary("s", "likes tea", 1).unwrap();
        store.reset_ai_memory("s", 2).unwrap();
        let second = send(&store, "p", "two");
        let memory = store.ai_memory("s").unwrap();
        assert_eq!(memory.summary, "");
        assert_eq!(memory.reset_after_id, first);
        let filter = HistoryFilter::AccountPeer {
            account_id: "acc".into(),
            peer_id: "P".into(),
        };
        let rows = store
            .ai_history(&filter, memory.reset_after_id, i64::MAX, 10)
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [second]);
        assert!(store.ai_message(first).unwrap().unwrap().ai_generated);
        let both = store
            .ai_messages(&[second, first, first + second + 10])
            .unwrap();
        assert_eq!(both.len(), 2, "the missing id is left out");
        assert_eq!(both[&second].text.as_deref(), Some("two"));
        assert_eq!(both[&first].text.as_deref(), Some("one"));
        assert!(store.ai_messages(&[]).unwrap().is_empty());
    }

    #[test]
    fn peer_overrides_need_the_account_and_round_trip() {
        let store = store_with_account();
        let row = AiPeerRow {
            enabled: Some(false),
            persona: Some("terse".into()),
            takeover_until_ms: Some(9),
        };
        assert!(!store.set_ai_peer("nope", "p", &row).unwrap());
        assert!(store.set_ai_peer("acc", "p", &row).unwrap());
        assert_eq!(store.ai_peer("acc", "P").unwrap(), row);
        assert_eq!(store.ai_peer("acc", "q").unwrap(), AiPeerRow::default());
        assert!(!store.set_ai_account_settings("nope", "{}").unwrap());
        assert!(store.set_ai_account_settings("acc", "{\"a\":1}").unwrap());
        assert_eq!(
            store.ai_account_settings("acc").unwrap().as_deref(),
            Some("{\"a\":1}")
        );
    }
}
