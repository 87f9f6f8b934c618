//! The SQLite store: one file in the data directory, WAL, versioned migrations, and an
//! integrity check before anything else touches it.

pub mod accounts;
pub mod ai;
mod cjk;
pub mod conversations;
mod dedupe;
pub mod imported;
pub mod inbound;
pub mod media_jobs;
pub mod messages;
mod migrations;
pub mod outbox;
mod outbox_lookup;
pub mod outbox_merge;
pub mod outbox_pieces;
pub mod outbox_schedule;
pub mod peers;
mod search_index;

pub use accounts::{Account, AccountUpsert, ACCOUNT_GONE, STATUS_REMOVED, STATUS_REPLACED};
pub use conversations::ConversationSummary;
pub use dedupe::MIN_DEDUPE_RETENTION;
pub use imported::{ImportedAccount, CONTEXT_AGE_UNKNOWN_MS};
pub use inbound::{InboundBatch, InboundCommit, NewInbound};
pub use media_jobs::{MediaJob, MediaOutcome, MessageMedia};
pub use messages::{MessagePage, PageCursor, SearchScope, StoredMessage};
pub use outbox::{OutboundDraft, OutboundFile, OutboxEntry, OutboxOutcome, OutboxState};
pub use outbox_merge::QueuedText;
pub use outbox_pieces::OutboxPiece;
pub use outbox_schedule::{EditRefused, ScheduleEdit};
pub use peers::PeerCard;

use std::path::Path;

use rusqlite::Connection;

use crate::CoreError;

pub struct Store {
    conn: Connection,
    /// The database file (`None` in memory).
    path: Option<std::path::PathBuf>,
    /// The insert triggers leave search indexing to the transaction (search_index.rs).
    search_deferred: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database. Its integrity is checked
    /// apart ([`Store::check_integrity_of`]): the check reads every page, seconds for a
    /// large history, and must not stand between the user and the first screen.
    pub fn open(path: &Path) -> Result<Store, CoreError> {
        // Processes opening one database at once (the app, CLI commands) take turns:
        // SQLite reports some lock waits during the integrity check and migrations as
        // plain errors ("vtable constructor failed"), not as "busy".
        let _turn = open_turn(path)?;
        let conn = Connection::open(path)?;
        restrict_to_owner(path)?;
        let mut store = Store::prepare(conn)?;
        store.path = Some(path.to_owned());
        Ok(store)
    }

    /// The database file, unless the store is in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Stops this connection from checkpointing the WAL inside its own commits (SQLite
    /// does it every 1,000 pages, with an fsync, which stalls that commit for
    /// milliseconds); [`Store::checkpoint`] must then run from elsewhere.
    pub fn leave_checkpoints_to_others(&self) -> Result<(), CoreError> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    /// A passive WAL checkpoint of the database at `path`, on a connection of its own,
    /// so it runs next to the writer without blocking it.
    pub fn checkpoint(path: &Path) -> Result<(), CoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Room for every statement the engine runs often (rusqlite keeps 16 by default):
        // a statement pushed out is compiled again at its next use.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// A private in-memory database, for tests and throwaway sessions.
    pub fn open_in_memory() -> Result<Store, CoreError> {
        Store::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut conn: Connection) -> Result<Store, CoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Before the migrations: the search index's triggers and backfill call it.
        cjk::register(&conn)?;
        let search_deferred = std::sync::Arc::default();
        search_index::register(&conn, std::sync::Arc::clone(&search_deferred))?;
        // Switching a fresh file to WAL while another process does the same can answer
        // "busy" without waiting (SQLite skips the busy handler where waiting could
        // deadlock), so that step is retried here.
        retry_while_busy(|| Ok(conn.pragma_update(None, "journal_mode", "WAL")?))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        retry_while_busy(|| migrations::apply(&mut conn))?;
        Ok(Store {
            conn,
            path: None,
            search_deferred,
        })
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// `PRAGMA integrity_check` on this connection.
    pub fn check_integrity(&self) -> Result<(), CoreError> {
        check_integrity(&self.conn)
    }

