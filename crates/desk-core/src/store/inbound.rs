//! The inbound commit: one transaction per getupdates batch holding the new messages,
//! their dedupe keys, peers, conversations, context tokens and the new cursor
//! (docs/architecture.md, invariant 1). A crash before commit redelivers the whole batch; dedupe
//! then stores each message once.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};

use ilink::models::{InboundEntry, WeixinMessage};

use crate::inbound::{InboundRecord, ReceivedEntry, UndecodableRecord};
use crate::secrets::Secret;
use crate::{CoreError, Store};

/// A message the batch added to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInbound {
    /// Position in the batch passed in.
    pub batch_index: usize,
    /// `messages.id`.
    pub message_row_id: i64,
    pub peer_id: String,
    pub dedupe_key: String,
    /// Stored as a message this version cannot decode (kind `undecodable`).
    pub undecodable: bool,
}

/// What a batch commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundCommit {
    pub new: Vec<NewInbound>,
    /// Messages already seen (redeliveries), skipped.
    pub duplicates: usize,
    /// Messages without a sender, which no conversation can hold; skipped (kept in
    /// `unroutable_inbound` when they were also undecodable).
    pub unroutable: usize,
    /// New messages that could not be decoded, stored with their text (in `new` when
    /// they name a sender) and counted on the account.
    pub undecodable: usize,
    /// Media downloads queued for the new messages.
    pub media_queued: usize,
}

/// One account's getupdates batch, for [`Store::commit_inbound_group`].
#[derive(Debug, Clone, Copy)]
pub struct InboundBatch<'a> {
    pub account_id: &'a str,
    /// The response's `get_updates_buf`; `None` or empty keeps the stored one.
    pub cursor: Option<&'a Secret>,
    pub entries: &'a [ReceivedEntry],
    pub now_ms: i64,
}

impl Store {
    /// Stores a batch of messages built here (not received): each one's raw text is the
    /// model serialised. See [`Store::commit_inbound_entries`].
    pub fn commit_inbound_batch(
        &self,
        account_id: &str,
        cursor: Option<&Secret>,
        messages: &[WeixinMessage],
        now_ms: i64,
    ) -> Result<InboundCommit, CoreError> {
        let entries: Vec<InboundEntry> = messages
            .iter()
            .map(|message| InboundEntry::Message {
                message: Box::new(message.clone()),
                raw: serde_json::to_string(message).unwrap_or_default(),
            })
            .collect();
        self.commit_inbound_entries(account_id, cursor, &entries, now_ms)
    }

    /// Stores one getupdates batch atomically. `cursor` is the response's
    /// `get_updates_buf`; `None` or empty keeps the stored one. Times default
    /// to `now_ms` when the wire leaves them out. Each message keeps the exact text it
    /// arrived as; one that could not be decoded is stored as such, with its text, and
    /// counted on the account, and the cursor moves on past it like any other.
    pub fn commit_inbound_entries(
        &self,
        account_id: &str,
        cursor: Option<&Secret>,
        entries: &[InboundEntry],
        now_ms: i64,
    ) -> Result<InboundCommit, CoreError> {
        let entries: Vec<ReceivedEntry> = entries.iter().map(ReceivedEntry::from_entry).collect();
        let batch = InboundBatch {
            account_id,
            cursor,
            entries: &entries,
            now_ms,
        };
        self.in_one_transaction(|tx| commit_batch(tx, &batch))
    }

