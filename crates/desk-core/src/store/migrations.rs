//! Versioned schema migrations, tracked in `PRAGMA user_version`. Each step runs in its own
//! transaction, so a crash mid-migration leaves the previous version intact.

use rusqlite::Connection;

use crate::CoreError;

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`.
const STEPS: &[&str] = &[
    // 1: key/value settings (language and other preferences; never secrets).
    "CREATE TABLE settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;",
];

pub const LATEST: i64 = STEPS.len() as i64;

pub fn apply(conn: &mut Connection) -> Result<(), CoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > LATEST {
        return Err(CoreError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for (index, sql) in STEPS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
