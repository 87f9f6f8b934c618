//! Finding the outbox entry behind a logged outbound message, so a log row can be
//! retried or discarded.

use rusqlite::OptionalExtension;

use crate::{CoreError, Store};

impl Store {
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
}