    /// Stores several accounts' getupdates batches in one transaction (group commit),
    /// each with its own cursor, so a crash keeps all of them or none. A batch that
    /// fails (an unknown account) is rolled back alone and gets its error; the others
    /// commit. Fails as a whole only when the transaction itself cannot commit.
    pub fn commit_inbound_group(
        &self,
        batches: &[InboundBatch<'_>],
    ) -> Result<Vec<Result<InboundCommit, CoreError>>, CoreError> {
        // First without savepoints, giving up at the first batch that fails: a savepoint
        // per batch makes SQLite copy every page the batch touches to its statement
        // journal (a temporary file past 64 KiB), which was three quarters of what a
        // burst wrote. Only a failed group is stored again with each batch under its own
        // savepoint, so that the failing batch alone is undone.
        let plain = self.in_one_transaction(|tx| {
            batches
                .iter()
                .map(|batch| commit_batch(tx, batch))
                .collect::<Result<Vec<_>, _>>()
        });
        if let Ok(outcomes) = plain {
            return Ok(outcomes.into_iter().map(Ok).collect());
        }
        self.in_one_transaction(|tx| {
            let mut outcomes = Vec::with_capacity(batches.len());
            for batch in batches {
                tx.execute_batch("SAVEPOINT inbound_batch")?;
                let outcome = commit_batch(tx, batch);
                if outcome.is_err() {
                    tx.execute_batch("ROLLBACK TO inbound_batch")?;
                }
                tx.execute_batch("RELEASE inbound_batch")?;
                outcomes.push(outcome);
            }
            Ok(outcomes)
        })
    }

    /// Runs `write` in one transaction, indexing the messages it adds for search once
    /// at its end, and commits; an error rolls everything back.
    fn in_one_transaction<T>(
        &self,
        write: impl FnOnce(&Transaction<'_>) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let tx = self.conn().unchecked_transaction()?;
        let written = self.indexing_once(&tx, || write(&tx))?;
        tx.commit()?;
        Ok(written)
    }

    /// How many received messages of the account could not be decoded (kept raw).
    pub fn undecodable_count(&self, account_id: &str) -> Result<i64, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT undecodable_count FROM accounts WHERE account_id = ?1",
                [account_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// The JSON text a received message arrived as (for "copy raw" and reprocessing).
    pub fn message_raw_json(&self, message_row_id: i64) -> Result<Option<String>, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT raw_json FROM messages WHERE id = ?1",
                [message_row_id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Undecodable messages that named no sender, oldest first: `(raw JSON, reason)`.
    pub fn unroutable_inbound(
        &self,
        account_id: &str,
    ) -> Result<Vec<(String, Option<String>)>, CoreError> {
        let mut statement = self.conn().prepare(
            "SELECT raw_json, error FROM unroutable_inbound WHERE account_id = ?1 ORDER BY id",
        )?;
        let rows = statement
            .query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The stored long-poll cursor, if any. It embeds the bot token: never log it.
    pub fn cursor(&self, account_id: &str) -> Result<Option<Secret>, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT get_updates_buf FROM cursors WHERE account_id = ?1",
                [account_id],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(Secret::new))
    }

    /// The latest context token for a peer (matched case-insensitively, §5.5) and the time
    /// of the message that brought it.
    /// How many messages went out under the peer's latest token (0 without one).
    pub fn replies_under_token(&self, account_id: &str, peer_id: &str) -> Result<i64, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT replies FROM context_tokens WHERE account_id = ?1 AND peer_id = ?2",
                [account_id, peer_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    pub fn context_token(
        &self,
        account_id: &str,
        peer_id: &str,
    ) -> Result<Option<(String, i64)>, CoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT token, last_seen_ms FROM context_tokens
                 WHERE account_id = ?1 AND peer_id = ?2",
                [account_id, peer_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

/// One batch's writes inside `tx` (see [`Store::commit_inbound_entries`]). In three
/// steps: each message's dedupe key is claimed; each peer with new messages is filed
/// once; the new messages are stored in order, then each peer's conversation and
/// context token are updated once for all of its messages. The rows end as one write
/// per message would leave them, with three statements per peer rather than per message.
fn commit_batch(
    tx: &Transaction<'_>,
    batch: &InboundBatch<'_>,
) -> Result<InboundCommit, CoreError> {
    let InboundBatch {
        account_id,
        cursor,
        entries,
        now_ms,
    } = *batch;
    if !account_exists(tx, account_id)? {
        return Err(unknown_account(account_id));
    }
    let mut outcome = InboundCommit::default();
    let mut peers = PeerChanges::default();
    let mut fresh = Vec::with_capacity(entries.len());
    for (batch_index, entry) in entries.iter().enumerate() {
        let Some(message) = claim(tx, account_id, entry, now_ms, &mut outcome)? else {
            continue;
        };
        peers.note(&message);
        fresh.push((batch_index, message));
    }
    for (peer_id, change) in &peers.peers {
        touch_peer(tx, account_id, peer_id, change.first_ms, change.last_ms)?;
    }
    for (
        batch_index,
        Fresh {
            entry,
            peer_id,
            time_ms,
        },
    ) in fresh
    {
        let (message_row_id, dedupe_key, undecodable) = match entry {
            ReceivedEntry::Decoded(record) => {
                let quote = resolve_quote(tx, account_id, peer_id, record)?;
                let row_id = insert_message(tx, account_id, peer_id, record, &quote, time_ms)?;
                if record.media.is_some() {
                    super::media_jobs::queue(tx, row_id, account_id, now_ms)?;
                    outcome.media_queued += 1;
                }
                (row_id, &record.dedupe_key, false)
            }
            ReceivedEntry::Undecodable(record) => {
                let row_id = insert_undecodable(tx, account_id, peer_id, record, time_ms)?;
                (row_id, &record.dedupe_key, true)
            }
        };
        outcome.new.push(NewInbound {
            batch_index,
            message_row_id,
            peer_id: peer_id.to_owned(),
            dedupe_key: dedupe_key.clone(),
            undecodable,
        });
    }
    for (peer_id, change) in &peers.peers {
        bump_conversation(tx, account_id, peer_id, change.last_ms, change.messages)?;
        if let Some(latest) = &change.token {
            store_context_token(tx, account_id, latest)?;
        }
    }
    if let Some(cursor) = cursor.filter(|c| !c.expose().is_empty()) {
        tx.prepare_cached(
            "INSERT INTO cursors (account_id, get_updates_buf, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(account_id) DO UPDATE SET
                get_updates_buf = excluded.get_updates_buf,
                updated_ms = excluded.updated_ms",
        )?
        .execute(params![account_id, cursor.expose(), now_ms])?;
    }
    Ok(outcome)
}

/// A message of the batch that is new to the log, with its sender and time.
struct Fresh<'a> {
    entry: &'a ReceivedEntry,
    peer_id: &'a str,
    time_ms: i64,
}

/// Claims `entry`'s dedupe key: the message if it is new and names a sender.
/// Redeliveries and messages without a sender are counted in `outcome` (an undecodable
/// one without a sender is kept in `unroutable_inbound`).
fn claim<'a>(
    tx: &Transaction<'_>,
    account_id: &str,
    entry: &'a ReceivedEntry,
    now_ms: i64,
    outcome: &mut InboundCommit,
) -> rusqlite::Result<Option<Fresh<'a>>> {
    let (peer_id, time_ms) = match entry {
        ReceivedEntry::Decoded(record) => {
            let Some(peer_id) = record.peer_id.as_deref() else {
                tracing::warn!(account_id, "inbound message without a sender skipped");
                outcome.unroutable += 1;
                return Ok(None);
            };
            if !claim_dedupe_key(tx, account_id, &record.dedupe_key, now_ms)? {
                outcome.duplicates += 1;
                return Ok(None);
            }
            (peer_id, record.create_time_ms)
        }
        ReceivedEntry::Undecodable(record) => {
            let Some(peer_id) = claim_undecodable(tx, account_id, record, now_ms, outcome)? else {
                return Ok(None);
            };
            (peer_id, record.create_time_ms)
        }
    };
    Ok(Some(Fresh {
        entry,
        peer_id,
        time_ms: time_ms.unwrap_or(now_ms),
    }))
}

/// What a batch's new messages change for one peer, written once for all of them.
struct PeerChange {
    first_ms: i64,
    last_ms: i64,
    messages: i64,
    /// The token of the latest message (the last of those at the latest time), which
    /// is where one write per message would leave it.
    token: Option<LatestToken>,
}

struct LatestToken {
    /// The sender as the first message with a token spelled it (a new row keeps it).
    peer_id: String,
    token: String,
    time_ms: i64,
    /// Another token came at the same time: one write per message would have reset the
    /// reply count even if the last one matches the stored token.
    mixed: bool,
}

impl LatestToken {
    fn new(peer_id: &str, token: &str, time_ms: i64) -> LatestToken {
        LatestToken {
            peer_id: peer_id.to_owned(),
            token: token.to_owned(),
            time_ms,
            mixed: false,
        }
    }
}

/// Per peer, in the order the batch first names them; peers are told apart without
/// regard to ASCII case, as the tables' NOCASE keys do.
#[derive(Default)]
struct PeerChanges {
    peers: Vec<(String, PeerChange)>,
    by_folded_id: HashMap<String, usize>,
}

impl PeerChanges {
    fn note(&mut self, message: &Fresh) {
        let Fresh {
            entry,
            peer_id,
            time_ms,
        } = *message;
        let token = entry.context_token();
        let next = self.peers.len();
        let index = *self
            .by_folded_id
            .entry(peer_id.to_ascii_lowercase())
            .or_insert(next);
        if index == next {
            let change = PeerChange {
                first_ms: time_ms,
                last_ms: time_ms,
                messages: 1,
                token: token.map(|token| LatestToken::new(peer_id, token, time_ms)),
            };
            self.peers.push((peer_id.to_owned(), change));
            return;
        }
        let change = &mut self.peers[index].1;
        change.first_ms = change.first_ms.min(time_ms);
        change.last_ms = change.last_ms.max(time_ms);
        change.messages += 1;
        match (&mut change.token, token) {
            (Some(latest), Some(token)) if time_ms >= latest.time_ms => {
                latest.mixed = time_ms == latest.time_ms && (latest.mixed || token != latest.token);
                if token != latest.token {
                    latest.token = token.to_owned();
                }
                latest.time_ms = time_ms;
            }
            (latest @ None, Some(token)) => {
                *latest = Some(LatestToken::new(peer_id, token, time_ms))
            }
            _ => {}
        }
    }
}

/// A foreign-key failure naming the account, raised before any write so that even an
/// empty batch for an unknown account is refused.
fn unknown_account(account_id: &str) -> CoreError {
    CoreError::Sqlite(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
        Some(format!("no account {account_id:?}")),
    ))
}

fn account_exists(tx: &Transaction<'_>, account_id: &str) -> rusqlite::Result<bool> {
    // Cached like the statements below: it runs once per batch.
    tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = ?1)")?
        .query_row([account_id], |r| r.get(0))
}

// Statements are cached: a batch runs each of them once per message or per peer.

/// Records the key; false if it was already there.
fn claim_dedupe_key(
    tx: &Transaction<'_>,
    account_id: &str,
    key: &str,
    now_ms: i64,
) -> rusqlite::Result<bool> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO dedupe_keys (account_id, key, seen_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(account_id, key) DO NOTHING",
        )?
        .execute(params![account_id, key, now_ms])?;
    Ok(inserted == 1)
}

