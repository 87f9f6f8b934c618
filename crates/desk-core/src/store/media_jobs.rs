//! Inbound media download jobs: one per message whose media waits to be saved. Queued in
//! the inbound batch's transaction, removed in the same transaction that records the
//! result on the message, so a restart resumes exactly the unfinished ones.

use rusqlite::{params, OptionalExtension, Transaction};

use crate::store::ACCOUNT_GONE;
use crate::views::MediaFailure;
use crate::{CoreError, Store};

/// What a job needs to run. `raw_json` holds the CDN parameters and keys: never log it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaJob {
    pub message_row_id: i64,
    pub account_id: String,
    pub peer_id: String,
    pub create_time_ms: i64,
    /// `image`, `video`, `file` or `voice`.
    pub item_kind: String,
    /// Untrusted: sanitise before use.
    pub file_name: Option<String>,
    pub raw_json: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The account's CDN base, if it has one.
    pub cdn_url: Option<String>,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOutcome {
    /// Saved at `path` (relative to the data directory). `note` says why it is not in
    /// the usual form (voice kept in its codec).
    Ready {
        path: String,
        mime: String,
        note: Option<String>,
    },
    Failed {
        failure: MediaFailure,
        reason: String,
    },
}

/// The media state of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMedia {
    /// The account the message belongs to.
    pub account_id: String,
    /// `none`, `pending`, `ready` or `failed`.
    pub state: String,
    pub path: Option<String>,
    pub mime: Option<String>,
    /// Why it failed, or a note on how it was saved.
    pub error: Option<String>,
}

/// Queues the job for a just-inserted message (inside the batch's transaction).
pub(crate) fn queue(
    tx: &Transaction<'_>,
    message_row_id: i64,
    account_id: &str,
    now_ms: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO media_jobs (message_id, account_id, next_try_ms, created_ms)
         VALUES (?1, ?2, ?3, ?3)",
    )?
    .execute(params![message_row_id, account_id, now_ms])?;
    Ok(())
}

