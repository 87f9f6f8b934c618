//! Merged sends: short texts to one peer that wait in the queue together go out as one
//! message. The entries behind the first are marked as carried by its request
//! (`outbox.merged_into`), so each keeps its own log row and shares that request's
//! state and ids; the merged text is rebuilt from the rows, the same after a restart.

use rusqlite::{params, Transaction, TransactionBehavior};

use super::outbox::move_group;
use crate::store::OutboxState;
use crate::{CoreError, Store};

/// An entry waiting behind (or at) the head of a peer's queue, as a merge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedText {
    pub id: i64,
    pub kind: String,
    /// The text of a text entry.
    pub text: Option<String>,
    pub ai_generated: bool,
    /// Never attempted (no attempt, no request recorded): queued, or held back
    /// before any request (no token yet, the allowance, a closed window).
    pub untouched: bool,
}

impl Store {
    /// Starts sending `leader` (as [`Store::set_outbox_state`] to `sending`), first
    /// merging into its request the entries `choose` takes from the start of the list it
    /// is given: `leader` itself, then the same peer's later unfinished entries that are
    /// due, oldest first; `choose` returns how many (counting `leader`) go together.
    /// Nothing is merged when `leader` is not untouched or already carries others (a run
    /// stopped before its request). One transaction, so no cancel lands between the
    /// merge and the start. `None`: it could not start (cancelled, finished or not
    /// due); else the ids merged into it.
    pub fn merge_and_start_sending(
        &self,
        leader: i64,
        now_ms: i64,
        choose: impl FnOnce(&[QueuedText]) -> usize,
    ) -> Result<Option<Vec<i64>>, CoreError> {
        let tx = rusqlite::Transaction::new_unchecked(self.conn(), TransactionBehavior::Immediate)?;
        let merged = merge_in(&tx, leader, now_ms, choose)?;
        if !move_group(&tx, leader, OutboxState::Sending, None, None, now_ms)? {
            // Rolled back: nothing merged into a message that does not go.
            return Ok(None);
        }
        tx.commit()?;
        Ok(Some(merged))
    }

    /// The texts `leader`'s request carries: its own, then those merged into it, oldest
    /// first.
    pub fn merged_texts(&self, leader: i64) -> Result<Vec<String>, CoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT json_extract(payload, '$.text') FROM outbox
             WHERE (id = ?1 OR merged_into = ?1) AND kind = 'text'
             ORDER BY id",
        )?;
        let rows = stmt.query_map([leader], |r| r.get::<_, Option<String>>(0))?;
        let texts: Vec<Option<String>> = rows.collect::<Result<_, _>>()?;
        Ok(texts.into_iter().flatten().collect())
    }
}

/// Marks the entries `choose` takes as carried by `leader`'s request (see
/// [`Store::merge_and_start_sending`]).
fn merge_in(
    tx: &Transaction<'_>,
    leader: i64,
    now_ms: i64,
    choose: impl FnOnce(&[QueuedText]) -> usize,
) -> rusqlite::Result<Vec<i64>> {
    let carries: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE merged_into = ?1)",
        [leader],
        |r| r.get(0),
    )?;
    if carries {
        return Ok(Vec::new());
    }
    let queue: Vec<QueuedText> = {
        let mut stmt = tx.prepare_cached(
            "SELECT o.id, o.kind,
                        CASE WHEN o.kind = 'text' THEN json_extract(o.payload, '$.text') END,
                        COALESCE(m.ai_generated, 0),
                        o.state IN ('queued', 'waiting_for_window') AND o.attempts = 0
                          AND NOT EXISTS (SELECT 1 FROM outbox_pieces p WHERE p.outbox_id = o.id)
                 FROM outbox l
                 JOIN outbox o ON o.account_id = l.account_id AND o.peer_id = l.peer_id
                              AND o.id >= l.id
                 LEFT JOIN messages m ON m.id = o.message_id
                 WHERE l.id = ?1 AND o.merged_into IS NULL
                   AND o.state IN ('queued', 'sending', 'waiting_for_window')
                   AND (o.due_ms IS NULL OR o.due_ms <= ?2)
                 ORDER BY o.id",
        )?;
        let rows = stmt.query_map(params![leader, now_ms], |r| {
            Ok(QueuedText {
                id: r.get(0)?,
                kind: r.get(1)?,
                text: r.get(2)?,
                ai_generated: r.get(3)?,
                untouched: r.get(4)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    if queue.first().is_none_or(|l| l.id != leader || !l.untouched) {
        return Ok(Vec::new());
    }
    let take = choose(&queue).min(queue.len());
    let followers: Vec<i64> = queue.iter().take(take).skip(1).map(|q| q.id).collect();
    for id in &followers {
        tx.execute(
            "UPDATE outbox SET merged_into = ?2 WHERE id = ?1",
            params![id, leader],
        )?;
    }
    Ok(followers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::accounts::tests::sample;
    use crate::store::OutboxState;

    fn queue(store: &Store, text: &str, due_ms: Option<i64>) -> i64 {
        crate::store::outbox_schedule::tests::schedule(store, text, due_ms).id
    }

    #[test]
    fn merged_entries_share_the_leaders_fate_and_leave_the_queue() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        let a = queue(&store, "one", None);
        let later = queue(&store, "later", Some(1_000));
        let b = queue(&store, "two", None);
        let c = queue(&store, "three", None);
        let mut seen = Vec::new();
        let merged = store
            .merge_and_start_sending(a, 10, |q| {
                seen = q.iter().map(|t| t.id).collect();
                2
            })
            .unwrap();
        // The one not yet due is skipped, not merged.
        assert_eq!(seen, [a, b, c]);
        assert_eq!(merged, Some(vec![b]));
        assert_eq!(store.merged_texts(a).unwrap(), ["one", "two"]);
        let left: Vec<(i64, OutboxState)> = store
            .unfinished_outbox("acc")
            .unwrap()
            .iter()
            .map(|e| (e.id, e.state))
            .collect();
        assert_eq!(
            left,
            [
                (a, OutboxState::Sending),
                (later, OutboxState::Queued),
                (c, OutboxState::Queued)
            ]
        );
        // Any member names the group.
        assert!(store
            .mark_outbox_delivered(a, "cid", Some("9"), 12)
            .unwrap());
        let group = store.outbox_group(b).unwrap();
        assert_eq!(group.iter().map(|e| e.id).collect::<Vec<_>>(), [a, b]);
        assert!(group.iter().all(|e| e.state == OutboxState::Delivered));
        let page = store.conversation_page("acc", "p", None, 10).unwrap();
        let delivered: Vec<_> = page
            .messages
            .iter()
            .filter(|m| m.delivery == "delivered")
            .map(|m| (m.text.clone().unwrap(), m.client_id.clone().unwrap()))
            .collect();
        assert_eq!(
            delivered,
            [
                ("two".to_owned(), "cid".to_owned()),
                ("one".into(), "cid".into())
            ]
        );
    }

    #[test]
    fn a_message_that_cannot_start_takes_nothing_with_it() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        let a = queue(&store, "one", None);
        let b = queue(&store, "two", None);
        store
            .set_outbox_state(a, OutboxState::Failed, Some("cancelled"), 5)
            .unwrap();
        assert_eq!(store.merge_and_start_sending(a, 10, |_| 2).unwrap(), None);
        let left = store.unfinished_outbox("acc").unwrap();
        assert_eq!((left[0].id, left[0].merged_into), (b, None));
        // The next one starts on its own.
        assert_eq!(
            store.merge_and_start_sending(b, 10, |_| 1).unwrap(),
            Some(vec![])
        );
    }
}