fn touch_peer(
    tx: &Transaction<'_>,
    account_id: &str,
    peer_id: &str,
    first_ms: i64,
    last_ms: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO peers (account_id, peer_id, first_seen_ms, last_seen_ms)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(account_id, peer_id) DO UPDATE SET
            first_seen_ms = MIN(peers.first_seen_ms, excluded.first_seen_ms),
            last_seen_ms  = MAX(peers.last_seen_ms, excluded.last_seen_ms)",
    )?
    .execute(params![account_id, peer_id, first_ms, last_ms])?;
    Ok(())
}

/// A quote as stored: the quoted row when the log has it, and the text to show.
struct ResolvedQuote {
    message_id: Option<i64>,
    text: Option<String>,
    /// The quoted item's kind: the wire's, or the found row's when the wire named none
    /// this version knows.
    kind: Option<String>,
}

/// How far apart the quoted item's time and a logged message's may be for a quote
/// without an id to resolve to it by time (clocks differ a little).
const QUOTE_TIME_TOLERANCE_MS: i64 = 3_000;

/// §5.6 item 3: looks the quote up among the conversation's stored messages (either
/// direction; outbound rows carry the server's message id once delivered), by its id,
/// else by the quoted item's time, within [`QUOTE_TIME_TOLERANCE_MS`]. An inbound row
/// carries the server's own time; a bot's message is stamped by the server while its
/// send is in flight, so it is the delivered send answered at or soonest after that
/// time (sends to one peer go one at a time), and only failing that the nearest one
/// before. Embedded quote text wins; otherwise a hit gives the stored body, or the part
/// `partial_text` selects when it resolves. A miss keeps what the quote itself said.
fn resolve_quote(
    tx: &Transaction<'_>,
    account_id: &str,
    peer_id: &str,
    r: &InboundRecord,
) -> rusqlite::Result<ResolvedQuote> {
    let by_id = match r.quote_server_id.as_deref() {
        Some(quote_id) => tx
            .prepare_cached(
                "SELECT id, text, item_kind FROM messages
                 WHERE account_id = ?1 AND server_message_id = ?2 AND peer_id = ?3
                 ORDER BY id LIMIT 1",
            )?
            .query_row(params![account_id, quote_id, peer_id], quoted_row)
            .optional()?,
        None => None,
    };
    let hit = match (by_id, r.quote_time_ms) {
        (Some(hit), _) => Some(hit),
        (None, Some(time_ms)) => tx
            .prepare_cached(
                "SELECT m.id, m.text, m.item_kind,
                        CASE m.direction WHEN 'out' THEN o.updated_ms
                             ELSE m.create_time_ms END AS at_ms
                 FROM messages m LEFT JOIN outbox o ON o.message_id = m.id
                 WHERE m.account_id = ?1 AND m.peer_id = ?2
                   AND m.create_time_ms <= ?3 + ?4
                   AND (m.direction = 'in' OR o.state = 'delivered')
                   AND at_ms BETWEEN ?3 - ?4 AND ?3 + ?4
                 ORDER BY at_ms < ?3, abs(at_ms - ?3), m.id LIMIT 1",
            )?
            .query_row(
                params![account_id, peer_id, time_ms, QUOTE_TIME_TOLERANCE_MS],
                quoted_row,
            )
            .optional()?,
        (None, None) => None,
    };
    let wire_kind = r.quote_kind.map(str::to_owned);
    let Some((message_id, body, row_kind)) = hit else {
        return Ok(ResolvedQuote {
            message_id: None,
            text: r.quote_text.clone(),
            kind: wire_kind,
        });
    };
    let text = r.quote_text.clone().or_else(|| {
        let body = body.filter(|b| !b.is_empty())?;
        let part = r
            .quote_partial
            .as_ref()
            .and_then(|p| ilink::quote::resolve_partial_quote(&body, p))
            .map(str::to_owned);
        Some(part.unwrap_or(body))
    });
    let kind = match r.quote_kind {
        None | Some("none" | "unknown") => Some(row_kind),
        Some(kind) => Some(kind.to_owned()),
    };
    Ok(ResolvedQuote {
        message_id: Some(message_id),
        text,
        kind,
    })
}

