//! Process-wide SQLite settings, made once before the first connection opens (SQLite
//! takes them only before it initialises). Both keep a message INSERT from touching the
//! heap's and the file system's slow paths:
//!
//! - No initial bulk allocation per page cache. Each INSERT into `messages` checks its
//!   `IN (…)` constraints through small temporary b-trees, and each one's cache started
//!   with a ~90 KiB block; allocating and freeing that per message made glibc shrink
//!   and regrow the heap (a page fault per page touched).
//! - Statement journals stay in memory up to [`STATEMENT_JOURNAL_IN_MEMORY`] instead of
//!   64 KiB. A message INSERT has one (its triggers write to the search indexes), and
//!   so does each batch's savepoint in a group commit; spilled, they were temp-file
//!   writes for every page a message touched.

use std::sync::Once;

use rusqlite::ffi;

const STATEMENT_JOURNAL_IN_MEMORY: i32 = 8 * 1024 * 1024;

/// Applies the settings if SQLite is not initialised yet in this process; otherwise
/// (someone opened a connection first) SQLite keeps its defaults, which are only
/// slower.
pub(super) fn once() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        // SAFETY: sqlite3_config with the argument types its documentation gives for
        // these options; it refuses (SQLITE_MISUSE) once SQLite is initialised, and the
        // Once keeps this process's own calls from racing each other.
        unsafe {
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PAGECACHE,
                std::ptr::null_mut::<std::ffi::c_void>(),
                0i32,
                0i32,
            );
            ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_STMTJRNL_SPILL,
                STATEMENT_JOURNAL_IN_MEMORY,
            );
        }
    });
}
