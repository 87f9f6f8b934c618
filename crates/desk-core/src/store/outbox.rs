//! The durable outbox: an outbound message is a `messages` row plus an `outbox` row,
//! written together before any network call (docs/architecture.md, invariant 2), and it is marked
//! delivered only when the server said `ret == 0`.

use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};

use crate::views::{SendFailure, WaitReason};
use crate::{CoreError, Store};

/// Where an outbound message stands. The same words appear in `messages.delivery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Queued,
    Sending,
    /// No usable context token: waits for the peer to write again (docs/architecture.md, invariant 3).
    WaitingForWindow,
    Delivered,
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::Sending => "sending",
            OutboxState::WaitingForWindow => "waiting_for_window",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<OutboxState> {
        [
            OutboxState::Queued,
            OutboxState::Sending,
            OutboxState::WaitingForWindow,
            OutboxState::Delivered,
            OutboxState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Where a send settles short of delivery, and why: failed for good, or held until
/// the peer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxOutcome {
    Failed(SendFailure),
    Waits(WaitReason),
}

impl OutboxOutcome {
    pub fn state(self) -> OutboxState {
        match self {
            OutboxOutcome::Failed(_) => OutboxState::Failed,
            OutboxOutcome::Waits(_) => OutboxState::WaitingForWindow,
        }
    }
}

/// A message to send, as the UI or the AI hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundDraft {
    pub account_id: String,
    /// The peer's id, case as on the wire.
    pub peer_id: String,
    /// `text`, `image`, `video` or `file`.
    pub kind: String,
    /// Shown in the log (the text, or a caption).
    pub text: Option<String>,
    /// Everything the sender needs (text, local file path …), as JSON.
    pub payload: serde_json::Value,
    pub ai_generated: bool,
    /// Send later: not before this time (epoch ms); `None` sends at once.
    pub due_ms: Option<i64>,
}

/// The local copy of a file being sent, as the log row records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundFile {
    /// Sanitised name.
    pub file_name: String,
    pub size: u64,
    /// Relative to the data directory.
    pub relative_path: String,
    pub mime: String,
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub account_id: String,
    pub peer_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: OutboxState,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The `messages` row shown in the conversation.
    pub message_row_id: Option<i64>,
    /// Send later: not before this time (epoch ms).
    pub due_ms: Option<i64>,
    /// The entry whose request carried this one's text too (a merged send).
    pub merged_into: Option<i64>,
    /// Why it waits, while it waits for the peer to write.
    pub wait_reason: Option<WaitReason>,
}

impl OutboxEntry {
    /// Whether it waits for its time.
    pub fn is_due(&self, now_ms: i64) -> bool {
        self.due_ms.is_none_or(|due| due <= now_ms)
    }
}

pub(crate) const OUTBOX_COLUMNS: &str = "id, account_id, peer_id, kind, payload, state, attempts, \
    last_error, created_ms, updated_ms, message_id, due_ms, merged_into, wait_reason";

pub(crate) fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxEntry> {
    let payload: String = row.get(4)?;
    let state: String = row.get(5)?;
    let bad = |column: usize, what: String| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.into())
    };
    Ok(OutboxEntry {
        id: row.get(0)?,
        account_id: row.get(1)?,
        peer_id: row.get(2)?,
        kind: row.get(3)?,
        payload: serde_json::from_str(&payload).map_err(|e| bad(4, e.to_string()))?,
        state: OutboxState::parse(&state).ok_or_else(|| bad(5, format!("state {state:?}")))?,
        attempts: row.get(6)?,
        last_error: row.get(7)?,
        created_ms: row.get(8)?,
        updated_ms: row.get(9)?,
        message_row_id: row.get(10)?,
        due_ms: row.get(11)?,
        merged_into: row.get(12)?,
        wait_reason: row
            .get::<_, Option<String>>(13)?
            .as_deref()
            .map(WaitReason::from_stored),
    })
}

impl Store {
    /// Persists an outbound message (log row and outbox row, one transaction) and returns
    /// the outbox entry. Nothing has been sent yet.
    pub fn enqueue_outbound(
        &self,
        draft: &OutboundDraft,
        now_ms: i64,
    ) -> Result<OutboxEntry, CoreError> {
        self.enqueue_outbound_with(draft, None, now_ms)
    }