fn quoted_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Option<String>, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

/// Claims an undecodable message's dedupe key and counts it on the account: its
/// sender, to file it in their conversation (kind `undecodable`, no text, the reason in
/// `error`), when it names one; else it is kept in `unroutable_inbound` here.
fn claim_undecodable<'a>(
    tx: &Transaction<'_>,
    account_id: &str,
    record: &'a UndecodableRecord,
    now_ms: i64,
    outcome: &mut InboundCommit,
) -> rusqlite::Result<Option<&'a str>> {
    tracing::warn!(account_id, error = %record.error, "inbound message kept undecoded");
    if !claim_dedupe_key(tx, account_id, &record.dedupe_key, now_ms)? {
        outcome.duplicates += 1;
        return Ok(None);
    }
    outcome.undecodable += 1;
    tx.prepare_cached(
        "UPDATE accounts SET undecodable_count = undecodable_count + 1 WHERE account_id = ?1",
    )?
    .execute([account_id])?;
    let Some(peer_id) = record.peer_id.as_deref() else {
        outcome.unroutable += 1;
        tx.prepare_cached(
            "INSERT INTO unroutable_inbound (account_id, raw_json, error, received_ms)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![account_id, record.raw_json, record.error, now_ms])?;
        return Ok(None);
    };
    Ok(Some(peer_id))
}

