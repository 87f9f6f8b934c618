//! Versioned schema migrations, tracked in `PRAGMA user_version`. Each step runs in its own
//! transaction, so a crash mid-migration leaves the previous version intact.

use rusqlite::{Connection, TransactionBehavior};

use crate::CoreError;

/// A migration: SQL, or code for what SQL cannot do.
enum Step {
    Sql(&'static str),
    Code(fn(&Connection) -> Result<(), CoreError>),
}

impl Step {
    fn run(&self, conn: &Connection) -> Result<(), CoreError> {
        match self {
            Step::Sql(sql) => Ok(conn.execute_batch(sql)?),
            Step::Code(code) => code(conn),
        }
    }
}

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`.
const STEPS: &[Step] = &[
    // 1: key/value settings (language and other preferences; never secrets).
    Step::Sql(
        "CREATE TABLE settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;",
    ),
    // 2: accounts and everything they receive and send. Secrets are not here (keyring);
    // the cursor is, and it embeds the bot token (docs/protocol.md §11.11): never log it.
    // Peer ids keep the wire's case for sending but compare case-insensitively (§5.5);
    // they are ASCII, which NOCASE folds.
    Step::Sql(
        "CREATE TABLE accounts (
        account_id TEXT PRIMARY KEY NOT NULL,  -- normalised bot id (§3.3)
        bot_id     TEXT NOT NULL,              -- ilink_bot_id as issued
        alias      TEXT,
        user_id    TEXT,                       -- the WeChat user who scanned the QR code
        base_url   TEXT NOT NULL,
        cdn_url    TEXT,
        route_tag  TEXT,
        enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        status     TEXT NOT NULL DEFAULT 'offline',
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE cursors (
        account_id      TEXT PRIMARY KEY NOT NULL
                        REFERENCES accounts(account_id) ON DELETE CASCADE,
        get_updates_buf TEXT NOT NULL,
        updated_ms      INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE peers (
        account_id    TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
        peer_id       TEXT NOT NULL COLLATE NOCASE,
        display_name  TEXT,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL,
        PRIMARY KEY (account_id, peer_id)
    ) STRICT;

    CREATE TABLE conversations (
        account_id       TEXT NOT NULL,
        peer_id          TEXT NOT NULL COLLATE NOCASE,
        last_activity_ms INTEGER NOT NULL,
        unread_count     INTEGER NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
        PRIMARY KEY (account_id, peer_id),
        FOREIGN KEY (account_id, peer_id)
            REFERENCES peers(account_id, peer_id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX conversations_by_activity
        ON conversations(account_id, last_activity_ms DESC);

    CREATE TABLE messages (
        id                INTEGER PRIMARY KEY,
        account_id        TEXT NOT NULL,
        peer_id           TEXT NOT NULL COLLATE NOCASE,
        direction         TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        server_message_id TEXT,     -- exact decimal text (§1.8)
        client_id         TEXT,
        seq               INTEGER,
        create_time_ms    INTEGER NOT NULL,
        item_kind         TEXT NOT NULL,
        text              TEXT,
        media_file_name   TEXT,     -- untrusted; sanitise before touching the disk
        media_size        INTEGER,
        media_md5         TEXT,
        media_cdn_param   TEXT,     -- encrypt_query_param: never log (§8.6)
        media_aes_key     TEXT,     -- never log (§8.6)
        media_full_url    TEXT,
        media_path        TEXT,     -- relative to the data directory, once saved
        media_state       TEXT NOT NULL DEFAULT 'none'
                          CHECK (media_state IN ('none', 'pending', 'ready', 'failed')),
        quote_server_id   TEXT,
        quote_text        TEXT,
        delivery          TEXT NOT NULL CHECK (delivery IN
                          ('received', 'queued', 'sending', 'waiting_for_window',
                           'delivered', 'failed')),
        error             TEXT,
        ai_generated      INTEGER NOT NULL DEFAULT 0 CHECK (ai_generated IN (0, 1)),
        raw_json          TEXT,
        FOREIGN KEY (account_id, peer_id)
            REFERENCES peers(account_id, peer_id) ON DELETE CASCADE
    ) STRICT;
    -- Paging a conversation newest first, keyset on (create_time_ms, id).
    CREATE INDEX messages_by_conversation
        ON messages(account_id, peer_id, create_time_ms DESC, id DESC);
    CREATE INDEX messages_by_server_id
        ON messages(account_id, server_message_id) WHERE server_message_id IS NOT NULL;
    CREATE INDEX messages_pending_media
        ON messages(account_id, id) WHERE media_state = 'pending';

    -- Trigram, not unicode61: Chinese is written without spaces, so unicode61 indexes a
    -- whole run of Han characters as one token and '世界' would never match '你好世界'.
    -- Trigram indexes every 3-character window, so any substring of 3+ characters
    -- matches in either language (case-insensitively); shorter queries use LIKE.
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
    WHEN new.text IS NOT NULL BEGIN
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.text IS NOT NULL BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
        INSERT INTO messages_fts(rowid, text)
            SELECT new.id, new.text WHERE new.text IS NOT NULL;
    END;

    -- The latest reply token per peer (§5.5); last_seen_ms is the user's message time.
    CREATE TABLE context_tokens (
        account_id   TEXT NOT NULL,
        peer_id      TEXT NOT NULL COLLATE NOCASE,
        token        TEXT NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        PRIMARY KEY (account_id, peer_id),
        FOREIGN KEY (account_id, peer_id)
            REFERENCES peers(account_id, peer_id) ON DELETE CASCADE
    ) STRICT;

    -- Inbound dedupe (§4 item 6): the server delivers at least once.
    CREATE TABLE dedupe_keys (
        account_id TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
        key        TEXT NOT NULL,
        seen_at_ms INTEGER NOT NULL,
        PRIMARY KEY (account_id, key)
    ) STRICT;
    CREATE INDEX dedupe_keys_by_age ON dedupe_keys(seen_at_ms);

    -- Outbound work, persisted before any network call (docs/architecture.md, invariant 2).
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        peer_id    TEXT NOT NULL COLLATE NOCASE,
        kind       TEXT NOT NULL,
        payload    TEXT NOT NULL CHECK (json_valid(payload)),
        state      TEXT NOT NULL DEFAULT 'queued' CHECK (state IN
                   ('queued', 'sending', 'waiting_for_window', 'delivered', 'failed')),
        attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_error TEXT,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
        FOREIGN KEY (account_id, peer_id)
            REFERENCES peers(account_id, peer_id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX outbox_unfinished ON outbox(account_id, peer_id, id)
        WHERE state IN ('queued', 'sending', 'waiting_for_window');",
    ),
    // 3: inbound media download jobs, written in the batch's transaction and kept until
    // the file is saved or given up on, so a restart resumes them. What was saved (its
    // MIME type) or why not goes on the message.
    Step::Sql(
        "CREATE TABLE media_jobs (
        message_id  INTEGER PRIMARY KEY NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        account_id  TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
        attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_try_ms INTEGER NOT NULL,
        last_error  TEXT,
        created_ms  INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX media_jobs_due ON media_jobs(next_try_ms, message_id);
    CREATE INDEX media_jobs_by_account ON media_jobs(account_id);
    ALTER TABLE messages ADD COLUMN media_mime TEXT;
    ALTER TABLE messages ADD COLUMN media_error TEXT;
    INSERT INTO media_jobs (message_id, account_id, next_try_ms, created_ms)
        SELECT id, account_id, 0, create_time_ms FROM messages
        WHERE media_state = 'pending' AND direction = 'in';",
    ),
    // 4: per-request progress of an outbound message (a split text is several
    // sendmessage calls; a file is an upload, an optional caption and the media item).
    // A piece's client_id is written before its request goes out and marked sent on
    // ret 0, so a restart resumes at the next piece and repeats an unconfirmed one with
    // the same client_id. `upload` keeps a finished CDN upload (its key: never log).
    Step::Sql(
        "CREATE TABLE outbox_pieces (
        outbox_id         INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
        piece             INTEGER NOT NULL CHECK (piece >= 0),
        client_id         TEXT NOT NULL,
        sent              INTEGER NOT NULL DEFAULT 0 CHECK (sent IN (0, 1)),
        server_message_id TEXT,
        PRIMARY KEY (outbox_id, piece)
    ) STRICT;
    ALTER TABLE outbox ADD COLUMN upload TEXT CHECK (upload IS NULL OR json_valid(upload));",
    ),
    // 5: a quote resolved against the log (docs/protocol.md §5.6 item 3): the quoted row, in
    // either direction, found by (account, peer, server message id).
    Step::Sql(
        "ALTER TABLE messages ADD COLUMN quote_message_id INTEGER
        REFERENCES messages(id) ON DELETE SET NULL;",
    ),
    // 6: AI replies: settings as JSON documents (global and per account; never API keys,
    // which live in the secret store), per-peer overrides and takeover, and per-scope
    // memory (the owner's summary and where a reset cut the history).
    Step::Sql(
        "CREATE TABLE ai_config (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL CHECK (json_valid(value))
    ) STRICT;
    CREATE TABLE ai_accounts (
        account_id TEXT PRIMARY KEY NOT NULL
                   REFERENCES accounts(account_id) ON DELETE CASCADE,
        settings   TEXT NOT NULL CHECK (json_valid(settings))
    ) STRICT;
    CREATE TABLE ai_peers (
        account_id        TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
        peer_id           TEXT NOT NULL COLLATE NOCASE,
        enabled           INTEGER CHECK (enabled IN (0, 1)),  -- NULL: the account's default
        persona           TEXT,                               -- NULL: the account's persona
        takeover_until_ms INTEGER,
        PRIMARY KEY (account_id, peer_id)
    ) STRICT;
    CREATE TABLE ai_memory (
        scope_key      TEXT PRIMARY KEY NOT NULL,
        summary        TEXT NOT NULL DEFAULT '',
        reset_after_id INTEGER NOT NULL DEFAULT 0,
        updated_ms     INTEGER NOT NULL
    ) STRICT;",
    ),
    // 7: a CJK bigram index beside the trigram one: two-character Chinese, Japanese and
    // Korean words are too short for trigrams (store/cjk.rs). Contentless: the pairs
    // come from `cjk_bigrams(text)`, an application function every connection
    // registers before migrating. The `ascii` tokenizer keeps each pair one token.
    Step::Sql(
        "CREATE VIRTUAL TABLE messages_cjk USING fts5(
        bigrams, content = '', contentless_delete = 1, tokenize = 'ascii'
    );
    CREATE TRIGGER messages_cjk_insert AFTER INSERT ON messages
    WHEN new.text IS NOT NULL BEGIN
        INSERT INTO messages_cjk(rowid, bigrams)
            SELECT new.id, b FROM (SELECT cjk_bigrams(new.text) AS b) WHERE b IS NOT NULL;
    END;
    CREATE TRIGGER messages_cjk_delete AFTER DELETE ON messages
    WHEN old.text IS NOT NULL BEGIN
        DELETE FROM messages_cjk WHERE rowid = old.id;
    END;
    CREATE TRIGGER messages_cjk_update AFTER UPDATE OF text ON messages BEGIN
        DELETE FROM messages_cjk WHERE rowid = old.id;
        INSERT INTO messages_cjk(rowid, bigrams)
            SELECT new.id, b FROM (SELECT cjk_bigrams(new.text) AS b) WHERE b IS NOT NULL;
    END;
    INSERT INTO messages_cjk(rowid, bigrams)
        SELECT id, b FROM (SELECT id, cjk_bigrams(text) AS b FROM messages
                           WHERE text IS NOT NULL)
        WHERE b IS NOT NULL;
    -- Search results come newest first across every conversation: with this index a
    -- search for common words stops after the first page of hits instead of sorting
    -- them all (store/messages.rs picks the plan).
    CREATE INDEX messages_by_time ON messages(create_time_ms DESC, id DESC);",
    ),
    // 8: messages this version cannot decode (docs/architecture.md, "Inbound decoding"). One with
    // a sender is a `messages` row of kind 'undecodable' (its reason in `error`, its text
    // in `raw_json`); one without lands here, so that no received message is dropped.
    // Each account counts them for its status.
    Step::Sql(
        "CREATE TABLE unroutable_inbound (
        id          INTEGER PRIMARY KEY,
        account_id  TEXT NOT NULL REFERENCES accounts(account_id) ON DELETE CASCADE,
        raw_json    TEXT NOT NULL,
        error       TEXT,
        received_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX unroutable_inbound_by_account ON unroutable_inbound(account_id, id);
    ALTER TABLE accounts ADD COLUMN undecodable_count INTEGER NOT NULL DEFAULT 0
        CHECK (undecodable_count >= 0);",
    ),
    // 9: the owner's own name and note for a peer (store/peers.rs). Kept here only, never
    // sent to WeChat. `alias` wins over `display_name` (a name the emulator's demo or a
    // server gives) wherever a peer is shown; clearing it falls back.
    Step::Sql(
        "ALTER TABLE peers ADD COLUMN alias TEXT;
    ALTER TABLE peers ADD COLUMN note TEXT;",
    ),
    // 10: a quote keeps its trace even with no body or an unknown item type (docs/protocol.md
    // §5.6): the quoted item's kind (set on every quoting message) and its own time, by
    // which a quote without an id is resolved against the log.
    // An outbound message is timed by its delivery there, hence the outbox lookup.
    Step::Sql(
        "ALTER TABLE messages ADD COLUMN quote_kind TEXT;
    ALTER TABLE messages ADD COLUMN quote_time_ms INTEGER;
    CREATE INDEX outbox_by_message ON outbox(message_id) WHERE message_id IS NOT NULL;",
    ),
    // 11: how many messages went out under the peer's latest token (WeChat allows about
    // ten per message the peer sends); a newer message from the peer starts again at 0.
    Step::Sql(
        "ALTER TABLE context_tokens ADD COLUMN replies INTEGER NOT NULL DEFAULT 0
        CHECK (replies >= 0);",
    ),
    // 12: Send later and merged sends. The sender leaves a row alone until `due_ms` (NULL:
    // at once). A row with `merged_into` went out inside that row's request (short texts
    // to one peer queued together are sent as one message): it shares that row's state
    // and ids, and the sender never picks it up on its own.
    Step::Sql(
        "ALTER TABLE outbox ADD COLUMN due_ms INTEGER;
    ALTER TABLE outbox ADD COLUMN merged_into INTEGER REFERENCES outbox(id) ON DELETE CASCADE;
    CREATE INDEX outbox_merged ON outbox(merged_into) WHERE merged_into IS NOT NULL;",
    ),
    // 13: the insert triggers step aside while a transaction indexes its messages in one
    // go (store/search_index.rs); `search_index_deferred()` is an application function
    // every connection registers before migrating.
    Step::Sql(
        "DROP TRIGGER messages_fts_insert;
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
    WHEN new.text IS NOT NULL AND NOT search_index_deferred() BEGIN
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END;
    DROP TRIGGER messages_cjk_insert;
    CREATE TRIGGER messages_cjk_insert AFTER INSERT ON messages
    WHEN new.text IS NOT NULL AND NOT search_index_deferred() BEGIN
        INSERT INTO messages_cjk(rowid, bigrams)
            SELECT new.id, b FROM (SELECT cjk_bigrams(new.text) AS b) WHERE b IS NOT NULL;
    END;",
    ),
    // 14: the messages table's CHECKs on `media_state` and `delivery` as comparisons
    // instead of IN lists; SQL cannot alter a CHECK.
    Step::Code(checks_as_comparisons),
    // 15: why a failed send or download failed, or a send still waits, as a word the
    // window says in the user's language (views/kinds.rs, SendFailure, MediaFailure
    // and WaitReason); `error`, `media_error` and `last_error` keep the details. Failures logged before are read from the fixed
    // texts they were stored with; the rest stay without one.
    Step::Sql(
        "ALTER TABLE messages ADD COLUMN failure TEXT;
    ALTER TABLE messages ADD COLUMN media_failure TEXT;
    ALTER TABLE outbox ADD COLUMN wait_reason TEXT;
    UPDATE outbox SET wait_reason = CASE
        WHEN last_error LIKE 'no context token for this peer yet%' THEN 'no_window'
        WHEN last_error LIKE 'waiting for them to write: the reply window closed%'
            THEN 'window_closed'
        WHEN last_error LIKE 'waiting for them to write: % messages went out%'
            THEN 'allowance_used'
        ELSE 'refused'
    END
    WHERE state = 'waiting_for_window';
    UPDATE messages SET media_failure = 'account_removed'
    WHERE media_state = 'failed' AND media_error = 'account removed';
    UPDATE messages SET failure = CASE
        WHEN error = 'cancelled' THEN 'cancelled'
        WHEN error = 'account removed' THEN 'account_removed'
        WHEN error LIKE 'expired: the peer did not write again within %' THEN 'window_expired'
        WHEN error LIKE 'the server refused this message again right after the peer wrote%'
            THEN 'refused'
    END
    WHERE delivery = 'failed' AND direction = 'out';",
    ),
];

/// The two CHECKs as version 2 wrote them, and as comparisons joined by OR.
const MESSAGE_CHECKS: [(&str, &str); 2] = [
    (
        "CHECK (media_state IN ('none', 'pending', 'ready', 'failed'))",
        "CHECK (media_state = 'none' OR media_state = 'pending' OR media_state = 'ready'
                                 OR media_state = 'failed')",
    ),
    (
        "CHECK (delivery IN
                          ('received', 'queued', 'sending', 'waiting_for_window',
                           'delivered', 'failed'))",
        "CHECK (delivery = 'received' OR delivery = 'queued' OR delivery = 'sending'
                          OR delivery = 'waiting_for_window' OR delivery = 'delivered'
                          OR delivery = 'failed')",
    ),
];

/// SQLite checks `x IN (…)` with three values or more by building a temporary b-tree
/// of the list for every row it checks: two per message stored, and in a burst most of
/// the store's time went to allocating and freeing them (`store_burst` in
/// crates/desk-bench/examples: 27.6 µs per message into new conversations before, 10.0
/// after).
/// Comparisons joined by OR allow exactly the same values without it. SQLite cannot
/// alter a constraint, so the table's stored definition is edited in place, the
/// procedure SQLite documents for constraints every row already meets (ALTER TABLE,
/// "making other kinds of table schema changes"), and the schema version is bumped so
/// that every connection reads it again. A definition that does not hold the old text
/// is left as it is (the IN lists are correct, only slower).
fn checks_as_comparisons(conn: &Connection) -> Result<(), CoreError> {
    let table = "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'messages'";
    let old: String = conn.query_row(table, [], |r| r.get(0))?;
    let new = MESSAGE_CHECKS
        .iter()
        .fold(old.clone(), |sql, (list, comparisons)| {
            sql.replacen(list, comparisons, 1)
        });
    if new == old {
        return Ok(());
    }
    let version: i64 = conn.pragma_query_value(None, "schema_version", |r| r.get(0))?;
    conn.pragma_update(None, "writable_schema", true)?;
    conn.execute(
        "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = 'messages'",
        [&new],
    )?;
    conn.pragma_update(None, "schema_version", version + 1)?;
    conn.pragma_update(None, "writable_schema", false)?;
    Ok(())
}

pub const LATEST: i64 = STEPS.len() as i64;

pub fn apply(conn: &mut Connection) -> Result<(), CoreError> {
    loop {
        // IMMEDIATE takes the write lock before the version is read, so two processes
        // opening a fresh database at once (the app and a CLI command) migrate it one
        // after the other instead of both running the same step.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current > LATEST {
            return Err(CoreError::SchemaTooNew {
                found: current,
                known: LATEST,
            });
        }
        let Some(step) = STEPS.get(current as usize) else {
            return Ok(());
        };
        step.run(&tx)?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema as version `version` left it, with account `acc` and its peer `p`.
    fn schema_at(conn: &Connection, version: usize) {
        super::super::cjk::register(conn).unwrap();
        super::super::search_index::register(conn, Default::default()).unwrap();
        for step in &STEPS[..version] {
            step.run(conn).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO accounts (account_id, bot_id, base_url, created_ms, updated_ms)
                 VALUES ('acc', 'b', 'u', 1, 1);
             INSERT INTO peers (account_id, peer_id, first_seen_ms, last_seen_ms)
                 VALUES ('acc', 'p', 1, 1);",
        )
        .unwrap();
    }

    #[test]
    fn version_15_reads_why_earlier_sends_failed_or_wait_and_downloads_failed() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        schema_at(&conn, 14);
        conn.execute_batch(
            "INSERT INTO messages (account_id, peer_id, direction, create_time_ms, item_kind,
                                   media_state, delivery, error)
                 VALUES ('acc', 'p', 'out', 10, 'text', 'none', 'failed', 'cancelled'),
                        ('acc', 'p', 'out', 11, 'text', 'none', 'failed', 'account removed'),
                        ('acc', 'p', 'out', 12, 'text', 'none', 'failed',
                         'expired: the peer did not write again within 2 min'),
                        ('acc', 'p', 'out', 13, 'text', 'none', 'failed',
                         'the server refused this message again right after the peer wrote, so the request itself is malformed (ret -2)'),
                        ('acc', 'p', 'out', 14, 'text', 'none', 'failed', 'HTTP 503'),
                        ('acc', 'p', 'out', 15, 'text', 'none', 'waiting_for_window',
                         'cancelled');
             INSERT INTO messages (account_id, peer_id, direction, create_time_ms, item_kind,
                                   media_state, delivery, media_error)
                 VALUES ('acc', 'p', 'in', 16, 'image', 'failed', 'received', 'account removed'),
                        ('acc', 'p', 'in', 17, 'image', 'failed', 'received', 'HTTP 404');
             INSERT INTO outbox (account_id, peer_id, kind, payload, state, created_ms,
                                 updated_ms, last_error)
                 VALUES ('acc', 'p', 'text', '{}', 'waiting_for_window', 1, 1,
                         'no context token for this peer yet: ask them to message the bot'),
                        ('acc', 'p', 'text', '{}', 'waiting_for_window', 1, 1,
                         'waiting for them to write: the reply window closed before its time came'),
                        ('acc', 'p', 'text', '{}', 'waiting_for_window', 1, 1,
                         'waiting for them to write: 10 messages went out since their last message, as many as WeChat allows'),
                        ('acc', 'p', 'text', '{}', 'waiting_for_window', 1, 1, 'ret -2'),
                        ('acc', 'p', 'text', '{}', 'queued', 1, 1, 'HTTP 503');
             PRAGMA user_version = 14;",
        )
        .unwrap();
        apply(&mut conn).unwrap();
        let words = |sql: &str| -> Vec<Option<String>> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let some = |word: &str| Some(word.to_owned());
        assert_eq!(
            words("SELECT failure FROM messages WHERE direction = 'out' ORDER BY id"),
            [
                some("cancelled"),
                some("account_removed"),
                some("window_expired"),
                some("refused"),
                None,
                None
            ]
        );
        assert_eq!(
            words("SELECT media_failure FROM messages WHERE direction = 'in' ORDER BY id"),
            [some("account_removed"), None]
        );
        assert_eq!(
            words("SELECT wait_reason FROM outbox ORDER BY id"),
            [
                some("no_window"),
                some("window_closed"),
                some("allowance_used"),
                some("refused"),
                None
            ]
        );
    }

    #[test]
    fn version_3_queues_media_that_version_2_left_pending() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        super::super::cjk::register(&conn).unwrap();
        for step in &STEPS[..2] {
            step.run(&conn).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO accounts (account_id, bot_id, base_url, created_ms, updated_ms)
                 VALUES ('acc', 'b', 'u', 1, 1);
             INSERT INTO peers VALUES ('acc', 'p', NULL, 1, 1);
             INSERT INTO messages (account_id, peer_id, direction, create_time_ms, item_kind,
                                   media_state, delivery)
                 VALUES ('acc', 'p', 'in', 10, 'image', 'pending', 'received'),
                        ('acc', 'p', 'in', 11, 'image', 'ready', 'received'),
                        ('acc', 'p', 'in', 12, 'text', 'none', 'received');
             PRAGMA user_version = 2;",
        )
        .unwrap();
        apply(&mut conn).unwrap();
        let jobs: Vec<(i64, String)> = conn
            .prepare("SELECT message_id, account_id FROM media_jobs")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(jobs, [(1, "acc".to_owned())]);
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, LATEST);
    }

    #[test]
    fn version_7_indexes_the_cjk_pairs_of_existing_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.sqlite3");
        {
            // A database as the previous release left it, without the bigram function.
            let conn = Connection::open(&path).unwrap();
            for step in &STEPS[..6] {
                step.run(&conn).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO accounts (account_id, bot_id, base_url, created_ms, updated_ms)
                     VALUES ('acc', 'b', 'u', 1, 1);
                 INSERT INTO peers VALUES ('acc', 'p', NULL, 1, 1);
                 INSERT INTO messages (account_id, peer_id, direction, create_time_ms,
                                       item_kind, text, delivery)
                     VALUES ('acc', 'p', 'in', 10, 'text', '明天开会', 'received'),
                            ('acc', 'p', 'out', 11, 'text', '東京へ行きます', 'delivered'),
                            ('acc', 'p', 'in', 12, 'text', 'no pairs here', 'received'),
                            ('acc', 'p', 'in', 13, 'image', NULL, 'received');
                 PRAGMA user_version = 6;",
            )
            .unwrap();
        }
        let store = crate::Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), LATEST);
        let ids = |query: &str| -> Vec<i64> {
            store
                .search(query, 10)
                .unwrap()
                .iter()
                .map(|m| m.id)
                .collect()
        };
        assert_eq!(ids("开会"), [1]);
        assert_eq!(ids("行き"), [2]);
        assert_eq!(ids("天开"), [1]);
        assert!(ids("会明").is_empty());
        let indexed: Vec<(i64, String)> = store
            .conn()
            .prepare(
                "SELECT m.id, cjk_bigrams(m.text) FROM messages_cjk
                 JOIN messages m ON m.id = messages_cjk.rowid
                 WHERE messages_cjk MATCH '\"京へ\" OR \"明天\"' ORDER BY m.id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            indexed,
            [
                (1, "明天 天开 开会".to_owned()),
                (2, "東京 京へ へ行 行き きま ます".to_owned())
            ]
        );
        // Rows written after the migration are indexed by the triggers.
        store
            .conn()
            .execute(
                "INSERT INTO messages (account_id, peer_id, direction, create_time_ms,
                                       item_kind, text, delivery)
                 VALUES ('acc', 'p', 'in', 14, 'text', '开会了', 'received')",
                [],
            )
            .unwrap();
        assert_eq!(ids("开会"), [5, 1]);
    }

    #[test]
    fn version_14_checks_messages_with_comparisons_and_keeps_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v13.sqlite3");
        {
            let mut conn = Connection::open(&path).unwrap();
            schema_at(&conn, 13);
            conn.execute_batch(
                "INSERT INTO messages (account_id, peer_id, direction, create_time_ms,
                                       item_kind, text, media_state, delivery)
                     VALUES ('acc', 'p', 'in', 10, 'text', 'hello there', 'none', 'received'),
                            ('acc', 'p', 'out', 11, 'image', NULL, 'ready', 'delivered');
                 PRAGMA user_version = 13;",
            )
            .unwrap();
            // Another connection has read the old definition when this one migrates.
            let other = Connection::open(&path).unwrap();
            super::super::cjk::register(&other).unwrap();
            super::super::search_index::register(&other, Default::default()).unwrap();
            assert!(message_insert_plan(&other).contains(&"OpenEphemeral".to_owned()));
            apply(&mut conn).unwrap();
            // Its next read sees the bumped schema version and reads the definition
            // again (EXPLAIN alone reads nothing).
            let rows: i64 = other
                .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
                .unwrap();
            assert_eq!(rows, 2);
            let plan = message_insert_plan(&other);
            assert!(!plan.contains(&"OpenEphemeral".to_owned()), "{plan:?}");
        }
        let store = crate::Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), LATEST);
        store.check_integrity().unwrap();
        let definition: String = store
            .conn()
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'messages'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        for (list, comparisons) in MESSAGE_CHECKS {
            assert!(!definition.contains(list), "{definition}");
            assert!(definition.contains(comparisons), "{definition}");
        }
        let ids: Vec<i64> = store
            .search("hello", 10)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, [1]);
        let insert = |media_state: &str, delivery: &str| {
            store.conn().execute(
                "INSERT INTO messages (account_id, peer_id, direction, create_time_ms,
                                       item_kind, media_state, delivery)
                 VALUES ('acc', 'p', 'in', 12, 'image', ?1, ?2)",
                [media_state, delivery],
            )
        };
        for state in ["none", "pending", "ready", "failed"] {
            insert(state, "received").unwrap();
        }
        for delivery in [
            "queued",
            "sending",
            "waiting_for_window",
            "delivered",
            "failed",
        ] {
            insert("none", delivery).unwrap();
        }
        for (state, delivery) in [("Pending", "received"), ("none", "sent"), ("none", "")] {
            let err = insert(state, delivery).unwrap_err().to_string();
            assert!(
                err.contains("CHECK constraint failed"),
                "{state} {delivery}: {err}"
            );
        }
    }

    /// The opcodes of storing one message on `conn`.
    fn message_insert_plan(conn: &Connection) -> Vec<String> {
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN INSERT INTO messages (account_id, peer_id, direction,
                     create_time_ms, item_kind, media_state, delivery)
                 VALUES ('acc', 'p', 'in', 1, 'text', 'none', 'received')",
            )
            .unwrap()
            .query_map([], |r| r.get(1))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(plan.iter().any(|op| op == "Insert"), "{plan:?}");
        plan
    }

    #[test]
    fn storing_a_message_builds_no_temporary_table() {
        // What version 14 is for: no OpenEphemeral (an IN list's b-tree) per row.
        let store = crate::Store::open_in_memory().unwrap();
        let plan = message_insert_plan(store.conn());
        assert!(!plan.iter().any(|op| op == "OpenEphemeral"), "{plan:?}");
    }

    #[test]
    fn version_9_keeps_the_names_peers_had_and_adds_the_owners_name_and_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            super::super::cjk::register(&conn).unwrap();
            for step in &STEPS[..8] {
                step.run(&conn).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO accounts (account_id, bot_id, base_url, created_ms, updated_ms)
                     VALUES ('acc', 'b', 'u', 1, 1);
                 INSERT INTO peers VALUES ('acc', 'p', 'Demo name', 1, 1);
                 INSERT INTO conversations VALUES ('acc', 'p', 5, 0);
                 PRAGMA user_version = 8;",
            )
            .unwrap();
        }
        let store = crate::Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), LATEST);
        let before = store.conversation("acc", "p").unwrap().unwrap();
        assert_eq!(
            (before.display_name.as_deref(), before.alias, before.note),
            (Some("Demo name"), None, None)
        );
        store.set_peer_alias("acc", "p", "Mine").unwrap();
        store.set_peer_note("acc", "p", "a note").unwrap();
        let after = store.conversation("acc", "p").unwrap().unwrap();
        assert_eq!(after.display_name.as_deref(), Some("Mine"));
        assert_eq!(after.note.as_deref(), Some("a note"));
    }

    #[test]
    fn processes_opening_a_fresh_database_at_once_migrate_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.sqlite3");
        let barrier = std::sync::Barrier::new(8);
        let results: Vec<Result<(), CoreError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        // Open and write at once, as `add-account` processes do.
                        let store = crate::Store::open(&path)?;
                        store.save_locale(crate::Locale::En)
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for result in results {
            result.unwrap();
        }
        let store = crate::Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), LATEST);
    }
}