    /// [`Store::enqueue_outbound`] for a file already copied into the data directory:
    /// the log row names it as its media (saved, so the conversation can show it).
    pub fn enqueue_outbound_file(
        &self,
        draft: &OutboundDraft,
        file: &OutboundFile,
        now_ms: i64,
    ) -> Result<OutboxEntry, CoreError> {
        self.enqueue_outbound_with(draft, Some(file), now_ms)
    }

    fn enqueue_outbound_with(
        &self,
        draft: &OutboundDraft,
        file: Option<&OutboundFile>,
        now_ms: i64,
    ) -> Result<OutboxEntry, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        tx.execute(
            "INSERT INTO peers (account_id, peer_id, first_seen_ms, last_seen_ms)
             VALUES (?1, ?2, ?3, ?3) ON CONFLICT(account_id, peer_id) DO NOTHING",
            params![draft.account_id, draft.peer_id, now_ms],
        )?;
        tx.execute(
            "INSERT INTO messages (account_id, peer_id, direction, create_time_ms, item_kind,
                                   text, delivery, ai_generated)
             VALUES (?1, ?2, 'out', ?3, ?4, ?5, 'queued', ?6)",
            params![
                draft.account_id,
                draft.peer_id,
                now_ms,
                draft.kind,
                draft.text,
                draft.ai_generated
            ],
        )?;
        let message_row_id = tx.last_insert_rowid();
        if let Some(file) = file {
            tx.execute(
                "UPDATE messages SET media_file_name = ?2, media_size = ?3, media_path = ?4,
                    media_mime = ?5, media_state = 'ready'
                 WHERE id = ?1",
                params![
                    message_row_id,
                    file.file_name,
                    i64::try_from(file.size).unwrap_or(i64::MAX),
                    file.relative_path,
                    file.mime
                ],
            )?;
        }
        tx.execute(
            "INSERT INTO conversations (account_id, peer_id, last_activity_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(account_id, peer_id) DO UPDATE SET
                last_activity_ms = MAX(conversations.last_activity_ms, excluded.last_activity_ms)",
            params![draft.account_id, draft.peer_id, now_ms],
        )?;
        tx.execute(
            "INSERT INTO outbox (account_id, peer_id, kind, payload, created_ms, updated_ms,
                                 message_id, due_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
            params![
                draft.account_id,
                draft.peer_id,
                draft.kind,
                draft.payload.to_string(),
                now_ms,
                message_row_id,
                draft.due_ms
            ],
        )?;
        let id = tx.last_insert_rowid();
        let entry = outbox_entry(&tx, id)?;
        tx.commit()?;
        entry.ok_or(CoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
    }

    pub fn outbox_entry(&self, id: i64) -> Result<Option<OutboxEntry>, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        Ok(outbox_entry(&tx, id)?)
    }

    /// Entries not yet delivered or failed, oldest first, so each peer's messages go out
    /// in the order they were written. Entries merged into another one's request are
    /// left out: they go with it.
    pub fn unfinished_outbox(&self, account_id: &str) -> Result<Vec<OutboxEntry>, CoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox
             WHERE account_id = ?1 AND state IN ('queued', 'sending', 'waiting_for_window')
               AND merged_into IS NULL
             ORDER BY id"
        ))?;
        let rows = stmt.query_map([account_id], entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves an unfinished entry (and its log row) to `state`, together with the entries
    /// merged with it (one request: one fate; any of them names the group). `Sending`
    /// counts an attempt and waits for the entry's time; `error` is kept as the last
    /// error (and shown on the message) when given. Returns false, changing nothing, if
    /// the entry is gone, already delivered or failed, or not due: a cancel is never
    /// undone by a sender still holding the entry.
    pub fn set_outbox_state(
        &self,
        id: i64,
        state: OutboxState,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let leader = group_leader(&tx, id)?;
        let moved = move_group(&tx, leader, state, error, None, now_ms)?;
        tx.commit()?;
        Ok(moved)
    }

    /// Fails an entry (and those merged into its request) for good, or holds it until
    /// the peer writes: why, for the window's sentence, and the details. Returns false
    /// if it finished meanwhile.
    pub fn settle_outbox(
        &self,
        id: i64,
        outcome: OutboxOutcome,
        detail: &str,
        now_ms: i64,
    ) -> Result<bool, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let leader = group_leader(&tx, id)?;
        let settled = move_group(
            &tx,
            leader,
            outcome.state(),
            Some(detail),
            Some(outcome),
            now_ms,
        )?;
        tx.commit()?;
        Ok(settled)
    }

    /// An entry and the entries merged into its request (or, for a merged entry, the
    /// one it went with and the others), oldest first.
    pub fn outbox_group(&self, id: i64) -> Result<Vec<OutboxEntry>, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let leader = group_leader(&tx, id)?;
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1 OR merged_into = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([leader], entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Puts a failed or waiting entry back in the queue for a fresh set of attempts (the
    /// user pressed retry). Returns false if the entry is not failed or waiting.
    pub fn requeue_outbox(&self, id: i64, now_ms: i64) -> Result<bool, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let leader = group_leader(&tx, id)?;
        let changed = tx.execute(
            "UPDATE outbox SET state = 'queued', attempts = 0, last_error = NULL,
                wait_reason = NULL, updated_ms = ?2
             WHERE (id = ?1 OR merged_into = ?1) AND state IN ('failed', 'waiting_for_window')",
            params![leader, now_ms],
        )?;
        if changed > 0 {
            tx.execute(
                "UPDATE messages SET delivery = 'queued', error = NULL, failure = NULL
                 WHERE id IN (SELECT message_id FROM outbox WHERE id = ?1 OR merged_into = ?1)",
                [leader],
            )?;
        }
        tx.commit()?;
        Ok(changed > 0)
    }

    /// Starts an entry's attempt count over (its reply window reopened).
    pub fn reset_outbox_attempts(&self, id: i64) -> Result<(), CoreError> {
        self.conn()
            .execute("UPDATE outbox SET attempts = 0 WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Records a send the server accepted (`ret == 0`): the entry (and those merged into
    /// its request) is delivered and the log rows get the ids the quote store needs
    /// (docs/protocol.md §5.6).
    pub fn mark_outbox_delivered(
        &self,
        id: i64,
        client_id: &str,
        server_message_id: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let changed = tx.execute(
            "UPDATE outbox SET state = 'delivered', updated_ms = ?2
             WHERE id = ?1 OR merged_into = ?1",
            params![id, now_ms],
        )?;
        tx.execute(
            "UPDATE messages SET delivery = 'delivered', error = NULL, client_id = ?2,
                server_message_id = ?3
             WHERE id IN (SELECT message_id FROM outbox WHERE id = ?1 OR merged_into = ?1)",
            params![id, client_id, server_message_id],
        )?;
        tx.commit()?;
        Ok(changed > 0)
    }
}

/// [`Store::set_outbox_state`] for the group `leader` heads, inside a transaction.
pub(crate) fn move_group(
    tx: &Transaction<'_>,
    leader: i64,
    state: OutboxState,
    error: Option<&str>,
    outcome: Option<OutboxOutcome>,
    now_ms: i64,
) -> rusqlite::Result<bool> {
    let (failure, wait) = match outcome {
        None => (None, None),
        Some(OutboxOutcome::Failed(failure)) => (Some(failure.as_str()), None),
        Some(OutboxOutcome::Waits(wait)) => (None, Some(wait.as_str())),
    };
    let changed = tx.execute(
        "UPDATE outbox SET state = ?2, updated_ms = ?3,
            attempts = attempts + (?2 = 'sending'),
            last_error = COALESCE(?4, last_error), wait_reason = ?5
         WHERE (id = ?1 OR merged_into = ?1) AND state NOT IN ('delivered', 'failed')
           AND (?2 != 'sending' OR due_ms IS NULL OR due_ms <= ?3)",
        params![leader, state.as_str(), now_ms, error, wait],
    )?;
    if changed > 0 {
        tx.execute(
            "UPDATE messages SET delivery = ?2, error = ?3, failure = ?4
             WHERE id IN (SELECT message_id FROM outbox WHERE id = ?1 OR merged_into = ?1)",
            params![leader, state.as_str(), error, failure],
        )?;
    }
    Ok(changed > 0)
}

/// The entry whose request `id` goes in: itself, or the one it was merged into.
fn group_leader(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<i64> {
    Ok(tx
        .query_row(
            "SELECT COALESCE(merged_into, id) FROM outbox WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(id))
}

pub(crate) fn outbox_entry(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<Option<OutboxEntry>> {
    tx.query_row(
        &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?1"),
        [id],
        entry_from_row,
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::accounts::tests::sample;

    fn draft(peer: &str, text: &str) -> OutboundDraft {
        OutboundDraft {
            account_id: "acc".into(),
            peer_id: peer.into(),
            kind: "text".into(),
            text: Some(text.into()),
            payload: json!({"text": text}),
            ai_generated: false,
            due_ms: None,
        }
    }

    fn store() -> Store {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        store
    }

    #[test]
    fn enqueued_messages_are_persisted_and_shown_as_queued() {
        let store = store();
        let entry = store
            .enqueue_outbound(&draft("Peer@im.wechat", "hi"), 10)
            .unwrap();
        assert_eq!(entry.state, OutboxState::Queued);
        assert_eq!((entry.attempts, entry.created_ms), (0, 10));
        assert_eq!(entry.payload, json!({"text": "hi"}));
        let page = store
            .conversation_page("acc", "peer@im.wechat", None, 5)
            .unwrap();
        let shown = &page.messages[0];
        assert_eq!(Some(shown.id), entry.message_row_id);
        assert_eq!(
            (shown.direction.as_str(), shown.delivery.as_str()),
            ("out", "queued")
        );
        assert_eq!(store.unfinished_outbox("acc").unwrap(), [entry]);
    }

    #[test]
    fn state_changes_reach_the_log_and_only_delivery_finishes() {
        let store = store();
        let first = store.enqueue_outbound(&draft("p", "one"), 1).unwrap();
        let second = store.enqueue_outbound(&draft("p", "two"), 2).unwrap();

        store
            .set_outbox_state(first.id, OutboxState::Sending, None, 3)
            .unwrap();
        store
            .set_outbox_state(first.id, OutboxState::Queued, Some("ret -2"), 4)
            .unwrap();
        store
            .set_outbox_state(first.id, OutboxState::Sending, None, 5)
            .unwrap();
        let entry = store.outbox_entry(first.id).unwrap().unwrap();
        assert_eq!((entry.attempts, entry.state), (2, OutboxState::Sending));
        assert_eq!(entry.last_error.as_deref(), Some("ret -2"));

        assert!(store
            .mark_outbox_delivered(first.id, "c:1", Some("7495426660285223688"), 6)
            .unwrap());
        store
            .set_outbox_state(
                second.id,
                OutboxState::WaitingForWindow,
                Some("no context token"),
                6,
            )
            .unwrap();

        let unfinished: Vec<_> = store
            .unfinished_outbox("acc")
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.state))
            .collect();
        assert_eq!(unfinished, [(second.id, OutboxState::WaitingForWindow)]);

        let page = store.conversation_page("acc", "p", None, 5).unwrap();
        let [two, one] = &page.messages[..] else {
            panic!("{page:?}")
        };
        assert_eq!(one.delivery, "delivered");
        assert_eq!(
            one.server_message_id.as_deref(),
            Some("7495426660285223688")
        );
        assert_eq!(one.client_id.as_deref(), Some("c:1"));
        assert_eq!(one.error, None);
        assert_eq!(two.delivery, "waiting_for_window");
        assert_eq!(two.error.as_deref(), Some("no context token"));

        assert!(!store
            .set_outbox_state(999, OutboxState::Failed, None, 7)
            .unwrap());
        // Finished entries stay finished: a late state change is refused.
        assert!(!store
            .set_outbox_state(first.id, OutboxState::WaitingForWindow, Some("late"), 8)
            .unwrap());
        assert!(!store
            .settle_outbox(
                first.id,
                OutboxOutcome::Failed(SendFailure::Cancelled),
                "cancelled",
                8
            )
            .unwrap());
        assert!(store
            .settle_outbox(
                second.id,
                OutboxOutcome::Failed(SendFailure::Cancelled),
                "cancelled",
                9
            )
            .unwrap());
        assert!(!store
            .set_outbox_state(second.id, OutboxState::WaitingForWindow, None, 10)
            .unwrap());
        let page = store.conversation_page("acc", "p", None, 5).unwrap();
        assert_eq!(page.messages[0].delivery, "failed");
        assert_eq!(page.messages[0].error.as_deref(), Some("cancelled"));
        assert_eq!(page.messages[0].failure.as_deref(), Some("cancelled"));
        assert_eq!(
            page.messages[1].failure, None,
            "delivered before the cancel"
        );
        assert_eq!(page.messages[1].delivery, "delivered");
    }

    #[test]
    fn only_failed_or_waiting_entries_are_requeued_with_fresh_attempts() {
        let store = store();
        let entry = store.enqueue_outbound(&draft("p", "x"), 1).unwrap();
        assert!(
            !store.requeue_outbox(entry.id, 2).unwrap(),
            "queued already"
        );
        store
            .set_outbox_state(entry.id, OutboxState::Sending, None, 3)
            .unwrap();
        store
            .settle_outbox(
                entry.id,
                OutboxOutcome::Failed(SendFailure::GaveUp),
                "HTTP 503",
                4,
            )
            .unwrap();
        let failed = store.conversation_page("acc", "p", None, 5).unwrap();
        assert_eq!(failed.messages[0].failure.as_deref(), Some("gave_up"));
        assert!(store.requeue_outbox(entry.id, 5).unwrap());
        let again = store.outbox_entry(entry.id).unwrap().unwrap();
        assert_eq!(
            (again.state, again.attempts, again.last_error),
            (OutboxState::Queued, 0, None)
        );
        let page = store.conversation_page("acc", "p", None, 5).unwrap();
        assert_eq!(
            (
                page.messages[0].delivery.as_str(),
                page.messages[0].error.as_deref(),
                page.messages[0].failure.as_deref()
            ),
            ("queued", None, None)
        );
        store
            .mark_outbox_delivered(entry.id, "c:1", None, 6)
            .unwrap();
        assert!(!store.requeue_outbox(entry.id, 7).unwrap(), "delivered");
        assert!(!store.requeue_outbox(999, 7).unwrap());
    }

    #[test]
    fn a_held_entry_keeps_why_it_waits_until_it_moves_on() {
        let store = store();
        let entry = store.enqueue_outbound(&draft("p", "x"), 1).unwrap();
        let wait = OutboxOutcome::Waits(WaitReason::AllowanceUsed);
        assert!(store
            .settle_outbox(entry.id, wait, "10 messages went out", 2)
            .unwrap());
        let held = store.outbox_entry(entry.id).unwrap().unwrap();
        assert_eq!(
            (held.state, held.wait_reason, held.last_error.as_deref()),
            (
                OutboxState::WaitingForWindow,
                Some(WaitReason::AllowanceUsed),
                Some("10 messages went out")
            )
        );
        assert!(store.requeue_outbox(entry.id, 3).unwrap());
        let again = store.outbox_entry(entry.id).unwrap().unwrap();
        assert_eq!(
            (again.state, again.wait_reason),
            (OutboxState::Queued, None)
        );
    }

    #[test]
    fn a_retired_account_fails_its_unfinished_sends_as_removed() {
        let store = store();
        let entry = store.enqueue_outbound(&draft("p", "x"), 1).unwrap();
        assert_eq!(
            store
                .retire_account("acc", crate::store::STATUS_REMOVED, 2)
                .unwrap(),
            Some(vec![entry.id])
        );
        let page = store.conversation_page("acc", "p", None, 5).unwrap();
        let message = &page.messages[0];
        assert_eq!(message.delivery, "failed");
        assert_eq!(message.failure.as_deref(), Some("account_removed"));
        assert_eq!(message.error.as_deref(), Some(crate::store::ACCOUNT_GONE));
    }

    #[test]
    fn an_outbox_row_needs_a_known_account() {
        let store = store();
        let mut d = draft("p", "x");
        d.account_id = "ghost".into();
        assert!(store.enqueue_outbound(&d, 1).is_err());
        assert!(store.unfinished_outbox("ghost").unwrap().is_empty());
    }
}