fn insert_undecodable(
    tx: &Transaction<'_>,
    account_id: &str,
    peer_id: &str,
    record: &UndecodableRecord,
    time_ms: i64,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO messages (account_id, peer_id, direction, server_message_id,
            create_time_ms, item_kind, delivery, error, raw_json)
         VALUES (?1, ?2, 'in', ?3, ?4, 'undecodable', 'received', ?5, ?6)",
    )?
    .execute(params![
        account_id,
        peer_id,
        record.server_message_id,
        time_ms,
        record.error,
        record.raw_json,
    ])?;
    Ok(tx.last_insert_rowid())
}

fn insert_message(
    tx: &Transaction<'_>,
    account_id: &str,
    peer_id: &str,
    r: &InboundRecord,
    quote: &ResolvedQuote,
    time_ms: i64,
) -> rusqlite::Result<i64> {
    let media = r.media.as_ref();
    tx.prepare_cached(
        "INSERT INTO messages (account_id, peer_id, direction, server_message_id, client_id,
            seq, create_time_ms, item_kind, text, media_file_name, media_size, media_md5,
            media_cdn_param, media_aes_key, media_full_url, media_state, quote_server_id,
            quote_text, delivery, raw_json, quote_message_id, quote_kind, quote_time_ms)
         VALUES (?1, ?2, 'in', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
            ?17, 'received', ?18, ?19, ?20, ?21)",
    )?
    .execute(params![
        account_id,
        peer_id,
        r.server_message_id,
        r.client_id,
        r.seq,
        time_ms,
        r.item_kind,
        r.text,
        media.and_then(|m| m.file_name.as_deref()),
        media.and_then(|m| m.size),
        media.and_then(|m| m.md5.as_deref()),
        media.and_then(|m| m.cdn_param.as_deref()),
        media.and_then(|m| m.aes_key.as_deref()),
        media.and_then(|m| m.full_url.as_deref()),
        if media.is_some() { "pending" } else { "none" },
        r.quote_server_id,
        quote.text,
        r.raw_json,
        quote.message_id,
        quote.kind,
        r.quote_time_ms,
    ])?;
    Ok(tx.last_insert_rowid())
}

/// `messages` new messages up to `last_ms` in the conversation.
fn bump_conversation(
    tx: &Transaction<'_>,
    account_id: &str,
    peer_id: &str,
    last_ms: i64,
    messages: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO conversations (account_id, peer_id, last_activity_ms, unread_count)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(account_id, peer_id) DO UPDATE SET
            last_activity_ms = MAX(conversations.last_activity_ms, excluded.last_activity_ms),
            unread_count = conversations.unread_count + excluded.unread_count",
    )?
    .execute(params![account_id, peer_id, last_ms, messages])?;
    Ok(())
}