impl Store {
    /// Up to `limit` jobs due at `now_ms` that are not in `busy`, longest waiting first.
    pub fn due_media_jobs(
        &self,
        now_ms: i64,
        limit: usize,
        busy: &[i64],
    ) -> Result<Vec<i64>, CoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT message_id FROM media_jobs WHERE next_try_ms <= ?1
             ORDER BY next_try_ms, message_id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, (limit + busy.len()) as i64], |r| r.get(0))?;
        let ids: Vec<i64> = rows.collect::<Result<_, _>>()?;
        Ok(ids
            .into_iter()
            .filter(|id| !busy.contains(id))
            .take(limit)
            .collect())
    }

    /// When the next job that is not due yet at `now_ms` becomes due.
    pub fn next_media_job_ms(&self, now_ms: i64) -> Result<Option<i64>, CoreError> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_try_ms) FROM media_jobs WHERE next_try_ms > ?1",
            [now_ms],
            |r| r.get(0),
        )?)
    }

    pub fn media_job(&self, message_row_id: i64) -> Result<Option<MediaJob>, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT m.id, m.account_id, m.peer_id, m.create_time_ms, m.item_kind,
                        m.media_file_name, m.raw_json, j.attempts, a.cdn_url
                 FROM media_jobs j
                 JOIN messages m ON m.id = j.message_id
                 JOIN accounts a ON a.account_id = m.account_id
                 WHERE j.message_id = ?1",
                [message_row_id],
                |r| {
                    Ok(MediaJob {
                        message_row_id: r.get(0)?,
                        account_id: r.get(1)?,
                        peer_id: r.get(2)?,
                        create_time_ms: r.get(3)?,
                        item_kind: r.get(4)?,
                        file_name: r.get(5)?,
                        raw_json: r.get(6)?,
                        attempts: r.get(7)?,
                        cdn_url: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    /// Counts a failed attempt and puts the job off until `next_try_ms`. False if the
    /// job is gone.
    pub fn retry_media_job(
        &self,
        message_row_id: i64,
        next_try_ms: i64,
        error: &str,
    ) -> Result<bool, CoreError> {
        let changed = self.conn().execute(
            "UPDATE media_jobs SET attempts = attempts + 1, next_try_ms = ?2, last_error = ?3
             WHERE message_id = ?1",
            params![message_row_id, next_try_ms, error],
        )?;
        Ok(changed > 0)
    }

    /// Puts the job off until `next_try_ms` without counting an attempt: the failure
    /// was local (a full disk, no permission) and says nothing about the download.
    /// False if the job is gone.
    pub fn defer_media_job(
        &self,
        message_row_id: i64,
        next_try_ms: i64,
        error: &str,
    ) -> Result<bool, CoreError> {
        let changed = self.conn().execute(
            "UPDATE media_jobs SET next_try_ms = ?2, last_error = ?3 WHERE message_id = ?1",
            params![message_row_id, next_try_ms, error],
        )?;
        Ok(changed > 0)
    }

    /// Queues a failed inbound media download again, due at `now_ms` with its attempts
    /// reset, and marks the message pending. False if the message is not inbound media
    /// that failed (pending, ready, outbound, or no media).
    pub fn requeue_failed_media(
        &self,
        message_row_id: i64,
        now_ms: i64,
    ) -> Result<bool, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let changed = tx.execute(
            "UPDATE messages SET media_state = 'pending', media_failure = NULL, media_error = NULL
             WHERE id = ?1 AND direction = 'in' AND media_state = 'failed'",
            [message_row_id],
        )?;
        if changed == 0 {
            return Ok(false);
        }
        tx.execute(
            "INSERT OR REPLACE INTO media_jobs (message_id, account_id, next_try_ms, created_ms)
             SELECT id, account_id, ?2, ?2 FROM messages WHERE id = ?1",
            params![message_row_id, now_ms],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Why the job's last attempt failed, if it is still queued.
    pub fn media_job_error(&self, message_row_id: i64) -> Result<Option<String>, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT last_error FROM media_jobs WHERE message_id = ?1",
                [message_row_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Ends the job and records the outcome on the message, in one transaction. False
    /// if the job is gone (its account was removed meanwhile): nothing is recorded.
    pub fn finish_media_job(
        &self,
        message_row_id: i64,
        outcome: &MediaOutcome,
    ) -> Result<bool, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let removed = tx.execute(
            "DELETE FROM media_jobs WHERE message_id = ?1",
            [message_row_id],
        )?;
        if removed == 0 {
            return Ok(false);
        }
        match outcome {
            MediaOutcome::Ready { path, mime, note } => tx.execute(
                "UPDATE messages SET media_state = 'ready', media_path = ?2, media_mime = ?3,
                    media_error = ?4 WHERE id = ?1",
                params![message_row_id, path, mime, note],
            )?,
            MediaOutcome::Failed { failure, reason } => tx.execute(
                "UPDATE messages SET media_state = 'failed', media_failure = ?2, media_error = ?3
                 WHERE id = ?1",
                params![message_row_id, failure.as_str(), reason],
            )?,
        };
        tx.commit()?;
        Ok(true)
    }

    /// Drops the unfinished jobs of an account being removed, marking their messages
    /// failed with [`ACCOUNT_GONE`].
    pub fn cancel_media_jobs(&self, account_id: &str) -> Result<usize, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        tx.execute(
            "UPDATE messages SET media_state = 'failed', media_failure = ?2, media_error = ?3
             WHERE id IN (SELECT message_id FROM media_jobs WHERE account_id = ?1)",
            params![
                account_id,
                MediaFailure::AccountRemoved.as_str(),
                ACCOUNT_GONE
            ],
        )?;
        let n = tx.execute("DELETE FROM media_jobs WHERE account_id = ?1", [account_id])?;
        tx.commit()?;
        Ok(n)
    }

    /// The media state of a message, if there is such a message.
    pub fn message_media(&self, message_row_id: i64) -> Result<Option<MessageMedia>, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT media_state, media_path, media_mime, media_error, account_id
                 FROM messages WHERE id = ?1",
                [message_row_id],
                |r| {
                    Ok(MessageMedia {
                        state: r.get(0)?,
                        path: r.get(1)?,
                        mime: r.get(2)?,
                        error: r.get(3)?,
                        account_id: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use ilink::models::WeixinMessage;

    use super::*;
    use crate::store::accounts::tests::sample;

    fn file_message(id: u64) -> WeixinMessage {
        serde_json::from_value(serde_json::json!({
            "message_id": id, "from_user_id": "a", "create_time_ms": 5,
            "item_list": [{"type": 4, "file_item": {"file_name": "r.pdf",
                "media": {"encrypt_query_param": "q", "aes_key": "k"}}}]
        }))
        .unwrap()
    }

    #[test]
    fn jobs_are_queued_with_the_batch_retried_and_finished_once() {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        let text: WeixinMessage = serde_json::from_value(serde_json::json!({
            "message_id": 9, "from_user_id": "a",
            "item_list": [{"type": 1, "text_item": {"text": "no media"}}]
        }))
        .unwrap();
        let outcome = store
            .commit_inbound_batch("acc", None, &[file_message(1), text, file_message(2)], 100)
            .unwrap();
        let (one, two) = (outcome.new[0].message_row_id, outcome.new[2].message_row_id);
        assert_eq!(store.due_media_jobs(100, 10, &[]).unwrap(), [one, two]);
        assert_eq!(store.due_media_jobs(100, 10, &[one]).unwrap(), [two]);
        assert_eq!(
            store.due_media_jobs(99, 10, &[]).unwrap(),
            Vec::<i64>::new()
        );
        let job = store.media_job(one).unwrap().unwrap();
        assert_eq!(
            (
                job.item_kind.as_str(),
                job.file_name.as_deref(),
                job.attempts
            ),
            ("file", Some("r.pdf"), 0)
        );

        assert!(store.retry_media_job(one, 500, "network").unwrap());
        assert_eq!(store.media_job(one).unwrap().unwrap().attempts, 1);
        assert!(store.defer_media_job(one, 500, "disk full").unwrap());
        assert_eq!(
            store.media_job(one).unwrap().unwrap().attempts,
            1,
            "not counted"
        );
        assert_eq!(
            store.media_job_error(one).unwrap().as_deref(),
            Some("disk full")
        );
        assert_eq!(store.due_media_jobs(100, 10, &[]).unwrap(), [two]);
        assert_eq!(store.next_media_job_ms(100).unwrap(), Some(500));

        let ready = MediaOutcome::Ready {
            path: "media/acc/1970-01/r.pdf".into(),
            mime: "application/pdf".into(),
            note: None,
        };
        assert!(store.finish_media_job(one, &ready).unwrap());
        assert!(!store.finish_media_job(one, &ready).unwrap(), "only once");
        let media = store.message_media(one).unwrap().unwrap();
        assert_eq!(media.state, "ready");
        assert_eq!(media.path.as_deref(), Some("media/acc/1970-01/r.pdf"));

        assert_eq!(store.cancel_media_jobs("acc").unwrap(), 1);
        let media = store.message_media(two).unwrap().unwrap();
        assert_eq!(
            (media.state.as_str(), media.error.as_deref()),
            ("failed", Some("account removed"))
        );
        assert_eq!(store.next_media_job_ms(0).unwrap(), None);

        // Only failed inbound media can be queued again, and it starts afresh.
        assert!(!store.requeue_failed_media(one, 700).unwrap(), "ready");
        assert!(!store
            .requeue_failed_media(outcome.new[1].message_row_id, 700)
            .unwrap());
        assert!(store.requeue_failed_media(two, 700).unwrap());
        assert!(
            !store.requeue_failed_media(two, 700).unwrap(),
            "pending now"
        );
        let media = store.message_media(two).unwrap().unwrap();
        assert_eq!((media.state.as_str(), media.error), ("pending", None));
        assert_eq!(store.due_media_jobs(700, 10, &[]).unwrap(), [two]);
        assert_eq!(store.media_job(two).unwrap().unwrap().attempts, 0);
    }
}
