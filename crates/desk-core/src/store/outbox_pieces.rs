//! Per-request progress of an outbound message. One outbox row can take several
//! `sendmessage` calls (the pieces of a split text; a file's caption and media item), and
//! a file needs a CDN upload first. Each step is recorded as it happens, so a restart
//! resumes where the last run stopped instead of repeating what the peer already has.

use rusqlite::{params, OptionalExtension};

use crate::{CoreError, Store};

/// One `sendmessage` request of an outbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxPiece {
    /// 0-based position among the entry's requests.
    pub piece: usize,
    /// The `client_id` this request went out with (kept for a repeat).
    pub client_id: String,
    /// The server answered `ret == 0`.
    pub sent: bool,
    pub server_message_id: Option<String>,
}

impl Store {
    /// The entry's recorded pieces, in order.
    pub fn outbox_pieces(&self, outbox_id: i64) -> Result<Vec<OutboxPiece>, CoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT piece, client_id, sent, server_message_id FROM outbox_pieces
             WHERE outbox_id = ?1 ORDER BY piece",
        )?;
        let rows = stmt.query_map([outbox_id], |r| {
            Ok(OutboxPiece {
                piece: usize::try_from(r.get::<_, i64>(0)?).unwrap_or_default(),
                client_id: r.get(1)?,
                sent: r.get(2)?,
                server_message_id: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that `piece` is about to go out with `client_id`, before the request
    /// (so a crash during it is repeated with the same id). Returns the client id to
    /// use: the one already recorded for this piece, if any.
    pub fn begin_outbox_piece(
        &self,
        outbox_id: i64,
        piece: usize,
        client_id: &str,
    ) -> Result<String, CoreError> {
        let piece = i64::try_from(piece).unwrap_or(i64::MAX);
        self.conn().execute(
            "INSERT INTO outbox_pieces (outbox_id, piece, client_id) VALUES (?1, ?2, ?3)
             ON CONFLICT(outbox_id, piece) DO NOTHING",
            params![outbox_id, piece, client_id],
        )?;
        Ok(self.conn().query_row(
            "SELECT client_id FROM outbox_pieces WHERE outbox_id = ?1 AND piece = ?2",
            params![outbox_id, piece],
            |r| r.get(0),
        )?)
    }

    /// Records that the server accepted `piece` (`ret == 0`) sent under `token`, and
    /// counts it against that token's replies, in one transaction.
    pub fn finish_outbox_piece(
        &self,
        outbox_id: i64,
        piece: usize,
        server_message_id: Option<&str>,
        token: &str,
    ) -> Result<(), CoreError> {
        let piece = i64::try_from(piece).unwrap_or(i64::MAX);
        let tx = self.conn().unchecked_transaction()?;
        tx.execute(
            "UPDATE outbox_pieces SET sent = 1, server_message_id = ?3
             WHERE outbox_id = ?1 AND piece = ?2",
            params![outbox_id, piece, server_message_id],
        )?;
        tx.execute(
            "UPDATE context_tokens SET replies = replies + 1
             WHERE (account_id, peer_id) = (SELECT account_id, peer_id FROM outbox WHERE id = ?1)
               AND token = ?2",
            params![outbox_id, token],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Keeps a finished CDN upload of the entry's file (JSON; it holds the media key).
    pub fn set_outbox_upload(
        &self,
        outbox_id: i64,
        upload: &serde_json::Value,
    ) -> Result<(), CoreError> {
        self.conn().execute(
            "UPDATE outbox SET upload = ?2 WHERE id = ?1",
            params![outbox_id, upload.to_string()],
        )?;
        Ok(())
    }

    /// The entry's finished upload, if it has one.
    pub fn outbox_upload(&self, outbox_id: i64) -> Result<Option<serde_json::Value>, CoreError> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT upload FROM outbox WHERE id = ?1",
                [outbox_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AccountUpsert, OutboundDraft};

    fn store_with_entry() -> (Store, i64) {
        let store = Store::open_in_memory().unwrap();
        store
            .upsert_account(
                &AccountUpsert {
                    account_id: "acc".into(),
                    bot_id: "acc@im.bot".into(),
                    base_url: "http://127.0.0.1:1/".into(),
                    alias: None,
                    user_id: None,
                    cdn_url: None,
                    route_tag: None,
                },
                1,
            )
            .unwrap();
        let entry = store
            .enqueue_outbound(
                &OutboundDraft {
                    account_id: "acc".into(),
                    peer_id: "p".into(),
                    kind: "text".into(),
                    text: Some("t".into()),
                    payload: serde_json::json!({"text": "t"}),
                    ai_generated: false,
                    due_ms: None,
                },
                1,
            )
            .unwrap();
        (store, entry.id)
    }

    #[test]
    fn a_begun_piece_keeps_its_first_client_id() {
        let (store, id) = store_with_entry();
        assert_eq!(store.begin_outbox_piece(id, 0, "c0").unwrap(), "c0");
        store.finish_outbox_piece(id, 0, Some("9"), "t").unwrap();
        assert_eq!(store.begin_outbox_piece(id, 1, "c1").unwrap(), "c1");
        // A repeat after a crash gets the recorded id, not the fresh one offered.
        assert_eq!(store.begin_outbox_piece(id, 1, "other").unwrap(), "c1");
        let pieces = store.outbox_pieces(id).unwrap();
        assert_eq!(pieces.len(), 2);
        assert!(pieces[0].sent && !pieces[1].sent);
        assert_eq!(pieces[0].server_message_id.as_deref(), Some("9"));
        assert_eq!(pieces[1].client_id, "c1");
    }

    #[test]
    fn an_upload_is_kept_as_json() {
        let (store, id) = store_with_entry();
        assert_eq!(store.outbox_upload(id).unwrap(), None);
        let upload = serde_json::json!({"param": "x", "rawsize": 3});
        store.set_outbox_upload(id, &upload).unwrap();
        assert_eq!(store.outbox_upload(id).unwrap(), Some(upload));
    }
}