/// Overwrites the peer's token unless the stored one came with a later message. The
/// reply count restarts unless the token and its time are the stored ones (and the
/// batch brought no other token at that time).
fn store_context_token(
    tx: &Transaction<'_>,
    account_id: &str,
    latest: &LatestToken,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO context_tokens (account_id, peer_id, token, last_seen_ms)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(account_id, peer_id) DO UPDATE SET
            token = excluded.token, last_seen_ms = excluded.last_seen_ms,
            replies = CASE WHEN NOT ?5 AND excluded.token = context_tokens.token
                            AND excluded.last_seen_ms = context_tokens.last_seen_ms
                       THEN context_tokens.replies ELSE 0 END
         WHERE excluded.last_seen_ms >= context_tokens.last_seen_ms",
    )?
    .execute(params![
        account_id,
        latest.peer_id,
        latest.token,
        latest.time_ms,
        latest.mixed
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::store::accounts::tests::sample;

    fn message(value: serde_json::Value) -> WeixinMessage {
        serde_json::from_value(value).unwrap()
    }

    fn text(peer: &str, id: u64, time: i64, body: &str, token: &str) -> WeixinMessage {
        message(json!({
            "message_id": id, "from_user_id": peer, "create_time_ms": time,
            "context_token": token,
            "item_list": [{"type": 1, "text_item": {"text": body}}]
        }))
    }

    fn store() -> Store {
        let store = Store::open_in_memory().unwrap();
        store.upsert_account(&sample("acc"), 0).unwrap();
        store
    }

    fn count(store: &Store, table: &str) -> i64 {
        store
            .conn()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn entries(messages: &[WeixinMessage]) -> Vec<InboundEntry> {
        messages
            .iter()
            .map(|m| InboundEntry::Message {
                message: Box::new(m.clone()),
                raw: serde_json::to_string(m).unwrap(),
            })
            .collect()
    }

    #[test]
    fn a_group_commits_each_accounts_batch_and_cursor_and_a_failing_batch_alone() {
        let store = store();
        store.upsert_account(&sample("acc2"), 0).unwrap();
        let (one, two) = (
            entries(&[text("p@im.wechat", 1, 10, "to acc", "t1")]),
            entries(&[
                text("q@im.wechat", 2, 11, "to acc2", "t2"),
                text("q@im.wechat", 3, 12, "again", "t3"),
            ]),
        );
        let ghost = entries(&[text("r@im.wechat", 4, 13, "nobody", "t4")]);
        let (c1, c2, c3) = (
            Secret::new("cursor-1".to_owned()),
            Secret::new("cursor-2".to_owned()),
            Secret::new("cursor-3".to_owned()),
        );
        let [one, two, ghost] = [one, two, ghost].map(|entries| {
            entries
                .iter()
                .map(ReceivedEntry::from_entry)
                .collect::<Vec<_>>()
        });
        let batch = |account_id, cursor, entries| InboundBatch {
            account_id,
            cursor: Some(cursor),
            entries,
            now_ms: 20,
        };
        let outcomes = store
            .commit_inbound_group(&[
                batch("acc", &c1, &one),
                batch("ghost", &c3, &ghost),
                batch("acc2", &c2, &two),
            ])
            .unwrap();
        assert_eq!(outcomes[0].as_ref().unwrap().new.len(), 1);
        let err = outcomes[1].as_ref().unwrap_err();
        assert!(err.to_string().contains("no account \"ghost\""), "{err}");
        let second = outcomes[2].as_ref().unwrap();
        assert_eq!(
            second.new.iter().map(|n| n.batch_index).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(count(&store, "messages"), 3);
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "cursor-1");
        assert_eq!(store.cursor("acc2").unwrap().unwrap().expose(), "cursor-2");
        assert!(store.cursor("ghost").unwrap().is_none());
        // Redelivered together: stored once, cursors still move.
        let c4 = Secret::new("cursor-4".to_owned());
        let again = store
            .commit_inbound_group(&[batch("acc", &c4, &one), batch("acc2", &c2, &two)])
            .unwrap();
        assert!(again.iter().all(|o| o.as_ref().unwrap().new.is_empty()));
        assert_eq!(count(&store, "messages"), 3);
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "cursor-4");
    }

    fn unread(store: &Store, peer: &str) -> i64 {
        store
            .conn()
            .query_row(
                "SELECT unread_count FROM conversations WHERE account_id = 'acc' AND peer_id = ?1",
                [peer],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn a_batch_stores_messages_peers_conversations_tokens_and_cursor() {
        let store = store();
        let batch = [
            text("Alice@im.wechat", 1, 100, "hi", "t1"),
            text("alice@im.wechat", 2, 200, "again", "t2"),
            text("bob@im.wechat", 3, 150, "yo", "tb"),
        ];
        let cursor = Secret::new("cursor-1");
        let outcome = store
            .commit_inbound_batch("acc", Some(&cursor), &batch, 999)
            .unwrap();
        assert_eq!(outcome.duplicates, 0);
        let indexes: Vec<_> = outcome.new.iter().map(|n| n.batch_index).collect();
        assert_eq!(indexes, [0, 1, 2]);
        assert_eq!(outcome.new[0].dedupe_key, "mid:1");

        // One peer per case-insensitive id, keeping the first spelling seen.
        assert_eq!(count(&store, "peers"), 2);
        let alice: String = store
            .conn()
            .query_row(
                "SELECT peer_id FROM peers WHERE peer_id = 'ALICE@IM.WECHAT'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(alice, "Alice@im.wechat");
        assert_eq!(unread(&store, "alice@im.wechat"), 2);
        assert_eq!(unread(&store, "bob@im.wechat"), 1);
        assert_eq!(
            store.context_token("acc", "ALICE@im.wechat").unwrap(),
            Some(("t2".into(), 200))
        );
        assert_eq!(store.cursor("acc").unwrap(), Some(cursor));
        let page = store
            .conversation_page("acc", "alice@im.wechat", None, 10)
            .unwrap();
        assert_eq!(page.messages[0].text.as_deref(), Some("again"));
        assert_eq!(page.messages[0].direction, "in");
        assert_eq!(page.messages[0].delivery, "received");
    }

    #[test]
    fn a_redelivered_batch_adds_nothing_but_still_advances_the_cursor() {
        let store = store();
        let batch = [
            text("a", 1, 100, "hi", "t1"),
            text("a", 2, 101, "there", "t2"),
        ];
        store
            .commit_inbound_batch("acc", Some(&Secret::new("c1")), &batch, 1)
            .unwrap();
        let again = store
            .commit_inbound_batch("acc", Some(&Secret::new("c2")), &batch, 2)
            .unwrap();
        assert!(again.new.is_empty());
        assert_eq!(again.duplicates, 2);
        assert_eq!(count(&store, "messages"), 2);
        assert_eq!(unread(&store, "a"), 2);
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "c2");
    }

    #[test]
    fn duplicates_within_one_batch_are_stored_once() {
        let store = store();
        let m = text("a", 7, 100, "hi", "t");
        let outcome = store
            .commit_inbound_batch("acc", None, &[m.clone(), m], 1)
            .unwrap();
        assert_eq!((outcome.new.len(), outcome.duplicates), (1, 1));
    }

    #[test]
    fn a_failure_mid_batch_writes_neither_messages_nor_cursor() {
        let store = store();
        store
            .commit_inbound_batch("acc", Some(&Secret::new("c-old")), &[], 1)
            .unwrap();
        // A constraint that the second message violates, standing in for any failure
        // (disk full, crash) between the first insert and the commit.
        store
            .conn()
            .execute_batch(
                "CREATE TEMP TRIGGER poison BEFORE INSERT ON messages
                 WHEN new.text = 'poison' BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .unwrap();
        let batch = [
            text("a", 1, 100, "fine", "t1"),
            text("b", 2, 101, "poison", "t2"),
        ];
        let err = store
            .commit_inbound_batch("acc", Some(&Secret::new("c-new")), &batch, 2)
            .unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
        for table in [
            "messages",
            "messages_fts",
            "dedupe_keys",
            "peers",
            "conversations",
            "context_tokens",
        ] {
            assert_eq!(count(&store, table), 0, "{table}");
        }
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "c-old");

        // Once the fault is gone the redelivered batch goes through in full.
        store.conn().execute_batch("DROP TRIGGER poison").unwrap();
        let outcome = store
            .commit_inbound_batch("acc", Some(&Secret::new("c-new")), &batch, 3)
            .unwrap();
        assert_eq!(outcome.new.len(), 2);
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "c-new");
    }

    #[test]
    fn an_empty_or_missing_cursor_keeps_the_stored_one() {
        let store = store();
        store
            .commit_inbound_batch("acc", Some(&Secret::new("c1")), &[], 1)
            .unwrap();
        store
            .commit_inbound_batch("acc", Some(&Secret::new("")), &[], 2)
            .unwrap();
        store.commit_inbound_batch("acc", None, &[], 3).unwrap();
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "c1");
        assert_eq!(store.cursor("other").unwrap(), None);
    }

    #[test]
    fn an_older_message_does_not_replace_a_newer_token() {
        let store = store();
        store
            .commit_inbound_batch("acc", None, &[text("a", 2, 200, "new", "t-new")], 1)
            .unwrap();
        store
            .commit_inbound_batch("acc", None, &[text("a", 1, 100, "late", "t-old")], 2)
            .unwrap();
        assert_eq!(
            store.context_token("acc", "a").unwrap(),
            Some(("t-new".into(), 200))
        );
    }

    #[test]
    fn unknown_accounts_and_senderless_messages_are_refused() {
        let store = store();
        let err = store
            .commit_inbound_batch("ghost", None, &[], 1)
            .unwrap_err();
        assert!(err.to_string().contains("no account \"ghost\""), "{err}");
        let outcome = store
            .commit_inbound_batch("acc", None, &[message(json!({"message_id": 5}))], 1)
            .unwrap();
        assert_eq!((outcome.new.len(), outcome.unroutable), (0, 1));
        assert_eq!(count(&store, "dedupe_keys"), 0);
    }

    #[test]
    fn media_messages_are_queued_for_download_and_times_default_to_now() {
        let store = store();
        let m = message(json!({
            "seq": 9, "from_user_id": "a",
            "item_list": [{"type": 4, "file_item": {"file_name": "r.pdf", "len": "10",
                "media": {"encrypt_query_param": "q", "aes_key": "k"}}}]
        }));
        let outcome = store
            .commit_inbound_batch("acc", None, &[m], 4_242)
            .unwrap();
        assert_eq!(outcome.new[0].dedupe_key, "seq:9");
        let page = store.conversation_page("acc", "a", None, 1).unwrap();
        let stored = &page.messages[0];
        assert_eq!(
            (
                stored.item_kind.as_str(),
                stored.media_state.as_str(),
                stored.create_time_ms
            ),
            ("file", "pending", 4_242)
        );
        assert_eq!(stored.media_file_name.as_deref(), Some("r.pdf"));
        assert_eq!(stored.text, None);
    }

    #[test]
    fn deleting_an_account_removes_its_cursor_and_log() {
        let store = store();
        store
            .commit_inbound_batch(
                "acc",
                Some(&Secret::new("c")),
                &[text("a", 1, 1, "x", "t")],
                1,
            )
            .unwrap();
        store.delete_account("acc").unwrap();
        for table in [
            "cursors",
            "messages",
            "peers",
            "conversations",
            "context_tokens",
            "dedupe_keys",
        ] {
            assert_eq!(count(&store, table), 0, "{table}");
        }
    }

    #[test]
    fn undecodable_messages_are_kept_raw_once_counted_and_the_cursor_moves_on() {
        let store = store();
        let ok = r#"{"message_id":1,"from_user_id":"a","create_time_ms":10,"root_id":"x","item_list":[{"type":1,"text_item":{"text":"fine"}}]}"#;
        let bad = r#"{"message_id":2,"from_user_id":"a","create_time_ms":11,"context_token":"t2","item_list":[{"type":2,"image_item":{"mid_size":-1}}]}"#;
        let senderless = r#"{"item_list":"what"}"#;
        let entries: Vec<InboundEntry> = [ok, bad, senderless]
            .into_iter()
            .map(InboundEntry::decode)
            .collect();
        let outcome = store
            .commit_inbound_entries("acc", Some(&Secret::new("c1")), &entries, 50)
            .unwrap();
        assert_eq!(
            (outcome.new.len(), outcome.undecodable, outcome.unroutable),
            (2, 2, 1)
        );
        assert!(!outcome.new[0].undecodable && outcome.new[1].undecodable);
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "c1");
        assert_eq!(store.undecodable_count("acc").unwrap(), 2);
        assert_eq!(store.account("acc").unwrap().unwrap().undecodable_count, 2);
        assert_eq!(
            store.context_token("acc", "a").unwrap(),
            Some(("t2".into(), 11))
        );

        let (kind, raw, error): (String, String, Option<String>) = store
            .conn()
            .query_row(
                "SELECT item_kind, raw_json, error FROM messages WHERE server_message_id = '2'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((kind.as_str(), raw.as_str()), ("undecodable", bad));
        assert!(error.unwrap().contains("negative"));
        let raw_ok: String = store
            .conn()
            .query_row(
                "SELECT raw_json FROM messages WHERE server_message_id = '1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(raw_ok, ok, "the exact text, unknown fields included");
        let orphans = store.unroutable_inbound("acc").unwrap();
        assert_eq!(orphans.len(), 1);
        assert_eq!(orphans[0].0, senderless);

        // Redelivered: nothing new, nothing counted twice.
        let again = store
            .commit_inbound_entries("acc", Some(&Secret::new("c2")), &entries, 60)
            .unwrap();
        assert_eq!((again.new.len(), again.duplicates), (0, 3));
        assert_eq!(store.undecodable_count("acc").unwrap(), 2);
        assert_eq!(count(&store, "unroutable_inbound"), 1);
        assert_eq!(store.cursor("acc").unwrap().unwrap().expose(), "c2");
    }

    /// One message of a generated batch: sender (three spellings of two peers), id
    /// (repeats are redeliveries), time, token, and whether it arrives undecodable.
    type Generated = (usize, u64, i64, Option<&'static str>, bool);

    fn generated_entry((peer, id, time, token, undecodable): Generated) -> InboundEntry {
        let peer = ["Alice@im.wechat", "alice@IM.WECHAT", "bob@im.wechat"][peer];
        let mut value = json!({
            "message_id": id, "from_user_id": peer, "create_time_ms": time,
            "item_list": [{"type": 1, "text_item": {"text": format!("m{id}")}}]
        });
        if let Some(token) = token {
            value["context_token"] = json!(token);
        }
        if undecodable {
            value["item_list"] = json!("not a list");
            return InboundEntry::Undecodable {
                raw: value.to_string(),
                error: "item_list: not a list".into(),
            };
        }
        InboundEntry::Message {
            message: Box::new(message(value.clone())),
            raw: value.to_string(),
        }
    }

    /// Every row the inbound commit writes, in a comparable form.
    fn inbound_rows(store: &Store) -> Vec<String> {
        let queries = [
            "SELECT peer_id, first_seen_ms, last_seen_ms FROM peers ORDER BY peer_id",
            "SELECT peer_id, last_activity_ms, unread_count FROM conversations ORDER BY peer_id",
            "SELECT peer_id, token, last_seen_ms, replies FROM context_tokens ORDER BY peer_id",
            "SELECT id, peer_id, server_message_id, create_time_ms, item_kind, text
             FROM messages ORDER BY id",
            "SELECT account_id, key FROM dedupe_keys ORDER BY key",
            "SELECT undecodable_count FROM accounts",
        ];
        let mut rows = Vec::new();
        for query in queries {
            let mut statement = store.conn().prepare(query).unwrap();
            let width = statement.column_count();
            let mut found = statement.query([]).unwrap();
            while let Some(row) = found.next().unwrap() {
                let cells: Vec<String> = (0..width)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect();
                rows.push(format!("{query}: {}", cells.join(", ")));
            }
        }
        rows
    }

    fn generated() -> impl Strategy<Value = Vec<Generated>> {
        let one = (
            0..3usize,
            1..10u64,
            0..5i64,
            proptest::sample::select(vec![None, Some("t1"), Some("t2")]),
            proptest::bool::weighted(0.15),
        );
        proptest::collection::vec(one, 0..14)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// A batch's rows end as storing its messages one batch each would leave them:
        /// per-peer writes are made once per batch (first/last seen, unread count, the
        /// latest token and its reply count), after an earlier batch and replies sent.
        #[test]
        fn a_batch_ends_as_its_messages_stored_one_by_one(
            earlier in generated(),
            batch in generated(),
            replies in 0..3i64,
        ) {
            let earlier: Vec<InboundEntry> = earlier.into_iter().map(generated_entry).collect();
            let batch: Vec<InboundEntry> = batch.into_iter().map(generated_entry).collect();
            let (together, one_by_one) = (store(), store());
            for store in [&together, &one_by_one] {
                store.commit_inbound_entries("acc", None, &earlier, 0).unwrap();
                store
                    .conn()
                    .execute("UPDATE context_tokens SET replies = ?1", [replies])
                    .unwrap();
            }
            let whole = together.commit_inbound_entries("acc", None, &batch, 7).unwrap();
            let mut new = 0;
            for entry in &batch {
                let single = one_by_one
                    .commit_inbound_entries("acc", None, std::slice::from_ref(entry), 7)
                    .unwrap();
                new += single.new.len();
            }
            prop_assert_eq!(whole.new.len(), new);
            prop_assert_eq!(inbound_rows(&together), inbound_rows(&one_by_one));
        }
    }
}
