//! Finding the outbox entry behind a logged outbound message, so a log row can be
//! retried or discarded.

use std::collections::HashMap;

use rusqlite::OptionalExtension;

use crate::{CoreError, Store};

impl Store {
    /// How many outbox entries are in each state (states with none are left out).
    pub fn outbox_depth(&self) -> Result<Vec<(String, i64)>, CoreError> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest outbox entry that wrote log row `message_row_id`, if any.
    pub fn outbox_id_for_message(&self, message_row_id: i64) -> Result<Option<i64>, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id FROM outbox WHERE message_id = ?1 ORDER BY id DESC LIMIT 1",
                [message_row_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The newest outbox entry behind each of `message_row_ids` that has one, with its
    /// due time (send later), in one query.
    pub fn outbox_ids_for_messages(
        &self,
        message_row_ids: &[i64],
    ) -> Result<HashMap<i64, (i64, Option<i64>)>, CoreError> {
        if message_row_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = serde_json::to_string(message_row_ids).unwrap_or_else(|_| "[]".into());
        let mut stmt = self.conn().prepare_cached(
            "SELECT message_id, MAX(id), due_ms FROM outbox
             WHERE message_id IN (SELECT value FROM json_each(?1))
             GROUP BY message_id",
        )?;
        let rows = stmt.query_map([ids], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