    /// `PRAGMA integrity_check` of the database at `path`, on a read-only connection of
    /// its own, so it runs beside the engine's writer without blocking it (WAL).
    pub fn check_integrity_of(path: &Path) -> Result<(), CoreError> {
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        cjk::register(&conn)?;
        search_index::register(&conn, std::sync::Arc::default())?;
        check_integrity(&conn)
    }

    /// A number that changes when another connection (another process) commits to the
    /// database (`PRAGMA data_version`); this connection's own writes leave it alone.
    pub fn data_version(&self) -> Result<i64, CoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    /// An integer pragma of this connection, e.g. `wal_autocheckpoint`.
    pub fn pragma_i64(&self, name: &str) -> Result<i64, CoreError> {
        Ok(self.conn.pragma_query_value(None, name, |r| r.get(0))?)
    }

    /// The schema version this database is at.
    pub fn schema_version(&self) -> Result<i64, CoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

/// An exclusive lock on `<database>-open.lock`, held while a connection is prepared;
/// released when the file is dropped.
fn open_turn(database: &Path) -> Result<std::fs::File, CoreError> {
    let mut name = database.file_name().unwrap_or_default().to_owned();
    name.push("-open.lock");
    let path = database.with_file_name(name);
    let lock_error = |source: std::io::Error| CoreError::DataDir {
        path: path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(lock_error)?;
    restrict_to_owner(&path)?;
    file.lock().map_err(lock_error)?;
    Ok(file)
}

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Compiled statements kept per connection.
const STATEMENT_CACHE: usize = 64;

fn retry_while_busy<T>(mut step: impl FnMut() -> Result<T, CoreError>) -> Result<T, CoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match step() {
            Err(CoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn check_integrity(conn: &Connection) -> Result<(), CoreError> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(CoreError::Integrity(rows.join("; ")))
    }
}

fn restrict_to_owner(path: &Path) -> Result<(), CoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| CoreError::DataDir {
                path: path.to_owned(),
                source,
            },
        )?;
    }
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_in_wal_mode_owner_only_and_migrated() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db.sqlite3");
        let store = Store::open(&path).unwrap();
        let mode: String = store
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            // The write-ahead log holds the same data (cursors included); SQLite gives
            // it the database file's permissions.
            store.save_locale(crate::Locale::En).unwrap();
            let wal = tmp.path().join("db.sqlite3-wal");
            let mode = std::fs::metadata(&wal).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", wal.display());
        }
        drop(store);
        // Reopening is a no-op migration.
        assert_eq!(
            Store::open(&path).unwrap().schema_version().unwrap(),
            migrations::LATEST
        );
    }

    #[test]
    fn a_version_1_database_upgrades_and_keeps_its_settings() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db.sqlite3");
        {
            // What the first release wrote: migration 1 only, and a saved setting.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT;
                 INSERT INTO settings VALUES ('ui.locale', 'zh-CN');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
        assert_eq!(store.saved_locale().unwrap(), Some(crate::Locale::ZhCn));
        let violations: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(violations, 0);
    }

    #[test]
    fn foreign_keys_and_strict_types_are_enforced() {
        let store = Store::open_in_memory().unwrap();
        let orphan = store.conn().execute(
            "INSERT INTO cursors (account_id, get_updates_buf, updated_ms) VALUES ('x', 'c', 1)",
            [],
        );
        assert!(orphan.is_err(), "a cursor needs its account");
        let loose = store.conn().execute(
            "INSERT INTO accounts (account_id, bot_id, base_url, created_ms, updated_ms)
             VALUES ('a', 'b', 'u', 'not a number', 1)",
            [],
        );
        assert!(loose.is_err(), "STRICT refuses text in an INTEGER column");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db.sqlite3");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let err = Store::open(&path).err().expect("garbage must not open");
        assert!(
            matches!(err, CoreError::Sqlite(_) | CoreError::Integrity(_)),
            "{err:?}"
        );
    }

    #[test]
    fn a_newer_schema_is_refused_rather_than_damaged() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", migrations::LATEST + 1)
                .unwrap();
        }
        let err = Store::open(&path).err().unwrap();
        assert!(
            matches!(err, CoreError::SchemaTooNew { found, known } if found == migrations::LATEST + 1 && known == migrations::LATEST),
            "{err:?}"
        );
    }
}
