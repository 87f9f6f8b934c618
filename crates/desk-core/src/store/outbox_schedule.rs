//! Send later: outbox entries with a due time, listed, edited and cancelled while they
//! wait. The sender leaves an entry alone until its time (engine/sender.rs).

use rusqlite::{params, TransactionBehavior};

use super::outbox::{entry_from_row, outbox_entry, OUTBOX_COLUMNS};
use crate::store::{OutboxEntry, OutboxState};
use crate::{CoreError, Store};

/// A change to a scheduled entry: its text (a file's caption; blank removes it) and/or
/// its time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleEdit {
    pub text: Option<String>,
    pub due_ms: Option<i64>,
}

/// Why a scheduled entry could not be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditRefused {
    /// No such entry, or it was never scheduled.
    NotScheduled,
    /// It went out, failed, was cancelled, or its request has begun.
    NoLongerWaiting,
}

impl Store {
    /// Scheduled entries not yet sent (waiting for their time, or at their time for the
    /// reply window), soonest first; narrowed to an account and a peer when given.
    pub fn scheduled_outbox(
        &self,
        account_id: Option<&str>,
        peer_id: Option<&str>,
    ) -> Result<Vec<OutboxEntry>, CoreError> {
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox
             WHERE due_ms IS NOT NULL
               AND state IN ('queued', 'sending', 'waiting_for_window')
               AND (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR peer_id = ?2)
             ORDER BY due_ms, id"
        ))?;
        let rows = stmt.query_map(params![account_id, peer_id], entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Changes a scheduled entry's text or time while nothing of it has gone out (it is
    /// not being sent, no request of it was recorded). A new time puts a waiting entry
    /// back in the queue, and entries merged into its request go back on their own.
    pub fn edit_scheduled(
        &self,
        id: i64,
        edit: &ScheduleEdit,
        now_ms: i64,
    ) -> Result<Result<OutboxEntry, EditRefused>, CoreError> {
        let tx = rusqlite::Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let Some(entry) = outbox_entry(&tx, id)?.filter(|e| e.due_ms.is_some()) else {
            return Ok(Err(EditRefused::NotScheduled));
        };
        let begun: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox_pieces WHERE outbox_id = ?1)",
            [id],
            |r| r.get(0),
        )?;
        let waiting = matches!(
            entry.state,
            OutboxState::Queued | OutboxState::WaitingForWindow
        );
        if !waiting || begun || entry.merged_into.is_some() {
            return Ok(Err(EditRefused::NoLongerWaiting));
        }
        if let Some(text) = &edit.text {
            let mut payload = entry.payload.clone();
            let shown = if entry.kind == "text" {
                payload["text"] = text.clone().into();
                Some(text.clone())
            } else {
                let caption = Some(text.trim()).filter(|c| !c.is_empty());
                match (caption, payload.as_object_mut()) {
                    (Some(c), Some(map)) => {
                        map.insert("caption".into(), c.into());
                    }
                    (None, Some(map)) => {
                        map.remove("caption");
                    }
                    _ => {}
                }
                caption.map(str::to_owned)
            };
            tx.execute(
                "UPDATE outbox SET payload = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, payload.to_string(), now_ms],
            )?;
            tx.execute(
                "UPDATE messages SET text = ?2 WHERE id = ?1",
                params![entry.message_row_id, shown],
            )?;
        }
        if let Some(due) = edit.due_ms {
            tx.execute(
                "UPDATE outbox SET due_ms = ?2, state = 'queued', attempts = 0, last_error = NULL,
                    updated_ms = ?3
                 WHERE id = ?1",
                params![id, due, now_ms],
            )?;
            tx.execute(
                "UPDATE messages SET delivery = 'queued', error = NULL WHERE id = ?1",
                [entry.message_row_id],
            )?;
        }
        tx.execute(
            "UPDATE outbox SET merged_into = NULL WHERE merged_into = ?1",
            [id],
        )?;
        let edited = outbox_entry(&tx, id)?
            .ok_or(CoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))?;
        tx.commit()?;
        Ok(Ok(edited))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::accounts::tests::sample;
    use crate::store::OutboundDraft;

    /// A text from "acc" to "p", due at `due_ms` (at once: `None`).
    pub(crate) fn schedule(store: &Store, text: &str, due_ms: Option<i64>) -> OutboxEntry {
        let draft = OutboundDraft {
            account_id: "acc".into(),
            peer_id: "p".into(),
            kind: "text".into(),
            text: Some(text.into()),
            payload: json!({ "text": text }),
            ai_generated: false,
            due_ms,
        };
        store.enqueue_outbound(&draft, 1).unwrap()
    }

    #[test]
    fn scheduled_entries_are_listed_edited_and_refused_once_begun() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        let now = schedule(&store, "now", None);
        let late = schedule(&store, "late", Some(2_000));
        let soon = schedule(&store, "soon", Some(1_000));
        let listed: Vec<i64> = store
            .scheduled_outbox(Some("acc"), Some("P"))
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(listed, [soon.id, late.id]);
        assert_eq!(
            store
                .edit_scheduled(now.id, &ScheduleEdit::default(), 5)
                .unwrap(),
            Err(EditRefused::NotScheduled)
        );
        let edit = ScheduleEdit {
            text: Some("later still".into()),
            due_ms: Some(3_000),
        };
        let edited = store.edit_scheduled(soon.id, &edit, 5).unwrap().unwrap();
        assert_eq!(edited.due_ms, Some(3_000));
        assert_eq!(edited.payload, json!({ "text": "later still" }));
        let row = store
            .message(soon.message_row_id.unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(row.text.as_deref(), Some("later still"));

        store.begin_outbox_piece(late.id, 0, "c").unwrap();
        assert_eq!(
            store.edit_scheduled(late.id, &edit, 6).unwrap(),
            Err(EditRefused::NoLongerWaiting)
        );
        store
            .set_outbox_state(soon.id, OutboxState::Failed, Some("cancelled"), 7)
            .unwrap();
        assert_eq!(
            store.edit_scheduled(soon.id, &edit, 8).unwrap(),
            Err(EditRefused::NoLongerWaiting)
        );
        let listed: Vec<i64> = store
            .scheduled_outbox(None, None)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(listed, [late.id]);
    }

    #[test]
    fn an_entry_is_not_sent_before_its_time() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        let e = schedule(&store, "x", Some(1_000));
        assert!(!store
            .set_outbox_state(e.id, OutboxState::Sending, None, 999)
            .unwrap());
        assert!(store
            .set_outbox_state(e.id, OutboxState::Sending, None, 1_000)
            .unwrap());
    }
}
